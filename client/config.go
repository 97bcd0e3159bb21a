package client

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
)

// Version is the SDK version sent in the User-Agent header.
const Version = "0.1.0"

// Default values of Config fields left at zero (SPEC figures).
const (
	DefaultAPIURL           = "http://localhost:8001"
	ProductionAPIURL        = "https://api.miptechnologies.tech"
	DefaultRESTTimeout      = 30 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadyTimeout     = 10 * time.Second
	DefaultJoinTimeout      = 5 * time.Second
	DefaultPingInterval     = 30 * time.Second
	DefaultMaxRetries       = 5
	// NoRetries, as Config.MaxRetries, makes the first failure final.
	NoRetries = -1
	// RetryForever, as Config.MaxRetries, never gives up: the client never
	// goes failed by itself, and reconnects whenever the platform comes
	// back. Connect still returns at once an error that retrying will not
	// fix while the client was never ready (the attempts go on).
	RetryForever            = math.MaxInt
	DefaultInitialBackoff   = 1 * time.Second
	DefaultMaxBackoff       = 30 * time.Second
	DefaultQueueSize        = 50
	DefaultQueueTTL         = 5 * time.Minute
	DefaultDedupSize        = 4096
	DefaultDedupWindow      = 5 * time.Minute
	DefaultOrphanAge        = 5 * time.Minute
	DefaultDispatchBuffer   = 1024
	DefaultDispatchBytes    = 16 << 20
	DefaultWriteBuffer      = 4 << 20
	DefaultReadLimit        = 1 << 20
	DefaultMaxReplyBytes    = 16 << 20
	DefaultMaxMessageLength = 4000
	DefaultResponseTimeout  = 30 * time.Second
	DefaultTypingThrottle   = 2 * time.Second
	DefaultTypingIdle       = 3 * time.Second
	DefaultMaxMessages      = 100
	DefaultRESTRetries      = 3
)

// SendMode selects how a Chat sends user messages.
type SendMode int

const (
	// SendWebSocket sends chat_message frames on the socket (the default).
	SendWebSocket SendMode = iota
	// SendREST posts to /api/v1/chat/{id}/messages and takes the replies from
	// the socket, as the platform's web front end does.
	SendREST
)

// TokenSource returns a bearer token. It is called on each connect and each
// REST request; it must be safe for concurrent use.
type TokenSource func(ctx context.Context) (string, error)

// Config configures a Client. A zero field means its documented default; New
// copies the struct, so the caller's value is never changed.
type Config struct {
	// APIURL is the platform's base URL. Zero means http://localhost:8001.
	APIURL string
	// WSURL is the WebSocket base URL. Zero means APIURL with http→ws and
	// https→wss.
	WSURL string
	// TenantID identifies the tenant. Required.
	TenantID string
	// APIKey is sent as X-API-Key on REST requests and on the handshake, to
	// the origin of APIURL and WSURL only (a redirect to another origin is
	// refused). It is never logged and never put in a URL or an error; when
	// the platform echoes it, it is replaced by [REDACTED].
	APIKey string
	// Token, when set, supplies a bearer token: Authorization header on REST,
	// subprotocols "bearer", <token> on the handshake. The last
	// MaxRememberedTokens distinct values it returned are redacted like the
	// API key.
	Token TokenSource
	// Protocol is the form of the platform's protocol: ProtocolAuto (the
	// zero value) decides once per client from what the platform does;
	// ProtocolREST and ProtocolRealtime force one. See Protocol.
	Protocol Protocol
	// ClientID, when set, is sent as the client_id query parameter.
	ClientID string
	// AllowInsecure permits plain http:// or ws:// to a non-loopback host
	// while an API key or token is set. Off by default: credentials would
	// cross the network in clear text.
	AllowInsecure bool

	// HTTPClient is used for REST calls. Zero means the SDK's own client,
	// with RESTTimeout, on a transport cloned from http.DefaultTransport whose
	// idle connections Close closes. A client given here is copied (never
	// changed) and never closed; the SDK's redirect policy runs before its
	// CheckRedirect: a redirect to another scheme, host or port is refused.
	HTTPClient *http.Client
	// RESTTimeout bounds each REST request. Zero means 30 s.
	RESTTimeout time.Duration
	// RESTRetries is the number of attempts for idempotent REST calls with a
	// retryable failure. Zero means 3; -1 disables retries.
	RESTRetries int

	// HandshakeTimeout bounds the WebSocket handshake. Zero means 10 s.
	HandshakeTimeout time.Duration
	// ReadyTimeout bounds the wait for connection_ready after the socket
	// opens. Zero means 10 s.
	ReadyTimeout time.Duration
	// JoinTimeout bounds the wait for each chat_joined. Zero means 5 s.
	JoinTimeout time.Duration
	// PingInterval is the keepalive period. Zero means 30 s.
	PingInterval time.Duration
	// DeadTimeout closes a connection on which no frame arrived for this
	// long. Zero means 2 × PingInterval + 10 s.
	DeadTimeout time.Duration

	// MaxRetries is the number of reconnect attempts after a failed connect
	// or a lost connection before the client goes failed: NoRetries (-1)
	// for none, zero for the default 5, RetryForever to never give up.
	MaxRetries int
	// InitialBackoff is the delay before the first retry. Zero means 1 s.
	InitialBackoff time.Duration
	// MaxBackoff caps the delay between retries. Zero means 30 s.
	MaxBackoff time.Duration

	// QueueSize is the outbound queue capacity in messages, shared by the
	// client's chats. Zero means 50.
	QueueSize int
	// QueuePerChat bounds the queued messages of one chat, so that a busy
	// chat cannot take the slots the others need while the connection is
	// down: a chat at its bound gets ErrQueueFull (or, under DropOldest,
	// loses its own oldest message) while the queue still has room. Zero
	// means a fair share: QueueSize divided by the open chats, and at least
	// a tenth of QueueSize (all of it with one chat). Negative means no
	// per-chat bound.
	QueuePerChat int
	// QueuePolicy is the overflow policy. Zero means queue.RejectNew.
	QueuePolicy queue.Policy
	// QueueTTL is how long a message may wait in the queue when its context
	// has no deadline. Zero means 5 min.
	QueueTTL time.Duration

	// DedupSize is the number of event keys remembered for deduplication.
	// Zero means 4096.
	DedupSize int
	// DedupWindow is how long an event key is remembered. Zero means 5 min.
	DedupWindow time.Duration
	// OrphanAge reports a message never acknowledged after this long. Zero
	// means 5 min.
	OrphanAge time.Duration

	// WriteBuffer bounds, in bytes, the frames waiting for the socket writer
	// while the client is ready; past it Send fails with ErrQueueFull (the
	// platform is not reading as fast as the client sends). Zero means
	// 4 MiB.
	WriteBuffer int
	// DispatchBuffer is the number of events waiting for callbacks before the
	// reader waits. Zero means 1024.
	DispatchBuffer int
	// DispatchBytes bounds, in bytes of the frames they came in, the events
	// waiting for callbacks: past it the reader waits too. Zero means 16 MiB.
	DispatchBytes int
	// ReadLimit is the largest inbound frame in bytes. Zero means 1 MiB.
	ReadLimit int64
	// MaxReplyBytes caps a reply's aggregated text. Zero means 16 MiB.
	MaxReplyBytes int

	// MaxMessageLength is the longest user message in characters. Zero means
	// the platform's /api/v1/chat/config value when it answers, else 4000.
	MaxMessageLength int
	// ResponseTimeout fails a message with no response_complete this long
	// after it was sent or after its last chunk. Zero means 30 s.
	ResponseTimeout time.Duration
	// ReconnectDelays overrides the floors and ceilings of the close-code
	// policy (SPEC §2.3: 2 s after a 1011 close, 3 s after a network loss,
	// …), for example with milliseconds in a test suite that injects faults.
	// Zero fields keep the defaults.
	ReconnectDelays protocol.Delays
	// MessageRetries is how many times a message the platform failed with a
	// retryable error (an error frame with "retryable": true) is sent again
	// on its own, after the error's retry_after (else 1 s), before its
	// sender gets the error. Each attempt goes out under a new
	// client_message_id, so a late reply to a failed attempt is never taken
	// for the retry's. Zero (the default) means none; Message.Retry retries
	// by hand.
	MessageRetries int
	// TypingThrottle is the least time between two typing_start frames.
	// Zero means 2 s.
	TypingThrottle time.Duration
	// TypingIdle sends typing_stop this long after the last Typing call.
	// Zero means 3 s.
	TypingIdle time.Duration
	// ChunkCoalesce merges chunks that arrive within this window into one
	// chunk callback. Zero delivers every chunk.
	ChunkCoalesce time.Duration
	// MaxMessages bounds the messages kept in a Chat's State (user and
	// assistant messages, the newest kept). Zero means 100. An answered
	// message is otherwise forgotten but for a 64-bit hash of its ids (see
	// DedupSize); the rest of a conversation is the platform's: REST.History.
	MaxMessages int
	// SendMode selects the message transport. Zero means SendWebSocket.
	SendMode SendMode

	// Logger receives the SDK's logs; frames are logged at debug level. Zero
	// means no logging.
	Logger *slog.Logger
	// Hooks observe the client for metrics and tracing (see Hooks); the
	// zero value observes nothing and costs nothing.
	Hooks Hooks

	clock clock.Clock // tests inject a fake clock
	rand  func() float64

	secrets   *redactor       // the credentials to redact; set by withDefaults
	transport *http.Transport // the SDK's own transport, nil for a user HTTPClient
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	// Field is the name of the Config field.
	Field string
	// Reason says what is wrong and what to do.
	Reason string
}

// Error returns "client: config <Field>: <Reason>".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("client: config %s: %s", e.Field, e.Reason)
}

// withDefaults returns a validated copy of c with every zero field set to its
// default.
func (c Config) withDefaults() (Config, error) {
	if strings.TrimSpace(c.TenantID) == "" {
		return c, &ConfigError{"TenantID", "required; set it to your platform tenant id"}
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	c.APIURL = strings.TrimRight(c.APIURL, "/")
	api, err := url.Parse(c.APIURL)
	if err != nil || (api.Scheme != "http" && api.Scheme != "https") || api.Host == "" {
		return c, &ConfigError{"APIURL", "must be an absolute http:// or https:// URL"}
	}
	if api.User != nil {
		return c, &ConfigError{"APIURL", "must not carry credentials; use APIKey or Token"}
	}
	if c.WSURL == "" {
		ws := *api
		if ws.Scheme == "https" {
			ws.Scheme = "wss"
		} else {
			ws.Scheme = "ws"
		}
		c.WSURL = ws.String()
	}
	c.WSURL = strings.TrimRight(c.WSURL, "/")
	wsu, err := url.Parse(c.WSURL)
	if err != nil || (wsu.Scheme != "ws" && wsu.Scheme != "wss") || wsu.Host == "" {
		return c, &ConfigError{"WSURL", "must be an absolute ws:// or wss:// URL"}
	}
	if wsu.User != nil || wsu.RawQuery != "" {
		return c, &ConfigError{"WSURL", "must not carry credentials or a query; use APIKey or Token"}
	}
	if (c.APIKey != "" || c.Token != nil) && !c.AllowInsecure {
		if api.Scheme == "http" && !isLoopback(api.Hostname()) {
			return c, &ConfigError{"APIURL", "plain http to a non-loopback host would send the API key in clear text; use https or set AllowInsecure"}
		}
		if wsu.Scheme == "ws" && !isLoopback(wsu.Hostname()) {
			return c, &ConfigError{"WSURL", "plain ws to a non-loopback host would send the API key in clear text; use wss or set AllowInsecure"}
		}
	}
	type dur struct {
		name string
		p    *time.Duration
		def  time.Duration
	}
	for _, d := range []dur{
		{"RESTTimeout", &c.RESTTimeout, DefaultRESTTimeout},
		{"HandshakeTimeout", &c.HandshakeTimeout, DefaultHandshakeTimeout},
		{"ReadyTimeout", &c.ReadyTimeout, DefaultReadyTimeout},
		{"JoinTimeout", &c.JoinTimeout, DefaultJoinTimeout},
		{"PingInterval", &c.PingInterval, DefaultPingInterval},
		{"InitialBackoff", &c.InitialBackoff, DefaultInitialBackoff},
		{"MaxBackoff", &c.MaxBackoff, DefaultMaxBackoff},
		{"QueueTTL", &c.QueueTTL, DefaultQueueTTL},
		{"DedupWindow", &c.DedupWindow, DefaultDedupWindow},
		{"OrphanAge", &c.OrphanAge, DefaultOrphanAge},
		{"ResponseTimeout", &c.ResponseTimeout, DefaultResponseTimeout},
		{"TypingThrottle", &c.TypingThrottle, DefaultTypingThrottle},
		{"TypingIdle", &c.TypingIdle, DefaultTypingIdle},
	} {
		if *d.p < 0 {
			return c, &ConfigError{d.name, "must not be negative"}
		}
		if *d.p == 0 {
			*d.p = d.def
		}
	}
	if c.DeadTimeout < 0 {
		return c, &ConfigError{"DeadTimeout", "must not be negative"}
	}
	if c.DeadTimeout == 0 {
		c.DeadTimeout = 2*c.PingInterval + 10*time.Second
	}
	if c.ChunkCoalesce < 0 {
		return c, &ConfigError{"ChunkCoalesce", "must not be negative"}
	}
	type num struct {
		name string
		p    *int
		def  int
	}
	for _, n := range []num{
		{"QueueSize", &c.QueueSize, DefaultQueueSize},
		{"DedupSize", &c.DedupSize, DefaultDedupSize},
		{"DispatchBuffer", &c.DispatchBuffer, DefaultDispatchBuffer},
		{"DispatchBytes", &c.DispatchBytes, DefaultDispatchBytes},
		{"WriteBuffer", &c.WriteBuffer, DefaultWriteBuffer},
		{"MaxReplyBytes", &c.MaxReplyBytes, DefaultMaxReplyBytes},
		{"MaxMessages", &c.MaxMessages, DefaultMaxMessages},
	} {
		if *n.p < 0 {
			return c, &ConfigError{n.name, "must not be negative"}
		}
		if *n.p == 0 {
			*n.p = n.def
		}
	}
	switch {
	case c.MaxRetries == 0:
		c.MaxRetries = DefaultMaxRetries
	case c.MaxRetries == NoRetries:
		c.MaxRetries = 0
	case c.MaxRetries < NoRetries:
		return c, &ConfigError{"MaxRetries", "must be NoRetries (-1), 0 (default 5), positive or RetryForever"}
	}
	switch {
	case c.RESTRetries == 0:
		c.RESTRetries = DefaultRESTRetries
	case c.RESTRetries == -1:
		c.RESTRetries = 1
	case c.RESTRetries < -1:
		return c, &ConfigError{"RESTRetries", "must be -1 (no retries), 0 (default 3) or positive"}
	}
	if c.MaxMessageLength < 0 {
		return c, &ConfigError{"MaxMessageLength", "must not be negative"}
	}
	if c.ReadLimit < 0 {
		return c, &ConfigError{"ReadLimit", "must not be negative"}
	}
	if c.ReadLimit == 0 {
		c.ReadLimit = DefaultReadLimit
	}
	if c.QueuePolicy != queue.RejectNew && c.QueuePolicy != queue.DropOldest {
		return c, &ConfigError{"QueuePolicy", "must be queue.RejectNew or queue.DropOldest"}
	}
	if c.Protocol < ProtocolAuto || c.Protocol > ProtocolRealtime {
		return c, &ConfigError{"Protocol", "must be ProtocolAuto, ProtocolREST or ProtocolRealtime"}
	}
	if c.SendMode != SendWebSocket && c.SendMode != SendREST {
		return c, &ConfigError{"SendMode", "must be SendWebSocket or SendREST"}
	}
	c.secrets = newRedactor(c.APIKey)
	c.Token = c.secrets.tokenSource(c.Token)
	c.HTTPClient, c.transport = httpClient(c.HTTPClient, c.RESTTimeout, c.secrets)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	} else if c.APIKey != "" || c.Token != nil {
		c.Logger = slog.New(redactHandler{c.Logger.Handler(), c.secrets})
	}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	return c, nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
