package client

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

// handled waits until the client has handled every frame the server sent
// before the call: it injects a typing frame behind them and waits for its
// callback, which runs after the callbacks of every frame read before it.
func handled(t *testing.T, ctx context.Context, srv *platformtest.Server, chat *Chat) {
	t.Helper()
	user := "marker-" + registry.NewClientMessageID()
	got := make(chan struct{})
	var once sync.Once
	unsub := chat.OnTyping(func(e TypingEvent) {
		if e.UserID == user {
			once.Do(func() { close(got) })
		}
	})
	defer unsub()
	srv.Inject(chat.ID(), map[string]any{"type": protocol.TypeTypingStart, "data": map[string]any{"user_id": user}})
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("the client did not handle the injected frames")
	}
}

// withholding answers every message with DefaultResponder except those
// whose text is in withheld, which are acknowledged and never answered.
func withholding(withheld ...string) platformtest.Responder {
	return func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		for _, w := range withheld {
			if req.Text == w {
				return platformtest.Reply{Withhold: true}
			}
		}
		return platformtest.DefaultResponder(ctx, req)
	}
}

// assertWaiting asserts that m has no outcome yet.
func assertWaiting(t *testing.T, ctx context.Context, m *Message, msg string) {
	t.Helper()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := m.Wait(short)
	require.ErrorIs(t, err, context.DeadlineExceeded, msg)
}

func TestCorrelation_ReplyNamingAnAnsweredMessageIsADuplicateAndAnswersNoOther(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		if fc.server == platformtest.ProtocolTenantApp {
			t.Skip("the tenant-app variant's replies name no message: this is about replies that do")
		}
		srv.SetResponder(withholding("withheld"))
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		first, err := chat.Ask(ctx, "first")
		require.NoError(t, err)
		syncCallbacks(t, c) // the first reply's callbacks may still be queued
		completes := collectCompletes(chat)
		processing := make(chan string, 4)
		chat.OnProcessing(func(e ProcessingEvent) { processing <- e.ClientMessageID })
		m2, err := chat.Send(ctx, "withheld")
		require.NoError(t, err)
		waitStatus(t, ctx, chat, m2.ID(), registry.StatusDelivered)
		// The platform's last frame about m2 is processing: the counter is read
		// once it has been handled.
		for id := ""; id != m2.ID(); {
			select {
			case id = <-processing:
			case <-ctx.Done():
				t.Fatal("no processing event for the second message")
			}
		}
		before := c.Stats().DuplicatesDropped

		for _, typ := range []string{protocol.TypeMessageReceived, protocol.TypeResponseComplete, protocol.TypeResponseChunk} {
			srv.Inject(chat.ID(), map[string]any{"type": typ, "data": map[string]any{
				"message_id":        "replayed-" + typ,
				"client_message_id": first.ClientMessageID,
				"content":           "a second answer to the first message",
			}})
		}
		handled(t, ctx, srv, chat)

		assertWaiting(t, ctx, m2, "a reply naming the first message answered the second")
		assert.Equal(t, before+3, c.Stats().DuplicatesDropped, "each event about the answered message counted as a duplicate")
		select {
		case id := <-completes.ch:
			t.Fatalf("a complete callback ran for %s", id)
		default:
		}
		for _, v := range chat.State().Messages {
			if v.ClientMessageID == m2.ID() {
				assert.NotEqual(t, "replayed-"+protocol.TypeMessageReceived, v.ServerID, "the replayed acknowledgement was given to the second message")
			}
		}
	})
}

func TestCorrelation_LateReplyByMappedServerIDAnswersOnlyTheTimedOutMessage(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		if fc.server == platformtest.ProtocolTenantApp {
			t.Skip("the tenant-app variant's replies name no message: this is about replies that do")
		}
		srv.SetResponder(withholding("slow", "next"))
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, then(form, withFakeClock(clk)))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		late := make(chan Reply, 4)
		chat.OnComplete(func(e CompleteEvent) { late <- e.Reply })
		processing := make(chan string, 4)
		chat.OnProcessing(func(e ProcessingEvent) { processing <- e.ClientMessageID })

		m1, err := chat.Send(ctx, "slow")
		require.NoError(t, err)
		waitStatus(t, ctx, chat, m1.ID(), registry.StatusDelivered)
		serverID := srv.Messages(chat.ID())[0].ID
		clk.Advance(DefaultResponseTimeout + time.Second)
		_, err = m1.Wait(ctx)
		require.ErrorIs(t, err, ErrResponseTimeout)

		m2, err := chat.Send(ctx, "next")
		require.NoError(t, err)
		waitStatus(t, ctx, chat, m2.ID(), registry.StatusDelivered)
		// The platform's last frame about m2 is processing: the counter is read
		// once it has been handled.
		for id := ""; id != m2.ID(); {
			select {
			case id = <-processing:
			case <-ctx.Done():
				t.Fatal("no processing event for the second message")
			}
		}
		before := c.Stats().DuplicatesDropped

		// The late reply names no client_message_id, only the server id that
		// message_received gave the first message.
		srv.Inject(chat.ID(), map[string]any{"type": protocol.TypeResponseComplete, "data": map[string]any{
			"message_id": serverID, "content": "late answer"}})
		handled(t, ctx, srv, chat)
		select {
		case r := <-late:
			assert.True(t, r.Late)
			assert.Equal(t, m1.ID(), r.ClientMessageID)
			assert.Equal(t, "late answer", r.Text)
		default:
			t.Fatal("the late reply was not delivered")
		}
		assertWaiting(t, ctx, m2, "the late reply answered the next message")

		// A second reply naming the same server id is a duplicate.
		srv.Inject(chat.ID(), map[string]any{"type": protocol.TypeChatResponse, "data": map[string]any{
			"message_id": serverID, "content": "late answer again"}})
		handled(t, ctx, srv, chat)
		assertWaiting(t, ctx, m2, "a second late reply answered the next message")
		assert.Empty(t, late, "a second late reply was delivered")
		assert.Equal(t, before+1, c.Stats().DuplicatesDropped)
	})
}

func TestResend_MessagePutBackByTheWriterIsNotQueuedAgainOnReconnect(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		if fc.server == platformtest.ProtocolTenantApp {
			t.Skip("the tenant-app variant never sends a written message again (TestUnnamedReplies_*)")
		}
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond }))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		completes := collectCompletes(chat)

		// The first connection drops right after the message is written; the
		// next one is held before ready.
		srv.WithholdReady(true)
		srv.DropAfterChatMessage(1)
		m, err := chat.Send(ctx, "caught by two drops")
		require.NoError(t, err)
		waitStatus(t, ctx, chat, m.ID(), registry.StatusSent)
		require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
			conns := s.Connections()
			return s.Handshakes() >= 2 && len(conns) == 1 && !conns[0].Ready
		}))

		// A connection that became ready took the re-send out of the queue and
		// handed it to its writer, then dropped before the writer wrote it: the
		// writer put it back. This is what those steps leave in the queue.
		c.q.PutBack(c.resends(chat))
		srv.WithholdReady(false)

		r, err := m.Wait(ctx)
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("caught by two drops"), r.Text)
		next, err := chat.Ask(ctx, "next")
		require.NoError(t, err)
		assert.Equal(t, []string{m.ID(), next.ClientMessageID}, completes.until(t, ctx, next.ClientMessageID), "one outcome each")

		perConn := map[string]int{}
		for _, f := range srv.FramesOfType(protocol.TypeChatMessage) {
			if f.Data["client_message_id"] == m.ID() {
				perConn[f.ConnID]++
			}
		}
		require.Len(t, perConn, 2, "written on the first connection and re-sent on the next")
		for conn, n := range perConn {
			assert.Equal(t, 1, n, "written %d times on %s", n, conn)
		}
	})
}

func TestChat_TimedOutMessageIsForgottenAfterTheLateReplyWindow(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		if fc.server == platformtest.ProtocolTenantApp {
			t.Skip("the tenant-app variant's replies name no message: this is about replies that do")
		}
		srv.SetResponder(withholding("never answered"))
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, then(form, withFakeClock(clk)))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.NewChat(ctx, ChatOptions{})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		lates := make(chan Reply, 1)
		chat.OnComplete(func(e CompleteEvent) {
			if e.Reply.Late {
				lates <- e.Reply
			}
		})
		processing := make(chan struct{})
		var once sync.Once
		chat.OnProcessing(func(ProcessingEvent) { once.Do(func() { close(processing) }) })
		m, err := chat.Send(ctx, "never answered")
		require.NoError(t, err)
		waitStatus(t, ctx, chat, m.ID(), registry.StatusDelivered)
		select {
		case <-processing: // the platform's last frame about the message
		case <-ctx.Done():
			t.Fatal("no processing event")
		}
		clk.Advance(DefaultResponseTimeout + time.Second)
		_, err = m.Wait(ctx)
		require.ErrorIs(t, err, ErrResponseTimeout)

		c.tickLedger(clk.Now())
		c.lmu.Lock()
		_, kept := c.ledger.Get(m.ID())
		c.lmu.Unlock()
		require.True(t, kept, "kept for a late reply within the window")

		clk.Advance(lateReplyWindow)
		c.tickLedger(clk.Now())
		c.lmu.Lock()
		_, kept = c.ledger.Get(m.ID())
		held := c.ledger.Len()
		c.lmu.Unlock()
		assert.False(t, kept, "forgotten once the window has passed")
		assert.Zero(t, held)

		before := c.Stats().DuplicatesDropped
		srv.Inject(chat.ID(), map[string]any{"type": protocol.TypeResponseComplete, "data": map[string]any{
			"message_id": "too-late", "client_message_id": m.ID(), "content": "far too late",
		}})
		handled(t, ctx, srv, chat)
		assert.Equal(t, before+1, c.Stats().DuplicatesDropped, "a reply after the window is a duplicate")
		select {
		case r := <-lates:
			t.Fatalf("a reply after the window was delivered as late: %q", r.Text)
		default:
		}
		r, err := chat.Ask(ctx, "still fine")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("still fine"), r.Text)
	})
}

// heldBehindRecovery sends "first", which the platform acknowledges and
// never answers, makes the chat look for its reply in the history as a
// reconnect does for a message acknowledged on the lost connection, then
// sends "second", and checks that second's live reply is held back behind
// first. The platform's responder must withhold "first".
func heldBehindRecovery(t *testing.T, ctx context.Context, srv *platformtest.Server, chat *Chat) (first, second *Message) {
	t.Helper()
	first, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	waitStatus(t, ctx, chat, first.ID(), registry.StatusDelivered)
	// As when the connection that acknowledged it is lost: its reply is
	// sought in the history, where it is not yet.
	c := chat.Client()
	c.lmu.Lock()
	c.ledger.ConnectionLost(c.connSeqNow() + 1000)
	c.lmu.Unlock()

	second, err = chat.Send(ctx, "second")
	require.NoError(t, err)
	waitStatus(t, ctx, chat, second.ID(), registry.StatusDelivered)
	require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
		return len(s.Messages(chat.ID())) == 3 // first, second and the reply to second
	}))
	handled(t, ctx, srv, chat)
	assertWaiting(t, ctx, second, "the live reply to second overtook first, still being recovered")
	return first, second
}

func TestRecovery_ALaterLiveReplyWaitsForTheRecoveredOneBeforeIt(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(withholding("first"))
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	completes := collectCompletes(chat)
	first, second := heldBehindRecovery(t, ctx, srv, chat)

	// The history recovery finds the reply to first.
	items := historyItems([]protocol.HistoryMessage{
		{ID: "u1", Role: protocol.RoleUser, Content: "first"},
		{ID: "a1", Role: protocol.RoleAssistant, Content: "found in the history"},
	})
	c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		return l.Recover(chat.key, items, c.clock.Now(), out)
	})
	assert.Equal(t, []string{first.ID(), second.ID()}, completes.until(t, ctx, second.ID()),
		"replies delivered in send order")
	r, err := first.Wait(ctx)
	require.NoError(t, err)
	assert.True(t, r.Recovered)
	assert.Equal(t, "found in the history", r.Text)
	r, err = second.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("second"), r.Text)
}

func TestRecovery_HeldBackReplyIsReleasedWhenTheEarlierMessageFails(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(withholding("first"))
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	first, second := heldBehindRecovery(t, ctx, srv, chat)

	// first never comes back: it times out, and second's reply, already
	// here, is delivered instead of timing out too.
	clk.Advance(DefaultResponseTimeout + time.Second)
	c.tickLedger(clk.Now())
	_, err = first.Wait(ctx)
	require.ErrorIs(t, err, ErrResponseTimeout)
	r, err := second.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("second"), r.Text)
}
