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

// BenchmarkLedgerExchange measures the ledger's part of one exchange: a
// message added, written, acknowledged, three chunks and the complete reply,
// with the decisions appended to a reused slice.
func BenchmarkLedgerExchange(b *testing.B) {
	l := NewLedger(LedgerConfig{})
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var out []Decision
	ids := make([]string, 1024)
	for i := range ids {
		ids[i] = "m-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := ids[i%len(ids)] + "-" + strconv.Itoa(i)
		i++
		l.Add(1, id, "hello", nil, now)
		out = l.Written(id, 1, now, out[:0])
		out = l.Step(Input{Kind: InAck, Chat: 1, ClientID: id, Conn: 1}, now, out[:0])
		for range 3 {
			out = l.Step(Input{Kind: InChunk, Chat: 1, ClientID: id, Text: "word ", Conn: 1}, now, out[:0])
		}
		out = l.Step(Input{Kind: InComplete, Chat: 1, ClientID: id, Conn: 1}, now, out[:0])
	}
	if l.Len() != 0 {
		b.Fatalf("ledger holds %d messages after their replies", l.Len())
	}
}
