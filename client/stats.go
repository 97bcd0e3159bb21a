package client

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a client's counters (SPEC §7.2). Counters are
// cumulative since New.
type Stats struct {
	// State is the connection state.
	State State
	// Protocol is the form of the protocol the client speaks: ProtocolREST
	// or ProtocolRealtime, ProtocolAuto while auto-detection has not
	// decided yet (Config.Protocol).
	Protocol Protocol
	// ConnectedAt is when the last connection became ready.
	ConnectedAt time.Time
	// Reconnects counts connections that became ready again after a loss.
	Reconnects uint64
	// Attempts counts connection attempts, each the four steps of connecting
	// (one that fails at the health check, before any dial, counts too).
	Attempts uint64
	// FramesIn, FramesOut, BytesIn and BytesOut count socket traffic.
	FramesIn, FramesOut, BytesIn, BytesOut uint64
	// MessagesSent counts user messages written to the socket (or posted).
	MessagesSent uint64
	// MessagesAcknowledged counts user messages acknowledged by the platform.
	MessagesAcknowledged uint64
	// MessagesAnswered counts user messages whose reply completed.
	MessagesAnswered uint64
	// MessagesFailed counts user messages that failed.
	MessagesFailed uint64
	// QueueLength is the number of frames waiting in the outbound queue.
	QueueLength int
	// QueueRejected counts sends refused because the queue was full.
	QueueRejected uint64
	// QueueEvicted counts queued frames dropped to make room.
	QueueEvicted uint64
	// QueueExpired counts queued frames dropped at their deadline.
	QueueExpired uint64
	// DuplicatesDropped counts inbound events dropped as duplicates.
	DuplicatesDropped uint64
	// IsolationDrops counts inbound events for chats not open on this client.
	IsolationDrops uint64
	// DecodeErrors counts inbound frames dropped as protocol errors: frames
	// that could not be decoded, and frames carrying an invalid chat id.
	DecodeErrors uint64
	// DispatcherStalls counts the times the socket reader waited for slow
	// callbacks.
	DispatcherStalls uint64
	// ReplyLatency is the time from sending a message to its complete reply.
	ReplyLatency Latency
	// FirstChunkLatency is the time from sending a message to its first chunk.
	FirstChunkLatency Latency
}

// Latency summarizes recent latency samples (the last 1024).
type Latency struct {
	// Count is the number of samples ever recorded.
	Count uint64
	// P50 and P95 are percentiles of the recent samples.
	P50, P95 time.Duration
}

// latencies keeps a ring of the latest size samples. The ring grows with the
// samples, so an idle client holds none.
type latencies struct {
	mu    sync.Mutex
	ring  []time.Duration
	size  int
	next  int
	count uint64
}

func newLatencies(n int) *latencies { return &latencies{size: n} }

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	if len(l.ring) < l.size {
		l.ring = append(l.ring, d)
		return
	}
	l.ring[l.next] = d
	l.next = (l.next + 1) % len(l.ring)
}

func (l *latencies) summary() Latency {
	l.mu.Lock()
	s := slices.Clone(l.ring)
	n := l.count
	l.mu.Unlock()
	if len(s) == 0 {
		return Latency{}
	}
	slices.Sort(s)
	return Latency{Count: n, P50: s[(len(s)-1)*50/100], P95: s[(len(s)-1)*95/100]}
}

// counters are the client's statistics.
type counters struct {
	reconnects, attempts                        atomic.Uint64
	framesIn, framesOut, bytesIn, bytesOut      atomic.Uint64
	sent, acknowledged, answered, failed        atomic.Uint64
	queueRejected, isolationDrops, decodeErrors atomic.Uint64
	badTransitions                              atomic.Uint64
	replyLatency, firstChunkLatency             *latencies
}

func (s *counters) init() {
	s.replyLatency = newLatencies(1024)
	s.firstChunkLatency = newLatencies(1024)
}

func (s *counters) snapshot() Stats {
	return Stats{
		Reconnects:           s.reconnects.Load(),
		Attempts:             s.attempts.Load(),
		FramesIn:             s.framesIn.Load(),
		FramesOut:            s.framesOut.Load(),
		BytesIn:              s.bytesIn.Load(),
		BytesOut:             s.bytesOut.Load(),
		MessagesSent:         s.sent.Load(),
		MessagesAcknowledged: s.acknowledged.Load(),
		MessagesAnswered:     s.answered.Load(),
		MessagesFailed:       s.failed.Load(),
		IsolationDrops:       s.isolationDrops.Load(),
		DecodeErrors:         s.decodeErrors.Load(),
		ReplyLatency:         s.replyLatency.summary(),
		FirstChunkLatency:    s.firstChunkLatency.summary(),
	}
}
