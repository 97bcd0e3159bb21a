package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tenant-app variant of the realtime form (SPEC §2.4): replies and
// errors name no message, and the platform answers a chat's messages one at
// a time. A reply is a message's only by its place.

func unnamedHarness(t *testing.T) *harness {
	h := newHarness(t, LedgerConfig{ResponseTimeout: 10 * time.Second, LateWindow: time.Minute})
	h.l.SetUnnamedReplies(true)
	return h
}

func TestLedger_UnnamedRepliesOneMessageOfAChatOnTheWire(t *testing.T) {
	h := unnamedHarness(t)
	h.add(chatA, "m1", "first")
	h.add(chatA, "m2", "second")
	h.add(chatB, "b1", "other chat")
	assert.True(t, h.l.Writable(chatA), "nothing on the wire")
	h.written("m1")
	assert.False(t, h.l.Writable(chatA), "m1 waits for its reply")
	assert.True(t, h.l.Writable(chatB), "other chats are not held")
	h.step(Input{Kind: InChunk, MessageID: "r1", Text: "answer "})
	assert.False(t, h.l.Writable(chatA), "m1's reply is streaming")
	assert.Equal(t, "m1=answer one", replies(h.step(Input{Kind: InComplete, MessageID: "r1", Text: "answer one", HasText: true})))
	assert.True(t, h.l.Writable(chatA), "m1 answered: m2 may go")
	h.written("m2")
	h.step(Input{Kind: InError, Err: errX, ByOrder: true})
	assert.True(t, h.l.Writable(chatA), "m2 failed: nothing on the wire")

	// Without the setting, every message may be written at once.
	l := NewLedger(LedgerConfig{})
	l.Add(chatA, "x1", "a", nil, t0)
	l.Written("x1", 1, t0, nil)
	assert.True(t, l.Writable(chatA))
}

func TestLedger_UnnamedRepliesAMessageOnALostConnectionFailsAndItsReplyIsDropped(t *testing.T) {
	tests := []struct {
		name   string
		before []Input // what came on the lost connection
		after  []Input // what comes on the next one
		tick   bool    // ResponseTimeout passes after them
		want   string  // kinds of the decisions about what came after
	}{
		{
			name:  "its reply comes over the next connection, perhaps without its beginning: dropped",
			after: []Input{{Kind: InChunk, MessageID: "r1", Text: "answer"}, {Kind: InComplete, MessageID: "r1"}},
			want:  "duplicate duplicate",
		},
		{
			name:  "an error comes for it: dropped",
			after: []Input{{Kind: InError, Err: errX, ByOrder: true}},
			want:  "duplicate",
		},
		{
			name: "nothing comes: it stops waiting at the timeout",
			tick: true,
			want: "",
		},
		{
			name:   "its reply started before the loss and goes on: dropped",
			before: []Input{{Kind: InChunk, MessageID: "r1", Text: "the "}},
			after:  []Input{{Kind: InChunk, MessageID: "r1", Text: "answer"}, {Kind: InComplete, MessageID: "r1"}},
			want:   "duplicate duplicate",
		},
		{
			name:   "its reply started before the loss; another reply is not its",
			before: []Input{{Kind: InChunk, MessageID: "r1", Text: "the "}},
			after:  []Input{{Kind: InChunk, MessageID: "r9", Text: "someone else's"}, {Kind: InComplete, MessageID: "r9"}},
			tick:   true,
			want:   "unmatched unmatched",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := unnamedHarness(t)
			h.add(chatA, "m1", "first")
			h.written("m1")
			for _, in := range tt.before {
				h.step(in)
			}
			h.lose()
			lost := h.l.FailLost(h.now, nil)
			require.Equal(t, "m1!", replies(lost), "it fails once the next connection is up")
			assert.ErrorIs(t, lost[len(lost)-1].Err, ErrLostWithConnection)
			assert.Empty(t, h.l.FailLost(h.now, nil), "once")
			assert.Empty(t, h.l.Resends(chatA), "the platform may have it: never sent again")
			assert.False(t, h.l.Awaiting(chatA), "no history to look in")
			assert.False(t, h.l.Writable(chatA), "the chat's next message waits for its reply")
			var ds []Decision
			for _, in := range tt.after {
				ds = append(ds, h.step(in)...)
			}
			if tt.tick {
				assert.False(t, h.l.Writable(chatA))
				h.now = h.now.Add(10 * time.Second)
				ds = append(ds, h.l.Tick(h.now, nil)...)
			}
			assert.Equal(t, tt.want, kinds(ds))
			assert.True(t, h.l.Writable(chatA), "its reply came, or its time is over: the chat goes on")
			_, held := h.l.Get("m1")
			assert.False(t, held, "forgotten")
			h.add(chatA, "m2", "second")
			h.written("m2")
			assert.Equal(t, "m2=for m2", replies(h.step(Input{Kind: InComplete, MessageID: "r2", Text: "for m2", HasText: true})),
				"the next reply is the next message's")
			h.checkCounts()
		})
	}
}

func TestLedger_UnnamedRepliesEachFrameOfTheDroppedReplyExtendsItsWait(t *testing.T) {
	h := unnamedHarness(t)
	h.add(chatA, "m1", "first")
	h.written("m1")
	h.lose()
	h.now = h.now.Add(4 * time.Second) // the reconnect took 4 s
	h.l.FailLost(h.now, nil)
	next, _ := h.l.NextDeadline()
	assert.Equal(t, t0.Add(10*time.Second), next, "its reply may come within ResponseTimeout of its writing")
	h.now = h.now.Add(5 * time.Second)
	assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InChunk, MessageID: "r1", Text: "slow"})))
	h.now = h.now.Add(9 * time.Second)
	assert.Empty(t, h.l.Tick(h.now, nil))
	assert.False(t, h.l.Writable(chatA), "its reply is still streaming")
	assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, MessageID: "r1"})))
	assert.True(t, h.l.Writable(chatA))
	assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, MessageID: "r1"})), "a copy is a duplicate")
}

func TestLedger_UnnamedRepliesATimeoutWithoutALossWaitsForTheLateReply(t *testing.T) {
	h := unnamedHarness(t)
	h.add(chatA, "m1", "slow")
	h.written("m1")
	h.now = h.now.Add(10 * time.Second)
	ds := h.l.Tick(h.now, nil)
	require.Equal(t, "m1!", replies(ds))
	assert.ErrorIs(t, ds[len(ds)-1].Err, ErrTimeout)
	assert.True(t, h.l.Writable(chatA))
	h.add(chatA, "m2", "next")
	h.written("m2")
	// The platform answers in order: the first reply is m1's, late.
	ds = h.step(Input{Kind: InComplete, MessageID: "r1", Text: "late", HasText: true})
	require.NotEmpty(t, ds)
	last := ds[len(ds)-1]
	assert.Equal(t, DecideComplete, last.Kind)
	assert.True(t, last.Late)
	assert.Equal(t, "m1", last.ClientID)
	assert.Equal(t, "m2=for m2", replies(h.step(Input{Kind: InComplete, MessageID: "r2", Text: "for m2", HasText: true})))
}

func TestLedger_UnnamedRepliesAMessageOnTheWireFailedByItsChatOrClientStillTakesItsReply(t *testing.T) {
	for _, lost := range []bool{false, true} {
		t.Run(fmt.Sprint("connection lost first: ", lost), func(t *testing.T) {
			h := unnamedHarness(t)
			h.add(chatA, "m1", "first")
			h.written("m1")
			h.add(chatA, "m2", "queued, never written")
			if lost {
				h.lose()
			}
			ds := h.l.FailAll(errX, h.now, nil)
			require.Equal(t, "m1! m2!", replies(ds))
			assert.ErrorIs(t, ds[1].Err, errX, "the chat's or client's own failure")
			assert.Empty(t, h.l.FailLost(h.now, nil))
			assert.False(t, h.l.Writable(chatA), "m1's reply may still come: the chat left and joined again, or the client reconnected")
			assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, MessageID: "r1", Text: "for m1", HasText: true})))
			assert.True(t, h.l.Writable(chatA))
			assert.Zero(t, h.l.Len())
		})
	}
}

func TestLedger_UnnamedRepliesAFrameBeforeFailLostFailsTheMessageFirst(t *testing.T) {
	h := unnamedHarness(t)
	h.add(chatA, "m1", "first")
	h.written("m1")
	h.lose()
	h.conn++
	assert.Equal(t, "status:sent>failed fail duplicate", kinds(h.step(Input{Kind: InChunk, MessageID: "r1", Text: "x"})))
	assert.Empty(t, h.l.FailLost(h.now, nil))
	assert.False(t, h.l.Writable(chatA))
}

func TestLedger_AReplyMatchedByItsPlaceMakesRepliesUnnamed(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	assert.False(t, h.l.UnnamedReplies())
	h.add(chatA, "m0", "named")
	h.written("m0")
	h.step(Input{Kind: InComplete, ClientID: "m0", Text: "a", HasText: true})
	assert.False(t, h.l.UnnamedReplies(), "a reply that names its message")
	h.add(chatA, "m1", "anonymous")
	h.written("m1")
	assert.Equal(t, "m1=b", replies(h.step(Input{Kind: InComplete, Text: "b", HasText: true})))
	assert.True(t, h.l.UnnamedReplies(), "a reply matched by its place")
	h.l.SetUnnamedReplies(false)
	assert.True(t, h.l.UnnamedReplies(), "what was seen stays")
}

func TestLedger_UnnamedRepliesAMessageFailedWithItsConnectionStillTakesItsReplyWhenRetriedOrLeft(t *testing.T) {
	t.Run("retried", func(t *testing.T) {
		h := unnamedHarness(t)
		h.add(chatA, "m1", "first")
		h.written("m1")
		h.lose()
		h.l.FailLost(h.now, nil)
		_, ok := h.l.Retry(chatA, "m1", "m1-2", "first", "m1", 1, h.now, nil)
		require.True(t, ok)
		assert.False(t, h.l.Writable(chatA), "the first attempt's reply may still come")
		assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, MessageID: "r1", Text: "maybe cut", HasText: true})))
		assert.True(t, h.l.Writable(chatA))
		h.written("m1-2")
		assert.Equal(t, "m1=whole", replies(h.step(Input{Kind: InComplete, MessageID: "r2", Text: "whole", HasText: true})),
			"the new attempt gets its own reply")
		h.checkCounts()
	})
	t.Run("its chat left", func(t *testing.T) {
		h := unnamedHarness(t)
		h.add(chatA, "m1", "first")
		h.written("m1")
		h.lose()
		h.l.FailLost(h.now, nil)
		assert.Empty(t, replies(h.l.FailChat(chatA, errX, h.now, nil)), "it has its outcome already")
		assert.False(t, h.l.Writable(chatA), "its reply may still come after the chat is joined again")
		assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, MessageID: "r1", Text: "x", HasText: true})))
		assert.True(t, h.l.Writable(chatA))
	})
}
