package client

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

// ChatOptions describes a new conversation for Client.NewChat.
type ChatOptions struct {
	// Title is the chat's title.
	Title string
	// SessionID and VisitorID identify the end user's session, if known.
	SessionID, VisitorID string
	// Context is free-form context sent to the platform with the chat.
	Context map[string]any
}

// Chat is one conversation on a Client: the Go counterpart of the web
// client's useChat hook. It sends messages, waits for or streams replies,
// reports typing, and keeps a snapshot of the conversation (State). Events
// reach a Chat only for its own chat id. A Chat is safe for concurrent use.
type Chat struct {
	host  chatHost // the client's operations a chat uses (chathost.go)
	owner *Client  // for Client alone; the chat's code goes through host
	// What does not change after New, shared with the client: its
	// configuration (read only), clock, logger and REST client.
	cfg   *Config
	clock clock.Clock
	log   *slog.Logger
	rest  *REST
	// lmu is the client's ledger lock: it guards the waiters of the chat's
	// messages. Lock order: lmu, then mu.
	lmu *sync.Mutex
	key registry.ChatKey // the chat's name in the client's ledger

	mu          sync.Mutex
	id          string
	title       string
	created     time.Time
	needsCreate bool   // degraded: no chat id yet; learned from the platform
	proposed    string // realtime form: the id proposed with create:true
	createReq   protocol.CreateChatRequest
	left        bool
	closed      bool
	closeErr    error

	joinedOn  *wsConn       // the connection on which the platform confirmed the join
	joinSig   chan struct{} // closed and replaced when joinedOn changes
	messages  []MessageView
	typingOn  bool
	typingAt  time.Time // last typing_start sent
	typingReq time.Time // last Typing call
	typers    map[string]time.Time
	errs      Errors
	// stream and proc are the messages whose reply streams now and that the
	// platform works on now, for State; the ledger decides their fate.
	stream     *waiter
	streamID   string
	proc       *waiter
	procID     string
	procSince  time.Time
	recovering bool // a history recovery runs

	onStatus   hooks[func(MessageStatusEvent)]
	onTyping   hooks[func(TypingEvent)]
	onProc     hooks[func(ProcessingEvent)]
	onStart    hooks[func(ResponseStartEvent)]
	onChunk    hooks[func(ChunkEvent)]
	onComplete hooks[func(CompleteEvent)]
	onError    hooks[func(ErrorEvent)]
}

func newChat(c *Client) *Chat {
	return &Chat{
		host:    c,
		owner:   c,
		cfg:     &c.cfg,
		clock:   c.clock,
		log:     c.log,
		rest:    c.rest,
		lmu:     &c.lmu,
		key:     registry.ChatKey(c.chatSeq.Add(1)),
		joinSig: make(chan struct{}),
		typers:  map[string]time.Time{},
	}
}

// NewChat creates a conversation and joins it on the connection, which it
// starts if needed. In the realtime form (see Protocol) it sends join_chat
// with create:true and a UUID v4 and returns once the platform confirmed
// the chat, whose id is the one the platform gives; a confirmation that
// does not come within Config.JoinTimeout of readiness is an error. In the
// REST form it creates the chat over REST. When the platform cannot create the chat (5xx
// or a network error), the chat opens degraded, with a nil error
// (Chat.Degraded says so): it joins with {"create": true} and learns its id
// from the platform. A 4xx answer is
// returned as a *protocol.APIError; a ctx that ends first returns ctx's
// error and creates no chat.
func (c *Client) NewChat(ctx context.Context, opts ChatOptions) (*Chat, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err // the platform must not create a chat the caller abandoned
	}
	if form, _ := c.resolveForm(ctx); form == ProtocolRealtime {
		return c.newRealtimeChat(ctx, opts)
	}
	ch := newChat(c)
	ch.title = opts.Title
	ch.createReq = protocol.CreateChatRequest{SessionID: opts.SessionID, VisitorID: opts.VisitorID, Title: opts.Title, Context: opts.Context}
	resp, err := c.rest.CreateChat(ctx, ch.createReq)
	if c.decideFromCreate(err) == ProtocolRealtime {
		return c.newRealtimeChat(ctx, opts)
	}
	switch {
	case err == nil:
		ch.id = resp.ChatID
		if resp.Title != "" {
			ch.title = resp.Title
		}
		ch.created = parseTime(resp.CreatedAt, c.clock.Now())
	case ctx.Err() != nil:
		// The caller's own deadline or cancellation is not a platform
		// failure: no degraded chat, which would create the chat later.
		return nil, ctx.Err()
	case degradable(err):
		c.log.Warn("miptech: chat creation failed; continuing degraded", "err", err)
		ch.needsCreate = true
		ch.created = c.clock.Now()
	default:
		return nil, err
	}
	if err := c.addChat(ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// OpenChat opens an existing conversation by id and joins it on the
// connection, which it starts if needed. An id that is empty, "." or "..",
// holds a slash, a backslash or a control character, or is longer than
// MaxChatIDBytes is refused with an error matching ErrValidation.
//
// A client has one *Chat per chat id: OpenChat of an id already open (by
// OpenChat or NewChat, and not closed) returns ErrChatOpen, so that two
// owners never close each other's chat by surprise. Share the *Chat, find
// it with Client.Chat, or close it before opening the id again.
func (c *Client) OpenChat(ctx context.Context, chatID string) (*Chat, error) {
	if err := checkChatID(chatID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := newChat(c)
	ch.id = chatID
	ch.created = c.clock.Now()
	if err := c.addChat(ch); err != nil {
		return nil, err
	}
	return ch, nil
}

// Chat returns the open chat with id chatID, if any: the *Chat that
// OpenChat or NewChat returned for it and that was not closed or left.
func (c *Client) Chat(chatID string) (*Chat, bool) {
	ch := c.chatByID(chatID)
	return ch, ch != nil
}

// degradable reports whether a chat-creation failure allows degraded mode.
func degradable(err error) bool {
	var apiErr *protocol.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status >= 500
	}
	var netErr *NetworkError
	return errors.As(err, &netErr)
}

// addChat adds ch to the client's open chats, joins it when a socket is up,
// and starts the connection when none runs.
func (c *Client) addChat(ch *Chat) error {
	id := ch.ID() // before mu: the lock order takes a Chat's mu first
	c.mu.Lock()   // with closed: Close sees every chat added before it
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	conn := c.conn
	err := c.chats.add(ch, id, c)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if conn != nil {
		ch.joinOn(conn)
	}
	return c.startLazy()
}

// ID returns the chat id, or "" while a degraded chat waits for one.
func (ch *Chat) ID() string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.id
}

// Client returns the client the chat lives on.
func (ch *Chat) Client() *Client { return ch.owner }

// Close leaves the chat (as Leave does) and fails its waiters with
// ErrChatClosed; the chat cannot be used again, and OpenChat may open its id
// again. The client stays open. Close is idempotent.
func (ch *Chat) Close(ctx context.Context) error {
	err := ch.leave(ctx, ErrChatClosed)
	ch.shutdown(ErrChatClosed)
	return err
}

// closedErrLocked is the error of a call on the closed chat: ErrChatClosed,
// or ErrClosed when the client's Close closed it. Called with ch.mu held.
func (ch *Chat) closedErrLocked() error {
	if ch.closeErr != nil {
		return ch.closeErr
	}
	return ErrChatClosed
}

// shutdown closes the chat and fails every waiter of the chat with err.
func (ch *Chat) shutdown(err error) {
	ch.mu.Lock()
	if ch.closed {
		ch.mu.Unlock()
		return
	}
	ch.closed = true
	ch.closeErr = err
	ch.mu.Unlock()
	ch.failWaiting(err)
}

// failWaiting fails every message of the chat still without an outcome with
// err, and stops waiting for the late replies of those that timed out.
func (ch *Chat) failWaiting(err error) {
	now := ch.clock.Now()
	ch.host.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		return l.FailChat(ch.key, err, now, out)
	})
}

// ensureCreated retries REST creation for a degraded chat at connect time.
func (ch *Chat) ensureCreated(ctx context.Context) {
	ch.mu.Lock()
	need, req := ch.needsCreate && ch.id == "", ch.createReq
	ch.mu.Unlock()
	if !need {
		return
	}
	resp, err := ch.rest.CreateChat(ctx, req)
	if err != nil {
		ch.log.Warn("miptech: chat creation failed; joining with create", "err", err)
		return
	}
	ch.adoptID(resp.ChatID)
}

// adoptID gives a degraded chat its id. It reports whether it did.
func (ch *Chat) adoptID(id string) bool {
	ch.mu.Lock()
	if ch.id != "" || !ch.needsCreate || id == "" {
		ch.mu.Unlock()
		return false
	}
	ch.id = id
	ch.needsCreate = false
	for i := range ch.messages {
		ch.messages[i].ChatID = id
	}
	ch.mu.Unlock()
	ch.host.indexChat(ch, id)
	ch.log.Info("miptech: degraded chat learned its id", "chat_id", id)
	return true
}

// History returns the chat's messages from the platform over REST.
func (ch *Chat) History(ctx context.Context) ([]protocol.HistoryMessage, error) {
	id := ch.ID()
	if id == "" {
		return nil, errNoChatID
	}
	return ch.rest.History(ctx, id)
}

// recordError stores the latest error of a kind for State and reports it.
func (ch *Chat) recordError(kind ErrorKind, err error) {
	ch.mu.Lock()
	switch kind {
	case ErrorConnection:
		ch.errs.Connection = err
	case ErrorProcessing:
		ch.errs.Processing = err
	case ErrorValidation:
		ch.errs.Validation = err
	case ErrorRateLimit:
		ch.errs.RateLimit = err
	}
	id := ch.id
	ch.mu.Unlock()
	ev := ErrorEvent{Kind: kind, Err: err, ChatID: id, Time: ch.clock.Now()}
	ch.host.dispatch(func() {
		for _, h := range ch.onError.get() {
			h(ev)
		}
	})
	ch.host.emitError(kind, err, id)
}

// dispatch enqueues a chat callback on the client's dispatcher.
func (ch *Chat) dispatch(f func()) { ch.host.dispatch(f) }

// parseTime reads an RFC 3339 time, or returns def.
func parseTime(s string, def time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return def
}
