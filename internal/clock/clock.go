// Package clock abstracts time for the SDK's timing code (backoff waits, the
// ready timeout, processing timeouts, typing throttles), so that tests can
// drive it with a fake clock instead of sleeping.
package clock

import "time"

// Clock tells the time and makes timers and tickers.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine once d has passed, like
	// time.AfterFunc; no goroutine exists while it waits.
	AfterFunc(d time.Duration, f func()) Func
}

// Func is a timer made by AfterFunc.
type Func interface {
	// Stop prevents the call if it has not started, and reports whether
	// it did.
	Stop() bool
	// Reset makes the call happen once d has passed from now, whether or
	// not it was stopped or has run, and reports whether it was pending.
	Reset(d time.Duration) bool
}

// Timer is a one-shot timer, like time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// Ticker is a periodic ticker, like time.Ticker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (Real) NewTimer(d time.Duration) Timer { return realTimer{time.NewTimer(d)} }

// NewTicker wraps time.NewTicker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Func { return time.AfterFunc(d, f) }

type realTimer struct{ t *time.Timer }

func (r realTimer) C() <-chan time.Time { return r.t.C }
func (r realTimer) Stop() bool          { return r.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }
