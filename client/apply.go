package client

import (
	"errors"
	"time"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

// defaultMessageRetryWait is the wait before an automatic retry when the
// platform named none.
const defaultMessageRetryWait = time.Second

// lateReplyWindow is how long after its timeout a message waits for a late
// reply (delivered to callbacks marked late); after it a reply to it is
// dropped as a duplicate.
const lateReplyWindow = 5 * time.Minute

// decide runs one ledger step under c.lmu and carries out its decisions.
// The decisions are applied under the lock too, so that two goroutines'
// decisions never interleave; applying only records outcomes, wakes
// waiters and enqueues callbacks, none of which blocks.
func (c *Client) decide(step func(l *registry.Ledger, out []registry.Decision) []registry.Decision) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	c.scratch = step(c.ledger, c.scratch[:0])
	c.carryOutLocked()
}

// step feeds one inbound event to the ledger and carries out its
// decisions: decide for the hot path, with no closure to allocate.
func (c *Client) step(in registry.Input, now time.Time) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	c.scratch = c.ledger.Step(in, now, c.scratch[:0])
	c.carryOutLocked()
}

// carryOutLocked applies the decisions in c.scratch and empties it. Called
// with c.lmu held.
func (c *Client) carryOutLocked() {
	c.applyLocked(c.scratch)
	if c.ledger.UnnamedReplies() && settles(c.scratch) {
		c.kickWriter() // a chat's next message may be written now
	}
	clear(c.scratch) // drop the references to waiters and texts
}

// settles reports whether a message got its outcome among ds.
func settles(ds []registry.Decision) bool {
	for _, d := range ds {
		switch d.Kind {
		case registry.DecideComplete, registry.DecideFail, registry.DecideRetry, registry.DecideDuplicate:
			return true
		}
	}
	return false
}

// kickWriter wakes the current connection's writer, which looks again at
// the messages it holds. Called with c.lmu held (the lock order allows mu).
func (c *Client) kickWriter() {
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn != nil {
		conn.kick()
	}
}

// stepEvent feeds one inbound event about a message of ch to the ledger.
func (ch *Chat) stepEvent(kind registry.InputKind, ev normalize.Event, conn uint64, err error) {
	in := registry.Input{Kind: kind, Chat: ch.key, ClientID: ev.ClientMessageID, MessageID: ev.MessageID,
		Text: ev.Text, HasText: ev.HasText, Conn: conn, Err: err, Retryable: ev.Retryable, RetryAfter: ev.RetryAfter,
		Seq: int(ev.Sequence), HasSeq: ev.HasSequence, ByOrder: ch.host.realtime()}
	if ev.Meta != nil {
		in.Meta = ev.Meta
	}
	ch.host.step(in, ch.clock.Now())
}

// applyLocked carries out the ledger's decisions, in order. Called with
// c.lmu held.
func (c *Client) applyLocked(ds []registry.Decision) {
	now := c.clock.Now()
	for _, d := range ds {
		w, _ := d.Tag.(*waiter)
		switch d.Kind {
		case registry.DecideStatus:
			c.applyStatus(w, d, now)
		case registry.DecideProcessing:
			w.chat.processing(w, d.MessageID, now)
		case registry.DecideStart:
			ch := w.chat
			se := ResponseStartEvent{ChatID: ch.ID(), MessageID: d.MessageID, ClientMessageID: w.clientID, Time: now}
			ch.dispatch(func() {
				for _, h := range ch.onStart.get() {
					h(se)
				}
			})
		case registry.DecideChunk:
			c.applyChunk(w, d, now)
		case registry.DecideComplete:
			c.applyComplete(w, d, now)
		case registry.DecideFail:
			c.applyFail(w, c.clientError(d.Err))
		case registry.DecideRetry:
			c.log.Info("miptech: message failed; sending it again", "client_message_id", w.clientID,
				"attempt", w.attempt, "retry_in", d.After, "err", d.Err)
			c.retryLater(w, d.After)
		case registry.DecideDuplicate:
			c.dedup.Drop()
			c.duplicateHook(inputType(d.Input.Kind), w)
			c.log.Debug("miptech: event for a finished message dropped as a duplicate",
				"client_message_id", d.Input.ClientID, "message_id", d.Input.MessageID)
		case registry.DecideUnmatched:
			c.log.Debug("miptech: event for no waiting message dropped",
				"client_message_id", d.Input.ClientID, "message_id", d.Input.MessageID)
		case registry.DecideHeld:
			c.log.Debug("miptech: reply held until an earlier one is recovered", "client_message_id", w.clientID)
		case registry.DecideOrphan:
			c.reportOrphan(w)
		}
	}
}

// clientError maps the ledger's own errors to the client's.
func (c *Client) clientError(err error) error {
	switch {
	case errors.Is(err, registry.ErrTimeout):
		return ErrResponseTimeout
	case errors.Is(err, registry.ErrReplyTooLarge):
		return ErrReplyTooLarge
	case errors.Is(err, registry.ErrTextLost), errors.Is(err, registry.ErrLostWithConnection):
		return ErrReplyLost
	}
	return err
}

// applyStatus reports a status change and keeps the chat's view of it.
func (c *Client) applyStatus(w *waiter, d registry.Decision, now time.Time) {
	ch := w.chat
	err := c.clientError(d.Err)
	switch d.To {
	case registry.StatusSent:
		if w.sentAt.IsZero() {
			w.sentAt = now
		}
		c.stats.sent.Add(1)
		c.messageHook(c.cfg.Hooks.MessageWritten, w, now)
	case registry.StatusDelivered:
		c.stats.acknowledged.Add(1)
		if d.ServerID != "" {
			w.serverID = d.ServerID
		}
		c.messageHook(c.cfg.Hooks.MessageAcknowledged, w, now)
	}
	ch.viewStatus(w.clientID, d.ServerID, d.To, err)
	se := MessageStatusEvent{ChatID: ch.ID(), ClientMessageID: w.clientID, ServerID: d.ServerID,
		Previous: d.From, Status: d.To, Err: err, Time: now}
	ch.dispatch(func() {
		for _, h := range ch.onStatus.get() {
			h(se)
		}
	})
}

// applyChunk records a piece of w's reply for its readers and reports it.
func (c *Client) applyChunk(w *waiter, d registry.Decision, now time.Time) {
	p := d.Piece
	// The log is append-only, a Replace included, so that a reader's place
	// in it stays valid.
	w.pieces = append(w.pieces, p)
	w.wake()
	if !w.chunked && !w.sentAt.IsZero() && !d.Late {
		c.stats.firstChunkLatency.add(now.Sub(w.sentAt))
	}
	if !w.chunked && !d.Late {
		c.messageHook(c.cfg.Hooks.MessageFirstChunk, w, now)
	}
	w.chunked = true
	w.chat.streaming(w, d.MessageID, now)
	cw := c.cfg.ChunkCoalesce
	if cw <= 0 || p.Replace {
		c.flushMerged(w, now)
		c.emitChunk(w, d.MessageID, p, now)
		return
	}
	// The first chunk goes out at once; later ones are merged until the
	// window since the last delivery has passed (or the reply ends).
	if w.mergedN == 0 {
		w.mergedOff = p.Offset
	}
	w.merged.WriteString(p.Text)
	w.mergedN++
	w.mergedIdx = p.Index
	if w.lastOut.IsZero() || now.Sub(w.lastOut) >= cw {
		c.flushMerged(w, now)
	} else {
		c.wake(w.lastOut.Add(cw))
	}
}

// flushMerged delivers the chunks merged for ChunkCoalesce, if any.
func (c *Client) flushMerged(w *waiter, now time.Time) {
	if w.mergedN == 0 {
		return
	}
	p := registry.Piece{Index: w.mergedIdx, Offset: w.mergedOff, Text: w.merged.String()}
	w.merged.Reset()
	w.mergedN = 0
	c.emitChunk(w, "", p, now)
}

func (c *Client) emitChunk(w *waiter, messageID string, p registry.Piece, now time.Time) {
	ch := w.chat
	w.lastOut = now
	ce := ChunkEvent{ChatID: ch.ID(), MessageID: messageID, ClientMessageID: w.clientID, Text: p.Text,
		Index: p.Index, Offset: p.Offset, Replace: p.Replace, Time: now}
	ch.dispatch(func() {
		for _, h := range ch.onChunk.get() {
			h(ce)
		}
	})
}

// applyComplete gives w its reply (or reports a late one).
func (c *Client) applyComplete(w *waiter, d registry.Decision, now time.Time) {
	ch := w.chat
	c.flushMerged(w, now)
	r := Reply{ChatID: ch.ID(), ClientMessageID: w.clientID, MessageID: d.MessageID, Text: d.Text,
		Chunks: d.Chunks, Late: d.Late, Recovered: d.Recovered, Attempt: w.attempt}
	if m, ok := d.Meta.(*normalize.ResponseMeta); ok && m != nil {
		r.Model, r.PromptTokens, r.CompletionTokens, r.TotalTokens = m.Model, m.PromptTokens, m.CompletionTokens, m.TotalTokens
		r.ResponseTime, r.Cost, r.Sources = m.ResponseTime, m.Cost, m.Sources
	}
	ch.replyDone(w, r, now)
	if d.Late {
		c.log.Info("miptech: late reply delivered", "client_message_id", w.clientID)
	} else {
		c.stats.answered.Add(1)
		if !w.sentAt.IsZero() {
			c.stats.replyLatency.add(now.Sub(w.sentAt))
		}
	}
	ce := CompleteEvent{Reply: r, Time: now}
	ch.dispatch(func() {
		for _, h := range ch.onComplete.get() {
			h(ce)
		}
	})
	if !d.Late {
		w.reply, w.done = r, true
		close(w.doneCh)
		w.wake()
		c.doneHook(w, MessageDoneInfo{ReplyBytes: len(d.Text), Recovered: d.Recovered}, now)
	}
}

// applyFail gives w the outcome err.
func (c *Client) applyFail(w *waiter, err error) {
	ch := w.chat
	c.stats.failed.Add(1)
	switch {
	case errors.Is(err, ErrResponseTimeout):
		c.log.Warn("miptech: reply timed out", "client_message_id", w.clientID)
		ch.recordError(ErrorProcessing, err)
	case errors.Is(err, ErrReplyTooLarge), errors.Is(err, ErrReplyLost):
		ch.recordError(ErrorProcessing, err)
	}
	ch.replyDone(w, Reply{}, time.Time{})
	c.flushMerged(w, c.clock.Now())
	w.err, w.done = err, true
	close(w.doneCh)
	w.wake()
	c.doneHook(w, MessageDoneInfo{Err: err}, c.clock.Now())
}

// failMessage fails w's current attempt with err, unless it has an outcome.
func (c *Client) failMessage(w *waiter, err error) {
	now := c.clock.Now()
	c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		if l.Settled(w.wire) {
			return out
		}
		return l.Fail(w.clientID, err, now, out)
	})
}

// failWire fails the message whose attempt wire a frame carried, unless
// that attempt is over.
func (c *Client) failWire(om *outMsg, err error) {
	c.lmu.Lock()
	w := om.w
	current := w != nil && w.wire == om.wire
	c.lmu.Unlock()
	if current {
		c.failMessage(w, err)
	}
}

// reportOrphan reports a message never acknowledged.
func (c *Client) reportOrphan(w *waiter) {
	m := registry.Message{ClientID: w.clientID, ChatID: w.chat.ID(), Role: registry.RoleUser,
		Status: registry.StatusSent, Text: w.text, CreatedAt: w.sentAt}
	if i, ok := c.ledger.Get(w.clientID); ok {
		m.Status, m.ServerID = i.Status, i.ServerID
	}
	c.log.Warn("miptech: message never acknowledged", "client_message_id", m.ClientID, "chat_id", m.ChatID)
	c.disp.enqueue(func() {
		for _, h := range c.onOrphan.get() {
			h(m)
		}
	})
}

// tickLedger applies the passing of time to the ledger: timeouts, the end
// of late-reply windows, orphans.
func (c *Client) tickLedger(now time.Time) {
	unnamed := false
	c.decide(func(l *registry.Ledger, out []registry.Decision) []registry.Decision {
		unnamed = l.UnnamedReplies()
		return l.Tick(now, out)
	})
	if unnamed {
		// A message failed with its lost connection may have stopped
		// waiting for its reply: its chat's next message may be written.
		c.kickWriter()
	}
}

// connectionLost tells the ledger a connection is gone, before the next is
// dialled: what it wrote and was not acknowledged is sent again, and what
// was acknowledged and not answered is sought in the history, holding the
// later replies of its chat until then; unless the platform's replies name
// no message (noteReplyNaming), when what was on the wire fails once the
// next connection is up (flushAndReady, registry.Ledger.FailLost).
func (c *Client) connectionLost(conn *wsConn) {
	c.lmu.Lock()
	defer c.lmu.Unlock()
	c.ledger.ConnectionLost(conn.seq)
}

// noteReplyNaming tells the ledger, once a connection is ready and before
// anything is written on it, whether the platform's replies name no
// message: the realtime form on a platform that does not greet (the
// tenant-app variant, SPEC §2.4).
func (c *Client) noteReplyNaming() {
	c.fs.mu.Lock()
	greets := c.fs.greets
	c.fs.mu.Unlock()
	unnamed := c.realtime() && !greets
	c.lmu.Lock()
	defer c.lmu.Unlock()
	c.ledger.SetUnnamedReplies(unnamed)
}

// historyItems turns a chat's history into the ledger's form.
func historyItems(hist []protocol.HistoryMessage) []registry.HistoryItem {
	out := make([]registry.HistoryItem, 0, len(hist))
	for _, m := range hist {
		var to string
		for _, k := range []string{"user_message_id", "reply_to", "in_reply_to"} {
			if v, ok := m.Metadata[k].(string); ok && v != "" {
				to = v
				break
			}
		}
		switch m.Role {
		case protocol.RoleUser:
			out = append(out, registry.HistoryItem{ID: m.ID, Text: m.Content})
		case protocol.RoleAssistant:
			out = append(out, registry.HistoryItem{ID: m.ID, Assistant: true, Text: m.Content, ReplyTo: to})
		}
	}
	return out
}
