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
	backlog  int                   // bytes of the queueable frames in pending
	pongs    int                   // pong frames in pending
	closed   bool                  // the writer stopped taking items
	leftover []queue.Item[*outMsg] // taken by the writer and not written; requeued at teardown
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
	item    queue.Item[*outMsg]
	control bool
}

// maxControlBacklog bounds the pongs waiting for the writer: a platform that
// pings and stops reading cannot make them pile up. The other control
// frames are bounded by what the user does (a join or leave per chat) or by
// the client's own timer (its ping), and are never dropped: a join dropped
// would leave its chat unable to send.
const maxControlBacklog = 64

// submit hands an item to the writer. It returns false when the connection
// no longer takes items (then the caller queues it).
func (w *wsConn) submit(it outItem) bool {
	ok, _ := w.offer(it, 0)
	return ok
}

// offer hands an item to the writer unless the bytes of the queueable
// frames waiting for it would pass limit (0: no limit), so that a platform
// that stops reading makes Send fail with ErrQueueFull instead of growing
// memory. A pong beyond maxControlBacklog is dropped (full is true). ok is false when the connection no longer takes items.
func (w *wsConn) offer(it outItem, limit int) (ok, full bool) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return false, false
	}
	switch size := len(it.item.Payload); {
	case it.item.Type == protocol.TypePong && w.pongs >= maxControlBacklog,
		!it.control && limit > 0 && w.backlog > 0 && w.backlog+size > limit:
		w.mu.Unlock()
		return true, true
	case it.item.Type == protocol.TypePong:
		w.pongs++
	case it.control:
	default:
		w.backlog += size
	}
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
func (w *wsConn) remove(match func(queue.Item[*outMsg]) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	kept := w.pending[:0]
	for _, it := range w.pending {
		if !it.control && match(it.item) {
			w.backlog -= len(it.item.Payload)
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
			eventHook(c, c.cfg.Hooks.ProtocolError, err)
			continue
		}
		if ev, err = c.admit(ev); err != nil { // credentials redacted, chat id checked
			c.stats.decodeErrors.Add(1)
			c.log.Warn("miptech: dropped a frame that breaks the protocol", "err", err)
			eventHook(c, c.cfg.Hooks.ProtocolError, err)
			continue
		}
		c.log.Debug("miptech: frame in", "type", ev.Type, "chat_id", ev.ChatID, "message_id", ev.MessageID)
		// Wait for room before the key is recorded: an event dropped here
		// because the connection is going must not make a later copy of it
		// a duplicate.
		if !c.disp.waitRoom(conn.stop) {
			return // the connection or the client is shutting down
		}
		if c.deduplicated(ev) && c.dedup.Seen(ev.Key) {
			c.log.Debug("miptech: duplicate dropped", "type", ev.Type, "key", ev.Key)
			eventHook(c, c.cfg.Hooks.DuplicateDropped, DuplicateInfo{Type: ev.Type, ChatID: ev.ChatID})
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
				conn.submit(outItem{item: queue.Item[*outMsg]{Type: protocol.TypePing, Payload: b}, control: true})
			}
		case <-conn.wake:
		}
		conn.mu.Lock()
		items := conn.pending
		conn.pending = nil
		conn.backlog, conn.pongs = 0, 0
		conn.mu.Unlock()
		for i, it := range items {
			if c.stale(it.item) {
				continue
			}
			// A message counts as written before the write: a platform that
			// answers at once, with no acknowledgement (the realtime form),
			// must find it sent when its first chunk is read.
			om := it.item.Value
			marked := om != nil && om.w != nil
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
func (c *Client) stale(it queue.Item[*outMsg]) bool {
	om := it.Value
	if om == nil {
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
