package queue

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQueue_ExpiresOnEveryOperation(t *testing.T) {
	tests := []struct {
		name string
		// expire runs the operation and returns the expired frames it
		// reported.
		expire func(t *testing.T, q *Queue[string]) []Removed[string]
	}{
		{"Push", func(t *testing.T, q *Queue[string]) []Removed[string] {
			removed, err := q.Push(msg("a", "m3"))
			require.NoError(t, err)
			return removed
		}},
		{"Drain", func(t *testing.T, q *Queue[string]) []Removed[string] {
			live, expired := q.Drain()
			require.Equal(t, []string{"m2"}, labels(live))
			q.PutBack(live)
			return expired
		}},
		{"Expire", func(t *testing.T, q *Queue[string]) []Removed[string] {
			return q.Expire()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, clk := newTestQueue(Config{})
			mustPush(t, q,
				until(msg("a", "m1"), t0.Add(time.Second)),
				until(msg("a", "m2"), t0.Add(time.Minute)),
				until(typingStart("a", "t1"), t0.Add(2*time.Second)),
			)
			clk.Advance(2 * time.Second)

			expired := tt.expire(t, q)

			assert.Equal(t, []string{"m1/expired", "t1/expired"}, removedLabels(expired))
			for _, r := range expired {
				assert.ErrorIs(t, r.Err, ErrExpired)
			}
			assert.Equal(t, uint64(2), q.Stats().Expired)
			assert.Empty(t, q.Expire(), "expired frames are reported once")
		})
	}
}

func TestQueue_ExpireReturnsNilWhenNothingExpired(t *testing.T) {
	q, clk := newTestQueue(Config{})
	assert.Nil(t, q.Expire(), "empty queue")
	mustPush(t, q, until(msg("a", "m1"), t0.Add(time.Minute)))
	clk.Advance(time.Minute - time.Nanosecond)
	assert.Nil(t, q.Expire(), "before the deadline")
	assert.Equal(t, 1, q.Len())
}

func TestQueue_DrainIsFIFO(t *testing.T) {
	q, _ := newTestQueue(Config{})
	mustPush(t, q, msg("a", "m1"), typingStart("a", "t1"), msg("b", "m2"), typingStart("b", "t2"), msg("a", "m3"))

	live, expired := q.Drain()

	assert.Equal(t, []string{"m1", "t1", "m2", "t2", "m3"}, labels(live))
	assert.Nil(t, expired)
	for i := 1; i < len(live); i++ {
		assert.Less(t, live[i-1].Seq, live[i].Seq)
	}
	assert.Zero(t, q.Len())
	live, expired = q.Drain()
	assert.Nil(t, live, "a second drain finds nothing")
	assert.Nil(t, expired)
}

func TestQueue_DrainedSliceIsTheCallers(t *testing.T) {
	q, _ := newTestQueue(Config{})
	mustPush(t, q, msg("a", "m1"), msg("a", "m2"))
	live, _ := q.Drain()
	mustPush(t, q, msg("a", "m3"), msg("a", "m4"))
	assert.Equal(t, []string{"m1", "m2"}, labels(live), "later pushes must not overwrite a drained slice")
}

func TestQueue_DrainResetsTypingCoalescing(t *testing.T) {
	q, _ := newTestQueue(Config{})
	mustPush(t, q, typingStart("a", "t1"))
	_, _ = q.Drain()
	// t1 was handed to the writer: the next typing frame of chat a has
	// nothing to replace.
	mustPush(t, q, typingStop("a", "t2"))
	assert.Equal(t, []string{"t2"}, contents(t, q))
}

func TestQueue_PutBack(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		// run drives the queue and returns its contents (drained) at the end.
		run  func(t *testing.T, q *Queue[string], clk *fakeClock) []string
		want []string
	}{
		{
			name: "put back frames go to the front in their order",
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, msg("a", "m1"), msg("a", "m2"), msg("a", "m3"))
				live, _ := q.Drain()
				mustPush(t, q, msg("a", "m4"))
				q.PutBack(live[1:]) // m1 was written, the write of m2 failed
				return contents(t, q)
			},
			want: []string{"m2", "m3", "m4"},
		},
		{
			name: "put back above capacity keeps every frame",
			cfg:  Config{Capacity: 2},
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, msg("a", "m1"), msg("a", "m2"))
				live, _ := q.Drain()
				mustPush(t, q, msg("a", "m3"), msg("a", "m4"))
				q.PutBack(live)
				require.Equal(t, 4, q.Len())
				require.Equal(t, 2, q.Cap())
				_, err := q.Push(msg("a", "m5"))
				require.ErrorIs(t, err, ErrQueueFull, "a queue above capacity is full")
				return contents(t, q)
			},
			want: []string{"m1", "m2", "m3", "m4"},
		},
		{
			name: "DropOldest above capacity evicts one frame per push",
			cfg:  Config{Capacity: 2, Policy: DropOldest},
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, msg("a", "m1"), msg("a", "m2"))
				live, _ := q.Drain()
				mustPush(t, q, msg("a", "m3"))
				q.PutBack(live)
				removed, err := q.Push(msg("a", "m4"))
				require.NoError(t, err)
				require.Equal(t, []string{"m1/evicted"}, removedLabels(removed))
				return contents(t, q)
			},
			want: []string{"m2", "m3", "m4"},
		},
		{
			name: "put back of nothing changes nothing",
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, msg("a", "m1"))
				q.PutBack(nil)
				q.PutBack([]Item[string]{})
				return contents(t, q)
			},
			want: []string{"m1"},
		},
		{
			name: "put back frames keep their Seq and deadline",
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, until(msg("a", "m1"), t0.Add(time.Minute)))
				before, _ := q.Drain()
				q.PutBack(before)
				after, _ := q.Drain()
				require.Equal(t, before, after)
				return labels(after)
			},
			want: []string{"m1"},
		},
		{
			name: "put back frames expire like any other",
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, until(msg("a", "m1"), t0.Add(time.Second)), msg("a", "m2"))
				live, _ := q.Drain()
				q.PutBack(live)
				clk.Advance(time.Second)
				require.Equal(t, []string{"m1/expired"}, removedLabels(q.Expire()))
				return contents(t, q)
			},
			want: []string{"m2"},
		},
		{
			name: "a put back typing frame is replaced by the next typing push of its chat",
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, typingStart("a", "t1"))
				live, _ := q.Drain()
				mustPush(t, q, typingStop("a", "t2"), msg("a", "m1"))
				q.PutBack(live)
				removed, err := q.Push(typingStart("a", "t3"))
				require.NoError(t, err)
				require.Equal(t, []string{"t1/replaced", "t2/replaced"}, removedLabels(removed))
				return contents(t, q)
			},
			want: []string{"m1", "t3"},
		},
		{
			name: "a put back typing frame can be evicted under RejectNew",
			cfg:  Config{Capacity: 2},
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) []string {
				mustPush(t, q, typingStart("a", "t1"), msg("a", "m1"))
				live, _ := q.Drain()
				q.PutBack(live)
				removed, err := q.Push(msg("a", "m2"))
				require.NoError(t, err)
				require.Equal(t, []string{"t1/evicted"}, removedLabels(removed))
				return contents(t, q)
			},
			want: []string{"m1", "m2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, clk := newTestQueue(tt.cfg)
			assert.Equal(t, tt.want, tt.run(t, q, clk))
		})
	}
}

func TestQueue_RemoveByPredicate(t *testing.T) {
	q, _ := newTestQueue(Config{Capacity: 4})
	mustPush(t, q, msg("a", "m1"), typingStart("a", "t1"), msg("b", "m2"), msg("a", "m3"))

	got := q.Remove(func(it Item[string]) bool { return it.ChatID == "a" })

	assert.Equal(t, []string{"m1", "t1", "m3"}, labels(got), "removed in FIFO order")
	assert.Equal(t, 1, q.Len())
	assert.Nil(t, q.Remove(func(Item[string]) bool { return false }), "no match returns nil")

	// The removed typing frame no longer counts: a full queue of messages
	// refuses a new one instead of evicting.
	mustPush(t, q, msg("b", "m4"), msg("b", "m5"), msg("b", "m6"))
	_, err := q.Push(msg("b", "m7"))
	require.ErrorIs(t, err, ErrQueueFull)
	assert.Equal(t, []string{"m2", "m4", "m5", "m6"}, contents(t, q))
}

func TestQueue_NextDeadline(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		run    func(t *testing.T, q *Queue[string], clk *fakeClock)
		want   time.Time
		wantOK bool
	}{
		{
			name: "an empty queue has no deadline",
			run:  func(*testing.T, *Queue[string], *fakeClock) {},
		},
		{
			name: "the earliest deadline among queued frames",
			run: func(t *testing.T, q *Queue[string], _ *fakeClock) {
				mustPush(t, q,
					until(msg("a", "m1"), t0.Add(3*time.Minute)),
					until(msg("a", "m2"), t0.Add(time.Minute)),
					msg("a", "m3"), // TTL: t0 + 5 min
				)
			},
			want:   t0.Add(time.Minute),
			wantOK: true,
		},
		{
			name: "the next deadline once the earliest expired",
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) {
				mustPush(t, q,
					until(msg("a", "m1"), t0.Add(3*time.Minute)),
					until(msg("a", "m2"), t0.Add(time.Minute)),
				)
				clk.Advance(time.Minute)
				q.Expire()
			},
			want:   t0.Add(3 * time.Minute),
			wantOK: true,
		},
		{
			name: "the deadline of the TTL default",
			run: func(t *testing.T, q *Queue[string], clk *fakeClock) {
				clk.Advance(time.Second)
				mustPush(t, q, msg("a", "m1"))
			},
			want:   t0.Add(time.Second + DefaultTTL),
			wantOK: true,
		},
		{
			name: "no deadline after a drain",
			run: func(t *testing.T, q *Queue[string], _ *fakeClock) {
				mustPush(t, q, msg("a", "m1"))
				q.Drain()
			},
		},
		{
			name: "put back frames count",
			run: func(t *testing.T, q *Queue[string], _ *fakeClock) {
				mustPush(t, q, until(msg("a", "m1"), t0.Add(time.Second)))
				live, _ := q.Drain()
				mustPush(t, q, msg("a", "m2"))
				q.PutBack(live)
			},
			want:   t0.Add(time.Second),
			wantOK: true,
		},
		{
			name: "frames without a deadline under a negative TTL have none",
			cfg:  Config{TTL: -1},
			run: func(t *testing.T, q *Queue[string], _ *fakeClock) {
				mustPush(t, q, msg("a", "m1"))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, clk := newTestQueue(tt.cfg)
			tt.run(t, q, clk)
			got, ok := q.NextDeadline()
			assert.Equal(t, tt.wantOK, ok)
			assert.True(t, tt.want.Equal(got), "deadline %v, want %v", got, tt.want)
		})
	}
}

func TestQueue_StatsCountEveryOutcome(t *testing.T) {
	q, clk := newTestQueue(Config{Capacity: 3})
	mustPush(t, q, until(msg("a", "m1"), t0.Add(time.Second)), typingStart("a", "t1"), typingStart("b", "t2"))
	steps := []struct {
		push    Item[string]
		wantErr error
		want    []string
	}{
		{typingStop("a", "t3"), nil, []string{"t1/replaced"}},
		{msg("a", "m2"), nil, []string{"t2/evicted"}},
		{msg("a", "m3"), nil, []string{"t3/evicted"}},
		{msg("a", "m4"), ErrQueueFull, nil},
		{ofType(protocol.TypeJoinChat, "j"), ErrNotQueueable, nil},
	}
	for _, s := range steps {
		removed, err := q.Push(s.push)
		require.ErrorIs(t, err, s.wantErr)
		require.Equal(t, s.want, nilIfEmpty(removedLabels(removed)))
	}
	clk.Advance(time.Second)
	require.Equal(t, []string{"m1/expired"}, removedLabels(q.Expire()))

	assert.Equal(t, Stats{Pushed: 6, Rejected: 2, Evicted: 2, Replaced: 1, Expired: 1, Len: 2}, q.Stats())
}

func TestPolicy_String(t *testing.T) {
	tests := []struct {
		p    Policy
		want string
	}{
		{RejectNew, "reject_new"},
		{DropOldest, "drop_oldest"},
		{Policy(7), "Policy(7)"},
		{Policy(-1), "Policy(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.p.String())
		})
	}
}

func TestNew_Defaults(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantCap int
	}{
		{"zero capacity means 50", Config{}, 50},
		{"negative capacity means 50", Config{Capacity: -3}, 50},
		{"capacity is kept", Config{Capacity: 7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantCap, New[string](tt.cfg).Cap())
		})
	}
}

func TestNew_UnknownPolicyRejectsNew(t *testing.T) {
	q, _ := newTestQueue(Config{Capacity: 1, Policy: Policy(9)})
	mustPush(t, q, msg("a", "m1"))
	_, err := q.Push(msg("a", "m2"))
	require.ErrorIs(t, err, ErrQueueFull)
	assert.Equal(t, []string{"m1"}, contents(t, q))
}

func TestNew_NilClockIsTimeNow(t *testing.T) {
	q := New[string](Config{TTL: time.Hour})
	before := time.Now()
	mustPush(t, q, msg("a", "m1"))
	after := time.Now()
	d, ok := q.NextDeadline()
	require.True(t, ok)
	assert.False(t, d.Before(before.Add(time.Hour)))
	assert.False(t, d.After(after.Add(time.Hour)))
}

func TestErrors_SayWhatToDo(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{ErrQueueFull, "raise the queue capacity"},
		{ErrNotQueueable, "send other frames when connected"},
		{ErrExpired, "send again"},
		{ErrEvicted, "send again"},
		{ErrReplaced, "newer typing frame"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Contains(t, tt.err.Error(), "queue: ")
			assert.Contains(t, tt.err.Error(), tt.want)
		})
	}
	q, _ := newTestQueue(Config{})
	_, err := q.Push(ofType(protocol.TypePing, "p"))
	require.ErrorIs(t, err, ErrNotQueueable)
	assert.Contains(t, err.Error(), `"ping"`, "the refused type is named")
	assert.False(t, errors.Is(err, ErrQueueFull))
}

func TestQueue_AChatAtItsCapWaitsWhileOthersStillQueue(t *testing.T) {
	for _, policy := range []Policy{RejectNew, DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			q := New[string](Config{Capacity: 10, Policy: policy})
			q.SetChatCap(3)
			msg := func(chat string, n int) Item[string] {
				return Item[string]{Type: protocol.TypeChatMessage, ChatID: chat, Payload: []byte(fmt.Sprint(chat, n))}
			}
			for i := range 3 {
				_, err := q.Push(msg("noisy", i))
				require.NoError(t, err)
			}
			removed, err := q.Push(msg("noisy", 3))
			if policy == RejectNew {
				require.ErrorIs(t, err, ErrQueueFull, "the noisy chat holds its share")
				assert.Empty(t, removed)
			} else {
				require.NoError(t, err)
				require.Len(t, removed, 1)
				assert.Equal(t, "noisy0", string(removed[0].Item.Payload), "its own oldest goes, nobody else's")
				assert.ErrorIs(t, removed[0].Err, ErrEvicted)
			}
			for i := range 3 {
				_, err := q.Push(msg("quiet", i))
				require.NoError(t, err, "another chat still queues")
			}
			_, err = q.Push(Item[string]{Type: protocol.TypeTypingStart, ChatID: "noisy"})
			require.NoError(t, err, "typing frames are not counted: one per chat at most")
			assert.Equal(t, 7, q.Len())
			q.SetChatCap(0)
			_, err = q.Push(msg("noisy", 4))
			require.NoError(t, err, "no cap: the capacity alone bounds")
		})
	}
}
