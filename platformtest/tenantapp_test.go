package platformtest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// tenantApp is the configuration of the tenant-app form used below.
var tenantApp = platformtest.Config{Protocol: platformtest.ProtocolTenantApp}

func TestTenantApp_SessionExchangesAnAPIKeyForAToken(t *testing.T) {
	cfg := tenantApp
	cfg.TokenTTL = 90 * time.Second
	srv := newServer(t, cfg)
	before := time.Now()
	status, body := askSession(t, srv, "ApiKey any-key", `{"tenant_id":"acme"}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.ElementsMatch(t, []string{"websocket_token", "session_id", "expires_at"}, keys(body))
	exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
	require.NoError(t, err, "expires_at is RFC 3339")
	assert.WithinRange(t, exp, before.Add(90*time.Second).Add(-time.Second), time.Now().Add(90*time.Second))

	sessions := srv.Sessions()
	require.Len(t, sessions, 1)
	assert.Equal(t, body["websocket_token"], sessions[0].Token)
	assert.Equal(t, body["session_id"], sessions[0].SessionID)
	assert.Equal(t, "acme", sessions[0].TenantID)
	assert.True(t, sessions[0].ExpiresAt.Equal(exp))
	assert.NotEqual(t, sessions[0].Token, issueToken(t, srv, "k", "acme"), "each session its own token")
}

func TestTenantApp_SessionRefusesAMissingOrWrongKey(t *testing.T) {
	cfg := tenantApp
	cfg.APIKeys = []string{"k1"}
	cfg.APIKey = "k2"
	cfg.Tenants = []string{"acme"}
	srv := newServer(t, cfg)
	for _, auth := range []string{"", "ApiKey", "ApiKey ", "ApiKey wrong", "Bearer k1", "k1"} {
		status, body := askSession(t, srv, auth, `{"tenant_id":"acme"}`)
		assert.Equal(t, http.StatusUnauthorized, status, "Authorization %q", auth)
		assert.Equal(t, platformtest.CodeInvalidAPIKey, body["code"], "Authorization %q", auth)
		assert.NotEmpty(t, body["detail"])
	}
	for _, key := range []string{"k1", "k2"} {
		issueToken(t, srv, key, "acme")
	}
	status, _ := askSession(t, srv, "apikey k1", `{"tenant_id":"acme"}`)
	assert.Equal(t, http.StatusOK, status, "the scheme is case-insensitive")
	status, _ = askSession(t, srv, "ApiKey k1", `{}`)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "tenant_id is required")
	status, body := askSession(t, srv, "ApiKey k1", `{"tenant_id":"other"}`)
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, platformtest.CodeTenantNotFound, body["code"])
	assert.Len(t, srv.Sessions(), 3)
}

func TestTenantApp_RESTServesHealthzAndSessionOnly(t *testing.T) {
	srv := newServer(t, tenantApp)
	status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
	assert.Equal(t, http.StatusOK, status)
	hdr := tenantHdr("acme")
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, protocol.PathChats},
		{http.MethodGet, protocol.PathHealth},
		{http.MethodGet, protocol.PathChatConfig},
		{http.MethodGet, protocol.PathChatMessages("c1")},
		{http.MethodPost, protocol.PathChatMessages("c1")},
		{http.MethodGet, platformtest.PathSession},
	} {
		status, _, body := call(t, r.method, srv.URL()+r.path, hdr, `{"content":"hi"}`)
		assert.Equal(t, http.StatusNotFound, status, "%s %s: %s", r.method, r.path, body)
	}

	rest := newServer(t, platformtest.Config{})
	st, _ := askSession(t, rest, "ApiKey k", `{"tenant_id":"acme"}`)
	assert.Equal(t, http.StatusNotFound, st, "the REST form has no session endpoint")
}

func TestTenantApp_HandshakeWithTokenSelectsBearerAndSendsNothing(t *testing.T) {
	srv := newServer(t, tenantApp)
	tok := issueToken(t, srv, "k", "acme")
	ws, resp, err := dialProtocols(t, srv, url.Values{"tenant_id": {"acme"}}, "bearer", tok)
	require.NoError(t, err)
	assert.Equal(t, "bearer", ws.Subprotocol())
	assert.Equal(t, "bearer", resp.Header.Get("Sec-WebSocket-Protocol"))
	c := &wsClient{t: t, ws: ws}
	c.quiet() // the first frame is the answer to our ping: nothing was sent on open
	conns := srv.Connections()
	require.Len(t, conns, 1)
	assert.Equal(t, platformtest.ProtocolTenantApp, conns[0].Protocol)
	assert.False(t, conns[0].Ready)
	assert.Equal(t, []string{tok}, srv.HandshakeTokens())

	// Without tenant_id the token's tenant is taken.
	ws, _, err = dialProtocols(t, srv, url.Values{}, "bearer", tok)
	require.NoError(t, err)
	(&wsClient{t: t, ws: ws}).quiet()
	assert.Equal(t, "acme", srv.Connections()[1].TenantID)
}

func TestTenantApp_HandshakeRefusesAMissingUnknownExpiredOrForeignToken(t *testing.T) {
	srv := newServer(t, tenantApp)
	good := issueToken(t, srv, "k", "acme")
	srv.SetTokenTTL(time.Nanosecond)
	stale := issueToken(t, srv, "k", "acme")
	tests := []struct {
		name   string
		tenant string
		protos []string
		code   string
	}{
		{"no subprotocol", "acme", nil, platformtest.CodeTokenMissing},
		{"bearer without token", "acme", []string{"bearer"}, platformtest.CodeTokenMissing},
		{"token without bearer", "acme", []string{good}, platformtest.CodeTokenMissing},
		{"unknown token", "acme", []string{"bearer", "wst_forged"}, platformtest.CodeTokenInvalid},
		{"expired token", "acme", []string{"bearer", stale}, platformtest.CodeTokenExpired},
		{"another tenant's token", "beta", []string{"bearer", good}, platformtest.CodeTokenTenant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := dialProtocols(t, srv, url.Values{"tenant_id": {tt.tenant}}, tt.protos...)
			require.Error(t, err)
			require.NotNil(t, resp)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			status, _, body := call(t, http.MethodGet, wsHTTP(srv, tt.tenant), http.Header{
				"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-WebSocket-Version": {"13"},
				"Sec-WebSocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-WebSocket-Protocol": {strings.Join(tt.protos, ", ")},
			}, "")
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, tt.code, decode(t, body)["code"])
		})
	}
	assert.Zero(t, srv.ConnectionCount())
}

// wsHTTP is the chat endpoint as an http URL, to read a refused handshake's
// body.
func wsHTTP(srv *platformtest.Server, tenant string) string {
	return srv.URL() + protocol.PathWebSocket + "?tenant_id=" + url.QueryEscape(tenant)
}

func TestTenantApp_JoinCreatesOrJoinsTheChatTheClientNamed(t *testing.T) {
	srv := newServer(t, tenantApp)
	c := openIn(t, srv, platformtest.ProtocolTenantApp, "acme")
	id := uuid.NewString()
	c.send(protocol.TypeJoinChat, map[string]any{"tenant_id": "acme", "chat_id": id, "create": true})
	f := c.next()
	require.Equal(t, protocol.TypeChatJoined, f.Type, "%s", f.Raw)
	assert.Equal(t, map[string]any{"chat_id": id}, f.Data)
	chats := srv.Chats("acme")
	require.Len(t, chats, 1)
	assert.Equal(t, id, chats[0].ChatID, "created with the client's id")

	other := openIn(t, srv, platformtest.ProtocolTenantApp, "acme")
	other.send(protocol.TypeJoinChat, map[string]any{"tenant_id": "acme", "chat_id": id, "create": true})
	assert.Equal(t, id, other.until(protocol.TypeChatJoined).str("chat_id"))
	assert.Len(t, srv.Chats("acme"), 1, "an existing chat is joined, not created again")
}

func TestTenantApp_JoinRefusesAChatIDThatIsNotAUUIDv4(t *testing.T) {
	srv := newServer(t, tenantApp)
	c := openIn(t, srv, platformtest.ProtocolTenantApp, "acme")
	for _, id := range []any{"chat-1", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "{" + uuid.NewString() + "}", "", nil} {
		d := map[string]any{"tenant_id": "acme", "create": true}
		if id != nil {
			d["chat_id"] = id
		}
		c.send(protocol.TypeJoinChat, d)
		assert.Equal(t, platformtest.CodeInvalidChatID, c.errorOf(platformtest.ProtocolTenantApp), "chat_id %v", id)
	}
	c.send(protocol.TypeJoinChat, map[string]any{"tenant_id": "beta", "chat_id": uuid.NewString(), "create": true})
	assert.Equal(t, platformtest.CodeTenantMismatch, c.errorOf(platformtest.ProtocolTenantApp))
	assert.Empty(t, srv.Chats("acme"))
	assert.Empty(t, srv.Connections()[0].Joined)
}

func TestTenantApp_ReplyIsChunksThenACompleteWithoutText(t *testing.T) {
	srv := newServer(t, tenantApp)
	c := openIn(t, srv, platformtest.ProtocolTenantApp, "acme")
	id := c.newChatIn(platformtest.ProtocolTenantApp, "acme")
	c.ask(id, "hello there world")
	fs := c.expect(protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseComplete)
	msgID := fs[3].str("message_id")
	require.NotEmpty(t, msgID)
	assert.Equal(t, map[string]any{"message_id": msgID, "chat_id": id}, fs[3].Data, "no text, no other field")
	var text strings.Builder
	for _, f := range fs[:3] {
		assert.ElementsMatch(t, []string{"content", "message_id", "chat_id"}, keys(f.Data), "%s", f.Raw)
		assert.Equal(t, msgID, f.str("message_id"))
		assert.Equal(t, id, f.str("chat_id"))
		text.WriteString(f.str("content"))
	}
	assert.Equal(t, platformtest.ReplyText("hello there world"), text.String())
	c.quiet()
	msgs := srv.Messages(id)
	require.Len(t, msgs, 2)
	assert.Equal(t, msgID, msgs[1].ID)
	assert.Equal(t, text.String(), msgs[1].Content)
}

func TestTenantApp_MessageWithoutChatIDIsAnErrorWithoutIDs(t *testing.T) {
	srv := newServer(t, tenantApp)
	c := openIn(t, srv, platformtest.ProtocolTenantApp, "acme")
	c.newChatIn(platformtest.ProtocolTenantApp, "acme")
	c.ask("", "hi")
	assert.Equal(t, platformtest.CodeInvalidRequest, c.errorOf(platformtest.ProtocolTenantApp))
	c.send("no_such_type", map[string]any{})
	assert.Equal(t, platformtest.CodeUnknownType, c.errorOf(platformtest.ProtocolTenantApp))
	c.quiet()
}

func TestTenantApp_ServerPingIsBareAndExpectsPong(t *testing.T) {
	srv := newServer(t, tenantApp)
	c := openIn(t, srv, platformtest.ProtocolTenantApp, "acme")
	srv.Ping()
	f := c.next()
	assert.JSONEq(t, `{"type":"ping"}`, string(f.Raw))
	require.NoError(t, c.ws.WriteMessage(1, []byte(`{"type":"pong"}`)))
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
		return len(s.FramesOfType(protocol.TypePong)) == 1
	}))
	require.NoError(t, c.ws.WriteMessage(1, []byte(`{"type":"ping"}`)))
	assert.JSONEq(t, `{"type":"pong"}`, string(c.next().Raw), "a client ping gets a bare pong")
}

func TestTenantApp_ExpireTokensRefusesThemAtTheHandshakeAndCanCloseTheirConnections(t *testing.T) {
	srv := newServer(t, tenantApp)
	tok := issueToken(t, srv, "k", "acme")
	kept := dialToken(t, srv, "acme", tok)
	srv.ExpireTokens(0)
	kept.quiet() // a live connection outlives its token
	_, resp, err := dialProtocols(t, srv, url.Values{"tenant_id": {"acme"}}, "bearer", tok)
	require.Error(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.False(t, time.Now().Before(srv.Sessions()[0].ExpiresAt))

	fresh := issueToken(t, srv, "k", "acme")
	c := dialToken(t, srv, "acme", fresh)
	srv.ExpireTokens(protocol.CloseUnauthorized)
	assert.Equal(t, protocol.CloseUnauthorized, closeCode(c.readErr()))
	assert.Equal(t, protocol.CloseUnauthorized, closeCode(kept.readErr()))
	dialToken(t, srv, "acme", issueToken(t, srv, "k", "acme")).quiet()
	assert.Equal(t, []string{tok, tok, fresh, srv.Sessions()[2].Token}, srv.HandshakeTokens())
}

func TestTenantApp_ControlAPIListsSessionsAndHandshakesWithoutTokens(t *testing.T) {
	cfg := tenantApp
	cfg.ControlAPI = true
	srv := newServer(t, cfg)
	tok := issueToken(t, srv, "secret-key", "acme")
	dialToken(t, srv, "acme", tok).quiet()
	for _, path := range []string{"/sessions", "/handshakes", "/requests", "/connections", "/"} {
		status, _, body := call(t, http.MethodGet, srv.URL()+platformtest.ControlPrefix+path, nil, "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
		assert.NotContains(t, string(body), tok, "%s shows no token", path)
		assert.NotContains(t, string(body), "secret-key", "%s shows no key", path)
	}
	_, _, body := call(t, http.MethodGet, srv.URL()+platformtest.ControlPrefix+"/sessions", nil, "")
	sessions := decode(t, body)["sessions"].([]any)
	require.Len(t, sessions, 1)
	s := sessions[0].(map[string]any)
	assert.Equal(t, "acme", s["tenant_id"])
	assert.Equal(t, "[redacted]", s["websocket_token"])
	assert.Equal(t, false, s["expired"])
	_, _, body = call(t, http.MethodGet, srv.URL()+platformtest.ControlPrefix+"/connections", nil, "")
	assert.Equal(t, "tenant-app", decode(t, body)["connections"].([]any)[0].(map[string]any)["protocol"])
	_, _, body = call(t, http.MethodGet, srv.URL()+platformtest.ControlPrefix+"/", nil, "")
	assert.Equal(t, "tenant-app", decode(t, body)["protocol"])
}

func TestParseProtocol_NamesEveryFormAndTheRealtimeAlias(t *testing.T) {
	for _, p := range []platformtest.Protocol{platformtest.ProtocolREST, platformtest.ProtocolWebsite, platformtest.ProtocolTenantApp} {
		got, err := platformtest.ParseProtocol(p.String())
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	for name, want := range map[string]platformtest.Protocol{
		"": platformtest.ProtocolREST, "realtime": platformtest.ProtocolTenantApp, " Tenant-App ": platformtest.ProtocolTenantApp,
	} {
		got, err := platformtest.ParseProtocol(name)
		require.NoError(t, err, name)
		assert.Equal(t, want, got, name)
	}
	_, err := platformtest.ParseProtocol("grpc")
	require.ErrorIs(t, err, platformtest.ErrUnknownName)
	assert.Equal(t, "unknown", platformtest.Protocol(9).String())
}
