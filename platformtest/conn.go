package platformtest

import (
	"cmp"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Timeouts of the connection machinery.
const (
	// writeTimeout bounds the write of one frame; a client that reads
	// nothing for this long loses its connection.
	writeTimeout = 10 * time.Second
	// closeWait bounds the wait for the client's answer to a close frame.
	closeWait = time.Second
	// cutWait bounds the wait for the client to close its side after a cut.
	cutWait = 2 * time.Second
	// readLimit is the largest frame accepted from a client.
	readLimit = 4 << 20
)

// outKind is what the writer does with a queued item.
type outKind int

const (
	outFrame outKind = iota // write a data frame
	outCut                  // shut the TCP write side: no close frame
)

// outItem is one entry of a connection's write queue.
type outItem struct {
	kind    outKind
	msgType int
	data    []byte
	typ     string // frame type, for logs
}

// conn is one accepted WebSocket connection. It owns three goroutines: the
// reader (the HTTP handler's goroutine), the writer, and the ready timer.
type conn struct {
	s        *Server
	seq      int64
	id       string
	clientID string
	tenant   string
	urlChat  string
	ws       *websocket.Conn
	opened   time.Time
	log      *slog.Logger
	proto    Protocol // the form the connection was opened in
	token    string   // the session token of a ProtocolTenantApp handshake

	// Guarded by s.mu.
	joined []string
	dead   bool // no more frames go to this connection
	ready  bool // connection_ready was sent

	qmu   sync.Mutex
	queue []outItem
	wake  chan struct{}

	stopOnce sync.Once
	stopped  chan struct{} // closed when the connection is being torn down
}

// serveWS answers the WebSocket handshake and runs the connection's reader.
func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	rec := newRequestRecord(r) // timed on arrival, not when s.mu is free
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeError(w, http.StatusServiceUnavailable, "service_unavailable", "platform shutting down", 0)
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.hsLog.add(rec, s.cfg.MaxRecords)
	refuseStatus := s.faults.take(&s.faults.refuse)
	retryAfter := s.faults.retryAfter
	proto := s.protocol
	s.bumpLocked()
	s.mu.Unlock()

	setStatus := func(status int) {
		s.mu.Lock()
		rec.Status = status
		s.bumpLocked()
		s.mu.Unlock()
	}
	q := r.URL.Query()
	tenant := q.Get(protocol.QueryTenantID)
	token := ""
	if proto == ProtocolTenantApp {
		token = offeredToken(r)
	}
	status, code, detail := 0, "", ""
	switch {
	case refuseStatus != 0:
		status, code, detail = refuseStatus, errorCodeFor(refuseStatus), "handshake refused (fault injected)"
	case proto == ProtocolTenantApp:
		var tokCode string
		if tenant, tokCode, detail = s.checkToken(token, tenant, rec.Time); tokCode != "" {
			s.log.Debug("platformtest: handshake refused", "status", http.StatusUnauthorized, "code", tokCode)
			writeCodeError(w, http.StatusUnauthorized, tokCode, detail)
			setStatus(http.StatusUnauthorized)
			return
		}
	case proto == ProtocolREST && s.cfg.APIKey != "" && r.Header.Get(protocol.HeaderAPIKey) != s.cfg.APIKey:
		status, code, detail = http.StatusUnauthorized, "invalid_api_key", "Invalid or missing API key"
	case tenant == "":
		status, code, detail = http.StatusBadRequest, "tenant_required", "tenant_id query parameter is required"
	case !s.tenantAccepted(tenant):
		status, code, detail = http.StatusForbidden, "tenant_not_found", "Tenant not found or inactive"
	}
	if status != 0 {
		s.log.Debug("platformtest: handshake refused", "status", status, "tenant", tenant)
		if status != http.StatusTooManyRequests {
			retryAfter = 0
		}
		writeError(w, status, code, detail, retryAfter)
		setStatus(status)
		return
	}
	up := s.upgrader
	failed := 0
	up.Error = func(rw http.ResponseWriter, _ *http.Request, status int, reason error) {
		failed = status
		rw.Header().Set("Sec-Websocket-Version", "13")
		writeError(rw, status, "websocket_upgrade_failed", reason.Error(), 0)
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		// up.Error has answered, unless the failure came after the hijack.
		s.log.Debug("platformtest: upgrade failed", "err", err)
		setStatus(cmp.Or(failed, http.StatusBadRequest))
		return
	}
	setStatus(http.StatusSwitchingProtocols)
	ws.SetReadLimit(readLimit)

	s.mu.Lock()
	closeCode := s.faults.take(&s.faults.refuseClose)
	s.mu.Unlock()
	if closeCode != 0 {
		s.log.Debug("platformtest: handshake accepted then closed (fault injected)", "code", closeCode)
		closeAtOnce(ws, closeCode)
		return
	}

	c := s.newConn(ws, tenant, q.Get(protocol.QueryClientID), q.Get(protocol.QueryChatID))
	c.proto, c.token = proto, token
	if !s.register(c) {
		closeAtOnce(ws, protocol.CloseGoingAway)
		return
	}
	c.readLoop()
}

// closeAtOnce closes a fresh connection with a close code (1006: abruptly)
// and waits briefly for the client's answer.
func closeAtOnce(ws *websocket.Conn, code int) {
	if code == protocol.CloseAbnormal {
		resetConn(ws.NetConn())
		return
	}
	_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, closeReason(code)), time.Now().Add(closeWait))
	_ = ws.SetReadDeadline(time.Now().Add(closeWait))
	for {
		if _, _, err := ws.ReadMessage(); err != nil {
			break
		}
	}
	_ = ws.Close()
}

// resetConn closes a TCP connection with a reset (RST), no FIN and no close
// frame.
func resetConn(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

// newConn builds the state of an accepted connection.
func (s *Server) newConn(ws *websocket.Conn, tenant, clientID, urlChat string) *conn {
	if clientID == "" {
		clientID = uuid.NewString()
	}
	return &conn{
		s:        s,
		clientID: clientID,
		tenant:   tenant,
		urlChat:  urlChat,
		ws:       ws,
		opened:   time.Now(),
		log:      s.log,
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
	}
}

// register queues the handshake frames, adds the connection to the live
// set and starts the writer and the ready timer. It returns false when the
// server is closed. A ProtocolTenantApp connection is sent nothing and has
// no ready timer.
func (s *Server) register(c *conn) bool {
	greet := c.proto != ProtocolTenantApp
	if greet {
		c.greet()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.connSeq++
	c.seq = s.connSeq
	c.id = "conn-" + strconv.FormatInt(c.seq, 10)
	c.log = s.log.With("conn", c.id, "tenant", c.tenant)
	s.conns[c.id] = c
	delay := s.ready
	s.goLocked(c.writeLoop)
	if greet {
		s.goLocked(func() { c.readyLoop(delay) })
	}
	s.bumpLocked()
	c.log.Debug("platformtest: connection opened", "client_id", c.clientID, "chat_id", c.urlChat, "protocol", c.proto)
	return true
}

// greet queues connection_established and the initialization_progress
// frames.
func (c *conn) greet() {
	established := map[string]any{
		"client_id":    c.clientID,
		"tenant_id":    c.tenant,
		"connected_at": epochSeconds(c.opened),
		"message":      "Connection established",
	}
	if c.urlChat != "" {
		established["chat_id"] = c.urlChat
	}
	c.send(event{typ: protocol.TypeConnectionEstablished, data: established})
	for i, p := range []struct{ phase, msg string }{
		{protocol.PhaseStarting, "Initializing platform"},
		{protocol.PhaseServices, "Loading AI services"},
		{protocol.PhaseComplete, "Initialization complete"},
	} {
		c.send(event{typ: protocol.TypeInitializationProgress, data: map[string]any{
			"phase":    p.phase,
			"message":  p.msg,
			"progress": i * 50,
		}})
	}
}

// readyLoop sends connection_ready after the ready delay, unless withheld.
func (c *conn) readyLoop(delay time.Duration) {
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.stopped:
			return
		}
	}
	if !c.s.waitGate(&c.s.withhold, c.stopped) {
		return
	}
	c.s.mu.Lock()
	c.ready = true
	c.s.bumpLocked()
	c.s.mu.Unlock()
	c.send(event{typ: protocol.TypeConnectionReady, data: map[string]any{
		"client_id":      c.clientID,
		"ready_duration": seconds(time.Since(c.opened)),
		"message":        "Platform ready",
	}})
}

// readLoop reads frames until the connection fails, then unregisters it.
func (c *conn) readLoop() {
	defer c.finish()
	c.ws.SetPingHandler(func(appData string) error {
		if c.s.waitGate(&c.s.stall, c.stopped) && !c.isStopped() && !c.isDead() {
			_ = c.ws.WriteControl(websocket.PongMessage, []byte(appData), time.Now().Add(writeTimeout))
		}
		return nil
	})
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			c.log.Debug("platformtest: connection read ended", "err", err)
			return
		}
		if c.isStopped() || c.isDead() {
			continue // dropped or being torn down: drain until the client closes
		}
		if !c.s.waitGate(&c.s.stall, c.stopped) || c.isDead() {
			continue // a drop while stalled: the frame is never processed
		}
		c.s.handleFrame(c, mt, data)
	}
}

// finish unregisters the connection after its reader ended.
func (c *conn) finish() {
	c.stop()
	_ = c.ws.NetConn().Close()
	c.s.mu.Lock()
	c.dead = true
	delete(c.s.conns, c.id)
	c.s.bumpLocked()
	c.s.mu.Unlock()
	c.log.Debug("platformtest: connection closed")
}

// stop tells the writer and the ready timer to end.
func (c *conn) stop() {
	c.stopOnce.Do(func() { close(c.stopped) })
}

func (c *conn) isStopped() bool {
	select {
	case <-c.stopped:
		return true
	default:
		return false
	}
}

// isDead reports whether the connection was dropped: a dropped connection
// processes no more frames, even those read before its writer reaches the
// drop.
func (c *conn) isDead() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.dead
}

// markDead excludes the connection from every later send.
func (c *conn) markDead() {
	c.s.mu.Lock()
	c.dead = true
	c.s.bumpLocked()
	c.s.mu.Unlock()
}

// writeLoop writes queued frames in order, one at a time (the only writer of
// data frames on this connection).
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.wake:
		case <-c.stopped:
			return
		}
		for {
			items := c.take()
			if len(items) == 0 {
				break
			}
			for _, it := range items {
				if !c.s.waitGate(&c.s.stall, c.stopped) || c.isStopped() {
					return
				}
				if it.kind == outCut {
					c.cutNow()
					return
				}
				_ = c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
				if err := c.ws.WriteMessage(it.msgType, it.data); err != nil {
					c.log.Debug("platformtest: write failed", "type", it.typ, "err", err)
					c.stop()
					_ = c.ws.NetConn().Close()
					return
				}
				c.log.Debug("platformtest: frame out", "type", it.typ, "bytes", len(it.data))
			}
		}
	}
}

// take empties the write queue.
func (c *conn) take() []outItem {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	items := c.queue
	c.queue = nil
	return items
}

// enqueue appends items to the write queue and wakes the writer.
func (c *conn) enqueue(items ...outItem) {
	c.qmu.Lock()
	c.queue = append(c.queue, items...)
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// send queues an event for this connection, encoded in the current variant.
func (c *conn) send(ev event) {
	v, dup := c.s.wire()
	c.enqueueFrame(ev.typ, encode(ev, v, time.Now()), dup)
}

// enqueueFrame queues an encoded text frame, twice when dup is set.
func (c *conn) enqueueFrame(typ string, b []byte, dup bool) {
	it := outItem{kind: outFrame, msgType: websocket.TextMessage, data: b, typ: typ}
	if dup {
		c.enqueue(it, it)
		return
	}
	c.enqueue(it)
}

// cut drops the connection without a close frame once the frames queued so
// far are written: the TCP write side is shut (FIN), so the client reads
// everything sent before and then sees the connection end.
func (c *conn) cut() {
	c.markDead()
	c.enqueue(outItem{kind: outCut, typ: "cut"})
}

// cutNow runs on the writer: FIN, then let the reader drain until the client
// closes.
func (c *conn) cutNow() {
	c.stop()
	c.log.Debug("platformtest: connection cut (fault injected)")
	if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		_ = c.ws.SetReadDeadline(time.Now().Add(cutWait))
		return
	}
	_ = c.ws.NetConn().Close()
}

// reset drops the connection with a TCP reset: no close frame, no FIN.
func (c *conn) reset() {
	c.markDead()
	c.stop()
	c.log.Debug("platformtest: connection reset (fault injected)")
	resetConn(c.ws.NetConn())
}

// shutdown closes the connection with a close frame, waiting at most
// writeWait to send it and readWait for the client's answer. Code 1006
// cannot travel in a close frame: it resets the connection instead.
func (c *conn) shutdown(code int, reason string, writeWait, readWait time.Duration) {
	if code == protocol.CloseAbnormal {
		c.reset()
		return
	}
	c.markDead()
	c.stop()
	c.log.Debug("platformtest: closing connection", "code", code)
	err := c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(writeWait))
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		_ = c.ws.NetConn().Close()
		return
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(readWait))
}

// joinedTo reports whether the connection joined chatID. The caller holds s.mu.
func (c *conn) joinedToLocked(chatID string) bool {
	return slices.Contains(c.joined, chatID)
}

// closeReason is the reason text sent with a close code.
func closeReason(code int) string {
	switch code {
	case protocol.CloseNormal:
		return "normal closure"
	case protocol.CloseGoingAway:
		return "server restarting"
	case protocol.ClosePolicyViolation:
		return "policy violation"
	case protocol.CloseInternalError:
		return "internal server error"
	case protocol.CloseServiceRestart:
		return "service restart: platform initializing"
	case protocol.CloseRateLimited:
		return "rate limit exceeded"
	case protocol.CloseNotFound:
		return "not found"
	case protocol.CloseBadRequest:
		return "bad request"
	case protocol.CloseUnauthorized:
		return "unauthorized"
	case protocol.CloseForbidden:
		return "forbidden: tenant not allowed"
	case protocol.CloseTimeout:
		return "timeout"
	}
	return "connection dropped"
}
