package queue

import "errors"

// Errors returned by [Queue.Push] and carried by [Removed.Err]. Match them
// with errors.Is.
var (
	// ErrQueueFull is returned by Push when the queue holds Capacity frames
	// and none of them may be evicted for the new one.
	ErrQueueFull = errors.New("queue: full, or the chat holds its share of it; wait for the connection to be ready, or raise the queue capacity or choose the DropOldest policy")
	// ErrNotQueueable is returned (wrapped with the frame type) by Push for a
	// frame type that never waits in the queue; see protocol.Queueable.
	ErrNotQueueable = errors.New("queue: frame type not queueable; only chat_message, typing_start and typing_stop wait for a connection, send other frames when connected")
	// ErrExpired reports a frame whose deadline passed while it waited, or was
	// already past when it was pushed.
	ErrExpired = errors.New("queue: deadline passed before the connection was ready; send again or allow a longer deadline")
	// ErrEvicted reports a frame removed to make room for a newer one: any
	// frame under DropOldest, a typing frame under RejectNew.
	ErrEvicted = errors.New("queue: evicted to make room for newer frames; send again, or raise the queue capacity")
	// ErrReplaced reports a typing frame superseded by a newer typing frame
	// of the same chat before it was sent.
	ErrReplaced = errors.New("queue: typing frame replaced by a newer typing frame of the same chat")
)
