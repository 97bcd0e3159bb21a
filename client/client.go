package client

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/normalize"
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
	q     *queue.Queue[*outMsg]
	disp  *dispatcher
	stats counters

	ctx    context.Context // lifetime; cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the connection loop, the connection goroutines, recovery

	timers timers // the one timer for every deadline of the client

	// lmu guards the ledger, which decides every message's fate, and the
	// waiters it feeds. Lock order: lmu, then a Chat's mu, then mu, then
	// chats.mu.
	lmu     sync.Mutex
	ledger  *registry.Ledger
	scratch []registry.Decision
	chatSeq atomic.Uint64 // numbers the chats (their ledger keys)
	connSeq atomic.Uint64 // numbers the connections, from 1
	fs      formState     // the protocol form and session tokens (protocolform.go)

	// Values read on hot paths, each its own owner: the client id the
	// platform assigned (stamped on every frame), the message length limit
	// it announced, and until when it asked sends to wait (Unix ns).
	clientID  atomic.Pointer[string]
	maxLen    atomic.Int64
	rateUntil atomic.Int64

	// mu guards the connection's state, and nothing else: the state machine
	// (state, stateCh, lastErr), the connection loop (running, conn,
	// connectedAt, connErr, permErr) and closed.
	mu          sync.Mutex
	state       State
	stateCh     chan struct{} // closed and replaced on every state change
	lastErr     error
	running     bool // a supervisor goroutine is active
	conn        *wsConn
	closed      bool
	connectedAt time.Time
	connErr     error // last connection error, cleared on ready
	permErr     error // an error retrying will not fix, of a RetryForever client not yet ready
	closeOnce   sync.Once
	closeDone   chan struct{}

	chats chatSet // the open chats

	onState  hooks[func(StateChange)]
	onError  hooks[func(ErrorEvent)]
	onProg   hooks[func(ProgressEvent)]
	onEvent  hooks[func(normalize.Event)]
	onOrphan hooks[func(registry.Message)]
}

// New returns a Client for cfg. It does not connect: call Connect, or open a
// Chat and send, which connects lazily. It returns a *ConfigError when cfg is
// invalid.
func New(cfg Config) (*Client, error) {
	defaultURL := cfg.APIURL == ""
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if defaultURL {
		cfg.Logger.Info("miptech: no Config.APIURL; connecting to the local default", "url", DefaultAPIURL)
	}
	c := &Client{
		cfg:       cfg,
		log:       cfg.Logger,
		clock:     cfg.clock,
		stateCh:   make(chan struct{}),
		closeDone: make(chan struct{}),
	}
	c.rest = newREST(&c.cfg)
	c.initForm()
	c.ledger = registry.NewLedger(registry.LedgerConfig{
		ResponseTimeout: cfg.ResponseTimeout,
		LateWindow:      lateReplyWindow,
		MaxReplyBytes:   cfg.MaxReplyBytes,
		OrphanAge:       cfg.OrphanAge,
		MaxRetries:      cfg.MessageRetries,
	})
	c.dedup = registry.NewDedup(cfg.DedupSize, cfg.DedupWindow, c.clock.Now)
	c.q = queue.New[*outMsg](queue.Config{Capacity: cfg.QueueSize, Policy: cfg.QueuePolicy, TTL: cfg.QueueTTL, Now: c.clock.Now})
	c.disp = newDispatcher(cfg.DispatchBuffer, c.log)
	c.disp.byteLimit = cfg.DispatchBytes
	c.disp.onPanic = func(err error) { c.emitError(ErrorProtocol, err, "") }
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.stats.init()
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
	if p := c.clientID.Load(); p != nil {
		return *p
	}
	return ""
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
		chats := c.chatList() // under mu with closed: addChat adds none after
		c.mu.Unlock()
		c.rest.closed.Store(true) // a REST call ending from now on keeps no idle connection
		if conn != nil {
			conn.closeNormal() // before cancel, which lets serve close the socket
		}
		c.cancel()
		c.stopTimers()
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
		// After the failures above, so that their events (and the
		// MessageDone hooks that end their spans) still run.
		c.disp.shutdown()
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
