package client

import (
	"bytes"
	"errors"
	"net"
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

// wsConn is one WebSocket connection: its reader goroutine (inbound path),
// and its writer (the only code that writes frames), which runs on a
// goroutine of its own only while there is something to write.
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
	held     []outItem             // messages the writer holds until their chat has none on the wire (registry.Ledger.Writable)
	backlog  int                   // bytes of the queueable frames handed to the writer and not written yet
	pongs    int                   // pong frames in pending
	closed   bool                  // the connection takes no more frames: it is being torn down
	leftover []queue.Item[*outMsg] // taken by the writer and not written; requeued at teardown
	writing  bool                  // a writer runs (Client.write); at most one does
	kicked   bool                  // the running writer is to look at the held messages again
	pingDue  bool                  // the keepalive's ping is to be written
	pingT    clock.Func            // the keepalive timer (Client.ping)
	spawn    func()                // starts Client.write on a goroutine of its own, owned by the connection

	stop      chan struct{} // closed when the connection is torn down: stops the reader's waits
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
	acks   map[string][]chan struct{} // join acknowledgements awaited, by chat id ("" for create), oldest first; nil when none
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
	w.wakeLocked()
	w.mu.Unlock()
	return true, false
}

// wakeLocked makes the writer look at what it was handed: the running one
// on its next pass, else a new one. Called with w.mu held.
func (w *wsConn) wakeLocked() {
	switch {
	case w.writing:
		w.kicked = true
	case !w.closed:
		w.writing = true
		w.spawn()
	}
}

// remove takes the queueable frames that match out of what waits for the
// writer.
func (w *wsConn) remove(match func(queue.Item[*outMsg]) bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = w.removeFrom(w.pending, match)
	w.held = w.removeFrom(w.held, match)
}

// removeFrom returns items without the queueable frames that match out.
// Called with w.mu held.
func (w *wsConn) removeFrom(items []outItem, match func(queue.Item[*outMsg]) bool) []outItem {
	kept := items[:0]
	for _, it := range items {
		if !it.control && match(it.item) {
			w.backlog -= len(it.item.Payload)
			continue
		}
		kept = append(kept, it)
	}
	clear(items[len(kept):])
	return kept
}

// kick wakes the writer to look at the messages it holds again: the running
// one (which may have them in hand) on its next pass, else a new one if
// any is held.
func (w *wsConn) kick() {
	w.mu.Lock()
	if w.writing || len(w.held) > 0 {
		w.wakeLocked()
	}
	w.mu.Unlock()
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

// shutdown closes the socket, stops the keepalive and the writer, and makes
// the connection take no more frames (their senders queue them).
func (w *wsConn) shutdown() {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.pingT.Stop()
		w.mu.Unlock()
		close(w.stop)
	})
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
	if w.acks == nil {
		w.acks = map[string][]chan struct{}{}
	}
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
		if len(w.acks) == 0 {
			w.acks = nil // a map keeps its buckets when emptied: an idle connection holds none
		}
	} else {
		w.acks[chatID] = waits[1:]
	}
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
		if c.passOver(data) {
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

// pongName is the type name of the keepalive's answer, as it appears in a
// pong frame.
var pongName = []byte(`"pong"`)

// passOver reports whether the reader passes over a frame without
// normalizing it: a well-formed pong, the answer to the keepalive's ping,
// which asks nothing of the client, when no raw-event subscriber (OnEvent)
// wants every event. An idle connection reads one per PingInterval.
func (c *Client) passOver(data []byte) bool {
	if len(data) > 512 || !bytes.Contains(data, pongName) || c.onEvent.any() {
		return false
	}
	t, err := normalize.Type(data)
	return err == nil && t == protocol.TypePong
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
