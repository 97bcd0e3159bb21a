package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

func TestRouting_EventWithoutChatIDGoesToTheOnlyChatOrTheMessageOwner(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetVariant(platformtest.VariantProcessingNoID | platformtest.VariantChunkNoID)
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	a, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	b, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	for i := 0; i < 3; i++ {
		for _, ch := range []*Chat{a, b} {
			q := fmt.Sprintf("%s %d", ch.ID(), i)
			r, err := ch.Ask(ctx, q)
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText(q), r.Text)
		}
	}
	// An event with no chat id and no known message, with two chats open,
	// cannot be routed: dropped and counted.
	before := c.Stats().IsolationDrops
	srv.Inject("", map[string]any{"type": "response_chunk", "data": map[string]any{"content": "stray", "message_id": "nobody"}})
	_, err = a.Ask(ctx, "sync")
	require.NoError(t, err)
	assert.Equal(t, before+1, c.Stats().IsolationDrops)
}

func TestChat_OtherParticipantsTypingReported(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		waitListed(t, srv, 1)
		events := make(chan TypingEvent, 4)
		chat.OnTyping(func(e TypingEvent) { events <- e })
		srv.Inject(chat.ID(), map[string]any{"type": "typing_start", "data": map[string]any{"chat_id": chat.ID(), "user_id": "agent-7"}})
		e := <-events
		assert.True(t, e.Typing)
		assert.Equal(t, "agent-7", e.UserID)
		assert.Equal(t, []string{"agent-7"}, chat.State().TypingUsers)
		srv.Inject(chat.ID(), map[string]any{"type": "typing_indicator", "data": map[string]any{"chat_id": chat.ID(), "user_id": "agent-7", "is_typing": false}})
		e = <-events
		assert.False(t, e.Typing)
		assert.Empty(t, chat.State().TypingUsers)
	})
}

func TestChat_ProcessingAndResponseStartCallbacks(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		var mu sync.Mutex
		var order []string
		chat.OnProcessing(func(ProcessingEvent) { mu.Lock(); order = append(order, "processing"); mu.Unlock() })
		chat.OnResponseStart(func(ResponseStartEvent) { mu.Lock(); order = append(order, "start"); mu.Unlock() })
		chat.OnChunk(func(ChunkEvent) { mu.Lock(); order = append(order, "chunk"); mu.Unlock() })
		chat.OnComplete(func(CompleteEvent) { mu.Lock(); order = append(order, "complete"); mu.Unlock() })
		_, err = chat.Ask(ctx, "callbacks in order")
		require.NoError(t, err)
		syncCallbacks(t, c)
		mu.Lock()
		defer mu.Unlock()
		if fc.server == platformtest.ProtocolTenantApp {
			// The form has no processing and no response_start: the reply
			// begins with its first chunk.
			require.GreaterOrEqual(t, len(order), 2)
			assert.Equal(t, "chunk", order[0])
			assert.NotContains(t, order, "processing")
			assert.NotContains(t, order, "start")
			assert.Equal(t, "complete", order[len(order)-1])
			return
		}
		require.GreaterOrEqual(t, len(order), 4)
		assert.Equal(t, "processing", order[0])
		assert.Equal(t, "start", order[1])
		assert.Equal(t, "chunk", order[2])
		assert.Equal(t, "complete", order[len(order)-1])
	})
}

func TestChat_ChunkCoalescingMergesChunks(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Chunks: []string{"a", "b", "c", "d", "e", "f"}}
		})
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.ChunkCoalesce = time.Hour }))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		var mu sync.Mutex
		var chunks []string
		chat.OnChunk(func(e ChunkEvent) { mu.Lock(); chunks = append(chunks, e.Text); mu.Unlock() })
		r, err := chat.Ask(ctx, "merge")
		require.NoError(t, err)
		assert.Equal(t, "abcdef", r.Text)
		assert.Equal(t, 6, r.Chunks)
		syncCallbacks(t, c)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"a", "bcdef"}, chunks, "first chunk at once, the rest merged at the end of the window or the reply")
	})
}

func TestClient_OrphanReportedOnce(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.WithholdReady(true)
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, func(cfg *Config) { cfg.clock = clk; cfg.QueueTTL = time.Hour })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.OpenChat(ctx, "chat-orphan")
	require.NoError(t, err)
	orphans := make(chan registry.Message, 4)
	c.OnOrphan(func(m registry.Message) { orphans <- m })
	m, err := chat.Send(context.Background(), "never acknowledged") // no deadline: the queue keeps it
	require.NoError(t, err)
	clk.Advance(DefaultOrphanAge + time.Second)
	select {
	case o := <-orphans:
		assert.Equal(t, m.ID(), o.ClientID)
	case <-ctx.Done():
		t.Fatal("orphan not reported")
	}
	clk.Advance(time.Second)
	syncCallbacks(t, c)
	assert.Empty(t, orphans)
}

func TestClient_SlowCallbacksApplyBackpressureAndCountStalls(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		chunks := make([]string, 40)
		for i := range chunks {
			chunks[i] = "x"
		}
		return platformtest.Reply{Chunks: chunks}
	})
	c := newClient(t, srv, func(cfg *Config) { cfg.DispatchBuffer = 2 })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // a failed assertion must not leave the callback blocked
	var once sync.Once
	var got []string
	var mu sync.Mutex
	chat.OnChunk(func(e ChunkEvent) {
		once.Do(func() { <-release })
		mu.Lock()
		got = append(got, e.Text)
		mu.Unlock()
	})
	m, err := chat.Send(ctx, "flood")
	require.NoError(t, err)
	// The stall is the client's state, which the platform is not told of:
	// poll it.
	require.Eventually(t, func() bool { return c.Stats().DispatcherStalls > 0 }, 10*time.Second, time.Millisecond)
	unblock()
	r, err := m.Wait(ctx)
	require.NoError(t, err)
	assert.Len(t, r.Text, 40)
	syncCallbacks(t, c)
	mu.Lock()
	assert.Len(t, got, 40, "no chunk dropped")
	mu.Unlock()
}

func TestClient_WaitForStateAndLazyConnectOnSend(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		id := uuid.NewString()
		chat, err := c.OpenChat(ctx, id)
		require.NoError(t, err)
		require.NoError(t, c.WaitForState(ctx, StateReady), "opening a chat connects")
		assert.Same(t, c, chat.Client())

		c2 := newClient(t, srv, form)
		assert.Equal(t, StateDisconnected, c2.State())
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		assert.ErrorIs(t, c2.WaitForState(short, StateReady), context.DeadlineExceeded)
	})
}

func TestChat_OpenChatTwiceIsRefusedUntilTheFirstIsClosed(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		id := uuid.NewString()
		chat, err := c.OpenChat(ctx, id)
		require.NoError(t, err)
		again, err := c.OpenChat(ctx, id)
		require.ErrorIs(t, err, ErrChatOpen)
		assert.Nil(t, again)
		found, ok := c.Chat(id)
		require.True(t, ok)
		assert.Same(t, chat, found, "the open chat is found by its id")
		_, err = chat.Ask(ctx, "still mine")
		require.NoError(t, err, "the refused open changed nothing")

		require.NoError(t, chat.Close(ctx))
		_, err = chat.Send(ctx, "after close")
		require.ErrorIs(t, err, ErrChatClosed)
		require.ErrorIs(t, err, ErrClosed, "a closed chat also matches ErrClosed")
		assert.Contains(t, err.Error(), "OpenChat", "says how to go on")
		_, ok = c.Chat(id)
		assert.False(t, ok)

		reopened, err := c.OpenChat(ctx, id)
		require.NoError(t, err)
		assert.NotSame(t, chat, reopened)
		r, err := reopened.Ask(ctx, "reopened")
		require.NoError(t, err)
		assert.Equal(t, id, r.ChatID)
	})
}

func TestChat_CloseFailsWaitersButKeepsTheClient(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Withhold: true}
		})
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		m, err := chat.Send(ctx, "no answer")
		require.NoError(t, err)
		require.NoError(t, chat.Close(ctx))
		_, err = m.Wait(ctx)
		require.ErrorIs(t, err, ErrClosed)
		_, err = chat.Send(ctx, "closed")
		require.ErrorIs(t, err, ErrClosed)
		assert.ErrorIs(t, chat.Typing(ctx), ErrClosed)
		assert.ErrorIs(t, chat.Join(ctx), ErrClosed)
		assert.Equal(t, StateReady, c.State())
	})
}

func TestErrors_TypedAndMatchable(t *testing.T) {
	rl := &RateLimitError{RetryAfter: 3 * time.Second}
	assert.ErrorIs(t, rl, ErrRateLimited)
	assert.Contains(t, rl.Error(), "3s")
	pe := &PlatformError{Code: "busy", Message: "try later", RetryAfter: time.Second}
	assert.ErrorIs(t, pe, ErrRateLimited)
	assert.Contains(t, pe.Error(), "busy")
	assert.NotErrorIs(t, &PlatformError{Code: "x"}, ErrRateLimited)
	ve := &ValidationError{Reason: "empty"}
	assert.ErrorIs(t, ve, ErrValidation)
	ce := &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseHandshake, Code: 429}, Retryable: true, RetryAfter: time.Second}
	assert.ErrorIs(t, ce, ErrRateLimited)
	assert.Contains(t, ce.Error(), "429")
	auth := &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseClose, Code: 4401}, Reason: "bad key"}
	assert.Contains(t, auth.Error(), "not retried")
	inner := errors.New("dial tcp: refused")
	net := &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: inner}
	assert.ErrorIs(t, net, inner)
	fe := &FailedError{Attempts: 6, Last: net}
	assert.ErrorIs(t, fe, ErrFailed)
	assert.ErrorIs(t, fe, inner)
	assert.Contains(t, fe.Error(), "6 attempt")
	for k := ErrorConnection; k <= ErrorProtocol; k++ {
		assert.NotEqual(t, "unknown", k.String())
	}
	assert.Equal(t, "unknown", ErrorKind(0).String())
	ce2 := &ConfigError{Field: "TenantID", Reason: "required"}
	assert.Equal(t, "client: config TenantID: required", ce2.Error())
}

func TestClient_MalformedFramesCountedConnectionStaysUp(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		waitListed(t, srv, 1)
		conns := srv.Connections()
		require.Len(t, conns, 1)
		for _, raw := range [][]byte{[]byte("not json"), []byte(`[1,2]`), []byte(`{"data":{}}`), []byte(`{"type":"mystery_event","data":{}}`)} {
			require.NoError(t, srv.SendRaw(conns[0].ConnID, 1, raw))
		}
		require.NoError(t, srv.SendRaw(conns[0].ConnID, 2, []byte{0, 1, 2}))
		r, err := chat.Ask(ctx, "still fine")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("still fine"), r.Text)
		assert.Equal(t, uint64(4), c.Stats().DecodeErrors)
		assert.Equal(t, StateReady, c.State())
		assert.Equal(t, uint64(0), c.Stats().Reconnects)
	})
}

func TestClient_OversizedFrameReconnects(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.ReadLimit = 1024; cfg.InitialBackoff = time.Millisecond }))
		states := recordStates(c)
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		waitListed(t, srv, 1)
		conns := srv.Connections()
		big := make([]byte, 4096)
		for i := range big {
			big[i] = 'a'
		}
		require.NoError(t, srv.SendRaw(conns[0].ConnID, 1, big))
		states.next(t, ctx, StateReconnecting)
		states.next(t, ctx, StateReady)
		_, err = chat.Ask(ctx, "after the big frame")
		require.NoError(t, err)
	})
}
