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
	return c.onState.add(f)
}

// OnError registers f for connection-level and chat errors.
func (c *Client) OnError(f func(ErrorEvent)) (unsubscribe func()) {
	return c.onError.add(f)
}

// OnProgress registers f for the platform's initialization phases.
func (c *Client) OnProgress(f func(ProgressEvent)) (unsubscribe func()) {
	return c.onProg.add(f)
}

// OnEvent registers f for every inbound event after normalization and
// deduplication (the raw-event hook), before routing.
func (c *Client) OnEvent(f func(normalize.Event)) (unsubscribe func()) {
	return c.onEvent.add(f)
}

// OnOrphan registers f for user messages never acknowledged by the platform
// within Config.OrphanAge. Each orphan is reported once.
func (c *Client) OnOrphan(f func(registry.Message)) (unsubscribe func()) {
	return c.onOrphan.add(f)
}

// hooks is the list of callbacks registered for one kind of event, in
// registration order. The zero value is an empty list and allocates
// nothing: most chats and clients register few kinds. The list is replaced,
// never changed in place, so get returns it without copying.
type hooks[T any] struct {
	mu  sync.Mutex
	seq int
	ids []int
	fs  []T
}

// add registers f and returns the function that unregisters it, once.
func (h *hooks[T]) add(f T) (remove func()) {
	h.mu.Lock()
	h.seq++
	id := h.seq
	h.ids = append(slices.Clip(h.ids), id)
	h.fs = append(slices.Clip(h.fs), f)
	h.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			if i := slices.Index(h.ids, id); i >= 0 {
				h.ids = slices.Delete(slices.Clone(h.ids), i, i+1)
				h.fs = slices.Delete(slices.Clone(h.fs), i, i+1)
			}
		})
	}
}

// get returns the callbacks registered now; the caller must not change the
// slice.
func (h *hooks[T]) get() []T {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fs
}

// any reports whether a callback is registered.
func (h *hooks[T]) any() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.fs) > 0
}

func (c *Client) stateHandlers() []func(StateChange) { return c.onState.get() }

// emitError enqueues an ErrorEvent for the client's OnError callbacks.
func (c *Client) emitError(kind ErrorKind, err error, chatID string) {
	if kind == ErrorConnection {
		c.mu.Lock()
		c.connErr = err
		c.mu.Unlock()
	}
	ev := ErrorEvent{Kind: kind, Err: err, ChatID: chatID, Time: c.clock.Now()}
	c.disp.enqueue(func() {
		for _, h := range c.onError.get() {
			h(ev)
		}
	})
}
