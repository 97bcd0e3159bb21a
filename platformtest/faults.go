package platformtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/protocol"
)

// ErrNoConnection is returned by SendRaw for a connection id that is not
// live.
var ErrNoConnection = errors.New("platformtest: no live connection with that id; see Server.Connections")

// counter is a fault armed for the next n occurrences, with a value (a
// status or close code; 1 for faults without one).
type counter struct {
	n, value int
}

// faults holds the fault switches. Guarded by Server.mu.
type faults struct {
	refuse        counter
	refuseClose   counter
	failCreate    counter
	rateLimit     counter
	rateLimitREST counter
	dropAfterMsg  counter
	dropAfterRecv counter
	retryAfter    time.Duration
	noHealthz     bool
}

// take consumes one occurrence of c: its value, or 0 when c is not armed.
func (f *faults) take(c *counter) int {
	if c.n <= 0 {
		return 0
	}
	c.n--
	return c.value
}

// arm sets a counter; it replaces what was armed before. n ≤ 0 disarms.
func (s *Server) arm(c *counter, n, value int) {
	s.mu.Lock()
	*c = counter{n: max(n, 0), value: value}
	s.mu.Unlock()
}

// DropAll closes every live WebSocket connection with close code code and
// its usual reason text (for example 1001 "server restarting", 1012
// "service restart: platform initializing"). Code 1006 cannot travel in a
// close frame: DropAll(1006) does what DropAllAbrupt does. It returns once
// the close frames are written; the connections end when the clients answer
// (within 1 s). The server keeps accepting new connections.
func (s *Server) DropAll(code int) {
	s.mu.Lock()
	conns := s.liveConnsLocked(false)
	s.mu.Unlock()
	s.shutdownAll(conns, code)
}

// shutdownAll closes conns with close code code, in parallel, and returns
// once the close frames are written.
func (s *Server) shutdownAll(conns []*conn, code int) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.shutdown(code, closeReason(code), closeWait, closeWait) })
	}
	wg.Wait()
}

// DropAllAbrupt resets every live TCP connection: no close frame and no FIN
// (SO_LINGER 0, then close), as a crashed server or a network fault does.
// Clients see a read error (close code 1006).
func (s *Server) DropAllAbrupt() {
	s.mu.Lock()
	conns := s.liveConnsLocked(false)
	s.mu.Unlock()
	for _, c := range conns {
		c.reset()
	}
}

// RefuseHandshakes answers the next n WebSocket handshake attempts, whatever
// their query, with HTTP status (a 429 carries Retry-After when
// SetRetryAfter is set) and a platform error body. It replaces what was
// armed before; n ≤ 0 disarms.
func (s *Server) RefuseHandshakes(n, status int) { s.arm(&s.faults.refuse, n, status) }

// RefuseHandshakesWithClose makes the next n handshakes that would be
// accepted complete (101) and then closes each connection at once, before
// any frame, with close code code (1006: a TCP reset). It replaces what was
// armed before; n ≤ 0 disarms.
func (s *Server) RefuseHandshakesWithClose(n, code int) { s.arm(&s.faults.refuseClose, n, code) }

// SetRetryAfter sets the wait the server asks for when it rate-limits: the
// Retry-After header of 429 answers (see RetryAfterHeader), retry_after (in
// seconds) in their bodies and in rate_limit_exceeded frames. Zero sends
// none.
func (s *Server) SetRetryAfter(d time.Duration) {
	s.mu.Lock()
	s.faults.retryAfter = max(d, 0)
	s.mu.Unlock()
}

// FailChatCreations makes the next n POST /api/v1/chat/ answer HTTP status
// with a platform error body (error_code "chat_creation_failed"). In the
// realtime forms, where chats are created over the WebSocket, the next n
// join_chat frames that would create a chat are answered with an error
// frame instead (code CodeChatCreationFailed; status is unused) and join
// nothing. It replaces what was armed before; n ≤ 0 disarms.
func (s *Server) FailChatCreations(n, status int) { s.arm(&s.faults.failCreate, n, status) }

// RateLimit answers the next n chat_message frames with rate_limit_exceeded
// {retry_after, client_message_id, chat_id} instead of processing them (they
// are neither acknowledged nor stored). It replaces what was armed before;
// n ≤ 0 disarms.
func (s *Server) RateLimit(n int) { s.arm(&s.faults.rateLimit, n, 1) }

// RateLimitREST answers the next n REST requests, whatever their endpoint
// (health checks included), with 429, a Retry-After header when
// SetRetryAfter is set, and a platform error body. WebSocket handshakes are
// not counted (see RefuseHandshakes). It replaces what was armed before;
// n ≤ 0 disarms.
func (s *Server) RateLimitREST(n int) { s.arm(&s.faults.rateLimitREST, n, 1) }

// DisableHealthz makes GET /healthz answer 404 while on is true, as some
// deployments do, so that a client falls back to GET /api/v1/health.
func (s *Server) DisableHealthz(on bool) {
	s.mu.Lock()
	s.faults.noHealthz = on
	s.mu.Unlock()
}

// DropAfterChatMessage drops, for each of the next n chat_message frames,
// the connection that sent it, at once and without a close frame: the frame
// is recorded but not processed (no message_received, not stored, no
// reply). The connection ends with a FIN (a read error for the client);
// frames it sent after that chat_message are neither processed nor
// recorded. It replaces what was armed before; n ≤ 0 disarms.
func (s *Server) DropAfterChatMessage(n int) { s.arm(&s.faults.dropAfterMsg, n, 1) }

// DropAfterReceived drops, for each of the next n chat_message frames, the
// connection that sent it right after writing message_received, without a
// close frame (a FIN: the client reads message_received, then a read error).
// The message is still answered and the reply stored in history, but it is
// delivered only to other sockets joined to the chat, if any: to nobody
// when the sender was the only one, as the real platform does when no
// socket has joined. Frames the connection sent after that chat_message are
// neither processed nor recorded. It replaces what was armed before; n ≤ 0
// disarms.
func (s *Server) DropAfterReceived(n int) { s.arm(&s.faults.dropAfterRecv, n, 1) }

// Stall stops the server reading from and writing to every connection
// while on is true, new connections included (it still accepts them):
// frames, pongs and answers to WebSocket-level pings are held, so a client's
// dead-connection detection must fire. Stall(false) resumes: held frames are
// then read and answered, in order. DropAll, DropAllAbrupt and Close work
// while stalled.
func (s *Server) Stall(on bool) { s.setGate(&s.stall, on) }

// Ping sends a server ping frame {"type":"ping","data":{"ts":<ms>}} to every
// live connection ({"type":"ping"} alone to those of ProtocolTenantApp);
// clients must answer with pong (see FramesOfType).
func (s *Server) Ping() {
	s.mu.Lock()
	conns := s.liveConnsLocked(false)
	dup := s.dup
	s.mu.Unlock()
	for _, c := range conns {
		if c.proto == ProtocolTenantApp {
			c.enqueueFrame(protocol.TypePing, []byte(`{"type":"ping"}`), dup)
			continue
		}
		c.send(event{typ: protocol.TypePing, data: map[string]any{"ts": time.Now().UnixMilli()}})
	}
}

// Inject sends frame, as given, to every live connection, joined to the chat
// or not, of any tenant: for example an event of a chat the client did not
// join. When chatID is not empty and the frame names no chat id (chat_id or
// chatId, at the top level or in data), data.chat_id is set to chatID; the
// caller's map is not modified. Nothing else is added (no timestamp). It
// panics if frame does not encode as JSON.
func (s *Server) Inject(chatID string, frame map[string]any) {
	frame = maps.Clone(frame)
	if frame == nil {
		frame = map[string]any{}
	}
	data, _ := frame["data"].(map[string]any)
	named := frame["chat_id"] != nil || frame["chatId"] != nil || (data != nil && (data["chat_id"] != nil || data["chatId"] != nil))
	if chatID != "" && !named {
		data = maps.Clone(data)
		if data == nil {
			data = map[string]any{}
		}
		data["chat_id"] = chatID
		frame["data"] = data
	}
	b, err := json.Marshal(frame)
	if err != nil {
		panic(fmt.Sprintf("platformtest: Inject: frame does not encode as JSON: %v", err))
	}
	typ, _ := frame["type"].(string)
	s.mu.Lock()
	conns := s.liveConnsLocked(false)
	s.mu.Unlock()
	for _, c := range conns {
		c.enqueueFrame(typ, b, false)
	}
}

// SendRaw queues data as one WebSocket message of msgType
// (websocket.TextMessage or websocket.BinaryMessage) on the live connection
// connID, after the frames already queued: malformed JSON, binary or
// oversized frames for robustness tests. It returns ErrNoConnection when the
// connection is not live, and an error for another message type. It does
// not wait for the write.
func (s *Server) SendRaw(connID string, msgType int, data []byte) error {
	if msgType != websocket.TextMessage && msgType != websocket.BinaryMessage {
		return fmt.Errorf("platformtest: SendRaw: message type %d is neither text (1) nor binary (2)", msgType)
	}
	s.mu.Lock()
	c, ok := s.conns[connID]
	live := ok && !c.dead
	s.mu.Unlock()
	if !live {
		return fmt.Errorf("%w: %q", ErrNoConnection, connID)
	}
	c.enqueue(outItem{kind: outFrame, msgType: msgType, data: append([]byte(nil), data...), typ: "raw"})
	return nil
}
