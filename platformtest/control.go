package platformtest

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// ControlPrefix is the path under which the control API is served when
// Config.ControlAPI is set:
//
//	GET  /_platform/                       index: endpoints and the fault table
//	GET  /_platform/faults                 the fault table (names, parameters, defaults)
//	POST /_platform/faults/{name}          apply a fault; body: JSON object of parameters
//	POST /_platform/reset                  Reset
//	GET  /_platform/connections            live connections
//	GET  /_platform/chats[?tenant_id=]     chats (all tenants when none is given)
//	GET  /_platform/chats/{id}/messages    a chat's stored history
//	GET  /_platform/frames[?type=][&conn_id=]  frames received from clients
//	GET  /_platform/requests               REST requests received
//	GET  /_platform/handshakes             WebSocket handshake attempts and their count
//	GET  /_platform/sessions               session tokens issued (tenant-app), tokens redacted
//
// Answers are JSON; errors have the platform's shape {"detail",
// "error_code"}: 400 for a bad parameter, 404 for an unknown fault or
// connection, 401 for a missing or wrong Config.ControlToken, 403 for a
// client not on a loopback address (unless Config.ControlRemote). Recorded
// headers are answered with the values of X-API-Key and Authorization
// replaced by "[redacted]", as are Sec-WebSocket-Protocol (which carries a
// session token) and the tokens of /sessions. Control requests are not recorded and not
// counted by RateLimitREST.
const ControlPrefix = "/_platform"

// redacted replaces secret header values in control API answers.
const redacted = "[redacted]"

// controlRoutes adds the control API to mux.
func (s *Server) controlRoutes(mux *http.ServeMux) {
	handle := func(pattern string, h http.HandlerFunc) {
		mux.Handle(pattern, s.controlGuard(h))
	}
	handle("GET "+ControlPrefix+"/{$}", s.controlIndex)
	handle("GET "+ControlPrefix+"/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"faults": Faults()})
	})
	handle("POST "+ControlPrefix+"/faults/{name}", s.controlApply)
	handle("POST "+ControlPrefix+"/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		writeJSON(w, http.StatusOK, map[string]any{"applied": "reset"})
	})
	handle("GET "+ControlPrefix+"/connections", s.controlConnections)
	handle("GET "+ControlPrefix+"/chats", s.controlChats)
	handle("GET "+ControlPrefix+"/chats/{id}/messages", s.controlMessages)
	handle("GET "+ControlPrefix+"/frames", s.controlFrames)
	handle("GET "+ControlPrefix+"/requests", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"requests": requestViews(s.RESTRequests())})
	})
	handle("GET "+ControlPrefix+"/handshakes", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"count": s.Handshakes(), "requests": requestViews(s.HandshakeRequests())})
	})
	handle("GET "+ControlPrefix+"/sessions", s.controlSessions)
	handle(ControlPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no control endpoint "+r.Method+" "+r.URL.Path+"; GET "+ControlPrefix+"/ lists them", 0)
	})
}

// controlGuard checks the caller's address and token.
func (s *Server) controlGuard(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.ControlRemote && !loopback(r.RemoteAddr) {
			writeError(w, http.StatusForbidden, "control_forbidden", "the control API answers loopback clients only; start with -control-remote (Config.ControlRemote) to open it", 0)
			return
		}
		if s.cfg.ControlToken != "" {
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || tok != s.cfg.ControlToken {
				writeError(w, http.StatusUnauthorized, "control_unauthorized", "missing or wrong control token: send Authorization: Bearer <token>", 0)
				return
			}
		}
		h(w, r)
	})
}

// loopback reports whether a remote address ("ip:port") is on this machine.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// controlIndex lists the endpoints and the fault table.
func (s *Server) controlIndex(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"version":  Version,
		"protocol": s.Protocol().String(),
		"endpoints": []string{
			"GET " + ControlPrefix + "/faults",
			"POST " + ControlPrefix + "/faults/{name}",
			"POST " + ControlPrefix + "/reset",
			"GET " + ControlPrefix + "/connections",
			"GET " + ControlPrefix + "/chats",
			"GET " + ControlPrefix + "/chats/{id}/messages",
			"GET " + ControlPrefix + "/frames",
			"GET " + ControlPrefix + "/requests",
			"GET " + ControlPrefix + "/handshakes",
			"GET " + ControlPrefix + "/sessions",
		},
		"faults": Faults(),
	})
}

// controlApply applies the fault named in the path with the body's
// parameters.
func (s *Server) controlApply(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var params map[string]any
	if err := decodeBody(r, &params); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error()+"; send a JSON object of parameters", 0)
		return
	}
	err := s.ApplyFault(name, params)
	switch {
	case errors.Is(err, ErrUnknownFault), errors.Is(err, ErrNoConnection):
		writeError(w, http.StatusNotFound, "not_found", err.Error(), 0)
	case err != nil:
		writeError(w, http.StatusBadRequest, "bad_request", err.Error(), 0)
	default:
		writeJSON(w, http.StatusOK, map[string]any{"applied": name})
	}
}

// connView is a live connection in control API answers.
type connView struct {
	ConnID   string    `json:"conn_id"`
	ClientID string    `json:"client_id"`
	TenantID string    `json:"tenant_id"`
	ChatID   string    `json:"chat_id,omitempty"`
	Joined   []string  `json:"joined"`
	OpenedAt time.Time `json:"opened_at"`
	Ready    bool      `json:"ready"`
	Protocol string    `json:"protocol"`
}

func (s *Server) controlConnections(w http.ResponseWriter, _ *http.Request) {
	conns := s.Connections()
	out := make([]connView, len(conns))
	for i, c := range conns {
		joined := c.Joined
		if joined == nil {
			joined = []string{}
		}
		out[i] = connView{c.ConnID, c.ClientID, c.TenantID, c.ChatID, joined, c.OpenedAt, c.Ready, c.Protocol.String()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out})
}

// chatView is a chat in control API answers.
type chatView struct {
	ChatID       string    `json:"chat_id"`
	TenantID     string    `json:"tenant_id"`
	Title        string    `json:"title,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	MessageCount int       `json:"message_count"`
}

func (s *Server) controlChats(w http.ResponseWriter, r *http.Request) {
	tenant := r.URL.Query().Get(protocol.QueryTenantID)
	s.mu.Lock()
	out := []chatView{}
	for _, k := range s.store.order {
		if tenant == "" || k.tenant == tenant {
			out = append(out, chatView(s.store.chats[k].info))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"chats": out})
}

func (s *Server) controlMessages(w http.ResponseWriter, r *http.Request) {
	msgs := s.Messages(r.PathValue("id"))
	if msgs == nil {
		writeError(w, http.StatusNotFound, "chat_not_found", "Chat not found", 0)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": msgs})
}

// frameView is a received frame in control API answers.
type frameView struct {
	ConnID string         `json:"conn_id"`
	Time   time.Time      `json:"time"`
	Type   string         `json:"type"`
	Data   map[string]any `json:"data,omitempty"`
	Raw    string         `json:"raw"`
}

func (s *Server) controlFrames(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	typ, connID := q.Get("type"), q.Get("conn_id")
	out := []frameView{}
	for _, f := range s.Frames() {
		if (typ == "" || f.Type == typ) && (connID == "" || f.ConnID == connID) {
			out = append(out, frameView{f.ConnID, f.Time, f.Type, f.Data, string(f.Raw)})
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"frames": out})
}

// requestView is a recorded HTTP request in control API answers.
type requestView struct {
	Time   time.Time           `json:"time"`
	Method string              `json:"method"`
	Path   string              `json:"path"`
	Query  map[string][]string `json:"query"`
	Header map[string][]string `json:"header"`
	Status int                 `json:"status"`
}

// requestViews converts records, redacting secret headers.
func requestViews(recs []RequestRecord) []requestView {
	out := make([]requestView, len(recs))
	for i, r := range recs {
		h := r.Header.Clone()
		for _, k := range []string{protocol.HeaderAPIKey, "Authorization", "Sec-Websocket-Protocol"} {
			if h.Get(k) != "" {
				h.Set(k, redacted)
			}
		}
		out[i] = requestView{r.Time, r.Method, r.Path, r.Query, h, r.Status}
	}
	return out
}

// sessionView is an issued session token in control API answers; the
// token itself is redacted.
type sessionView struct {
	SessionID string    `json:"session_id"`
	TenantID  string    `json:"tenant_id"`
	Token     string    `json:"websocket_token"`
	IssuedAt  time.Time `json:"issued_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Expired   bool      `json:"expired"`
}

func (s *Server) controlSessions(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	out := []sessionView{}
	for _, si := range s.Sessions() {
		out = append(out, sessionView{si.SessionID, si.TenantID, redacted, si.IssuedAt, si.ExpiresAt, !now.Before(si.ExpiresAt)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": out})
}
