package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
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
	"github.com/miptechnologies/miptech-go/registry"
)

// failing answers with DefaultResponder, except that questions containing
// "fail" get an error frame.
func failing(ctx context.Context, req platformtest.Request) platformtest.Reply {
	if strings.Contains(req.Text, "fail") {
		return platformtest.Reply{Error: &platformtest.ErrorReply{Code: "ai_service_error", Message: "the model failed", Category: "server_error"}}
	}
	return platformtest.DefaultResponder(ctx, req)
}

func TestLedger_AModelFailureDoesNotShiftRecoveredReplies(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(failing)
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)

	_, err = chat.Ask(ctx, "please fail")
	var pe *PlatformError
	require.ErrorAs(t, err, &pe)

	// The connection drops after the platform has acknowledged both: their
	// replies are only in the history.
	srv.DropAfterReceived(2)
	first, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	second, err := chat.Send(ctx, "second")
	require.NoError(t, err)
	for _, m := range []struct {
		msg  *Message
		text string
	}{{first, "first"}, {second, "second"}} {
		r, err := m.msg.Wait(ctx)
		require.NoError(t, err, m.text)
		assert.Equal(t, platformtest.ReplyText(m.text), r.Text, "the reply to %q", m.text)
	}
}

func TestLedger_ARecoveredReplyIsNeverDeliveredAfterALaterLiveOne(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	// The platform acknowledges m1 and m2, restarts (1001), and on the new
	// connection sends m2's reply right after chat_joined; m1's reply is
	// only in the history, and only from the second look on.
	var cids [2]string
	srv := newScriptServer(t, func(n int, sc *scriptConn) {
		sc.greet()
		if !sc.join() {
			return
		}
		switch n {
		case 1:
			for i := range cids {
				d, ok := sc.next(protocol.TypeChatMessage)
				if !ok {
					return
				}
				cids[i] = str(d["client_message_id"])
				sc.send(protocol.TypeMessageReceived, map[string]any{"client_message_id": cids[i], "message_id": []string{"s1", "s2"}[i], "chat_id": "chat-s"})
			}
			sc.close(websocket.CloseGoingAway)
			sc.drain()
		default:
			sc.send(protocol.TypeResponseComplete, map[string]any{"client_message_id": cids[1], "message_id": "a2",
				"chat_id": "chat-s", "content": "answer to second"})
			sc.drain()
		}
	})
	srv.setHistory(
		protocol.HistoryMessage{ID: "s1", Role: protocol.RoleUser, Content: "first"},
		protocol.HistoryMessage{ID: "s2", Role: protocol.RoleUser, Content: "second"},
	)
	c := srv.client(nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.OpenChat(ctx, "chat-s")
	require.NoError(t, err)
	completes := collectCompletes(chat)
	m1, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	m2, err := chat.Send(ctx, "second")
	require.NoError(t, err)

	// Once the client has looked once and found nothing, m1's reply
	// appears in the history.
	require.Eventually(t, func() bool { return srv.historyLooks() >= 1 }, 10*time.Second, 5*time.Millisecond)
	assertWaiting(t, ctx, m2, "m2's live reply was delivered before m1's")
	srv.setHistory(
		protocol.HistoryMessage{ID: "s1", Role: protocol.RoleUser, Content: "first"},
		protocol.HistoryMessage{ID: "s2", Role: protocol.RoleUser, Content: "second"},
		protocol.HistoryMessage{ID: "a1", Role: protocol.RoleAssistant, Content: "answer to first", Metadata: map[string]any{"user_message_id": "s1"}},
		protocol.HistoryMessage{ID: "a2", Role: protocol.RoleAssistant, Content: "answer to second", Metadata: map[string]any{"user_message_id": "s2"}},
	)
	assert.Equal(t, []string{m1.ID(), m2.ID()}, completes.until(t, ctx, m2.ID()), "replies in send order")
	r1, err := m1.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, "answer to first", r1.Text)
	assert.True(t, r1.Recovered)
	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, "answer to second", r2.Text)
	assert.False(t, r2.Recovered)
}

// shown is what a UI that appends chunks, and starts again at a Replace,
// shows.
func shown(chunks []Chunk) string {
	var b strings.Builder
	for _, c := range chunks {
		if c.Replace {
			b.Reset()
		}
		b.WriteString(c.Text)
	}
	return b.String()
}

func TestLedger_AStreamCutByALostConnectionAddsUpToTheReply(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		r := platformtest.DefaultResponder(ctx, req)
		r.Chunks = platformtest.SplitChunks("one two three four five six seven eight", 8)
		r.ChunkDelay = 20 * time.Millisecond
		return r
	})
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	events := make(chan ChunkEvent, 64)
	chat.OnChunk(func(e ChunkEvent) { events <- e })

	var chunks []Chunk
	var final *Reply
	dropped := false
	for ch, err := range chat.Stream(ctx, "count") {
		require.NoError(t, err)
		if ch.Done {
			final = &ch.Reply
			break
		}
		chunks = append(chunks, ch)
		if !dropped && len(chunks) == 2 {
			dropped = true
			srv.DropAll(websocket.CloseGoingAway) // mid-reply
		}
	}
	require.NotNil(t, final)
	assert.Equal(t, "one two three four five six seven eight", final.Text)
	assert.Equal(t, final.Text, shown(chunks), "the chunks add up to the reply")
	offset := 0
	for i, ch := range chunks {
		if ch.Replace {
			offset = 0
		}
		assert.Equal(t, offset, ch.Offset, "offset of chunk %d", i)
		offset += len(ch.Text)
	}
	syncCallbacks(t, c)
	var got []Chunk
	for len(events) > 0 {
		e := <-events
		got = append(got, Chunk{Text: e.Text, Replace: e.Replace})
	}
	assert.Equal(t, final.Text, shown(got), "the chunk callbacks add up to the reply too")
}

func TestLedger_FailedFailsWrittenMessagesAtOnce(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(withholding("never answered"))
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.MaxRetries = 1 }))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		m, err := chat.Send(ctx, "never answered")
		require.NoError(t, err)
		waitStatus(t, ctx, chat, m.ID(), fc.heldStatus())

		srv.RefuseHandshakes(10, 403) // not retried: the client fails
		srv.DropAll(websocket.CloseGoingAway)
		_, err = m.Wait(ctx) // well before the 30 s reply timeout
		require.ErrorIs(t, err, ErrFailed)
		var ce *ConnectError
		assert.ErrorAs(t, err, &ce, "the connection's cause")
		assert.NotErrorIs(t, err, ErrResponseTimeout)
	})
}

func TestLedger_NewChatWithAnEndedContextCreatesNothing(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, nil)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, ctx := range []context.Context{cancelled, expired} {
		chat, err := c.NewChat(ctx, ChatOptions{Title: "abandoned"})
		assert.Nil(t, chat)
		require.ErrorIs(t, err, ctx.Err())
	}
	syncCallbacks(t, c)
	assert.Empty(t, srv.Chats(testTenant), "the platform created a chat the caller abandoned")
	assert.Equal(t, StateDisconnected, c.State(), "no degraded chat started a connection")

	t.Run("a deadline that passes while the platform creates it", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select { // never answers in time
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer slow.Close()
		defer close(release)
		c, err := New(Config{APIURL: slow.URL, TenantID: testTenant})
		require.NoError(t, err)
		defer func() { require.NoError(t, c.Close(ctxT(t, 5*time.Second))) }()
		short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		chat, err := c.NewChat(short, ChatOptions{Title: "abandoned"})
		assert.Nil(t, chat)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, StateDisconnected, c.State(), "no degraded chat started a connection")
	})
}

func TestLedger_AContextDeadlineIsReturnedAsItself(t *testing.T) {
	t.Parallel() // waits on deadlines and slow replies, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.RefuseHandshakes(1000, 503) // the platform is down
		c := newClient(t, srv, form)
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		for i := range 8 {
			short, cancel := context.WithTimeout(ctx, time.Duration(50+20*i)*time.Millisecond)
			_, err := chat.Ask(short, "anyone there?")
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded, "run %d", i)
			assert.NotErrorIs(t, err, ErrExpired, "run %d", i)
		}
	})
}

func TestLedger_WaitingInsideACallbackFailsAtOnce(t *testing.T) {
	for _, tt := range []struct {
		name   string
		buffer int
		fill   bool
	}{{"empty buffer", 0, false}, {"full buffer", 4, true}} {
		t.Run(tt.name, func(t *testing.T) {
			eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
				c := newClient(t, srv, then(form, func(cfg *Config) {
					if tt.buffer > 0 {
						cfg.DispatchBuffer = tt.buffer
					}
				}))
				ctx := ctxT(t, 10*time.Second)
				chat, err := c.NewChat(ctx, ChatOptions{})
				require.NoError(t, err)
				// The reply to the message sent inside the callback is held
				// until the callback is over: a Wait that found it already
				// there would return it, as documented.
				callbackOver := make(chan struct{})
				srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
					if req.Text == "sent inside" {
						select {
						case <-callbackOver:
						case <-ctx.Done():
						}
					}
					return platformtest.DefaultResponder(ctx, req)
				})
				type result struct {
					askErr, sendErr, waitErr, streamErr error
					done                                bool
				}
				results := make(chan result, 1)
				var once sync.Once
				chat.OnComplete(func(e CompleteEvent) {
					once.Do(func() {
						if tt.fill {
							// Wait until events queue behind this callback.
							for c.disp.pending() < tt.buffer {
								_ = chat.Typing(ctx)
								srv.Inject(chat.ID(), map[string]any{"type": protocol.TypeTypingStart, "data": map[string]any{"user_id": "x"}})
								time.Sleep(time.Millisecond)
							}
						}
						var r result
						_, r.askErr = chat.Ask(ctx, "inside")
						m, err := chat.Send(ctx, "sent inside")
						r.sendErr = err
						if err == nil {
							_, r.waitErr = m.Wait(ctx)
						}
						for _, err := range chat.Stream(ctx, "streamed inside") {
							r.streamErr = err
						}
						r.done = true
						results <- r
					})
				})
				_, err = chat.Ask(ctx, "outside")
				require.NoError(t, err)
				select {
				case r := <-results:
					close(callbackOver)
					require.NoError(t, r.sendErr, "Send does not wait: it works inside a callback")
					assert.ErrorIs(t, r.askErr, ErrInCallback)
					assert.ErrorIs(t, r.waitErr, ErrInCallback)
					assert.ErrorIs(t, r.streamErr, ErrInCallback)
				case <-ctx.Done():
					t.Fatal("a wait inside a callback blocked")
				}
				// The client still works, and the message sent inside the
				// callback gets its reply.
				r, err := chat.Ask(ctx, "after")
				require.NoError(t, err)
				assert.Equal(t, platformtest.ReplyText("after"), r.Text)
			})
		})
	}
}

func TestLedger_JoinAcknowledgementsOfTwoConnectionsAreNotDuplicates(t *testing.T) {
	// Both connections answer the join with the very same frame, time
	// included.
	srv := newScriptServer(t, func(n int, sc *scriptConn) {
		sc.greet()
		d, ok := sc.next(protocol.TypeJoinChat)
		if !ok {
			return
		}
		sc.send(protocol.TypeChatJoined, map[string]any{"chat_id": d["chat_id"], "success": true}, "timestamp", 1_740_830_400_000)
		if n == 1 {
			sc.close(websocket.CloseGoingAway)
		}
		sc.drain()
	})
	var logs logBuffer
	c := srv.client(func(cfg *Config) { cfg.Logger = debugLogger(&logs) })
	ctx := ctxT(t, 20*time.Second)
	_, err := c.OpenChat(ctx, "chat-joined-twice")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	// The 1001 close may come before or after the first ready (a wait
	// reported as connecting, or as reconnecting): either way the client
	// is ready on the second connection.
	require.Eventually(t, func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.conns == 2
	}, 10*time.Second, time.Millisecond)
	require.NoError(t, c.WaitForState(ctx, StateReady))
	assert.Zero(t, c.Stats().DuplicatesDropped)
	assert.NotContains(t, logs.String(), "no chat_joined in time")
}

// retryScript answers the first chat_message with a retryable error, then
// the second (the retry) with an acknowledgement, a late reply to the
// first attempt, and the retry's own reply.
func retryScript(t *testing.T) *scriptServer {
	return newScriptServer(t, func(n int, sc *scriptConn) {
		sc.greet()
		if !sc.join() {
			return
		}
		d, ok := sc.next(protocol.TypeChatMessage)
		if !ok {
			return
		}
		first := str(d["client_message_id"])
		sc.send(protocol.TypeMessageReceived, map[string]any{"client_message_id": first, "message_id": "s1", "chat_id": "chat-r"})
		sc.send(protocol.TypeError, map[string]any{"client_message_id": first, "message_id": "s1", "chat_id": "chat-r",
			"code": "overloaded", "message": "try again", "retryable": true})
		d, ok = sc.next(protocol.TypeChatMessage)
		if !ok {
			return
		}
		second := str(d["client_message_id"])
		sc.send(protocol.TypeMessageReceived, map[string]any{"client_message_id": second, "message_id": "s2", "chat_id": "chat-r"})
		sc.send(protocol.TypeResponseComplete, map[string]any{"client_message_id": first, "message_id": "a1", "chat_id": "chat-r", "content": "late answer to the failed attempt"})
		sc.send(protocol.TypeResponseComplete, map[string]any{"message_id": "s1", "chat_id": "chat-r", "content": "late answer to the failed attempt"})
		sc.send(protocol.TypeResponseComplete, map[string]any{"client_message_id": second, "message_id": "a2", "chat_id": "chat-r", "content": "answer to the retry"})
		sc.drain()
	})
}

func TestLedger_RetryAfterAFailureGetsItsOwnReply(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	t.Run("by hand", func(t *testing.T) {
		srv := retryScript(t)
		c := srv.client(nil)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, "chat-r")
		require.NoError(t, err)
		m, err := chat.Send(ctx, "hello")
		require.NoError(t, err)
		_, err = m.Wait(ctx)
		var pe *PlatformError
		require.ErrorAs(t, err, &pe)
		assert.True(t, pe.Retryable)
		require.NoError(t, m.Retry(ctx))
		r, err := m.Wait(ctx)
		require.NoError(t, err)
		assert.Equal(t, "answer to the retry", r.Text)
		assert.Equal(t, m.ID(), r.ClientMessageID, "the handle keeps its id")
		assert.Equal(t, 2, r.Attempt)
		assert.ErrorIs(t, m.Retry(ctx), ErrNotFailed, "an answered message is not retried")
		syncCallbacks(t, c)
		assert.Equal(t, uint64(2), c.Stats().DuplicatesDropped, "the late replies to the failed attempt")
	})
	t.Run("automatically", func(t *testing.T) {
		srv := retryScript(t)
		c := srv.client(func(cfg *Config) { cfg.MessageRetries = 1 })
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, "chat-r")
		require.NoError(t, err)
		var mu sync.Mutex
		var statuses []registry.Status
		chat.OnMessageStatus(func(e MessageStatusEvent) {
			mu.Lock()
			statuses = append(statuses, e.Status)
			mu.Unlock()
		})
		r, err := chat.Ask(ctx, "hello")
		require.NoError(t, err)
		assert.Equal(t, "answer to the retry", r.Text)
		assert.Equal(t, 2, r.Attempt)
		syncCallbacks(t, c)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []registry.Status{registry.StatusSending, registry.StatusSent, registry.StatusDelivered, registry.StatusFailed,
			registry.StatusSending, registry.StatusSent, registry.StatusDelivered, registry.StatusAnswered}, statuses)
	})
	t.Run("a message that has not failed", func(t *testing.T) {
		eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
			srv.SetResponder(withholding("waiting"))
			c := newClient(t, srv, form)
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			m, err := chat.Send(ctx, "waiting")
			require.NoError(t, err)
			assert.ErrorIs(t, m.Retry(ctx), ErrNotFailed)
			assert.False(t, errors.Is(m.Retry(ctx), ErrFailed))
		})
	})
}
