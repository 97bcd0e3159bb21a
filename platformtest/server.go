package platformtest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/protocol"
)

// DefaultMaxMessageLength is the longest user message accepted when
// Config.MaxMessageLength is zero, in characters.
const DefaultMaxMessageLength = 4000

// DefaultMaxRecords is the number of entries each inspection log keeps when
// Config.MaxRecords is zero.
const DefaultMaxRecords = 100_000

// Config configures a Server. The zero value is ready to use: any tenant, no
// API key, connection_ready at once, the DefaultResponder.
type Config struct {
	// ReadyDelay is the pause between connection_established and
	// connection_ready. Zero sends connection_ready at once, right after the
	// initialization_progress frames.
	ReadyDelay time.Duration
	// Responder produces the reply to every user message. Nil means
	// DefaultResponder.
	Responder Responder
	// Tenants lists the accepted tenant ids. Empty accepts any non-empty
	// tenant id. Any other tenant is refused with 403.
	Tenants []string
	// APIKey, when set, must equal the X-API-Key header of every REST request
	// (health checks excepted) and of the WebSocket handshake; otherwise the
	// answer is 401. Empty means no key is required. In ProtocolWebsite the
	// handshake needs no key; in ProtocolTenantApp it is a key the session
	// endpoint accepts (see APIKeys) and the handshake needs a session token
	// instead.
	APIKey string
	// Protocol is the form of the protocol spoken at start (see
	// SetProtocol). Zero is ProtocolREST.
	Protocol Protocol
	// APIKeys lists the API keys POST /api/auth/session accepts in
	// ProtocolTenantApp ("Authorization: ApiKey <key>"), besides APIKey
	// when set. With both empty, any non-empty key is accepted.
	APIKeys []string
	// TokenTTL is the lifetime of the session tokens issued in
	// ProtocolTenantApp (their expires_at). Zero means DefaultTokenTTL (1
	// hour).
	TokenTTL time.Duration
	// StrictJoin answers a chat_message for a chat the socket has not
	// joined with an error frame, code "not_joined", to test a client's
	// join gating. False (the default) joins the socket to the chat first,
	// as the platform does.
	StrictJoin bool
	// MaxMessageLength is the longest user message accepted, in characters,
	// and the value served by GET /api/v1/chat/config. Zero means 4000.
	MaxMessageLength int
	// MaxRecords bounds each inspection log (frames received, handshake
	// attempts, REST requests); the oldest entries are forgotten first.
	// Counts (Handshakes) stay exact. Zero means 100,000; a negative value
	// records nothing.
	MaxRecords int
	// MaxHistory bounds the messages each chat's history keeps, the newest
	// kept. Zero keeps them all; a negative value keeps none (a platform
	// without history, as in the realtime form, and for long runs).
	MaxHistory int
	// Variant is the wire variant at start (see SetVariant). Zero is
	// VariantCanonical.
	Variant Variant
	// Shape is the reply shape at start (see SetShape). Zero is ShapeFlat.
	Shape Shape
	// AllowedOrigins lists the browser origins ("http://localhost:3000")
	// whose REST and control requests get CORS headers, preflights
	// included; "*" allows any origin. Empty sends no CORS headers, so a
	// browser page cannot call the REST API. The WebSocket endpoint accepts
	// every origin regardless, as the platform does.
	AllowedOrigins []string
	// ControlAPI serves the control API under ControlPrefix: JSON over
	// HTTP that applies the faults of the table Faults lists and reads what
	// the server recorded, for clients in any language.
	ControlAPI bool
	// ControlToken, when set, must be sent to the control API as
	// "Authorization: Bearer <token>"; otherwise the answer is 401. Empty
	// requires none.
	ControlToken string
	// ControlRemote lets clients that are not on a loopback address use the
	// control API. False (the default) answers them 403.
	ControlRemote bool
	// Logger receives connection and frame logs at debug level. Nil discards
	// them.
	Logger *slog.Logger
}

// Server is a fake MIPTech platform listening on a loopback address. Create
// it with NewServer or NewServerAt and stop it with Close. All methods are
// safe for concurrent use.
type Server struct {
	cfg      Config
	hs       *httptest.Server
	log      *slog.Logger
	tenants  map[string]bool
	upgrader websocket.Upgrader

	// ctx is cancelled by Close; every Responder call receives it.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts every goroutine the server started outside net/http:
	// WebSocket handlers after the upgrade, writers, ready timers and reply
	// workers.
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu         sync.Mutex
	closed     bool
	changed    chan struct{} // closed and replaced on every state change
	connSeq    int64
	conns      map[string]*conn
	frames     records[ReceivedFrame]
	hsLog      records[*RequestRecord]
	restLog    records[*RequestRecord]
	store      store
	workers    map[chatKey]*worker
	faults     faults
	shape      Shape
	variant    Variant
	respond    Responder
	ready      time.Duration
	dup        bool
	strictJoin bool
	stall      chan struct{} // non-nil while stalled; closed on resume
	withhold   chan struct{} // non-nil while connection_ready is withheld

	protocol     Protocol
	apiKeys      map[string]bool // accepted by the session endpoint; empty: any
	tokenTTL     time.Duration
	sessions     map[string]*session // by token
	sessionOrder []*session
}

// NewServer starts a fake platform on a loopback port chosen by the system,
// like httptest.NewServer. It panics if it cannot listen.
func NewServer(cfg Config) *Server {
	s := newServer(cfg)
	s.hs = httptest.NewServer(s.handler())
	return s
}

// NewServerAt starts a fake platform listening on addr ("host:port"; port 0
// picks a free one). It is what examples/fakeplatform uses to serve on a
// fixed address.
func NewServerAt(addr string, cfg Config) (*Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("platformtest: listen on %s: %w", addr, err)
	}
	s := newServer(cfg)
	s.hs = httptest.NewUnstartedServer(s.handler())
	// Replace the listener httptest opened on a random port.
	_ = s.hs.Listener.Close()
	s.hs.Listener = l
	s.hs.Start()
	return s, nil
}

func newServer(cfg Config) *Server {
	if cfg.MaxMessageLength <= 0 {
		cfg.MaxMessageLength = DefaultMaxMessageLength
	}
	if cfg.MaxRecords == 0 {
		cfg.MaxRecords = DefaultMaxRecords
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = DefaultTokenTTL
	}
	cfg.Tenants = append([]string(nil), cfg.Tenants...)
	cfg.APIKeys = append([]string(nil), cfg.APIKeys...)
	cfg.AllowedOrigins = append([]string(nil), cfg.AllowedOrigins...)
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		log:        log,
		tenants:    make(map[string]bool, len(cfg.Tenants)),
		ctx:        ctx,
		cancel:     cancel,
		changed:    make(chan struct{}),
		conns:      make(map[string]*conn),
		store:      newStore(cfg.MaxHistory),
		workers:    make(map[chatKey]*worker),
		respond:    cfg.Responder,
		ready:      cfg.ReadyDelay,
		strictJoin: cfg.StrictJoin,
		variant:    cfg.Variant,
		shape:      cfg.Shape,
		protocol:   cfg.Protocol,
		apiKeys:    make(map[string]bool),
		tokenTTL:   cfg.TokenTTL,
		sessions:   make(map[string]*session),
	}
	for _, t := range cfg.Tenants {
		s.tenants[t] = true
	}
	for _, k := range cfg.APIKeys {
		s.apiKeys[k] = true
	}
	if cfg.APIKey != "" {
		s.apiKeys[cfg.APIKey] = true
	}
	s.upgrader = websocket.Upgrader{
		// The platform serves browsers of any origin.
		CheckOrigin: func(*http.Request) bool { return true },
		// A client sending a bearer token offers the subprotocols
		// "bearer", <token>; the server selects "bearer".
		Subprotocols:    []string{"bearer"},
		WriteBufferPool: &sync.Pool{},
	}
	return s
}

// URL returns the base URL of the REST API, http://127.0.0.1:port.
func (s *Server) URL() string { return s.hs.URL }

// WSURL returns the base WebSocket URL, ws://127.0.0.1:port. Clients dial
// WSURL() + "/api/v1/ws/chat?tenant_id=...".
func (s *Server) WSURL() string { return "ws" + strings.TrimPrefix(s.hs.URL, "http") }

// Close stops the server: it refuses new connections, closes every WebSocket
// with close code 1001 (going away), cancels the context of running
// Responder calls, and waits for every goroutine the server started. A
// Responder that ignores its context delays Close until it returns. Close is
// idempotent; a second call waits for the first to finish.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := s.liveConnsLocked(true)
		if s.stall != nil {
			close(s.stall)
			s.stall = nil
		}
		if s.withhold != nil {
			close(s.withhold)
			s.withhold = nil
		}
		s.bumpLocked()
		s.mu.Unlock()
		s.cancel()
		s.hs.Close()
		var wg sync.WaitGroup
		for _, c := range conns {
			wg.Go(func() {
				c.shutdown(protocol.CloseGoingAway, "server shutting down", 100*time.Millisecond, 500*time.Millisecond)
			})
		}
		wg.Wait()
		s.wg.Wait()
		s.log.Debug("platformtest: server closed")
	})
}

// handler routes the platform's endpoints.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	all := formSet(ProtocolREST, ProtocolWebsite, ProtocolTenantApp)
	restOnly := formSet(ProtocolREST)
	mux.HandleFunc("GET "+protocol.PathWebSocket, s.serveWS)
	mux.Handle("GET "+protocol.PathHealthz, s.rest(s.handleHealthz, false, all))
	mux.Handle("GET "+protocol.PathHealth, s.rest(s.handleHealth, false, restOnly))
	mux.Handle("POST "+PathSession, s.rest(s.handleSession, false, formSet(ProtocolTenantApp)))
	mux.Handle("POST /api/v1/chat/{$}", s.rest(s.handleCreateChat, true, restOnly))
	mux.Handle("POST /api/v1/chat", s.rest(s.handleCreateChat, true, restOnly))
	mux.Handle("GET "+protocol.PathChatConfig, s.rest(s.handleChatConfig, true, restOnly))
	mux.Handle("GET /api/v1/chat/{id}/messages", s.rest(s.handleGetMessages, true, restOnly))
	mux.Handle("POST /api/v1/chat/{id}/messages", s.rest(s.handlePostMessage, true, restOnly))
	mux.Handle("/", s.rest(handleNotFound, false, all))
	if s.cfg.ControlAPI {
		s.controlRoutes(mux)
	}
	return s.cors(mux)
}

// goLocked starts f on a goroutine owned by the server, unless the server is
// closed. The caller holds s.mu, which orders every wg.Add before the
// wg.Wait of Close.
func (s *Server) goLocked(f func()) bool {
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// bumpLocked wakes every WaitFor. The caller holds s.mu.
func (s *Server) bumpLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// setGate shuts (on) or opens (off) a gate: a nil channel is open; a
// non-nil one is shut until it is closed.
func (s *Server) setGate(g *chan struct{}, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case on && *g == nil && !s.closed:
		*g = make(chan struct{})
	case !on && *g != nil:
		close(*g)
		*g = nil
	}
	s.bumpLocked()
}

// waitGate blocks while the gate is shut. It returns false when stop fires
// first.
func (s *Server) waitGate(g *chan struct{}, stop <-chan struct{}) bool {
	for {
		s.mu.Lock()
		ch := *g
		s.mu.Unlock()
		if ch == nil {
			return true
		}
		select {
		case <-ch:
		case <-stop:
			return false
		}
	}
}

// tenantAccepted reports whether the non-empty tenant id t is accepted.
func (s *Server) tenantAccepted(t string) bool {
	return len(s.tenants) == 0 || s.tenants[t]
}

// wire returns the current wire settings.
func (s *Server) wire() (Variant, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.variant, s.dup
}

// SetShape switches the shape of replies (see Shape) for replies that reach
// response_complete from now on.
func (s *Server) SetShape(sh Shape) {
	s.mu.Lock()
	s.shape = sh
	s.mu.Unlock()
}

// SetVariant switches the field names and frame types of every frame sent
// from now on. Variant(0) (VariantCanonical) restores the canonical form.
func (s *Server) SetVariant(v Variant) {
	s.mu.Lock()
	s.variant = v
	s.mu.Unlock()
}

// SetResponder replaces the Responder for user messages answered from now
// on. Nil restores DefaultResponder.
func (s *Server) SetResponder(r Responder) {
	s.mu.Lock()
	s.respond = r
	s.mu.Unlock()
}

// SetReadyDelay changes Config.ReadyDelay for connections opened from now on.
func (s *Server) SetReadyDelay(d time.Duration) {
	s.mu.Lock()
	s.ready = d
	s.mu.Unlock()
}

// WithholdReady keeps connection_ready from being sent while on is true, to
// exercise a client's ready timeout; connections whose ready delay expires
// meanwhile wait. WithholdReady(false) releases them: every connection still
// open and waiting gets its connection_ready at once.
func (s *Server) WithholdReady(on bool) { s.setGate(&s.withhold, on) }

// SetDuplicate makes the server send every frame it generates twice in a
// row while on is true (Inject and SendRaw frames excepted), to exercise a
// client's deduplication.
func (s *Server) SetDuplicate(on bool) {
	s.mu.Lock()
	s.dup = on
	s.mu.Unlock()
}

// SetStrictJoin switches Config.StrictJoin for chat_message frames read
// from now on.
func (s *Server) SetStrictJoin(on bool) {
	s.mu.Lock()
	s.strictJoin = on
	s.mu.Unlock()
}

// responder returns the current Responder.
func (s *Server) responder() Responder {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.respond == nil {
		return DefaultResponder
	}
	return s.respond
}
