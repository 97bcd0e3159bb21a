package client

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// Recovery of the replies a lost connection took with it (SPEC §7): the
// platform replays nothing, so the reply to a message it acknowledged on the
// lost connection is looked for in the chat's history. The ledger decides
// which history entry answers which message (registry.Ledger.Recover) and
// holds the chat's later replies until each such message has an outcome;
// this file only fetches the history until the ledger awaits nothing.

// recoveryMaxWait caps the wait between two looks at the history.
const recoveryMaxWait = 5 * time.Second

// recoverReplies starts the recovery of ch unless one runs or nothing is
// awaited. Called after every reconnect. Its looks at the history run on
// the client's timer (after), with no goroutine waiting between them.
func (c *Client) recoverReplies(ch *Chat) {
	c.lmu.Lock()
	need := c.ledger.Awaiting(ch.key)
	c.lmu.Unlock()
	if !need || !ch.beginRecovery() {
		return
	}
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(250*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.2),
		backoff.WithMaxInterval(recoveryMaxWait),
		backoff.WithMaxElapsedTime(0),
	)
	b.Clock = c.clock
	if !c.after(0, func() { c.recoveryStep(ch, b) }) {
		ch.endRecovery()
	}
}

// beginRecovery marks the chat as recovering; it reports false when a
// recovery runs already.
func (ch *Chat) beginRecovery() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.recovering {
		return false
	}
	ch.recovering = true
	return true
}

// endRecovery marks the chat's recovery as ended.
func (ch *Chat) endRecovery() {
	ch.mu.Lock()
	ch.recovering = false
	ch.mu.Unlock()
}

// recoveryStep looks at the history once, and arms the next look, after a
// growing wait (b), until the ledger awaits no reply of ch (found, timed
// out, or given up), or the client closes. A platform without a history
// endpoint (404) or a chat without an id ends it at once: the awaited
// messages fail with ErrReplyLost.
func (c *Client) recoveryStep(ch *Chat, b *backoff.ExponentialBackOff) {
	c.lmu.Lock()
	need := c.ledger.Awaiting(ch.key)
	c.lmu.Unlock()
	if !need || c.ctx.Err() != nil {
		ch.endRecovery()
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.RESTTimeout)
	hist, err := ch.recoveryHistory(ctx)
	cancel()
	now := c.clock.Now()
	switch {
	case err == nil:
		items := historyItems(hist)
		var info RecoveryInfo
		c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
			n := len(out)
			out = l.Recover(ch.key, items, now, out)
			info = recoveryCounts(out[n:])
			return out
		})
		if info.Recovered+info.Failed > 0 {
			info.ChatID = ch.ID()
			eventHook(c, c.cfg.Hooks.Recovery, info)
		}
	case unrecoverable(err):
		c.log.Warn("miptech: replies lost with the connection cannot be recovered", "chat_id", ch.ID(), "err", err)
		var info RecoveryInfo
		c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
			n := len(out)
			out = l.GiveUp(ch.key, ErrReplyLost, now, out)
			info = recoveryCounts(out[n:])
			return out
		})
		info.ChatID, info.Err = ch.ID(), err
		eventHook(c, c.cfg.Hooks.Recovery, info)
		ch.endRecovery()
		return
	default:
		c.log.Warn("miptech: history recovery failed; trying again", "chat_id", ch.ID(), "err", err)
	}
	if !c.after(b.NextBackOff(), func() { c.recoveryStep(ch, b) }) {
		ch.endRecovery()
	}
}

// unrecoverable reports whether a history failure will not go away: the
// platform has no history endpoint (or speaks the realtime form), or the
// chat has no id.
func unrecoverable(err error) bool {
	if errors.Is(err, errNoChatID) || errors.Is(err, errNoHistory) {
		return true
	}
	var apiErr *protocol.APIError
	return errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || apiErr.Status == http.StatusMethodNotAllowed)
}

// recoveryCounts counts the replies recovered and the messages given up
// among a recovery's decisions.
func recoveryCounts(ds []registry.Decision) RecoveryInfo {
	var info RecoveryInfo
	for _, d := range ds {
		switch {
		case d.Kind == registry.DecideComplete && d.Recovered:
			info.Recovered++
		case d.Kind == registry.DecideFail:
			info.Failed++
		}
	}
	return info
}

// resends returns the frames of the messages of ch that a lost connection
// took unacknowledged, in send order, to be sent again with the same
// client_message_id after the rejoin (a second reply to one is a
// duplicate). No context: the sender's context governed the first write.
func (c *Client) resends(ch *Chat) []queue.Item[*outMsg] {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	var out []queue.Item[*outMsg]
	for _, info := range c.ledger.Resends(ch.key) {
		w, ok := info.Tag.(*waiter)
		if !ok || w.viaREST || w.payload == nil {
			c.ledger.Unhand(info.Wire)
			continue
		}
		out = append(out, queue.Item[*outMsg]{Type: protocol.TypeChatMessage, ChatID: ch.ID(), Payload: w.payload,
			Value: &outMsg{chat: ch, w: w, wire: w.wire}})
	}
	return out
}
