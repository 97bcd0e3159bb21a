package client

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// Client is one tenant's connection to the platform: the WebSocket manager.
// It connects in four steps (health, chat creation, dial and ready, joins),
// keeps the connection state machine, reconnects with jittered backoff by the
// close-code policy, queues outbound frames while down, deduplicates and
// normalizes inbound frames, and delivers events to callbacks on one
// dispatcher goroutine. Conversations are Chats opened on it.
//
// A Client is safe for concurrent use. Call Close to release it.
type Client struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock
	rest  *REST
	dedup *registry.Dedup
	q     *queue.Queue
	disp  *dispatcher
	stats counters

	ctx    context.Context // lifetime; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // supervisor, housekeeping, connection goroutines

	timers timers // the one timer for every deadline of the client

	// lmu guards the ledger, which decides every message's fate, and the
	// waiters it feeds. Lock order: lmu, then a Chat's mu, then mu.
	lmu     sync.Mutex
	ledger  *registry.Ledger
	scratch []registry.Decision
	chatSeq atomic.Uint64 // numbers the chats (their ledger keys)
	connSeq atomic.Uint64 // numbers the connections, from 1
	fs      formState     // the protocol form and session tokens (protocolform.go)

	mu          sync.Mutex
	state       State
	stateCh     chan struct{} // closed and replaced on every state change
	lastErr     error
	running     bool // a supervisor goroutine is active
	conn        *wsConn
	clientID    string
	chats       []*Chat          // open chats, in opening order
	byID        map[string]*Chat // open chats that have an id
	closed      bool
	connectedAt time.Time
	rateUntil   time.Time
	maxLen      int   // message length limit learned from the platform
	connErr     error // last connection error, cleared on ready
	closeOnce   sync.Once
	closeDone   chan struct{}

	hmu      sync.Mutex
	hseq     int
	onState  map[int]func(StateChange)
	onError  map[int]func(ErrorEvent)
	onProg   map[int]func(ProgressEvent)
	onEvent  map[int]func(normalize.Event)
	onOrphan map[int]func(registry.Message)
}

// ErrorKind classifies an ErrorEvent, as the web client's useChat does.
type ErrorKind int

// Error kinds.
const (
	// ErrorConnection: a connection attempt failed or a connection was lost.
	ErrorConnection ErrorKind = iota + 1
	// ErrorProcessing: the platform failed to answer a message, or a reply
	// timed out.
	ErrorProcessing
	// ErrorValidation: a message was refused before sending.
	ErrorValidation
	// ErrorRateLimit: the platform asked the client to slow down.
	ErrorRateLimit
	// ErrorProtocol: a frame could not be decoded, or a callback panicked.
	ErrorProtocol
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case ErrorConnection:
		return "connection"
	case ErrorProcessing:
		return "processing"
	case ErrorValidation:
		return "validation"
	case ErrorRateLimit:
		return "rate_limit"
	case ErrorProtocol:
		return "protocol"
	}
	return "unknown"
}

// ErrorEvent is delivered to OnError callbacks.
type ErrorEvent struct {
	// Kind classifies the error.
	Kind ErrorKind
	// Err is the error.
	Err error
	// ChatID is the chat concerned, if any.
	ChatID string
	// Time is when it happened.
	Time time.Time
}

// ProgressEvent reports a platform initialization phase while connecting.
type ProgressEvent struct {
	// Phase is protocol.PhaseStarting, PhaseServices or PhaseComplete.
	Phase string
	// Message is the platform's description.
	Message string
	// Time is when it arrived.
	Time time.Time
}

// New returns a Client for cfg. It does not connect: call Connect, or open a
// Chat and send, which connects lazily. It returns a *ConfigError when cfg is
// invalid.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg:       cfg,
		log:       cfg.Logger,
		clock:     cfg.clock,
		stateCh:   make(chan struct{}),
		byID:      map[string]*Chat{},
		closeDone: make(chan struct{}),
		onState:   map[int]func(StateChange){},
		onError:   map[int]func(ErrorEvent){},
		onProg:    map[int]func(ProgressEvent){},
		onEvent:   map[int]func(normalize.Event){},
		onOrphan:  map[int]func(registry.Message){},
	}
	c.rest = newREST(cfg)
	c.initForm()
	c.ledger = registry.NewLedger(registry.LedgerConfig{
		ResponseTimeout: cfg.ResponseTimeout,
		LateWindow:      lateReplyWindow,
		MaxReplyBytes:   cfg.MaxReplyBytes,
		OrphanAge:       cfg.OrphanAge,
		MaxRetries:      cfg.MessageRetries,
	})
	c.dedup = registry.NewDedup(cfg.DedupSize, cfg.DedupWindow, c.clock.Now)
	c.q = queue.New(queue.Config{Capacity: cfg.QueueSize, Policy: cfg.QueuePolicy, TTL: cfg.QueueTTL, Now: c.clock.Now})
	c.disp = newDispatcher(cfg.DispatchBuffer, c.log)
	c.disp.byteLimit = cfg.DispatchBytes
	c.disp.onPanic = func(err error) { c.emitError(ErrorProtocol, err, "") }
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.stats.init()
	go c.disp.run() // owned by Close through c.disp.shutdown and c.disp.done
	c.timers.kick = make(chan struct{}, 1)
	c.wg.Add(1)
	go c.housekeeping()
	return c, nil
}

// REST returns the REST API client, sharing this Client's configuration.
func (c *Client) REST() *REST { return c.rest }

// State returns the current connection state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// ClientID returns the client id the platform assigned on the last
// connection, or "".
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// Connect connects the client and blocks until it is ready, the connection
// fails, or ctx ends. Attempts go on in the background when ctx ends first.
// On a client in state failed or disconnected it starts a new series of
// attempts; on a connecting or ready client it only waits. It returns nil
// when ready, an error matching ErrFailed (wrapping the last *ConnectError)
// when attempts stopped, ErrClosed after Close, or ctx's error.
func (c *Client) Connect(ctx context.Context) error {
	return c.connect(ctx, c.start)
}

// connectLazy is Connect for a first use (a message posted over REST): it
// does not start a failed client again, and returns its error instead.
func (c *Client) connectLazy(ctx context.Context) error {
	return c.connect(ctx, c.startLazy)
}

func (c *Client) connect(ctx context.Context, start func() error) error {
	if err := start(); err != nil {
		return err
	}
	for {
		c.mu.Lock()
		st, ch, lastErr, closed := c.state, c.stateCh, c.lastErr, c.closed
		c.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case st == StateReady:
			return nil
		case st == StateFailed:
			return lastErr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitForState blocks until the client is in state s or ctx ends. It does
// not start a connection.
func (c *Client) WaitForState(ctx context.Context, s State) error {
	for {
		c.mu.Lock()
		st, ch, closed := c.state, c.stateCh, c.closed
		c.mu.Unlock()
		if st == s {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// start launches the supervisor goroutine unless one is running. It is
// Connect's: a failed client starts again only there.
func (c *Client) start() error {
	return c.startIf(true)
}

// startLazy starts a connection for a first use (a send, typing, a chat
// opened) unless one is running or the client is failed, which is terminal
// until Connect.
func (c *Client) startLazy() error {
	return c.startIf(false)
}

func (c *Client) startIf(fromFailed bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.running || (c.state == StateFailed && !fromFailed) {
		return nil
	}
	// The first transition happens here, so that a caller that starts a
	// connection never sees the state of the previous one.
	if !c.setStateLocked(StateConnecting, nil, 1, 0) {
		return nil
	}
	c.running = true
	c.wg.Add(1)
	go c.supervise()
	return nil
}

// setState moves the state machine and enqueues the change for callbacks.
// An impossible transition is a bug: it is logged and reported, and the
// state is left unchanged.
func (c *Client) setState(to State, reason error, attempt int, retryIn time.Duration) bool {
	c.mu.Lock()
	ok := c.setStateLocked(to, reason, attempt, retryIn)
	c.mu.Unlock()
	return ok
}

func (c *Client) setStateLocked(to State, reason error, attempt int, retryIn time.Duration) bool {
	from := c.state
	if c.closed && to != StateDisconnected {
		return false
	}
	if !canTransition(from, to) {
		err := transitionError{from, to}
		c.log.Error("miptech: " + err.Error())
		c.stats.badTransitions.Add(1)
		return false
	}
	c.state = to
	if to == StateFailed {
		c.lastErr = reason
	}
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	ch := StateChange{Previous: from, Current: to, Reason: reason, Attempt: attempt, RetryIn: retryIn, Time: c.clock.Now()}
	c.log.Info("miptech: state", "from", from.String(), "to", to.String(), "attempt", attempt, "retry_in", retryIn, "reason", errString(reason))
	c.disp.enqueue(func() {
		for _, h := range c.stateHandlers() {
			h(ch)
		}
	})
	return true
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// OnStateChange registers f for every state change. It returns a function
// that unregisters f. Safe to call at any time, including from a callback.
func (c *Client) OnStateChange(f func(StateChange)) (unsubscribe func()) {
	return register(c, c.onState, f)
}

// OnError registers f for connection-level and chat errors.
func (c *Client) OnError(f func(ErrorEvent)) (unsubscribe func()) {
	return register(c, c.onError, f)
}

// OnProgress registers f for the platform's initialization phases.
func (c *Client) OnProgress(f func(ProgressEvent)) (unsubscribe func()) {
	return register(c, c.onProg, f)
}

// OnEvent registers f for every inbound event after normalization and
// deduplication (the raw-event hook), before routing.
func (c *Client) OnEvent(f func(normalize.Event)) (unsubscribe func()) {
	return register(c, c.onEvent, f)
}

// OnOrphan registers f for user messages never acknowledged by the platform
// within Config.OrphanAge. Each orphan is reported once.
func (c *Client) OnOrphan(f func(registry.Message)) (unsubscribe func()) {
	return register(c, c.onOrphan, f)
}

func register[T any](c *Client, m map[int]T, f T) func() {
	c.hmu.Lock()
	c.hseq++
	id := c.hseq
	m[id] = f
	c.hmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.hmu.Lock()
			delete(m, id)
			c.hmu.Unlock()
		})
	}
}

// handlers returns the callbacks registered in m, in registration order
// (ids increase), in time proportional to their number.
func handlers[T any](c *Client, m map[int]T) []T {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	switch len(m) {
	case 0:
		return nil
	case 1:
		for _, f := range m {
			return []T{f}
		}
	}
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

func (c *Client) stateHandlers() []func(StateChange) { return handlers(c, c.onState) }

// emitError enqueues an ErrorEvent for the client's OnError callbacks.
func (c *Client) emitError(kind ErrorKind, err error, chatID string) {
	if kind == ErrorConnection {
		c.mu.Lock()
		c.connErr = err
		c.mu.Unlock()
	}
	ev := ErrorEvent{Kind: kind, Err: err, ChatID: chatID, Time: c.clock.Now()}
	c.disp.enqueue(func() {
		for _, h := range handlers(c, c.onError) {
			h(ev)
		}
	})
}

// Close closes the connection with a normal close (1000), closes the idle
// connections of the SDK's own HTTP transport, fails every waiter
// and queued message with ErrClosed, runs the callbacks of the events that
// arrived before it (the last being the change to disconnected), stops every
// goroutine and returns when they have exited, or when ctx ends (then with
// ctx's error, abandoning the callbacks not yet run). No callback starts
// after Close returns. Close is idempotent and safe from any
// goroutine, including a callback; called from a callback it returns when
// every other goroutine has exited, and the callbacks still queued behind
// that one are dropped.
func (c *Client) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		if c.state != StateDisconnected {
			c.setStateLocked(StateDisconnected, ErrClosed, 0, 0)
		}
		conn := c.conn
		chats := append([]*Chat(nil), c.chats...)
		c.mu.Unlock()
		c.rest.closed.Store(true) // a REST call ending from now on keeps no idle connection
		if conn != nil {
			conn.closeNormal() // before cancel, which lets serve close the socket
		}
		c.cancel()
		c.disp.shutdown()
		live, expired := c.q.Drain()
		for _, it := range live {
			c.failItem(it, ErrClosed)
		}
		for _, r := range expired {
			c.failItem(r.Item, ErrClosed)
		}
		for _, ch := range chats {
			ch.shutdown(ErrClosed)
		}
		go func() {
			c.wg.Wait()
			// A connection torn down concurrently may have put frames
			// back after the drain above: their senders get ErrClosed too.
			live, expired := c.q.Drain()
			for _, it := range live {
				c.failItem(it, ErrClosed)
			}
			for _, r := range expired {
				c.failItem(r.Item, ErrClosed)
			}
			// The SDK's own transport keeps no keep-alive connection (nor
			// its goroutines) past Close; a user's HTTP client is left alone.
			c.rest.closeIdle()
			close(c.closeDone)
		}()
	})
	select {
	case <-c.closeDone:
	case <-ctx.Done():
		c.disp.abandon.Store(true)
		return ctx.Err()
	}
	return c.disp.wait(ctx)
}

// lastConnectionError returns the last connection error since the last
// ready state, or nil.
func (c *Client) lastConnectionError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connErr
}

// isClosed reports whether Close was called.
func (c *Client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	st, at := c.state, c.connectedAt
	c.mu.Unlock()
	s := c.stats.snapshot()
	s.State = st
	s.ConnectedAt = at
	s.Protocol = c.protocolForm()
	qs := c.q.Stats()
	s.QueueLength = qs.Len
	s.QueueRejected = qs.Rejected
	s.QueueEvicted = qs.Evicted
	s.QueueExpired = qs.Expired
	s.DuplicatesDropped = c.dedup.Dropped()
	s.DispatcherStalls = c.disp.stalls.Load()
	return s
}

func (c *Client) chatList() []*Chat {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Chat(nil), c.chats...)
}

// outMsg is the Item.Value of a queued or in-flight chat message: whose
// attempt it is.
type outMsg struct {
	chat *Chat
	w    *waiter
	wire string // the attempt's client_message_id
	ctx  context.Context
}

// failItem tells the sender of an item that it will not be sent. An item
// that expired at its sender's context deadline fails with the context's
// error (context.DeadlineExceeded), whichever of the queue and the context
// saw the deadline first; ErrExpired is only for Config.QueueTTL.
func (c *Client) failItem(it queue.Item, err error) {
	om, ok := it.Value.(*outMsg)
	if !ok || om.w == nil || it.Type != protocol.TypeChatMessage {
		return
	}
	if om.ctx != nil && errors.Is(err, ErrExpired) {
		if cerr := om.ctx.Err(); cerr != nil {
			err = cerr
		} else if dl, ok := om.ctx.Deadline(); ok && !it.Deadline.IsZero() && !it.Deadline.Before(dl) {
			err = context.DeadlineExceeded
		}
	}
	c.failWire(om, err)
}

// connSeqNow returns the number of the current connection.
func (c *Client) connSeqNow() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn.seq
	}
	return c.connSeq.Load()
}

// send writes a queueable frame directly when ready, else queues it. It
// starts a connection when none is running (lazy connect).
func (c *Client) send(it queue.Item) error {
	for direct := true; ; direct = false {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if c.state == StateFailed {
			// Terminal until Connect: the caller learns why at once.
			err := c.lastErr
			c.mu.Unlock()
			return err
		}
		if direct && c.state == StateReady && c.conn != nil {
			conn := c.conn
			c.mu.Unlock()
			ok, full := conn.offer(outItem{item: it}, c.cfg.QueueSize)
			if full {
				// The platform is not taking frames as fast as they are
				// sent: the writer's backlog has the queue's bound.
				c.stats.queueRejected.Add(1)
				return ErrQueueFull
			}
			if ok {
				return nil
			}
			// The connection stopped taking frames: its loss is being
			// handled, and the queue is flushed on the next connection.
			continue
		}
		removed, err := c.q.Push(it)
		running := c.running
		c.mu.Unlock()
		if d, ok := c.q.NextDeadline(); ok {
			c.wake(d)
		}
		for _, r := range removed {
			c.failItem(r.Item, r.Err)
		}
		if err != nil {
			c.stats.queueRejected.Add(1)
			return err
		}
		if !running {
			_ = c.startLazy()
		}
		return nil
	}
}

// sendControl writes a non-queueable frame (join, leave, pong) when a socket
// is up; it is dropped otherwise, since joins are re-sent on every connect.
func (c *Client) sendControl(t string, payload any) {
	c.mu.Lock()
	conn := c.conn
	clientID := c.clientID
	c.mu.Unlock()
	if conn == nil {
		return
	}
	f, err := protocol.NewFrame(t, payload, c.clock.Now().UnixMilli(), clientID)
	if err != nil {
		c.log.Error("miptech: encode frame", "type", t, "err", err)
		return
	}
	b, err := f.Encode()
	if err != nil {
		c.log.Error("miptech: encode frame", "type", t, "err", err)
		return
	}
	if _, full := conn.offer(outItem{item: queue.Item{Type: t, Payload: b}, control: true}, 0); full {
		c.log.Warn("miptech: control frame dropped; the platform is not reading", "type", t)
	}
}

// encodeFrame builds the bytes of an outbound frame.
func (c *Client) encodeFrame(t string, payload any) ([]byte, error) {
	c.mu.Lock()
	clientID := c.clientID
	c.mu.Unlock()
	f, err := protocol.NewFrame(t, payload, c.clock.Now().UnixMilli(), clientID)
	if err != nil {
		return nil, err
	}
	return f.Encode()
}

// counters are the client's statistics.
type counters struct {
	reconnects, attempts                        atomic.Uint64
	framesIn, framesOut, bytesIn, bytesOut      atomic.Uint64
	sent, acknowledged, answered, failed        atomic.Uint64
	queueRejected, isolationDrops, decodeErrors atomic.Uint64
	badTransitions                              atomic.Uint64
	replyLatency, firstChunkLatency             *latencies
}

func (s *counters) init() {
	s.replyLatency = newLatencies(1024)
	s.firstChunkLatency = newLatencies(1024)
}

func (s *counters) snapshot() Stats {
	return Stats{
		Reconnects:           s.reconnects.Load(),
		Attempts:             s.attempts.Load(),
		FramesIn:             s.framesIn.Load(),
		FramesOut:            s.framesOut.Load(),
		BytesIn:              s.bytesIn.Load(),
		BytesOut:             s.bytesOut.Load(),
		MessagesSent:         s.sent.Load(),
		MessagesAcknowledged: s.acknowledged.Load(),
		MessagesAnswered:     s.answered.Load(),
		MessagesFailed:       s.failed.Load(),
		IsolationDrops:       s.isolationDrops.Load(),
		DecodeErrors:         s.decodeErrors.Load(),
		ReplyLatency:         s.replyLatency.summary(),
		FirstChunkLatency:    s.firstChunkLatency.summary(),
	}
}
