package client

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/protocol"
)

// scriptServer is a platform whose WebSocket side follows a script, for
// tests that need frames in an exact order. REST: /healthz answers healthy,
// the history endpoint answers History(), everything else 404.
type scriptServer struct {
	t  *testing.T
	hs *httptest.Server

	mu      sync.Mutex
	conns   int
	history []protocol.HistoryMessage
	looks   int // history requests
	script  func(n int, sc *scriptConn)
}

// scriptConn is one connection of a scriptServer.
type scriptConn struct {
	t  *testing.T
	ws *websocket.Conn
}

// newScriptServer starts a scripted platform, closed at the end of the
// test; script runs once per WebSocket connection n (from 1).
func newScriptServer(t *testing.T, script func(n int, sc *scriptConn)) *scriptServer {
	s := &scriptServer{t: t, script: script}
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"healthy"}`))
	})
	mux.HandleFunc("GET /api/v1/chat/{id}/messages", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.looks++
		b, _ := json.Marshal(map[string]any{"items": s.history})
		s.mu.Unlock()
		_, _ = w.Write(b)
	})
	mux.HandleFunc(protocol.PathWebSocket, func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		s.mu.Lock()
		s.conns++
		n := s.conns
		s.mu.Unlock()
		s.script(n, &scriptConn{t: t, ws: ws})
	})
	s.hs = httptest.NewServer(mux)
	t.Cleanup(s.hs.Close)
	return s
}

// setHistory sets what the history endpoint answers.
func (s *scriptServer) setHistory(h ...protocol.HistoryMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = h
}

// historyLooks returns how often the history was asked for.
func (s *scriptServer) historyLooks() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.looks
}

// client returns a client of the scripted platform.
func (s *scriptServer) client(mutate func(*Config)) *Client {
	cfg := Config{APIURL: s.hs.URL, TenantID: testTenant, ReconnectDelays: fastDelays}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	require.NoError(s.t, err)
	s.t.Cleanup(func() { _ = c.Close(ctxT(s.t, 10*time.Second)) })
	return c
}

// send writes one frame; extra fields go at the top level.
func (sc *scriptConn) send(typ string, data map[string]any, extra ...any) {
	f := map[string]any{"type": typ, "data": data}
	for i := 0; i+1 < len(extra); i += 2 {
		f[extra[i].(string)] = extra[i+1]
	}
	if _, ok := f["timestamp"]; !ok {
		f["timestamp"] = time.Now().UnixMilli()
	}
	_ = sc.ws.WriteJSON(f)
}

// greet sends connection_established and connection_ready.
func (sc *scriptConn) greet() {
	sc.send(protocol.TypeConnectionEstablished, map[string]any{"client_id": "script"})
	sc.send(protocol.TypeConnectionReady, map[string]any{"client_id": "script"})
}

// next reads frames until one of type typ and returns its data; ok is
// false when the connection ended first.
func (sc *scriptConn) next(typ string) (data map[string]any, ok bool) {
	for {
		var f struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := sc.ws.ReadJSON(&f); err != nil {
			return nil, false
		}
		if f.Type == typ {
			return f.Data, true
		}
	}
}

// join answers the client's join_chat.
func (sc *scriptConn) join() bool {
	d, ok := sc.next(protocol.TypeJoinChat)
	if ok {
		sc.send(protocol.TypeChatJoined, map[string]any{"chat_id": d["chat_id"], "success": true})
	}
	return ok
}

// close sends a close frame with code.
func (sc *scriptConn) close(code int) {
	_ = sc.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, "script"), time.Now().Add(time.Second))
}

// drain reads until the client closes the connection.
func (sc *scriptConn) drain() {
	for {
		if _, _, err := sc.ws.ReadMessage(); err != nil {
			return
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return strings.TrimSpace(s)
}
