package client

import (
	"context"
	"time"
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

	// MessageStart is called when Send accepts a message (or a retry of
	// one starts). The context it returns is given to the message's later
	// hooks; nil keeps ctx.
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
	// Reconnect is true when the client had been ready before.
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
	// Err is ErrQueueFull, ErrExpired, ErrEvicted or the sender's ctx error.
	Err error
}

// DuplicateInfo describes an inbound event dropped as a duplicate.
type DuplicateInfo struct {
	// Type is the event's canonical type.
	Type string
	// ChatID is its chat, if it names one.
	ChatID string
}
