package client

import (
	"time"

	"github.com/gorilla/websocket"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// The writer of one connection: every frame written to the socket, and the
// keepalive. No goroutine exists while nothing is to be written: handing
// the connection a frame starts one (wsConn.wakeLocked), which writes until
// nothing is left and exits; the keepalive's timer writes its ping on its
// own goroutine when no writer runs. An idle connection so costs its reader
// goroutine only.

// ping is the keepalive timer's call: the ping is written at once when no
// writer runs (on the timer's goroutine), else by the writer on its next
// pass; the timer is armed again for the next interval.
func (c *Client) ping(conn *wsConn) {
	conn.mu.Lock()
	if conn.closed {
		conn.mu.Unlock()
		return
	}
	conn.pingDue = true
	conn.pingT.Reset(c.cfg.PingInterval)
	if conn.writing {
		conn.kicked = true
		conn.mu.Unlock()
		return
	}
	conn.writing = true
	conn.wg.Add(1)
	c.wg.Add(1)
	conn.mu.Unlock()
	defer c.wg.Done()
	defer conn.wg.Done()
	c.write(conn)
}

// write writes what the connection was handed, in order, until nothing is
// left to write, the connection stops, or a write fails. At most one write
// runs per connection (wsConn.writing).
func (c *Client) write(conn *wsConn) {
	var unsent []outItem
	idle := false // returned with nothing left, writing already cleared
	defer func() {
		if idle {
			return
		}
		// The connection stopped or a write failed: the frames taken and
		// not written go back to the queue at teardown (requeue), before
		// those still waiting for a writer.
		conn.mu.Lock()
		conn.writing = false
		for _, it := range unsent {
			if !it.control {
				conn.leftover = append(conn.leftover, it.item)
			}
		}
		conn.mu.Unlock()
	}()
	var pingBuf []byte
	for {
		conn.mu.Lock()
		if conn.closed {
			conn.mu.Unlock()
			return
		}
		items := conn.pending
		if len(conn.held) > 0 {
			items = append(conn.held, items...) // held first: they were sent earlier
		}
		ping := conn.pingDue
		conn.pending, conn.held = nil, nil
		conn.pongs, conn.pingDue, conn.kicked = 0, false, false
		conn.mu.Unlock()
		if ping {
			now := c.clock.Now().UnixMilli()
			pingBuf = protocol.AppendPing(pingBuf[:0], protocol.TypePing, now, now, c.ClientID())
			_ = conn.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := conn.ws.WriteMessage(websocket.TextMessage, pingBuf); err != nil {
				unsent = items
				conn.fail(&ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: redactURLError(err)})
				return
			}
			c.stats.framesOut.Add(1)
			c.stats.bytesOut.Add(uint64(len(pingBuf)))
		}
		var held []outItem
		var heldChats map[*Chat]bool // a chat with a message held has all its later ones held: its order stands
		gone := 0                    // bytes of the queueable frames written or dropped: out of the backlog
		for i, it := range items {
			switch c.writable(it.item, heldChats) {
			case writeStale:
				if !it.control {
					gone += len(it.item.Payload)
				}
				continue
			case writeHold:
				if heldChats == nil {
					heldChats = map[*Chat]bool{}
				}
				heldChats[it.item.Value.chat] = true
				held = append(held, it)
				continue
			}
			// A message counts as written before the write: a platform that
			// answers at once, with no acknowledgement (the realtime form),
			// must find it sent when its first chunk is read.
			om := it.item.Value
			marked := om != nil && om.w != nil
			if marked {
				c.written(om, conn.seq)
			}
			_ = conn.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
			if err := conn.ws.WriteMessage(websocket.TextMessage, it.item.Payload); err != nil {
				if marked {
					i++ // the ledger sends it again after the reconnect (Resends)
				}
				unsent = append(append(unsent, held...), items[i:]...)
				conn.fail(&ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: redactURLError(err)})
				return
			}
			if !it.control {
				gone += len(it.item.Payload)
			}
			c.stats.framesOut.Add(1)
			c.stats.bytesOut.Add(uint64(len(it.item.Payload)))
			c.log.Debug("miptech: frame out", "type", it.item.Type)
		}
		conn.mu.Lock()
		conn.held = held
		conn.backlog -= gone
		if len(conn.pending) == 0 && !conn.pingDue && !conn.kicked {
			conn.writing, idle = false, true
			conn.mu.Unlock()
			return // started again by the next frame, kick or ping
		}
		conn.mu.Unlock()
	}
}

// What the writer does with a frame (writable).
const (
	writeNow   = iota
	writeStale // not to be written: see stale
	writeHold  // a message whose chat has one on the wire: held until it has its reply
)

// writable says what the writer does with a frame: drop it (stale), hold
// it, when the platform's replies name no message and another message of
// its chat waits for its reply (registry.Ledger.Writable: a reply is then a
// message's only by its place) or an earlier one is held (heldChats), or
// write it.
func (c *Client) writable(it queue.Item[*outMsg], heldChats map[*Chat]bool) int {
	om := it.Value
	if om == nil || om.w == nil {
		if c.stale(it) {
			return writeStale
		}
		return writeNow
	}
	if om.ctx != nil && om.ctx.Err() != nil {
		c.failItem(it, om.ctx.Err())
		return writeStale
	}
	c.lmu.Lock()
	defer c.lmu.Unlock()
	switch {
	case c.ledger.Settled(om.wire):
		return writeStale
	case heldChats[om.chat] || !c.ledger.Writable(om.chat.key):
		return writeHold
	}
	return writeNow
}

// stale reports whether a frame about to be written must not be: its
// sender's context ended (the sender gets that error), or its message
// already has an outcome, such as ErrChatLeft after Leave or a timeout,
// and must not reach the platform after its sender was told it failed.
func (c *Client) stale(it queue.Item[*outMsg]) bool {
	om := it.Value
	if om == nil {
		return false
	}
	if om.ctx != nil && om.ctx.Err() != nil {
		c.failItem(it, om.ctx.Err())
		return true
	}
	if om.w == nil {
		return false
	}
	c.lmu.Lock()
	defer c.lmu.Unlock()
	return c.ledger.Settled(om.wire)
}

// written records that a message's attempt reached the socket.
func (c *Client) written(om *outMsg, conn uint64) {
	now := c.clock.Now()
	c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		return l.Written(om.wire, conn, now, out)
	})
	c.wake(now.Add(c.cfg.ResponseTimeout))
}
