package client

import (
	"sync"
	"time"

	"github.com/miptechnologies/miptech-go/internal/clock"
)

// The client's deadlines (queue expiry, reply timeouts and late-reply
// windows, orphan reports, typing auto-stop, merged chunks due) share one
// timer, armed for the earliest of them and stopped when none is due: an
// idle client does no work between its keepalive pings, and no goroutine
// waits for the timer (it is a clock.AfterFunc). Code that creates a
// deadline calls wake with it; the timer is moved when that deadline is
// earlier than the one armed.

// timers is the state of the client's one timer.
type timers struct {
	mu     sync.Mutex
	fn     clock.Func // nil until first armed
	armed  time.Time  // the deadline the timer is armed for; zero when none
	closed bool       // Close stopped the timer for good

	run     sync.Mutex     // held while what is due runs, so that runs never overlap
	running sync.WaitGroup // runs started before closed; stopTimers waits for them

	later map[*delayed]struct{} // calls armed by after and not run yet
}

// delayed is one call armed by after.
type delayed struct{ fn clock.Func }

// after calls f once d has passed, on the timer's goroutine, unless the
// client closes first; no goroutine exists while it waits, and Close
// (stopTimers) stops it, or waits for it when it runs. It reports false,
// calling nothing, once the client is closing. Used for work that waits
// between steps: a message's automatic retry, the looks at a chat's
// history after a reconnect.
func (c *Client) after(d time.Duration, f func()) bool {
	t := &c.timers
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	k := new(delayed)
	if t.later == nil {
		t.later = map[*delayed]struct{}{}
	}
	t.later[k] = struct{}{}
	// The call cannot run before k.fn is set: it takes t.mu first.
	k.fn = c.clock.AfterFunc(d, func() {
		t.mu.Lock()
		if t.closed {
			t.mu.Unlock()
			return
		}
		delete(t.later, k)
		t.running.Add(1)
		t.mu.Unlock()
		defer t.running.Done()
		f()
	})
	return true
}

// wake arms the timer for d when nothing earlier is armed.
func (c *Client) wake(d time.Time) {
	t := &c.timers
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || (!t.armed.IsZero() && !d.Before(t.armed)) {
		return
	}
	t.armed = d
	delay := max(0, d.Sub(c.clock.Now()))
	if t.fn == nil {
		t.fn = c.clock.AfterFunc(delay, c.fire)
	} else {
		t.fn.Reset(delay)
	}
}

// fire runs what is due, then arms the timer for the next deadline.
func (c *Client) fire() {
	t := &c.timers
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return
	}
	t.running.Add(1)
	defer t.running.Done()
	t.armed = time.Time{}
	t.mu.Unlock()
	t.run.Lock()
	defer t.run.Unlock()
	c.runDue(c.clock.Now())
	if next, due := c.nextDeadline(); due {
		c.wake(next)
	}
}

// stopTimers stops the timer for good and returns once a run in progress
// has ended.
func (c *Client) stopTimers() {
	t := &c.timers
	t.mu.Lock()
	t.closed = true
	if t.fn != nil {
		t.fn.Stop()
	}
	for k := range t.later {
		k.fn.Stop()
	}
	t.later = nil
	t.mu.Unlock()
	t.running.Wait()
}

// runDue runs what is due at now.
func (c *Client) runDue(now time.Time) {
	for _, r := range c.q.Expire() {
		c.failItem(r.Item, r.Err)
	}
	for _, ch := range c.chatList() {
		ch.tick(now)
	}
	c.tickLedger(now)
}

// nextDeadline returns the earliest deadline of the client, and false when
// nothing is due at any time.
func (c *Client) nextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time, ok bool) {
		if ok && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	consider(c.q.NextDeadline())
	c.lmu.Lock()
	consider(c.ledger.NextDeadline())
	c.lmu.Unlock()
	for _, ch := range c.chatList() {
		consider(ch.nextDeadline())
	}
	return next, !next.IsZero()
}

// nextDeadline returns when the chat's tick has something to do: typing to
// stop, another participant's typing to forget, merged chunks to deliver.
func (ch *Chat) nextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	ch.lmu.Lock()
	ch.mu.Lock()
	if ch.typingOn {
		consider(ch.typingReq.Add(ch.cfg.TypingIdle))
	}
	for _, at := range ch.typers {
		consider(at.Add(2*ch.cfg.TypingIdle + time.Nanosecond))
	}
	if w := ch.stream; w != nil && w.mergedN > 0 && ch.cfg.ChunkCoalesce > 0 {
		consider(w.lastOut.Add(ch.cfg.ChunkCoalesce))
	}
	ch.mu.Unlock()
	ch.lmu.Unlock()
	return next, !next.IsZero()
}
