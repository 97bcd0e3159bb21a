package registry

import (
	"strconv"
	"testing"
	"time"
)

// BenchmarkDedupSeen measures Seen on a full window of the default size. The
// baseline rows do the same lookups on a bare map with no lock, no clock and
// no eviction.
func BenchmarkDedupSeen(b *testing.B) {
	const size = DefaultDedupSize
	keys := make([]string, 2*size)
	for i := range keys {
		keys[i] = "response_complete:msg-" + strconv.Itoa(i)
	}
	fixed := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return fixed }
	full := func(b *testing.B) *Dedup {
		d := NewDedup(size, time.Hour, now)
		for _, k := range keys[:size] {
			d.Seen(k)
		}
		if d.Len() != size {
			b.Fatalf("window holds %d keys, want %d", d.Len(), size)
		}
		return d
	}

	b.Run("full_window_hit", func(b *testing.B) {
		d := full(b)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !d.Seen(keys[i%size]) {
				b.Fatal("miss on a key in the window")
			}
			i++
		}
	})
	b.Run("full_window_miss", func(b *testing.B) {
		d := full(b)
		b.ReportAllocs()
		i := size // keys[i%2size] was evicted size calls ago
		for b.Loop() {
			if d.Seen(keys[i%len(keys)]) {
				b.Fatal("hit on a key evicted from the window")
			}
			i++
		}
	})
	b.Run("baseline/map_hit", func(b *testing.B) {
		m := make(map[string]struct{}, size)
		for _, k := range keys[:size] {
			m[k] = struct{}{}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, ok := m[keys[i%size]]; !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("baseline/map_miss", func(b *testing.B) {
		m := make(map[string]struct{}, size)
		for _, k := range keys[:size] {
			m[k] = struct{}{}
		}
		b.ReportAllocs()
		i := size
		for b.Loop() {
			k := keys[i%len(keys)]
			if _, ok := m[k]; ok {
				b.Fatal("hit")
			}
			delete(m, keys[(i-size)%len(keys)])
			m[k] = struct{}{}
			i++
		}
	})
}

// BenchmarkRegisterTransition measures the life of one user message:
// Register (with a generated UUID), then sent, delivered and answered, with
// the default Retain pruning the oldest terminal messages.
func BenchmarkRegisterTransition(b *testing.B) {
	r := New(Config{})
	b.ReportAllocs()
	for b.Loop() {
		m, err := r.Register(Message{ChatID: "chat-1", Text: "hello"})
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range [...]Status{StatusSent, StatusDelivered, StatusAnswered} {
			if _, _, err := r.Transition(m.ClientID, s, nil); err != nil {
				b.Fatal(err)
			}
		}
	}
	if r.Len() > DefaultRetain {
		b.Fatalf("registry holds %d messages, more than Retain", r.Len())
	}
}
