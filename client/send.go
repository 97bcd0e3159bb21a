package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// maxLength returns the message length limit in characters.
func (c *Client) maxLength() int {
	if c.cfg.MaxMessageLength > 0 {
		return c.cfg.MaxMessageLength
	}
	if n := c.maxLen.Load(); n > 0 {
		return int(n)
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
	if n, max := utf8.RuneCountInString(text), ch.host.maxLength(); n > max {
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
	closed, left, closedErr := ch.closed, ch.left, ch.closedErrLocked()
	ch.mu.Unlock()
	switch {
	case ch.host.isClosed():
		return ErrClosed
	case closed:
		return closedErr
	case left:
		return ErrChatLeft
	}
	return nil
}

// register enters a new user message in the ledger and builds its frame.
func (ch *Chat) register(ctx context.Context, text string) (*waiter, queue.Item[*outMsg], error) {
	id := registry.NewClientMessageID()
	w := &waiter{chat: ch, clientID: id, wire: id, text: text, ctx: ctx, attempt: 1,
		viaREST: ch.cfg.SendMode == SendREST, doneCh: make(chan struct{}), notify: make(chan struct{})}
	if !w.viaREST {
		payload, err := ch.host.encodeFrame(protocol.TypeChatMessage, protocol.ChatMessage{
			Message: text, ChatID: ch.ID(), TenantID: ch.cfg.TenantID, ClientMessageID: id, Stream: true,
		})
		if err != nil {
			return nil, queue.Item[*outMsg]{}, err
		}
		w.payload = payload
	}
	now := ch.clock.Now()
	w.start = now
	if f := ch.cfg.Hooks.MessageStart; f != nil {
		w.hctx = startHook(f, ctx, w.info(now)) // before the ledger shares w
	}
	ch.mu.Lock()
	ch.addView(MessageView{ClientMessageID: id, ChatID: ch.id, Role: protocol.RoleUser, Text: text, Status: registry.StatusSending, Time: now})
	ch.mu.Unlock()
	ch.host.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		l.Add(ch.key, id, text, w, now)
		return out
	})
	if ch.cfg.OrphanAge > 0 {
		ch.host.wake(now.Add(ch.cfg.OrphanAge))
	}
	se := MessageStatusEvent{ChatID: ch.ID(), ClientMessageID: id, Status: registry.StatusSending, Time: now}
	ch.dispatch(func() {
		for _, h := range ch.onStatus.get() {
			h(se)
		}
	})
	return w, ch.item(ctx, w), nil
}

// submit writes or queues a message's frame; a refusal fails the message.
func (ch *Chat) submit(ctx context.Context, w *waiter, it queue.Item[*outMsg]) error {
	if w.viaREST {
		_, err := ch.sendREST(ctx, w)
		return err
	}
	if err := ch.host.send(it); err != nil {
		ch.host.queueDropHook(it.Value, err)
		ch.host.failMessage(w, err)
		return err
	}
	return nil
}

// item builds the queue item of a message's current attempt. Its deadline
// is the sender's context's, which the queue enforces as ErrExpired and
// failItem reports as the context's own error.
func (ch *Chat) item(ctx context.Context, w *waiter) queue.Item[*outMsg] {
	it := queue.Item[*outMsg]{Type: protocol.TypeChatMessage, ChatID: ch.ID(), Payload: w.payload,
		Value: &outMsg{chat: ch, w: w, wire: w.wire, ctx: ctx}}
	if dl, ok := ctx.Deadline(); ok && dl.Before(ch.clock.Now().Add(ch.cfg.QueueTTL)) {
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
	if err := ch.waitJoined(ctx); err != nil {
		ch.host.failMessage(w, err)
		return nil, err
	}
	id := ch.ID()
	if id == "" {
		ch.host.failMessage(w, errNoChatID)
		return nil, errNoChatID
	}
	ch.lmu.Lock()
	wire := w.wire
	ch.lmu.Unlock()
	body := protocol.SendMessageRequest{Content: w.text, Role: protocol.RoleUser,
		Metadata: map[string]any{"client_message_id": wire}}
	var answer json.RawMessage
	if err := ch.rest.do(ctx, http.MethodPost, protocol.PathChatMessages(id), body, &answer, false); err != nil {
		ch.host.failMessage(w, err)
		return nil, err
	}
	ev := normalize.Event{ClientMessageID: wire, MessageID: postedID(answer)}
	ch.stepEvent(registry.InAck, ev, ch.host.connSeqNow(), nil)
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
	d := ch.host.rateWait()
	if d <= 0 {
		return nil
	}
	t := ch.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", &RateLimitError{RetryAfter: d}, ctx.Err())
	case <-ch.host.closing():
		return ErrClosed
	}
}

// Ask sends text and waits for the complete reply. Errors are those of Send
// and Message.Wait. Called on the callback goroutine it sends nothing and
// returns ErrInCallback.
func (ch *Chat) Ask(ctx context.Context, text string) (Reply, error) {
	if ch.host.onDispatcher() {
		return Reply{}, ErrInCallback // before sending: the reply could not be waited for
	}
	m, err := ch.Send(ctx, text)
	if err != nil {
		return Reply{}, err
	}
	return m.Wait(ctx)
}
