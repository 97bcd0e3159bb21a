package queue

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/miptechnologies/miptech-go/protocol"
)

// benchFrames returns n chat messages with a realistic payload.
func benchFrames(n int) []Item[int] {
	payload := []byte(`{"type":"chat_message","data":{"message":"hello","chat_id":"c1","tenant_id":"t1","client_message_id":"7d9f","stream":true},"timestamp":1736000000000}`)
	items := make([]Item[int], n)
	for i := range items {
		items[i] = Item[int]{Type: protocol.TypeChatMessage, ChatID: "c1", Payload: payload, Value: i}
	}
	return items
}

// BenchmarkPushDrain pushes a full queue of 50 messages and drains it, the
// cycle of a reconnect. The baseline is a mutex-guarded slice with the same
// copy-out drain: the least a concurrency-safe FIFO costs.
func BenchmarkPushDrain(b *testing.B) {
	items := benchFrames(DefaultCapacity)
	b.Run("queue", func(b *testing.B) {
		q := New[int](Config{})
		b.ReportAllocs()
		for b.Loop() {
			for _, it := range items {
				if _, err := q.Push(it); err != nil {
					b.Fatal(err)
				}
			}
			if live, _ := q.Drain(); len(live) != len(items) {
				b.Fatalf("drained %d, want %d", len(live), len(items))
			}
		}
	})
	b.Run("baseline/mutex-slice", func(b *testing.B) {
		var mu sync.Mutex
		buf := make([]Item[int], 0, DefaultCapacity)
		b.ReportAllocs()
		for b.Loop() {
			for _, it := range items {
				mu.Lock()
				buf = append(buf, it)
				mu.Unlock()
			}
			mu.Lock()
			live := slices.Clone(buf)
			clear(buf)
			buf = buf[:0]
			mu.Unlock()
			if len(live) != len(items) {
				b.Fatalf("drained %d, want %d", len(live), len(items))
			}
		}
	})
}

// BenchmarkPushFullReject pushes a message into a queue full of messages,
// which RejectNew refuses.
func BenchmarkPushFullReject(b *testing.B) {
	q := New[int](Config{})
	for _, it := range benchFrames(DefaultCapacity) {
		if _, err := q.Push(it); err != nil {
			b.Fatal(err)
		}
	}
	extra := benchFrames(1)[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Push(extra); !errors.Is(err, ErrQueueFull) {
			b.Fatalf("push into a full queue: %v", err)
		}
	}
}
