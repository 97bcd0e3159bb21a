package platformtest_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// askSession calls POST /api/auth/session with an Authorization header
// (none when auth is empty) and a body, and returns status and decoded
// body.
func askSession(t *testing.T, srv *platformtest.Server, auth, body string) (int, map[string]any) {
	t.Helper()
	hdr := http.Header{"Content-Type": {"application/json"}}
	if auth != "" {
		hdr.Set("Authorization", auth)
	}
	status, _, b := call(t, http.MethodPost, srv.URL()+platformtest.PathSession, hdr, body)
	return status, decode(t, b)
}

// issueToken obtains a session token for tenant with API key key.
func issueToken(t *testing.T, srv *platformtest.Server, key, tenant string) string {
	t.Helper()
	status, body := askSession(t, srv, "ApiKey "+key, `{"tenant_id":"`+tenant+`"}`)
	require.Equal(t, http.StatusOK, status, "%v", body)
	tok, _ := body["websocket_token"].(string)
	require.NotEmpty(t, tok)
	return tok
}

// dialProtocols dials with a query and the given subprotocols.
func dialProtocols(t *testing.T, srv *platformtest.Server, query url.Values, protos ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout, Subprotocols: protos}
	ws, resp, err := d.DialContext(testCtx(t), wsURL(srv, query), nil)
	if resp != nil && resp.Body != nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	if ws != nil {
		t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// dialToken opens a ProtocolTenantApp connection for tenant with token and
// waits until the server lists it: with no greeting to read, that is what
// tells a test that faults aimed at live connections reach it.
func dialToken(t *testing.T, srv *platformtest.Server, tenant, token string) *wsClient {
	t.Helper()
	clientID := uuid.NewString()
	ws, _, err := dialProtocols(t, srv, url.Values{"tenant_id": {tenant}, "client_id": {clientID}}, "bearer", token)
	require.NoError(t, err)
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
		return slices.ContainsFunc(s.Connections(), func(ci platformtest.ConnInfo) bool { return ci.ClientID == clientID })
	}))
	return &wsClient{t: t, ws: ws}
}

// openIn opens a usable connection for tenant in a realtime form: website
// reads the greeting up to connection_ready; tenant-app gets a token and
// reads nothing.
func openIn(t *testing.T, srv *platformtest.Server, form platformtest.Protocol, tenant string) *wsClient {
	t.Helper()
	if form == platformtest.ProtocolTenantApp {
		return dialToken(t, srv, tenant, issueToken(t, srv, "key", tenant))
	}
	return connect(t, srv, tenant)
}

// sendCreate sends the join_chat that creates a chat in form and returns
// the chat id the client generated ("" in the website form, where the
// server chooses it).
func (c *wsClient) sendCreate(form platformtest.Protocol, tenant string) string {
	c.t.Helper()
	if form == platformtest.ProtocolTenantApp {
		id := uuid.NewString()
		c.send(protocol.TypeJoinChat, map[string]any{"tenant_id": tenant, "chat_id": id, "create": true})
		return id
	}
	c.send(protocol.TypeJoinChat, map[string]any{"channel": "website", "create": true})
	return ""
}

// newChatIn creates a chat over the WebSocket in form and returns its id.
func (c *wsClient) newChatIn(form platformtest.Protocol, tenant string) string {
	c.t.Helper()
	id := c.sendCreate(form, tenant)
	if form == platformtest.ProtocolTenantApp {
		f := c.next()
		require.Equal(c.t, protocol.TypeChatJoined, f.Type, "%s", f.Raw)
		require.Equal(c.t, id, f.str("chat_id"))
		return id
	}
	f := c.until(protocol.TypeChatCreated)
	id, _ = f.Top["chat_id"].(string)
	require.NotEmpty(c.t, id, "%s", f.Raw)
	return id
}

// ask sends a chat_message in the realtime shape {message, stream, chat_id}.
func (c *wsClient) ask(chatID, text string) {
	c.t.Helper()
	d := map[string]any{"message": text, "stream": true}
	if chatID != "" {
		d["chat_id"] = chatID
	}
	c.send(protocol.TypeChatMessage, d)
}

// errorOf reads frames up to the next error frame and returns what
// identifies it in form: data.code (website) or data.details (tenant-app).
func (c *wsClient) errorOf(form platformtest.Protocol) string {
	c.t.Helper()
	f := c.until(protocol.TypeError)
	if form == platformtest.ProtocolTenantApp {
		require.ElementsMatch(c.t, []string{"message", "details"}, keys(f.Data), "%s", f.Raw)
		return f.str("details")
	}
	return f.str("code")
}

// keys returns the keys of m.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// realtimeForms are the two realtime variants, for tests that run in both.
var realtimeForms = []platformtest.Protocol{platformtest.ProtocolWebsite, platformtest.ProtocolTenantApp}
