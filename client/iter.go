package client

import (
	"context"
	"iter"

	"github.com/miptechnologies/miptech-go/normalize"
)

// watchBuffer is how many values an iterator holds for a loop body that is
// busy; past it, the client's callbacks wait for the loop (see watch).
const watchBuffer = 64

// testHookWatching, when set by a test, is called once an iterator's
// callback is registered, before its first value.
var testHookWatching func()

// StateChanges returns an iterator over the client's state changes from the
// moment the loop starts, for users who prefer a loop to OnStateChange:
//
//	for sc := range c.StateChanges(ctx) {
//		log.Printf("%s → %s", sc.Previous, sc.Current)
//	}
//
// The loop ends when ctx ends, when the body breaks out, or after the client
// is closed (the change to disconnected is the last value). The body runs
// on the caller's goroutine and may call any method. A body that falls more
// than 64 values behind makes the client's callbacks wait for it, as a slow
// callback does.
func (c *Client) StateChanges(ctx context.Context) iter.Seq[StateChange] {
	return watch(ctx, c, c.OnStateChange)
}

// Errors returns an iterator over the client's error events (what OnError
// reports), with the same rules as StateChanges.
func (c *Client) Errors(ctx context.Context) iter.Seq[ErrorEvent] {
	return watch(ctx, c, c.OnError)
}

// Events returns an iterator over every inbound event after normalization
// and deduplication (what OnEvent reports), with the same rules as
// StateChanges.
func (c *Client) Events(ctx context.Context) iter.Seq[normalize.Event] {
	return watch(ctx, c, c.OnEvent)
}

// watch turns a callback registration into an iterator. The callback, on the
// dispatcher, hands each value to a buffered channel; the loop body runs on
// the iterating goroutine. When the buffer is full the callback waits for
// the loop, unless the loop has ended, ctx has ended or the client is
// closing (then the value is dropped rather than hold Close up).
func watch[T any](ctx context.Context, c *Client, register func(func(T)) func()) iter.Seq[T] {
	return func(yield func(T) bool) {
		values := make(chan T, watchBuffer)
		stop := make(chan struct{})
		unsubscribe := register(func(v T) {
			select {
			case values <- v:
				return
			default:
			}
			select {
			case values <- v:
			case <-stop:
			case <-ctx.Done():
			case <-c.ctx.Done():
			}
		})
		defer func() {
			unsubscribe()
			close(stop)
		}()
		if testHookWatching != nil {
			testHookWatching()
		}
		for {
			select {
			case v := <-values:
				if !yield(v) {
					return
				}
			case <-ctx.Done():
				return
			case <-c.disp.done:
				// No callback runs any more: hand over what is buffered.
				for {
					select {
					case v := <-values:
						if !yield(v) {
							return
						}
					default:
						return
					}
				}
			}
		}
	}
}
