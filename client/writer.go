package client

import (
	"time"

	"github.com/gorilla/websocket"
	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// The writer goroutine of one connection: every frame written to the
// socket, and the keepalive.

// write is the writer goroutine: it owns every frame write and the keepalive.
func (c *Client) write(conn *wsConn, ping clock.Ticker) {
	defer ping.Stop()
	var unsent []outItem
	defer func() {
		// The frames not written go back to the queue at teardown (requeue),
		// after any frame the connection loop puts back itself: those were
		// handed over later, so they belong behind these.
		conn.mu.Lock()
		conn.closed = true
		unsent = append(append(unsent, conn.held...), conn.pending...)
		conn.pending, conn.held = nil, nil
		for _, it := range unsent {
			if !it.control {
				conn.leftover = append(conn.leftover, it.item)
			}
		}
		conn.mu.Unlock()
	}()
	for {
		select {
		case <-conn.stop:
			return
		case <-ping.C():
			b, err := c.encodeFrame(protocol.TypePing, protocol.Ping{TS: c.clock.Now().UnixMilli()})
			if err == nil {
				conn.submit(outItem{item: queue.Item[*outMsg]{Type: protocol.TypePing, Payload: b}, control: true})
			}
		case <-conn.wake:
		}
		conn.mu.Lock()
		items := conn.pending
		if len(conn.held) > 0 {
			items = append(conn.held, items...) // held first: they were sent earlier
		}
		conn.pending, conn.held = nil, nil
		conn.pongs = 0
		conn.mu.Unlock()
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
