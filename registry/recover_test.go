package registry

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// awaitAll sends the messages (id, text, platform id; "" for an
// acknowledgement without one), has the platform acknowledge each, then
// loses the connection: every one awaits recovery.
func awaitAll(h *harness, msgs ...[3]string) {
	for _, m := range msgs {
		h.add(chatA, m[0], m[1])
		h.written(m[0])
		h.step(Input{Kind: InAck, ClientID: m[0], MessageID: m[2]})
	}
	h.lose()
}

// replies returns "id=text" for each outcome among ds, in order.
func replies(ds []Decision) string {
	var out []string
	for _, d := range ds {
		switch d.Kind {
		case DecideComplete:
			out = append(out, d.ClientID+"="+d.Text)
		case DecideFail:
			out = append(out, d.ClientID+"!")
		}
	}
	return strings.Join(out, " ")
}

func user(id, text string) HistoryItem { return HistoryItem{ID: id, Text: text} }
func reply(id, text, to string) HistoryItem {
	return HistoryItem{ID: id, Assistant: true, Text: text, ReplyTo: to}
}

func TestLedger_RecoverPairsByTheHistorysOwnOrder(t *testing.T) {
	tests := []struct {
		name   string
		failed [][3]string // failed by the platform before the others were sent
		msgs   [][3]string
		hist   []HistoryItem
		want   string
	}{
		{
			name:   "a failed question has no answer and shifts nothing",
			failed: [][3]string{{"m0", "please fail", "s0"}},
			msgs:   [][3]string{{"m1", "first", "s1"}, {"m2", "second", "s2"}},
			hist: []HistoryItem{user("s0", "please fail"), user("s1", "first"), reply("a1", "answer to first", ""),
				user("s2", "second"), reply("a2", "answer to second", "")},
			want: "m1=answer to first m2=answer to second",
		},
		{
			name:   "the same, matched by text when the acknowledgements had no ids",
			failed: [][3]string{{"m0", "please fail", "h0"}},
			msgs:   [][3]string{{"m1", "first", ""}, {"m2", "second", ""}},
			hist: []HistoryItem{user("h0", "please fail"), user("h1", "first"), reply("a1", "answer to first", ""),
				user("h2", "second"), reply("a2", "answer to second", "")},
			want: "m1=answer to first m2=answer to second",
		},
		{
			name: "a question before ours whose fate is unknown may be the one answered: no guess",
			msgs: [][3]string{{"m1", "first", "s1"}},
			hist: []HistoryItem{user("x0", "someone's question"), user("s1", "first"), reply("a1", "an answer", "")},
			want: "",
		},
		{
			name: "a question we saw answered live before ours: the reply may be its, no guess",
			msgs: [][3]string{{"m1", "second", "s1"}},
			hist: []HistoryItem{user("s0", "first"), user("s1", "second"), reply("a0", "answer to first", "")},
			want: "",
		},
		{
			name: "replies that name their question are paired by it, whatever the order",
			msgs: [][3]string{{"m1", "first", "s1"}, {"m2", "second", "s2"}},
			hist: []HistoryItem{user("s1", "first"), user("s2", "second"), reply("a1", "answer to first", "s1"),
				reply("a2", "answer to second", "s2")},
			want: "m1=answer to first m2=answer to second",
		},
		{
			name: "interleaved questions without links are ambiguous: no guess",
			msgs: [][3]string{{"m1", "first", "s1"}, {"m2", "second", "s2"}},
			hist: []HistoryItem{user("s1", "first"), user("s2", "second"), reply("a1", "answer to first", ""),
				reply("a2", "answer to second", "")},
			want: "",
		},
		{
			name: "a question followed by another has no answer; the later one waits for it",
			msgs: [][3]string{{"m1", "first", "s1"}, {"m2", "second", "s2"}},
			hist: []HistoryItem{user("s1", "first"), reply("a1", "answer to first", "s1"), user("s2", "second")},
			want: "m1=answer to first",
		},
		{
			name: "a later reply found first is held until the earlier one is found",
			msgs: [][3]string{{"m1", "first", "s1"}, {"m2", "second", "s2"}},
			hist: []HistoryItem{user("s1", "first"), user("s2", "second"), reply("a2", "answer to second", "s2")},
			want: "",
		},
		{
			name: "the same text twice with no id is ambiguous",
			msgs: [][3]string{{"m1", "ok", ""}},
			hist: []HistoryItem{user("h1", "ok"), reply("a1", "one", ""), user("h2", "ok"), reply("a2", "two", "")},
			want: "",
		},
		{
			name: "the same text, once after the last message found",
			msgs: [][3]string{{"m0", "start", "s0"}, {"m1", "ok", ""}},
			hist: []HistoryItem{user("h1", "ok"), reply("a1", "old", ""), user("s0", "start"), reply("a0", "begun", ""),
				user("h2", "ok"), reply("a2", "new", "")},
			want: "m0=begun m1=new",
		},
		{
			name: "a history id that is not ours falls back to the text",
			msgs: [][3]string{{"m1", "first", "ack-7"}},
			hist: []HistoryItem{user("db-7", "first"), reply("a1", "answer to first", "")},
			want: "m1=answer to first",
		},
		{
			name: "nothing of ours in the history",
			msgs: [][3]string{{"m1", "first", "s1"}},
			hist: []HistoryItem{user("x", "other"), reply("a", "other answer", "")},
			want: "",
		},
		{
			name: "an empty history",
			msgs: [][3]string{{"m1", "first", "s1"}},
			want: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, LedgerConfig{})
			for _, m := range tt.failed {
				h.add(chatA, m[0], m[1])
				h.written(m[0])
				h.step(Input{Kind: InAck, ClientID: m[0], MessageID: m[2]})
				h.step(Input{Kind: InError, ClientID: m[0], Err: errX})
			}
			awaitAll(h, tt.msgs...)
			got := h.l.Recover(chatA, tt.hist, h.now, nil)
			assert.Equal(t, tt.want, replies(got))
			h.checkCounts()
		})
	}
}

func TestLedger_RecoveredRepliesAreMarkedAndReplaceWhatWasShown(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	h.add(chatA, "m1", "first")
	h.written("m1")
	h.step(Input{Kind: InAck, ClientID: "m1", MessageID: "s1"})
	h.step(Input{Kind: InChunk, ClientID: "m1", Text: "answer"})
	h.lose()
	got := h.l.Recover(chatA, []HistoryItem{user("s1", "first"), reply("a1", "answer to first", "")}, h.now, nil)
	require.Equal(t, "chunk! status:delivered>answered complete(recovered)", kinds(got))
	assert.Equal(t, Piece{Text: "answer to first", Replace: true}, got[0].Piece)
	assert.Equal(t, "a1", got[2].MessageID)
	assert.Equal(t, 1, got[2].Chunks)
	assert.Zero(t, h.l.Len())
}

func TestLedger_RepliesOfAChatAreDeliveredInSendOrder(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	awaitAll(h, [3]string{"m1", "first", "s1"})
	// m2 and m3 are sent on the new connection; their live replies come
	// before m1's is found.
	for _, id := range []string{"m2", "m3"} {
		h.add(chatA, id, id)
		h.written(id)
		h.step(Input{Kind: InAck, ClientID: id})
	}
	assert.Equal(t, "held", kinds(h.step(Input{Kind: InComplete, ClientID: "m3", Text: "three", HasText: true})))
	assert.Equal(t, "held", kinds(h.step(Input{Kind: InComplete, ClientID: "m2", Text: "two", HasText: true})))
	// A recovered reply waits too: m1's is found, then m2 and m3 follow.
	got := h.l.Recover(chatA, []HistoryItem{user("s1", "first"), reply("a1", "one", "")}, h.now, nil)
	assert.Equal(t, "m1=one m2=two m3=three", replies(got))

	t.Run("a recovered reply waits behind an earlier awaited message", func(t *testing.T) {
		h := newHarness(t, LedgerConfig{})
		awaitAll(h, [3]string{"m1", "first", "s1"}, [3]string{"m2", "second", "s2"})
		got := h.l.Recover(chatA, []HistoryItem{user("s1", "first"), user("s2", "second"), reply("a2", "two", "s2")}, h.now, nil)
		assert.Equal(t, "held", kinds(got))
		got = h.l.GiveUp(chatA, errX, h.now, nil)
		assert.Equal(t, "m1! m2=two", replies(got), "the message given up fails before the later reply is released")
		assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, ClientID: "m1", Text: "late"})),
			"a message given up is never answered again")
	})
	t.Run("a reply that overtakes an earlier live one waits for it", func(t *testing.T) {
		h := newHarness(t, LedgerConfig{MaxRetries: 1})
		for _, id := range []string{"m1", "m2", "m3"} {
			h.add(chatA, id, id)
			h.written(id)
			h.step(Input{Kind: InAck, ClientID: id})
		}
		assert.Equal(t, "held", kinds(h.step(Input{Kind: InComplete, ClientID: "m2", Text: "two", HasText: true})))
		assert.Equal(t, "m1=one m2=two", replies(h.step(Input{Kind: InComplete, ClientID: "m1", Text: "one", HasText: true})))
		// A message waiting to be retried holds nothing: its retry is sent
		// after the others.
		h.step(Input{Kind: InError, ClientID: "m3", Err: errX, Retryable: true})
		h.add(chatA, "m4", "four")
		h.written("m4")
		assert.Equal(t, "m4=four", replies(h.step(Input{Kind: InComplete, ClientID: "m4", Text: "four", HasText: true})))
		h.checkCounts()
	})
	t.Run("other chats are not held", func(t *testing.T) {
		h := newHarness(t, LedgerConfig{})
		awaitAll(h, [3]string{"m1", "first", "s1"})
		h.add(chatB, "b1", "other")
		h.written("b1")
		got := h.step(Input{Kind: InComplete, Chat: chatB, ClientID: "b1", Text: "b", HasText: true})
		assert.Equal(t, "b1=b", replies(got))
	})
	t.Run("a timed-out earlier message releases the later replies", func(t *testing.T) {
		h := newHarness(t, LedgerConfig{})
		awaitAll(h, [3]string{"m1", "first", "s1"})
		h.add(chatA, "m2", "second")
		h.written("m2")
		h.step(Input{Kind: InComplete, ClientID: "m2", Text: "two", HasText: true})
		h.now = h.now.Add(DefaultResponseTimeout)
		assert.Equal(t, "m1! m2=two", replies(h.l.Tick(h.now, nil)))
	})
}

func TestLedger_StreamPiecesAddUpToTheReply(t *testing.T) {
	// Random replies, cut by lost connections at random points, re-sent or
	// recovered: whatever happens, the pieces delivered for a message,
	// starting again at each Replace, add up to its reply.
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 300 {
		t.Run(fmt.Sprint(run), func(t *testing.T) {
			h := newHarness(t, LedgerConfig{})
			full := []string{"The ", "quick ", "brown ", "fox ", "jumps."}
			h.add(chatA, "m", "q")
			h.written("m")
			var decisions []Decision
			if rng.IntN(2) == 0 {
				decisions = append(decisions, h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s"})...)
			}
			cut := rng.IntN(len(full) + 1)
			for _, c := range full[:cut] {
				decisions = append(decisions, h.step(Input{Kind: InChunk, ClientID: "m", Text: c})...)
			}
			lost := rng.IntN(2) == 0
			if lost {
				h.lose()
			}
			way := rng.IntN(3)
			if way == 0 && !lost {
				way = 1 // the platform answers again only on a new connection
			}
			switch way {
			case 0: // the platform answers again, from the start
				for _, c := range full {
					decisions = append(decisions, h.step(Input{Kind: InChunk, ClientID: "m", Text: c})...)
				}
				decisions = append(decisions, h.step(Input{Kind: InComplete, ClientID: "m"})...)
			case 1: // the rest comes, and a complete frame with the text
				for _, c := range full[cut:] {
					decisions = append(decisions, h.step(Input{Kind: InChunk, ClientID: "m", Text: c, Conn: h.conn})...)
				}
				decisions = append(decisions, h.step(Input{Kind: InComplete, ClientID: "m", Text: strings.Join(full, ""), HasText: true})...)
			case 2: // recovered from the history
				decisions = append(decisions, h.l.Recover(chatA, []HistoryItem{user("s", "q"), reply("a", strings.Join(full, ""), "")}, h.now, nil)...)
			}
			var shown strings.Builder
			var final *Decision
			for i, d := range decisions {
				switch d.Kind {
				case DecideChunk:
					if d.Piece.Replace {
						shown.Reset()
					}
					require.Equal(t, shown.Len(), d.Piece.Offset, "offset of piece %d", i)
					shown.WriteString(d.Piece.Text)
				case DecideComplete:
					final = &decisions[i]
				}
			}
			if final == nil {
				return // not recoverable in this run (the message was not acknowledged)
			}
			assert.Equal(t, final.Text, shown.String())
			assert.Equal(t, strings.Join(full, ""), final.Text)
		})
	}
}

func TestLedger_MatchingFramesThatNameNothing(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	for _, id := range []string{"m1", "m2"} {
		h.add(chatA, id, id)
		h.written(id)
	}
	got := h.step(Input{Kind: InAck, MessageID: "s1"})
	assert.Equal(t, "m1", got[0].ClientID, "an acknowledgement without a client id goes to the oldest unacknowledged")
	got = h.step(Input{Kind: InAck})
	assert.Equal(t, "m2", got[0].ClientID)
	assert.Equal(t, "unmatched", kinds(h.step(Input{Kind: InAck})), "no message left to acknowledge")

	got = h.step(Input{Kind: InChunk, Text: "a"})
	assert.Equal(t, "m1", got[0].ClientID, "an id-less chunk goes to the oldest waiting")
	got = h.step(Input{Kind: InChunk, Text: "b"})
	assert.Equal(t, "m1", got[0].ClientID, "and the next to the reply streaming now")
	got = h.step(Input{Kind: InComplete, MessageID: "s1"})
	assert.Equal(t, "m1=ab", replies(got), "the user message's platform id names it")
	got = h.step(Input{Kind: InComplete, MessageID: "r-2", Text: "two", HasText: true})
	assert.Equal(t, "m2=two", replies(got))

	assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InChunk, MessageID: "r-2"})), "a forgotten reply id")
	assert.Equal(t, "unmatched", kinds(h.step(Input{Kind: InChunk, ClientID: "someone-else"})), "another sender's message")
	assert.Equal(t, "unmatched", kinds(h.step(Input{Kind: InError, Err: errX})), "an error that names nothing fails nothing")

	// A platform whose error frames never name a message: the error is
	// about the oldest one waiting, and never about one with an outcome.
	for _, id := range []string{"m3", "m4"} {
		h.add(chatA, id, id)
		h.written(id)
	}
	h.now = h.now.Add(DefaultResponseTimeout)
	h.l.Tick(h.now, nil) // m3 and m4 time out: done, waiting for late replies
	assert.Equal(t, "unmatched", kinds(h.step(Input{Kind: InError, Err: errX, ByOrder: true})))
	h.add(chatA, "m5", "m5")
	h.written("m5")
	assert.Equal(t, "m5!", replies(h.step(Input{Kind: InError, Err: errX, ByOrder: true})))
	assert.Equal(t, "unmatched", kinds(h.step(Input{Kind: InChunk, Chat: chatB})), "a chat with nothing sent")
}

func TestLedger_EventsNamingAnotherChatsMessageAreUnmatched(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	h.add(chatA, "a1", "x")
	h.written("a1")
	h.step(Input{Kind: InAck, ClientID: "a1", MessageID: "s-a1"})
	for _, in := range []Input{
		{Kind: InAck, Chat: chatB, ClientID: "a1"},
		{Kind: InChunk, Chat: chatB, ClientID: "a1"},
		{Kind: InChunk, Chat: chatB, MessageID: "s-a1"},
		{Kind: InComplete, Chat: chatB, MessageID: "s-a1"},
	} {
		assert.Equal(t, "unmatched", kinds(h.step(in)), "%+v", in)
	}
	assert.Equal(t, "delivered", h.state("a1"))
	k, ok := h.l.Owner("s-a1")
	assert.True(t, ok)
	assert.Equal(t, chatA, k)
}

func TestLedger_ReplyLargerThanTheLimitFails(t *testing.T) {
	h := newHarness(t, LedgerConfig{MaxReplyBytes: 4})
	h.add(chatA, "m", "x")
	h.written("m")
	h.step(Input{Kind: InChunk, ClientID: "m", Text: "abc"})
	got := h.step(Input{Kind: InChunk, ClientID: "m", Text: "de"})
	require.Equal(t, "status:delivered>failed fail", kinds(got))
	assert.ErrorIs(t, got[1].Err, ErrReplyTooLarge)

	h.add(chatA, "n", "y")
	h.written("n")
	got = h.step(Input{Kind: InComplete, ClientID: "n", Text: "too long", HasText: true})
	assert.Equal(t, "status:sent>delivered status:delivered>failed fail", kinds(got))
}

func TestLedger_RetryIsANewAttemptWhoseRepliesAreItsOwn(t *testing.T) {
	h := newHarness(t, LedgerConfig{MaxRetries: 1})
	h.add(chatA, "m", "hello")
	h.written("m")
	h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-1"})
	got := h.step(Input{Kind: InError, ClientID: "m", Err: errX, Retryable: true, RetryAfter: 2 * time.Second})
	require.Equal(t, "status:delivered>failed retry", kinds(got))
	assert.Equal(t, 2*time.Second, got[1].After)
	assert.True(t, h.l.Settled("m"), "the failed attempt's frame is not written any more")

	got, ok := h.l.Retry(chatA, "m", "m#2", "hello", "m", 0, h.now, nil)
	require.True(t, ok)
	assert.Equal(t, "status:failed>sending", kinds(got))
	info, ok := h.l.Get("m")
	require.True(t, ok)
	assert.Equal(t, 2, info.Attempt)
	assert.Equal(t, "m#2", info.Wire)
	h.written("m#2")

	assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, ClientID: "m", Text: "late to 1", HasText: true})),
		"a reply to the failed attempt is never the retry's")
	assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, MessageID: "s-1", Text: "late to 1", HasText: true})))
	got = h.step(Input{Kind: InError, ClientID: "m#2", Err: errX, Retryable: true})
	assert.Equal(t, "status:sent>failed fail", kinds(got), "retries spent: the failure is the outcome")

	_, ok = h.l.Retry(chatA, "m", "m#2", "hello", "m", 2, h.now, nil)
	assert.False(t, ok, "an attempt id is never used twice")
	_, ok = h.l.Retry(chatA, "m", "", "hello", "m", 2, h.now, nil)
	assert.False(t, ok)
}

func TestLedger_FailChatAndFailAllGiveEveryMessageItsOutcome(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	h.add(chatA, "a1", "x")
	h.add(chatA, "a2", "y")
	h.written("a2")
	h.add(chatB, "b1", "z")
	got := h.l.FailChat(chatA, errX, h.now, nil)
	assert.Equal(t, "a1! a2!", replies(got))
	assert.Equal(t, 1, h.l.Len())
	got = h.l.FailAll(errX, h.now, nil)
	assert.Equal(t, "b1!", replies(got))
	assert.Zero(t, h.l.Len())
	assert.Empty(t, h.l.FailChat(chatA, errX, h.now, nil))

	h.add(chatA, "t", "timed out")
	h.written("t")
	h.now = h.now.Add(DefaultResponseTimeout)
	h.l.Tick(h.now, nil)
	assert.Equal(t, "", replies(h.l.FailChat(chatA, errX, h.now, nil)), "a timed-out message already has its outcome")
	assert.Zero(t, h.l.Len(), "and stops waiting for its late reply")
}

func TestLedger_ResendsAreHandedOutOnceUntilWritten(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	h.add(chatA, "m1", "x")
	h.written("m1")
	h.add(chatA, "m2", "y")
	h.written("m2")
	h.step(Input{Kind: InAck, ClientID: "m2"})
	h.add(chatA, "m3", "z") // never written
	h.lose()
	got := h.l.Resends(chatA)
	require.Len(t, got, 1)
	assert.Equal(t, "m1", got[0].ClientID)
	assert.Empty(t, h.l.Resends(chatA), "handed out once")
	h.l.Unhand("m1")
	assert.Len(t, h.l.Resends(chatA), 1, "again after Unhand")
	h.written("m1")
	h.lose()
	assert.Len(t, h.l.Resends(chatA), 1, "written and lost again: sent again")
	assert.Empty(t, h.l.Resends(chatB))
	assert.True(t, h.l.Awaiting(chatA))
	assert.False(t, h.l.Awaiting(chatB))
	pending := h.l.Pending(chatA)
	require.Len(t, pending, 3)
	assert.Equal(t, []string{"m1", "m2", "m3"}, []string{pending[0].ClientID, pending[1].ClientID, pending[2].ClientID})
}

func TestLedger_TickTimesOutForgetsAndReportsOrphans(t *testing.T) {
	h := newHarness(t, LedgerConfig{ResponseTimeout: 10 * time.Second, LateWindow: time.Minute, OrphanAge: 30 * time.Second})
	_, due := h.l.NextDeadline()
	assert.False(t, due, "nothing held: no timer")
	h.add(chatA, "q", "queued") // never written: no reply timeout, but an orphan
	h.add(chatA, "w", "written")
	h.written("w")
	next, due := h.l.NextDeadline()
	require.True(t, due)
	assert.Equal(t, t0.Add(10*time.Second), next)

	h.now = t0.Add(10 * time.Second)
	assert.Equal(t, "status:sent>failed fail", kinds(h.l.Tick(h.now, nil)))
	assert.Empty(t, h.l.Tick(h.now, nil), "a timed-out message fails once")
	next, _ = h.l.NextDeadline()
	assert.Equal(t, t0.Add(30*time.Second), next, "the orphan report is next")

	h.now = t0.Add(30 * time.Second)
	assert.Equal(t, "orphan", kinds(h.l.Tick(h.now, nil)))
	assert.Empty(t, h.l.Tick(h.now, nil), "an orphan is reported once")
	next, _ = h.l.NextDeadline()
	assert.Equal(t, t0.Add(70*time.Second), next, "the end of the late-reply window")

	h.now = t0.Add(70 * time.Second)
	assert.Empty(t, h.l.Tick(h.now, nil))
	_, ok := h.l.Get("w")
	assert.False(t, ok, "forgotten after the late-reply window")
	assert.True(t, h.l.Known("w"), "and known for a duplicate")
	assert.Equal(t, "duplicate", kinds(h.step(Input{Kind: InComplete, ClientID: "w"})))
}

func TestLedger_AddRefusesTakenIDs(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	h.add(chatA, "m", "x")
	assert.False(t, h.l.Add(chatA, "m", "x", nil, h.now))
	assert.False(t, h.l.Add(chatA, "", "x", nil, h.now))
	h.l.Fail("m", errX, h.now, nil)
	assert.False(t, h.l.Add(chatA, "m", "x", nil, h.now), "a forgotten id is not reused")
	assert.Empty(t, h.l.Fail("nobody", errX, h.now, nil))
	assert.Empty(t, h.written("nobody"))
	assert.Empty(t, h.l.Recover(chatB, nil, h.now, nil))
	assert.Empty(t, h.l.GiveUp(chatB, errX, h.now, nil))
	assert.Nil(t, h.l.Pending(chatB))
	_, ok := h.l.Owner("")
	assert.False(t, ok)
	assert.False(t, h.l.Known(""))
}

func TestLedger_FinishedIDsAreBounded(t *testing.T) {
	h := newHarness(t, LedgerConfig{Finished: 4})
	for i := range 10 {
		id := fmt.Sprint("m", i)
		h.add(chatA, id, "x")
		h.l.Fail(id, errX, h.now, nil)
	}
	assert.Len(t, h.l.finished.ids, 4)
	assert.Len(t, h.l.finished.q, 4)
	assert.True(t, h.l.Known("m9"))
	assert.False(t, h.l.Known("m0"), "the oldest are dropped")
}

func TestDecisionKind_String(t *testing.T) {
	assert.Equal(t, "complete", DecideComplete.String())
	assert.Equal(t, "unknown", DecisionKind(0).String())
	assert.Equal(t, "unknown", DecisionKind(200).String())
}

func TestLedger_AReplyGoingOnOverANewConnection(t *testing.T) {
	// Two chunks on connection 1, which is lost; the rest comes on
	// connection 2 (the platform goes on answering the chat).
	start := func(t *testing.T) *harness {
		h := newHarness(t, LedgerConfig{})
		h.add(chatA, "m", "q")
		h.written("m")
		h.step(Input{Kind: InChunk, ClientID: "m", Text: "one ", Seq: 0, HasSeq: true})
		h.step(Input{Kind: InChunk, ClientID: "m", Text: "two ", Seq: 1, HasSeq: true})
		h.lose()
		return h
	}
	t.Run("chunk indexes that follow: the text goes on", func(t *testing.T) {
		h := start(t)
		got := h.step(Input{Kind: InChunk, ClientID: "m", Text: "three", Seq: 2, HasSeq: true})
		assert.Equal(t, Piece{Index: 2, Offset: 8, Text: "three"}, got[0].Piece)
		assert.Equal(t, "m=one two three", replies(h.step(Input{Kind: InComplete, ClientID: "m"})))
	})
	t.Run("index 0: the reply starts again", func(t *testing.T) {
		h := start(t)
		got := h.step(Input{Kind: InChunk, ClientID: "m", Text: "ONE ", Seq: 0, HasSeq: true})
		assert.Equal(t, Piece{Text: "ONE ", Replace: true}, got[0].Piece)
		h.step(Input{Kind: InChunk, ClientID: "m", Text: "TWO", Seq: 1, HasSeq: true})
		assert.Equal(t, "m=ONE TWO", replies(h.step(Input{Kind: InComplete, ClientID: "m"})))
	})
	t.Run("response_start: the reply starts again", func(t *testing.T) {
		h := start(t)
		h.step(Input{Kind: InStart, ClientID: "m"})
		got := h.step(Input{Kind: InChunk, ClientID: "m", Text: "ONE"})
		assert.True(t, got[0].Piece.Replace)
		assert.Equal(t, "m=ONE", replies(h.step(Input{Kind: InComplete, ClientID: "m"})))
	})
	for _, tt := range []struct {
		name string
		in   Input
	}{
		{"no index", Input{Kind: InChunk, ClientID: "m", Text: "three"}},
		{"an index that leaves a gap", Input{Kind: InChunk, ClientID: "m", Text: "four", Seq: 3, HasSeq: true}},
	} {
		t.Run(tt.name+": only a complete text is trusted", func(t *testing.T) {
			h := start(t)
			got := h.step(tt.in)
			assert.True(t, got[0].Piece.Replace, "what is shown starts again from the chunk")
			got = h.step(Input{Kind: InComplete, ClientID: "m"})
			require.Equal(t, "status:delivered>failed fail", kinds(got), "a text without its beginning is not a reply")
			assert.ErrorIs(t, got[1].Err, ErrTextLost)

			h = start(t)
			h.step(tt.in)
			got = h.step(Input{Kind: InComplete, ClientID: "m", Text: "one two three", HasText: true})
			assert.Equal(t, "m=one two three", replies(got))
			assert.True(t, got[0].Piece.Replace)
		})
	}
}

func TestLedger_AReplyWhoseFirstChunksNeverCame(t *testing.T) {
	// The platform numbers its chunks, and the first one seen is not the
	// first: the ones before were sent while no connection was up (a
	// re-sent message's earlier reply, going on over the new connection),
	// or never sent.
	for _, tt := range []struct {
		name  string
		base  int // the index the platform's replies start at, learned first (-1: not learned)
		other bool
		chunk []Input
	}{
		{"index 1 first, on another connection than the message's, numbering not known", -1, true,
			[]Input{{Kind: InChunk, ClientID: "m", Text: "two ", Seq: 1, HasSeq: true}}},
		{"index 1 first, numbering known to start at 0", 0, false,
			[]Input{{Kind: InChunk, ClientID: "m", Text: "two ", Seq: 1, HasSeq: true}}},
		{"index 2 first, numbering known to start at 1", 1, false,
			[]Input{{Kind: InChunk, ClientID: "m", Text: "two ", Seq: 2, HasSeq: true}}},
		{"index 2 first, numbering not known", -1, false,
			[]Input{{Kind: InChunk, ClientID: "m", Text: "three", Seq: 2, HasSeq: true}}},
		{"a gap on one connection", -1, false, []Input{
			{Kind: InChunk, ClientID: "m", Text: "one ", Seq: 0, HasSeq: true},
			{Kind: InChunk, ClientID: "m", Text: "three", Seq: 2, HasSeq: true},
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, withText := range []bool{false, true} {
				h := newHarness(t, LedgerConfig{})
				if tt.base >= 0 {
					learnBase(h, tt.base)
				}
				h.add(chatA, "m", "q")
				h.written("m")
				if tt.other {
					h.lose()
				}
				for _, in := range tt.chunk {
					in.Conn = h.conn
					h.step(in)
				}
				if !withText {
					got := h.step(Input{Kind: InComplete, ClientID: "m"})
					require.True(t, strings.HasSuffix(kinds(got), "status:delivered>failed fail"), "a text with a hole is not a reply: %s", kinds(got))
					assert.ErrorIs(t, got[len(got)-1].Err, ErrTextLost)
					continue
				}
				got := h.step(Input{Kind: InComplete, ClientID: "m", Text: "one two three", HasText: true})
				assert.Equal(t, "m=one two three", replies(got), "a complete text is trusted")
			}
		})
	}
}

// learnBase answers a first message with chunks numbered from base, on the
// connection it was written on.
func learnBase(h *harness, base int) {
	h.add(chatA, "m0", "first")
	h.written("m0")
	h.step(Input{Kind: InChunk, ClientID: "m0", Text: "a", Seq: base, HasSeq: true})
	h.step(Input{Kind: InChunk, ClientID: "m0", Text: "b", Seq: base + 1, HasSeq: true})
	require.Equal(h.t, "m0=ab", replies(h.step(Input{Kind: InComplete, ClientID: "m0"})))
}

func TestLedger_AReplyNumberedFromOneIsWhole(t *testing.T) {
	h := newHarness(t, LedgerConfig{})
	h.add(chatA, "m", "q")
	h.written("m")
	h.step(Input{Kind: InChunk, ClientID: "m", Text: "one ", Seq: 1, HasSeq: true})
	h.step(Input{Kind: InChunk, ClientID: "m", Text: "two", Seq: 2, HasSeq: true})
	assert.Equal(t, "m=one two", replies(h.step(Input{Kind: InComplete, ClientID: "m"})),
		"a platform whose sequence_number starts at 1 loses nothing")
	h.add(chatA, "m2", "q2")
	h.written("m2")
	h.step(Input{Kind: InChunk, ClientID: "m2", Text: "three", Seq: 1, HasSeq: true})
	assert.Equal(t, "m2=three", replies(h.step(Input{Kind: InComplete, ClientID: "m2"})))
}
