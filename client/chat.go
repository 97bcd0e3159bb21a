package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
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
	c   *Client
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

	onStatus   map[int]func(MessageStatusEvent)
	onTyping   map[int]func(TypingEvent)
	onProc     map[int]func(ProcessingEvent)
	onStart    map[int]func(ResponseStartEvent)
	onChunk    map[int]func(ChunkEvent)
	onComplete map[int]func(CompleteEvent)
	onError    map[int]func(ErrorEvent)
}

func newChat(c *Client) *Chat {
	return &Chat{
		c:          c,
		key:        registry.ChatKey(c.chatSeq.Add(1)),
		joinSig:    make(chan struct{}),
		typers:     map[string]time.Time{},
		onStatus:   map[int]func(MessageStatusEvent){},
		onTyping:   map[int]func(TypingEvent){},
		onProc:     map[int]func(ProcessingEvent){},
		onStart:    map[int]func(ResponseStartEvent){},
		onChunk:    map[int]func(ChunkEvent){},
		onComplete: map[int]func(CompleteEvent){},
		onError:    map[int]func(ErrorEvent){},
	}
}

// NewChat creates a conversation and joins it on the connection, which it
// starts if needed. In the realtime form (see Protocol) it sends join_chat
// with create:true and a UUID v4 and returns once the platform confirmed
// the chat, whose id is the one the platform gives; a confirmation that
// does not come within Config.JoinTimeout of readiness is an error. In the
// REST form it creates the chat over REST. When the platform cannot create the chat (5xx
// or a network error), the chat opens degraded: it joins with
// {"create": true} and learns its id from the platform. A 4xx answer is
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
func (c *Client) OpenChat(ctx context.Context, chatID string) (*Chat, error) {
	if err := checkChatID(chatID); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if existing := c.chatByID(chatID); existing != nil {
		return existing, nil
	}
	ch := newChat(c)
	ch.id = chatID
	ch.created = c.clock.Now()
	if err := c.addChat(ch); err != nil {
		return nil, err
	}
	return ch, nil
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
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	for _, x := range c.chats {
		if x == ch {
			c.mu.Unlock()
			return nil
		}
	}
	c.chats = append(c.chats, ch)
	if id := ch.ID(); id != "" {
		c.byID[id] = ch
	}
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		ch.joinOn(conn)
	}
	return c.startLazy()
}

func (c *Client) removeChat(ch *Chat) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, x := range c.chats {
		if x == ch {
			c.chats = append(c.chats[:i], c.chats[i+1:]...)
			break
		}
	}
	for id, x := range c.byID {
		if x == ch {
			delete(c.byID, id)
		}
	}
}

// indexChat records the id a degraded chat learned.
func (c *Client) indexChat(ch *Chat, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range c.chats {
		if x == ch {
			c.byID[id] = ch
			return
		}
	}
}

// joinOn sends join_chat for the chat on conn, unless it was sent there
// already: a chat opened while the connection joins every chat is joined
// once.
func (ch *Chat) joinOn(conn *wsConn) {
	if !conn.claimJoin(ch.key) {
		return
	}
	ch.c.sendControl(protocol.TypeJoinChat, ch.joinFrame())
}

// joinedOnConn reports whether the platform confirmed the chat's join on
// conn.
func (ch *Chat) joinedOnConn(conn *wsConn) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.joinedOn == conn
}

// ID returns the chat id, or "" while a degraded chat waits for one.
func (ch *Chat) ID() string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.id
}

// Client returns the client the chat lives on.
func (ch *Chat) Client() *Client { return ch.c }

// Join joins the chat on the connection again after Leave. It is idempotent.
func (ch *Chat) Join(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch.mu.Lock()
	if ch.closed {
		ch.mu.Unlock()
		return ErrClosed
	}
	ch.left = false
	ch.mu.Unlock()
	return ch.c.addChat(ch)
}

// Leave sends leave_chat and stops the chat's deliveries until Join. It is
// idempotent. The platform no longer sends the chat's replies to this
// client, so the chat's messages still without an outcome fail at once with
// ErrChatLeft (those not yet written to the socket are never written); send
// them again after Join. Replies to them that arrive
// later are dropped. It returns ctx's error, without leaving, when ctx has
// ended.
func (ch *Chat) Leave(ctx context.Context) error {
	return ch.leave(ctx, ErrChatLeft)
}

// leave leaves the chat and fails its waiting messages with cause.
func (ch *Chat) leave(ctx context.Context, cause error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch.mu.Lock()
	if ch.left || ch.closed {
		ch.mu.Unlock()
		return nil
	}
	ch.left = true
	ch.setJoinedLocked(nil)
	id := ch.id
	ch.mu.Unlock()
	ch.c.removeChat(ch)
	ofChat := func(it queue.Item) bool {
		if om, ok := it.Value.(*outMsg); ok {
			return om.chat == ch
		}
		return id != "" && it.ChatID == id
	}
	ch.c.q.Remove(ofChat)
	ch.c.mu.Lock()
	conn := ch.c.conn
	ch.c.mu.Unlock()
	if conn != nil {
		conn.remove(ofChat) // and what waits for the writer: it frees the backlog
		conn.unclaimJoin(ch.key)
	}
	if id != "" {
		ch.c.sendControl(protocol.TypeLeaveChat, protocol.LeaveChat{ChatID: id})
	}
	ch.failWaiting(cause)
	return nil
}

// Close leaves the chat (as Leave does) and fails its waiters with
// ErrClosed; the chat cannot be used again. The client stays open. Close is
// idempotent.
func (ch *Chat) Close(ctx context.Context) error {
	err := ch.leave(ctx, ErrClosed)
	ch.shutdown(ErrClosed)
	return err
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
	now := ch.c.clock.Now()
	ch.c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		return l.FailChat(ch.key, err, now, out)
	})
}

// markJoined records that the platform confirmed the chat's join on conn.
func (ch *Chat) markJoined(conn *wsConn) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !ch.left && !ch.closed {
		ch.setJoinedLocked(conn)
	}
}

// setJoinedLocked sets joinedOn and wakes the waiters for it. Called with
// ch.mu held.
func (ch *Chat) setJoinedLocked(conn *wsConn) {
	if ch.joinedOn == conn {
		return
	}
	ch.joinedOn = conn
	close(ch.joinSig)
	ch.joinSig = make(chan struct{})
}

// waitJoined blocks until the client is ready and the platform has
// confirmed the chat's join on the current connection, so that the replies
// to a message posted over REST reach this client. It starts the connection
// if none runs. When the confirmation does not come within
// Config.JoinTimeout of the first wait, it logs and returns nil (the
// platform may register the chat on its first message), and the chat counts
// as joined on that connection. It returns the error of a connection that
// failed, ErrClosed, ErrChatLeft, or ctx's error.
func (ch *Chat) waitJoined(ctx context.Context) error {
	var timer clock.Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if err := ch.c.connectLazy(ctx); err != nil {
			return err
		}
		ch.c.mu.Lock()
		conn := ch.c.conn
		ch.c.mu.Unlock()
		ch.mu.Lock()
		joined, sig, left, closed := conn != nil && ch.joinedOn == conn, ch.joinSig, ch.left, ch.closed
		ch.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case left:
			return ErrChatLeft
		case joined:
			return nil
		}
		if timer == nil {
			timer = ch.c.clock.NewTimer(ch.c.cfg.JoinTimeout)
			expired = timer.C()
		}
		select {
		case <-sig:
		case <-expired:
			// The platform registers the chat on its first message: later
			// sends on this connection do not wait again.
			ch.c.log.Warn("miptech: no chat_joined in time; posting anyway", "chat_id", ch.ID())
			ch.markJoined(conn)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-ch.c.ctx.Done():
			return ErrClosed
		}
	}
}

// ensureCreated retries REST creation for a degraded chat at connect time.
func (ch *Chat) ensureCreated(ctx context.Context) {
	ch.mu.Lock()
	need, req := ch.needsCreate && ch.id == "", ch.createReq
	ch.mu.Unlock()
	if !need {
		return
	}
	resp, err := ch.c.rest.CreateChat(ctx, req)
	if err != nil {
		ch.c.log.Warn("miptech: chat creation failed; joining with create", "err", err)
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
	ch.c.indexChat(ch, id)
	ch.c.log.Info("miptech: degraded chat learned its id", "chat_id", id)
	return true
}

// maxLength returns the message length limit in characters.
func (c *Client) maxLength() int {
	if c.cfg.MaxMessageLength > 0 {
		return c.cfg.MaxMessageLength
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.maxLen > 0 {
		return c.maxLen
	}
	return DefaultMaxMessageLength
}

// validate checks a user message before it is registered.
func (ch *Chat) validate(text string) error {
	if !utf8.ValidString(text) {
		return &ValidationError{Reason: "text is not valid UTF-8"}
	}
	if strings.TrimSpace(text) == "" {
		return &ValidationError{Reason: "text is empty"}
	}
	if n, max := utf8.RuneCountInString(text), ch.c.maxLength(); n > max {
		return &ValidationError{Reason: fmt.Sprintf("text has %d characters; the limit is %d", n, max)}
	}
	return nil
}

// Send validates text, registers it as a user message and writes it (when
// ready) or queues it (while connecting; the first Send connects a client
// that is not connected). It returns the message handle at once; use
// Message.Wait for the reply. In SendREST mode it blocks until the client is
// ready and the chat joined, then posts the message. Errors:
// *ValidationError, ErrQueueFull, ErrClosed, ErrChatLeft, a *RateLimitError
// wait cut short by ctx, ctx's error, or, on a client in state failed, the
// error that ended the connection (matching ErrFailed; failed is terminal
// until Connect); in SendREST mode also the REST error
// (*protocol.APIError, *NetworkError). A message whose ctx ends before it is
// written fails with ctx's error and is never sent later.
func (ch *Chat) Send(ctx context.Context, text string) (*Message, error) {
	if err := ch.validate(text); err != nil {
		ch.recordError(ErrorValidation, err)
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ch.usable(); err != nil {
		return nil, err
	}
	if err := ch.waitRateLimit(ctx); err != nil {
		return nil, err
	}
	ch.stopTypingBeforeSend()
	w, it, err := ch.register(ctx, text)
	if err != nil {
		return nil, err
	}
	if w.viaREST {
		return ch.sendREST(ctx, w)
	}
	if err := ch.submit(ctx, w, it); err != nil {
		return nil, err
	}
	return &Message{chat: ch, w: w}, nil
}

// usable returns why the chat cannot send now, or nil.
func (ch *Chat) usable() error {
	ch.mu.Lock()
	closed, left := ch.closed, ch.left
	ch.mu.Unlock()
	switch {
	case closed || ch.c.isClosed():
		return ErrClosed
	case left:
		return ErrChatLeft
	}
	return nil
}

// register enters a new user message in the ledger and builds its frame.
func (ch *Chat) register(ctx context.Context, text string) (*waiter, queue.Item, error) {
	c := ch.c
	id := registry.NewClientMessageID()
	w := &waiter{chat: ch, clientID: id, wire: id, text: text, ctx: ctx, attempt: 1,
		viaREST: c.cfg.SendMode == SendREST, doneCh: make(chan struct{}), notify: make(chan struct{})}
	if !w.viaREST {
		payload, err := c.encodeFrame(protocol.TypeChatMessage, protocol.ChatMessage{
			Message: text, ChatID: ch.ID(), TenantID: c.cfg.TenantID, ClientMessageID: id, Stream: true,
		})
		if err != nil {
			return nil, queue.Item{}, err
		}
		w.payload = payload
	}
	now := c.clock.Now()
	ch.mu.Lock()
	ch.addView(MessageView{ClientMessageID: id, ChatID: ch.id, Role: protocol.RoleUser, Text: text, Status: registry.StatusSending, Time: now})
	ch.mu.Unlock()
	c.lmu.Lock()
	c.ledger.Add(ch.key, id, text, w, now)
	c.lmu.Unlock()
	if c.cfg.OrphanAge > 0 {
		c.wake(now.Add(c.cfg.OrphanAge))
	}
	se := MessageStatusEvent{ChatID: ch.ID(), ClientMessageID: id, Status: registry.StatusSending, Time: now}
	ch.dispatch(func() {
		for _, h := range handlers(c, ch.onStatus) {
			h(se)
		}
	})
	return w, ch.item(ctx, w), nil
}

// submit writes or queues a message's frame; a refusal fails the message.
func (ch *Chat) submit(ctx context.Context, w *waiter, it queue.Item) error {
	if w.viaREST {
		_, err := ch.sendREST(ctx, w)
		return err
	}
	if err := ch.c.send(it); err != nil {
		ch.c.failMessage(w, err)
		return err
	}
	return nil
}

// item builds the queue item of a message's current attempt. Its deadline
// is the sender's context's, which the queue enforces as ErrExpired and
// failItem reports as the context's own error.
func (ch *Chat) item(ctx context.Context, w *waiter) queue.Item {
	it := queue.Item{Type: protocol.TypeChatMessage, ChatID: ch.ID(), Payload: w.payload,
		Value: &outMsg{chat: ch, w: w, wire: w.wire, ctx: ctx}}
	if dl, ok := ctx.Deadline(); ok && dl.Before(ch.c.clock.Now().Add(ch.c.cfg.QueueTTL)) {
		it.Deadline = dl
	}
	return it
}

// errNoChatID is the error of a REST call about a chat without an id.
var errNoChatID = errors.New("client: the chat has no id yet (degraded); retry once it is joined")

// sendREST posts the message over REST once the socket has joined the chat
// (the platform sends the replies only to sockets joined to it); the reply
// comes on the socket. A 2xx answer acknowledges the message.
func (ch *Chat) sendREST(ctx context.Context, w *waiter) (*Message, error) {
	c := ch.c
	if err := ch.waitJoined(ctx); err != nil {
		c.failMessage(w, err)
		return nil, err
	}
	id := ch.ID()
	if id == "" {
		c.failMessage(w, errNoChatID)
		return nil, errNoChatID
	}
	c.lmu.Lock()
	wire := w.wire
	c.lmu.Unlock()
	body := protocol.SendMessageRequest{Content: w.text, Role: protocol.RoleUser,
		Metadata: map[string]any{"client_message_id": wire}}
	var answer json.RawMessage
	if err := c.rest.do(ctx, http.MethodPost, protocol.PathChatMessages(id), body, &answer, false); err != nil {
		c.failMessage(w, err)
		return nil, err
	}
	ev := normalize.Event{ClientMessageID: wire, MessageID: postedID(answer)}
	ch.stepEvent(registry.InAck, ev, c.connSeqNow(), nil)
	if ev.MessageID != "" {
		// The reply may have come over the socket before the answer to
		// the post: the view still learns the message's id.
		ch.mu.Lock()
		ch.updateView(w.clientID, func(v *MessageView) {
			if v.ServerID == "" {
				v.ServerID = ev.MessageID
			}
		})
		ch.mu.Unlock()
	}
	return &Message{chat: ch, w: w}, nil
}

// postedID returns the platform's id of a posted message from the answer to
// the post: message_id, id or message.id, a string or a number; "" when
// there is none.
func postedID(answer []byte) string {
	var top map[string]json.RawMessage
	if json.Unmarshal(answer, &top) != nil {
		return ""
	}
	var nested map[string]json.RawMessage
	_ = json.Unmarshal(top["message"], &nested)
	for _, raw := range []json.RawMessage{top["message_id"], top["id"], nested["id"]} {
		var str string
		if json.Unmarshal(raw, &str) == nil && str != "" {
			return str
		}
		var num json.Number
		if json.Unmarshal(raw, &num) == nil && num != "" {
			return num.String()
		}
	}
	return ""
}

// waitRateLimit waits out a rate limit the platform asked for.
func (ch *Chat) waitRateLimit(ctx context.Context) error {
	d := ch.c.rateWait()
	if d <= 0 {
		return nil
	}
	t := ch.c.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", &RateLimitError{RetryAfter: d}, ctx.Err())
	case <-ch.c.ctx.Done():
		return ErrClosed
	}
}

// Ask sends text and waits for the complete reply. Errors are those of Send
// and Message.Wait. Called on the callback goroutine it sends nothing and
// returns ErrInCallback.
func (ch *Chat) Ask(ctx context.Context, text string) (Reply, error) {
	if ch.c.disp.onDispatcher() {
		return Reply{}, ErrInCallback // before sending: the reply could not be waited for
	}
	m, err := ch.Send(ctx, text)
	if err != nil {
		return Reply{}, err
	}
	return m.Wait(ctx)
}

// Typing reports that the local user is typing. It sends typing_start at
// most once per Config.TypingThrottle; typing_stop follows
// Config.TypingIdle after the last call, or before the next Send. Like Send,
// it connects a client that is not connected.
func (ch *Chat) Typing(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := ch.c.clock.Now()
	ch.mu.Lock()
	if ch.closed {
		ch.mu.Unlock()
		return ErrClosed
	}
	ch.typingReq = now
	send := !ch.typingOn || now.Sub(ch.typingAt) >= ch.c.cfg.TypingThrottle
	if send {
		ch.typingOn = true
		ch.typingAt = now
	}
	ch.mu.Unlock()
	ch.c.wake(now.Add(ch.c.cfg.TypingIdle))
	if !send {
		return nil
	}
	return ch.sendTyping(protocol.TypeTypingStart)
}

func (ch *Chat) sendTyping(t string) error {
	id := ch.ID()
	payload, err := ch.c.encodeFrame(t, protocol.Typing{ChatID: id, TenantID: ch.c.cfg.TenantID})
	if err != nil {
		return err
	}
	return ch.c.send(queue.Item{Type: t, ChatID: id, Payload: payload})
}

// stopTypingBeforeSend sends typing_stop when typing is on.
func (ch *Chat) stopTypingBeforeSend() {
	ch.mu.Lock()
	on := ch.typingOn
	ch.typingOn = false
	ch.mu.Unlock()
	if on {
		_ = ch.sendTyping(protocol.TypeTypingStop)
	}
}

// History returns the chat's messages from the platform over REST.
func (ch *Chat) History(ctx context.Context) ([]protocol.HistoryMessage, error) {
	id := ch.ID()
	if id == "" {
		return nil, errNoChatID
	}
	return ch.c.rest.History(ctx, id)
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
	ev := ErrorEvent{Kind: kind, Err: err, ChatID: id, Time: ch.c.clock.Now()}
	ch.c.disp.enqueue(func() {
		for _, h := range handlers(ch.c, ch.onError) {
			h(ev)
		}
	})
	ch.c.emitError(kind, err, id)
}

// tick runs the chat's timers: merged chunks due, typing auto-stop, stale
// typing users. The ledger has the reply timeouts.
func (ch *Chat) tick(now time.Time) {
	c := ch.c
	if cw := c.cfg.ChunkCoalesce; cw > 0 {
		c.lmu.Lock()
		ch.mu.Lock()
		w := ch.stream
		ch.mu.Unlock()
		if w != nil && w.mergedN > 0 && now.Sub(w.lastOut) >= cw {
			c.flushMerged(w, now)
		}
		c.lmu.Unlock()
	}
	ch.mu.Lock()
	stopTyping := ch.typingOn && now.Sub(ch.typingReq) >= c.cfg.TypingIdle
	if stopTyping {
		ch.typingOn = false
	}
	for u, at := range ch.typers {
		if now.Sub(at) > 2*c.cfg.TypingIdle {
			delete(ch.typers, u)
		}
	}
	ch.mu.Unlock()
	if stopTyping {
		_ = ch.sendTyping(protocol.TypeTypingStop)
	}
}

// viewStatus keeps the chat's view of a user message's status.
func (ch *Chat) viewStatus(clientID, serverID string, to registry.Status, err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.updateView(clientID, func(v *MessageView) {
		v.Status = to
		if serverID != "" {
			v.ServerID = serverID
		}
		if err != nil {
			v.Err = err
		}
	})
}

// processing records, for State, that the platform works on w, and reports
// it. Called with c.lmu held.
func (ch *Chat) processing(w *waiter, messageID string, now time.Time) {
	ch.mu.Lock()
	ch.proc, ch.procID, ch.procSince = w, messageID, now
	if ch.procID == "" {
		ch.procID = w.clientID
	}
	id := ch.id
	ch.mu.Unlock()
	pe := ProcessingEvent{ChatID: id, MessageID: messageID, ClientMessageID: w.clientID, Time: now}
	ch.dispatch(func() {
		for _, h := range handlers(ch.c, ch.onProc) {
			h(pe)
		}
	})
}

// streaming records, for State, that w's reply streams now. Called with
// c.lmu held.
func (ch *Chat) streaming(w *waiter, messageID string, now time.Time) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.stream = w
	if messageID != "" {
		ch.streamID = messageID
	}
}

// replyDone records w's outcome in the chat's view: its reply (r.Text set
// by a complete reply) joins the messages; w is no longer streamed or
// processed. Called with c.lmu held.
func (ch *Chat) replyDone(w *waiter, r Reply, now time.Time) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.stream == w {
		ch.stream, ch.streamID = nil, ""
	}
	if ch.proc == w {
		ch.proc, ch.procID, ch.procSince = nil, "", time.Time{}
	}
	if !now.IsZero() {
		ch.addView(MessageView{ID: r.MessageID, ChatID: ch.id, Role: protocol.RoleAssistant, Text: r.Text,
			Status: registry.StatusComplete, Time: now, Late: r.Late})
	}
}

// dispatch enqueues a chat callback on the client's dispatcher.
func (ch *Chat) dispatch(f func()) { ch.c.disp.enqueue(f) }

// parseTime reads an RFC 3339 time, or returns def.
func parseTime(s string, def time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return def
}
