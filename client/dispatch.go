package client

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

// dispatcher runs every user callback of a client on one goroutine, in the
// order the events were enqueued. The reader and the connection loop only
// enqueue; user code never runs on them nor under an SDK lock.
type dispatcher struct {
	ch      chan func()
	quit    chan struct{}
	done    chan struct{}
	stopped atomic.Bool // no new events are taken
	abandon atomic.Bool // stop running the events still queued
	gid     atomic.Uint64
	stalls  atomic.Uint64
	log     *slog.Logger
	onPanic func(error) // enqueues an error event; set by the client
	stop    sync.Once
}

func newDispatcher(buffer int, log *slog.Logger) *dispatcher {
	return &dispatcher{
		ch:   make(chan func(), buffer),
		quit: make(chan struct{}),
		done: make(chan struct{}),
		log:  log,
	}
}

// run is the dispatcher goroutine's body.
func (d *dispatcher) run() {
	defer close(d.done)
	d.gid.Store(goid())
	for {
		select {
		case <-d.quit:
			d.drain()
			return
		case f := <-d.ch:
			d.call(f)
		}
	}
}

// drain runs the events queued before shutdown, unless abandoned.
func (d *dispatcher) drain() {
	for !d.abandon.Load() {
		select {
		case f := <-d.ch:
			d.call(f)
		default:
			return
		}
	}
}

// call runs f, turning a panic into an error event.
func (d *dispatcher) call(f func()) {
	defer func() {
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

// enqueue adds f. When the buffer is full it waits (backpressure to the
// socket reader) and counts the stall. It returns false once the dispatcher
// is stopped.
func (d *dispatcher) enqueue(f func()) bool {
	if d.stopped.Load() {
		return false
	}
	select {
	case d.ch <- f:
		return true
	default:
	}
	d.stalls.Add(1)
	d.log.Warn("miptech: callbacks are slow; the socket reader waits", "buffer", cap(d.ch))
	select {
	case d.ch <- f:
		return true
	case <-d.quit:
		return false
	}
}

// shutdown stops taking events; the dispatcher runs the ones already queued
// and exits. wait waits for that.
func (d *dispatcher) shutdown() {
	d.stop.Do(func() {
		d.stopped.Store(true)
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

// onDispatcher reports whether the caller runs on the dispatcher goroutine.
func (d *dispatcher) onDispatcher() bool {
	id := d.gid.Load()
	return id != 0 && id == goid()
}

// goid returns the current goroutine's id, read from its stack header. It is
// used only to let Close know it was called from a callback, where waiting
// for the dispatcher would wait for itself.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	n, _ := strconv.ParseUint(string(b), 10, 64)
	return n
}
