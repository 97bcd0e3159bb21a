package client

import (
	"context"
	"iter"
	"sync"

	"github.com/miptechnologies/miptech-go/normalize"
)

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
// is closed (the change to disconnected is then the last value). The body
// runs on the caller's goroutine and may call any method, Ask included:
// values wait in memory while the body is busy, and never hold up the
// client's callbacks or its socket reader.
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
// dispatcher, appends each value to a list and never waits; the loop body
// runs on the iterating goroutine and takes the values in order.
func watch[T any](ctx context.Context, c *Client, register func(func(T)) func()) iter.Seq[T] {
	return func(yield func(T) bool) {
		var (
			mu     sync.Mutex
			values []T
		)
		more := make(chan struct{}, 1)
		unsubscribe := register(func(v T) {
			mu.Lock()
			values = append(values, v)
			mu.Unlock()
			select {
			case more <- struct{}{}:
			default:
			}
		})
		defer unsubscribe()
		if testHookWatching != nil {
			testHookWatching()
		}
		// next hands over the oldest value, if any.
		next := func() (T, bool) {
			mu.Lock()
			defer mu.Unlock()
			var zero T
			if len(values) == 0 {
				return zero, false
			}
			v := values[0]
			values[0] = zero
			values = values[1:]
			return v, true
		}
		for {
			if v, ok := next(); ok {
				if !yield(v) {
					return
				}
				continue
			}
			select {
			case <-more:
			case <-ctx.Done():
				return
			case <-c.disp.done:
				// No callback runs any more: hand over what is left.
				for v, ok := next(); ok; v, ok = next() {
					if !yield(v) {
						return
					}
				}
				return
			}
		}
	}
}
