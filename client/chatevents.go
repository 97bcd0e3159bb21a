package client

import (
	"encoding/json"
	"time"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

// handleEvent applies one routed event to the chat: events about messages go
// to the ledger, which decides; typing is the chat's own.
func (ch *Chat) handleEvent(conn *wsConn, ev normalize.Event) {
	ch.mu.Lock()
	left := ch.left
	ch.mu.Unlock()
	if left {
		ch.host.countIsolationDrop()
		return
	}
	switch ev.Type {
	case protocol.TypeMessageReceived:
		ch.stepEvent(registry.InAck, ev, conn.seq, nil)
	case protocol.TypeProcessing:
		ch.stepEvent(registry.InProcessing, ev, conn.seq, nil)
	case protocol.TypeResponseStart:
		ch.stepEvent(registry.InStart, ev, conn.seq, nil)
	case protocol.TypeResponseChunk:
		ch.stepEvent(registry.InChunk, ev, conn.seq, nil)
	case protocol.TypeResponseComplete, protocol.TypeChatResponse:
		ch.stepEvent(registry.InComplete, ev, conn.seq, nil)
	case protocol.TypeError, protocol.TypeRateLimitExceeded:
		// Recorded first, so that State shows the error by the time the
		// waiter wakes. A frame that names no message fails none.
		err := eventError(ev)
		kind := errorKindOf(ev)
		ch.recordError(kind, err)
		switch {
		case ev.ClientMessageID != "" || ev.MessageID != "":
			ch.stepEvent(registry.InError, ev, conn.seq, err)
		case ev.Type == protocol.TypeError && ch.host.realtime():
			// The realtime form's error frames never name a message: the
			// error is about the one the platform is answering.
			ch.stepEvent(registry.InError, ev, conn.seq, err)
		}
	case protocol.TypeTypingStart, protocol.TypeTypingStop, protocol.TypeTypingIndicator:
		ch.typing(ev)
	}
}

// typing records another participant's typing state and reports it.
func (ch *Chat) typing(ev normalize.Event) {
	typing := ev.Type != protocol.TypeTypingStop
	if ev.Type == protocol.TypeTypingIndicator {
		var d struct {
			IsTyping *bool `json:"is_typing"`
			Typing   *bool `json:"typing"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		if d.IsTyping != nil {
			typing = *d.IsTyping
		} else if d.Typing != nil {
			typing = *d.Typing
		}
	}
	user := ev.UserID
	if user == "" {
		user = ev.ClientID
	}
	now := ch.clock.Now()
	ch.mu.Lock()
	if typing {
		ch.typers[user] = now
	} else {
		delete(ch.typers, user)
	}
	ch.mu.Unlock()
	if typing {
		ch.host.wake(now.Add(2*ch.cfg.TypingIdle + time.Nanosecond))
	}
	te := TypingEvent{ChatID: ch.ID(), UserID: user, Typing: typing, Time: ev.Time}
	ch.dispatch(func() {
		for _, h := range ch.onTyping.get() {
			h(te)
		}
	})
}
