package registry

import "time"

// InputKind is the kind of an inbound event a Ledger is fed.
type InputKind uint8

// The inbound events about messages.
const (
	// InAck is message_received: the platform has the message.
	InAck InputKind = iota + 1
	// InProcessing is processing: the platform works on the message.
	InProcessing
	// InStart is response_start.
	InStart
	// InChunk is response_chunk: Text is the chunk.
	InChunk
	// InComplete is response_complete or chat_response: Text is the reply
	// when HasText.
	InComplete
	// InError is an error frame about a message: Err is the error.
	InError
)

// Input is one inbound event about a message, as the client routed it.
type Input struct {
	// Kind says what happened.
	Kind InputKind
	// Chat is the chat the event was routed to.
	Chat ChatKey
	// ClientID is the client_message_id the frame names, if any.
	ClientID string
	// MessageID is the platform id the frame names, if any.
	MessageID string
	// Text is a chunk's text or a complete reply's text.
	Text string
	// Seq is a chunk's index in its reply (chunk_index or sequence_number)
	// when HasSeq is true.
	Seq    int
	HasSeq bool
	// HasText is true when a complete event carries the reply's text.
	HasText bool
	// Conn is the connection the frame came on (the caller numbers its
	// connections from 1).
	Conn uint64
	// Err is an InError's error.
	Err error
	// Retryable and RetryAfter are what the platform said of an InError.
	Retryable  bool
	RetryAfter time.Duration
	// Meta is passed through to the DecideComplete decision.
	Meta any
	// ByOrder makes an InError that names no message fail the message the
	// platform is answering (the reply streaming now, else the oldest one
	// waiting): for a platform whose error frames never carry ids, which
	// answers a chat's messages one at a time.
	ByOrder bool
}

// DecisionKind is what the caller must do.
type DecisionKind uint8

// The decisions.
const (
	// DecideStatus: report the message's status change From → To (Err with
	// StatusFailed).
	DecideStatus DecisionKind = iota + 1
	// DecideProcessing: the platform works on the message.
	DecideProcessing
	// DecideStart: its reply starts (MessageID is the reply's id).
	DecideStart
	// DecideChunk: deliver Piece of its reply.
	DecideChunk
	// DecideComplete: its reply is complete: Text, MessageID, Chunks,
	// Late, Recovered, Meta. A reply not Late is the message's outcome.
	DecideComplete
	// DecideFail: the message failed with Err: its outcome.
	DecideFail
	// DecideRetry: the attempt failed with a retryable Err: send the message
	// again (Ledger.Retry) after After; its sender has no outcome yet.
	DecideRetry
	// DecideDuplicate: the event is about a message that already has its
	// outcome, or repeats one already applied: drop it and count it.
	DecideDuplicate
	// DecideUnmatched: the event is about no message of the chat (another
	// sender's, or nothing waits for it): drop it.
	DecideUnmatched
	// DecideHeld: the message's reply is complete but held back behind an
	// earlier message of the chat whose reply is being recovered.
	DecideHeld
	// DecideOrphan: the message was never acknowledged within OrphanAge.
	DecideOrphan
)

var decisionNames = [...]string{
	DecideStatus: "status", DecideProcessing: "processing", DecideStart: "start", DecideChunk: "chunk",
	DecideComplete: "complete", DecideFail: "fail", DecideRetry: "retry", DecideDuplicate: "duplicate",
	DecideUnmatched: "unmatched", DecideHeld: "held", DecideOrphan: "orphan",
}

// String names the kind.
func (k DecisionKind) String() string {
	if k > 0 && int(k) < len(decisionNames) {
		return decisionNames[k]
	}
	return "unknown"
}

// Piece is one delivered piece of a reply's text. The pieces of a reply
// concatenated, starting again at every Replace, give the reply's text.
type Piece struct {
	// Index is the chunk's position in the reply's current text, from 0.
	Index int
	// Offset is the byte offset of Text in the reply's current text.
	Offset int
	// Text is the chunk, or with Replace the whole text so far.
	Text string
	// Replace is true when Text replaces everything delivered before it:
	// the reply was started again (a re-sent message), or its final text
	// differs from the chunks (recovered from the history, or a complete
	// frame whose text is not the chunks joined).
	Replace bool
}

// Decision is one thing the caller must do, about one message.
type Decision struct {
	// Kind is what to do.
	Kind DecisionKind
	// Chat is the message's chat.
	Chat ChatKey
	// ClientID is the message's client id ("" for DecideUnmatched).
	ClientID string
	// Wire is the client_message_id of the attempt concerned.
	Wire string
	// Tag is the caller's handle of the message.
	Tag any
	// ServerID is the platform's id of the message, once known.
	ServerID string
	// From and To are a DecideStatus's statuses.
	From, To Status
	// Piece is a DecideChunk's piece.
	Piece Piece
	// Text, MessageID, Chunks, Late, Recovered and Meta describe a
	// DecideComplete's reply; MessageID is also the reply's id on
	// DecideStart and DecideProcessing.
	Text      string
	MessageID string
	Chunks    int
	Late      bool
	Recovered bool
	Meta      any
	// Err is the error of DecideFail, DecideRetry and a failed DecideStatus.
	Err error
	// After is how long to wait before a DecideRetry's new attempt.
	After time.Duration
	// Input is the event a DecideDuplicate, DecideUnmatched or DecideHeld is
	// about.
	Input Input
}

func (e *entry) decision(k DecisionKind) Decision {
	return Decision{Kind: k, Chat: e.chat, ClientID: e.id, Wire: e.wire, Tag: e.tag, ServerID: e.serverID}
}

// setStatus moves e to status to and reports it.
func (l *Ledger) setStatus(e *entry, to Status, err error, out []Decision) []Decision {
	if e.status == to {
		return out
	}
	d := e.decision(DecideStatus)
	d.From, d.To, d.Err = e.status, to, err
	e.status = to
	return append(out, d)
}

// Step applies one inbound event and returns the decisions, appended to out.
func (l *Ledger) Step(in Input, now time.Time, out []Decision) []Decision {
	if in.Kind == InAck {
		return l.ack(in, now, out)
	}
	e, dup := l.target(in)
	switch {
	case e != nil && e.sink:
		return l.sinkStep(e, in, now, out)
	case dup:
		return append(out, Decision{Kind: DecideDuplicate, Chat: in.Chat, Input: in})
	case e == nil:
		return append(out, Decision{Kind: DecideUnmatched, Chat: in.Chat, Input: in})
	}
	if in.Kind == InError {
		return l.failed(e, in, now, out)
	}
	// Work on a reply means the platform has the message.
	if !e.done {
		out = l.delivered(e, in.Conn, now, out)
	}
	switch in.Kind {
	case InProcessing:
		d := e.decision(DecideProcessing)
		d.MessageID = in.MessageID
		out = append(out, d)
	case InStart:
		l.replyStarts(e, in, now)
		d := e.decision(DecideStart)
		d.MessageID = in.MessageID
		out = append(out, d)
	case InChunk:
		out = l.chunk(e, in, now, out)
	case InComplete:
		out = l.completeOrHold(e, in, false, now, out)
	}
	return out
}

// ack applies message_received. One that names a client_message_id is about
// that message only; one that names only a platform id known to the ledger
// is about that message; one that names nothing known goes to the oldest
// message of the chat not yet acknowledged, which is the one the platform
// acknowledges next.
func (l *Ledger) ack(in Input, now time.Time, out []Decision) []Decision {
	var e *entry
	cid, mid := in.ClientID, in.MessageID
	switch {
	case cid != "":
		e = l.byID[cid]
		if e == nil && l.finished.has(cid) {
			return append(out, Decision{Kind: DecideDuplicate, Chat: in.Chat, Input: in})
		}
	case mid != "" && l.byID[mid] != nil:
		e = l.byID[mid]
	case l.finished.has(mid):
		return append(out, Decision{Kind: DecideDuplicate, Chat: in.Chat, Input: in})
	default:
		if ln := l.chats[in.Chat]; ln != nil {
			for _, x := range ln.order {
				if !x.done && !x.retrying && x.status <= StatusSent && x.serverID == "" {
					e = x
					break
				}
			}
		}
	}
	if e == nil || e.chat != in.Chat || (cid != "" && e.wire != cid) {
		return append(out, Decision{Kind: DecideUnmatched, Chat: in.Chat, Input: in})
	}
	if e.answered || e.done {
		return append(out, Decision{Kind: DecideDuplicate, Chat: in.Chat, Input: in})
	}
	if mid != "" && e.serverID == "" && mid != e.wire {
		e.serverID = mid
		l.mapID(e, mid)
	}
	return l.delivered(e, in.Conn, now, out)
}

// delivered moves e to StatusDelivered (through StatusSent when the
// acknowledgement overtook the report of the write).
func (l *Ledger) delivered(e *entry, conn uint64, now time.Time, out []Decision) []Decision {
	if e.status >= StatusDelivered {
		return out
	}
	if e.status == StatusSending {
		out = l.setStatus(e, StatusSent, nil, out)
	}
	if e.wroteOn == 0 {
		e.wroteOn = conn // posted over REST: acknowledged on conn
	}
	e.resend, e.handed = false, false
	e.activity = now
	return l.setStatus(e, StatusDelivered, nil, out)
}

// target finds the message a reply or error event is about. An event that
// names a message, by its client_message_id or a platform id the ledger
// knows, is about that message only, and a duplicate when that message is
// answered or forgotten; a client_message_id the chat does not hold names
// another sender's message. An event that names nothing known goes to the
// reply streaming now when it carries no id, else to the oldest message of
// the chat still waiting for its reply.
func (l *Ledger) target(in Input) (e *entry, dup bool) {
	cid, mid := in.ClientID, in.MessageID
	if cid != "" {
		if e := l.byID[cid]; e != nil {
			if e.chat != in.Chat || e.wire != cid {
				return nil, false
			}
			return e, e.answered
		}
		if l.finished.has(cid) {
			return nil, true
		}
	}
	if mid != "" {
		if e := l.byID[mid]; e != nil {
			if e.chat != in.Chat {
				return nil, false
			}
			return e, e.answered
		}
		if l.finished.has(mid) {
			return nil, true
		}
	}
	if cid != "" || (in.Kind == InError && !in.ByOrder) {
		// Another sender's message; or an error that names no message,
		// which fails none (unless the platform never names one).
		return nil, false
	}
	ln := l.chats[in.Chat]
	if ln == nil {
		return nil, false
	}
	if mid == "" && ln.current != nil {
		return ln.current, ln.current.answered
	}
	for _, x := range ln.order {
		if in.Kind == InError && x.done && !x.sink {
			continue // a message that already has its outcome is not failed again
		}
		if !x.answered && !x.awaiting && !x.retrying && x.parked == nil && x.status >= StatusSent && (x.replyID == "" || in.Kind == InError) {
			if in.Kind == InStart || in.Kind == InChunk || in.Kind == InComplete {
				// A reply that names no message of ours: from now on the
				// platform's replies are taken to name none (see
				// SetUnnamedReplies), whatever its form said.
				l.seenUnnamed = true
			}
			return x, false
		}
	}
	return nil, false
}

// replyStarts records the reply's id and makes e the streaming message.
func (l *Ledger) replyStarts(e *entry, in Input, now time.Time) {
	if mid := in.MessageID; mid != "" && mid != e.serverID && e.replyID == "" {
		e.replyID = mid
		l.mapID(e, mid)
	}
	if ln := l.chats[e.chat]; ln != nil {
		ln.current = e
	}
	e.activity = now
	if in.Kind == InStart && e.chunks > 0 && in.Conn != e.chunkConn {
		e.restart, e.broken = true, false // a new reply: its chunks are the whole text
	}
}

// chunk appends a chunk to e's reply. A chunk on another connection than
// the reply's earlier chunks starts the text again (a Replace piece) when
// the reply was started again (response_start, or chunk index 0), goes on
// with it when its index follows the earlier chunks, and otherwise leaves
// the reply's text in doubt: the text shown starts again from it, and a
// complete frame without text then fails the message (ErrTextLost) rather
// than give it a text that may lack its beginning. A chunk whose index
// leaves a gap leaves the text in doubt the same way: an index skipped, or a
// reply whose first chunk seen is not the first. Where the numbering starts
// (0 or 1) is learned from the first numbered reply seen from its first
// chunk on the connection its message went out on.
func (l *Ledger) chunk(e *entry, in Input, now time.Time, out []Decision) []Decision {
	newConn := e.chunks > 0 && in.Conn != e.chunkConn
	l.replyStarts(e, in, now)
	replace := e.restart
	first := max(l.seqBase, 0) // the index of a reply's first chunk, 0 until learned
	switch {
	case replace:
	case newConn && in.HasSeq && in.Seq == first:
		replace = true
	case newConn && in.HasSeq && in.Seq == e.nextSeq:
		// the reply goes on where the lost connection left it
	case newConn:
		replace, e.broken = true, true
	case !in.HasSeq:
	case e.chunks == 0 && l.seqBase < 0 && in.Seq <= 1 && in.Conn == e.wroteOn:
		l.seqBase = in.Seq
	case e.chunks == 0 && in.Seq > first, e.chunks > 0 && in.Seq > e.nextSeq:
		replace, e.broken = true, true
	}
	shown := e.chunks > 0
	if replace {
		e.text0, e.chunks, e.restart, e.nextSeq = e.text0[:0], 0, false, 0
	}
	if len(e.text0)+len(in.Text) > l.cfg.MaxReplyBytes {
		return l.fail(e, ErrReplyTooLarge, now, out)
	}
	d := e.decision(DecideChunk)
	d.MessageID = in.MessageID
	d.Piece = Piece{Index: e.chunks, Offset: len(e.text0), Text: in.Text, Replace: replace && shown}
	d.Late = e.done
	e.text0 = append(e.text0, in.Text...)
	e.chunks++
	e.chunkConn = in.Conn
	if in.HasSeq {
		e.nextSeq = in.Seq + 1
	}
	return append(out, d)
}

// heldBack reports whether e's reply must wait: an earlier message of its
// chat is still without its outcome (awaiting recovery, held itself, or
// waiting for its reply), so that a chat's replies are delivered in send
// order. A message waiting to be retried does not hold others: its retry
// is a new send, after them.
func (l *Ledger) heldBack(e *entry) bool {
	ln := l.chats[e.chat]
	if ln == nil || ln.order[0] == e {
		return false
	}
	for _, x := range ln.order {
		if x == e {
			return false
		}
		if blocks(x) {
			return true
		}
	}
	return false
}

// blocks reports whether x holds the replies of later messages of its chat.
func blocks(x *entry) bool { return !x.done && !x.retrying }

// completeOrHold completes e's reply, or holds it behind an earlier message.
func (l *Ledger) completeOrHold(e *entry, in Input, recovered bool, now time.Time, out []Decision) []Decision {
	if in.HasText && len(in.Text) > l.cfg.MaxReplyBytes {
		return l.fail(e, ErrReplyTooLarge, now, out)
	}
	if e.broken && !in.HasText {
		return l.fail(e, ErrTextLost, now, out)
	}
	l.setAwaiting(e, false) // its reply came: nothing to look for in the history
	if !e.done && l.heldBack(e) {
		held := in
		l.setParked(e, &held)
		e.parkedRec = recovered
		if ln := l.chats[e.chat]; ln != nil && ln.current == e {
			ln.current = nil // its stream is over: id-less frames are not its
		}
		d := e.decision(DecideHeld)
		d.Input = in
		return append(out, d)
	}
	out = l.complete(e, in, recovered, out)
	return l.release(e.chat, now, out)
}

// complete gives e its reply and forgets it.
func (l *Ledger) complete(e *entry, in Input, recovered bool, out []Decision) []Decision {
	text := string(e.text0)
	if in.HasText && in.Text != text {
		// What was shown is not the reply: replace it, so that the pieces
		// add up to the reply's text.
		text = in.Text
		d := e.decision(DecideChunk)
		d.Piece = Piece{Text: text, Replace: e.chunks > 0}
		d.Late = e.done
		out = append(out, d)
	}
	e.answered = true
	late := e.done
	if !late {
		e.done = true
		out = l.setStatus(e, StatusAnswered, nil, out)
	}
	d := e.decision(DecideComplete)
	d.Text, d.MessageID, d.Chunks, d.Late, d.Recovered, d.Meta = text, in.MessageID, e.chunks, late, recovered, in.Meta
	if d.MessageID == "" {
		d.MessageID = e.replyID
	}
	out = append(out, d)
	if !recovered {
		l.mapID(e, in.MessageID) // a later copy of the reply is a duplicate
	}
	l.forget(e)
	return out
}

// release completes, in send order, the held replies of chat that no
// message without its outcome precedes any more.
func (l *Ledger) release(chat ChatKey, now time.Time, out []Decision) []Decision {
	for {
		ln := l.chats[chat]
		if ln == nil || ln.held == 0 {
			return out
		}
		var next *entry
		for _, x := range ln.order {
			if x.parked != nil {
				next = x
				break
			}
			if blocks(x) {
				return out
			}
		}
		if next == nil {
			return out
		}
		in, rec := *next.parked, next.parkedRec
		l.setParked(next, nil)
		out = l.complete(next, in, rec, out)
	}
}

// failed applies an error frame about e.
func (l *Ledger) failed(e *entry, in Input, now time.Time, out []Decision) []Decision {
	if e.done {
		// It timed out and waited for a late reply: the platform says none
		// comes.
		l.forget(e)
		return append(out, Decision{Kind: DecideDuplicate, Chat: in.Chat, ClientID: e.id, Tag: e.tag, Input: in})
	}
	if in.Retryable && e.attempt <= l.cfg.MaxRetries {
		out = l.setStatus(e, StatusFailed, in.Err, out)
		d := e.decision(DecideRetry)
		d.Err, d.After = in.Err, in.RetryAfter
		e.retrying = true
		l.setAwaiting(e, false)
		l.setParked(e, nil)
		e.resend, e.handed = false, false
		// The failed attempt's ids name nothing any more: a late reply to
		// it is a duplicate, never the retry's.
		for _, id := range e.ids {
			if l.byID[id] == e {
				delete(l.byID, id)
			}
			l.finished.add(id)
		}
		e.ids = nil
		if ln := l.chats[e.chat]; ln != nil && ln.current == e {
			ln.current = nil
		}
		out = append(out, d)
		return l.release(e.chat, now, out)
	}
	// The platform will not answer it: a history recovery may pass over it.
	l.refused.add(e.serverID)
	return l.fail(e, in.Err, now, out)
}

// Fail gives the message clientID the outcome err, unless it has one.
func (l *Ledger) Fail(clientID string, err error, now time.Time, out []Decision) []Decision {
	e := l.byClient[clientID]
	if e == nil {
		return out
	}
	return l.fail(e, err, now, out)
}

// fail gives e the outcome err. A message that timed out stays for a late
// reply within LateWindow, one failed with its lost connection (e.sink)
// for its reply within ResponseTimeout; any other is forgotten.
func (l *Ledger) fail(e *entry, err error, now time.Time, out []Decision) []Decision {
	if e.done {
		l.forget(e) // a timed-out message stops waiting for its late reply
		return out
	}
	e.done = true
	l.setAwaiting(e, false)
	l.setParked(e, nil)
	e.retrying, e.resend, e.handed = false, false, false
	out = l.setStatus(e, StatusFailed, err, out)
	d := e.decision(DecideFail)
	d.Err = err
	out = append(out, d)
	switch {
	case e.sink:
		// Its reply may come within ResponseTimeout of its last activity
		// (see ConnectionLost).
		e.lateEnd = e.activity.Add(l.cfg.ResponseTimeout)
	case err == ErrTimeout:
		e.lateEnd = now.Add(l.cfg.LateWindow)
	default:
		l.forget(e)
	}
	if ln := l.chats[e.chat]; ln != nil && ln.current == e {
		ln.current = nil
	}
	return l.release(e.chat, now, out)
}

// FailChat gives every message of chat without an outcome the outcome err,
// in send order, and forgets the chat's messages; except, when the
// platform's replies name no message (SetUnnamedReplies), the messages on
// the wire, which stay as ConnectionLost leaves them: their replies may
// still come (the chat left and joined again, or the client reconnected
// after failing) and must not be taken for a later message's.
func (l *Ledger) FailChat(chat ChatKey, err error, now time.Time, out []Decision) []Decision {
	ln := l.chats[chat]
	if ln == nil {
		return out
	}
	for _, e := range append([]*entry(nil), ln.order...) {
		if e.sink && e.done {
			continue // it has its outcome, and waits for its reply
		}
		if l.UnnamedReplies() && onWire(e) {
			e.sink = true
		}
		out = l.fail(e, err, now, out)
		if l.byClient[e.id] == e && !e.sink {
			l.forget(e)
		}
	}
	return out
}

// FailAll is FailChat for every chat.
func (l *Ledger) FailAll(err error, now time.Time, out []Decision) []Decision {
	for _, k := range l.Chats() {
		out = l.FailChat(k, err, now, out)
	}
	return out
}

// Written records that the attempt wire was written on connection conn.
func (l *Ledger) Written(wire string, conn uint64, now time.Time, out []Decision) []Decision {
	e := l.byID[wire]
	if e == nil || e.wire != wire || e.done || e.retrying {
		return out
	}
	e.handed, e.resend = false, false
	e.wroteOn = conn
	if e.status <= StatusSent {
		e.activity = now // a re-sent message's timeout starts again
	}
	return l.setStatus(e, max(e.status, StatusSent), nil, out)
}

// Retry starts a new attempt of the message clientID, whose current attempt
// failed (retryable, DecideRetry; or any failure, when the sender asks): the
// new attempt is sent as wire, a new client_message_id, so that replies to
// the failed attempt never answer it. chat, text and tag are needed when the
// failed message was forgotten; attempt is its attempt count. It returns
// false when the message has no failed attempt to retry.
func (l *Ledger) Retry(chat ChatKey, clientID, wire, text string, tag any, attempt int, now time.Time, out []Decision) ([]Decision, bool) {
	if clientID == "" || wire == "" || l.byID[wire] != nil || l.finished.has(wire) {
		return out, false
	}
	from := StatusFailed
	if e := l.byClient[clientID]; e != nil {
		if !e.retrying && !e.done {
			return out, false
		}
		attempt, from = e.attempt, e.status
		if e.sink {
			// The failed attempt stays in its chat's line to take its
			// reply (see ConnectionLost); the new attempt takes the name,
			// after it.
			delete(l.byClient, clientID)
		} else {
			l.forget(e)
		}
	}
	e := l.insert(chat, clientID, wire, text, tag, from, attempt+1, now)
	return l.setStatus(e, StatusSending, nil, out), true
}
