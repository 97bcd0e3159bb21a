package client

import (
	"slices"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/registry"
)

// MessageStatusEvent reports a user message's status change (SPEC §5). Each
// status is reported once per message, in order.
type MessageStatusEvent struct {
	ChatID          string
	ClientMessageID string
	// ServerID is the platform's id once acknowledged.
	ServerID string
	// Previous is the status before (0 for a new message).
	Previous registry.Status
	// Status is the new status.
	Status registry.Status
	// Err is the failure, for StatusFailed.
	Err  error
	Time time.Time
}

// TypingEvent reports another participant typing or stopping.
type TypingEvent struct {
	ChatID string
	// UserID is who types, as the platform names them.
	UserID string
	// Typing is false when they stopped.
	Typing bool
	Time   time.Time
}

// ProcessingEvent reports that the platform started working on a message.
type ProcessingEvent struct {
	ChatID          string
	MessageID       string
	ClientMessageID string
	Time            time.Time
}

// ResponseStartEvent reports the start of a streamed reply.
type ResponseStartEvent struct {
	ChatID string
	// MessageID is the assistant message's id.
	MessageID       string
	ClientMessageID string
	Time            time.Time
}

// ChunkEvent is one chunk of a streamed reply (merged chunks when
// Config.ChunkCoalesce is set). A message's ChunkEvents follow the rule of
// Chunk: their texts add up to the reply's text, starting again at every
// event with Replace set.
type ChunkEvent struct {
	ChatID          string
	MessageID       string
	ClientMessageID string
	// Text is the chunk, or with Replace the whole reply text so far.
	Text string
	// Index is the index of the last chunk included.
	Index int
	// Offset is the byte offset of Text in the reply's text.
	Offset int
	// Replace is true when Text replaces everything delivered before it.
	Replace bool
	Time    time.Time
}

// CompleteEvent reports a complete reply (Reply.Late for one that came after
// its message timed out).
type CompleteEvent struct {
	Reply Reply
	Time  time.Time
}

// OnMessageStatus registers f for the chat's message status changes. It
// returns a function that unregisters f.
func (ch *Chat) OnMessageStatus(f func(MessageStatusEvent)) (unsubscribe func()) {
	return ch.onStatus.add(f)
}

// OnTyping registers f for other participants' typing.
func (ch *Chat) OnTyping(f func(TypingEvent)) (unsubscribe func()) {
	return ch.onTyping.add(f)
}

// OnProcessing registers f for processing notices.
func (ch *Chat) OnProcessing(f func(ProcessingEvent)) (unsubscribe func()) {
	return ch.onProc.add(f)
}

// OnResponseStart registers f for the start of each reply.
func (ch *Chat) OnResponseStart(f func(ResponseStartEvent)) (unsubscribe func()) {
	return ch.onStart.add(f)
}

// OnChunk registers f for reply chunks.
func (ch *Chat) OnChunk(f func(ChunkEvent)) (unsubscribe func()) {
	return ch.onChunk.add(f)
}

// OnComplete registers f for complete replies, late ones included.
func (ch *Chat) OnComplete(f func(CompleteEvent)) (unsubscribe func()) {
	return ch.onComplete.add(f)
}

// OnError registers f for the chat's errors (processing, validation, rate
// limit).
func (ch *Chat) OnError(f func(ErrorEvent)) (unsubscribe func()) {
	return ch.onError.add(f)
}

// MessageView is one message in a ChatState.
type MessageView struct {
	// ID is the platform's id of an assistant message.
	ID string
	// ClientMessageID is the id of a user message.
	ClientMessageID string
	// ServerID is the platform's id of a user message once acknowledged.
	ServerID string
	ChatID   string
	// Role is protocol.RoleUser or protocol.RoleAssistant.
	Role   string
	Text   string
	Status registry.Status
	// Err is the failure of a failed message.
	Err  error
	Time time.Time
	// Late marks an assistant reply that came after its message timed out.
	Late bool
}

// ChatInfo describes the conversation.
type ChatInfo struct {
	ID       string
	TenantID string
	Title    string
	Created  time.Time
	// Degraded is true while the chat waits for the platform to give it an id.
	Degraded bool
}

// Errors holds the latest error of each kind ("" kinds are nil).
type Errors struct {
	Connection, Processing, Validation, RateLimit error
}

// StreamState describes the reply streaming now.
type StreamState struct {
	Active    bool
	MessageID string
	// Text is the text so far.
	Text   string
	Chunks int
}

// ProcessingState describes a message the platform is working on.
type ProcessingState struct {
	Active    bool
	MessageID string
	Since     time.Time
}

// ChatState is a snapshot of a conversation: what the web client's useChat
// hook exposes. It is a deep copy: changing it changes nothing.
type ChatState struct {
	Connection  State
	Ready       bool
	Chat        ChatInfo
	Messages    []MessageView
	TypingUsers []string
	Errors      Errors
	Stream      StreamState
	Processing  ProcessingState
}

// State returns a snapshot of the conversation.
func (ch *Chat) State() ChatState {
	conn := ch.host.State()
	connErr := ch.host.lastConnectionError()
	ch.lmu.Lock()
	defer ch.lmu.Unlock()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	s := ChatState{
		Connection: conn,
		Ready:      conn == StateReady,
		Chat:       ChatInfo{ID: ch.id, TenantID: ch.cfg.TenantID, Title: ch.title, Created: ch.created, Degraded: ch.needsCreate && ch.id == ""},
		Messages:   slices.Clone(ch.messages),
		Errors:     ch.errs,
		Processing: ProcessingState{Active: ch.procID != "", MessageID: ch.procID, Since: ch.procSince},
	}
	if s.Errors.Connection == nil {
		s.Errors.Connection = connErr
	}
	for u := range ch.typers {
		s.TypingUsers = append(s.TypingUsers, u)
	}
	slices.Sort(s.TypingUsers)
	if w := ch.stream; w != nil {
		var b strings.Builder
		n := 0
		for _, p := range w.pieces {
			if p.Replace {
				b.Reset()
				n = 0
			}
			b.WriteString(p.Text)
			n++
		}
		s.Stream = StreamState{Active: true, MessageID: ch.streamID, Chunks: n, Text: b.String()}
	}
	return s
}

// addView appends a message to the bounded list, dropping the oldest.
// Dropping reslices from the front instead of shifting the list down, so a
// full list costs amortized O(1) per message: append copies the live views
// into a new array only when the old one's spare capacity is used up.
// Called with ch.mu held.
func (ch *Chat) addView(v MessageView) {
	ch.messages = append(ch.messages, v)
	if over := len(ch.messages) - ch.cfg.MaxMessages; over > 0 {
		clear(ch.messages[:over]) // let the dropped texts be collected
		ch.messages = ch.messages[over:]
	}
}

// updateView changes the view of a user message. Called with ch.mu held.
func (ch *Chat) updateView(clientID string, f func(*MessageView)) {
	for i := len(ch.messages) - 1; i >= 0; i-- {
		if ch.messages[i].ClientMessageID == clientID {
			f(&ch.messages[i])
			return
		}
	}
}
