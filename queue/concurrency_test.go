package queue

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ledger records the one outcome each frame id must reach.
type ledger struct {
	mu       sync.Mutex
	outcomes map[int][]string
	counts   map[string]uint64
}

func newLedger() *ledger {
	return &ledger{outcomes: map[int][]string{}, counts: map[string]uint64{}}
}

func (l *ledger) record(id int, outcome string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.outcomes[id] = append(l.outcomes[id], outcome)
	l.counts[outcome]++
}

func (l *ledger) items(items []Item[int], outcome string) {
	for _, it := range items {
		l.record(it.Value, outcome)
	}
}

func (l *ledger) removed(rs []Removed[int]) {
	for _, r := range rs {
		l.record(r.Item.Value, reason(r.Err))
	}
}

// frameFor builds frame id of a pusher: mostly chat messages, typing frames
// over a few chats (so that they coalesce and get evicted), some with a
// short deadline (so that they expire), some not queueable.
func frameFor(id int) Item[int] {
	chat := fmt.Sprintf("chat-%d", id%3)
	it := Item[int]{Type: protocol.TypeChatMessage, ChatID: chat, Value: id}
	switch {
	case id%13 == 0:
		it.Type = protocol.TypeJoinChat
	case id%5 == 0:
		it.Type = protocol.TypeTypingStart
	case id%7 == 0:
		it.Type = protocol.TypeTypingStop
	}
	if id%4 == 0 {
		it.Deadline = t0.Add(time.Duration(id%400) * time.Millisecond)
	}
	return it
}

func TestQueue_ConcurrentPushersAndDrainerAccountForEveryFrameOnce(t *testing.T) {
	for _, policy := range []Policy{RejectNew, DropOldest} {
		t.Run(policy.String(), func(t *testing.T) {
			const pushers, perPusher = 8, 400
			clk := newClock()
			q := New[int](Config{Capacity: 16, Policy: policy, TTL: time.Second, Now: clk.Now})
			l := newLedger()

			var wg sync.WaitGroup
			var running atomic.Int32
			running.Store(pushers)
			for p := range pushers {
				wg.Go(func() {
					defer running.Add(-1)
					for i := range perPusher {
						id := p*perPusher + i
						removed, err := q.Push(frameFor(id))
						l.removed(removed)
						switch {
						case err == nil:
						case errors.Is(err, ErrQueueFull):
							l.record(id, "full")
						case errors.Is(err, ErrNotQueueable):
							l.record(id, "not queueable")
						case errors.Is(err, ErrExpired):
							l.record(id, "expired at push")
						default:
							t.Errorf("push %d: unexpected error %v", id, err)
						}
						if i%50 == 0 {
							clk.Advance(5 * time.Millisecond)
						}
						runtime.Gosched()
					}
				})
			}

			// The drainer writes half of what it drains and puts the rest
			// back, as after a failed write; it also expires and removes.
			wg.Go(func() {
				for round := 0; running.Load() > 0; round++ {
					live, expired := q.Drain()
					l.removed(expired)
					if round%2 == 1 && len(live) > 1 {
						half := len(live) / 2
						l.items(live[:half], "sent")
						q.PutBack(live[half:])
					} else {
						l.items(live, "sent")
					}
					switch round % 10 {
					case 3:
						l.removed(q.Expire())
					case 7:
						l.items(q.Remove(func(it Item[int]) bool { return it.Value%11 == 0 }), "removed by predicate")
					}
					runtime.Gosched()
				}
			})
			wg.Wait()

			live, expired := q.Drain()
			l.items(live, "sent")
			l.removed(expired)

			total := pushers * perPusher
			require.Len(t, l.outcomes, total, "every frame has an outcome")
			for id := range total {
				require.Len(t, l.outcomes[id], 1, "frame %d: outcomes %v", id, l.outcomes[id])
			}
			refused := l.counts["full"] + l.counts["not queueable"] + l.counts["expired at push"]
			st := q.Stats()
			assert.Equal(t, uint64(total)-refused, st.Pushed)
			assert.Equal(t, refused, st.Rejected)
			assert.Equal(t, l.counts["evicted"], st.Evicted)
			assert.Equal(t, l.counts["replaced"], st.Replaced)
			assert.Equal(t, l.counts["expired"], st.Expired)
			assert.Zero(t, st.Len)
			t.Logf("outcomes: %v", l.counts)
		})
	}
}
