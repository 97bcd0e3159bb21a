package clock

import (
	"context"
	"sync"
	"time"
)

// Fake is a manually advanced clock for tests. Timers and tickers fire when
// Advance moves the time past their deadline. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
	changed chan struct{} // closed and replaced whenever a waiter is added
}

type fakeWaiter struct {
	at     time.Time
	period time.Duration // 0 for a timer
	ch     chan time.Time
	fn     func() // AfterFunc's call, run in its own goroutine instead of a send on ch
	done   bool
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires once Advance reaches now+d.
func (f *Fake) NewTimer(d time.Duration) Timer {
	return fakeTimer{f, f.add(d, 0)}
}

// NewTicker returns a ticker that fires every d of fake time.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	return fakeTicker{f, f.add(d, d)}
}

// AfterFunc returns a timer that calls fn in its own goroutine once Advance
// reaches now+d.
func (f *Fake) AfterFunc(d time.Duration, fn func()) Func {
	w := &fakeWaiter{fn: fn}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(w, d)
	return fakeFunc{f, w}
}

func (f *Fake) add(d, period time.Duration) *fakeWaiter {
	w := &fakeWaiter{period: period, ch: make(chan time.Time, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.arm(w, d)
	return w
}

// arm sets w to fire once now+d is reached, firing it at once when d <= 0
// and it is not a ticker.
func (f *Fake) arm(w *fakeWaiter, d time.Duration) {
	w.at, w.done = f.now.Add(d), false
	if d <= 0 && w.period == 0 {
		w.fire(f.now)
		return
	}
	listed := false // a stopped waiter stays listed until the next Advance
	for _, o := range f.waiters {
		listed = listed || o == w
	}
	if !listed {
		f.waiters = append(f.waiters, w)
	}
	close(f.changed)
	f.changed = make(chan struct{})
}

// fire delivers now to w, a timer being done after it.
func (w *fakeWaiter) fire(now time.Time) {
	if w.fn != nil {
		go w.fn()
	} else {
		select {
		case w.ch <- now:
		default:
		}
	}
	if w.period == 0 {
		w.done = true
	}
}

// Advance moves the clock forward by d and fires every timer and ticker whose
// time has come. A ticker fires at most once per Advance, like a real ticker
// whose reader is slow.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	live := f.waiters[:0]
	for _, w := range f.waiters {
		if w.done {
			continue
		}
		if !w.at.After(f.now) {
			w.fire(f.now)
			if w.period == 0 {
				continue
			}
			for !w.at.After(f.now) {
				w.at = w.at.Add(w.period)
			}
		}
		live = append(live, w)
	}
	f.waiters = live
}

// Waiters returns the number of timers and tickers not yet fired or stopped.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, w := range f.waiters {
		if !w.done {
			n++
		}
	}
	return n
}

// WaitForWaiters blocks until at least n timers or tickers are pending, or
// ctx ends.
func (f *Fake) WaitForWaiters(ctx context.Context, n int) error {
	for {
		f.mu.Lock()
		count := 0
		for _, w := range f.waiters {
			if !w.done {
				count++
			}
		}
		ch := f.changed
		f.mu.Unlock()
		if count >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *Fake) stop(w *fakeWaiter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	was := !w.done
	w.done = true
	return was
}

type fakeTimer struct {
	f *Fake
	w *fakeWaiter
}

func (t fakeTimer) C() <-chan time.Time { return t.w.ch }
func (t fakeTimer) Stop() bool          { return t.f.stop(t.w) }

type fakeTicker struct {
	f *Fake
	w *fakeWaiter
}

func (t fakeTicker) C() <-chan time.Time { return t.w.ch }
func (t fakeTicker) Stop()               { t.f.stop(t.w) }

type fakeFunc struct {
	f *Fake
	w *fakeWaiter
}

func (t fakeFunc) Stop() bool { return t.f.stop(t.w) }

func (t fakeFunc) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := !t.w.done
	t.f.arm(t.w, d)
	return was
}
