package queue

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Defaults of [Config].
const (
	// DefaultCapacity is the number of frames a queue holds when
	// Config.Capacity is zero.
	DefaultCapacity = 50
	// DefaultTTL is how long a frame without its own deadline waits when
	// Config.TTL is zero.
	DefaultTTL = 5 * time.Minute
)

// Policy says what a full queue does with a new frame.
type Policy int

// Overflow policies.
const (
	// RejectNew evicts the oldest typing frame to make room; with no typing
	// frame queued, the new frame is refused with ErrQueueFull. It is the
	// default.
	RejectNew Policy = iota
	// DropOldest evicts the oldest frame of any type to make room, and
	// reports it with ErrEvicted.
	DropOldest
)

// String names the policy: "reject_new" or "drop_oldest".
func (p Policy) String() string {
	switch p {
	case RejectNew:
		return "reject_new"
	case DropOldest:
		return "drop_oldest"
	}
	return fmt.Sprintf("Policy(%d)", int(p))
}

// Item is one outbound frame waiting in the queue. T is the type of the
// caller's correlation value (Value), so that the caller reads it back
// without a type assertion.
type Item[T any] struct {
	// Type is the frame type: protocol.TypeChatMessage,
	// protocol.TypeTypingStart or protocol.TypeTypingStop.
	Type string
	// ChatID is the chat the frame belongs to; typing frames are coalesced
	// per ChatID.
	ChatID string
	// Payload is the encoded frame, opaque to the queue.
	Payload []byte
	// Deadline is when the frame expires. Zero means now + Config.TTL at
	// Push (and no deadline at all when Config.TTL is negative).
	Deadline time.Time
	// Value is the caller's correlation data (for example who to notify),
	// opaque to the queue.
	Value T
	// Seq is assigned by Push, starting at 1 and increasing with every
	// accepted frame. PutBack keeps it.
	Seq uint64
}

// Removed is a frame taken out of the queue without being sent, and why:
// ErrEvicted, ErrReplaced or ErrExpired.
type Removed[T any] struct {
	// Item is the frame as it was queued.
	Item Item[T]
	// Err is why it was removed: ErrEvicted, ErrReplaced or ErrExpired.
	Err error
}

// Config configures a [Queue]. The zero value is ready to use.
type Config struct {
	// Capacity is the most frames the queue holds, counted in frames (chat
	// messages and typing frames alike), not bytes. Zero or negative means
	// 50.
	Capacity int
	// Policy is what a full queue does with a new frame. Zero means
	// RejectNew; a value other than RejectNew or DropOldest is treated as
	// RejectNew.
	Policy Policy
	// TTL is how long a frame pushed without a Deadline may wait. Zero means
	// 5 minutes; negative means such frames never expire.
	TTL time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// Queue is a bounded FIFO of outbound frames with per-chat typing
// coalescing and deadlines. It starts no goroutines; all methods are safe for
// concurrent use and none blocks other than on the queue's own mutex. T is
// the type of the caller's correlation value, Item.Value.
type Queue[T any] struct {
	mu       sync.Mutex
	capacity int
	policy   Policy
	ttl      time.Duration
	now      func() time.Time

	chatCap int // most chat messages one chat may hold; 0: Capacity

	items []Item[T] // FIFO order, oldest first
	// typing is the number of typing frames in items.
	typing int
	// earliest is a lower bound of the deadlines in items (zero when none
	// may have one); Push skips the expiry scan while now is before it.
	earliest time.Time
	seq      uint64
	stats    Stats
}

// New returns an empty queue of frames whose Item.Value is a T, configured
// by cfg. cfg is copied; the caller's value is not changed.
func New[T any](cfg Config) *Queue[T] {
	if cfg.Capacity <= 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.Policy != DropOldest {
		cfg.Policy = RejectNew
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Queue[T]{
		capacity: cfg.Capacity,
		policy:   cfg.Policy,
		ttl:      cfg.TTL,
		now:      cfg.Now,
		// items grows on the first push: a connected client's queue
		// stays empty and holds no memory.
	}
}

func isTyping(t string) bool {
	return t == protocol.TypeTypingStart || t == protocol.TypeTypingStop
}

// Push adds it at the end of the queue and assigns its Seq. A zero Deadline
// becomes now + Config.TTL.
//
// Expired frames are purged first (reported with ErrExpired), so they never
// cause a rejection. A typing frame then replaces the pending typing frame of
// the same chat, if any (reported with ErrReplaced); the new frame goes to
// the end of the queue, behind everything pushed before it, so that the
// latest typing state is the one the server sees last. When the queue is
// full, RejectNew evicts the oldest typing frame, or refuses the new frame
// with ErrQueueFull if there is none; DropOldest evicts the oldest frame.
// Evicted frames are reported with ErrEvicted.
//
// Push returns the frames it removed, so that the caller can notify their
// senders outside any lock, and an error when it refuses it: ErrQueueFull, an
// error matching ErrNotQueueable for a type other than chat_message,
// typing_start or typing_stop, or ErrExpired when it.Deadline has already
// passed. A refused frame is not queued and the returned removals are still
// valid.
func (q *Queue[T]) Push(it Item[T]) ([]Removed[T], error) {
	if !protocol.Queueable(it.Type) {
		q.mu.Lock()
		q.stats.Rejected++
		q.mu.Unlock()
		return nil, fmt.Errorf("%w: %q", ErrNotQueueable, it.Type)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	removed := q.purgeLocked(now, nil)
	if it.Deadline.IsZero() && q.ttl > 0 {
		it.Deadline = now.Add(q.ttl)
	}
	if expired(it.Deadline, now) {
		q.stats.Rejected++
		return removed, ErrExpired
	}
	typing := isTyping(it.Type)
	if typing {
		removed = q.coalesceLocked(it.ChatID, removed)
	}
	if !typing && q.chatCap > 0 && q.chatCap < q.capacity {
		if n, oldest := q.chatLocked(it.ChatID); n >= q.chatCap {
			// The chat holds its share: under RejectNew it waits like a
			// full queue; under DropOldest its own oldest frame goes.
			if q.policy != DropOldest {
				q.stats.Rejected++
				return removed, ErrQueueFull
			}
			removed = append(removed, Removed[T]{Item: q.removeAtLocked(oldest), Err: ErrEvicted})
			q.stats.Evicted++
		}
	}
	if len(q.items) >= q.capacity {
		victim := -1
		switch {
		case q.policy == DropOldest:
			victim = 0
		case q.typing > 0:
			victim = q.oldestTypingLocked()
		}
		if victim < 0 {
			q.stats.Rejected++
			return removed, ErrQueueFull
		}
		removed = append(removed, Removed[T]{Item: q.removeAtLocked(victim), Err: ErrEvicted})
		q.stats.Evicted++
	}
	q.seq++
	it.Seq = q.seq
	q.items = append(q.items, it)
	if typing {
		q.typing++
	}
	q.noteDeadlineLocked(it.Deadline)
	q.stats.Pushed++
	return removed, nil
}

// SetChatCap bounds the chat messages that one chat (Item.ChatID) may hold,
// so that one busy chat cannot take every slot while others wait: a chat at
// its cap is treated as a full queue (RejectNew refuses, DropOldest evicts
// the chat's own oldest frame). n <= 0 or n >= Capacity removes the bound.
// Frames already queued stay.
func (q *Queue[T]) SetChatCap(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.chatCap = max(n, 0)
}

// chatLocked returns the number of chat messages of chatID in the queue and
// the index of its oldest.
func (q *Queue[T]) chatLocked(chatID string) (n, oldest int) {
	oldest = -1
	for i, it := range q.items {
		if it.ChatID == chatID && !isTyping(it.Type) {
			if n == 0 {
				oldest = i
			}
			n++
		}
	}
	return n, oldest
}

// coalesceLocked removes every pending typing frame of chatID, appending
// them to removed with ErrReplaced. There is at most one, except after a
// PutBack returned an older one in front of a newer one.
func (q *Queue[T]) coalesceLocked(chatID string, removed []Removed[T]) []Removed[T] {
	if q.typing == 0 {
		return removed
	}
	kept := q.items[:0]
	for _, it := range q.items {
		if isTyping(it.Type) && it.ChatID == chatID {
			removed = append(removed, Removed[T]{Item: it, Err: ErrReplaced})
			q.stats.Replaced++
			q.typing--
			continue
		}
		kept = append(kept, it)
	}
	q.truncateLocked(kept)
	return removed
}

// oldestTypingLocked returns the index of the oldest typing frame, or -1.
func (q *Queue[T]) oldestTypingLocked() int {
	for i, it := range q.items {
		if isTyping(it.Type) {
			return i
		}
	}
	return -1
}

// removeAtLocked takes out the item at index i.
func (q *Queue[T]) removeAtLocked(i int) Item[T] {
	it := q.items[i]
	if isTyping(it.Type) {
		q.typing--
	}
	q.truncateLocked(slices.Delete(q.items, i, i+1))
	return it
}

// truncateLocked makes kept, a prefix-aliased filter of q.items, the new
// contents, and clears the tail so that dropped payloads can be collected.
func (q *Queue[T]) truncateLocked(kept []Item[T]) {
	clear(q.items[len(kept):])
	q.items = kept
}

// noteDeadlineLocked lowers the earliest-deadline bound to d.
func (q *Queue[T]) noteDeadlineLocked(d time.Time) {
	if d.IsZero() {
		return
	}
	if q.earliest.IsZero() || d.Before(q.earliest) {
		q.earliest = d
	}
}

// expired reports whether a frame with deadline d has expired at now. A zero
// deadline never expires; a deadline equal to now has expired, as a
// context's does.
func expired(d, now time.Time) bool {
	return !d.IsZero() && !now.Before(d)
}

// purgeLocked removes the expired items, appending them to removed with
// ErrExpired, and recomputes the earliest deadline.
func (q *Queue[T]) purgeLocked(now time.Time, removed []Removed[T]) []Removed[T] {
	if q.earliest.IsZero() || now.Before(q.earliest) {
		return removed
	}
	kept := q.items[:0]
	var earliest time.Time
	for _, it := range q.items {
		if expired(it.Deadline, now) {
			removed = append(removed, Removed[T]{Item: it, Err: ErrExpired})
			q.stats.Expired++
			if isTyping(it.Type) {
				q.typing--
			}
			continue
		}
		if !it.Deadline.IsZero() && (earliest.IsZero() || it.Deadline.Before(earliest)) {
			earliest = it.Deadline
		}
		kept = append(kept, it)
	}
	q.truncateLocked(kept)
	q.earliest = earliest
	return removed
}

// Drain takes every frame out of the queue: the live ones in FIFO order, to
// be written by the caller outside the lock, and the expired ones separately
// (with ErrExpired), for their senders to be told. Either may be nil. The
// queue is empty afterwards; after a failed write, return the unsent frames
// with PutBack.
func (q *Queue[T]) Drain() (live []Item[T], expired []Removed[T]) {
	q.mu.Lock()
	defer q.mu.Unlock()
	expired = q.purgeLocked(q.now(), nil)
	if len(q.items) > 0 {
		live = slices.Clone(q.items)
		q.truncateLocked(q.items[:0])
	}
	q.typing = 0
	q.earliest = time.Time{}
	return live, expired
}

// PutBack returns frames taken by Drain and not written (after a write
// failure) to the front of the queue, in the order given, ahead of anything
// pushed since. They keep their Seq and Deadline.
//
// PutBack never refuses or drops a frame: the queue may hold more than its
// capacity afterwards, because dropping them would lose messages the queue
// had already accepted. Push treats such a queue as full (one eviction or a
// refusal per push) until enough frames have left it. It does not coalesce
// either; a typing frame put back in front of a newer one of the same chat
// is replaced at the next typing Push for that chat.
func (q *Queue[T]) PutBack(items []Item[T]) {
	if len(items) == 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.items = slices.Insert(q.items, 0, items...)
	for _, it := range items {
		if isTyping(it.Type) {
			q.typing++
		}
		q.noteDeadlineLocked(it.Deadline)
	}
}

// Expire removes the frames whose deadline has passed and returns them with
// ErrExpired, oldest first (nil if none). The client calls it when the timer
// set from NextDeadline fires.
func (q *Queue[T]) Expire() []Removed[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.purgeLocked(q.now(), nil)
}

// Remove takes out the frames for which match returns true and returns them
// in FIFO order (nil if none); for example the frames of a sender whose
// context ended. match is called with the queue's lock held: it must be quick
// and must not call the queue's methods.
func (q *Queue[T]) Remove(match func(Item[T]) bool) []Item[T] {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Item[T]
	kept := q.items[:0]
	for _, it := range q.items {
		if match(it) {
			out = append(out, it)
			if isTyping(it.Type) {
				q.typing--
			}
			continue
		}
		kept = append(kept, it)
	}
	q.truncateLocked(kept)
	return out
}

// Len returns the number of frames in the queue, expired ones not yet
// purged included.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// Cap returns the capacity of the queue, in frames.
func (q *Queue[T]) Cap() int {
	return q.capacity
}

// NextDeadline returns the earliest deadline among the queued frames, for
// the caller's expiry timer, and false when no queued frame has a deadline.
func (q *Queue[T]) NextDeadline() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var earliest time.Time
	for _, it := range q.items {
		if !it.Deadline.IsZero() && (earliest.IsZero() || it.Deadline.Before(earliest)) {
			earliest = it.Deadline
		}
	}
	return earliest, !earliest.IsZero()
}

// Stats are the counters of a queue since New.
type Stats struct {
	// Pushed counts the frames Push accepted.
	Pushed uint64
	// Rejected counts the frames Push refused (ErrQueueFull,
	// ErrNotQueueable, or ErrExpired for a deadline already past).
	Rejected uint64
	// Evicted counts the frames removed to make room (ErrEvicted).
	Evicted uint64
	// Replaced counts the typing frames replaced by a newer one of the same
	// chat (ErrReplaced).
	Replaced uint64
	// Expired counts the queued frames removed because their deadline
	// passed (ErrExpired).
	Expired uint64
	// Len is the number of frames in the queue now.
	Len int
}

// Stats returns a snapshot of the queue's counters.
func (q *Queue[T]) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Len = len(q.items)
	return s
}
