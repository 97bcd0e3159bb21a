package client

import (
	"time"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
)

// perConnection reports whether frames of type t belong to one connection:
// they are never deduplicated against another connection's frames (two
// connections' identical chat_joined in the same millisecond are two acks).
func perConnection(t string) bool {
	switch t {
	case protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress, protocol.TypeConnectionReady,
		protocol.TypeChatJoined, protocol.TypeChatLeft, protocol.TypeChatCreated, protocol.TypePing, protocol.TypePong:
		return true
	}
	return false
}

// deduplicated reports whether ev is checked against the dedup window.
// Frames that belong to one connection are not (each connection has its
// own). Neither is, in the realtime form, an event that names no message:
// the platform replays nothing there, and two frames alike are two events
// (the same error for two questions within one millisecond carries the
// same time and data, so the same key).
func (c *Client) deduplicated(ev normalize.Event) bool {
	switch {
	case ev.Key == "" || perConnection(ev.Type):
		return false
	case ev.MessageID == "" && ev.ClientMessageID == "" && c.realtime(): // the form is read last: it takes a lock
		return false
	}
	return true
}

// handleInbound acts on one deduplicated event: connection lifecycle frames
// here, chat events in their chat.
func (c *Client) handleInbound(conn *wsConn, ev normalize.Event) {
	if c.onEvent.any() {
		// The raw-event hook's closure, and the copy of the event it holds,
		// are made only for a subscriber: capturing ev itself would move it
		// to the heap for every frame.
		e := ev
		c.disp.enqueue(func() {
			for _, h := range c.onEvent.get() {
				h(e)
			}
		})
	}
	if isRateLimit(ev) || (ev.Type == protocol.TypeError && ev.RetryAfter > 0) {
		// Error frames too may ask to wait: sends wait it out.
		c.rateLimited(ev.RetryAfter)
	}
	switch ev.Type {
	case protocol.TypeConnectionEstablished:
		conn.greetOnce.Do(func() { close(conn.greeted) })
		if ev.ClientID != "" {
			c.setClientID(ev.ClientID)
		}
		return
	case protocol.TypeInitializationProgress:
		conn.greetOnce.Do(func() { close(conn.greeted) })
		p := ProgressEvent{Phase: ev.Phase, Message: ev.Text, Time: ev.Time}
		c.disp.enqueue(func() {
			for _, h := range c.onProg.get() {
				h(p)
			}
		})
		return
	case protocol.TypeConnectionReady:
		if ev.ClientID != "" {
			c.setClientID(ev.ClientID)
		}
		conn.readyOnce.Do(func() { close(conn.ready) })
		return
	case protocol.TypePing:
		c.sendControl(protocol.TypePong, protocol.Ping{TS: ev.PingTS})
		return
	case protocol.TypePong:
		return
	case protocol.TypeChatCreated, protocol.TypeChatJoined:
		joined := ev.Success == nil || *ev.Success
		if ev.ChatID != "" && c.chatByID(ev.ChatID) == nil {
			if ch := c.adoptChatID(ev.ChatID); ch != nil {
				if joined {
					ch.markJoined(conn)
				}
				conn.ackJoin("")
				conn.ackJoin(ev.ChatID)
				return
			}
		}
		if ch := c.chatByID(ev.ChatID); ch != nil && ev.ChatID != "" && joined {
			ch.markJoined(conn)
		}
		conn.ackJoin(ev.ChatID)
		if ev.Type == protocol.TypeChatCreated && ev.ChatID == "" {
			conn.ackJoin("")
		}
		return
	case protocol.TypeMessageReceived:
		// A degraded chat also learns its id from the acknowledgement of
		// one of its messages.
		if ev.ChatID != "" && ev.ClientMessageID != "" && c.chatByID(ev.ChatID) == nil {
			if ch := c.ownerChat(ev.ClientMessageID); ch != nil && ch.ID() == "" {
				ch.adoptID(ev.ChatID)
				conn.ackJoin("")
			}
		}
	}
	ch := c.route(ev)
	if ch == nil {
		if ev.Type == protocol.TypeError || ev.Type == protocol.TypeRateLimitExceeded {
			c.emitError(errorKindOf(ev), eventError(ev), ev.ChatID)
			return
		}
		if isChatEvent(ev.Type) {
			c.stats.isolationDrops.Add(1)
			c.log.Debug("miptech: event for no open chat dropped", "type", ev.Type, "chat_id", ev.ChatID)
		}
		return
	}
	ch.handleEvent(conn, ev)
}

// isChatEvent reports whether events of type t belong to a chat.
func isChatEvent(t string) bool {
	switch t {
	case protocol.TypeChatLeft, protocol.TypeMessageReceived, protocol.TypeProcessing,
		protocol.TypeResponseStart, protocol.TypeResponseChunk, protocol.TypeResponseComplete,
		protocol.TypeChatResponse, protocol.TypeTypingStart, protocol.TypeTypingStop,
		protocol.TypeTypingIndicator:
		return true
	}
	return false
}

// route finds the chat of an event: by chat id (an event for a chat not open
// here is dropped), else by the message it concerns, else the only chat.
func (c *Client) route(ev normalize.Event) *Chat {
	if ev.ChatID != "" {
		return c.chatByID(ev.ChatID)
	}
	for _, id := range []string{ev.ClientMessageID, ev.MessageID} {
		if ch := c.ownerChat(id); ch != nil {
			return ch
		}
	}
	c.chats.mu.Lock()
	defer c.chats.mu.Unlock()
	if len(c.chats.list) == 1 {
		return c.chats.list[0]
	}
	return nil
}

// ownerChat returns the open chat of the message the ledger knows by id, or
// nil.
func (c *Client) ownerChat(id string) *Chat {
	if id == "" {
		return nil
	}
	c.lmu.Lock()
	key, ok := c.ledger.Owner(id)
	c.lmu.Unlock()
	if !ok {
		return nil
	}
	for _, ch := range c.chatList() {
		if ch.key == key {
			return ch
		}
	}
	return nil
}

// adoptChatID gives id to the open chat that proposed it (realtime form),
// else to the oldest open chat that is waiting for one (degraded mode). It
// returns that chat, or nil.
func (c *Client) adoptChatID(id string) *Chat {
	chats := c.chatList()
	for _, ch := range chats {
		if ch.proposedID() == id && ch.adoptID(id) {
			return ch
		}
	}
	for _, ch := range chats {
		if ch.adoptID(id) {
			return ch
		}
	}
	return nil
}

// rateLimited records a platform request to slow down: sends wait it out.
func (c *Client) rateLimited(d time.Duration) {
	if d <= 0 {
		d = protocol.DefaultRateLimitWait
	}
	until := c.clock.Now().Add(d).UnixNano()
	for {
		old := c.rateUntil.Load()
		if until <= old || c.rateUntil.CompareAndSwap(old, until) {
			return
		}
	}
}

// rateWait returns how long sends must wait for a rate limit to pass.
func (c *Client) rateWait() time.Duration {
	until := c.rateUntil.Load()
	if until == 0 {
		return 0
	}
	return time.Unix(0, until).Sub(c.clock.Now())
}

func errorKindOf(ev normalize.Event) ErrorKind {
	if isRateLimit(ev) || ev.RetryAfter > 0 {
		return ErrorRateLimit
	}
	return ErrorProcessing
}

// isRateLimit reports whether ev is a rate limit: a rate_limit_exceeded
// frame, or an error frame with that code (the realtime form's tenant-app
// variant has no rate_limit_exceeded frame).
func isRateLimit(ev normalize.Event) bool {
	return ev.Type == protocol.TypeRateLimitExceeded ||
		(ev.Type == protocol.TypeError && ev.Code == protocol.TypeRateLimitExceeded)
}

// eventError turns an error or rate-limit frame into a typed error: a
// *RateLimitError for a frame that asks to wait (wrapping the
// *PlatformError of an error frame), else a *PlatformError.
func eventError(ev normalize.Event) error {
	if ev.Type == protocol.TypeRateLimitExceeded {
		d := ev.RetryAfter
		if d <= 0 {
			d = protocol.DefaultRateLimitWait
		}
		return &RateLimitError{RetryAfter: d}
	}
	pe := &PlatformError{Code: ev.Code, Category: ev.Category, Message: ev.Text, MessageID: ev.MessageID,
		RetryAfter: ev.RetryAfter, Retryable: ev.Retryable}
	switch {
	case ev.RetryAfter > 0:
		return &RateLimitError{RetryAfter: ev.RetryAfter, Err: pe}
	case isRateLimit(ev):
		return &RateLimitError{RetryAfter: protocol.DefaultRateLimitWait, Err: pe}
	}
	return pe
}

// setClientID records the client id the platform assigned. The id is
// copied to a variable of its own: a pointer into the event would keep the
// event, and the frame it was read from, alive.
func (c *Client) setClientID(id string) {
	c.clientID.Store(&id)
}
