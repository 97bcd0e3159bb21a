package platformtest_test

import (
	"errors"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// noConns waits until the server has no live connection.
func noConns(t *testing.T, srv *platformtest.Server) {
	t.Helper()
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return s.ConnectionCount() == 0 }))
}

func TestFault_DropAllClosesWithCodeAndReason(t *testing.T) {
	tests := []struct {
		code   int
		reason string
	}{
		{protocol.CloseNormal, "normal closure"},
		{protocol.CloseGoingAway, "server restarting"},
		{protocol.ClosePolicyViolation, "policy violation"},
		{protocol.CloseInternalError, "internal server error"},
		{protocol.CloseServiceRestart, "service restart: platform initializing"},
		{protocol.CloseRateLimited, "rate limit exceeded"},
		{protocol.CloseNotFound, "not found"},
		{protocol.CloseBadRequest, "bad request"},
		{protocol.CloseUnauthorized, "unauthorized"},
		{protocol.CloseForbidden, "forbidden: tenant not allowed"},
		{protocol.CloseTimeout, "timeout"},
		{4999, "connection dropped"},
	}
	srv := newServer(t, platformtest.Config{})
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			a := connect(t, srv, "a")
			b := connect(t, srv, "a")
			srv.DropAll(tt.code)
			for _, c := range []*wsClient{a, b} {
				err := c.readErr()
				var ce *websocket.CloseError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, tt.code, ce.Code)
				assert.Equal(t, tt.reason, ce.Text)
			}
			noConns(t, srv)
		})
	}
	connect(t, srv, "a") // still accepting
}

func TestFault_DropAllAbruptResetsConnections(t *testing.T) {
	for _, tt := range []struct {
		name string
		drop func(*platformtest.Server)
	}{
		{"DropAllAbrupt", (*platformtest.Server).DropAllAbrupt},
		{"DropAll 1006", func(s *platformtest.Server) { s.DropAll(protocol.CloseAbnormal) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			c := connect(t, srv, "a")
			c.join("c")
			tt.drop(srv)
			err := c.readErr()
			var ce *websocket.CloseError
			assert.False(t, errors.As(err, &ce), "no close frame: %v", err)
			assert.ErrorIs(t, err, syscall.ECONNRESET)
			noConns(t, srv)
		})
	}
}

func TestFault_RefuseHandshakesWithStatus(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakes(2, http.StatusServiceUnavailable)
	q := url.Values{"tenant_id": {"a"}}
	for range 2 {
		_, resp, err := dialRaw(t, srv, q, nil)
		require.Error(t, err)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		assert.Empty(t, resp.Header.Get(protocol.HeaderRetryAfter))
	}
	connect(t, srv, "a")
	assert.Equal(t, 3, srv.Handshakes())
	var statuses []int
	for _, r := range srv.HandshakeRequests() {
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []int{503, 503, 101}, statuses)
	times := srv.HandshakeTimes()
	require.Len(t, times, 3)
	assert.False(t, times[2].Before(times[0]))

	srv.RefuseHandshakes(1, http.StatusServiceUnavailable)
	srv.RefuseHandshakes(0, http.StatusServiceUnavailable) // disarms
	connect(t, srv, "a")
}

func TestFault_RefuseHandshakes429CarriesRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		header     string
		body       any
	}{
		{"whole seconds", 2 * time.Second, "2", 2.0},
		{"fraction", 250 * time.Millisecond, "0.25", 0.25},
		{"none", 0, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetRetryAfter(tt.retryAfter)
			srv.RefuseHandshakes(1, http.StatusTooManyRequests)
			status, hdr, body := call(t, http.MethodGet, srv.URL()+protocol.PathWebSocket+"?tenant_id=a", nil, "")
			require.Equal(t, http.StatusTooManyRequests, status)
			assert.Equal(t, tt.header, hdr.Get(protocol.HeaderRetryAfter))
			m := decode(t, body)
			assert.Equal(t, tt.body, m["retry_after"])
			assert.Equal(t, "rate_limit_exceeded", m["error_code"])
		})
	}
}

func TestFault_RefuseHandshakesWithClose(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakesWithClose(1, protocol.CloseServiceRestart)
	// A refused handshake (bad tenant) does not consume the fault.
	_, _, err := dialRaw(t, srv, url.Values{}, nil)
	require.Error(t, err)

	c := dial(t, srv, "a")
	err = c.readErr()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce, "closed before any frame")
	assert.Equal(t, protocol.CloseServiceRestart, ce.Code)

	srv.RefuseHandshakesWithClose(1, protocol.CloseAbnormal)
	c = dial(t, srv, "a")
	assert.ErrorIs(t, c.readErr(), syscall.ECONNRESET)

	connect(t, srv, "a")
	assert.Equal(t, 4, srv.Handshakes())
}

func TestFault_FailChatCreations(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.FailChatCreations(1, http.StatusInternalServerError)
	status, hdr, body := call(t, http.MethodPost, srv.URL()+protocol.PathChats, tenantHdr("a"), `{}`)
	require.Equal(t, http.StatusInternalServerError, status)
	e := protocol.ParseAPIError(status, hdr.Get(protocol.HeaderRetryAfter), body, time.Now())
	assert.Equal(t, "chat_creation_failed", e.Code)
	assert.ErrorIs(t, e, protocol.ErrServer)
	assert.Empty(t, srv.Chats("a"))
	createChat(t, srv, "a")
}

func TestFault_RateLimitAnswersChatMessagesWithRateLimitExceeded(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetRetryAfter(3 * time.Second)
	srv.RateLimit(1)
	c := connect(t, srv, "a")
	c.join("c")
	c.say("c", "m1", "hi")
	f := c.next()
	require.Equal(t, protocol.TypeRateLimitExceeded, f.Type)
	assert.Equal(t, 3.0, f.Data["retry_after"])
	assert.Equal(t, "m1", f.str("client_message_id"))
	assert.Equal(t, "c", f.str("chat_id"))
	c.quiet()
	assert.Empty(t, srv.Messages("c"), "a rate-limited message is not stored")

	c.say("c", "m2", "hi")
	assert.Equal(t, protocol.TypeMessageReceived, c.next().Type)
	c.until(protocol.TypeResponseComplete)

	srv.SetRetryAfter(0)
	srv.RateLimit(1)
	c.say("c", "m3", "hi")
	f = c.next()
	require.Equal(t, protocol.TypeRateLimitExceeded, f.Type)
	assert.NotContains(t, f.Data, "retry_after")
}

func TestFault_RateLimitREST(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetRetryAfter(3 * time.Second)
	srv.RateLimitREST(2)
	for _, path := range []string{protocol.PathHealthz, protocol.PathChatConfig} {
		status, hdr, body := call(t, http.MethodGet, srv.URL()+path, tenantHdr("a"), "")
		require.Equal(t, http.StatusTooManyRequests, status, path)
		e := protocol.ParseAPIError(status, hdr.Get(protocol.HeaderRetryAfter), body, time.Now())
		assert.Equal(t, 3*time.Second, e.RetryAfter)
		assert.Equal(t, "rate_limit_exceeded", e.Code)
	}
	status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathChatConfig, tenantHdr("a"), "")
	assert.Equal(t, http.StatusOK, status)
	// Handshakes do not consume it.
	srv.RateLimitREST(1)
	connect(t, srv, "a")
	status, _, _ = call(t, http.MethodGet, srv.URL()+protocol.PathHealth, nil, "")
	assert.Equal(t, http.StatusTooManyRequests, status)
}

func TestFault_PingSendsServerPings(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	a := connect(t, srv, "a")
	b := connect(t, srv, "b")
	srv.Ping()
	for _, c := range []*wsClient{a, b} {
		f := c.next()
		require.Equal(t, protocol.TypePing, f.Type)
		ts, ok := f.Data["ts"].(float64)
		require.True(t, ok)
		c.send(protocol.TypePong, map[string]any{"ts": ts})
	}
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
		return len(s.FramesOfType(protocol.TypePong)) == 2
	}))
}

func TestFault_StallStopsReadingAndWriting(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	srv.Stall(true)
	c.send(protocol.TypePing, map[string]any{"ts": 1})
	require.NoError(t, c.ws.WriteControl(websocket.PingMessage, []byte("x"), time.Now().Add(time.Second)))
	pongs := make(chan string, 1)
	c.ws.SetPongHandler(func(s string) error { pongs <- s; return nil })

	// Nothing comes back while stalled: the read times out.
	_ = c.ws.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	_, _, err := c.ws.ReadMessage()
	var ne interface{ Timeout() bool }
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	assert.Empty(t, srv.FramesOfType(protocol.TypePing), "the frame is not read while stalled")
	assert.Empty(t, pongs, "a WebSocket-level ping is not answered while stalled")

	// A new connection during the stall gets nothing either, but counts.
	ws2, _, err := dialRaw(t, srv, url.Values{"tenant_id": {"a"}}, nil)
	require.NoError(t, err)
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return s.ConnectionCount() == 2 }))

	srv.Stall(false)
	c2 := &wsClient{t: t, ws: ws2}
	c2.until(protocol.TypeConnectionReady)
	// The first connection failed its read (gorilla connections do not
	// survive a timeout), but the server answered once resumed.
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
		return len(s.FramesOfType(protocol.TypePing)) == 1
	}))

	srv.Stall(true)
	srv.DropAll(protocol.CloseGoingAway)
	assert.Equal(t, protocol.CloseGoingAway, closeCode(c2.readErr()), "DropAll works while stalled")
	noConns(t, srv)
	srv.Stall(false)
}

func TestFault_DropAfterChatMessageDropsBeforeProcessing(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	c.join("c")
	srv.DropAfterChatMessage(1)
	c.say("c", "m1", "hi")
	err := c.readErr()
	assert.Equal(t, protocol.CloseAbnormal, closeCode(err), "no close frame: %v", err)
	noConns(t, srv)
	assert.Len(t, srv.FramesOfType(protocol.TypeChatMessage), 1, "the frame was received")
	assert.Empty(t, srv.Messages("c"), "and not processed")

	c = connect(t, srv, "a")
	c.join("c")
	c.say("c", "m1", "hi")
	assert.Equal(t, "Echo: hi", c.until(protocol.TypeResponseComplete).str("content"))
}

func TestFault_DropAfterReceivedStillAnswersIntoHistory(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	sender := connect(t, srv, "a")
	peer := connect(t, srv, "a")
	sender.join("c")
	peer.join("c")
	srv.DropAfterReceived(1)
	sender.say("c", "m1", "hi")
	recv := sender.next()
	require.Equal(t, protocol.TypeMessageReceived, recv.Type)
	assert.Equal(t, "m1", recv.str("client_message_id"))
	err := sender.readErr()
	assert.Equal(t, protocol.CloseAbnormal, closeCode(err), "no close frame: %v", err)

	assert.Equal(t, "Echo: hi", peer.until(protocol.TypeResponseComplete).str("content"), "other joined sockets get the reply")
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return len(s.Messages("c")) == 2 }))
	hist := srv.Messages("c")
	assert.Equal(t, recv.str("message_id"), hist[0].ID)
	assert.Equal(t, "Echo: hi", hist[1].Content)
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return s.ConnectionCount() == 1 }))
}

func TestFault_DropAfterReceivedWithNobodyJoinedStoresReply(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	c.join("c")
	srv.DropAfterReceived(1)
	c.say("c", "m1", "hi")
	assert.Equal(t, protocol.TypeMessageReceived, c.next().Type)
	c.readErr()
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return len(s.Messages("c")) == 2 }))
	noConns(t, srv)
}

func TestFault_InjectReachesEveryConnection(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	a := connect(t, srv, "a")
	b := connect(t, srv, "other-tenant")
	a.join("mine")
	frameIn := map[string]any{"type": "response_chunk", "data": map[string]any{"content": "x", "message_id": "m"}}
	srv.Inject("not-mine", frameIn)
	for _, c := range []*wsClient{a, b} {
		f := c.next()
		assert.Equal(t, "response_chunk", f.Type)
		assert.Equal(t, "not-mine", f.str("chat_id"))
		assert.Equal(t, "x", f.str("content"))
		assert.NotContains(t, f.Top, "timestamp", "nothing else is added")
	}
	assert.NotContains(t, frameIn["data"], "chat_id", "the caller's map is not modified")

	srv.Inject("ignored", map[string]any{"type": "chat_joined", "chatId": "own"})
	f := a.next()
	assert.Equal(t, "own", f.Top["chatId"])
	assert.Nil(t, f.Data, "a frame naming a chat is sent as given")

	assert.Panics(t, func() { srv.Inject("", map[string]any{"type": "x", "data": func() {}}) })
}

func TestFault_SendRawWritesArbitraryBytes(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	id := srv.Connections()[0].ConnID
	require.NoError(t, srv.SendRaw(id, websocket.BinaryMessage, []byte{0, 1, 2}))
	require.NoError(t, srv.SendRaw(id, websocket.TextMessage, []byte("{broken")))
	_ = c.ws.SetReadDeadline(time.Now().Add(testTimeout))
	mt, b, err := c.ws.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, websocket.BinaryMessage, mt)
	assert.Equal(t, []byte{0, 1, 2}, b)
	_, b, err = c.ws.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, "{broken", string(b))

	assert.ErrorIs(t, srv.SendRaw("conn-999", websocket.TextMessage, nil), platformtest.ErrNoConnection)
	assert.Error(t, srv.SendRaw(id, websocket.CloseMessage, nil))
}

func TestFault_DuplicateSendsEveryFrameTwice(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetDuplicate(true)
	c := dial(t, srv, "a")
	var got []string
	for range 10 {
		got = append(got, c.next().Type)
	}
	assert.Equal(t, []string{
		protocol.TypeConnectionEstablished, protocol.TypeConnectionEstablished,
		protocol.TypeInitializationProgress, protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress, protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress, protocol.TypeInitializationProgress,
		protocol.TypeConnectionReady, protocol.TypeConnectionReady,
	}, got)
	c.send(protocol.TypeJoinChat, map[string]any{"chat_id": "c"})
	c.say("c", "m", "hi")
	var frames []frame
	for len(frames) < 2 || frames[len(frames)-1].Type != protocol.TypeResponseComplete || frames[len(frames)-2].Type != protocol.TypeResponseComplete {
		frames = append(frames, c.next())
	}
	require.Len(t, frames, 2*7, "chat_joined, message_received, processing, start, 2 chunks, complete")
	for i := 0; i < len(frames); i += 2 {
		assert.Equal(t, frames[i].Raw, frames[i+1].Raw, "frame %d is sent twice, identical", i)
	}

	srv.SetDuplicate(false)
	c.quiet()
}

func TestFault_WithholdReady(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.WithholdReady(true)
	c := dial(t, srv, "a")
	c.expect(protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress, protocol.TypeInitializationProgress)
	c.quiet()
	assert.False(t, srv.Connections()[0].Ready)

	// A client that gives up and closes leaves nothing behind.
	quitter := dial(t, srv, "a")
	quitter.expect(protocol.TypeConnectionEstablished)
	require.NoError(t, quitter.ws.Close())

	srv.WithholdReady(false)
	assert.Equal(t, protocol.TypeConnectionReady, c.next().Type)
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
		conns := s.Connections()
		return len(conns) == 1 && conns[0].Ready
	}))
}

func TestFault_RefuseHandshakesBodyNamesTheStatus(t *testing.T) {
	tests := []struct {
		status int
		code   string
	}{
		{http.StatusBadRequest, "bad_request"},
		{http.StatusUnauthorized, "invalid_api_key"},
		{http.StatusForbidden, "forbidden"},
		{http.StatusNotFound, "not_found"},
		{http.StatusTooManyRequests, "rate_limit_exceeded"},
		{http.StatusInternalServerError, "internal_error"},
		{http.StatusBadGateway, "internal_error"},
	}
	srv := newServer(t, platformtest.Config{})
	srv.SetRetryAfter(time.Second)
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			srv.RefuseHandshakes(1, tt.status)
			status, hdr, body := call(t, http.MethodGet, srv.URL()+protocol.PathWebSocket+"?tenant_id=a", nil, "")
			require.Equal(t, tt.status, status)
			e := protocol.ParseAPIError(status, hdr.Get(protocol.HeaderRetryAfter), body, time.Now())
			assert.Equal(t, tt.code, e.Code)
			if tt.status != http.StatusTooManyRequests {
				assert.Empty(t, hdr.Get(protocol.HeaderRetryAfter), "only a 429 carries Retry-After")
			}
		})
	}
}

func TestFault_DropIgnoresFramesReadAfterTheDrop(t *testing.T) {
	tests := []struct {
		name string
		arm  func(*platformtest.Server)
		// stored is the history length to wait for before closing the server.
		stored int
	}{
		{"DropAfterChatMessage", func(s *platformtest.Server) { s.DropAfterChatMessage(1) }, 0},
		{"DropAfterReceived", func(s *platformtest.Server) { s.DropAfterReceived(1) }, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			c := connect(t, srv, "a")
			c.join("c")
			tt.arm(srv)
			// The second message is on its way when the server drops the
			// connection: a dropped connection processes nothing more.
			c.say("c", "m1", "first")
			c.say("c", "m2", "second")
			assert.Equal(t, protocol.CloseAbnormal, closeCode(c.readErr()))
			require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return len(s.Messages("c")) >= tt.stored }))
			srv.Close() // waits for the connection's reader
			for _, m := range srv.Messages("c") {
				assert.NotEqual(t, "second", m.Content, "a frame read after the drop is not processed")
			}
			for _, f := range srv.FramesOfType(protocol.TypeChatMessage) {
				assert.NotEqual(t, "m2", f.Data["client_message_id"], "nor recorded")
			}
		})
	}
}
