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
	c *Client

	mu          sync.Mutex
	id          string
	title       string
	created     time.Time
	needsCreate bool // degraded: no chat id yet; learned from the platform
	createReq   protocol.CreateChatRequest
	left        bool
	closed      bool
	closeErr    error

	pending   map[string]*pendingMsg // user messages by client id, until their outcome and late reply
	order     []*pendingMsg          // user messages awaiting a reply, in send order
	byServer  map[string]*pendingMsg // server ids (user and assistant) → pending message
	finished  map[string]struct{}    // ids (client and server) of messages that left pending
	finishedQ []string               // the ids of finished, oldest first, to bound it
	current   *pendingMsg            // message whose reply is streaming
	joinedOn  *wsConn                // the connection on which the platform confirmed the join
	joinSig   chan struct{}          // closed and replaced when joinedOn changes
	messages  []MessageView
	typingOn  bool
	typingAt  time.Time // last typing_start sent
	typingReq time.Time // last Typing call
	typers    map[string]time.Time
	errs      Errors
	procSince time.Time
	procID    string
	recover   bool // a history recovery is under way
	// awaiting holds the messages acknowledged on a lost connection whose
	// replies a history recovery is looking for; the replies to messages
	// sent after them are held back (pendingMsg.parked) until they have an
	// outcome or the recovery ends, so that replies are delivered in send
	// order.
	awaiting map[*pendingMsg]struct{}
	awaitGen int // counts the reconnects that added to awaiting

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
		pending:    map[string]*pendingMsg{},
		byServer:   map[string]*pendingMsg{},
		finished:   map[string]struct{}{},
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

// NewChat creates a conversation over REST and joins it on the connection,
// which it starts if needed. When the platform cannot create the chat (5xx
// or a network error), the chat opens degraded: it joins with
// {"create": true} and learns its id from the platform. A 4xx answer is
// returned as a *protocol.APIError.
func (c *Client) NewChat(ctx context.Context, opts ChatOptions) (*Chat, error) {
	if c.isClosed() {
		return nil, ErrClosed
	}
	ch := newChat(c)
	ch.title = opts.Title
	ch.createReq = protocol.CreateChatRequest{SessionID: opts.SessionID, VisitorID: opts.VisitorID, Title: opts.Title, Context: opts.Context}
	resp, err := c.rest.CreateChat(ctx, ch.createReq)
	switch {
	case err == nil:
		ch.id = resp.ChatID
		if resp.Title != "" {
			ch.title = resp.Title
		}
		ch.created = parseTime(resp.CreatedAt, c.clock.Now())
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
	up := c.conn != nil
	c.mu.Unlock()
	if up {
		ch.sendJoin()
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

func (ch *Chat) sendJoin() {
	id := ch.ID()
	if id == "" {
		ch.c.sendControl(protocol.TypeJoinChat, protocol.JoinChat{Create: true})
		return
	}
	ch.c.sendControl(protocol.TypeJoinChat, protocol.JoinChat{ChatID: id})
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
	ch.c.q.Remove(func(it queue.Item) bool {
		if om, ok := it.Value.(*outMsg); ok {
			return om.chat == ch
		}
		return id != "" && it.ChatID == id
	})
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
	ch.mu.Lock()
	var outs []*pendingMsg
	for _, p := range ch.pending {
		outs = append(outs, p)
	}
	ch.mu.Unlock()
	for _, p := range outs {
		ch.messageFailed(p.clientID, err)
	}
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

// ownsMessage reports whether the chat holds a message with this id.
func (ch *Chat) ownsMessage(id string) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if _, ok := ch.pending[id]; ok {
		return true
	}
	if _, ok := ch.byServer[id]; ok {
		return true
	}
	return ch.isFinishedLocked(id)
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
	ch.mu.Lock()
	closed, left := ch.closed, ch.left
	ch.mu.Unlock()
	if closed || ch.c.isClosed() {
		return nil, ErrClosed
	}
	if left {
		return nil, errors.New("client: chat was left; call Join before sending")
	}
	if err := ch.waitRateLimit(ctx); err != nil {
		return nil, err
	}
	ch.stopTypingBeforeSend()
	p := ch.newPending(ctx, text)
	if ch.c.cfg.SendMode == SendREST {
		return ch.sendREST(ctx, p)
	}
	payload, err := ch.c.encodeFrame(protocol.TypeChatMessage, protocol.ChatMessage{
		Message: text, ChatID: ch.ID(), TenantID: ch.c.cfg.TenantID, ClientMessageID: p.clientID, Stream: true,
	})
	if err != nil {
		ch.forget(p)
		return nil, err
	}
	p.payload = payload
	it := ch.item(ctx, p)
	if err := ch.c.send(it); err != nil {
		ch.messageFailed(p.clientID, err)
		return nil, err
	}
	return &Message{chat: ch, p: p}, nil
}

// item builds the queue item of a pending message.
func (ch *Chat) item(ctx context.Context, p *pendingMsg) queue.Item {
	it := queue.Item{Type: protocol.TypeChatMessage, ChatID: ch.ID(), Payload: p.payload,
		Value: &outMsg{chat: ch, clientID: p.clientID, ctx: ctx}}
	if dl, ok := ctx.Deadline(); ok {
		it.Deadline = dl
	}
	return it
}

// sendREST posts the message over REST once the socket has joined the chat
// (the platform sends the replies only to sockets joined to it); the reply
// comes on the socket. A 2xx answer acknowledges the message.
func (ch *Chat) sendREST(ctx context.Context, p *pendingMsg) (*Message, error) {
	if err := ch.waitJoined(ctx); err != nil {
		ch.messageFailed(p.clientID, err)
		return nil, err
	}
	id := ch.ID()
	if id == "" {
		err := errors.New("client: REST send mode needs a chat id; the chat is degraded, retry when it has one")
		ch.messageFailed(p.clientID, err)
		return nil, err
	}
	body := protocol.SendMessageRequest{Content: p.text, Role: protocol.RoleUser,
		Metadata: map[string]any{"client_message_id": p.clientID}}
	var answer json.RawMessage
	if err := ch.c.rest.do(ctx, http.MethodPost, protocol.PathChatMessages(id), body, &answer, false); err != nil {
		ch.messageFailed(p.clientID, err)
		return nil, err
	}
	ch.delivered(p, postedID(answer))
	return &Message{chat: ch, p: p}, nil
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
// and Message.Wait.
func (ch *Chat) Ask(ctx context.Context, text string) (Reply, error) {
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
		return nil, errors.New("client: the chat has no id yet (degraded); retry once it is joined")
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

// tick runs the chat's timers: reply timeouts, typing auto-stop, stale
// typing users.
func (ch *Chat) tick(now time.Time) {
	ch.mu.Lock()
	var timedOut []*pendingMsg
	for _, p := range ch.pending {
		if p.done {
			// Timed out, kept for a late reply: forgotten after
			// lateReplyWindow, so that a client running for days does
			// not keep every message the platform never answered.
			if now.Sub(p.activity) >= ch.c.cfg.ResponseTimeout+lateReplyWindow {
				ch.retireLocked(p)
			}
			continue
		}
		if p.parked != nil || p.status < registry.StatusSent || p.status > registry.StatusDelivered {
			continue // a held-back reply has come: no timeout
		}
		if now.Sub(p.activity) >= ch.c.cfg.ResponseTimeout {
			timedOut = append(timedOut, p)
		}
	}
	type flush struct {
		p    *pendingMsg
		text string
		n    int
	}
	var flushes []flush
	if w := ch.c.cfg.ChunkCoalesce; w > 0 && ch.current != nil {
		if p := ch.current; p.coalesceN > 0 && now.Sub(p.delivered) >= w {
			flushes = append(flushes, flush{p, p.coalesce.String(), len(p.chunks) - 1})
			p.coalesce.Reset()
			p.coalesceN = 0
			p.delivered = now
		}
	}
	stopTyping := ch.typingOn && now.Sub(ch.typingReq) >= ch.c.cfg.TypingIdle
	if stopTyping {
		ch.typingOn = false
	}
	for u, at := range ch.typers {
		if now.Sub(at) > 2*ch.c.cfg.TypingIdle {
			delete(ch.typers, u)
		}
	}
	ch.mu.Unlock()
	for _, f := range flushes {
		ch.emitChunk(f.p, f.p.assistantID, f.text, f.n, now)
	}
	for _, p := range timedOut {
		ch.timeout(p)
	}
	if stopTyping {
		_ = ch.sendTyping(protocol.TypeTypingStop)
	}
}
