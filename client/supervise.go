package client

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// supervise is the connection loop: connect, serve until the connection is
// lost, decide by the close-code policy whether and when to reconnect.
func (c *Client) supervise() {
	defer c.wg.Done()
	delays := newRetryDelays(c.cfg)
	retries := 0
	wasReady := false // attempts before the first ready are "connecting"
	for first := true; ; first = false {
		if !first && c.State() != StateConnecting && !c.setState(StateConnecting, nil, retries+1, 0) {
			return
		}
		c.stats.attempts.Add(1)
		c.mu.Lock()
		c.permErr = nil // Connect now waits for this attempt's outcome
		c.mu.Unlock()
		hookDone := c.connectHooks(retries+1, wasReady)
		conn, err := c.connectOnce(c.ctx, wasReady)
		hookDone(err)
		if err == nil {
			retries = 0
			delays.reset()
			wasReady = true
			err = c.serve(conn)
		}
		if c.ctx.Err() != nil || c.isClosed() {
			return // Close sends the 1000 close before it cancels
		}
		policy, retryAfter := classify(err)
		policy = c.refreshOnAuthClose(err, c.cfg.ReconnectDelays.Apply(policy))
		if !wasReady && policy.Retry {
			if hint := c.permanentHint(err); hint != "" {
				err = permanentError(err, hint)
				if c.cfg.MaxRetries != RetryForever {
					policy.Retry = false
				} else {
					c.notePermanent(err) // Connect returns it; the attempts go on
				}
			}
		}
		c.emitError(ErrorConnection, err, "")
		if !policy.Retry || retries >= c.cfg.MaxRetries {
			fe := &FailedError{Attempts: retries + 1, Last: err}
			// The queue is drained under the lock that Send pushes under,
			// in the same step as the change to failed: no message can
			// slip in between and wait for a connection that never comes.
			c.mu.Lock()
			c.setStateLocked(StateFailed, fe, retries+1, 0)
			c.running = false // Connect may start a new loop at once
			live, expired := c.q.Drain()
			c.mu.Unlock()
			for _, it := range live {
				c.failItem(it, fe)
			}
			for _, r := range expired {
				c.failItem(r.Item, r.Err)
			}
			// Every message still without an outcome fails now with the
			// connection's cause: none waits out its reply timeout for a
			// connection that will not come back.
			now := c.clock.Now()
			c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
				return l.FailAll(fe, now, out)
			})
			return
		}
		d := delays.next(policy, retryAfter, retries == 0)
		retries++
		t := c.clock.NewTimer(d)
		waiting := StateReconnecting
		if !wasReady {
			waiting = StateConnecting // never connected yet: not "re"connecting
		}
		if !c.setState(waiting, err, retries+1, d) {
			t.Stop()
			return
		}
		select {
		case <-c.ctx.Done():
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// classify maps a connection error to its policy and server-requested wait.
func classify(err error) (protocol.Policy, time.Duration) {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return protocol.Lookup(ce.Trigger), ce.RetryAfter
	}
	return protocol.Lookup(protocol.Trigger{Cause: protocol.CauseNetwork}), 0
}

// connectOnce runs the four steps of SPEC §3.1 and returns a ready
// connection.
func (c *Client) connectOnce(ctx context.Context, reconnect bool) (*wsConn, error) {
	rt, err := c.beginConnect(ctx) // the protocol form (realtime.go)
	if err != nil {
		return nil, err
	}
	// 1. Health.
	if _, err := c.rest.health(ctx, false); c.healthError(err) != nil {
		return nil, c.healthError(err)
	}
	if !rt {
		c.learnLimits(ctx)
		// 2. Chat creation for chats that have no id yet (degraded otherwise).
		for _, ch := range c.chatList() {
			ch.ensureCreated(ctx)
		}
	}
	// 3. Dial, then connection_established / progress / connection_ready.
	conn, err := c.dialOnce(ctx)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			conn.shutdown()
			conn.wg.Wait()
			c.connectionLost(conn)
			c.requeue(conn)
			c.detach(conn)
		}
	}()
	if rt || c.listensForSilence() {
		err = c.awaitGreeting(ctx, conn, conn.session)
	} else {
		err = c.waitReady(ctx, conn)
	}
	if err != nil {
		return nil, err
	}
	c.noteReplyNaming()
	// 4. Join every chat, wait for the acknowledgements, then flush.
	if err := c.joinAll(ctx, conn); err != nil {
		return nil, err
	}
	if err := c.flushAndReady(conn, reconnect); err != nil {
		return nil, err
	}
	ok = true
	return conn, nil
}

// waitReady waits for connection_ready, up to Config.ReadyTimeout.
func (c *Client) waitReady(ctx context.Context, conn *wsConn) error {
	readyTimer := c.clock.NewTimer(c.cfg.ReadyTimeout)
	defer readyTimer.Stop()
	select {
	case <-conn.ready:
		return nil
	case err := <-conn.lost:
		return err
	case <-readyTimer.C():
		return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseReadyTimeout}, Retryable: true,
			Err: errors.New("the platform may still be initializing; it is tried again")}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// learnLimits reads the platform's message length limit once, unless the
// configuration sets one. A platform without the endpoint keeps the default.
func (c *Client) learnLimits(ctx context.Context) {
	if c.maxLen.Load() != 0 || c.cfg.MaxMessageLength > 0 {
		return
	}
	var cc protocol.ChatConfig
	if err := c.rest.do(ctx, http.MethodGet, protocol.PathChatConfig, nil, &cc, false); err != nil {
		c.log.Debug("miptech: no chat config from the platform; using the default limit", "err", err)
		cc.MaxMessageLength = DefaultMaxMessageLength
	} else {
		c.decideForm(ProtocolREST, "the chat configuration endpoint answered")
	}
	if cc.MaxMessageLength <= 0 {
		cc.MaxMessageLength = DefaultMaxMessageLength
	}
	c.maxLen.Store(int64(cc.MaxMessageLength))
}

// restConnectError turns a failed health check into a connection error.
func restConnectError(err error) error {
	var apiErr *protocol.APIError
	if errors.As(err, &apiErr) {
		return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseHandshake, Code: apiErr.Status},
			Retryable:  protocol.Lookup(protocol.Trigger{Cause: protocol.CauseHandshake, Code: apiErr.Status}).Retry,
			RetryAfter: apiErr.RetryAfter, Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: err}
}

func (c *Client) firstChatID() string {
	for _, ch := range c.chatList() {
		if id := ch.ID(); id != "" {
			return id
		}
	}
	return ""
}

// detach forgets conn as the current connection.
func (c *Client) detach(conn *wsConn) {
	c.mu.Lock()
	if c.conn == conn {
		c.conn = nil
	}
	c.mu.Unlock()
}

// joinAll sends join_chat for every open chat and waits for the
// acknowledgements, each up to JoinTimeout; a missing one is logged and the
// connection goes on (the platform registers a chat on its first message).
func (c *Client) joinAll(ctx context.Context, conn *wsConn) error {
	type wait struct {
		chat string
		ch   chan struct{}
	}
	var waits []wait
	for _, chat := range c.chatList() {
		id := chat.ID()
		ack := conn.expectJoin(id)
		sent := chat.joinOn(conn)
		if chat.joinedOnConn(conn) {
			continue // joined already, by a join sent when it was opened
		}
		if !sent && id == "" {
			// Its join was sent when it was opened, with create: the
			// answer may have gone to another chat waiting for an id, so
			// it is asked again.
			c.sendControl(protocol.TypeJoinChat, chat.joinFrame())
		}
		waits = append(waits, wait{id, ack})
	}
	if len(waits) == 0 {
		return nil
	}
	t := c.clock.NewTimer(c.cfg.JoinTimeout)
	defer t.Stop()
	for _, w := range waits {
		select {
		case <-w.ch:
		case <-t.C():
			c.log.Warn("miptech: no chat_joined in time; going on", "chat_id", w.chat)
			return nil
		case err := <-conn.lost:
			return err
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// flushAndReady re-sends the messages caught by a lost connection, flushes
// the outbound queue in order and moves to ready once it is empty, under the
// lock that Send takes, so no frame overtakes a queued one.
func (c *Client) flushAndReady(conn *wsConn, reconnect bool) error {
	var resend []queue.Item[*outMsg]
	for _, ch := range c.chatList() {
		resend = append(resend, c.resends(ch)...)
	}
	if len(resend) > 0 {
		c.q.PutBack(resend)
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		live, expired := c.q.Drain()
		if len(live) == 0 && len(expired) == 0 {
			c.connectedAt = c.clock.Now()
			c.connErr, c.permErr = nil, nil
			if reconnect {
				c.stats.reconnects.Add(1) // counted before ready is seen
			}
			c.setStateLocked(StateReady, nil, 0, 0)
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		for _, r := range expired {
			c.failItem(r.Item, r.Err)
		}
		for i, it := range live {
			if c.stale(it) {
				continue
			}
			if !conn.submit(outItem{item: it}) {
				c.q.PutBack(live[i:])
				select {
				case err := <-conn.lost:
					return err
				case <-c.ctx.Done():
					return ErrClosed
				}
			}
		}
	}
	// What was on the wire of a platform whose replies name no message when
	// the last connection was lost fails now (registry.Ledger.ConnectionLost).
	now := c.clock.Now()
	c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		return l.FailLost(now, out)
	})
	for _, ch := range c.chatList() {
		c.recoverReplies(ch)
	}
	return nil
}

// requeue puts the frames a torn-down connection took and did not write
// back at the front of the queue, in order, or fails their senders with
// ErrClosed after Close. Called once the connection's goroutines exited.
func (c *Client) requeue(conn *wsConn) {
	conn.mu.Lock()
	back := conn.leftover
	for _, it := range append(conn.held, conn.pending...) {
		if !it.control {
			back = append(back, it.item)
		}
	}
	conn.leftover, conn.held, conn.pending = nil, nil, nil
	conn.mu.Unlock()
	if len(back) == 0 {
		return
	}
	if c.isClosed() {
		for _, it := range back {
			c.failItem(it, ErrClosed)
		}
		return
	}
	c.q.PutBack(back)
}

// serve waits until the connection is lost or the client closes, then tears
// the connection down and waits for its goroutines.
func (c *Client) serve(conn *wsConn) error {
	var err error
	select {
	case err = <-conn.lost:
		conn.shutdown()
	case <-c.ctx.Done():
		err = ErrClosed
		conn.closeNormal() // Close may not have seen this connection yet
	}
	conn.wg.Wait()
	c.connectionLost(conn)
	c.requeue(conn)
	c.detach(conn)
	return err
}
