package registry

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewDedup_ZeroArgumentsTakeDefaults(t *testing.T) {
	tests := []struct {
		name     string
		size     int
		ttl      time.Duration
		wantSize int
		wantTTL  time.Duration
	}{
		{"zero", 0, 0, 4096, 5 * time.Minute},
		{"negative", -3, -time.Second, 4096, 5 * time.Minute},
		{"set", 10, time.Second, 10, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDedup(tt.size, tt.ttl, nil)
			assert.Equal(t, tt.wantSize, d.size)
			assert.Equal(t, tt.wantTTL, d.ttl)
			assert.False(t, d.Seen("k"))
			assert.True(t, d.Seen("k"))
		})
	}
}

// step is one Seen call after advancing the clock.
type step struct {
	advance time.Duration
	key     string
	want    bool
}

func TestDedup_Window(t *testing.T) {
	tests := []struct {
		name        string
		size        int
		ttl         time.Duration
		steps       []step
		wantLen     int
		wantDropped uint64
	}{
		{
			name: "duplicate within window",
			size: 8, ttl: time.Minute,
			steps: []step{
				{0, "a", false}, {0, "b", false}, {time.Second, "a", true}, {0, "b", true}, {0, "a", true},
			},
			wantLen: 2, wantDropped: 3,
		},
		{
			name: "empty key is never a duplicate nor recorded",
			size: 8, ttl: time.Minute,
			steps:   []step{{0, "", false}, {0, "", false}, {0, "x", false}},
			wantLen: 1,
		},
		{
			name: "key expires at its TTL",
			size: 8, ttl: time.Minute,
			steps: []step{
				{0, "a", false}, {time.Minute - time.Nanosecond, "a", true}, {time.Nanosecond, "a", false},
				{time.Second, "a", true},
			},
			wantLen: 1, wantDropped: 2,
		},
		{
			name: "a duplicate does not extend the TTL",
			size: 8, ttl: time.Minute,
			steps: []step{
				{0, "a", false}, {50 * time.Second, "a", true}, {10 * time.Second, "a", false},
			},
			wantLen: 1, wantDropped: 1,
		},
		{
			name: "expiry drops only the old keys",
			size: 8, ttl: time.Minute,
			steps: []step{
				{0, "a", false}, {30 * time.Second, "b", false}, {30 * time.Second, "b", true},
				{0, "a", false}, {29 * time.Second, "b", true}, {time.Second, "b", false},
			},
			wantLen: 2, wantDropped: 2,
		},
		{
			name: "oldest key is evicted beyond the size",
			size: 3, ttl: time.Hour,
			steps: []step{
				{0, "a", false}, {0, "b", false}, {0, "c", false}, {0, "d", false},
				{0, "d", true}, {0, "c", true}, {0, "b", true}, {0, "a", false},
				{0, "b", false}, {0, "a", true},
			},
			wantLen: 3, wantDropped: 4,
		},
		{
			name: "size of one",
			size: 1, ttl: time.Hour,
			steps: []step{
				{0, "a", false}, {0, "a", true}, {0, "b", false}, {0, "a", false},
			},
			wantLen: 1, wantDropped: 1,
		},
		{
			name: "clock going back keeps keys until the TTL from the latest time",
			size: 8, ttl: time.Minute,
			steps: []step{
				{0, "a", false}, {-time.Hour, "b", false}, {time.Hour, "a", true},
				{time.Minute, "a", false}, {0, "b", false},
			},
			wantLen: 2, wantDropped: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			d := NewDedup(tt.size, tt.ttl, clock.Now)
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				assert.Equal(t, s.want, d.Seen(s.key), "step %d: Seen(%q)", i, s.key)
			}
			assert.Equal(t, tt.wantLen, d.Len())
			assert.Equal(t, tt.wantDropped, d.Dropped())
		})
	}
}

func TestDedup_LenDropsExpiredKeys(t *testing.T) {
	clock := newFakeClock()
	d := NewDedup(100, time.Minute, clock.Now)
	for i := range 10 {
		d.Seen(fmt.Sprint(i))
		clock.Advance(time.Second)
	}
	assert.Equal(t, 10, d.Len())
	clock.Advance(54 * time.Second) // now 64 s: the keys of 0 s to 4 s are a minute old
	assert.Equal(t, 5, d.Len())
	clock.Advance(time.Hour)
	assert.Equal(t, 0, d.Len())
}

func TestDedup_MemoryBoundedBySize(t *testing.T) {
	clock := newFakeClock()
	const size = 1000
	d := NewDedup(size, time.Hour, clock.Now)
	assert.Zero(t, len(d.ring), "an unused window allocates nothing")
	assert.Nil(t, d.keys)
	for i := range 50 * size {
		require.False(t, d.Seen(fmt.Sprint("k", i)))
	}
	assert.Equal(t, size, d.Len())
	assert.Equal(t, size, len(d.ring))
	assert.Len(t, d.keys, size)

	// Once the keys expire the buffer shrinks back.
	clock.Advance(time.Hour)
	assert.Equal(t, 0, d.Len())
	assert.Equal(t, minDedupRing, len(d.ring))
	assert.Empty(t, d.keys)

	// And it still works, growing again.
	for i := range 100 {
		require.False(t, d.Seen(fmt.Sprint("n", i)))
	}
	for i := range 100 {
		require.True(t, d.Seen(fmt.Sprint("n", i)))
	}
}

func TestDedup_ShrinksWhileKeysExpireGradually(t *testing.T) {
	clock := newFakeClock()
	d := NewDedup(512, time.Minute, clock.Now)
	for i := range 512 {
		d.Seen(fmt.Sprint(i))
		clock.Advance(100 * time.Millisecond)
	}
	require.Equal(t, 512, len(d.ring))
	// Walk the clock forward so the keys expire a few at a time, and check
	// after each step that the remaining keys are still recognised.
	for d.Len() > 0 {
		clock.Advance(2 * time.Second)
		n := d.Len()
		assert.LessOrEqual(t, n, len(d.ring))
		if len(d.ring) > minDedupRing {
			assert.Greater(t, n, len(d.ring)/4, "buffer of %d for %d keys", len(d.ring), n)
		}
		for i := 512 - n; i < 512; i++ {
			require.True(t, d.Seen(fmt.Sprint(i)), "key %d lost at len %d", i, n)
		}
	}
	assert.Equal(t, minDedupRing, len(d.ring))
}

// modelDedup is the window written the slow, obvious way. Times never go
// back: not before the previous call's, nor before the window's creation.
type modelDedup struct {
	size    int
	ttl     time.Duration
	entries []modelEntry
	last    time.Time
}

type modelEntry struct {
	key string
	at  time.Time
}

func (m *modelDedup) seen(key string, now time.Time) bool {
	if key == "" {
		return false
	}
	if now.Before(m.last) {
		now = m.last
	}
	m.last = now
	var live []modelEntry
	for _, e := range m.entries {
		if now.Sub(e.at) < m.ttl {
			live = append(live, e)
		}
	}
	m.entries = live
	for _, e := range m.entries {
		if e.key == key {
			return true
		}
	}
	m.entries = append(m.entries, modelEntry{key, now})
	if len(m.entries) > m.size {
		m.entries = m.entries[1:]
	}
	return false
}

// checkAgainstModel drives a Dedup and the model with the same operations,
// read from ops two bytes at a time (key, clock step), and fails on the
// first difference.
func checkAgainstModel(t *testing.T, size int, ops []byte) {
	t.Helper()
	clock := newFakeClock()
	ttl := 40 * time.Second
	d := NewDedup(size, ttl, clock.Now)
	m := &modelDedup{size: size, ttl: ttl, last: clock.Now()}
	var dups uint64
	for i := 0; i+1 < len(ops); i += 2 {
		key := ""
		if ops[i] != 0 {
			key = fmt.Sprint("k", ops[i]%64)
		}
		clock.Advance(time.Duration(int8(ops[i+1])) * time.Second / 4)
		want := m.seen(key, clock.Now())
		if want {
			dups++
		}
		require.Equal(t, want, d.Seen(key), "op %d: Seen(%q)", i/2, key)
		require.Equal(t, len(m.entries), d.n, "op %d: window length", i/2)
	}
	require.Equal(t, dups, d.Dropped())
}

func TestDedup_MatchesSimpleModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 2, 7, 16, 33, 100} {
		t.Run(fmt.Sprint("size_", size), func(t *testing.T) {
			ops := make([]byte, 20_000)
			for i := range ops {
				ops[i] = byte(rng.UintN(256))
			}
			checkAgainstModel(t, size, ops)
		})
	}
}

func FuzzDedup_MatchesSimpleModel(f *testing.F) {
	f.Add(uint8(3), []byte{1, 0, 2, 0, 1, 0, 3, 100, 1, 100})
	f.Add(uint8(40), []byte{5, 0, 5, 127, 5, 128, 0, 0, 6, 1})
	f.Fuzz(func(t *testing.T, size uint8, ops []byte) {
		checkAgainstModel(t, int(size%64)+1, ops)
	})
}

func TestDedup_ConcurrentSeenReportsEachKeyNewOnce(t *testing.T) {
	const (
		goroutines = 16
		keys       = 500
	)
	d := NewDedup(0, 0, nil)
	fresh := make([]atomic.Int32, keys)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := range keys {
				k := (i + g*31) % keys // each goroutine starts elsewhere
				if !d.Seen(fmt.Sprint("key-", k)) {
					fresh[k].Add(1)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	for k := range fresh {
		assert.Equal(t, int32(1), fresh[k].Load(), "key-%d reported new %d times", k, fresh[k].Load())
	}
	assert.Equal(t, uint64((goroutines-1)*keys), d.Dropped())
	assert.Equal(t, keys, d.Len())
}
