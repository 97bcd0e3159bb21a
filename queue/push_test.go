package queue

import (
	"testing"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueue_Push(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		setup   []Item[string] // pushed first; each must be accepted without removals
		advance time.Duration  // clock advance between setup and push
		push    Item[string]
		wantErr error
		// wantRemoved lists the removals of the push as "label/reason".
		wantRemoved []string
		// wantQueue lists the queue afterwards, in FIFO order.
		wantQueue []string
	}{
		{
			name:      "chat message is queued at the end",
			setup:     []Item[string]{msg("a", "m1")},
			push:      msg("a", "m2"),
			wantQueue: []string{"m1", "m2"},
		},
		{
			name:      "typing frames are queueable",
			setup:     []Item[string]{typingStart("a", "t1")},
			push:      typingStop("b", "t2"),
			wantQueue: []string{"t1", "t2"},
		},
		{
			name:      "capacity is counted in messages not bytes",
			cfg:       Config{Capacity: 2},
			setup:     []Item[string]{sized(msg("a", "big1"), 1<<20), sized(msg("a", "big2"), 1<<20)},
			push:      sized(msg("a", "tiny"), 1),
			wantErr:   ErrQueueFull,
			wantQueue: []string{"big1", "big2"},
		},
		{
			name:      "join_chat is not queueable",
			setup:     []Item[string]{msg("a", "m1")},
			push:      ofType(protocol.TypeJoinChat, "j"),
			wantErr:   ErrNotQueueable,
			wantQueue: []string{"m1"},
		},
		{
			name:    "leave_chat is not queueable",
			push:    ofType(protocol.TypeLeaveChat, "l"),
			wantErr: ErrNotQueueable,
		},
		{
			name:    "ping is not queueable",
			push:    ofType(protocol.TypePing, "p"),
			wantErr: ErrNotQueueable,
		},
		{
			name:    "pong is not queueable",
			push:    ofType(protocol.TypePong, "p"),
			wantErr: ErrNotQueueable,
		},
		{
			name:    "an inbound type is not queueable",
			push:    ofType(protocol.TypeResponseChunk, "r"),
			wantErr: ErrNotQueueable,
		},
		{
			name:    "an empty type is not queueable",
			push:    ofType("", "e"),
			wantErr: ErrNotQueueable,
		},
		{
			name:        "typing frame replaces the pending typing frame of the same chat and goes to the end",
			setup:       []Item[string]{typingStart("a", "t1"), msg("a", "m1")},
			push:        typingStop("a", "t2"),
			wantRemoved: []string{"t1/replaced"},
			wantQueue:   []string{"m1", "t2"},
		},
		{
			name:        "typing_start replaces an older typing_start of the same chat",
			setup:       []Item[string]{typingStart("a", "t1")},
			push:        typingStart("a", "t2"),
			wantRemoved: []string{"t1/replaced"},
			wantQueue:   []string{"t2"},
		},
		{
			name:      "typing is coalesced per chat only",
			setup:     []Item[string]{typingStart("a", "t1"), typingStart("b", "t2")},
			push:      typingStop("c", "t3"),
			wantQueue: []string{"t1", "t2", "t3"},
		},
		{
			name:        "typing of one chat leaves other chats' typing in place",
			setup:       []Item[string]{typingStart("a", "t1"), typingStart("b", "t2")},
			push:        typingStop("b", "t3"),
			wantRemoved: []string{"t2/replaced"},
			wantQueue:   []string{"t1", "t3"},
		},
		{
			name:      "chat messages are never coalesced",
			setup:     []Item[string]{msg("a", "m1")},
			push:      msg("a", "m2"),
			wantQueue: []string{"m1", "m2"},
		},
		{
			name:        "typing replacement in a full queue needs no eviction",
			cfg:         Config{Capacity: 2},
			setup:       []Item[string]{msg("a", "m1"), typingStart("a", "t1")},
			push:        typingStop("a", "t2"),
			wantRemoved: []string{"t1/replaced"},
			wantQueue:   []string{"m1", "t2"},
		},
		{
			name:        "RejectNew evicts the oldest typing frame for a chat message",
			cfg:         Config{Capacity: 3},
			setup:       []Item[string]{msg("a", "m1"), typingStart("a", "t1"), typingStart("b", "t2")},
			push:        msg("a", "m2"),
			wantRemoved: []string{"t1/evicted"},
			wantQueue:   []string{"m1", "t2", "m2"},
		},
		{
			name:        "RejectNew evicts the oldest typing frame for a typing frame of another chat",
			cfg:         Config{Capacity: 2},
			setup:       []Item[string]{msg("a", "m1"), typingStart("a", "t1")},
			push:        typingStart("b", "t2"),
			wantRemoved: []string{"t1/evicted"},
			wantQueue:   []string{"m1", "t2"},
		},
		{
			name:      "RejectNew refuses a chat message when the queue is full of messages",
			cfg:       Config{Capacity: 2},
			setup:     []Item[string]{msg("a", "m1"), msg("b", "m2")},
			push:      msg("a", "m3"),
			wantErr:   ErrQueueFull,
			wantQueue: []string{"m1", "m2"},
		},
		{
			name:      "RejectNew refuses a typing frame when the queue is full of messages",
			cfg:       Config{Capacity: 2},
			setup:     []Item[string]{msg("a", "m1"), msg("b", "m2")},
			push:      typingStart("a", "t1"),
			wantErr:   ErrQueueFull,
			wantQueue: []string{"m1", "m2"},
		},
		{
			name:        "DropOldest evicts the oldest message and reports it",
			cfg:         Config{Capacity: 2, Policy: DropOldest},
			setup:       []Item[string]{msg("a", "m1"), msg("b", "m2")},
			push:        msg("a", "m3"),
			wantRemoved: []string{"m1/evicted"},
			wantQueue:   []string{"m2", "m3"},
		},
		{
			name:        "DropOldest evicts the oldest frame even when a typing frame is younger",
			cfg:         Config{Capacity: 2, Policy: DropOldest},
			setup:       []Item[string]{msg("a", "m1"), typingStart("a", "t1")},
			push:        msg("a", "m2"),
			wantRemoved: []string{"m1/evicted"},
			wantQueue:   []string{"t1", "m2"},
		},
		{
			name:        "DropOldest evicts a typing frame when it is the oldest",
			cfg:         Config{Capacity: 2, Policy: DropOldest},
			setup:       []Item[string]{typingStart("a", "t1"), msg("a", "m1")},
			push:        typingStart("b", "t2"),
			wantRemoved: []string{"t1/evicted"},
			wantQueue:   []string{"m1", "t2"},
		},
		{
			name:        "expired frames are purged before the capacity check so they never cause a rejection",
			cfg:         Config{Capacity: 2},
			setup:       []Item[string]{until(msg("a", "m1"), t0.Add(time.Second)), msg("a", "m2")},
			advance:     time.Second,
			push:        msg("a", "m3"),
			wantRemoved: []string{"m1/expired"},
			wantQueue:   []string{"m2", "m3"},
		},
		{
			name:        "expired frames are purged before DropOldest picks a victim",
			cfg:         Config{Capacity: 2, Policy: DropOldest},
			setup:       []Item[string]{msg("a", "m1"), until(msg("a", "m2"), t0.Add(time.Second))},
			advance:     time.Second,
			push:        msg("a", "m3"),
			wantRemoved: []string{"m2/expired"},
			wantQueue:   []string{"m1", "m3"},
		},
		{
			name:      "a frame one nanosecond before its deadline is still queued",
			cfg:       Config{Capacity: 2},
			setup:     []Item[string]{until(msg("a", "m1"), t0.Add(time.Second)), msg("a", "m2")},
			advance:   time.Second - time.Nanosecond,
			push:      msg("a", "m3"),
			wantErr:   ErrQueueFull,
			wantQueue: []string{"m1", "m2"},
		},
		{
			name:        "a frame whose deadline has passed is refused with ErrExpired after the purge",
			cfg:         Config{Capacity: 2},
			setup:       []Item[string]{until(msg("a", "m1"), t0.Add(time.Second)), msg("a", "m2")},
			advance:     time.Second,
			push:        until(msg("a", "m3"), t0),
			wantErr:     ErrExpired,
			wantRemoved: []string{"m1/expired"},
			wantQueue:   []string{"m2"},
		},
		{
			name:        "the default TTL expires a frame pushed without a deadline",
			setup:       []Item[string]{msg("a", "m1")},
			advance:     DefaultTTL,
			push:        msg("a", "m2"),
			wantRemoved: []string{"m1/expired"},
			wantQueue:   []string{"m2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, clk := newTestQueue(tt.cfg)
			mustPush(t, q, tt.setup...)
			clk.Advance(tt.advance)

			removed, err := q.Push(tt.push)

			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantRemoved, nilIfEmpty(removedLabels(removed)), "removed")
			assert.Equal(t, tt.wantQueue, nilIfEmpty(contents(t, q)), "queue")
		})
	}
}

func TestQueue_PushAssignsIncreasingSeq(t *testing.T) {
	q, _ := newTestQueue(Config{Capacity: 3, Policy: DropOldest})
	mustPush(t, q, msg("a", "m1"), typingStart("a", "t1"), msg("a", "m2"))
	_, err := q.Push(msg("a", "m3")) // evicts m1
	require.NoError(t, err)
	_, err = q.Push(typingStop("a", "t2")) // replaces t1
	require.NoError(t, err)

	live, _ := q.Drain()
	require.Equal(t, []string{"m2", "m3", "t2"}, labels(live))
	assert.Equal(t, []uint64{3, 4, 5}, []uint64{live[0].Seq, live[1].Seq, live[2].Seq})
}

func TestQueue_PushIgnoresCallerSeq(t *testing.T) {
	q, _ := newTestQueue(Config{})
	it := msg("a", "m1")
	it.Seq = 99
	mustPush(t, q, it)
	live, _ := q.Drain()
	require.Len(t, live, 1)
	assert.Equal(t, uint64(1), live[0].Seq)
}

func TestQueue_DeadlineFromItemOrTTL(t *testing.T) {
	tests := []struct {
		name string
		ttl  time.Duration
		item Item[string]
		want time.Time
	}{
		{"item deadline is kept", 0, until(msg("a", "m"), t0.Add(time.Minute)), t0.Add(time.Minute)},
		{"item deadline later than the TTL is kept", time.Second, until(msg("a", "m"), t0.Add(time.Hour)), t0.Add(time.Hour)},
		{"zero deadline is now plus TTL", 10 * time.Second, msg("a", "m"), t0.Add(10 * time.Second)},
		{"zero TTL means 5 minutes", 0, msg("a", "m"), t0.Add(5 * time.Minute)},
		{"typing frames get the TTL too", 0, typingStart("a", "t"), t0.Add(5 * time.Minute)},
		{"negative TTL means no deadline", -1, msg("a", "m"), time.Time{}},
		{"negative TTL keeps an item deadline", -1, until(msg("a", "m"), t0.Add(time.Minute)), t0.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := newTestQueue(Config{TTL: tt.ttl})
			mustPush(t, q, tt.item)
			live, _ := q.Drain()
			require.Len(t, live, 1)
			assert.True(t, tt.want.Equal(live[0].Deadline), "deadline %v, want %v", live[0].Deadline, tt.want)
		})
	}
}

func TestQueue_NegativeTTLNeverExpires(t *testing.T) {
	q, clk := newTestQueue(Config{TTL: -1})
	mustPush(t, q, msg("a", "m1"))
	clk.Advance(1000 * time.Hour)

	assert.Empty(t, q.Expire())
	_, ok := q.NextDeadline()
	assert.False(t, ok)
	assert.Equal(t, []string{"m1"}, contents(t, q))
}
