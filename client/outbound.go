package client

import (
	"context"
	"errors"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
)

// outMsg is the Item.Value of a queued or in-flight chat message: whose
// attempt it is. Other frames (typing, control) have none (nil).
type outMsg struct {
	chat *Chat
	w    *waiter
	wire string // the attempt's client_message_id
	ctx  context.Context
}

// failItem tells the sender of an item that it will not be sent. An item
// that expired at its sender's context deadline fails with the context's
// error (context.DeadlineExceeded), whichever of the queue and the context
// saw the deadline first; ErrExpired is only for Config.QueueTTL.
func (c *Client) failItem(it queue.Item[*outMsg], err error) {
	om := it.Value
	if om == nil || om.w == nil || it.Type != protocol.TypeChatMessage {
		return
	}
	if om.ctx != nil && errors.Is(err, ErrExpired) {
		if cerr := om.ctx.Err(); cerr != nil {
			err = cerr
		} else if dl, ok := om.ctx.Deadline(); ok && !it.Deadline.IsZero() && !it.Deadline.Before(dl) {
			err = context.DeadlineExceeded
		}
	}
	c.queueDropHook(om, err)
	c.failWire(om, err)
}

// connSeqNow returns the number of the current connection.
func (c *Client) connSeqNow() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		return c.conn.seq
	}
	return c.connSeq.Load()
}

// send writes a queueable frame directly when ready, else queues it. It
// starts a connection when none is running (lazy connect).
func (c *Client) send(it queue.Item[*outMsg]) error {
	for direct := true; ; direct = false {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return ErrClosed
		}
		if c.state == StateFailed {
			// Terminal until Connect: the caller learns why at once.
			err := c.lastErr
			c.mu.Unlock()
			return err
		}
		if direct && c.state == StateReady && c.conn != nil {
			conn := c.conn
			c.mu.Unlock()
			ok, full := conn.offer(outItem{item: it}, c.cfg.WriteBuffer)
			if full {
				// The platform is not taking frames as fast as they are
				// sent: the writer's backlog is bounded in bytes.
				c.stats.queueRejected.Add(1)
				return ErrQueueFull
			}
			if ok {
				return nil
			}
			// The connection stopped taking frames: its loss is being
			// handled, and the queue is flushed on the next connection.
			continue
		}
		removed, err := c.q.Push(it)
		running := c.running
		c.mu.Unlock()
		if d, ok := c.q.NextDeadline(); ok {
			c.wake(d)
		}
		for _, r := range removed {
			c.failItem(r.Item, r.Err)
		}
		if err != nil {
			c.stats.queueRejected.Add(1)
			return err
		}
		if !running {
			_ = c.startLazy()
		}
		return nil
	}
}

// sendControl writes a non-queueable frame (join, leave, pong) when a socket
// is up; it is dropped otherwise, since joins are re-sent on every connect.
func (c *Client) sendControl(t string, payload any) {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return
	}
	f, err := protocol.NewFrame(t, payload, c.clock.Now().UnixMilli(), c.ClientID())
	if err != nil {
		c.log.Error("miptech: encode frame", "type", t, "err", err)
		return
	}
	b, err := f.Encode()
	if err != nil {
		c.log.Error("miptech: encode frame", "type", t, "err", err)
		return
	}
	if _, full := conn.offer(outItem{item: queue.Item[*outMsg]{Type: t, Payload: b}, control: true}, 0); full {
		c.log.Warn("miptech: control frame dropped; the platform is not reading", "type", t)
	}
}

// encodeFrame builds the bytes of an outbound frame.
func (c *Client) encodeFrame(t string, payload any) ([]byte, error) {
	f, err := protocol.NewFrame(t, payload, c.clock.Now().UnixMilli(), c.ClientID())
	if err != nil {
		return nil, err
	}
	return f.Encode()
}
