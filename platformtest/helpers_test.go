package platformtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// testTimeout bounds every wait of a test.
const testTimeout = 10 * time.Second

// newServer starts a server closed at the end of the test.
func newServer(t *testing.T, cfg platformtest.Config) *platformtest.Server {
	t.Helper()
	srv := platformtest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// testCtx returns a context ending with the test or after testTimeout.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// frame is a decoded server frame.
type frame struct {
	Type string
	Top  map[string]any
	Data map[string]any
	Raw  []byte
}

func (f frame) str(key string) string {
	s, _ := f.Data[key].(string)
	return s
}

// wsClient is a raw WebSocket client.
type wsClient struct {
	t  *testing.T
	ws *websocket.Conn
}

// wsURL builds the chat endpoint URL with a query.
func wsURL(srv *platformtest.Server, query url.Values) string {
	return srv.WSURL() + protocol.PathWebSocket + "?" + query.Encode()
}

// dialRaw dials and returns the connection, the answer and the error.
func dialRaw(t *testing.T, srv *platformtest.Server, query url.Values, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: testTimeout}
	ws, resp, err := d.DialContext(testCtx(t), wsURL(srv, query), hdr)
	if resp != nil && resp.Body != nil {
		t.Cleanup(func() { _ = resp.Body.Close() })
	}
	if ws != nil {
		t.Cleanup(func() { _ = ws.Close() })
	}
	return ws, resp, err
}

// dial connects as tenant with extra query pairs (key, value, ...).
func dial(t *testing.T, srv *platformtest.Server, tenant string, kv ...string) *wsClient {
	t.Helper()
	q := url.Values{}
	if tenant != "" {
		q.Set("tenant_id", tenant)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	ws, _, err := dialRaw(t, srv, q, nil)
	require.NoError(t, err)
	return &wsClient{t: t, ws: ws}
}

// connect dials and reads the handshake up to connection_ready.
func connect(t *testing.T, srv *platformtest.Server, tenant string, kv ...string) *wsClient {
	t.Helper()
	c := dial(t, srv, tenant, kv...)
	c.until(protocol.TypeConnectionReady)
	return c
}

// tryNext reads the next frame or returns the read error.
func (c *wsClient) tryNext() (frame, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(testTimeout))
	_, raw, err := c.ws.ReadMessage()
	if err != nil {
		return frame{}, err
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		return frame{Raw: raw}, nil
	}
	f := frame{Top: top, Raw: raw}
	f.Type, _ = top["type"].(string)
	f.Data, _ = top["data"].(map[string]any)
	if f.Data == nil {
		f.Data, _ = top["payload"].(map[string]any)
	}
	return f, nil
}

// next reads the next frame.
func (c *wsClient) next() frame {
	c.t.Helper()
	f, err := c.tryNext()
	require.NoError(c.t, err)
	return f
}

// expect reads frames and checks their types, in order.
func (c *wsClient) expect(types ...string) []frame {
	c.t.Helper()
	out := make([]frame, 0, len(types))
	for _, typ := range types {
		f := c.next()
		require.Equal(c.t, typ, f.Type, "frame %s", f.Raw)
		out = append(out, f)
	}
	return out
}

// until reads frames up to and including the first of type typ.
func (c *wsClient) until(typ string) frame {
	c.t.Helper()
	for {
		if f := c.next(); f.Type == typ {
			return f
		}
	}
}

// send writes a frame {"type", "data", "timestamp"}.
func (c *wsClient) send(typ string, data any) {
	c.t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "data": data, "timestamp": time.Now().UnixMilli()})
	require.NoError(c.t, err)
	require.NoError(c.t, c.ws.WriteMessage(websocket.TextMessage, b))
}

// join joins a chat and returns chat_joined.
func (c *wsClient) join(chatID string) frame {
	c.t.Helper()
	c.send(protocol.TypeJoinChat, map[string]any{"chat_id": chatID})
	return c.until(protocol.TypeChatJoined)
}

// say sends a chat_message.
func (c *wsClient) say(chatID, cmid, text string) {
	c.t.Helper()
	c.send(protocol.TypeChatMessage, protocol.ChatMessage{Message: text, ChatID: chatID, TenantID: "", ClientMessageID: cmid, Stream: true})
}

// quiet proves that nothing was queued for this client before now: a ping
// sent now must be answered by the very next frame.
func (c *wsClient) quiet() {
	c.t.Helper()
	c.send(protocol.TypePing, map[string]any{"ts": 42})
	f := c.next()
	require.Equal(c.t, protocol.TypePong, f.Type, "unexpected frame %s", f.Raw)
}

// readErr reads until the connection fails and returns the error.
func (c *wsClient) readErr() error {
	c.t.Helper()
	for {
		if _, err := c.tryNext(); err != nil {
			return err
		}
	}
}

// closeCode returns the close code of a read error, 1006 for an error
// without close frame.
func closeCode(err error) int {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return protocol.CloseAbnormal
}

// call makes a REST request and returns status, headers and body.
func call(t *testing.T, method, u string, hdr http.Header, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, u, rd)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, b
}

// tenantHdr returns headers naming tenant.
func tenantHdr(tenant string) http.Header {
	return http.Header{protocol.HeaderTenantID: {tenant}}
}

// decode unmarshals JSON into a map.
func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "%s", b)
	return m
}

// createChat creates a chat over REST and returns its id.
func createChat(t *testing.T, srv *platformtest.Server, tenant string) string {
	t.Helper()
	status, _, body := call(t, http.MethodPost, srv.URL()+protocol.PathChats, tenantHdr(tenant), `{"title":"t"}`)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	id, _ := decode(t, body)["chat_id"].(string)
	require.NotEmpty(t, id)
	return id
}
