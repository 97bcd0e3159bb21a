package client

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

// Hooks observe a Client for metrics and tracing, in the style of
// net/http/httptrace: every field is optional, and a nil field costs
// nothing (no allocation, no call). Set them in Config.Hooks; the
// otelmiptech module turns them into OpenTelemetry metrics and spans.
//
// The hooks of a message (MessageStart to MessageDone) are called in the
// order of its life, with the context MessageStart returned, itself derived
// from the context given to Send, Ask or Stream: a trace started by the
// caller goes on through them. MessageStart and the connection hooks run on
// the goroutine doing the work (the caller of Send; the connection loop);
// the other message hooks, Recovery, QueueDrop, DuplicateDropped and
// ProtocolError run on the callback goroutine, after the callbacks of the
// events that came before. No hook runs under an SDK lock. Hooks must return
// quickly; they may read the client (Stats, State) but should not send.
type Hooks struct {
	// ConnectStart is called when a connection attempt starts. The context
	// it returns is given to ConnectDone.
	ConnectStart func(ctx context.Context, info ConnectStartInfo) context.Context
	// ConnectDone is called when that attempt ends: ready, or failed.
	ConnectDone func(ctx context.Context, info ConnectDoneInfo)
	// StateChange is called for every state change, as OnStateChange
	// callbacks are, but before them.
	StateChange func(StateChange)

	// MessageStart is called when Send accepts a message, and when
	// Message.Retry starts a new attempt of a failed one (an automatic
	// retry, Config.MessageRetries, goes on within the same start). The
	// context it returns is given to the message's later hooks; nil keeps
	// ctx.
	MessageStart func(ctx context.Context, info MessageInfo) context.Context
	// MessageWritten is called when the message's frame was handed to the
	// socket.
	MessageWritten func(ctx context.Context, info MessageInfo)
	// MessageAcknowledged is called when the platform acknowledged the
	// message (message_received, or its first reply frame in forms that do
	// not acknowledge).
	MessageAcknowledged func(ctx context.Context, info MessageInfo)
	// MessageFirstChunk is called at the first chunk of the reply.
	MessageFirstChunk func(ctx context.Context, info MessageInfo)
	// MessageDone is called once with the message's outcome.
	MessageDone func(ctx context.Context, info MessageDoneInfo)

	// Recovery is called when the replies lost with a connection were
	// looked for in a chat's history.
	Recovery func(info RecoveryInfo)
	// QueueDrop is called when an outbound message is refused or dropped
	// before it was written: the queue or the write buffer was full, it
	// expired, or it was evicted.
	QueueDrop func(info QueueDropInfo)
	// DuplicateDropped is called for every inbound event dropped as a
	// duplicate.
	DuplicateDropped func(info DuplicateInfo)
	// ProtocolError is called for an inbound frame dropped because it could
	// not be decoded or breaks the protocol.
	ProtocolError func(err error)
}

// ConnectStartInfo describes a connection attempt.
type ConnectStartInfo struct {
	// Attempt is the attempt's number since the last ready, from 1.
	Attempt int
	// Reconnect is true when the attempt follows a lost connection: the
	// client was ready in this series of attempts (Stats.Reconnects counts
	// these that succeed).
	Reconnect bool
	// Time is when the attempt started.
	Time time.Time
}

// ConnectDoneInfo describes how a connection attempt ended.
type ConnectDoneInfo struct {
	ConnectStartInfo
	// Err is nil when the connection became ready; else why it failed
	// (a *ConnectError for the platform's answers, ctx's error, ...).
	Err error
	// CloseCode is the WebSocket close code that ended it, if any.
	CloseCode int
	// Duration is how long the attempt took.
	Duration time.Duration
}

// MessageInfo describes a message at one point of its life.
type MessageInfo struct {
	// ChatID is the chat's id ("" while a degraded chat waits for one).
	ChatID string
	// ClientMessageID is the id Send gave the message (Message.ID).
	ClientMessageID string
	// ServerID is the platform's id of the message, once known.
	ServerID string
	// Attempt is 1 for the first sending, more for a retry.
	Attempt int
	// Bytes is the size of the message's text.
	Bytes int
	// Start is when Send accepted the message; Time is when this point was
	// reached (Time.Sub(Start) is the latency to it).
	Start, Time time.Time
}

// MessageDoneInfo describes a message's outcome.
type MessageDoneInfo struct {
	MessageInfo
	// Err is nil for a reply; else the message's error (ErrResponseTimeout,
	// a *PlatformError, ErrReplyLost, ctx's error, ...).
	Err error
	// ReplyBytes is the size of the reply's text.
	ReplyBytes int
	// Recovered is true when the reply came from the chat's history after a
	// lost connection.
	Recovered bool
	// Late is true when the reply came after the message had timed out.
	Late bool
}

// RecoveryInfo describes one look into a chat's history for replies lost
// with a connection.
type RecoveryInfo struct {
	ChatID string
	// Recovered is how many replies were found; Failed how many messages
	// were given up (ErrReplyLost).
	Recovered, Failed int
	// Err is why the history could not be read, if it could not.
	Err error
}

// QueueDropInfo describes an outbound message refused or dropped before
// it was written.
type QueueDropInfo struct {
	ChatID          string
	ClientMessageID string
	// Err is why: ErrQueueFull, ErrExpired, ErrEvicted, the sender's ctx
	// error, or what ended the client's connecting (a *FailedError,
	// ErrClosed) while the message waited.
	Err error
}

// DuplicateInfo describes an inbound event dropped as a duplicate.
type DuplicateInfo struct {
	// Type is the event's canonical type.
	Type string
	// ChatID is its chat, if it names one.
	ChatID string
}

// startHook calls a MessageStart hook and returns the context for the
// message's later hooks.
func startHook(f func(context.Context, MessageInfo) context.Context, ctx context.Context, info MessageInfo) context.Context {
	if hctx := f(ctx, info); hctx != nil {
		return hctx
	}
	return ctx
}

// info describes w's current attempt at now. Called with Client.lmu held,
// or before w is shared.
func (w *waiter) info(now time.Time) MessageInfo {
	return MessageInfo{ChatID: w.chat.ID(), ClientMessageID: w.clientID, ServerID: w.serverID,
		Attempt: w.attempt, Bytes: len(w.text), Start: w.start, Time: now}
}

// hookContext is the context of w's hooks. Called with Client.lmu held.
func (w *waiter) hookContext() context.Context {
	switch {
	case w.hctx != nil:
		return w.hctx
	case w.ctx != nil:
		return w.ctx
	}
	return context.Background()
}

// messageHook has f, when set, called with w's state at now on the callback
// goroutine, in order with the events. Called with Client.lmu held.
func (c *Client) messageHook(f func(context.Context, MessageInfo), w *waiter, now time.Time) {
	if f == nil {
		return
	}
	ctx, info := w.hookContext(), w.info(now)
	c.disp.enqueue(func() { f(ctx, info) })
}

// doneHook has Hooks.MessageDone, when set, called with w's outcome.
// Called with Client.lmu held.
func (c *Client) doneHook(w *waiter, done MessageDoneInfo, now time.Time) {
	f := c.cfg.Hooks.MessageDone
	if f == nil {
		return
	}
	ctx, d := w.hookContext(), done // a copy: a captured parameter would be allocated even when f is nil
	d.MessageInfo = w.info(now)
	c.disp.enqueue(func() { f(ctx, d) })
}

// duplicateHook has Hooks.DuplicateDropped, when set, called for an event
// of type typ dropped as a duplicate; w is its message, if known.
func (c *Client) duplicateHook(typ string, w *waiter) {
	f := c.cfg.Hooks.DuplicateDropped
	if f == nil {
		return
	}
	info := DuplicateInfo{Type: typ}
	if w != nil {
		info.ChatID = w.chat.ID()
	}
	c.disp.enqueue(func() { f(info) })
}

// inputType names the event type of a ledger input.
func inputType(k registry.InputKind) string {
	switch k {
	case registry.InAck:
		return protocol.TypeMessageReceived
	case registry.InProcessing:
		return protocol.TypeProcessing
	case registry.InStart:
		return protocol.TypeResponseStart
	case registry.InChunk:
		return protocol.TypeResponseChunk
	case registry.InComplete:
		return protocol.TypeResponseComplete
	case registry.InError:
		return protocol.TypeError
	}
	return ""
}

// queueDropHook has Hooks.QueueDrop, when set, called for the message of
// om refused or dropped before it was written.
func (c *Client) queueDropHook(om *outMsg, err error) {
	f := c.cfg.Hooks.QueueDrop
	if f == nil || om == nil || om.w == nil {
		return
	}
	c.lmu.Lock()
	info := QueueDropInfo{ChatID: om.chat.ID(), ClientMessageID: om.w.clientID, Err: err}
	c.lmu.Unlock()
	c.disp.enqueue(func() { f(info) })
}

// eventHook has f, when set, called with v on the callback goroutine.
func eventHook[T any](c *Client, f func(T), v T) {
	if f != nil {
		v := v // a captured parameter would be allocated even when f is nil
		c.disp.enqueue(func() { f(v) })
	}
}

// connectHooks calls Hooks.ConnectStart and returns the function that calls
// Hooks.ConnectDone with the attempt's outcome.
func (c *Client) connectHooks(attempt int, reconnect bool) (done func(error)) {
	h := c.cfg.Hooks
	if h.ConnectStart == nil && h.ConnectDone == nil {
		return func(error) {}
	}
	start := ConnectStartInfo{Attempt: attempt, Reconnect: reconnect, Time: c.clock.Now()}
	ctx := c.ctx
	if h.ConnectStart != nil {
		if hctx := h.ConnectStart(ctx, start); hctx != nil {
			ctx = hctx
		}
	}
	return func(err error) {
		if h.ConnectDone == nil {
			return
		}
		info := ConnectDoneInfo{ConnectStartInfo: start, Err: err, Duration: c.clock.Now().Sub(start.Time)}
		var ce *ConnectError
		var wce *websocket.CloseError
		switch {
		case errors.As(err, &ce) && ce.Trigger.Cause == protocol.CauseClose:
			info.CloseCode = ce.Trigger.Code
		case errors.As(err, &wce):
			info.CloseCode = wce.Code
		}
		h.ConnectDone(ctx, info)
	}
}
