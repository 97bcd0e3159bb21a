package registry

import (
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

func TestLedger_UnnamedRepliesAMessageOnALostConnectionIsNotSentAgain(t *testing.T) {
	tests := []struct {
		name   string
		before []Input // what came on the lost connection
		after  []Input // what comes on the next one
		tick   time.Duration
		want   string
	}{
		{
			name:  "its reply comes over the next connection",
			after: []Input{{Kind: InChunk, MessageID: "r1", Text: "the "}, {Kind: InChunk, MessageID: "r1", Text: "answer"}, {Kind: InComplete, MessageID: "r1"}},
			want:  "m1=the answer",
		},
		{
			name: "no reply comes: it fails at its timeout, and waits for no late reply",
			tick: 10 * time.Second,
			want: "m1!",
		},
		{
			name:   "its reply started before the loss and goes on: its beginning may be lost",
			before: []Input{{Kind: InChunk, MessageID: "r1", Text: "the "}},
			after:  []Input{{Kind: InChunk, MessageID: "r1", Text: "answer"}, {Kind: InComplete, MessageID: "r1"}},
			want:   "m1!",
		},
		{
			name:   "its reply started before the loss; another reply is not its",
			before: []Input{{Kind: InChunk, MessageID: "r1", Text: "the "}},
			after:  []Input{{Kind: InChunk, MessageID: "r9", Text: "someone else's"}, {Kind: InComplete, MessageID: "r9"}},
			tick:   10 * time.Second,
			want:   "m1!",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := unnamedHarness(t)
			h.add(chatA, "m1", "first")
			h.written("m1")
			var ds []Decision
			for _, in := range tt.before {
				ds = append(ds, h.step(in)...)
			}
			h.lose()
			assert.Empty(t, h.l.Resends(chatA), "the platform may have it: never sent again")
			assert.False(t, h.l.Awaiting(chatA), "no history to look in")
			assert.False(t, h.l.Writable(chatA), "the chat's next message waits")
			for _, in := range tt.after {
				ds = append(ds, h.step(in)...)
			}
			if tt.tick > 0 {
				h.now = h.now.Add(tt.tick)
				ds = append(ds, h.l.Tick(h.now, nil)...)
			}
			assert.Equal(t, tt.want, replies(ds))
			for _, d := range ds {
				if d.Kind == DecideFail && tt.tick > 0 {
					assert.ErrorIs(t, d.Err, ErrLostWithConnection)
				}
			}
			assert.True(t, h.l.Writable(chatA), "an outcome frees the chat")
			_, held := h.l.Get("m1")
			assert.False(t, held, "forgotten: no late reply is waited for")
			h.add(chatA, "m2", "second")
			h.written("m2")
			assert.Equal(t, "m2=for m2", replies(h.step(Input{Kind: InComplete, MessageID: "r2", Text: "for m2", HasText: true})),
				"the next reply is the next message's")
			h.checkCounts()
		})
	}
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
