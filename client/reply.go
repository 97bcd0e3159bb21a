package client

import (
	"context"
	"encoding/json"
	"iter"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// Reply is the complete answer to a user message.
type Reply struct {
	// ChatID is the chat.
	ChatID string
	// ClientMessageID is the id of the user message answered.
	ClientMessageID string
	// MessageID is the platform's id of the assistant message.
	MessageID string
	// Text is the reply text: the complete frame's text when it carried one,
	// else the chunks joined.
	Text string
	// Chunks is the number of chunks received.
	Chunks int
	// Model is the language model that answered.
	Model string
	// PromptTokens, CompletionTokens and TotalTokens are the token counts.
	PromptTokens, CompletionTokens, TotalTokens int
	// ResponseTime is the platform's processing time.
	ResponseTime time.Duration
	// Cost is the platform's cost estimate in US dollars.
	Cost float64
	// Sources are the reply's sources, as the platform sent them.
	Sources []json.RawMessage
	// Late is true for a reply that arrived after its message timed out.
	Late bool
	// Recovered is true for a reply taken from the chat history after a lost
	// connection.
	Recovered bool
}

// Chunk is one piece of a streamed reply. The last value of a stream has
// Done set and carries the complete Reply.
type Chunk struct {
	// Text is the chunk's text (empty on the final value).
	Text string
	// Done marks the final value.
	Done bool
	// Reply is the complete reply, on the final value only.
	Reply Reply
}

// pendingMsg is the chat's record of one user message, until its outcome
// and its (possibly late) reply. Its fields are guarded by Chat.mu.
type pendingMsg struct {
	clientID    string
	text        string
	payload     []byte
	ctx         context.Context
	viaREST     bool
	status      registry.Status
	serverID    string
	assistantID string
	mapped      []string // the ids in Chat.byServer that name this message
	sentAt      time.Time
	activity    time.Time
	chunks      []string
	size        int
	notify      chan struct{}    // closed and replaced on every chunk and at the outcome
	done        bool             // the sender got its outcome
	requeued    bool             // a re-send is in the outbound queue or with the writer, not yet written
	parked      *normalize.Event // its reply, held back behind a message being recovered
	answered    bool             // a reply completed (maybe late)
	reply       Reply
	err         error
	doneCh      chan struct{}
	coalesce    strings.Builder
	delivered   time.Time // last chunk callback, for coalescing
	coalesceN   int
}

// Message is the handle of a sent user message.
type Message struct {
	chat *Chat
	p    *pendingMsg
}

// ID returns the message's client_message_id (a UUID v4).
func (m *Message) ID() string { return m.p.clientID }

// Wait blocks until the reply completes and returns it, or returns the
// message's error (ErrResponseTimeout, a *PlatformError, a *RateLimitError,
// ErrQueueFull, ErrExpired, ErrChatLeft, ErrClosed, a *FailedError) or ctx's
// error. Waiting does not change the message: a Wait cut short by ctx can be
// called again.
func (m *Message) Wait(ctx context.Context) (Reply, error) {
	select {
	case <-m.p.doneCh:
	case <-ctx.Done():
		return Reply{}, ctx.Err()
	}
	m.chat.mu.Lock()
	defer m.chat.mu.Unlock()
	return m.p.reply, m.p.err
}

// Chunks iterates over the reply as it arrives: one value per chunk, then a
// final value with Done set and the complete Reply, or an error. Breaking
// out of the loop early is allowed.
func (m *Message) Chunks(ctx context.Context) iter.Seq2[Chunk, error] {
	return func(yield func(Chunk, error) bool) {
		next := 0
		for {
			m.chat.mu.Lock()
			chunks := m.p.chunks[next:]
			next += len(chunks)
			done, reply, err, notify := m.p.done, m.p.reply, m.p.err, m.p.notify
			m.chat.mu.Unlock()
			for _, text := range chunks {
				if !yield(Chunk{Text: text}, nil) {
					return
				}
			}
			if len(chunks) > 0 {
				continue
			}
			if done {
				if err != nil {
					yield(Chunk{}, err)
				} else {
					yield(Chunk{Done: true, Reply: reply}, nil)
				}
				return
			}
			select {
			case <-notify:
			case <-ctx.Done():
				yield(Chunk{}, ctx.Err())
				return
			}
		}
	}
}

// Stream sends text and iterates over the reply as it arrives (see
// Message.Chunks). A send error is yielded as the only value.
func (ch *Chat) Stream(ctx context.Context, text string) iter.Seq2[Chunk, error] {
	m, err := ch.Send(ctx, text)
	if err != nil {
		return func(yield func(Chunk, error) bool) { yield(Chunk{}, err) }
	}
	return m.Chunks(ctx)
}

// newPending registers a user message.
func (ch *Chat) newPending(ctx context.Context, text string) *pendingMsg {
	now := ch.c.clock.Now()
	p := &pendingMsg{
		clientID: registry.NewClientMessageID(),
		text:     text,
		ctx:      ctx,
		status:   registry.StatusSending,
		notify:   make(chan struct{}),
		doneCh:   make(chan struct{}),
		viaREST:  ch.c.cfg.SendMode == SendREST,
	}
	_, _ = ch.c.reg.Register(registry.Message{ClientID: p.clientID, ChatID: ch.ID(), Role: registry.RoleUser, Text: text, CreatedAt: now})
	ch.mu.Lock()
	ch.pending[p.clientID] = p
	ch.order = append(ch.order, p)
	ch.addView(MessageView{ClientMessageID: p.clientID, ChatID: ch.id, Role: protocol.RoleUser, Text: text, Status: registry.StatusSending, Time: now})
	ch.mu.Unlock()
	ch.emitStatus(p.clientID, "", 0, registry.StatusSending, nil)
	return p
}

// forget drops a message that never left Send.
func (ch *Chat) forget(p *pendingMsg) {
	ch.mu.Lock()
	delete(ch.pending, p.clientID)
	ch.removeOrder(p)
	ch.mu.Unlock()
	ch.c.reg.Remove(p.clientID)
}

func (ch *Chat) removeOrder(p *pendingMsg) {
	for i, x := range ch.order {
		if x == p {
			ch.order = append(ch.order[:i], ch.order[i+1:]...)
			return
		}
	}
}

// transition moves a message's status in the registry and, when it changed,
// in the chat's view, and reports it. Called without ch.mu held.
func (ch *Chat) transition(p *pendingMsg, to registry.Status, err error) bool {
	m, changed, terr := ch.c.reg.Transition(p.clientID, to, err)
	if terr != nil || !changed {
		return false
	}
	ch.mu.Lock()
	prev := p.status
	p.status = to
	ch.updateView(p.clientID, func(v *MessageView) {
		v.Status = to
		v.ServerID = m.ServerID
		if err != nil {
			v.Err = err
		}
	})
	ch.mu.Unlock()
	ch.emitStatus(p.clientID, m.ServerID, prev, to, err)
	return true
}

// messageWritten records that a message reached the socket (or was posted).
func (ch *Chat) messageWritten(clientID string) {
	ch.mu.Lock()
	p := ch.pending[clientID]
	if p == nil || p.done {
		ch.mu.Unlock()
		return
	}
	now := ch.c.clock.Now()
	p.requeued = false
	first := p.sentAt.IsZero()
	if first {
		p.sentAt = now
	}
	if p.status <= registry.StatusSent {
		p.activity = now // a re-sent message's timeout starts again
	}
	ch.mu.Unlock()
	if first {
		ch.c.stats.sent.Add(1)
	}
	ch.transition(p, registry.StatusSent, nil)
}

// messageFailed gives a message its error outcome. A message that timed out
// waits for its late reply; a later failure ends that wait.
func (ch *Chat) messageFailed(clientID string, err error) {
	ch.mu.Lock()
	p := ch.pending[clientID]
	if p == nil || p.done {
		if p != nil && err != ErrResponseTimeout {
			ch.retireLocked(p)
		}
		ch.mu.Unlock()
		return
	}
	ch.c.stats.failed.Add(1)
	ch.claimLocked(p, Reply{}, err)
	if err != ErrResponseTimeout {
		ch.retireLocked(p)
	}
	ch.mu.Unlock()
	// The status callback is enqueued before the waiter wakes, so a caller
	// that synchronizes on the outcome sees its status event first.
	ch.transition(p, registry.StatusFailed, err)
	ch.release(p)
	ch.releaseParked() // p may have held later replies back
}

// claimLocked records the message's outcome; release then wakes its
// waiters. Once claimed, no other outcome can be given.
func (ch *Chat) claimLocked(p *pendingMsg, r Reply, err error) {
	p.done = true
	p.reply, p.err = r, err
	p.parked = nil
	delete(ch.awaiting, p)
	if ch.current == p {
		ch.current = nil
	}
	if ch.procID == p.clientID || (p.serverID != "" && ch.procID == p.serverID) {
		ch.procID, ch.procSince = "", time.Time{}
	}
}

// release wakes the waiters of a claimed message.
func (ch *Chat) release(p *pendingMsg) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	close(p.doneCh)
	close(p.notify)
	p.notify = make(chan struct{})
}

// settled reports whether the user message clientID has its outcome (or
// was forgotten), so that no frame of it may be written any more.
func (ch *Chat) settled(clientID string) bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	p := ch.pending[clientID]
	return p == nil || p.done
}

// maxFinished bounds the ids a chat keeps of its finished messages.
const maxFinished = 4096

// lateReplyWindow is how long after its timeout a message waits for a late
// reply; after it a reply to it is dropped as a duplicate.
const lateReplyWindow = 5 * time.Minute

// mapLocked records that the platform calls p by id. Called with ch.mu held.
func (ch *Chat) mapLocked(id string, p *pendingMsg) {
	if id == "" || ch.byServer[id] == p {
		return
	}
	ch.byServer[id] = p
	p.mapped = append(p.mapped, id)
}

// retireLocked forgets a message that has its outcome and takes no more
// events: its ids, client and server, are kept in a bounded set, so that a
// later event naming it is known for a duplicate instead of being matched
// to another message. Called with ch.mu held.
func (ch *Chat) retireLocked(p *pendingMsg, ids ...string) {
	delete(ch.pending, p.clientID)
	ch.removeOrder(p)
	if ch.current == p {
		ch.current = nil
	}
	for _, id := range p.mapped {
		if ch.byServer[id] == p {
			delete(ch.byServer, id)
		}
		ch.finishedLocked(id)
	}
	p.mapped = nil
	ch.finishedLocked(p.clientID)
	for _, id := range ids {
		ch.finishedLocked(id)
	}
}

// finishedLocked adds id to the ids of finished messages, dropping the
// oldest beyond maxFinished. Called with ch.mu held.
func (ch *Chat) finishedLocked(id string) {
	if id == "" {
		return
	}
	if _, ok := ch.finished[id]; ok {
		return
	}
	ch.finished[id] = struct{}{}
	ch.finishedQ = append(ch.finishedQ, id)
	if over := len(ch.finishedQ) - maxFinished; over > 0 {
		for _, old := range ch.finishedQ[:over] {
			delete(ch.finished, old)
		}
		clear(ch.finishedQ[:over])
		ch.finishedQ = ch.finishedQ[over:]
	}
}

// isFinishedLocked reports whether id names a finished message of the chat.
// Called with ch.mu held.
func (ch *Chat) isFinishedLocked(id string) bool {
	if id == "" {
		return false
	}
	_, ok := ch.finished[id]
	return ok
}

// duplicate drops an event about a message that already has its outcome.
func (ch *Chat) duplicate(ev normalize.Event) {
	ch.c.dedup.Drop()
	ch.c.log.Debug("miptech: event for a finished message dropped as a duplicate", "type", ev.Type,
		"client_message_id", ev.ClientMessageID, "message_id", ev.MessageID)
}

// timeout fails a message whose reply did not come in time. A late reply
// within lateReplyWindow is still delivered to callbacks, marked late.
func (ch *Chat) timeout(p *pendingMsg) {
	ch.c.log.Warn("miptech: reply timed out", "client_message_id", p.clientID)
	ch.recordError(ErrorProcessing, ErrResponseTimeout)
	ch.messageFailed(p.clientID, ErrResponseTimeout)
}

// unacknowledged returns the messages written on a lost connection but never
// acknowledged, in order, for re-sending with the same client_message_id. A
// message returned here is marked until it is written, so that it is not
// returned again while its re-send still waits in the queue (put back by a
// writer whose connection was lost before it wrote it).
func (ch *Chat) unacknowledged() []queue.Item {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	var out []queue.Item
	for _, p := range ch.order {
		if !p.done && !p.viaREST && !p.requeued && p.status == registry.StatusSent && p.payload != nil {
			p.requeued = true
			// No context: the sender's context governed the first write only.
			out = append(out, queue.Item{Type: protocol.TypeChatMessage, ChatID: ch.id, Payload: p.payload,
				Value: &outMsg{chat: ch, clientID: p.clientID}})
		}
	}
	return out
}

// afterReady starts the recovery of replies lost with the connection: a
// message acknowledged but not answered is looked up in the history.
func (ch *Chat) afterReady() {
	ch.mu.Lock()
	need := false
	for _, p := range ch.order {
		if _, lost := ch.awaiting[p]; lost && !p.done {
			need = true
		}
	}
	if ch.recover {
		ch.mu.Unlock()
		return
	}
	if !need || ch.id == "" {
		ch.awaiting = nil
		ch.mu.Unlock()
		ch.releaseParked()
		return
	}
	ch.recover = true
	ch.mu.Unlock()
	ch.c.wg.Add(1)
	go func() {
		defer ch.c.wg.Done()
		for {
			ch.mu.Lock()
			gen := ch.awaitGen
			ch.mu.Unlock()
			ch.recoverFromHistory()
			ch.mu.Lock()
			if ch.awaitGen != gen && ch.c.ctx.Err() == nil {
				// Another reconnect lost more messages meanwhile (its
				// afterReady found this recovery running): look again.
				ch.mu.Unlock()
				continue
			}
			// The recovery is over: what it did not find runs into its
			// timeout, and holds back no later reply.
			ch.recover = false
			ch.awaiting = nil
			ch.mu.Unlock()
			ch.releaseParked()
			return
		}
	}()
}

// heldBackLocked reports whether p's reply must wait: a message sent before
// p is being recovered from the history. Called with ch.mu held.
func (ch *Chat) heldBackLocked(p *pendingMsg) bool {
	if len(ch.awaiting) == 0 {
		return false
	}
	for _, q := range ch.order {
		if q == p {
			return false
		}
		if _, ok := ch.awaiting[q]; ok {
			return true
		}
	}
	return false
}

// releaseParked delivers, in send order, the held-back replies no message
// being recovered precedes any more.
func (ch *Chat) releaseParked() {
	for {
		ch.mu.Lock()
		var next *pendingMsg
		var ev normalize.Event
		for _, p := range ch.order {
			if _, ok := ch.awaiting[p]; ok {
				break
			}
			if p.parked != nil {
				next, ev = p, *p.parked
				p.parked = nil
				break
			}
		}
		ch.mu.Unlock()
		if next == nil {
			return
		}
		ch.complete(next, ev, false)
	}
}

// recoverBeforeFlush makes one attempt, within ctx, before the outbound
// queue is flushed, to recover the replies the lost connection took with
// it, so that they are delivered before the replies to anything sent after
// them; what it does not find is tried again in the background after ready
// (afterReady), and the replies to later messages wait for it (awaiting).
func (ch *Chat) recoverBeforeFlush(ctx context.Context) {
	ch.mu.Lock()
	need := false
	for _, p := range ch.order {
		if ch.id != "" && !p.done && p.status == registry.StatusDelivered {
			need = true
			if ch.awaiting == nil {
				ch.awaiting = map[*pendingMsg]struct{}{}
			}
			ch.awaiting[p] = struct{}{}
		}
	}
	if need {
		ch.awaitGen++
	}
	ch.mu.Unlock()
	if !need || ctx.Err() != nil {
		return
	}
	hist, err := ch.History(ctx)
	if err != nil {
		ch.c.log.Warn("miptech: history recovery failed", "err", err)
		return
	}
	ch.applyHistory(hist)
}

// recoverFromHistory pairs assistant messages of the history, in order, with
// the unanswered user messages that precede them, and completes the
// acknowledged messages found that way. It tries a few times, since the
// platform may still be producing the reply.
func (ch *Chat) recoverFromHistory() {
	for try := 0; try < 3; try++ {
		if try > 0 {
			t := ch.c.clock.NewTimer(time.Second)
			select {
			case <-ch.c.ctx.Done():
				t.Stop()
				return
			case <-t.C():
			}
		}
		ctx, cancel := context.WithTimeout(ch.c.ctx, ch.c.cfg.RESTTimeout)
		hist, err := ch.History(ctx)
		cancel()
		if err != nil {
			ch.c.log.Warn("miptech: history recovery failed", "err", err)
			continue
		}
		if ch.applyHistory(hist) {
			return
		}
	}
}

// applyHistory completes waiting messages from hist; it reports whether
// none is left waiting.
func (ch *Chat) applyHistory(hist []protocol.HistoryMessage) bool {
	answers := map[string]protocol.HistoryMessage{} // user server id or text → assistant message
	var open []protocol.HistoryMessage
	for _, m := range hist {
		switch m.Role {
		case protocol.RoleUser:
			open = append(open, m)
		case protocol.RoleAssistant:
			if len(open) > 0 {
				u := open[0]
				open = open[1:]
				answers["id:"+u.ID] = m
				if _, dup := answers["text:"+u.Content]; !dup {
					answers["text:"+u.Content] = m
				}
			}
		}
	}
	ch.mu.Lock()
	// Only the messages acknowledged on a lost connection: one acknowledged
	// on the current connection (a re-send, say) gets its reply live, and
	// a reply in the history may be the platform's answer to its first copy.
	var waiting []*pendingMsg
	for _, p := range ch.order {
		if _, lost := ch.awaiting[p]; lost && !p.done {
			waiting = append(waiting, p)
		}
	}
	ch.mu.Unlock()
	left := 0
	for _, p := range waiting {
		a, ok := answers["id:"+p.serverID]
		if !ok || p.serverID == "" {
			a, ok = answers["text:"+p.text]
		}
		if !ok {
			left++
			continue
		}
		ch.complete(p, normalize.Event{Type: protocol.TypeResponseComplete, ChatID: ch.ID(), MessageID: a.ID, Text: a.Content, HasText: true, Time: ch.c.clock.Now()}, true)
	}
	return left == 0
}

// handleEvent applies one routed event to the chat and reports it.
func (ch *Chat) handleEvent(ev normalize.Event) {
	ch.mu.Lock()
	left := ch.left
	ch.mu.Unlock()
	if left {
		ch.c.stats.isolationDrops.Add(1)
		return
	}
	switch ev.Type {
	case protocol.TypeMessageReceived:
		ch.acknowledged(ev)
	case protocol.TypeProcessing:
		p, ok := ch.replyTarget(ev)
		if !ok {
			return
		}
		ch.mu.Lock()
		ch.procSince = ev.Time
		ch.procID = ev.MessageID
		cid := ""
		if p != nil {
			cid = p.clientID
			if ch.procID == "" {
				ch.procID = p.clientID
			}
		}
		ch.mu.Unlock()
		pe := ProcessingEvent{ChatID: ch.ID(), MessageID: ev.MessageID, ClientMessageID: cid, Time: ev.Time}
		ch.dispatch(func() {
			for _, h := range handlers(ch.c, ch.onProc) {
				h(pe)
			}
		})
	case protocol.TypeResponseStart:
		p, _ := ch.replyTarget(ev)
		if p == nil {
			return
		}
		ch.mu.Lock()
		if ev.MessageID != "" && ev.MessageID != p.serverID {
			p.assistantID = ev.MessageID
			ch.mapLocked(ev.MessageID, p)
		}
		ch.current = p
		p.activity = ch.c.clock.Now()
		ch.mu.Unlock()
		se := ResponseStartEvent{ChatID: ch.ID(), MessageID: ev.MessageID, ClientMessageID: p.clientID, Time: ev.Time}
		ch.dispatch(func() {
			for _, h := range handlers(ch.c, ch.onStart) {
				h(se)
			}
		})
	case protocol.TypeResponseChunk:
		ch.chunk(ev)
	case protocol.TypeResponseComplete, protocol.TypeChatResponse:
		p, _ := ch.replyTarget(ev)
		if p == nil {
			ch.c.log.Debug("miptech: reply for no waiting message dropped", "message_id", ev.MessageID)
			return
		}
		ch.complete(p, ev, false)
	case protocol.TypeError:
		// Recorded first, so that State shows the error by the time the
		// waiter wakes.
		err := eventError(ev)
		ch.recordError(errorKindOf(ev), err)
		if p := ch.findByID(ev); p != nil {
			ch.messageFailed(p.clientID, err)
		}
	case protocol.TypeRateLimitExceeded:
		err := eventError(ev)
		ch.recordError(ErrorRateLimit, err)
		if p := ch.findByID(ev); p != nil {
			ch.messageFailed(p.clientID, err)
		}
	case protocol.TypeTypingStart, protocol.TypeTypingStop, protocol.TypeTypingIndicator:
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
		ch.mu.Lock()
		if typing {
			ch.typers[user] = ch.c.clock.Now()
		} else {
			delete(ch.typers, user)
		}
		ch.mu.Unlock()
		te := TypingEvent{ChatID: ch.ID(), UserID: user, Typing: typing, Time: ev.Time}
		ch.dispatch(func() {
			for _, h := range handlers(ch.c, ch.onTyping) {
				h(te)
			}
		})
	}
}

// acknowledged handles message_received. An acknowledgement naming a
// finished message is a duplicate (its message was re-sent, or the frame was
// replayed); one naming a client_message_id that is not the chat's is about
// another sender's message. Only one that names nothing is matched by order.
func (ch *Chat) acknowledged(ev normalize.Event) {
	ch.mu.Lock()
	var p *pendingMsg
	dup := false
	switch cid, mid := ev.ClientMessageID, ev.MessageID; {
	case cid != "":
		p = ch.pending[cid]
		dup = p == nil && ch.isFinishedLocked(cid)
	case mid != "" && ch.byServer[mid] != nil:
		p = ch.byServer[mid]
	case ch.isFinishedLocked(mid):
		dup = true
	default:
		for _, x := range ch.order {
			if !x.done && x.status <= registry.StatusSent && x.serverID == "" {
				p = x
				break
			}
		}
	}
	ch.mu.Unlock()
	switch {
	case dup:
		ch.duplicate(ev)
	case p != nil:
		ch.delivered(p, ev.MessageID)
	}
}

// delivered records the platform's acknowledgement of a message, with the
// server id it gave the message, if any. The acknowledgement can overtake
// the writer's report of the write: sent is reported first, so every status
// is seen once and in order.
func (ch *Chat) delivered(p *pendingMsg, serverID string) {
	mapped := false
	ch.mu.Lock()
	if serverID != "" && p.serverID == "" {
		p.serverID = serverID
		if ch.pending[p.clientID] == p {
			ch.mapLocked(serverID, p)
			mapped = true
		} else {
			// The reply came over the socket before the answer to the
			// post: the message is finished, its view still learns the id.
			ch.finishedLocked(serverID)
			ch.updateView(p.clientID, func(v *MessageView) {
				if v.ServerID == "" {
					v.ServerID = serverID
				}
			})
		}
	}
	ch.mu.Unlock()
	if mapped {
		_ = ch.c.reg.MapServerID(p.clientID, serverID)
	}
	ch.messageWritten(p.clientID)
	if ch.transition(p, registry.StatusDelivered, nil) {
		ch.c.stats.acknowledged.Add(1)
	}
}

// findByID finds a message by the ids an event carries.
func (ch *Chat) findByID(ev normalize.Event) *pendingMsg {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if p := ch.pending[ev.ClientMessageID]; p != nil {
		return p
	}
	if p := ch.byServer[ev.MessageID]; p != nil {
		return p
	}
	return nil
}

// replyTarget finds the message a reply event (processing, response start,
// chunk or complete) is about. It drops and counts the event when it is
// about a finished message (ok is false then). A message posted over REST
// counts as acknowledged once the platform works on it.
func (ch *Chat) replyTarget(ev normalize.Event) (p *pendingMsg, ok bool) {
	p, dup := ch.findForReply(ev)
	if dup {
		ch.duplicate(ev)
		return nil, false
	}
	if p != nil && p.viaREST {
		ch.delivered(p, "")
	}
	return p, true
}

// findForReply finds the user message a reply event answers. An event that
// names a message, by its client_message_id or by a server id already
// mapped to it, is matched by that id only: when that message is finished
// (answered, or failed and not waiting for a late reply) the event is a
// duplicate (dup is true); a client_message_id that is not the chat's names
// another sender's message (nil, false). An event that names nothing known
// goes to the reply streaming now when it carries no message id, else to
// the oldest message awaiting a reply.
func (ch *Chat) findForReply(ev normalize.Event) (p *pendingMsg, dup bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	cid, mid := ev.ClientMessageID, ev.MessageID
	if cid != "" {
		if p := ch.pending[cid]; p != nil {
			return p, p.answered
		}
		if ch.isFinishedLocked(cid) {
			return nil, true
		}
	}
	if mid != "" {
		if p := ch.byServer[mid]; p != nil {
			return p, p.answered
		}
		if ch.isFinishedLocked(mid) {
			return nil, true
		}
	}
	if cid != "" {
		return nil, false
	}
	if mid == "" && ch.current != nil {
		return ch.current, ch.current.answered
	}
	for _, x := range ch.order {
		if !x.answered && x.parked == nil && x.status >= registry.StatusSent && x.assistantID == "" {
			return x, false // the oldest message still waiting for its reply
		}
	}
	return nil, false
}

// chunk handles response_chunk.
func (ch *Chat) chunk(ev normalize.Event) {
	p, _ := ch.replyTarget(ev)
	if p == nil {
		return
	}
	now := ch.c.clock.Now()
	ch.mu.Lock()
	if ev.MessageID != "" && p.assistantID == "" && ev.MessageID != p.serverID {
		p.assistantID = ev.MessageID
		ch.mapLocked(ev.MessageID, p)
	}
	ch.current = p
	p.activity = now
	if p.size+len(ev.Text) > ch.c.cfg.MaxReplyBytes {
		ch.mu.Unlock()
		ch.messageFailed(p.clientID, ErrReplyTooLarge)
		ch.recordError(ErrorProcessing, ErrReplyTooLarge)
		return
	}
	first := len(p.chunks) == 0
	p.size += len(ev.Text)
	p.chunks = append(p.chunks, ev.Text)
	index := len(p.chunks) - 1
	close(p.notify)
	p.notify = make(chan struct{})
	sentAt := p.sentAt
	var deliver string
	deliverOK := true
	if w := ch.c.cfg.ChunkCoalesce; w > 0 {
		// The first chunk goes out at once; later ones are merged until the
		// window since the last delivery has passed (or the reply ends).
		p.coalesce.WriteString(ev.Text)
		p.coalesceN++
		deliverOK = p.delivered.IsZero() || now.Sub(p.delivered) >= w
		if deliverOK {
			deliver = p.coalesce.String()
			p.coalesce.Reset()
			p.coalesceN = 0
			p.delivered = now
		}
	} else {
		deliver = ev.Text
	}
	ch.mu.Unlock()
	if first && !sentAt.IsZero() {
		ch.c.stats.firstChunkLatency.add(now.Sub(sentAt))
	}
	if deliverOK {
		ch.emitChunk(p, ev.MessageID, deliver, index, ev.Time)
	}
}

func (ch *Chat) emitChunk(p *pendingMsg, messageID, text string, index int, at time.Time) {
	ce := ChunkEvent{ChatID: ch.ID(), MessageID: messageID, ClientMessageID: p.clientID, Text: text, Index: index, Time: at}
	ch.dispatch(func() {
		for _, h := range handlers(ch.c, ch.onChunk) {
			h(ce)
		}
	})
}

// complete finishes a reply: the complete frame's text when present, else
// the chunks joined.
func (ch *Chat) complete(p *pendingMsg, ev normalize.Event, recovered bool) {
	now := ch.c.clock.Now()
	ch.mu.Lock()
	if p.answered {
		ch.mu.Unlock()
		return
	}
	if !recovered && !p.done && ch.heldBackLocked(p) {
		e := ev
		p.parked = &e
		if ch.current == p {
			ch.current = nil // its stream is over; id-less frames are not its
		}
		ch.mu.Unlock()
		return
	}
	if ev.HasText && len(ev.Text) > ch.c.cfg.MaxReplyBytes {
		// A reply that came whole (a complete frame with its text,
		// chat_response, or history) is held to the limit streamed
		// replies are held to in chunk.
		done := p.done
		ch.mu.Unlock()
		if !done {
			ch.recordError(ErrorProcessing, ErrReplyTooLarge)
			ch.messageFailed(p.clientID, ErrReplyTooLarge)
		}
		ch.c.log.Warn("miptech: reply over Config.MaxReplyBytes dropped", "client_message_id", p.clientID, "bytes", len(ev.Text))
		return
	}
	p.answered = true
	var rest string
	if p.coalesceN > 0 {
		rest = p.coalesce.String()
		p.coalesce.Reset()
		p.coalesceN = 0
	}
	text := ev.Text
	if !ev.HasText {
		text = strings.Join(p.chunks, "")
	}
	r := Reply{ChatID: ch.id, ClientMessageID: p.clientID, MessageID: ev.MessageID, Text: text, Chunks: len(p.chunks), Recovered: recovered}
	if r.MessageID == "" {
		r.MessageID = p.assistantID
	}
	if m := ev.Meta; m != nil {
		r.Model, r.PromptTokens, r.CompletionTokens, r.TotalTokens = m.Model, m.PromptTokens, m.CompletionTokens, m.TotalTokens
		r.ResponseTime, r.Cost, r.Sources = m.ResponseTime, m.Cost, m.Sources
	}
	late := p.done
	r.Late = late
	if !late {
		ch.c.stats.answered.Add(1)
		ch.claimLocked(p, r, nil)
	}
	ch.retireLocked(p, ev.MessageID)
	ch.addView(MessageView{ID: r.MessageID, ChatID: ch.id, Role: protocol.RoleAssistant, Text: text, Status: registry.StatusComplete, Time: now, Late: late})
	sentAt := p.sentAt
	ch.mu.Unlock()
	if rest != "" {
		ch.emitChunk(p, ev.MessageID, rest, len(p.chunks)-1, ev.Time)
	}
	if !late {
		if !sentAt.IsZero() {
			ch.c.stats.replyLatency.add(now.Sub(sentAt))
		}
		ch.transition(p, registry.StatusAnswered, nil)
	} else {
		ch.c.log.Info("miptech: late reply delivered", "client_message_id", p.clientID)
	}
	ce := CompleteEvent{Reply: r, Time: ev.Time}
	ch.dispatch(func() {
		for _, h := range handlers(ch.c, ch.onComplete) {
			h(ce)
		}
	})
	if !late {
		ch.release(p)
	}
	if recovered {
		ch.releaseParked() // p may have held later replies back
	}
}

// dispatch enqueues a chat callback on the client's dispatcher.
func (ch *Chat) dispatch(f func()) { ch.c.disp.enqueue(f) }

// emitStatus reports a message status change.
func (ch *Chat) emitStatus(clientID, serverID string, prev, to registry.Status, err error) {
	se := MessageStatusEvent{ChatID: ch.ID(), ClientMessageID: clientID, ServerID: serverID, Previous: prev, Status: to, Err: err, Time: ch.c.clock.Now()}
	ch.dispatch(func() {
		for _, h := range handlers(ch.c, ch.onStatus) {
			h(se)
		}
	})
}

// parseTime reads an RFC 3339 time, or returns def.
func parseTime(s string, def time.Time) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	return def
}
