package client

import (
	"context"
	"time"
)

// Connect connects the client and blocks until it is ready, the connection
// fails, or ctx ends. Attempts go on in the background when ctx ends first.
// On a client in state failed or disconnected it starts a new series of
// attempts; on a connecting or ready client it only waits. It returns nil
// when ready, an error matching ErrFailed (wrapping the last *ConnectError)
// when attempts stopped, ErrClosed after Close, or ctx's error.
func (c *Client) Connect(ctx context.Context) error {
	return c.connect(ctx, c.start)
}

// connectLazy is Connect for a first use (a message posted over REST): it
// does not start a failed client again, and returns its error instead.
func (c *Client) connectLazy(ctx context.Context) error {
	return c.connect(ctx, c.startLazy)
}

func (c *Client) connect(ctx context.Context, start func() error) error {
	if err := start(); err != nil {
		return err
	}
	for {
		c.mu.Lock()
		st, ch, lastErr, closed := c.state, c.stateCh, c.lastErr, c.closed
		c.mu.Unlock()
		switch {
		case closed:
			return ErrClosed
		case st == StateReady:
			return nil
		case st == StateFailed:
			return lastErr
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitForState blocks until the client is in state s or ctx ends. It does
// not start a connection.
func (c *Client) WaitForState(ctx context.Context, s State) error {
	for {
		c.mu.Lock()
		st, ch, closed := c.state, c.stateCh, c.closed
		c.mu.Unlock()
		if st == s {
			return nil
		}
		if closed {
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// start launches the supervisor goroutine unless one is running. It is
// Connect's: a failed client starts again only there.
func (c *Client) start() error {
	return c.startIf(true)
}

// startLazy starts a connection for a first use (a send, typing, a chat
// opened) unless one is running or the client is failed, which is terminal
// until Connect.
func (c *Client) startLazy() error {
	return c.startIf(false)
}

func (c *Client) startIf(fromFailed bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.running || (c.state == StateFailed && !fromFailed) {
		return nil
	}
	// The first transition happens here, so that a caller that starts a
	// connection never sees the state of the previous one.
	if !c.setStateLocked(StateConnecting, nil, 1, 0) {
		return nil
	}
	c.running = true
	c.wg.Add(1)
	go c.supervise()
	return nil
}

// setState moves the state machine and enqueues the change for callbacks.
// An impossible transition is a bug: it is logged and reported, and the
// state is left unchanged.
func (c *Client) setState(to State, reason error, attempt int, retryIn time.Duration) bool {
	c.mu.Lock()
	ok := c.setStateLocked(to, reason, attempt, retryIn)
	c.mu.Unlock()
	return ok
}

func (c *Client) setStateLocked(to State, reason error, attempt int, retryIn time.Duration) bool {
	from := c.state
	if c.closed && to != StateDisconnected {
		return false
	}
	if !canTransition(from, to) {
		err := transitionError{from, to}
		c.log.Error("miptech: " + err.Error())
		c.stats.badTransitions.Add(1)
		return false
	}
	c.state = to
	if to == StateFailed {
		c.lastErr = reason
	}
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	ch := StateChange{Previous: from, Current: to, Reason: reason, Attempt: attempt, RetryIn: retryIn, Time: c.clock.Now()}
	c.log.Info("miptech: state", "from", from.String(), "to", to.String(), "attempt", attempt, "retry_in", retryIn, "reason", errString(reason))
	hook := c.cfg.Hooks.StateChange
	c.disp.enqueue(func() {
		if hook != nil {
			hook(ch)
		}
		for _, h := range c.stateHandlers() {
			h(ch)
		}
	})
	return true
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
