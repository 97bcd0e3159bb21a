package client

import (
	"sync"
	"time"
)

// The client's deadlines (queue expiry, reply timeouts and late-reply
// windows, orphan reports, typing auto-stop, merged chunks due) share one
// timer, armed for the earliest of them and stopped when none is due: an
// idle client does no work between its keepalive pings. Code that creates a
// deadline calls wake with it; the timer goroutine re-arms when that
// deadline is earlier than the one armed.

// timers is the state of the client's one timer.
type timers struct {
	kick chan struct{} // capacity 1: a deadline earlier than the armed one appeared

	mu    sync.Mutex
	armed time.Time // the deadline the timer is armed for; zero when none
}

// wake tells the timer goroutine that something is due at d.
func (c *Client) wake(d time.Time) {
	t := &c.timers
	t.mu.Lock()
	early := t.armed.IsZero() || d.Before(t.armed)
	t.mu.Unlock()
	if !early {
		return
	}
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// housekeeping is the timer goroutine: it waits for the earliest deadline
// (or for an earlier one to appear), then runs what is due.
func (c *Client) housekeeping() {
	defer c.wg.Done()
	for {
		next, due := c.nextDeadline()
		c.timers.mu.Lock()
		c.timers.armed = next
		c.timers.mu.Unlock()
		var fire <-chan time.Time
		stop := func() {}
		if due {
			t := c.clock.NewTimer(max(0, next.Sub(c.clock.Now())))
			fire, stop = t.C(), func() { t.Stop() }
		}
		select {
		case <-c.ctx.Done():
			stop()
			return
		case <-c.timers.kick:
			stop()
			continue
		case <-fire:
		}
		c.runDue(c.clock.Now())
	}
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
	c := ch.c
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	c.lmu.Lock()
	ch.mu.Lock()
	if ch.typingOn {
		consider(ch.typingReq.Add(c.cfg.TypingIdle))
	}
	for _, at := range ch.typers {
		consider(at.Add(2*c.cfg.TypingIdle + time.Nanosecond))
	}
	if w := ch.stream; w != nil && w.mergedN > 0 && c.cfg.ChunkCoalesce > 0 {
		consider(w.lastOut.Add(c.cfg.ChunkCoalesce))
	}
	ch.mu.Unlock()
	c.lmu.Unlock()
	return next, !next.IsZero()
}
