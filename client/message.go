package client

import (
	"context"
	"encoding/json"
	"errors"
	"iter"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
	"github.com/miptechnologies/miptech-go/registry"
)

// Reply is the complete answer to a user message.
type Reply struct {
	// ChatID is the chat.
	ChatID string
	// ClientMessageID is the id of the user message answered (Message.ID).
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
	// Attempt is the attempt that was answered: 1, or more after Retry.
	Attempt int
}

// Chunk is one piece of a streamed reply. The last value of a stream has
// Done set and carries the complete Reply.
//
// The texts of a stream's chunks, concatenated in order, equal the final
// Reply.Text, except where a chunk has Replace set: its Text is then the
// whole reply text so far and replaces everything shown before it (the
// reply was started again after a lost connection, or recovered from the
// history, or the platform's final text differs from its chunks).
type Chunk struct {
	// Text is the chunk's text (empty on the final value), or with Replace
	// the whole text so far.
	Text string
	// Index is the chunk's position in the reply's text, from 0.
	Index int
	// Offset is the byte offset of Text in the reply's text.
	Offset int
	// Replace is true when Text replaces everything before it.
	Replace bool
	// Done marks the final value.
	Done bool
	// Reply is the complete reply, on the final value only.
	Reply Reply
}

// waiter is the sender's side of one user message: what its handle waits
// for and reads. The ledger decides its fate; apply writes it here. Its
// fields are guarded by Client.lmu.
type waiter struct {
	chat     *Chat
	clientID string
	text     string
	wire     string // client_message_id of the current attempt
	payload  []byte // the current attempt's frame
	ctx      context.Context
	viaREST  bool
	attempt  int
	sentAt   time.Time
	chunked  bool // a chunk of the current attempt arrived

	start    time.Time       // when the current attempt was accepted
	hctx     context.Context // what Hooks.MessageStart returned; nil without it
	serverID string          // the platform's id of the message, once known

	pieces []registry.Piece // the current attempt's reply as delivered
	reply  Reply
	err    error
	done   bool
	doneCh chan struct{} // closed at the outcome
	notify chan struct{} // closed and replaced on every piece and at the outcome

	merged    strings.Builder // chunks merged for ChunkCoalesce, not yet delivered
	mergedN   int
	mergedOff int
	mergedIdx int
	lastOut   time.Time
}

// wake tells the stream readers that something changed.
func (w *waiter) wake() {
	close(w.notify)
	w.notify = make(chan struct{})
}

// Message is the handle of a sent user message.
type Message struct {
	chat *Chat
	w    *waiter
}

// ID returns the message's client_message_id (a UUID v4). It stays the same
// across Retry, which sends each new attempt under an id of its own.
func (m *Message) ID() string { return m.w.clientID }

// Wait blocks until the reply completes and returns it, or returns the
// message's error (ErrResponseTimeout, ErrReplyLost, a *PlatformError, a
// *RateLimitError, ErrQueueFull, ErrExpired, ErrChatLeft, ErrClosed, an
// error matching ErrFailed) or ctx's error. Waiting does not change the
// message: a Wait cut short by ctx can be called again. Called on the
// callback goroutine, Wait returns an outcome already known, and otherwise
// ErrInCallback at once: a reply cannot arrive while a callback blocks.
func (m *Message) Wait(ctx context.Context) (Reply, error) {
	ch := m.chat
	for {
		ch.lmu.Lock()
		done, doneCh, r, err := m.w.done, m.w.doneCh, m.w.reply, m.w.err
		ch.lmu.Unlock()
		if done {
			return r, err
		}
		if ch.host.onDispatcher() {
			return Reply{}, ErrInCallback
		}
		select {
		case <-doneCh:
		case <-ctx.Done():
			return Reply{}, ctx.Err()
		}
	}
}

// Chunks iterates over the reply as it arrives: one value per chunk, then a
// final value with Done set and the complete Reply, or an error. Breaking
// out of the loop early is allowed. See Chunk for how the texts add up to
// the reply. On the callback goroutine it yields what has arrived and then
// ErrInCallback unless the message already has its outcome.
func (m *Message) Chunks(ctx context.Context) iter.Seq2[Chunk, error] {
	return func(yield func(Chunk, error) bool) {
		ch := m.chat
		next, attempt := 0, 0
		for {
			ch.lmu.Lock()
			w := m.w
			restart := attempt != 0 && attempt != w.attempt
			if restart || next > len(w.pieces) {
				next = 0
			}
			attempt = w.attempt
			pieces := w.pieces[next:]
			next += len(pieces)
			done, reply, err, notify := w.done, w.reply, w.err, w.notify
			ch.lmu.Unlock()
			for i, p := range pieces {
				c := Chunk{Text: p.Text, Index: p.Index, Offset: p.Offset, Replace: p.Replace}
				if i == 0 && restart {
					c.Replace = true // a new attempt: what was shown goes
				}
				if !yield(c, nil) {
					return
				}
			}
			if len(pieces) > 0 {
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
			if ch.host.onDispatcher() {
				yield(Chunk{}, ErrInCallback)
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

// Retry sends the message again after it failed, as a new attempt of the
// same message: its handle (ID, Wait, Chunks) now follows the new attempt,
// whose outcome replaces the failure. The new attempt goes out under a
// client_message_id of its own, so that a late reply to the failed attempt
// is never taken for the new one's. It returns ErrNotFailed when the
// message has no failed outcome (it is answered or still waiting), and the
// errors of Chat.Send.
func (m *Message) Retry(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ch := m.chat
	if err := ch.usable(); err != nil {
		return err
	}
	ch.lmu.Lock()
	w := m.w
	if !w.done || w.err == nil {
		ch.lmu.Unlock()
		return ErrNotFailed
	}
	it, err := ch.host.nextAttemptLocked(w, ctx)
	info := w.info(ch.clock.Now())
	ch.lmu.Unlock()
	if err != nil {
		return err
	}
	if f := ch.cfg.Hooks.MessageStart; f != nil {
		hctx := startHook(f, ctx, info)
		ch.lmu.Lock()
		w.hctx = hctx
		ch.lmu.Unlock()
	}
	return ch.submit(ctx, w, it)
}

// nextAttemptLocked starts a new attempt of w in the ledger. Called with
// c.lmu held.
func (c *Client) nextAttemptLocked(w *waiter, ctx context.Context) (queue.Item[*outMsg], error) {
	ch := w.chat
	wire := registry.NewClientMessageID()
	payload, err := c.encodeFrame(protocol.TypeChatMessage, protocol.ChatMessage{
		Message: w.text, ChatID: ch.ID(), TenantID: c.cfg.TenantID, ClientMessageID: wire, Stream: true,
	})
	if err != nil {
		return queue.Item[*outMsg]{}, err
	}
	ds, ok := c.ledger.Retry(ch.key, w.clientID, wire, w.text, w, w.attempt, c.clock.Now(), c.scratch[:0])
	if !ok {
		return queue.Item[*outMsg]{}, ErrNotFailed
	}
	w.attempt++
	w.wire, w.payload, w.ctx = wire, payload, ctx
	if w.done {
		w.doneCh = make(chan struct{}) // the failure's was closed; an automatic retry keeps its own
	}
	w.done, w.err, w.reply = false, nil, Reply{}
	w.pieces, w.chunked, w.sentAt, w.start = nil, false, time.Time{}, c.clock.Now()
	w.merged.Reset()
	w.mergedN = 0
	w.wake()
	c.applyLocked(ds)
	if c.cfg.OrphanAge > 0 {
		c.wake(c.clock.Now().Add(c.cfg.OrphanAge))
	}
	return ch.item(ctx, w), nil
}

// retryLater sends w's next attempt after d (DecideRetry), on the client's
// timer; Close stops it.
func (c *Client) retryLater(w *waiter, d time.Duration) {
	if d <= 0 {
		d = defaultMessageRetryWait
	}
	c.after(d, func() {
		c.lmu.Lock()
		it, err := c.nextAttemptLocked(w, context.Background())
		c.lmu.Unlock()
		if err != nil {
			if !errors.Is(err, ErrNotFailed) {
				c.failMessage(w, err)
			}
			return
		}
		_ = w.chat.submit(context.Background(), w, it)
	})
}

// Stream sends text and iterates over the reply as it arrives (see
// Message.Chunks). A send error is yielded as the only value.
func (ch *Chat) Stream(ctx context.Context, text string) iter.Seq2[Chunk, error] {
	if ch.host.onDispatcher() {
		return func(yield func(Chunk, error) bool) { yield(Chunk{}, ErrInCallback) }
	}
	m, err := ch.Send(ctx, text)
	if err != nil {
		return func(yield func(Chunk, error) bool) { yield(Chunk{}, err) }
	}
	return m.Chunks(ctx)
}
