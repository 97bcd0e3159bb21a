package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// Storm goals of SPEC §10.
const (
	goalAllBack     = 10 * time.Second
	goalWindowShare = 0.30
	stormWindow     = 100 * time.Millisecond
)

// stormWatch follows every client from the restart until it is ready again.
type stormWatch struct {
	mu       sync.Mutex
	external bool      // the platform is not ours: the storm starts at the first loss
	mark     time.Time // the restart (embedded) or the first lost connection (external)
	total    int       // clients ready when the storm began
	lost     int       // clients that lost their connection
	back     int       // lost clients ready again
	failed   int       // clients that went to failed
	attempts []time.Time
	lostAt   []time.Duration // per client, from the mark to the loss
	firstAt  []time.Duration // per client, from the mark to its first attempt
	backAt   []time.Duration // per client, from the mark to ready again
	changed  chan struct{}   // a token after every change
}

// observe records a state change of a member. It runs on the member's
// callback goroutine.
func (w *stormWatch) observe(m *member, sc client.StateChange) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !m.inStorm {
		return
	}
	if sc.Previous == client.StateReady && sc.Current != client.StateReady && !m.lost {
		if w.mark.IsZero() {
			if !w.external {
				return
			}
			w.mark = sc.Time
		}
		m.lost = true
		w.lost++
		w.lostAt = append(w.lostAt, sc.Time.Sub(w.mark))
	}
	if !m.lost || m.back {
		return
	}
	switch sc.Current {
	case client.StateConnecting:
		if !m.tried {
			m.tried = true
			w.firstAt = append(w.firstAt, sc.Time.Sub(w.mark))
		}
		w.attempts = append(w.attempts, sc.Time)
	case client.StateReady:
		m.back = true
		w.back++
		w.backAt = append(w.backAt, sc.Time.Sub(w.mark))
	case client.StateFailed:
		if !m.failed {
			m.failed = true
			w.failed++
		}
	}
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// settled reports whether every client of the storm is back or failed.
func (w *stormWatch) settled() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.total > 0 && w.back+w.failed >= w.total
}

// started reports whether the storm began.
func (w *stormWatch) started() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.mark.IsZero()
}

// counts returns the clients back and in the storm, for the progress line.
func (w *stormWatch) counts() (back, total int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.back, w.total
}

// stormReport describes a reconnect storm.
type stormReport struct {
	// Kind is close1001, abrupt, or observed (an external platform).
	Kind string `json:"kind"`
	// Clients is the number of clients ready when the storm began; Lost,
	// Back and Failed count those that lost their connection, were ready
	// again, and gave up.
	Clients int `json:"clients"`
	Lost    int `json:"lost"`
	Back    int `json:"back"`
	Failed  int `json:"failed"`
	// AllBackSeconds is the time from the restart until the last client
	// was ready again (with every client back), else -1.
	AllBackSeconds float64 `json:"all_back_seconds"`
	// LostPerClient, FirstAttemptPerClient and BackPerClient are the times
	// from the restart until each client saw its connection lost, started
	// its first attempt to reconnect, and was ready again.
	LostPerClient         percentiles `json:"lost_per_client_ms"`
	FirstAttemptPerClient percentiles `json:"first_attempt_per_client_ms"`
	BackPerClient         percentiles `json:"back_per_client_ms"`
	// Attempts counts the clients' attempt starts (their connecting state
	// changes, timed by the state machine as each attempt begins);
	// MaxWindowShare is the largest share of them in any 100 ms window,
	// which starts MaxWindowStartMS after the restart. The spread goal is
	// judged on these: they are what the SDK's backoff and jitter decide.
	Attempts         int     `json:"attempts"`
	MaxWindowShare   float64 `json:"max_window_share"`
	MaxWindowStartMS float64 `json:"max_window_start_ms"`
	// MaxBucketShare is the largest share in one of the fixed 100 ms
	// buckets of the histogram (never above MaxWindowShare).
	MaxBucketShare float64 `json:"max_bucket_share"`
	// PlatformHandshakes and PlatformMaxWindowShare are the same seen from
	// the embedded platform (arrival of each WebSocket handshake), zero
	// with an external platform. They add the health check, the dial and
	// whatever delays the process that holds the platform and every client
	// adds, so they are reported, not judged.
	PlatformHandshakes     int     `json:"platform_handshakes,omitempty"`
	PlatformMaxWindowShare float64 `json:"platform_max_window_share,omitempty"`
	// Histogram counts the attempts in 100 ms buckets from the restart,
	// from the first non-empty bucket to the last.
	Histogram []bucket `json:"histogram"`
	// GoalAllBack and GoalSpread say whether the SPEC goals were met: all
	// back within 10 s, no 100 ms window above 30 % of the attempts.
	GoalAllBack bool `json:"goal_all_back"`
	GoalSpread  bool `json:"goal_spread"`
	// TimedOut is true when -storm-timeout ended the wait.
	TimedOut bool `json:"timed_out,omitempty"`
}

// runStorm waits -storm-after, restarts the embedded platform (or, with an
// external one, waits for its restart) and follows the clients back.
func runStorm(ctx context.Context, o options, f *fleet, srv *platformtest.Server, prog *progress) *stormReport {
	if !wait(ctx, o.stormAfter) {
		return nil
	}
	w := &stormWatch{external: srv == nil, changed: make(chan struct{}, 1)}
	w.mu.Lock()
	for _, m := range f.live() {
		if m.c.State() == client.StateReady {
			m.inStorm = true
			w.total++
		}
	}
	if srv != nil {
		w.mark = time.Now()
	}
	w.mu.Unlock()
	f.watch.Store(w)
	prog.watch.Store(w)
	prog.setPhase("storm")

	kind := o.stormKind
	timedOut := false
	switch {
	case srv == nil:
		kind = "observed"
		prog.note(fmt.Sprintf("storm: %d clients ready; restart the platform now (waiting up to %s)", w.total, o.stormTimeout))
		timedOut = !waitFor(ctx, w, o.stormTimeout, w.started)
	case kind == stormAbrupt:
		srv.DropAllAbrupt()
	default:
		srv.DropAll(protocol.CloseGoingAway)
	}
	if !timedOut {
		timedOut = !waitFor(ctx, w, o.stormTimeout, w.settled)
	}
	return w.report(kind, srv, timedOut)
}

// waitFor waits until cond holds, re-checking after every change the watch
// reports; false when d passes or ctx ends first.
func waitFor(ctx context.Context, w *stormWatch, d time.Duration, cond func() bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for !cond() {
		select {
		case <-w.changed:
		case <-t.C:
			return cond()
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// wait pauses for d; false when ctx ends first.
func wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// report summarizes the storm.
func (w *stormWatch) report(kind string, srv *platformtest.Server, timedOut bool) *stormReport {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := &stormReport{
		Kind:                  kind,
		Clients:               w.total,
		Lost:                  w.lost,
		Back:                  w.back,
		Failed:                w.failed,
		AllBackSeconds:        -1,
		BackPerClient:         summarize(w.backAt),
		LostPerClient:         summarize(w.lostAt),
		FirstAttemptPerClient: summarize(w.firstAt),
		TimedOut:              timedOut,
	}
	if w.mark.IsZero() {
		return r
	}
	if w.total > 0 && w.back == w.total {
		r.AllBackSeconds = round3(r.BackPerClient.maxDuration().Seconds())
	}
	offs := offsets(w.mark, w.attempts)
	r.Attempts = len(offs)
	if len(offs) > 0 {
		n, at := maxWindow(offs, stormWindow)
		r.MaxWindowShare = round3(float64(n) / float64(len(offs)))
		r.MaxWindowStartMS = round3(ms(at))
	}
	if srv != nil {
		var hs []time.Time
		for _, t := range srv.HandshakeTimes() {
			if !t.Before(w.mark) {
				hs = append(hs, t)
			}
		}
		r.PlatformHandshakes = len(hs)
		if len(hs) > 0 {
			n, _ := maxWindow(offsets(w.mark, hs), stormWindow)
			r.PlatformMaxWindowShare = round3(float64(n) / float64(len(hs)))
		}
	}
	r.Histogram = histogram(offs, stormWindow)
	for _, b := range r.Histogram {
		r.MaxBucketShare = max(r.MaxBucketShare, b.Share)
	}
	r.GoalAllBack = r.AllBackSeconds >= 0 && r.AllBackSeconds <= goalAllBack.Seconds()
	r.GoalSpread = r.Attempts > 0 && r.MaxWindowShare <= goalWindowShare
	return r
}

// offsets returns each time's distance from mark.
func offsets(mark time.Time, ts []time.Time) []time.Duration {
	out := make([]time.Duration, len(ts))
	for i, t := range ts {
		out[i] = t.Sub(mark)
	}
	return out
}
