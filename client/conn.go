package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// writeTimeout bounds one socket write.
const writeTimeout = 10 * time.Second

// writeBufferPool lends write buffers to the connections of every client of
// the process while they write: an idle connection holds none.
var writeBufferPool = &sync.Pool{}

// wsConn is one WebSocket connection and its two goroutines: the reader
// (inbound path) and the writer (the only goroutine that writes frames).
//
// A connection's frames are never delivered once the next one is up: the
// supervisor waits for the old reader to exit (serve, or connectOnce on a
// failed attempt) before it dials again, so the frames of two connections
// never interleave.
type wsConn struct {
	ws  *websocket.Conn
	seq uint64 // the connection's number, from 1

	mu       sync.Mutex
	pending  []outItem
	backlog  int          // queueable frames in pending
	controls int          // control frames in pending
	closed   bool         // the writer stopped taking items
	leftover []queue.Item // taken by the writer and not written; requeued at teardown
	wake     chan struct{}

	stop      chan struct{} // closed to stop the writer
	stopOnce  sync.Once
	closeOnce sync.Once  // the 1000 close frame is sent once
	lost      chan error // first loss, buffered
	lostOnce  sync.Once
	ready     chan struct{}
	readyOnce sync.Once
	greeted   chan struct{} // closed on the first greeting frame (realtime form)
	greetOnce sync.Once
	wg        sync.WaitGroup
	session   bool // opened with a session token (realtime form)

	amu    sync.Mutex
	acks   map[string][]chan struct{} // join acknowledgements awaited, by chat id ("" for create), oldest first
	joined map[registry.ChatKey]bool  // chats whose join_chat was sent on this connection
}

// outItem is a frame for the writer: a queueable item or a control frame.
type outItem struct {
	item    queue.Item
	control bool
}

// maxControlBacklog bounds the control frames (pong, join, leave, ping)
// waiting for the writer: a platform that pings and stops reading cannot
// make them pile up.
const maxControlBacklog = 64

// submit hands an item to the writer. It returns false when the connection
// no longer takes items (then the caller queues it).
func (w *wsConn) submit(it outItem) bool {
	ok, _ := w.offer(it, 0)
	return ok
}

// offer hands an item to the writer unless the writer's backlog of
// queueable frames has reached limit (0: no limit), so that a platform that
// stops reading makes Send fail with ErrQueueFull instead of growing memory.
// A control frame beyond maxControlBacklog is dropped (full is true). ok is
// false when the connection no longer takes items.
func (w *wsConn) offer(it outItem, limit int) (ok, full bool) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false, false
	}
	n := &w.backlog
	max := limit
	if it.control {
		n, max = &w.controls, maxControlBacklog
	}
	if max > 0 && *n >= max {
		w.mu.Unlock()
		return true, true
	}
	*n++
	w.pending = append(w.pending, it)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return true, false
}

// remove takes the queueable frames that match out of what waits for the
// writer.
func (w *wsConn) remove(match func(queue.Item) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	kept := w.pending[:0]
	for _, it := range w.pending {
		if !it.control && match(it.item) {
			w.backlog--
			continue
		}
		kept = append(kept, it)
	}
	clear(w.pending[len(kept):])
	w.pending = kept
}

// fail records the first loss of the connection.
func (w *wsConn) fail(err error) {
	w.lostOnce.Do(func() { w.lost <- err })
}

// closeNormal sends a 1000 close and closes the socket, unblocking the reader.
// It is safe to call more than once, from any goroutine.
func (w *wsConn) closeNormal() {
	w.closeOnce.Do(func() {
		_ = w.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "client closing"),
			time.Now().Add(time.Second))
	})
	w.shutdown()
}

// shutdown closes the socket and stops the writer.
func (w *wsConn) shutdown() {
	w.stopOnce.Do(func() { close(w.stop) })
	_ = w.ws.Close()
}

// claimJoin reports whether the join of chat k is still to be sent on this
// connection, and records that it is being sent.
func (w *wsConn) claimJoin(k registry.ChatKey) bool {
	w.amu.Lock()
	defer w.amu.Unlock()
	if w.joined[k] {
		return false
	}
	if w.joined == nil {
		w.joined = map[registry.ChatKey]bool{}
	}
	w.joined[k] = true
	return true
}

// unclaimJoin forgets that chat k's join was sent (it left): a later Join
// sends it again.
func (w *wsConn) unclaimJoin(k registry.ChatKey) {
	w.amu.Lock()
	defer w.amu.Unlock()
	delete(w.joined, k)
}

// expectJoin returns a channel closed when the platform acknowledges a
// join_chat for chatID ("" for a chat created by the join). Several chats
// may wait under "" at once: each acknowledgement releases the oldest.
func (w *wsConn) expectJoin(chatID string) chan struct{} {
	w.amu.Lock()
	defer w.amu.Unlock()
	ch := make(chan struct{})
	w.acks[chatID] = append(w.acks[chatID], ch)
	return ch
}

// ackJoin releases the oldest wait for chatID, if any.
func (w *wsConn) ackJoin(chatID string) {
	w.amu.Lock()
	defer w.amu.Unlock()
	waits := w.acks[chatID]
	if len(waits) == 0 {
		return
	}
	close(waits[0])
	if len(waits) == 1 {
		delete(w.acks, chatID)
	} else {
		w.acks[chatID] = waits[1:]
	}
}

// supervise is the connection loop: connect, serve until the connection is
// lost, decide by the close-code policy whether and when to reconnect.
func (c *Client) supervise() {
	defer c.wg.Done()
	delays := newRetryDelays(c.cfg)
	retries := 0
	for first := true; ; first = false {
		if !first && !c.setState(StateConnecting, nil, retries+1, 0) {
			return
		}
		c.stats.attempts.Add(1)
		conn, err := c.connectOnce(c.ctx, retries > 0)
		if err == nil {
			retries = 0
			delays.reset()
			err = c.serve(conn)
		}
		if c.ctx.Err() != nil || c.isClosed() {
			return // Close sends the 1000 close before it cancels
		}
		policy, retryAfter := classify(err)
		policy = c.refreshOnAuthClose(err, c.cfg.ReconnectDelays.Apply(policy))
		c.emitError(ErrorConnection, err, "")
		if !policy.Retry || retries >= c.cfg.MaxRetries {
			fe := &FailedError{Attempts: retries + 1, Last: err}
			// The queue is drained under the lock that Send pushes under,
			// in the same step as the change to failed: no message can
			// slip in between and wait for a connection that never comes.
			c.mu.Lock()
			c.setStateLocked(StateFailed, fe, retries+1, 0)
			c.running = false // Connect may start a new loop at once
			live, expired := c.q.Drain()
			c.mu.Unlock()
			for _, it := range live {
				c.failItem(it, fe)
			}
			for _, r := range expired {
				c.failItem(r.Item, r.Err)
			}
			// Every message still without an outcome fails now with the
			// connection's cause: none waits out its reply timeout for a
			// connection that will not come back.
			now := c.clock.Now()
			c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
				return l.FailAll(fe, now, out)
			})
			return
		}
		retries++
		d := delays.next(policy, retryAfter)
		t := c.clock.NewTimer(d)
		if !c.setState(StateReconnecting, err, retries+1, d) {
			t.Stop()
			return
		}
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// classify maps a connection error to its policy and server-requested wait.
func classify(err error) (protocol.Policy, time.Duration) {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return protocol.Lookup(ce.Trigger), ce.RetryAfter
	}
	return protocol.Lookup(protocol.Trigger{Cause: protocol.CauseNetwork}), 0
}

// connectOnce runs the four steps of SPEC §3.1 and returns a ready
// connection.
func (c *Client) connectOnce(ctx context.Context, reconnect bool) (*wsConn, error) {
	rt, err := c.beginConnect(ctx) // the protocol form (realtime.go)
	if err != nil {
		return nil, err
	}
	// 1. Health.
	if _, err := c.rest.health(ctx, false); c.healthError(err) != nil {
		return nil, c.healthError(err)
	}
	if !rt {
		c.learnLimits(ctx)
		// 2. Chat creation for chats that have no id yet (degraded otherwise).
		for _, ch := range c.chatList() {
			ch.ensureCreated(ctx)
		}
	}
	// 3. Dial, then connection_established / progress / connection_ready.
	conn, err := c.dialOnce(ctx)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			conn.shutdown()
			conn.wg.Wait()
			c.connectionLost(conn)
			c.requeue(conn)
			c.detach(conn)
		}
	}()
	if rt || c.listensForSilence() {
		err = c.awaitGreeting(ctx, conn, conn.session)
	} else {
		err = c.waitReady(ctx, conn)
	}
	if err != nil {
		return nil, err
	}
	// 4. Join every chat, wait for the acknowledgements, then flush.
	if err := c.joinAll(ctx, conn); err != nil {
		return nil, err
	}
	if err := c.flushAndReady(conn, reconnect); err != nil {
		return nil, err
	}
	ok = true
	return conn, nil
}

// waitReady waits for connection_ready, up to Config.ReadyTimeout.
func (c *Client) waitReady(ctx context.Context, conn *wsConn) error {
	readyTimer := c.clock.NewTimer(c.cfg.ReadyTimeout)
	defer readyTimer.Stop()
	select {
	case <-conn.ready:
		return nil
	case err := <-conn.lost:
		return err
	case <-readyTimer.C():
		return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseReadyTimeout}, Retryable: true,
			Err: errors.New("no connection_ready from the platform in time; it may be initializing")}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// learnLimits reads the platform's message length limit once, unless the
// configuration sets one. A platform without the endpoint keeps the default.
func (c *Client) learnLimits(ctx context.Context) {
	c.mu.Lock()
	known := c.maxLen != 0 || c.cfg.MaxMessageLength > 0
	c.mu.Unlock()
	if known {
		return
	}
	var cc protocol.ChatConfig
	if err := c.rest.do(ctx, http.MethodGet, protocol.PathChatConfig, nil, &cc, false); err != nil {
		c.log.Debug("miptech: no chat config from the platform; using the default limit", "err", err)
		cc.MaxMessageLength = DefaultMaxMessageLength
	} else {
		c.decideForm(ProtocolREST, "the chat configuration endpoint answered")
	}
	if cc.MaxMessageLength <= 0 {
		cc.MaxMessageLength = DefaultMaxMessageLength
	}
	c.mu.Lock()
	c.maxLen = cc.MaxMessageLength
	c.mu.Unlock()
}

// restConnectError turns a failed health check into a connection error.
func restConnectError(err error) error {
	var apiErr *protocol.APIError
	if errors.As(err, &apiErr) {
		return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseHandshake, Code: apiErr.Status},
			Retryable:  protocol.Lookup(protocol.Trigger{Cause: protocol.CauseHandshake, Code: apiErr.Status}).Retry,
			RetryAfter: apiErr.RetryAfter, Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: err}
}

// dial opens the socket and starts its reader and writer.
func (c *Client) dial(ctx context.Context) (*wsConn, error) {
	q := url.Values{}
	q.Set(protocol.QueryTenantID, c.cfg.TenantID)
	if id := c.firstChatID(); id != "" {
		q.Set(protocol.QueryChatID, id)
	}
	if c.cfg.ClientID != "" {
		q.Set(protocol.QueryClientID, c.cfg.ClientID)
	}
	u := c.cfg.WSURL + protocol.PathWebSocket + "?" + q.Encode()
	tok, session, fresh, err := c.wsToken(ctx)
	if err != nil {
		return nil, tokenError(err, session)
	}
	h := http.Header{}
	if err := setAuthHeaders(ctx, h, c.cfg, false); err != nil {
		return nil, err
	}
	if session {
		h.Del(protocol.HeaderAPIKey) // the session token stands for the key
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: c.cfg.HandshakeTimeout,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		WriteBufferPool:  writeBufferPool,
	}
	if tok != "" {
		d.Subprotocols = []string{"bearer", tok}
	}
	ws, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			if resp.Body != nil {
				_ = resp.Body.Close()
			}
			tr := protocol.Trigger{Cause: protocol.CauseHandshake, Code: resp.StatusCode}
			return nil, c.handshakeRefused(&ConnectError{Trigger: tr, Retryable: protocol.Lookup(tr).Retry,
				RetryAfter: protocol.ParseRetryAfter(resp.Header.Get(protocol.HeaderRetryAfter), c.clock.Now())}, tok, session, fresh)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: redactURLError(err)}
	}
	ws.SetReadLimit(c.cfg.ReadLimit)
	ping := c.clock.NewTicker(c.cfg.PingInterval)
	conn := &wsConn{
		ws:      ws,
		seq:     c.connSeq.Add(1),
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		lost:    make(chan error, 1),
		ready:   make(chan struct{}),
		greeted: make(chan struct{}),
		session: session,
		acks:    map[string][]chan struct{}{},
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		ping.Stop()
		_ = ws.Close()
		return nil, ErrClosed
	}
	c.conn = conn
	c.setStateLocked(StateConnected, nil, 0, 0)
	c.mu.Unlock()
	c.log.Debug("miptech: socket open", "url", logURL{u, c.cfg.secrets}, "header", logHeader{h, c.cfg.secrets})
	conn.wg.Add(2)
	c.wg.Add(2)
	go func() { defer c.wg.Done(); defer conn.wg.Done(); c.read(conn) }()
	go func() { defer c.wg.Done(); defer conn.wg.Done(); c.write(conn, ping) }()
	return conn, nil
}

func (c *Client) firstChatID() string {
	for _, ch := range c.chatList() {
		if id := ch.ID(); id != "" {
			return id
		}
	}
	return ""
}

// detach forgets conn as the current connection.
func (c *Client) detach(conn *wsConn) {
	c.mu.Lock()
	if c.conn == conn {
		c.conn = nil
	}
	c.mu.Unlock()
}

// joinAll sends join_chat for every open chat and waits for the
// acknowledgements, each up to JoinTimeout; a missing one is logged and the
// connection goes on (the platform registers a chat on its first message).
func (c *Client) joinAll(ctx context.Context, conn *wsConn) error {
	type wait struct {
		chat string
		ch   chan struct{}
	}
	var waits []wait
	for _, chat := range c.chatList() {
		id := chat.ID()
		ack := conn.expectJoin(id)
		chat.joinOn(conn)
		if chat.joinedOnConn(conn) {
			continue // joined already, by a join sent when it was opened
		}
		waits = append(waits, wait{id, ack})
	}
	if len(waits) == 0 {
		return nil
	}
	t := c.clock.NewTimer(c.cfg.JoinTimeout)
	defer t.Stop()
	for _, w := range waits {
		select {
		case <-w.ch:
		case <-t.C():
			c.log.Warn("miptech: no chat_joined in time; going on", "chat_id", w.chat)
			return nil
		case err := <-conn.lost:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// flushAndReady re-sends the messages caught by a lost connection, flushes
// the outbound queue in order and moves to ready once it is empty, under the
// lock that Send takes, so no frame overtakes a queued one.
func (c *Client) flushAndReady(conn *wsConn, reconnect bool) error {
	var resend []queue.Item
	for _, ch := range c.chatList() {
		resend = append(resend, ch.resends()...)
	}
	if len(resend) > 0 {
		c.q.PutBack(resend)
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		live, expired := c.q.Drain()
		if len(live) == 0 && len(expired) == 0 {
			c.connectedAt = c.clock.Now()
			c.connErr = nil
			if reconnect {
				c.stats.reconnects.Add(1) // counted before ready is seen
			}
			c.setStateLocked(StateReady, nil, 0, 0)
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		for _, r := range expired {
			c.failItem(r.Item, r.Err)
		}
		for i, it := range live {
			if c.stale(it) {
				continue
			}
			if !conn.submit(outItem{item: it}) {
				c.q.PutBack(live[i:])
				select {
				case err := <-conn.lost:
					return err
				case <-c.ctx.Done():
					return ErrClosed
				}
			}
		}
	}
	for _, ch := range c.chatList() {
		ch.recoverReplies()
	}
	return nil
}

// requeue puts the frames a torn-down connection took and did not write
// back at the front of the queue, in order, or fails their senders with
// ErrClosed after Close. Called once the connection's goroutines exited.
func (c *Client) requeue(conn *wsConn) {
	conn.mu.Lock()
	back := conn.leftover
	conn.leftover = nil
	conn.mu.Unlock()
	if len(back) == 0 {
		return
	}
	if c.isClosed() {
		for _, it := range back {
			c.failItem(it, ErrClosed)
		}
		return
	}
	c.q.PutBack(back)
}

// serve waits until the connection is lost or the client closes, then tears
// the connection down and waits for its goroutines.
func (c *Client) serve(conn *wsConn) error {
	var err error
	select {
	case err = <-conn.lost:
		conn.shutdown()
	case <-c.ctx.Done():
		err = ErrClosed
		conn.closeNormal() // Close may not have seen this connection yet
	}
	conn.wg.Wait()
	c.connectionLost(conn)
	c.requeue(conn)
	c.detach(conn)
	return err
}

// read is the reader goroutine: decode, normalize, deduplicate, route.
func (c *Client) read(conn *wsConn) {
	for {
		_ = conn.ws.SetReadDeadline(time.Now().Add(c.cfg.DeadTimeout))
		mt, data, err := conn.ws.ReadMessage()
		if err != nil {
			conn.fail(c.readError(err))
			return
		}
		c.stats.framesIn.Add(1)
		c.stats.bytesIn.Add(uint64(len(data)))
		if mt != websocket.TextMessage {
			c.stats.decodeErrors.Add(1)
			c.log.Warn("miptech: dropped a non-text frame", "bytes", len(data))
			continue
		}
		ev, err := normalize.Normalize(data, c.clock.Now())
		if err != nil {
			c.stats.decodeErrors.Add(1)
			c.log.Warn("miptech: dropped an undecodable frame", "err", err)
			continue
		}
		if ev, err = c.admit(ev); err != nil { // credentials redacted, chat id checked
			c.stats.decodeErrors.Add(1)
			c.log.Warn("miptech: dropped a frame that breaks the protocol", "err", err)
			continue
		}
		c.log.Debug("miptech: frame in", "type", ev.Type, "chat_id", ev.ChatID, "message_id", ev.MessageID)
		// Wait for room before the key is recorded: an event dropped here
		// because the connection is going must not make a later copy of it
		// a duplicate.
		if !c.disp.waitRoom(conn.stop) {
			return // the connection or the client is shutting down
		}
		if ev.Key != "" && !perConnection(ev.Type) && c.dedup.Seen(ev.Key) {
			c.log.Debug("miptech: duplicate dropped", "type", ev.Type, "key", ev.Key)
			continue
		}
		c.disp.chargeNext(len(data))
		c.handleInbound(conn, ev)
	}
}

// readError turns a read failure into a connection error.
func (c *Client) readError(err error) error {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		tr := protocol.Trigger{Cause: protocol.CauseClose, Code: ce.Code}
		if ce.Code == websocket.CloseAbnormalClosure {
			tr = protocol.Trigger{Cause: protocol.CauseNetwork}
		}
		return &ConnectError{Trigger: tr, Reason: c.cfg.secrets.string(ce.Text), Retryable: protocol.Lookup(tr).Retry}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true,
			Err: errors.New("no frame from the platform within the dead-connection timeout")}
	}
	if errors.Is(err, websocket.ErrReadLimit) {
		return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true,
			Err: errors.New("inbound frame larger than Config.ReadLimit")}
	}
	return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: redactURLError(err)}
}

// write is the writer goroutine: it owns every frame write and the keepalive.
func (c *Client) write(conn *wsConn, ping clock.Ticker) {
	defer ping.Stop()
	var unsent []outItem
	defer func() {
		// The frames not written go back to the queue at teardown (requeue),
		// after any frame the connection loop puts back itself: those were
		// handed over later, so they belong behind these.
		conn.mu.Lock()
		conn.closed = true
		unsent = append(unsent, conn.pending...)
		conn.pending = nil
		for _, it := range unsent {
			if !it.control {
				conn.leftover = append(conn.leftover, it.item)
			}
		}
		conn.mu.Unlock()
	}()
	for {
		select {
		case <-conn.stop:
			return
		case <-ping.C():
			b, err := c.encodeFrame(protocol.TypePing, protocol.Ping{TS: c.clock.Now().UnixMilli()})
			if err == nil {
				conn.submit(outItem{item: queue.Item{Type: protocol.TypePing, Payload: b}, control: true})
			}
		case <-conn.wake:
		}
		conn.mu.Lock()
		items := conn.pending
		conn.pending = nil
		conn.backlog, conn.controls = 0, 0
		conn.mu.Unlock()
		for i, it := range items {
			if c.stale(it.item) {
				continue
			}
			// A message counts as written before the write: a platform that
			// answers at once, with no acknowledgement (the realtime form),
			// must find it sent when its first chunk is read.
			om, marked := it.item.Value.(*outMsg)
			marked = marked && om.w != nil
			if marked {
				c.written(om, conn.seq)
			}
			_ = conn.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := conn.ws.WriteMessage(websocket.TextMessage, it.item.Payload); err != nil {
				if marked {
					i++ // the ledger sends it again after the reconnect (Resends)
				}
				unsent = append(unsent, items[i:]...)
				conn.fail(&ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: redactURLError(err)})
				return
			}
			c.stats.framesOut.Add(1)
			c.stats.bytesOut.Add(uint64(len(it.item.Payload)))
			c.log.Debug("miptech: frame out", "type", it.item.Type)
		}
	}
}

// stale reports whether a frame about to be written must not be: its
// sender's context ended (the sender gets that error), or its message
// already has an outcome, such as ErrChatLeft after Leave or a timeout,
// and must not reach the platform after its sender was told it failed.
func (c *Client) stale(it queue.Item) bool {
	om, ok := it.Value.(*outMsg)
	if !ok {
		return false
	}
	if om.ctx != nil && om.ctx.Err() != nil {
		c.failItem(it, om.ctx.Err())
		return true
	}
	if om.w == nil {
		return false
	}
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return c.ledger.Settled(om.wire)
}

// written records that a message's attempt reached the socket.
func (c *Client) written(om *outMsg, conn uint64) {
	now := c.clock.Now()
	c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		return l.Written(om.wire, conn, now, out)
	})
	c.wake(now.Add(c.cfg.ResponseTimeout))
}

// perConnection reports whether frames of type t belong to one connection:
// they are never deduplicated against another connection's frames (two
// connections' identical chat_joined in the same millisecond are two acks).
func perConnection(t string) bool {
	switch t {
	case protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress, protocol.TypeConnectionReady,
		protocol.TypeChatJoined, protocol.TypeChatLeft, protocol.TypeChatCreated, protocol.TypePing, protocol.TypePong:
		return true
	}
	return false
}

// handleInbound acts on one deduplicated event: connection lifecycle frames
// here, chat events in their chat.
func (c *Client) handleInbound(conn *wsConn, ev normalize.Event) {
	c.disp.enqueue(func() {
		for _, h := range handlers(c, c.onEvent) {
			h(ev)
		}
	})
	if ev.Type == protocol.TypeRateLimitExceeded || (ev.Type == protocol.TypeError && ev.RetryAfter > 0) {
		// Error frames too may ask to wait: sends wait it out.
		c.rateLimited(ev.RetryAfter)
	}
	switch ev.Type {
	case protocol.TypeConnectionEstablished:
		conn.greetOnce.Do(func() { close(conn.greeted) })
		if ev.ClientID != "" {
			c.mu.Lock()
			c.clientID = ev.ClientID
			c.mu.Unlock()
		}
		return
	case protocol.TypeInitializationProgress:
		conn.greetOnce.Do(func() { close(conn.greeted) })
		p := ProgressEvent{Phase: ev.Phase, Message: ev.Text, Time: ev.Time}
		c.disp.enqueue(func() {
			for _, h := range handlers(c, c.onProg) {
				h(p)
			}
		})
		return
	case protocol.TypeConnectionReady:
		if ev.ClientID != "" {
			c.mu.Lock()
			c.clientID = ev.ClientID
			c.mu.Unlock()
		}
		conn.readyOnce.Do(func() { close(conn.ready) })
		return
	case protocol.TypePing:
		c.sendControl(protocol.TypePong, protocol.Ping{TS: ev.PingTS})
		return
	case protocol.TypePong:
		return
	case protocol.TypeChatCreated, protocol.TypeChatJoined:
		joined := ev.Success == nil || *ev.Success
		if ev.ChatID != "" && c.chatByID(ev.ChatID) == nil {
			if ch := c.adoptChatID(ev.ChatID); ch != nil {
				if joined {
					ch.markJoined(conn)
				}
				conn.ackJoin("")
				conn.ackJoin(ev.ChatID)
				return
			}
		}
		if ch := c.chatByID(ev.ChatID); ch != nil && ev.ChatID != "" && joined {
			ch.markJoined(conn)
		}
		conn.ackJoin(ev.ChatID)
		if ev.Type == protocol.TypeChatCreated && ev.ChatID == "" {
			conn.ackJoin("")
		}
		return
	case protocol.TypeMessageReceived:
		// A degraded chat also learns its id from the acknowledgement of
		// one of its messages.
		if ev.ChatID != "" && ev.ClientMessageID != "" && c.chatByID(ev.ChatID) == nil {
			if ch := c.ownerChat(ev.ClientMessageID); ch != nil && ch.ID() == "" {
				ch.adoptID(ev.ChatID)
				conn.ackJoin("")
			}
		}
	}
	ch := c.route(ev)
	if ch == nil {
		if ev.Type == protocol.TypeError || ev.Type == protocol.TypeRateLimitExceeded {
			c.emitError(errorKindOf(ev), eventError(ev), ev.ChatID)
			return
		}
		if isChatEvent(ev.Type) {
			c.stats.isolationDrops.Add(1)
			c.log.Debug("miptech: event for no open chat dropped", "type", ev.Type, "chat_id", ev.ChatID)
		}
		return
	}
	ch.handleEvent(conn, ev)
}

// isChatEvent reports whether events of type t belong to a chat.
func isChatEvent(t string) bool {
	switch t {
	case protocol.TypeChatLeft, protocol.TypeMessageReceived, protocol.TypeProcessing,
		protocol.TypeResponseStart, protocol.TypeResponseChunk, protocol.TypeResponseComplete,
		protocol.TypeChatResponse, protocol.TypeTypingStart, protocol.TypeTypingStop,
		protocol.TypeTypingIndicator:
		return true
	}
	return false
}

// route finds the chat of an event: by chat id (an event for a chat not open
// here is dropped), else by the message it concerns, else the only chat.
func (c *Client) route(ev normalize.Event) *Chat {
	if ev.ChatID != "" {
		return c.chatByID(ev.ChatID)
	}
	for _, id := range []string{ev.ClientMessageID, ev.MessageID} {
		if ch := c.ownerChat(id); ch != nil {
			return ch
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.chats) == 1 {
		return c.chats[0]
	}
	return nil
}

// ownerChat returns the open chat of the message the ledger knows by id, or
// nil.
func (c *Client) ownerChat(id string) *Chat {
	if id == "" {
		return nil
	}
	c.lmu.Lock()
	key, ok := c.ledger.Owner(id)
	c.lmu.Unlock()
	if !ok {
		return nil
	}
	for _, ch := range c.chatList() {
		if ch.key == key {
			return ch
		}
	}
	return nil
}

// chatByID returns the open chat with this id, or nil.
func (c *Client) chatByID(id string) *Chat {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}

// adoptChatID gives id to the open chat that proposed it (realtime form),
// else to the oldest open chat that is waiting for one (degraded mode). It
// returns that chat, or nil.
func (c *Client) adoptChatID(id string) *Chat {
	chats := c.chatList()
	for _, ch := range chats {
		if ch.proposedID() == id && ch.adoptID(id) {
			return ch
		}
	}
	for _, ch := range chats {
		if ch.adoptID(id) {
			return ch
		}
	}
	return nil
}

// rateLimited records a platform request to slow down: sends wait it out.
func (c *Client) rateLimited(d time.Duration) {
	if d <= 0 {
		d = protocol.DefaultRateLimitWait
	}
	c.mu.Lock()
	if until := c.clock.Now().Add(d); until.After(c.rateUntil) {
		c.rateUntil = until
	}
	c.mu.Unlock()
}

// rateWait returns how long sends must wait for a rate limit to pass.
func (c *Client) rateWait() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rateUntil.Sub(c.clock.Now())
}

func errorKindOf(ev normalize.Event) ErrorKind {
	if ev.Type == protocol.TypeRateLimitExceeded || ev.RetryAfter > 0 {
		return ErrorRateLimit
	}
	return ErrorProcessing
}

// eventError turns an error or rate-limit frame into a typed error: a
// *RateLimitError for a frame that asks to wait (wrapping the
// *PlatformError of an error frame), else a *PlatformError.
func eventError(ev normalize.Event) error {
	if ev.Type == protocol.TypeRateLimitExceeded {
		d := ev.RetryAfter
		if d <= 0 {
			d = protocol.DefaultRateLimitWait
		}
		return &RateLimitError{RetryAfter: d}
	}
	pe := &PlatformError{Code: ev.Code, Category: ev.Category, Message: ev.Text, MessageID: ev.MessageID,
		RetryAfter: ev.RetryAfter, Retryable: ev.Retryable}
	if ev.RetryAfter > 0 {
		return &RateLimitError{RetryAfter: ev.RetryAfter, Err: pe}
	}
	return pe
}
