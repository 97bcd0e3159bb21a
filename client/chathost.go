package client

import (
	"context"
	"time"

	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// chatHost is what a Chat needs of the client it lives on, and all that the
// chat's code may use of it: a chat reaches its client through these
// methods, never through the client's fields or locks. *Client implements
// it. It is an interface rather than a *Client so that the dependency is one
// list a reader can check, and so that a chat cannot take the client's mu or
// read its state by accident. What does not change after New (the
// configuration, clock, logger and REST client) and the ledger lock that
// guards the waiters are handed to the chat at creation instead (newChat).
type chatHost interface {
	// The client's open chats.
	addChat(ch *Chat) error
	removeChat(ch *Chat)
	indexChat(ch *Chat, id string)

	// The connection.
	State() State
	lastConnectionError() error
	isClosed() bool
	closing() <-chan struct{} // closed when Close starts
	connectLazy(ctx context.Context) error
	currentConn() *wsConn
	connSeqNow() uint64
	realtime() bool
	maxLength() int
	rateWait() time.Duration

	// Outbound frames.
	encodeFrame(t string, payload any) ([]byte, error)
	send(it queue.Item[*outMsg]) error
	sendControl(t string, payload any)
	removeFrames(match func(queue.Item[*outMsg]) bool) *wsConn

	// The ledger and the outcomes of messages.
	decide(step func(l *registry.Ledger, out []registry.Decision) []registry.Decision)
	step(in registry.Input, now time.Time)
	nextAttemptLocked(w *waiter, ctx context.Context) (queue.Item[*outMsg], error)
	failMessage(w *waiter, err error)
	flushMerged(w *waiter, now time.Time)
	queueDropHook(om *outMsg, err error)

	// Callbacks and timers.
	dispatch(f func())
	onDispatcher() bool
	emitError(kind ErrorKind, err error, chatID string)
	wake(at time.Time)
	countIsolationDrop()
}

var _ chatHost = (*Client)(nil)

// closing returns a channel closed when Close starts.
func (c *Client) closing() <-chan struct{} { return c.ctx.Done() }

// currentConn returns the current connection, or nil.
func (c *Client) currentConn() *wsConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conn
}

// removeFrames takes the frames match selects out of the queue and out of
// what waits for the current connection's writer, and returns that
// connection (nil when none).
func (c *Client) removeFrames(match func(queue.Item[*outMsg]) bool) *wsConn {
	c.q.Remove(match)
	conn := c.currentConn()
	if conn != nil {
		conn.remove(match)
	}
	return conn
}

// dispatch enqueues a callback on the client's dispatcher.
func (c *Client) dispatch(f func()) { c.disp.enqueue(f) }

// onDispatcher reports whether the caller runs inside a callback.
func (c *Client) onDispatcher() bool { return c.disp.onDispatcher() }

// countIsolationDrop counts an event dropped for a chat that was left.
func (c *Client) countIsolationDrop() { c.stats.isolationDrops.Add(1) }
