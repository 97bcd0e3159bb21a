package queue

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/stretchr/testify/require"
)

// t0 is the start time of every fake clock.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// fakeClock is a clock the test moves by hand; it is safe for concurrent use.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newTestQueue returns a queue on a fake clock.
func newTestQueue(cfg Config) (*Queue[string], *fakeClock) {
	clk := newClock()
	cfg.Now = clk.Now
	return New[string](cfg), clk
}

func msg(chat, label string) Item[string] {
	return Item[string]{Type: protocol.TypeChatMessage, ChatID: chat, Payload: []byte(label), Value: label}
}

func typingStart(chat, label string) Item[string] {
	return Item[string]{Type: protocol.TypeTypingStart, ChatID: chat, Value: label}
}

func typingStop(chat, label string) Item[string] {
	return Item[string]{Type: protocol.TypeTypingStop, ChatID: chat, Value: label}
}

func ofType(typ, label string) Item[string] {
	return Item[string]{Type: typ, ChatID: "a", Value: label}
}

func until(it Item[string], d time.Time) Item[string] {
	it.Deadline = d
	return it
}

func sized(it Item[string], n int) Item[string] {
	it.Payload = make([]byte, n)
	return it
}

// labels returns the Value of each item, as the string the tests put there.
func labels(items []Item[string]) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, it.Value)
	}
	return out
}

// removedLabels renders each removal as "label/reason".
func removedLabels(rs []Removed[string]) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Item.Value+"/"+reason(r.Err))
	}
	return out
}

func reason(err error) string {
	switch {
	case errors.Is(err, ErrEvicted):
		return "evicted"
	case errors.Is(err, ErrReplaced):
		return "replaced"
	case errors.Is(err, ErrExpired):
		return "expired"
	}
	return "unexpected: " + err.Error()
}

func mustPush(t testing.TB, q *Queue[string], items ...Item[string]) {
	t.Helper()
	for _, it := range items {
		removed, err := q.Push(it)
		require.NoError(t, err, "push %v", it.Value)
		require.Empty(t, removed, "push %v", it.Value)
	}
}

// contents drains q and returns the labels of the live items; it fails on
// expired ones.
func contents(t testing.TB, q *Queue[string]) []string {
	t.Helper()
	live, expired := q.Drain()
	require.Empty(t, expired)
	return labels(live)
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
