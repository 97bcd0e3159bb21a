package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// replyShapes are the shapes in which the platform has delivered a reply's
// text (SPEC §2.2).
var replyShapes = []struct {
	name  string
	shape platformtest.Shape
}{
	{"flat", platformtest.ShapeFlat},
	{"nested", platformtest.ShapeNested},
	{"full_text", platformtest.ShapeFullText},
	{"chunks only", platformtest.ShapeChunksOnly},
	{"chat_response", platformtest.ShapeChatResponse},
}

func TestChat_StreamYieldsTheExactTextForEveryReplyShape(t *testing.T) {
	const question = "What are your opening hours on public holidays?"
	want := platformtest.ReplyText(question)
	for _, tt := range replyShapes {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetShape(tt.shape)
			c := newClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)

			var chunks []string
			var final *Reply
			for chunk, err := range chat.Stream(ctx, question) {
				require.NoError(t, err)
				require.Nil(t, final, "a value followed the final one")
				if chunk.Done {
					final = &chunk.Reply
					continue
				}
				chunks = append(chunks, chunk.Text)
			}
			require.NotNil(t, final, "the stream ended without the complete reply")
			assert.Equal(t, want, final.Text, "the final text")
			assert.Equal(t, chat.ID(), final.ChatID)
			if tt.shape == platformtest.ShapeChatResponse {
				// A reply that came whole is one piece: the stream's texts
				// still add up to the reply.
				assert.Equal(t, []string{want}, chunks, "a non-streaming reply is delivered as one piece")
				assert.Zero(t, final.Chunks, "no chunk came over the wire")
				return
			}
			assert.Equal(t, platformtest.SplitChunks(want, platformtest.DefaultChunks), chunks, "every chunk, in order, as sent")
			assert.Equal(t, len(chunks), final.Chunks)
		})
	}
}

// completeData is the metadata of a response_complete or chat_response as
// the platform wrote it.
type completeData struct {
	Model            string            `json:"llm_model"`
	PromptTokens     int               `json:"prompt_tokens"`
	CompletionTokens int               `json:"completion_tokens"`
	TotalTokens      int               `json:"total_tokens"`
	ResponseTimeMS   int64             `json:"response_time_ms"`
	Cost             float64           `json:"cost_estimate"`
	Sources          []json.RawMessage `json:"sources"`
}

func TestChat_AskReturnsExactlyTheMetadataThePlatformSent(t *testing.T) {
	const question = "How much does the premium plan cost per month?"
	const delay = 25 * time.Millisecond
	for _, tt := range replyShapes {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetShape(tt.shape)
			// A pause before the reply makes response_time_ms non-zero.
			srv.SetResponder(func(_ context.Context, req platformtest.Request) platformtest.Reply {
				return platformtest.Reply{Chunks: platformtest.SplitChunks(platformtest.ReplyText(req.Text), platformtest.DefaultChunks), Delay: delay}
			})
			c := newClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			// The raw-event hook sees the frame's data as the platform wrote it.
			sent := make(chan completeData, 1)
			c.OnEvent(func(ev normalize.Event) {
				if ev.Type != protocol.TypeResponseComplete && ev.Type != protocol.TypeChatResponse {
					return
				}
				var d completeData
				if assert.NoError(t, json.Unmarshal(ev.Data, &d)) {
					sent <- d
				}
			})
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			r, err := chat.Ask(ctx, question)
			require.NoError(t, err)
			var d completeData
			select {
			case d = <-sent:
			case <-ctx.Done():
				t.Fatal("the complete frame was not seen by the raw-event hook")
			}

			// What platformtest documents it sends (platformtest/reply.go).
			prompt := len(strings.Fields(question))
			completion := len(strings.Fields(platformtest.ReplyText(question)))
			require.Equal(t, platformtest.Model, d.Model)
			require.Equal(t, prompt, d.PromptTokens)
			require.Equal(t, completion, d.CompletionTokens)
			require.Equal(t, prompt+completion, d.TotalTokens)
			require.GreaterOrEqual(t, d.ResponseTimeMS, delay.Milliseconds())
			require.Equal(t, float64(prompt+completion)*platformtest.CostPerToken, d.Cost)
			require.NotNil(t, d.Sources)
			require.Empty(t, d.Sources)

			// What the client returns, field by field.
			assert.Equal(t, d.Model, r.Model, "model")
			assert.Equal(t, d.PromptTokens, r.PromptTokens, "prompt tokens")
			assert.Equal(t, d.CompletionTokens, r.CompletionTokens, "completion tokens")
			assert.Equal(t, d.TotalTokens, r.TotalTokens, "total tokens")
			assert.Equal(t, time.Duration(d.ResponseTimeMS)*time.Millisecond, r.ResponseTime, "response time")
			assert.Equal(t, d.Cost, r.Cost, "cost")
			assert.NotNil(t, r.Sources, "sources: the platform sent an (empty) array")
			assert.Len(t, r.Sources, len(d.Sources), "sources")
			assert.Equal(t, platformtest.ReplyText(question), r.Text)
		})
	}
}

func TestChat_DegradedChatLearnsItsIDFromChatJoinedOrMessageReceivedAndGetsItsReply(t *testing.T) {
	// platformtest always answers join_chat {"create":true} with
	// chat_created (handleJoin), so a chat_joined or message_received that
	// names the chat is injected before the join: while connection_ready is
	// withheld, the client has a socket and no join sent yet.
	const learned = "chat-learned-from-the-platform"
	tests := []struct {
		name      string
		sendFirst bool // the frame names a message sent while degraded
		frame     func(clientMessageID string) map[string]any
	}{
		{"chat_joined", false, func(string) map[string]any {
			return map[string]any{"type": protocol.TypeChatJoined, "data": map[string]any{"chat_id": learned, "success": true}}
		}},
		{"message_received", true, func(cmid string) map[string]any {
			return map[string]any{"type": protocol.TypeMessageReceived, "data": map[string]any{
				"chat_id": learned, "client_message_id": cmid, "message_id": "ack-" + cmid}}
		}},
		{"message_received with camelCase ids at the top level", true, func(cmid string) map[string]any {
			return map[string]any{"type": protocol.TypeMessageReceived, "chatId": learned, "clientMessageId": cmid,
				"messageId": "ack-" + cmid, "data": map[string]any{"status": "received"}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.FailChatCreations(100, 503)
			srv.WithholdReady(true)
			c := newClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{Title: "degraded"})
			require.NoError(t, err)
			require.Empty(t, chat.ID())
			require.True(t, chat.State().Chat.Degraded)
			require.NoError(t, c.WaitForState(ctx, StateConnected))
			require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool { return s.ConnectionCount() == 1 }))

			var m *Message
			cmid := ""
			if tt.sendFirst {
				m, err = chat.Send(ctx, "hello while degraded")
				require.NoError(t, err)
				cmid = m.ID()
			}
			srv.Inject("", tt.frame(cmid))
			handled(t, ctx, srv, chat)
			require.Equal(t, learned, chat.ID(), "the id named by %s", tt.name)
			assert.False(t, chat.State().Chat.Degraded)

			srv.WithholdReady(false)
			require.NoError(t, c.Connect(ctx))
			if m != nil {
				r, err := m.Wait(ctx)
				require.NoError(t, err)
				assert.Equal(t, platformtest.ReplyText("hello while degraded"), r.Text)
				assert.Equal(t, learned, r.ChatID)
			}
			r, err := chat.Ask(ctx, "and after")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("and after"), r.Text)
			assert.Equal(t, learned, r.ChatID)

			joins := srv.FramesOfType(protocol.TypeJoinChat)
			require.NotEmpty(t, joins)
			for _, f := range joins {
				assert.Equal(t, learned, f.Data["chat_id"], "joined the learned chat")
				assert.Nil(t, f.Data["create"], "no join with create once the id is known")
			}
		})
	}
}

func TestChat_ReplyOverMaxReplyBytesFailsItsWaiterAndKeepsTheConnection(t *testing.T) {
	const limit = 64
	tests := []struct {
		name     string
		shape    platformtest.Shape
		size     int
		tooLarge bool
	}{
		{"streamed, one byte over", platformtest.ShapeFlat, limit + 1, true},
		{"streamed, exactly the limit", platformtest.ShapeFlat, limit, false},
		{"one chat_response frame, one byte over", platformtest.ShapeChatResponse, limit + 1, true},
		{"one chat_response frame, exactly the limit", platformtest.ShapeChatResponse, limit, false},
	}
	for _, fc := range forms {
		for _, tt := range tests {
			if fc.server == platformtest.ProtocolTenantApp && tt.shape != platformtest.ShapeFlat {
				continue // the variant has one reply shape: chunks, and a complete frame without text
			}
			t.Run(fc.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				big := strings.Repeat("x", tt.size)
				srv := newServer(t, platformtest.Config{Protocol: fc.server})
				srv.SetShape(tt.shape)
				srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
					if req.Text == "big" {
						// Three chunks, so that the limit is crossed mid-stream.
						n := tt.size / 3
						return platformtest.Reply{Chunks: []string{big[:n], big[n : 2*n], big[2*n:]}}
					}
					return platformtest.DefaultResponder(ctx, req)
				})
				c := newClient(t, srv, func(cfg *Config) {
					cfg.APIKey, cfg.Protocol = testKey, fc.client
					cfg.MaxReplyBytes = limit
				})
				ctx := ctxT(t, 10*time.Second)
				chat, err := c.NewChat(ctx, ChatOptions{})
				require.NoError(t, err)

				r, err := chat.Ask(ctx, "big")
				if tt.tooLarge {
					require.ErrorIs(t, err, ErrReplyTooLarge)
					assert.ErrorIs(t, chat.State().Errors.Processing, ErrReplyTooLarge)
					assert.Equal(t, uint64(1), c.Stats().MessagesFailed)
				} else {
					require.NoError(t, err)
					assert.Equal(t, big, r.Text)
				}

				next, err := chat.Ask(ctx, "small")
				require.NoError(t, err, "the connection still works")
				assert.Equal(t, platformtest.ReplyText("small"), next.Text)
				assert.Equal(t, StateReady, c.State())
				assert.Equal(t, 1, srv.Handshakes(), "no reconnect")
				assert.Zero(t, c.Stats().Reconnects)
			})
		}
	}
}

func TestQueue_DropOldestEvictsTheOldestOfflineMessageAndTheRestAreAnsweredInOrder(t *testing.T) {
	t.Parallel()
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		const size = 3
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, then(form, func(cfg *Config) {
			cfg.clock = clk
			cfg.QueueSize = size
			cfg.QueuePolicy = queue.DropOldest
		}))
		states := recordStates(c)
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		completes := collectCompletes(chat)

		srv.DropAll(1001)
		sc := states.next(t, ctx, StateReconnecting) // the fake clock holds it there
		var msgs []*Message
		for i := 0; i < size+1; i++ {
			m, err := chat.Send(ctx, fmt.Sprint("offline ", i))
			require.NoError(t, err, "DropOldest never refuses a new message")
			msgs = append(msgs, m)
		}
		_, err = msgs[0].Wait(ctx)
		require.ErrorIs(t, err, ErrEvicted, "the oldest message's sender is told")
		st := c.Stats()
		assert.Equal(t, uint64(1), st.QueueEvicted)
		assert.Equal(t, size, st.QueueLength)
		assert.Zero(t, st.QueueRejected)
		for _, v := range chat.State().Messages {
			if v.ClientMessageID == msgs[0].ID() {
				assert.Equal(t, registry.StatusFailed, v.Status)
				assert.ErrorIs(t, v.Err, ErrEvicted)
			}
		}

		clk.Advance(sc.RetryIn)
		var ids []string
		for i, m := range msgs[1:] {
			r, err := m.Wait(ctx)
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText(fmt.Sprint("offline ", i+1)), r.Text)
			ids = append(ids, m.ID())
		}
		assert.Equal(t, ids, completes.until(t, ctx, ids[len(ids)-1]), "answered in order, each once")
		var sent []string
		for _, f := range srv.FramesOfType(protocol.TypeChatMessage) {
			sent = append(sent, f.Data["message"].(string))
		}
		assert.Equal(t, []string{"offline 1", "offline 2", "offline 3"}, sent, "the evicted message is never sent")
		assert.Equal(t, uint64(1), c.Stats().MessagesFailed)
	})
}

// callbackLog records marker events and state changes in the order the
// dispatcher delivers them.
type callbackLog struct {
	mu      sync.Mutex
	entries []string // "event <user>" or "state <state>"
}

func (l *callbackLog) add(s string) {
	l.mu.Lock()
	l.entries = append(l.entries, s)
	l.mu.Unlock()
}

func (l *callbackLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...)
}

func markerFrame(user string) map[string]any {
	return map[string]any{"type": protocol.TypeTypingStart, "data": map[string]any{"user_id": user}}
}

// assertOldMarkersBeforeNewSocket checks the rule on a callback log: the
// markers of the old socket form an in-order prefix of those injected, all
// delivered before the new socket's connected state; the new marker comes
// after the new ready state. It returns how many old markers were delivered.
func assertOldMarkersBeforeNewSocket(t *testing.T, entries []string) int {
	t.Helper()
	connected := 0
	newConnectedAt, newReadyAt, newMarkerAt := -1, -1, -1
	var old, late []string
	for i, e := range entries {
		switch {
		case e == "state "+StateConnected.String():
			connected++
			if connected == 2 {
				newConnectedAt = i
			}
		case e == "state "+StateReady.String() && newConnectedAt >= 0 && newReadyAt < 0:
			newReadyAt = i
		case e == "event marker-new":
			newMarkerAt = i
		case strings.HasPrefix(e, "event marker-old-"):
			if newConnectedAt >= 0 {
				late = append(late, e)
			}
			old = append(old, strings.TrimPrefix(e, "event "))
		}
	}
	require.GreaterOrEqual(t, newConnectedAt, 0, "no second connection: %v", entries)
	assert.Empty(t, late, "frames of the old socket delivered after the new socket was up: %v", entries)
	require.Greater(t, newReadyAt, newConnectedAt)
	require.Greater(t, newMarkerAt, newReadyAt, "the new socket's frame comes after its ready state")
	for i, u := range old {
		assert.Equal(t, fmt.Sprintf("marker-old-%03d", i), u, "old frames delivered in order, none skipped before the loss")
	}
	return len(old)
}

func TestReconnect_FramesOfTheOldSocketAreDeliveredBeforeTheNewSocketIsUpOrNotAtAll(t *testing.T) {
	const n = 200
	t.Run("closed by the server", func(t *testing.T) {
		srv := newServer(t, platformtest.Config{})
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, withFakeClock(clk))
		ctx := ctxT(t, 20*time.Second)
		var log callbackLog
		newMarker := make(chan struct{})
		reconnecting := make(chan StateChange, 8)
		c.OnEvent(func(ev normalize.Event) {
			if ev.Type == protocol.TypeTypingStart && strings.HasPrefix(ev.UserID, "marker-") {
				log.add("event " + ev.UserID)
				if ev.UserID == "marker-new" {
					close(newMarker)
				}
			}
		})
		c.OnStateChange(func(sc StateChange) {
			log.add("state " + sc.Current.String())
			if sc.Current == StateReconnecting {
				reconnecting <- sc
			}
		})
		require.NoError(t, c.Connect(ctx))
		conns := srv.Connections()
		require.Len(t, conns, 1)
		oldConn := conns[0].ConnID

		for i := 0; i < n; i++ {
			srv.Inject("", markerFrame(fmt.Sprintf("marker-old-%03d", i)))
		}
		srv.DropAll(1001)
		var sc StateChange
		select {
		case sc = <-reconnecting:
		case <-ctx.Done():
			t.Fatal("no reconnect")
		}
		clk.Advance(sc.RetryIn)
		require.NoError(t, c.WaitForState(ctx, StateReady))
		// The fake platform cannot write on the old connection any more.
		require.ErrorIs(t, srv.SendRaw(oldConn, websocket.TextMessage, []byte(`{"type":"typing_start","data":{"user_id":"marker-late"}}`)), platformtest.ErrNoConnection)
		srv.Inject("", markerFrame("marker-new"))
		select {
		case <-newMarker:
		case <-ctx.Done():
			t.Fatal("the new socket's frame was not delivered")
		}
		assertOldMarkersBeforeNewSocket(t, log.snapshot())
	})

	t.Run("reset while the reader waits for slow callbacks", func(t *testing.T) {
		srv := newServer(t, platformtest.Config{})
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, func(cfg *Config) {
			cfg.clock = clk
			cfg.DispatchBuffer = 4
		})
		ctx := ctxT(t, 20*time.Second)
		var log callbackLog
		blocked, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		t.Cleanup(unblock) // before the client's Close, which waits for callbacks
		newMarker := make(chan struct{})
		c.OnEvent(func(ev normalize.Event) {
			if ev.Type != protocol.TypeTypingStart || !strings.HasPrefix(ev.UserID, "marker-") {
				return
			}
			log.add("event " + ev.UserID)
			switch ev.UserID {
			case "marker-old-000":
				close(blocked)
				<-release
			case "marker-new":
				close(newMarker)
			}
		})
		c.OnStateChange(func(sc StateChange) { log.add("state " + sc.Current.String()) })
		require.NoError(t, c.Connect(ctx))
		syncCallbacks(t, c)

		for i := 0; i < n; i++ {
			srv.Inject("", markerFrame(fmt.Sprintf("marker-old-%03d", i)))
		}
		select {
		case <-blocked:
		case <-ctx.Done():
			t.Fatal("the first marker was not delivered")
		}
		// The reader fills the dispatcher's buffer and waits; the socket is
		// reset under it and the writer finds out on its next ping.
		srv.DropAllAbrupt()
		clk.Advance(DefaultPingInterval)
		require.NoError(t, c.WaitForState(ctx, StateReconnecting))
		clk.Advance(protocol.NetworkFloor * 2) // past any delay after a network loss
		// The new socket is up while the callbacks are still held; the
		// reader of the old one must be gone by now, or what it still holds
		// is delivered behind the new socket's state changes.
		require.NoError(t, c.WaitForState(ctx, StateConnected))
		unblock()
		require.NoError(t, c.WaitForState(ctx, StateReady))
		srv.Inject("", markerFrame("marker-new"))
		select {
		case <-newMarker:
		case <-ctx.Done():
			t.Fatal("the new socket's frame was not delivered")
		}
		delivered := assertOldMarkersBeforeNewSocket(t, log.snapshot())
		assert.Less(t, delivered, n, "the reader was held: the frames it had not handed over are dropped")
		assert.Positive(t, c.Stats().DispatcherStalls)
	})
}

func TestStats_OneAskCountsTrafficMessagesAndLatencies(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		_, err = chat.Ask(ctx, "count me once")
		require.NoError(t, err)

		st := c.Stats()
		assert.Positive(t, st.FramesIn)
		assert.Positive(t, st.FramesOut)
		assert.Positive(t, st.BytesIn)
		assert.Positive(t, st.BytesOut)
		assert.GreaterOrEqual(t, st.BytesIn, st.FramesIn, "every frame has bytes")
		assert.Equal(t, uint64(1), st.MessagesSent)
		assert.Equal(t, uint64(1), st.MessagesAcknowledged)
		assert.Equal(t, uint64(1), st.MessagesAnswered)
		assert.Zero(t, st.MessagesFailed)
		assert.Equal(t, uint64(1), st.FirstChunkLatency.Count)
		assert.Equal(t, uint64(1), st.ReplyLatency.Count)
		assert.Positive(t, st.FirstChunkLatency.P50)
		assert.GreaterOrEqual(t, st.ReplyLatency.P50, st.FirstChunkLatency.P50, "the reply completes after its first chunk")
	})
}

// span is a closed range of retry delays.
type span struct{ lo, hi time.Duration }

// jittered is the delay before retry n with no clamping: cenkalti/backoff's
// 1 s × 2^(n-1) ± 20 % (its upper end is inclusive of one more nanosecond).
func jittered(n int) span {
	b := time.Second << (n - 1)
	return span{b * 8 / 10, b*12/10 + time.Nanosecond}
}

func TestReconnect_BackoffDoublesFromOneSecondWithJitterWithinThePolicyBounds(t *testing.T) {
	// The clamp's draw is fixed at 0.5, so a clamped delay is exactly
	// F × 1.2 (floor F, U(1.0, 1.4)) or C × 0.8 (ceiling C, U(0.6, 1.0)): a
	// bare max(d, F) or min(d, C) would give F or C. The backoff's own
	// ±20 % jitter stays random.
	at := func(d time.Duration) span { return span{d - time.Microsecond, d + time.Microsecond} }
	tests := []struct {
		name   string
		refuse func(*platformtest.Server, int)
		want   []span // retries 1..5 (SPEC §3.2, protocol.Policy.Clamp)
	}{
		{"close 1000: no floor, no ceiling",
			func(s *platformtest.Server, n int) { s.RefuseHandshakesWithClose(n, protocol.CloseNormal) },
			[]span{jittered(1), jittered(2), jittered(3), jittered(4), jittered(5)}},
		{"HTTP 503: floor 2 s",
			func(s *platformtest.Server, n int) { s.RefuseHandshakes(n, 503) },
			// retry 2: 1.6–2.4 s; under 2 s it becomes 2.4 s.
			[]span{at(2400 * time.Millisecond), {2 * time.Second, 2400 * time.Millisecond}, jittered(3), jittered(4), jittered(5)}},
		{"reset: network floor 3 s",
			func(s *platformtest.Server, n int) { s.RefuseHandshakesWithClose(n, protocol.CloseAbnormal) },
			[]span{at(3600 * time.Millisecond), at(3600 * time.Millisecond), jittered(3), jittered(4), jittered(5)}},
		{"close 1001: ceiling 2 s",
			func(s *platformtest.Server, n int) { s.RefuseHandshakesWithClose(n, protocol.CloseGoingAway) },
			// retry 1: full jitter below the ceiling, C × 0.5; retry 2:
			// 1.6–2.4 s; over 2 s it becomes 1.6 s.
			[]span{at(time.Second), {1600 * time.Millisecond, 2 * time.Second}, at(1600 * time.Millisecond), at(1600 * time.Millisecond), at(1600 * time.Millisecond)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			tt.refuse(srv, 1000)
			clk := clock.NewFake(time.Now())
			c := newClient(t, srv, withSpecDelays(func(cfg *Config) {
				cfg.clock = clk
				cfg.rand = func() float64 { return 0.5 }
			}))
			states := recordStates(c)
			ctx := ctxT(t, 20*time.Second)
			require.NoError(t, c.start())
			for i, want := range tt.want {
				retry := i + 1
				sc := states.nextWait(t, ctx, StateConnecting) // never ready
				assert.Equal(t, retry+1, sc.Attempt)
				assert.GreaterOrEqual(t, sc.RetryIn, want.lo-time.Nanosecond, "retry %d", retry)
				assert.LessOrEqual(t, sc.RetryIn, want.hi, "retry %d", retry)
				clk.Advance(sc.RetryIn)
			}
			sc := states.next(t, ctx, StateFailed)
			assert.ErrorIs(t, sc.Reason, ErrFailed)
			assert.Equal(t, len(tt.want)+1, srv.Handshakes(), "a platform that never answers sees 6 dials")
		})
	}
}
