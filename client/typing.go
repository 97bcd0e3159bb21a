package client

import (
	"context"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
)

// Typing reports that the local user is typing. It sends typing_start at
// most once per Config.TypingThrottle; typing_stop follows
// Config.TypingIdle after the last call, or before the next Send. Like Send,
// it connects a client that is not connected.
func (ch *Chat) Typing(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := ch.clock.Now()
	ch.mu.Lock()
	if ch.closed {
		defer ch.mu.Unlock()
		return ch.closedErrLocked()
	}
	ch.typingReq = now
	send := !ch.typingOn || now.Sub(ch.typingAt) >= ch.cfg.TypingThrottle
	if send {
		ch.typingOn = true
		ch.typingAt = now
	}
	ch.mu.Unlock()
	ch.host.wake(now.Add(ch.cfg.TypingIdle))
	if !send {
		return nil
	}
	return ch.sendTyping(protocol.TypeTypingStart)
}

func (ch *Chat) sendTyping(t string) error {
	id := ch.ID()
	payload, err := ch.host.encodeFrame(t, protocol.Typing{ChatID: id, TenantID: ch.cfg.TenantID})
	if err != nil {
		return err
	}
	return ch.host.send(queue.Item[*outMsg]{Type: t, ChatID: id, Payload: payload})
}

// stopTypingBeforeSend sends typing_stop when typing is on.
func (ch *Chat) stopTypingBeforeSend() {
	ch.mu.Lock()
	on := ch.typingOn
	ch.typingOn = false
	ch.mu.Unlock()
	if on {
		_ = ch.sendTyping(protocol.TypeTypingStop)
	}
}

// tick runs the chat's timers: merged chunks due, typing auto-stop, stale
// typing users. The ledger has the reply timeouts.
func (ch *Chat) tick(now time.Time) {
	if cw := ch.cfg.ChunkCoalesce; cw > 0 {
		ch.lmu.Lock()
		ch.mu.Lock()
		w := ch.stream
		ch.mu.Unlock()
		if w != nil && w.mergedN > 0 && now.Sub(w.lastOut) >= cw {
			ch.host.flushMerged(w, now)
		}
		ch.lmu.Unlock()
	}
	ch.mu.Lock()
	stopTyping := ch.typingOn && now.Sub(ch.typingReq) >= ch.cfg.TypingIdle
	if stopTyping {
		ch.typingOn = false
	}
	for u, at := range ch.typers {
		if now.Sub(at) > 2*ch.cfg.TypingIdle {
			delete(ch.typers, u)
		}
	}
	ch.mu.Unlock()
	if stopTyping {
		_ = ch.sendTyping(protocol.TypeTypingStop)
	}
}
