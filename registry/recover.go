package registry

import "time"

// ConnectionLost records that connection conn is gone, before the next one
// is dialled. A message written and never acknowledged is to be sent again
// (Resends); a message acknowledged and not answered awaits recovery from
// the history (Recover, GiveUp), and the replies to later messages of its
// chat are held until it has an outcome. A reply that was streaming on conn
// and goes on over the next connection is judged by its chunks (see
// chunk).
//
// When the platform's replies name no message (SetUnnamedReplies), a
// message on the wire is neither sent again (the platform may have it) nor
// recovered (there is no history): its reply, if one comes, may have lost
// its beginning with the connection. It fails with ErrLostWithConnection
// once the next connection is up (FailLost), unless the client fails or
// closes first, and stays in its chat's line until that reply has come
// (and is dropped, DecideDuplicate) or ResponseTimeout has passed since its
// last activity (it was written, or a frame of its reply came), so that the
// reply is not taken for the next message's: until then the chat's next
// message is not Writable.
func (l *Ledger) ConnectionLost(conn uint64) {
	for _, ln := range l.chats {
		ln.current = nil
		for _, e := range ln.order {
			if e.done || e.retrying || e.answered {
				continue
			}
			switch {
			case l.UnnamedReplies() && e.status >= StatusSent:
				e.sink = true
			case e.status == StatusSent:
				e.resend = true
			case e.status == StatusDelivered && e.parked == nil:
				l.setAwaiting(e, true)
			}
		}
	}
}

// FailLost fails, with ErrLostWithConnection, the messages ConnectionLost
// found on the wire of a platform whose replies name no message: the
// caller calls it once the next connection is up.
func (l *Ledger) FailLost(now time.Time, out []Decision) []Decision {
	for _, k := range l.Chats() {
		for _, e := range append([]*entry(nil), l.chats[k].order...) {
			if e.sink && !e.done {
				out = l.fail(e, ErrLostWithConnection, now, out)
			}
		}
	}
	return out
}

// sinkStep takes an event about a message on the wire when its connection
// was lost (e.sink): it fails, if it has not yet, the event is dropped
// (DecideDuplicate), and the message is forgotten once its reply is
// complete or failed; each frame of the reply gives it another
// ResponseTimeout.
func (l *Ledger) sinkStep(e *entry, in Input, now time.Time, out []Decision) []Decision {
	if !e.done {
		out = l.fail(e, ErrLostWithConnection, now, out)
	}
	if in.MessageID != "" && in.MessageID != e.serverID {
		l.mapID(e, in.MessageID) // its later frames, and copies, are duplicates
	}
	d := Decision{Kind: DecideDuplicate, Chat: in.Chat, ClientID: e.id, Tag: e.tag, Input: in}
	if in.Kind == InComplete || in.Kind == InError {
		l.forget(e)
	} else {
		e.activity = now
		e.lateEnd = now.Add(l.cfg.ResponseTimeout)
	}
	return append(out, d)
}

// Resends returns, in send order, the messages of chat to send again after a
// lost connection, and marks them handed out until written, so that a
// re-send waiting in the queue is not returned twice.
func (l *Ledger) Resends(chat ChatKey) []Info {
	var out []Info
	if ln := l.chats[chat]; ln != nil {
		for _, e := range ln.order {
			if e.resend && !e.handed && !e.done && !e.retrying && e.status == StatusSent {
				e.handed = true
				out = append(out, e.info())
			}
		}
	}
	return out
}

// Unhand undoes Resends for a message whose re-send was not queued.
func (l *Ledger) Unhand(wire string) {
	if e := l.byID[wire]; e != nil && e.wire == wire {
		e.handed = false
	}
}

// HistoryItem is one message of a chat's history, in the history's order.
type HistoryItem struct {
	// ID is the platform's id of the message.
	ID string
	// Assistant is true for the platform's replies, false for user messages.
	Assistant bool
	// Text is the message text.
	Text string
	// ReplyTo is, for a reply, the platform's id of the user message it
	// answers when the history says so ("" when it does not).
	ReplyTo string
}

// Recover answers the messages of chat awaiting recovery from the chat's
// history, and returns the decisions.
//
// A reply names the user message it answers (ReplyTo), or else answers the
// user message immediately before it in the history; a user message followed
// by another user message has no answer there. A message of ours is found in
// the history by its platform id, or else by its text, after the place of
// the message found before it; when the text matches more than one user
// message there, or the reply found by place could belong to an unanswered
// user message before it, the pairing is ambiguous and the message is left
// to its timeout rather than given a reply that may not be its own. The
// replies found are delivered in send order: one whose earlier message is
// still awaited is held.
func (l *Ledger) Recover(chat ChatKey, hist []HistoryItem, now time.Time, out []Decision) []Decision {
	ln := l.chats[chat]
	if ln == nil {
		return out
	}
	var waiting []*entry
	claimed := map[string]bool{} // history ids of user messages ours name
	for _, e := range ln.order {
		if e.awaiting {
			waiting = append(waiting, e)
		}
		if e.serverID != "" {
			claimed[e.serverID] = true
		}
	}
	if len(waiting) == 0 {
		return out
	}
	linked := false
	byReplyTo := map[string]int{}
	userAt := map[string]int{}
	for i, h := range hist {
		if h.Assistant && h.ReplyTo != "" {
			linked = true
			if _, ok := byReplyTo[h.ReplyTo]; !ok {
				byReplyTo[h.ReplyTo] = i
			}
		}
		if !h.Assistant && h.ID != "" {
			userAt[h.ID] = i
		}
	}
	floor := -1 // history index of the last user message matched
	for _, e := range waiting {
		pos := -1
		if i, ok := userAt[e.serverID]; ok && e.serverID != "" {
			pos = i
		} else {
			pos = findByText(hist, e.text, floor, claimed)
		}
		if pos >= 0 {
			floor = pos
		}
		answer := -1
		switch {
		case e.serverID != "" && hasKey(byReplyTo, e.serverID):
			answer = byReplyTo[e.serverID]
		case pos >= 0 && hasKey(byReplyTo, hist[pos].ID):
			answer = byReplyTo[hist[pos].ID]
		case pos >= 0 && !linked:
			answer = answerByPlace(hist, pos, &l.refused)
		}
		if answer < 0 {
			continue
		}
		a := hist[answer]
		l.setAwaiting(e, false)
		in := Input{Kind: InComplete, Chat: chat, MessageID: a.ID, Text: a.Text, HasText: true}
		out = l.completeOrHold(e, in, true, now, out)
	}
	return l.release(chat, now, out)
}

func hasKey(m map[string]int, k string) bool {
	_, ok := m[k]
	return ok
}

// findByText returns the index of the only user message of hist after
// floor with this text that no message of ours names by id, or -1 when
// there is none or more than one.
func findByText(hist []HistoryItem, text string, floor int, claimed map[string]bool) int {
	found := -1
	for i := floor + 1; i < len(hist); i++ {
		h := hist[i]
		if h.Assistant || h.Text != text || (h.ID != "" && claimed[h.ID]) {
			continue
		}
		if found >= 0 {
			return -1 // ambiguous
		}
		found = i
	}
	return found
}

// answerByPlace returns the index of the reply immediately after the user
// message at pos, or -1 when there is none, or when a user message right
// before pos could be the one it answers (the platform stores a question
// when it comes, so two quick questions stand before both replies): that
// is, unless every user message in the run before pos is one the platform
// refused with an error, and so will never answer.
func answerByPlace(hist []HistoryItem, pos int, refused *finishedSet) int {
	if pos+1 >= len(hist) || !hist[pos+1].Assistant {
		return -1
	}
	for i := pos - 1; i >= 0 && !hist[i].Assistant; i-- {
		if !refused.has(hist[i].ID) {
			return -1 // ambiguous: that question may be the one answered
		}
	}
	return pos + 1
}

// GiveUp ends the recovery of chat: every message still awaiting it fails
// with err (its sender gets err, and a later reply to it is a duplicate),
// then the replies held behind them are delivered.
func (l *Ledger) GiveUp(chat ChatKey, err error, now time.Time, out []Decision) []Decision {
	ln := l.chats[chat]
	if ln == nil {
		return out
	}
	for _, e := range append([]*entry(nil), ln.order...) {
		if e.awaiting {
			l.setAwaiting(e, false)
			out = l.fail(e, err, now, out)
		}
	}
	return l.release(chat, now, out)
}

// Tick applies the passing of time: a message without its reply
// ResponseTimeout after its last activity fails with ErrTimeout (and waits
// LateWindow for a late reply, then is forgotten); a message never
// acknowledged OrphanAge after it was added is reported once.
func (l *Ledger) Tick(now time.Time, out []Decision) []Decision {
	for _, k := range l.Chats() {
		ln := l.chats[k]
		if ln == nil {
			continue
		}
		for _, e := range append([]*entry(nil), ln.order...) {
			switch {
			case e.done:
				if !e.lateEnd.IsZero() && !now.Before(e.lateEnd) {
					l.forget(e)
				}
				continue
			case e.retrying:
				continue
			}
			if l.cfg.OrphanAge > 0 && !e.orphaned && e.status <= StatusSent && now.Sub(e.created) >= l.cfg.OrphanAge {
				e.orphaned = true
				out = append(out, e.decision(DecideOrphan))
			}
			if e.status >= StatusSent && e.parked == nil && now.Sub(e.activity) >= l.cfg.ResponseTimeout {
				out = l.fail(e, ErrTimeout, now, out)
			}
		}
	}
	return out
}

// NextDeadline returns when Tick has something to do next, and false when
// nothing is due at any time (no timer is needed).
func (l *Ledger) NextDeadline() (time.Time, bool) {
	var next time.Time
	consider := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	for _, ln := range l.chats {
		for _, e := range ln.order {
			switch {
			case e.done:
				if !e.lateEnd.IsZero() {
					consider(e.lateEnd)
				}
				continue
			case e.retrying:
				continue
			}
			if l.cfg.OrphanAge > 0 && !e.orphaned && e.status <= StatusSent {
				consider(e.created.Add(l.cfg.OrphanAge))
			}
			if e.status >= StatusSent && e.parked == nil {
				consider(e.activity.Add(l.cfg.ResponseTimeout))
			}
		}
	}
	return next, !next.IsZero()
}
