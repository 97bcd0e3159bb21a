package registry

import (
	"hash/maphash"
	"sync"
	"time"
)

// Defaults of NewDedup.
const (
	// DefaultDedupSize is the number of keys a Dedup window holds.
	DefaultDedupSize = 4096
	// DefaultDedupTTL is how long a key stays in a Dedup window.
	DefaultDedupTTL = 5 * time.Minute
)

// minDedupRing is the smallest buffer a Dedup keeps: an idle window costs
// little memory, and the buffer grows by doubling up to the window size.
const minDedupRing = 16

// Dedup is a window of recently seen event keys: the last size keys and
// those recorded less than ttl ago (both given to NewDedup), whichever are
// fewer. The client records each
// inbound event's key with Seen before it dispatches the event and drops the
// event when Seen reports a duplicate.
//
// Each call costs O(1) (amortized), and memory is bounded by the window size:
// the key buffer grows with use and shrinks again as keys expire. A key's
// time is when it was first recorded; a duplicate does not extend it. Dedup
// is safe for concurrent use; it starts no goroutine.
type Dedup struct {
	size  int
	ttl   time.Duration
	now   func() time.Time
	epoch time.Time

	seed maphash.Seed // keys are kept as their 64-bit hashes

	mu      sync.Mutex
	keys    map[uint64]struct{}
	ring    []dedupEntry // keys in the order recorded; ring[head] is the oldest
	head    int
	n       int
	last    time.Duration // the latest time recorded, so that times never go back
	dropped uint64
}

// dedupEntry is a recorded key's hash and its time since the window's
// epoch. A hash, not the key: 8 bytes however long the key; two keys of a
// window colliding is a chance of about n²/2⁶⁵ (negligible at any size), and
// costs an event dropped as a duplicate.
type dedupEntry struct {
	key uint64
	at  time.Duration
}

// NewDedup returns an empty window of size keys and time-to-live ttl,
// reading the time from now. A size or ttl of zero or less means its default
// (4096 keys, 5 min); a nil now means time.Now.
func NewDedup(size int, ttl time.Duration, now func() time.Time) *Dedup {
	if size <= 0 {
		size = DefaultDedupSize
	}
	if ttl <= 0 {
		ttl = DefaultDedupTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Dedup{
		size:  size,
		ttl:   ttl,
		now:   now,
		epoch: now(),
		seed:  maphash.MakeSeed(),
	}
}

// Seen records key and reports whether it was already in the window, that is
// whether the event it names is a duplicate. Checking and recording are one
// atomic step: of concurrent calls with the same new key, exactly one returns
// false. The empty key is never a duplicate and is not recorded.
func (d *Dedup) Seen(key string) bool {
	if key == "" {
		return false
	}
	h := maphash.String(d.seed, key)
	t := d.now().Sub(d.epoch)
	d.mu.Lock()
	defer d.mu.Unlock()
	t = d.advance(t)
	if _, dup := d.keys[h]; dup {
		d.dropped++
		return true
	}
	if d.n == d.size {
		d.evict()
	}
	if d.keys == nil { // allocated on first use: an idle client keeps none
		d.keys = map[uint64]struct{}{}
		d.ring = make([]dedupEntry, min(minDedupRing, d.size))
	}
	if d.n == len(d.ring) {
		d.resize(min(2*len(d.ring), d.size))
	}
	i := d.head + d.n
	if i >= len(d.ring) {
		i -= len(d.ring)
	}
	d.ring[i] = dedupEntry{key: h, at: t}
	d.n++
	d.keys[h] = struct{}{}
	return false
}

// Len returns the number of keys in the window, after dropping the expired
// ones.
func (d *Dedup) Len() int {
	t := d.now().Sub(d.epoch)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.advance(t)
	return d.n
}

// Drop counts one duplicate that the caller recognized by other means than
// Seen: an event whose key is new but that is about a message which already
// has its outcome (a second reply to a re-sent message, say). Dropped
// includes it.
func (d *Dedup) Drop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dropped++
}

// Dropped returns how many Seen calls reported a duplicate, plus the
// duplicates counted with Drop.
func (d *Dedup) Dropped() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dropped
}

// advance moves the window's clock to t (never backwards, so the buffer stays
// in time order), drops the keys older than the TTL, and halves the buffer
// while at most a quarter of it is used. It returns the time to record. d.mu
// is held.
func (d *Dedup) advance(t time.Duration) time.Duration {
	if t < d.last {
		t = d.last
	}
	d.last = t
	for d.n > 0 && t-d.ring[d.head].at >= d.ttl {
		d.evict()
	}
	c := len(d.ring)
	for c > minDedupRing && d.n <= c/4 {
		c = max(c/2, minDedupRing)
	}
	if c < len(d.ring) {
		d.resize(c)
		keys := make(map[uint64]struct{}, d.n)
		for i := range d.n {
			keys[d.ring[i].key] = struct{}{}
		}
		d.keys = keys // a fresh map releases the old one's memory
	}
	return t
}

// evict drops the oldest key. d.mu is held and d.n > 0.
func (d *Dedup) evict() {
	e := &d.ring[d.head]
	delete(d.keys, e.key)
	*e = dedupEntry{}
	d.head++
	if d.head == len(d.ring) {
		d.head = 0
	}
	d.n--
}

// resize moves the keys, oldest first, into a buffer of capacity c >= d.n.
// d.mu is held.
func (d *Dedup) resize(c int) {
	ring := make([]dedupEntry, c)
	k := copy(ring, d.ring[d.head:min(d.head+d.n, len(d.ring))])
	copy(ring[k:], d.ring[:d.n-k])
	d.ring, d.head = ring, 0
}
