package client

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
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

func TestChat_AskReturnsExactTextAndMetadataForEveryReplyShape(t *testing.T) {
	shapes := []struct {
		name  string
		shape platformtest.Shape
	}{
		{"flat", platformtest.ShapeFlat},
		{"nested", platformtest.ShapeNested},
		{"full_text", platformtest.ShapeFullText},
		{"chunks only", platformtest.ShapeChunksOnly},
		{"chat_response", platformtest.ShapeChatResponse},
	}
	for _, tt := range shapes {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetShape(tt.shape)
			c := newClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			r, err := chat.Ask(ctx, "What are your opening hours?")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("What are your opening hours?"), r.Text)
			assert.Equal(t, chat.ID(), r.ChatID)
			assert.NotEmpty(t, r.ClientMessageID)
			if tt.shape != platformtest.ShapeChatResponse {
				assert.NotEmpty(t, r.Model)
				assert.Positive(t, r.TotalTokens)
			}
		})
	}
}

func TestChat_AskUnderEveryFieldVariant(t *testing.T) {
	variants := []struct {
		name string
		v    platformtest.Variant
	}{
		{"legacy types", platformtest.VariantLegacyTypes},
		{"camelCase", platformtest.VariantCamelCase},
		{"top-level ids", platformtest.VariantTopLevelIDs},
		{"processing without id", platformtest.VariantProcessingNoID},
		{"chunk without id", platformtest.VariantChunkNoID},
		{"payload key", platformtest.VariantPayloadKey},
		{"all at once", platformtest.VariantLegacyTypes | platformtest.VariantCamelCase | platformtest.VariantTopLevelIDs | platformtest.VariantProcessingNoID | platformtest.VariantChunkNoID},
	}
	for _, tt := range variants {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetVariant(tt.v)
			c := newClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			for _, q := range []string{"first question", "second question"} {
				r, err := chat.Ask(ctx, q)
				require.NoError(t, err)
				assert.Equal(t, platformtest.ReplyText(q), r.Text)
			}
		})
	}
}

func TestChat_StreamYieldsChunksThenTheCompleteReply(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, _ formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		var b strings.Builder
		var final *Reply
		n := 0
		for chunk, err := range chat.Stream(ctx, "stream me a reply") {
			require.NoError(t, err)
			if chunk.Done {
				final = &chunk.Reply
				break
			}
			n++
			b.WriteString(chunk.Text)
		}
		require.NotNil(t, final)
		want := platformtest.ReplyText("stream me a reply")
		assert.Equal(t, want, b.String())
		assert.Equal(t, want, final.Text)
		assert.Equal(t, n, final.Chunks)
		assert.Greater(t, n, 1)
	})
}

func TestChat_StreamStoppedEarlyLeaksNothing(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, _ formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Chunks: []string{"a", "b", "c", "d"}, ChunkDelay: 20 * time.Millisecond}
		})
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		for chunk, err := range chat.Stream(ctx, "stop early") {
			require.NoError(t, err)
			assert.Equal(t, "a", chunk.Text)
			break
		}
		// The reply still completes for the other consumers.
		r, err := chat.Ask(ctx, "then ask")
		require.NoError(t, err)
		assert.Equal(t, "abcd", r.Text)
	})
}

func TestChat_StreamReportsSendErrors(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		for _, err := range chat.Stream(ctx, "   ") {
			require.ErrorIs(t, err, ErrValidation)
		}
	})
}

func TestChat_SendValidates(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, _ formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		tests := []struct {
			name string
			text string
		}{
			{"empty", ""},
			{"blank", " \t\n"},
			{"too long", strings.Repeat("é", DefaultMaxMessageLength+1)},
			{"invalid utf-8", "abc\xff"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := chat.Send(ctx, tt.text)
				require.ErrorIs(t, err, ErrValidation)
				var ve *ValidationError
				require.ErrorAs(t, err, &ve)
			})
		}
		_, err = chat.Send(ctx, strings.Repeat("é", DefaultMaxMessageLength))
		require.NoError(t, err, "exactly the limit, counted in characters, passes")
		assert.NotNil(t, chat.State().Errors.Validation)
	})
}

func TestChat_LengthLimitFromPlatformConfig(t *testing.T) {
	srv := newServer(t, platformtest.Config{MaxMessageLength: 10})
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.OpenChat(ctx, "chat-limit")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	_, err = chat.Send(ctx, "this is longer than ten")
	require.ErrorIs(t, err, ErrValidation)
	_, err = chat.Ask(ctx, "short")
	require.NoError(t, err)
}

func TestChat_ManyChatsConcurrentlyGetOnlyTheirOwnReplies(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, _ formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 30*time.Second)
		const chats, perChat = 8, 5
		var wg sync.WaitGroup
		for i := 0; i < chats; i++ {
			chat, err := c.NewChat(ctx, ChatOptions{Title: fmt.Sprint("chat ", i)})
			require.NoError(t, err)
			var wrong atomic.Int32
			chat.OnComplete(func(e CompleteEvent) {
				if e.Reply.ChatID != chat.ID() {
					wrong.Add(1)
				}
			})
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := 0; j < perChat; j++ {
					q := fmt.Sprintf("chat %s question %d", chat.ID(), j)
					r, err := chat.Ask(ctx, q)
					if assert.NoError(t, err) {
						assert.Equal(t, platformtest.ReplyText(q), r.Text)
					}
				}
				assert.Zero(t, wrong.Load())
			}()
		}
		wg.Wait()
		assert.Equal(t, uint64(chats*perChat), c.Stats().MessagesAnswered)
	})
}

func TestChat_MessagesSentWhileDisconnectedAnsweredAfterReconnectInOrder(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, _ formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond }))
		states := recordStates(c)
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		waitListed(t, srv, 1)
		srv.RefuseHandshakes(2, 503)
		srv.DropAll(1001)
		states.next(t, ctx, StateReconnecting)
		var msgs []*Message
		for i := 0; i < 5; i++ {
			m, err := chat.Send(ctx, fmt.Sprint("offline ", i))
			require.NoError(t, err)
			msgs = append(msgs, m)
		}
		var completes []string
		var mu sync.Mutex
		chat.OnComplete(func(e CompleteEvent) {
			mu.Lock()
			completes = append(completes, e.Reply.Text)
			mu.Unlock()
		})
		for i, m := range msgs {
			r, err := m.Wait(ctx)
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText(fmt.Sprint("offline ", i)), r.Text)
		}
		var sent []string
		for _, f := range srv.FramesOfType(protocol.TypeChatMessage) {
			sent = append(sent, f.Data["message"].(string))
		}
		assert.Equal(t, []string{"offline 0", "offline 1", "offline 2", "offline 3", "offline 4"}, sent, "each sent once, in order")
	})
}

func TestChat_DropBeforeAckResendsOnceWithSameID(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) {
			cfg.InitialBackoff = 20 * time.Millisecond
			cfg.ResponseTimeout = 2 * time.Second
		}))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		completes := collectCompletes(chat)
		srv.DropAfterChatMessage(1)
		m, err := chat.Send(ctx, "lost in flight")
		require.NoError(t, err)
		r, err := m.Wait(ctx)
		if fc.server == platformtest.ProtocolTenantApp {
			// Replies name no message and nothing is acknowledged: the
			// client cannot know the platform did not have it, and does not
			// send it again, which would be answered twice if it had. It
			// fails at once; the next message waits for the timeout, in
			// case a reply to the first still comes.
			require.ErrorIs(t, err, ErrReplyLost)
			assert.Len(t, srv.FramesOfType(protocol.TypeChatMessage), 1, "not sent again")
			next, err := chat.Ask(ctx, "next")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("next"), next.Text)
			assert.Equal(t, []string{next.ClientMessageID}, completes.until(t, ctx, next.ClientMessageID))
			return
		}
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("lost in flight"), r.Text)
		frames := srv.FramesOfType(protocol.TypeChatMessage)
		require.Len(t, frames, 2, "sent, then re-sent once")
		assert.Equal(t, m.ID(), frames[0].Data["client_message_id"])
		assert.Equal(t, m.ID(), frames[1].Data["client_message_id"])
		next, err := chat.Ask(ctx, "next")
		require.NoError(t, err)
		got := completes.until(t, ctx, next.ClientMessageID)
		assert.Equal(t, []string{m.ID(), next.ClientMessageID}, got, "answered exactly once")
	})
}

// completeLog collects the client message ids of complete replies, in
// dispatch order.
type completeLog struct{ ch chan string }

func collectCompletes(chat *Chat) *completeLog {
	l := &completeLog{ch: make(chan string, 1024)}
	chat.OnComplete(func(e CompleteEvent) { l.ch <- e.Reply.ClientMessageID })
	return l
}

// until returns the ids delivered up to and including last. Callbacks run in
// order, so anything delivered before last is in the result.
func (l *completeLog) until(t *testing.T, ctx context.Context, last string) []string {
	t.Helper()
	var out []string
	for {
		select {
		case id := <-l.ch:
			out = append(out, id)
			if id == last {
				return out
			}
		case <-ctx.Done():
			t.Fatalf("no complete for %s; got %v", last, out)
		}
	}
}

func TestChat_DropAfterAckRecoversReplyFromHistoryWithoutResend(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond }))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		if fc.server == platformtest.ProtocolTenantApp {
			// The reply comes once the chat is joined again: the platform
			// answers a chat's messages over whatever socket joined it.
			srv.SetResponder(answerAfterRejoin(srv, "answered while away"))
		}
		srv.DropAfterReceived(1)
		m, err := chat.Send(ctx, "answered while away")
		require.NoError(t, err)
		r, err := m.Wait(ctx)
		switch fc.server {
		case platformtest.ProtocolWebsite:
			// No history to recover from: the acknowledged message fails.
			require.ErrorIs(t, err, ErrReplyLost)
			assert.Len(t, srv.FramesOfType(protocol.TypeChatMessage), 1, "not re-sent")
		case platformtest.ProtocolTenantApp:
			// No acknowledgement and no history: the reply comes over the
			// new connection, but nothing tells it is whole. The message
			// fails, and is not sent again.
			require.ErrorIs(t, err, ErrReplyLost)
			assert.Len(t, srv.FramesOfType(protocol.TypeChatMessage), 1, "not re-sent")
		default:
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("answered while away"), r.Text)
			assert.True(t, r.Recovered)
			assert.Len(t, srv.FramesOfType(protocol.TypeChatMessage), 1, "not re-sent")
		}
	})
}

func TestChat_ProcessingTimeoutThenLateReplyMarkedLate(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		release := make(chan struct{})
		srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
			if req.Text == "slow" {
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return platformtest.DefaultResponder(ctx, req)
		})
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, then(form, withFakeClock(clk)))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		late := make(chan Reply, 1)
		chat.OnComplete(func(e CompleteEvent) {
			if e.Reply.Late {
				late <- e.Reply
			}
		})
		m, err := chat.Send(ctx, "slow")
		require.NoError(t, err)
		require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
			return len(s.FramesOfType(protocol.TypeChatMessage)) == 1
		}))
		waitStatus(t, ctx, chat, m.ID(), fc.heldStatus())
		clk.Advance(DefaultResponseTimeout + time.Second)
		_, err = m.Wait(ctx)
		require.ErrorIs(t, err, ErrResponseTimeout)
		assert.NotNil(t, chat.State().Errors.Processing)

		close(release)
		select {
		case r := <-late:
			assert.Equal(t, platformtest.ReplyText("slow"), r.Text)
			assert.Equal(t, m.ID(), r.ClientMessageID)
		case <-ctx.Done():
			t.Fatal("late reply not delivered")
		}
		r, err := chat.Ask(ctx, "next one")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("next one"), r.Text, "the late reply answered no later message")
	})
}

// waitStatus waits until the chat's view of a message reaches status.
func waitStatus(t *testing.T, ctx context.Context, chat *Chat, id string, status registry.Status) {
	t.Helper()
	ch := make(chan struct{}, 1)
	unsub := chat.OnMessageStatus(func(e MessageStatusEvent) {
		if e.ClientMessageID == id && e.Status >= status {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	})
	defer unsub()
	for _, v := range chat.State().Messages {
		if v.ClientMessageID == id && v.Status >= status {
			return
		}
	}
	select {
	case <-ch:
	case <-ctx.Done():
		t.Fatalf("message %s never reached %s", id, status)
	}
}

func TestChat_TypingThrottleAndAutoStop(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, then(form, withFakeClock(clk)))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		count := func(typ string) int { return len(srv.FramesOfType(typ)) }

		for i := 0; i < 5; i++ { // five calls within 2 s: one typing_start
			require.NoError(t, chat.Typing(ctx))
			clk.Advance(300 * time.Millisecond)
		}
		require.NoError(t, srv.WaitFor(ctx, func(*platformtest.Server) bool { return count(protocol.TypeTypingStart) == 1 }))
		clk.Advance(600 * time.Millisecond) // 2.1 s since the first start
		require.NoError(t, chat.Typing(ctx))
		require.NoError(t, srv.WaitFor(ctx, func(*platformtest.Server) bool { return count(protocol.TypeTypingStart) == 2 }))
		assert.Zero(t, count(protocol.TypeTypingStop))

		clk.Advance(DefaultTypingIdle + 200*time.Millisecond) // idle: auto stop
		require.NoError(t, srv.WaitFor(ctx, func(*platformtest.Server) bool { return count(protocol.TypeTypingStop) == 1 }))

		require.NoError(t, chat.Typing(ctx))
		_, err = chat.Send(ctx, "done typing")
		require.NoError(t, err)
		require.NoError(t, srv.WaitFor(ctx, func(*platformtest.Server) bool {
			return count(protocol.TypeTypingStop) == 2 && count(protocol.TypeChatMessage) == 1
		}))
		frames := srv.Frames()
		stopAt, msgAt := -1, -1
		for i, f := range frames {
			if f.Type == protocol.TypeTypingStop {
				stopAt = i
			}
			if f.Type == protocol.TypeChatMessage {
				msgAt = i
			}
		}
		assert.Less(t, stopAt, msgAt, "typing_stop goes before the message")
	})
}

func TestChat_StatusTransitionsMonotonicAndReportedOnce(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetDuplicate(true)
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		var mu sync.Mutex
		seen := map[string][]registry.Status{}
		chat.OnMessageStatus(func(e MessageStatusEvent) {
			mu.Lock()
			seen[e.ClientMessageID] = append(seen[e.ClientMessageID], e.Status)
			mu.Unlock()
		})
		var ids []string
		for i := 0; i < 3; i++ {
			m, err := chat.Send(ctx, fmt.Sprint("status ", i))
			require.NoError(t, err)
			ids = append(ids, m.ID())
			_, err = m.Wait(ctx)
			require.NoError(t, err)
		}
		syncCallbacks(t, c)
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			assert.Equal(t, []registry.Status{registry.StatusSending, registry.StatusSent, registry.StatusDelivered, registry.StatusAnswered}, seen[id])
		}
	})
}

func TestChat_CancelledAskAndCloseMidStream(t *testing.T) {
	t.Parallel() // waits on deadlines and slow replies, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Chunks: []string{"x", "y", "z"}, ChunkDelay: 200 * time.Millisecond}
		})
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)

		askCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err = chat.Ask(askCtx, "cancel me")
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded)

		got := make(chan error, 1)
		go func() {
			for chunk, err := range chat.Stream(ctx, "close mid-stream") {
				if err != nil {
					got <- err
					return
				}
				if chunk.Done {
					got <- nil
					return
				}
				_ = c.Close(ctx)
			}
		}()
		select {
		case err := <-got:
			require.ErrorIs(t, err, ErrClosed)
		case <-ctx.Done():
			t.Fatal("stream did not end on Close")
		}
	})
}

func TestChat_StateIsADeepCopyAndConsistentUnderConcurrency(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{Title: "snapshot"})
		require.NoError(t, err)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := chat.State()
				for i := 1; i < len(s.Messages); i++ {
					assert.False(t, s.Messages[i].Time.Before(s.Messages[i-1].Time))
				}
			}
		}()
		for i := 0; i < 5; i++ {
			_, err := chat.Ask(ctx, fmt.Sprint("q", i))
			require.NoError(t, err)
		}
		close(stop)
		wg.Wait()
		s := chat.State()
		require.Len(t, s.Messages, 10)
		assert.True(t, s.Ready)
		assert.Equal(t, "snapshot", s.Chat.Title)
		assert.Equal(t, testTenant, s.Chat.TenantID)
		s.Messages[0].Text = "changed"
		s.Messages = s.Messages[:1]
		again := chat.State()
		assert.Len(t, again.Messages, 10)
		assert.Equal(t, "q0", again.Messages[0].Text)
		assert.False(t, again.Stream.Active)
		assert.False(t, again.Processing.Active)
	})
}

func TestChat_MessagesBounded(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.MaxMessages = 4 }))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		for i := 0; i < 4; i++ {
			_, err := chat.Ask(ctx, fmt.Sprint("q", i))
			require.NoError(t, err)
		}
		msgs := chat.State().Messages
		require.Len(t, msgs, 4)
		assert.Equal(t, "q2", msgs[0].Text, "oldest dropped first")
	})
}

func TestChat_HistoryOverREST(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	_, err = chat.Ask(ctx, "remember this")
	require.NoError(t, err)
	hist, err := chat.History(ctx)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	assert.Equal(t, protocol.RoleUser, hist[0].Role)
	assert.Equal(t, "remember this", hist[0].Content)
	assert.Equal(t, protocol.RoleAssistant, hist[1].Role)
	assert.Equal(t, platformtest.ReplyText("remember this"), hist[1].Content)
}

func TestChat_RESTSendModeTakesRepliesFromSocket(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, func(cfg *Config) { cfg.SendMode = SendREST })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	r, err := chat.Ask(ctx, "via rest")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("via rest"), r.Text)
	assert.Empty(t, srv.FramesOfType(protocol.TypeChatMessage))
}

func TestChat_LeaveStopsDeliveriesAndJoinIsIdempotent(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, _ formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		require.NoError(t, chat.Leave(ctx))
		require.NoError(t, chat.Leave(ctx))
		require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
			return len(s.FramesOfType(protocol.TypeLeaveChat)) == 1
		}))
		_, err = chat.Send(ctx, "after leave")
		require.Error(t, err)
		require.NoError(t, chat.Join(ctx))
		require.NoError(t, chat.Join(ctx))
		r, err := chat.Ask(ctx, "back again")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("back again"), r.Text)
	})
}

func TestChat_PlatformErrorFailsTheMessage(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Error: &platformtest.ErrorReply{Code: "ai_unavailable", Message: "AI service unavailable", Category: "processing"}}
		})
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		start := time.Now()
		_, err = chat.Ask(ctx, "fail please")
		var pe *PlatformError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "ai_unavailable", pe.Code)
		assert.Less(t, time.Since(start), DefaultResponseTimeout/2, "failed by the error frame, not by the reply timeout")
		assert.NotNil(t, chat.State().Errors.Processing)
		start = time.Now()
		_, err = chat.Ask(ctx, "the next one fails too, at once")
		require.ErrorAs(t, err, &pe, "the same error again is another error, not a duplicate")
		assert.Less(t, time.Since(start), DefaultResponseTimeout/2)
		assert.Zero(t, c.Stats().DuplicatesDropped)
	})
}

func TestChat_RateLimitReportedAndSendsWait(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		wait := 2 * time.Second
		if fc.server == platformtest.ProtocolTenantApp {
			wait = protocol.DefaultRateLimitWait // its error frame names no wait
		}
		testRateLimitReportedAndSendsWait(t, srv, form, wait)
	})
}

func testRateLimitReportedAndSendsWait(t *testing.T, srv *platformtest.Server, form func(*Config), wait time.Duration) {
	srv.SetRetryAfter(2 * time.Second)
	srv.RateLimit(1)
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, then(form, withFakeClock(clk)))
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	errs := make(chan ErrorEvent, 4)
	chat.OnError(func(e ErrorEvent) { errs <- e })
	_, err = chat.Send(ctx, "too fast")
	require.NoError(t, err)
	select {
	case e := <-errs:
		assert.Equal(t, ErrorRateLimit, e.Kind)
		var rl *RateLimitError
		require.ErrorAs(t, e.Err, &rl)
		assert.Equal(t, wait, rl.RetryAfter)
	case <-ctx.Done():
		t.Fatal("rate limit not reported")
	}
	done := make(chan error, 1)
	go func() {
		_, err := chat.Send(ctx, "waits")
		done <- err
	}()
	require.NoError(t, clk.WaitForWaiters(ctx, 2)) // ping, rate-limit wait (nothing else is due: no timer)
	select {
	case <-done:
		t.Fatal("send did not wait out the rate limit")
	default:
	}
	clk.Advance(wait)
	require.NoError(t, <-done)
}

func TestChat_LeaveFailsTheChatsWaitingMessagesWithErrChatLeft(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(withholding("never answered"))
		c := newClient(t, srv, then(form, func(cfg *Config) {
			cfg.InitialBackoff = 20 * time.Millisecond
			if fc.server == platformtest.ProtocolTenantApp {
				// A reply to the message left on the wire may still come;
				// the chat's next message waits for it, or for this.
				cfg.ResponseTimeout = 3 * time.Second
			}
		}))
		states := recordStates(c)
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		inFlight, err := chat.Send(ctx, "never answered")
		require.NoError(t, err)
		waitStatus(t, ctx, chat, inFlight.ID(), fc.heldStatus())

		srv.RefuseHandshakes(1000, 503)
		srv.DropAll(1001)
		states.next(t, ctx, StateReconnecting)
		queued, err := chat.Send(ctx, "queued while down")
		require.NoError(t, err)
		require.Equal(t, 1, c.Stats().QueueLength)

		require.NoError(t, chat.Leave(ctx))
		for _, m := range []*Message{inFlight, queued} {
			_, err := m.Wait(ctx)
			require.ErrorIs(t, err, ErrChatLeft)
		}
		assert.Zero(t, c.Stats().QueueLength, "the left chat's frames left the queue")

		srv.RefuseHandshakes(0, 0)
		require.NoError(t, c.WaitForState(ctx, StateReady))
		for _, f := range srv.FramesOfType(protocol.TypeChatMessage) {
			assert.NotEqual(t, queued.ID(), f.Data["client_message_id"], "a message of the left chat was sent")
		}
		require.NoError(t, chat.Join(ctx))
		r, err := chat.Ask(ctx, "back again")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("back again"), r.Text)
	})
}

func TestChat_RateLimitExceededFailsTheNamedMessageWithRateLimitError(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetRetryAfter(2 * time.Second)
	srv.RateLimit(1)
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	m, err := chat.Send(ctx, "too fast")
	require.NoError(t, err)
	_, err = m.Wait(ctx)
	require.ErrorIs(t, err, ErrRateLimited)
	var rl *RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, 2*time.Second, rl.RetryAfter)
	assert.Equal(t, uint64(1), c.Stats().MessagesFailed)
}

func TestChat_ErrorFrameWithRetryAfterFailsTheNamedMessageAndMakesSendsWait(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(withholding("overloaded"))
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	m, err := chat.Send(ctx, "overloaded")
	require.NoError(t, err)
	waitStatus(t, ctx, chat, m.ID(), registry.StatusDelivered)

	srv.Inject(chat.ID(), map[string]any{"type": protocol.TypeError, "data": map[string]any{
		"code": "overloaded", "message": "slow down", "type": "rate_limit",
		"retry_after": 3, "client_message_id": m.ID(),
	}})
	_, err = m.Wait(ctx)
	require.ErrorIs(t, err, ErrRateLimited)
	var rl *RateLimitError
	require.ErrorAs(t, err, &rl)
	assert.Equal(t, 3*time.Second, rl.RetryAfter)
	var pe *PlatformError
	require.ErrorAs(t, err, &pe, "the platform's error stays reachable")
	assert.Equal(t, "overloaded", pe.Code)
	assert.NotNil(t, chat.State().Errors.RateLimit)

	done := make(chan error, 1)
	go func() {
		_, err := chat.Send(ctx, "waits")
		done <- err
	}()
	require.NoError(t, clk.WaitForWaiters(ctx, 2)) // ping, rate-limit wait (nothing else is due: no timer)
	select {
	case <-done:
		t.Fatal("send did not wait out the retry_after of the error frame")
	default:
	}
	clk.Advance(3 * time.Second)
	require.NoError(t, <-done)
}

func TestChat_RESTSendModeWaitsForTheJoinBeforePosting(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	t.Run("first call on a new client", func(t *testing.T) {
		// The socket is ready (and joins) well after the chat exists: a post
		// made before the join loses its reply.
		srv := newServer(t, platformtest.Config{ReadyDelay: 300 * time.Millisecond})
		c := newClient(t, srv, func(cfg *Config) { cfg.SendMode = SendREST })
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		var mu sync.Mutex
		var statuses []registry.Status
		chat.OnMessageStatus(func(e MessageStatusEvent) {
			mu.Lock()
			statuses = append(statuses, e.Status)
			mu.Unlock()
		})
		r, err := chat.Ask(ctx, "first over rest")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("first over rest"), r.Text)
		assert.Empty(t, srv.FramesOfType(protocol.TypeChatMessage))

		syncCallbacks(t, c)
		mu.Lock()
		assert.Equal(t, []registry.Status{registry.StatusSending, registry.StatusSent, registry.StatusDelivered, registry.StatusAnswered}, statuses)
		mu.Unlock()
		hist := srv.Messages(chat.ID())
		require.NotEmpty(t, hist)
		var view MessageView
		for _, v := range chat.State().Messages {
			if v.ClientMessageID == r.ClientMessageID {
				view = v
			}
		}
		assert.Equal(t, hist[0].ID, view.ServerID, "the id in the POST answer is mapped")
		assert.Equal(t, uint64(1), c.Stats().MessagesAcknowledged)
	})
	t.Run("chat opened on a ready client", func(t *testing.T) {
		srv := newServer(t, platformtest.Config{})
		c := newClient(t, srv, func(cfg *Config) { cfg.SendMode = SendREST })
		ctx := ctxT(t, 10*time.Second)
		_, err := c.OpenChat(ctx, "chat-rest-one")
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		for i := 0; i < 5; i++ {
			chat, err := c.OpenChat(ctx, fmt.Sprint("chat-rest-later-", i))
			require.NoError(t, err)
			r, err := chat.Ask(ctx, fmt.Sprint("at once ", i))
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText(fmt.Sprint("at once ", i)), r.Text)
		}
	})
}

func TestChat_PostedIDReadsTheServerIDOfEveryAnswerShape(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"message_id", `{"message_id":"m-1","id":"other"}`, "m-1"},
		{"id", `{"id":"m-2","content":"hi"}`, "m-2"},
		{"numeric id", `{"id":42}`, "42"},
		{"nested message", `{"message":{"id":"m-3","content":"hi"}}`, "m-3"},
		{"message as text", `{"message":"stored","id":"m-4"}`, "m-4"},
		{"none", `{"status":"ok"}`, ""},
		{"empty body", ``, ""},
		{"not an object", `["m-5"]`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, postedID([]byte(tt.in)))
		})
	}
}
