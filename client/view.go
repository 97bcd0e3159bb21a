package client

import (
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

// viewStatus keeps the chat's view of a user message's status.
func (ch *Chat) viewStatus(clientID, serverID string, to registry.Status, err error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.updateView(clientID, func(v *MessageView) {
		v.Status = to
		if serverID != "" {
			v.ServerID = serverID
		}
		if err != nil {
			v.Err = err
		}
	})
}

// processing records, for State, that the platform works on w, and reports
// it. Called with c.lmu held.
func (ch *Chat) processing(w *waiter, messageID string, now time.Time) {
	ch.mu.Lock()
	ch.proc, ch.procID, ch.procSince = w, messageID, now
	if ch.procID == "" {
		ch.procID = w.clientID
	}
	id := ch.id
	ch.mu.Unlock()
	pe := ProcessingEvent{ChatID: id, MessageID: messageID, ClientMessageID: w.clientID, Time: now}
	ch.dispatch(func() {
		for _, h := range ch.onProc.get() {
			h(pe)
		}
	})
}

// streaming records, for State, that w's reply streams now. Called with
// c.lmu held.
func (ch *Chat) streaming(w *waiter, messageID string, now time.Time) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.stream = w
	if messageID != "" {
		ch.streamID = messageID
	}
}

// replyDone records w's outcome in the chat's view: its reply (r.Text set
// by a complete reply) joins the messages; w is no longer streamed or
// processed. Called with c.lmu held.
func (ch *Chat) replyDone(w *waiter, r Reply, now time.Time) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.stream == w {
		ch.stream, ch.streamID = nil, ""
	}
	if ch.proc == w {
		ch.proc, ch.procID, ch.procSince = nil, "", time.Time{}
	}
	if !now.IsZero() {
		ch.addView(MessageView{ID: r.MessageID, ChatID: ch.id, Role: protocol.RoleAssistant, Text: r.Text,
			Status: registry.StatusComplete, Time: now, Late: r.Late})
	}
}

// Degraded reports whether the platform has not created the chat yet:
// NewChat could not reach it (a 5xx or a network error), returned the chat
// with a nil error, and the chat learns its id from the platform when the
// connection comes (messages sent meanwhile wait in the queue). ID is ""
// until then.
func (ch *Chat) Degraded() bool {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.needsCreate && ch.id == ""
}
