package platformtest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestServer_HandshakeSendsFramesInOrder(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := dial(t, srv, "acme")
	fs := c.expect(
		protocol.TypeConnectionEstablished,
		protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress,
		protocol.TypeConnectionReady,
	)
	est := fs[0]
	clientID := est.str("client_id")
	assert.NotEmpty(t, clientID, "a client id is assigned when the URL has none")
	assert.Equal(t, "acme", est.str("tenant_id"))
	at, ok := est.Data["connected_at"].(float64)
	require.True(t, ok, "connected_at is a number: %s", est.Raw)
	assert.InDelta(t, float64(time.Now().Unix()), at, 60, "connected_at is in epoch seconds")
	for i, phase := range []string{protocol.PhaseStarting, protocol.PhaseServices, protocol.PhaseComplete} {
		assert.Equal(t, phase, fs[i+1].str("phase"))
		assert.NotEmpty(t, fs[i+1].str("message"))
	}
	ready := fs[4]
	assert.Equal(t, clientID, ready.str("client_id"))
	assert.Contains(t, ready.Data, "ready_duration")
	for _, f := range fs {
		ts, ok := f.Top["timestamp"].(float64)
		require.True(t, ok, "timestamp at the top level: %s", f.Raw)
		assert.Greater(t, ts, 1e12, "timestamp is in epoch milliseconds")
	}

	conns := srv.Connections()
	require.Len(t, conns, 1)
	assert.Equal(t, clientID, conns[0].ClientID)
	assert.Equal(t, "acme", conns[0].TenantID)
	assert.True(t, conns[0].Ready)
	assert.Equal(t, 1, srv.Handshakes())
	assert.Equal(t, http.StatusSwitchingProtocols, srv.HandshakeRequests()[0].Status)
}

func TestServer_HandshakeKeepsGivenClientIDAndDoesNotJoinURLChat(t *testing.T) {
	srv := newServer(t, platformtest.Config{StrictJoin: true})
	c := dial(t, srv, "acme", "client_id", "me-1", "chat_id", "chat-9")
	est := c.next()
	assert.Equal(t, "me-1", est.str("client_id"))
	c.until(protocol.TypeConnectionReady)
	conns := srv.Connections()
	require.Len(t, conns, 1)
	assert.Equal(t, "me-1", conns[0].ClientID)
	assert.Equal(t, "chat-9", conns[0].ChatID)
	assert.Empty(t, conns[0].Joined, "a chat_id in the URL does not join the chat")

	// Without join_chat, a message for the URL's chat is refused (strict
	// joining).
	c.say("chat-9", "m1", "hi")
	f := c.until(protocol.TypeError)
	assert.Equal(t, platformtest.CodeNotJoined, f.str("code"))
}

func TestServer_HandshakeRefusesBadRequests(t *testing.T) {
	tests := []struct {
		name   string
		cfg    platformtest.Config
		query  url.Values
		header http.Header
		want   int
	}{
		{"missing tenant is 400", platformtest.Config{}, url.Values{}, nil, http.StatusBadRequest},
		{"tenant not accepted is 403", platformtest.Config{Tenants: []string{"a"}}, url.Values{"tenant_id": {"b"}}, nil, http.StatusForbidden},
		{"missing API key is 401", platformtest.Config{APIKey: "k"}, url.Values{"tenant_id": {"a"}}, nil, http.StatusUnauthorized},
		{"wrong API key is 401", platformtest.Config{APIKey: "k"}, url.Values{"tenant_id": {"a"}}, http.Header{"X-Api-Key": {"x"}}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.cfg)
			_, resp, err := dialRaw(t, srv, tt.query, tt.header)
			require.Error(t, err)
			require.NotNil(t, resp)
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Equal(t, 1, srv.Handshakes())
			assert.Equal(t, tt.want, srv.HandshakeRequests()[0].Status)
			assert.Zero(t, srv.ConnectionCount())
		})
	}
}

func TestServer_HandshakeAcceptsListedTenantAndAPIKey(t *testing.T) {
	srv := newServer(t, platformtest.Config{Tenants: []string{"a", "b"}, APIKey: "secret"})
	ws, resp, err := dialRaw(t, srv, url.Values{"tenant_id": {"b"}}, http.Header{protocol.HeaderAPIKey: {"secret"}})
	require.NoError(t, err)
	assert.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	c := &wsClient{t: t, ws: ws}
	c.until(protocol.TypeConnectionReady)
	rec := srv.HandshakeRequests()[0]
	assert.Equal(t, "secret", rec.Header.Get(protocol.HeaderAPIKey))
	assert.Equal(t, "b", rec.Query.Get("tenant_id"))
}

func TestServer_HandshakeSelectsBearerSubprotocol(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	ws, _, err := dialRaw(t, srv, url.Values{"tenant_id": {"a"}}, http.Header{"Sec-Websocket-Protocol": {"bearer, tok"}})
	require.NoError(t, err)
	assert.Equal(t, "bearer", ws.Subprotocol())
}

func TestServer_ReadyDelayPostponesConnectionReady(t *testing.T) {
	const delay = 150 * time.Millisecond
	srv := newServer(t, platformtest.Config{ReadyDelay: delay})
	c := dial(t, srv, "a")
	est := c.next()
	c.expect(protocol.TypeInitializationProgress, protocol.TypeInitializationProgress, protocol.TypeInitializationProgress)
	ready := c.next()
	require.Equal(t, protocol.TypeConnectionReady, ready.Type)
	estTS := est.Top["timestamp"].(float64)
	readyTS := ready.Top["timestamp"].(float64)
	assert.GreaterOrEqual(t, readyTS-estTS, float64(delay.Milliseconds()), "connection_ready comes after the ready delay")
	assert.GreaterOrEqual(t, ready.Data["ready_duration"].(float64), delay.Seconds())

	srv.SetReadyDelay(0)
	c2 := dial(t, srv, "a")
	c2.expect(protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress, protocol.TypeInitializationProgress, protocol.TypeConnectionReady)
}

func TestServer_JoinLeaveCreateAndPing(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")

	joined := c.join("chat-1")
	assert.Equal(t, "chat-1", joined.str("chat_id"))
	assert.Equal(t, true, joined.Data["success"])

	c.send(protocol.TypeJoinChat, map[string]any{"create": true})
	created := c.next()
	require.Equal(t, protocol.TypeChatCreated, created.Type)
	newID := created.str("chat_id")
	require.NotEmpty(t, newID)
	assert.Equal(t, true, created.Data["success"])

	conns := srv.Connections()
	require.Len(t, conns, 1)
	assert.Equal(t, []string{"chat-1", newID}, conns[0].Joined)
	chats := srv.Chats("a")
	require.Len(t, chats, 2, "joining an unknown chat creates it")
	assert.Equal(t, "chat-1", chats[0].ChatID)
	assert.Equal(t, newID, chats[1].ChatID)

	c.send(protocol.TypeLeaveChat, map[string]any{"chat_id": "chat-1"})
	left := c.next()
	require.Equal(t, protocol.TypeChatLeft, left.Type)
	assert.Equal(t, "chat-1", left.str("chat_id"))
	assert.Equal(t, []string{newID}, srv.Connections()[0].Joined)

	c.send(protocol.TypePing, map[string]any{"ts": 1234})
	pong := c.next()
	require.Equal(t, protocol.TypePong, pong.Type)
	assert.Equal(t, float64(1234), pong.Data["ts"])

	c.send(protocol.TypePong, map[string]any{"ts": 1})
	c.quiet()
	assert.Len(t, srv.FramesOfType(protocol.TypePong), 1, "a client pong is recorded and not answered")
}

func TestServer_MalformedFramesGetErrorFrames(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		code string
	}{
		{"not JSON", "{nope", platformtest.CodeInvalidJSON},
		{"JSON array", "[1,2]", platformtest.CodeInvalidJSON},
		{"unknown type", `{"type":"dance","data":{}}`, platformtest.CodeUnknownType},
		{"join without id or create", `{"type":"join_chat","data":{}}`, platformtest.CodeInvalidRequest},
		{"leave without id", `{"type":"leave_chat","data":{}}`, platformtest.CodeInvalidRequest},
	}
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			require.NoError(t, c.ws.WriteMessage(1, []byte(tt.raw)))
			f := c.next()
			require.Equal(t, protocol.TypeError, f.Type)
			assert.Equal(t, tt.code, f.str("code"))
		})
	}
	c.t = t
	assert.Len(t, srv.Frames(), len(tests), "malformed frames are recorded too")
}

func TestServer_AcceptsLegacyPayloadKeyAndTopLevelIDsFromClients(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	require.NoError(t, c.ws.WriteMessage(1, []byte(`{"type":"join_chat","payload":{"chatId":"c1"}}`)))
	assert.Equal(t, "c1", c.next().str("chat_id"))
	require.NoError(t, c.ws.WriteMessage(1, []byte(`{"type":"join_chat","chat_id":"c2","data":{}}`)))
	assert.Equal(t, "c2", c.next().str("chat_id"))
	f := srv.FramesOfType(protocol.TypeJoinChat)[0]
	assert.Equal(t, "c1", f.Data["chatId"], "Data holds the legacy payload")
}

func TestServer_TypingIsForwardedToOtherJoinedSockets(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	a := connect(t, srv, "t", "client_id", "A")
	b := connect(t, srv, "t", "client_id", "B")
	a.join("c")
	b.join("c")
	a.send(protocol.TypeTypingStart, map[string]any{"chat_id": "c"})
	f := b.next()
	require.Equal(t, protocol.TypeTypingStart, f.Type)
	assert.Equal(t, "A", f.str("client_id"))
	a.quiet() // the sender gets nothing back
	a.send(protocol.TypeTypingStop, map[string]any{})
	a.quiet() // no chat id: nothing forwarded, nothing answered
}

func TestServer_CloseClosesConnectionsWithGoingAway(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{})
	c := connect(t, srv, "a")
	srv.Close()
	assert.Equal(t, protocol.CloseGoingAway, closeCode(c.readErr()))
	srv.Close() // idempotent
	_, _, err := dialRaw(t, srv, url.Values{"tenant_id": {"a"}}, nil)
	require.Error(t, err, "a closed server accepts nothing")
}

func TestServer_URLs(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"), srv.URL())
	assert.Equal(t, "ws"+strings.TrimPrefix(srv.URL(), "http"), srv.WSURL())
}

func TestNewServerAt_ListensOnTheGivenAddress(t *testing.T) {
	srv, err := platformtest.NewServerAt("127.0.0.1:0", platformtest.Config{})
	require.NoError(t, err)
	defer srv.Close()
	status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
	assert.Equal(t, http.StatusOK, status)

	_, err = platformtest.NewServerAt(strings.TrimPrefix(srv.URL(), "http://"), platformtest.Config{})
	require.Error(t, err, "the address is taken")
}

func TestServer_FailedUpgradeAnswersInThePlatformErrorShape(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	status, hdr, body := call(t, http.MethodGet, srv.URL()+protocol.PathWebSocket+"?tenant_id=a", nil, "")
	require.Equal(t, http.StatusBadRequest, status, "%s", body)
	assert.Equal(t, "application/json", hdr.Get("Content-Type"))
	e := protocol.ParseAPIError(status, "", body, time.Now())
	assert.Equal(t, "websocket_upgrade_failed", e.Code)
	assert.NotEmpty(t, e.Message)
	assert.Equal(t, "13", hdr.Get("Sec-Websocket-Version"))
	assert.Equal(t, http.StatusBadRequest, srv.HandshakeRequests()[0].Status)
	assert.Zero(t, srv.ConnectionCount())
}
