package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// hookLog records every hook call as a line, and the contexts the message
// hooks were given.
type hookLog struct {
	mu    sync.Mutex
	lines []string
	ctxs  map[string][]context.Context // by client message id
}

type ctxKey struct{}

func (h *hookLog) add(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lines = append(h.lines, fmt.Sprintf(format, args...))
}

func (h *hookLog) ctx(id string, ctx context.Context) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctxs == nil {
		h.ctxs = map[string][]context.Context{}
	}
	h.ctxs[id] = append(h.ctxs[id], ctx)
}

func (h *hookLog) get() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

// matching returns the lines that start with prefix.
func (h *hookLog) matching(prefix string) []string {
	var out []string
	for _, l := range h.get() {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// hooks returns Hooks that record into h. The message hooks also check
// that they may call back into the client (no SDK lock is held).
func (h *hookLog) hooks(c **Client) Hooks {
	msg := func(name string) func(context.Context, MessageInfo) {
		return func(ctx context.Context, i MessageInfo) {
			_ = (*c).Stats()
			h.ctx(i.ClientMessageID, ctx)
			h.add("%s %s server=%t attempt=%d bytes=%d", name, i.ClientMessageID, i.ServerID != "", i.Attempt, i.Bytes)
		}
	}
	return Hooks{
		ConnectStart: func(ctx context.Context, i ConnectStartInfo) context.Context {
			h.add("connect-start %d reconnect=%t", i.Attempt, i.Reconnect)
			return ctx
		},
		ConnectDone: func(_ context.Context, i ConnectDoneInfo) {
			h.add("connect-done %d err=%t code=%d", i.Attempt, i.Err != nil, i.CloseCode)
		},
		StateChange: func(sc StateChange) { h.add("state %s", sc.Current) },
		MessageStart: func(ctx context.Context, i MessageInfo) context.Context {
			h.add("start %s attempt=%d bytes=%d", i.ClientMessageID, i.Attempt, i.Bytes)
			return context.WithValue(ctx, ctxKey{}, "span of "+i.ClientMessageID)
		},
		MessageWritten:      msg("written"),
		MessageAcknowledged: msg("ack"),
		MessageFirstChunk:   msg("first-chunk"),
		MessageDone: func(ctx context.Context, i MessageDoneInfo) {
			_ = (*c).Stats()
			h.ctx(i.ClientMessageID, ctx)
			h.add("done %s err=%v reply=%d recovered=%t late=%t", i.ClientMessageID, i.Err, i.ReplyBytes, i.Recovered, i.Late)
		},
		Recovery: func(i RecoveryInfo) {
			h.add("recovery recovered=%d failed=%d err=%t", i.Recovered, i.Failed, i.Err != nil)
		},
		QueueDrop:        func(i QueueDropInfo) { h.add("queue-drop %s %v", i.ClientMessageID, i.Err) },
		DuplicateDropped: func(i DuplicateInfo) { h.add("duplicate %s", i.Type) },
		ProtocolError:    func(err error) { h.add("protocol-error") },
	}
}

func TestHooks_AConversationIsObservedInOrderWithTheCallersContext(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		var h hookLog
		var c *Client
		c = newClient(t, srv, then(form, func(cfg *Config) { cfg.Hooks = h.hooks(&c) }))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		caller := context.WithValue(ctx, callerKey{}, "the caller's trace")
		m, err := chat.Send(caller, "hello")
		require.NoError(t, err)
		r, err := m.Wait(ctx)
		require.NoError(t, err)
		// The reply can come while the client flushes its queue, a moment
		// before it is ready and before the connection loop returns from
		// the attempt (ConnectDone).
		require.NoError(t, c.WaitForState(ctx, StateReady))
		require.Eventually(t, func() bool { return len(h.matching("connect-done")) == 1 }, 5*time.Second, time.Millisecond)
		syncCallbacks(t, c)

		id := m.ID()
		want := []string{
			fmt.Sprintf("start %s attempt=1 bytes=5", id),
			fmt.Sprintf("written %s server=false attempt=1 bytes=5", id),
			fmt.Sprintf("ack %s server=%t attempt=1 bytes=5", id, fc.name == "rest" || fc.name == "website"),
			fmt.Sprintf("first-chunk %s server=%t attempt=1 bytes=5", id, fc.name == "rest" || fc.name == "website"),
			fmt.Sprintf("done %s err=<nil> reply=%d recovered=false late=false", id, len(r.Text)),
		}
		var got []string
		for _, l := range h.get() {
			if strings.Contains(l, id) {
				got = append(got, l)
			}
		}
		assert.Equal(t, want, got, "every message hook once, in the order of the message's life")
		h.mu.Lock()
		ctxs := h.ctxs[id]
		h.mu.Unlock()
		require.Len(t, ctxs, 4)
		for _, hc := range ctxs {
			assert.Equal(t, "the caller's trace", hc.Value(callerKey{}), "derived from the context given to Send")
			assert.Equal(t, "span of "+id, hc.Value(ctxKey{}), "the context MessageStart returned")
		}
		assert.Equal(t, []string{"connect-start 1 reconnect=false", "connect-done 1 err=false code=0"}, h.matching("connect-"))
		assert.Contains(t, h.matching("state "), "state ready")
	})
}

type callerKey struct{}

func TestHooks_AFailedMessageIsDoneWithItsError(t *testing.T) {
	srv := newServer(t, platformtest.Config{Responder: func(context.Context, platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Error: &platformtest.ErrorReply{Code: "model_failed", Message: "the model failed"}}
	}})
	var h hookLog
	var c *Client
	c = newClient(t, srv, func(cfg *Config) { cfg.Hooks = h.hooks(&c) })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	m, err := chat.Send(ctx, "please fail")
	require.NoError(t, err)
	_, err = m.Wait(ctx)
	var pe *PlatformError
	require.ErrorAs(t, err, &pe)
	syncCallbacks(t, c)
	done := h.matching("done ")
	require.Len(t, done, 1)
	assert.Contains(t, done[0], "the model failed")
	assert.Empty(t, h.matching("first-chunk"))
}

func TestHooks_RecoveryAndDuplicatesAreObserved(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	srv := newServer(t, platformtest.Config{})
	var h hookLog
	var c *Client
	c = newClient(t, srv, func(cfg *Config) { cfg.Hooks = h.hooks(&c) })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	srv.DropAfterReceived(1) // the reply goes to the history only
	r, err := chat.Ask(ctx, "first")
	require.NoError(t, err)
	assert.True(t, r.Recovered)
	syncCallbacks(t, c)
	assert.Equal(t, []string{"recovery recovered=1 failed=0 err=false"}, h.matching("recovery"))
	assert.Contains(t, h.matching("done "), fmt.Sprintf("done %s err=<nil> reply=%d recovered=true late=false", r.ClientMessageID, len(r.Text)))
	assert.Equal(t, []string{"connect-start 1 reconnect=false", "connect-done 1 err=false code=0",
		"connect-start 2 reconnect=true", "connect-done 2 err=false code=0"}, h.matching("connect-"))

	srv.SetDuplicate(true)
	_, err = chat.Ask(ctx, "second")
	require.NoError(t, err)
	srv.SetDuplicate(false)
	syncCallbacks(t, c)
	assert.NotEmpty(t, h.matching("duplicate "), "every frame came twice")
	assert.EqualValues(t, len(h.matching("duplicate ")), c.Stats().DuplicatesDropped)
}

func TestHooks_QueueDropsAndProtocolErrorsAreObserved(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		var h hookLog
		var c *Client
		c = newClient(t, srv, then(form, func(cfg *Config) {
			cfg.Hooks = h.hooks(&c)
			cfg.QueueSize = 1
			// Refused attempts follow each other in milliseconds, and the
			// client keeps trying until the platform takes it back.
			cfg.InitialBackoff = 5 * time.Millisecond
			cfg.MaxBackoff = 20 * time.Millisecond
			cfg.MaxRetries = RetryForever
		}))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		require.NoError(t, c.WaitForState(ctx, StateReady))
		srv.RefuseHandshakes(1000, 503)
		srv.DropAll(websocket.CloseGoingAway)
		require.NoError(t, c.WaitForState(ctx, StateReconnecting))
		_, err = chat.Send(ctx, "queued")
		require.NoError(t, err)
		m, err := chat.Send(ctx, "refused")
		require.ErrorIs(t, err, ErrQueueFull)
		require.Nil(t, m)
		syncCallbacks(t, c)
		drops := h.matching("queue-drop ")
		require.Len(t, drops, 1)
		assert.Contains(t, drops[0], ErrQueueFull.Error())
		require.Eventually(t, func() bool { return slices.Contains(h.matching("connect-done"), "connect-done 2 err=true code=0") },
			5*time.Second, time.Millisecond, "the refused attempt is done with its error")

		srv.RefuseHandshakes(0, 0)
		require.NoError(t, c.WaitForState(ctx, StateReady))
		require.NoError(t, srv.SendRaw(srv.Connections()[0].ConnID, websocket.TextMessage, []byte(`{"type":`)))
		require.NoError(t, srv.SendRaw(srv.Connections()[0].ConnID, websocket.TextMessage, []byte(`{"type":"ping"}`)))
		require.Eventually(t, func() bool { return len(h.matching("protocol-error")) == 1 }, 5*time.Second, time.Millisecond)
	})
}

func TestHooks_UnsetHooksAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under -race")
	}
	c := &Client{disp: newDispatcher(8, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	w := &waiter{chat: &Chat{host: c, owner: c}, clientID: "m1"}
	perr := errors.New("x")
	allocs := testing.AllocsPerRun(100, func() {
		now := time.Time{}
		c.messageHook(c.cfg.Hooks.MessageWritten, w, now)
		c.doneHook(w, MessageDoneInfo{}, now)
		c.duplicateHook(protocol.TypeResponseChunk, w)
		eventHook(c, c.cfg.Hooks.ProtocolError, perr)
		c.connectHooks(1, false)(nil)
	})
	assert.Zero(t, allocs)
}

func TestHooks_MessagesFailedByCloseAreDone(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		var h hookLog
		var c *Client
		c = newClient(t, srv, then(form, func(cfg *Config) { cfg.Hooks = h.hooks(&c) }))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		srv.Stall(true) // the platform stops reading: no reply comes
		t.Cleanup(func() { srv.Stall(false) })
		waiting, err := chat.Send(ctx, "waiting for its reply")
		require.NoError(t, err)
		require.NoError(t, c.Close(ctx))
		_, err = waiting.Wait(ctx)
		require.ErrorIs(t, err, ErrClosed)
		assert.Equal(t, []string{fmt.Sprintf("done %s err=%v reply=0 recovered=false late=false", waiting.ID(), ErrClosed)},
			h.matching("done "), "every started message is done, Close or not")
	})
}
