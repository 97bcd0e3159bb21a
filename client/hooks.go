package client

import (
	"slices"
	"sync"
	"time"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/registry"
)

// ErrorKind classifies an ErrorEvent, as the web client's useChat does.
type ErrorKind int

// Error kinds.
const (
	// ErrorConnection: a connection attempt failed or a connection was lost.
	ErrorConnection ErrorKind = iota + 1
	// ErrorProcessing: the platform failed to answer a message, or a reply
	// timed out.
	ErrorProcessing
	// ErrorValidation: a message was refused before sending.
	ErrorValidation
	// ErrorRateLimit: the platform asked the client to slow down.
	ErrorRateLimit
	// ErrorProtocol: a frame could not be decoded, or a callback panicked.
	ErrorProtocol
)

// String names the kind.
func (k ErrorKind) String() string {
	switch k {
	case ErrorConnection:
		return "connection"
	case ErrorProcessing:
		return "processing"
	case ErrorValidation:
		return "validation"
	case ErrorRateLimit:
		return "rate_limit"
	case ErrorProtocol:
		return "protocol"
	}
	return "unknown"
}

// ErrorEvent is delivered to OnError callbacks.
type ErrorEvent struct {
	// Kind classifies the error.
	Kind ErrorKind
	// Err is the error.
	Err error
	// ChatID is the chat concerned, if any.
	ChatID string
	// Time is when it happened.
	Time time.Time
}

// ProgressEvent reports a platform initialization phase while connecting.
type ProgressEvent struct {
	// Phase is protocol.PhaseStarting, PhaseServices or PhaseComplete.
	Phase string
	// Message is the platform's description.
	Message string
	// Time is when it arrived.
	Time time.Time
}

// OnStateChange registers f for every state change. It returns a function
// that unregisters f. Safe to call at any time, including from a callback.
func (c *Client) OnStateChange(f func(StateChange)) (unsubscribe func()) {
	return register(c, c.onState, f)
}

// OnError registers f for connection-level and chat errors.
func (c *Client) OnError(f func(ErrorEvent)) (unsubscribe func()) {
	return register(c, c.onError, f)
}

// OnProgress registers f for the platform's initialization phases.
func (c *Client) OnProgress(f func(ProgressEvent)) (unsubscribe func()) {
	return register(c, c.onProg, f)
}

// OnEvent registers f for every inbound event after normalization and
// deduplication (the raw-event hook), before routing.
func (c *Client) OnEvent(f func(normalize.Event)) (unsubscribe func()) {
	return register(c, c.onEvent, f)
}

// OnOrphan registers f for user messages never acknowledged by the platform
// within Config.OrphanAge. Each orphan is reported once.
func (c *Client) OnOrphan(f func(registry.Message)) (unsubscribe func()) {
	return register(c, c.onOrphan, f)
}

func register[T any](c *Client, m map[int]T, f T) func() {
	c.hmu.Lock()
	c.hseq++
	id := c.hseq
	m[id] = f
	c.hmu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.hmu.Lock()
			delete(m, id)
			c.hmu.Unlock()
		})
	}
}

// handlers returns the callbacks registered in m, in registration order
// (ids increase), in time proportional to their number.
func handlers[T any](c *Client, m map[int]T) []T {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	switch len(m) {
	case 0:
		return nil
	case 1:
		for _, f := range m {
			return []T{f}
		}
	}
	ids := make([]int, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]T, len(ids))
	for i, id := range ids {
		out[i] = m[id]
	}
	return out
}

// subscribed reports whether any callback is registered in m.
func subscribed[T any](c *Client, m map[int]T) bool {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return len(m) > 0
}

func (c *Client) stateHandlers() []func(StateChange) { return handlers(c, c.onState) }

// emitError enqueues an ErrorEvent for the client's OnError callbacks.
func (c *Client) emitError(kind ErrorKind, err error, chatID string) {
	if kind == ErrorConnection {
		c.mu.Lock()
		c.connErr = err
		c.mu.Unlock()
	}
	ev := ErrorEvent{Kind: kind, Err: err, ChatID: chatID, Time: c.clock.Now()}
	c.disp.enqueue(func() {
		for _, h := range handlers(c, c.onError) {
			h(ev)
		}
	})
}
