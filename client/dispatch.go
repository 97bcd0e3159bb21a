package client

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
)

// dispatcher runs every user callback of a client on one goroutine, in the
// order the events were enqueued. The reader and the connection loop only
// enqueue; user code never runs on them nor under an SDK lock.
//
// No goroutine exists while nothing is pending: enqueue starts one, which
// runs the events in order and exits when none is left, so that an idle
// client keeps no goroutine for its callbacks.
//
// Enqueueing never blocks, so it is safe under an SDK lock and from a
// callback (a callback that sends, or a panic being reported). Backpressure
// is applied at one place only: the socket reader calls waitRoom before each
// inbound event and waits while limit events are pending. Everything else
// enqueues in proportion to the user's own calls.
type dispatcher struct {
	mu        sync.Mutex
	queue     []dispatchItem // pending events are queue[head:]
	head      int
	room      chan struct{} // closed when the pending count drops below limit; nil when nobody waits
	limit     int
	byteLimit int // 0: none
	bytes     int // frame bytes charged to pending events
	charge    int // frame bytes to charge to the next event enqueued

	running bool          // a goroutine runs the pending events
	inCall  atomic.Int32  // callbacks in progress: 0 or 1
	quit    chan struct{} // closed by shutdown
	done    chan struct{} // closed once stopped and no goroutine runs
	stopped atomic.Bool   // no new events are taken
	abandon atomic.Bool   // stop running the events still queued
	stalls  atomic.Uint64
	log     *slog.Logger
	onPanic func(error) // enqueues an error event; set by the client
	stop    sync.Once
}

func newDispatcher(limit int, log *slog.Logger) *dispatcher {
	return &dispatcher{
		limit: limit,
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
		log:   log,
	}
}

// run is the dispatcher goroutine's body: it runs the pending events, unless
// they are abandoned, and exits when none is left.
func (d *dispatcher) run() {
	for {
		f, n := d.next()
		if f == nil || d.abandon.Load() {
			d.mu.Lock()
			if f == nil && d.head != len(d.queue) && !d.abandon.Load() {
				d.mu.Unlock()
				continue // enqueued between next and here
			}
			d.running = false
			if d.stopped.Load() {
				close(d.done)
			}
			d.mu.Unlock()
			return
		}
		d.call(f)
		d.ran(n)
	}
}

// ran releases the frame bytes an event held once it has run.
func (d *dispatcher) ran(n int) {
	if n == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bytes -= n
	if d.room != nil && !d.fullLocked() {
		close(d.room)
		d.room = nil
	}
}

// dispatchItem is one pending event and the frame bytes it holds.
type dispatchItem struct {
	f func()
	n int
}

// next takes the oldest pending event and the bytes it holds (released by
// ran once it has run), or returns nil.
func (d *dispatcher) next() (func(), int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.head == len(d.queue) {
		d.queue, d.head = d.queue[:0], 0
		return nil, 0
	}
	it := d.queue[d.head]
	f := it.f
	d.queue[d.head] = dispatchItem{}
	d.head++
	if d.head >= 1024 && 2*d.head >= len(d.queue) {
		n := copy(d.queue, d.queue[d.head:])
		clear(d.queue[n:])
		d.queue, d.head = d.queue[:n], 0
	}
	if d.room != nil && !d.fullLocked() {
		close(d.room)
		d.room = nil
	}
	return f, it.n
}

// fullLocked reports whether the reader must wait: limit events pending, or
// byteLimit bytes.
func (d *dispatcher) fullLocked() bool {
	return len(d.queue)-d.head >= d.limit || (d.byteLimit > 0 && d.bytes >= d.byteLimit)
}

// chargeNext makes the next event enqueued carry n bytes of the frame it
// came from, until it runs: the reader calls it with each frame's size.
func (d *dispatcher) chargeNext(n int) {
	d.mu.Lock()
	d.charge = n
	d.mu.Unlock()
}

// pending returns the number of events waiting to run.
func (d *dispatcher) pending() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue) - d.head
}

// call runs f, turning a panic into an error event.
func (d *dispatcher) call(f func()) {
	d.inCall.Store(1)
	defer func() {
		d.inCall.Store(0)
		if v := recover(); v != nil {
			err := fmt.Errorf("client: callback panicked: %v", v)
			d.log.Error("miptech: callback panicked", "panic", fmt.Sprint(v))
			if d.onPanic != nil {
				d.onPanic(err)
			}
		}
	}()
	f()
}

// enqueue adds f without blocking. It returns false once the dispatcher is
// stopped.
func (d *dispatcher) enqueue(f func()) bool {
	d.mu.Lock()
	if d.stopped.Load() {
		d.mu.Unlock()
		return false
	}
	d.queue = append(d.queue, dispatchItem{f, d.charge})
	d.bytes += d.charge
	d.charge = 0
	if !d.running {
		d.running = true
		go d.run() // owned by the dispatcher: it exits when nothing is pending
	}
	d.mu.Unlock()
	return true
}

// waitRoom blocks while limit events are pending (callbacks have fallen
// behind), counting and logging the stall: the socket reader calls it before
// each inbound event, so that slow callbacks slow the reading of the socket
// instead of dropping events or growing memory. It returns false when stop
// or the dispatcher's shutdown ends the wait.
func (d *dispatcher) waitRoom(stop <-chan struct{}) bool {
	d.mu.Lock()
	if !d.fullLocked() {
		d.mu.Unlock()
		return true
	}
	d.stalls.Add(1)
	d.log.Warn("miptech: callbacks are slow; the socket reader waits", "pending", len(d.queue)-d.head, "bytes", d.bytes)
	for d.fullLocked() {
		if d.room == nil {
			d.room = make(chan struct{})
		}
		room := d.room
		d.mu.Unlock()
		select {
		case <-room:
		case <-stop:
			return false
		case <-d.quit:
			return false
		}
		d.mu.Lock()
	}
	d.mu.Unlock()
	return true
}

// shutdown stops taking events; the dispatcher runs the ones already queued
// and exits. wait waits for that.
func (d *dispatcher) shutdown() {
	d.stop.Do(func() {
		d.mu.Lock()
		d.stopped.Store(true)
		if !d.running {
			close(d.done)
		}
		d.mu.Unlock()
		close(d.quit)
	})
}

// wait blocks until the dispatcher goroutine has exited, or ctx ends (then
// the queued events are abandoned). Called from the dispatcher goroutine
// itself (a callback that closes the client), it returns at once: the
// dispatcher exits when that callback returns.
func (d *dispatcher) wait(ctx context.Context) error {
	if d.onDispatcher() {
		d.abandon.Store(true)
		return nil
	}
	select {
	case <-d.done:
		return nil
	case <-ctx.Done():
		d.abandon.Store(true)
		return ctx.Err()
	}
}

// onDispatcher reports whether the caller runs inside a callback, on the
// dispatcher's goroutine: there, waiting for anything the dispatcher must
// deliver first would wait for itself. While a callback is in progress
// (the cheap check, false for nearly every call), the caller's frames are
// searched for the dispatcher's call; a goroutine the callback started has
// its own frames and is not inside it.
func (d *dispatcher) onDispatcher() bool {
	if d.inCall.Load() == 0 {
		return false
	}
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	for n == len(pcs) { // a deep callback: dispatcher.call is at the bottom
		pcs = make([]uintptr, 4*len(pcs))
		n = runtime.Callers(2, pcs)
	}
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if f.Function == callName {
			return true
		}
		if !more {
			return false
		}
	}
}

// callName is dispatcher.call's name in a goroutine's frames.
var callName = runtime.FuncForPC(reflect.ValueOf((*dispatcher).call).Pointer()).Name()
