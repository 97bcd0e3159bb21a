package platformtest

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// ReceivedFrame is a frame received from a client.
type ReceivedFrame struct {
	// ConnID is the id of the connection it came on (see ConnInfo).
	ConnID string
	// Time is when the server read it.
	Time time.Time
	// Type is its "type" ("" when it is not a JSON object or has none).
	Type string
	// Data is its payload ("data", else legacy "payload"); nil when absent.
	// Treat it as read-only.
	Data map[string]any
	// Raw is the frame as received.
	Raw []byte
}

// ConnInfo describes a live WebSocket connection.
type ConnInfo struct {
	// ConnID is the server's id of the connection ("conn-1", "conn-2", …).
	ConnID string
	// ClientID is the client_id of the query, or the one the server
	// assigned.
	ClientID string
	// TenantID is the tenant_id of the query.
	TenantID string
	// ChatID is the chat_id of the query ("" when absent). The connection
	// is not joined to it until it sends join_chat.
	ChatID string
	// Joined lists the chats the connection joined, in join order.
	Joined []string
	// OpenedAt is when the handshake completed.
	OpenedAt time.Time
	// Ready reports whether connection_ready was sent (never in
	// ProtocolTenantApp, which sends none).
	Ready bool
	// Protocol is the form the connection was opened in.
	Protocol Protocol
}

// RequestRecord is an HTTP request the server received: a REST call or a
// WebSocket handshake attempt.
type RequestRecord struct {
	// Time is when it arrived.
	Time time.Time
	// Method and Path are the request's method and URL path.
	Method, Path string
	// Query is the parsed URL query.
	Query url.Values
	// Header is a copy of the request headers.
	Header http.Header
	// Status is the answer's status: 101 for an accepted handshake; 0
	// while the request is being answered.
	Status int
}

func newRequestRecord(r *http.Request) *RequestRecord {
	return &RequestRecord{
		Time:   time.Now(),
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
	}
}

// records is an inspection log bounded to its latest entries. Guarded by
// Server.mu.
type records[T any] struct {
	items []T
	total int // entries ever added
}

// add appends v, keeping at most limit entries (none when limit < 0). The
// slice is trimmed in batches, so adding stays amortized O(1).
func (r *records[T]) add(v T, limit int) {
	r.total++
	if limit < 0 {
		return
	}
	r.items = append(r.items, v)
	if len(r.items) > limit+limit/4 {
		r.items = slices.Clone(r.items[len(r.items)-limit:])
	}
}

// list returns a copy of the latest limit entries.
func (r *records[T]) list(limit int) []T {
	if n := len(r.items) - limit; limit >= 0 && n > 0 {
		return slices.Clone(r.items[n:])
	}
	return slices.Clone(r.items)
}

// requestList copies request records out of the log.
func requestList(r *records[*RequestRecord], limit int) []RequestRecord {
	ptrs := r.list(limit)
	out := make([]RequestRecord, len(ptrs))
	for i, p := range ptrs {
		out[i] = *p
	}
	return out
}

// record appends a received frame to the log.
func (s *Server) record(rf ReceivedFrame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames.add(rf, s.cfg.MaxRecords)
	s.bumpLocked()
}

// Frames returns every frame received from clients, in the order they were
// read (the latest Config.MaxRecords).
func (s *Server) Frames() []ReceivedFrame {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames.list(s.cfg.MaxRecords)
}

// FramesOfType returns the received frames whose type is t, in order.
func (s *Server) FramesOfType(t string) []ReceivedFrame {
	return s.filterFrames(func(f ReceivedFrame) bool { return f.Type == t })
}

// ConnFrames returns the frames received on connection connID, in order.
func (s *Server) ConnFrames(connID string) []ReceivedFrame {
	return s.filterFrames(func(f ReceivedFrame) bool { return f.ConnID == connID })
}

func (s *Server) filterFrames(keep func(ReceivedFrame) bool) []ReceivedFrame {
	var out []ReceivedFrame
	for _, f := range s.Frames() {
		if keep(f) {
			out = append(out, f)
		}
	}
	return out
}

// liveConnsLocked returns the registered connections in opening order,
// those being dropped only when withDead is set. The caller holds s.mu.
func (s *Server) liveConnsLocked(withDead bool) []*conn {
	out := make([]*conn, 0, len(s.conns))
	for _, c := range s.conns {
		if withDead || !c.dead {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *conn) int { return int(a.seq - b.seq) })
	return out
}

// Connections returns the live connections in opening order. A connection
// being dropped by a fault is no longer live.
func (s *Server) Connections() []ConnInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	conns := s.liveConnsLocked(false)
	out := make([]ConnInfo, 0, len(conns))
	for _, c := range conns {
		out = append(out, ConnInfo{
			ConnID:   c.id,
			ClientID: c.clientID,
			TenantID: c.tenant,
			ChatID:   c.urlChat,
			Joined:   slices.Clone(c.joined),
			OpenedAt: c.opened,
			Ready:    c.ready,
			Protocol: c.proto,
		})
	}
	return out
}

// ConnectionCount returns the number of live connections.
func (s *Server) ConnectionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.conns {
		if !c.dead {
			n++
		}
	}
	return n
}

// Handshakes returns the number of WebSocket handshake attempts seen,
// refused ones included.
func (s *Server) Handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hsLog.total
}

// HandshakeTimes returns when each WebSocket handshake attempt arrived, in
// order (to measure how a reconnect storm is spread); the latest
// Config.MaxRecords.
func (s *Server) HandshakeTimes() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.hsLog.list(s.cfg.MaxRecords)
	out := make([]time.Time, len(recs))
	for i, r := range recs {
		out[i] = r.Time
	}
	return out
}

// HandshakeRequests returns the WebSocket handshake attempts, in order,
// with their query, headers and answer status; the latest
// Config.MaxRecords.
func (s *Server) HandshakeRequests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return requestList(&s.hsLog, s.cfg.MaxRecords)
}

// RESTRequests returns the REST requests received, in order, with their
// headers and answer status; the latest Config.MaxRecords.
func (s *Server) RESTRequests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return requestList(&s.restLog, s.cfg.MaxRecords)
}

// WaitFor blocks until cond(s) holds and returns nil, or returns ctx's error
// when ctx ends first. cond is checked at once and again after every change
// of the server's state (a frame received, a connection opened, ready,
// joined or closed, a handshake or REST request seen, a message stored); it
// is not polled. cond runs without the server's lock held, so it may call
// any inspection method; it must not block.
func (s *Server) WaitFor(ctx context.Context, cond func(*Server) bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
