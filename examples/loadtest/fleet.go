package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miptechnologies/miptech-go/client"
)

// closeTimeout bounds the Close of one client at the end of a run.
const closeTimeout = 10 * time.Second

// closeConcurrency is the number of clients closed at the same time.
const closeConcurrency = 64

// fleet is the clients of a run and what is observed of them: how many are
// ready now, and, during a storm, each one's way back. Its clients are SDK
// clients, or raw clients (raw.go) when raw is set.
type fleet struct {
	cfg client.Config
	raw *rawEndpoint // raw clients instead of SDK clients
	// members[i] is written once by the connect worker that creates client
	// i, and read after the connect phase; nil for a client never created.
	members []*member
	ready   atomic.Int64 // clients in state ready now
	watch   atomic.Pointer[stormWatch]

	closeOnce sync.Once
	closeSlow atomic.Int64 // clients whose Close did not finish in time
}

// member is one client and its chats: an SDK client (c) or a raw one.
type member struct {
	c     *client.Client
	raw   *rawClient
	talks []talker // one per chat
	ok    bool     // ready at the end of the connect phase

	// Storm observation, guarded by stormWatch.mu.
	inStorm, lost, tried, back, failed bool
}

// newFleet returns a fleet of n SDK clients, or of n raw clients when raw
// is true.
func newFleet(cfg client.Config, n int, raw bool) *fleet {
	f := &fleet{cfg: cfg, members: make([]*member, n)}
	if raw {
		e := newRawEndpoint(cfg)
		f.raw = &e
	}
	return f
}

// connectReport describes the connect phase.
type connectReport struct {
	// Ready is the number of clients ready at the end of the phase.
	Ready int `json:"ready"`
	// Failed is the number of clients that could not connect (or were not
	// started because the run was interrupted).
	Failed int `json:"failed"`
	// Seconds is the time until the last client was ready.
	Seconds float64 `json:"seconds"`
	// PerClient is the time from creating a client to ready.
	PerClient percentiles `json:"per_client_ms"`
	// FirstError is the first connection failure, if any.
	FirstError string `json:"first_error,omitempty"`
}

// connect creates the clients, -connect-concurrency at a time: each opens
// its chats (REST creation, then join) and waits until ready.
func (f *fleet) connect(ctx context.Context, o options) connectReport {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
	defer cancel()
	var (
		mu       sync.Mutex
		times    []time.Duration
		failed   int
		firstErr error
		last     time.Time
	)
	idx := make(chan int)
	var wg sync.WaitGroup
	for range min(o.connectConcurrency, len(f.members)) {
		wg.Go(func() {
			for i := range idx {
				t0 := time.Now()
				err := f.connectOne(pctx, i, o)
				now := time.Now()
				mu.Lock()
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = fmt.Errorf("client %d: %w", i, err)
					}
				} else {
					times = append(times, now.Sub(t0))
					last = now
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range f.members {
		select {
		case idx <- i:
		case <-pctx.Done():
			break feed
		}
	}
	close(idx)
	wg.Wait()
	rep := connectReport{Ready: len(times), Failed: len(f.members) - len(times), PerClient: summarize(times)}
	if !last.IsZero() {
		rep.Seconds = round3(last.Sub(start).Seconds())
	}
	if firstErr == nil && failed < rep.Failed {
		firstErr = fmt.Errorf("%d clients not started: %w", rep.Failed-failed, context.Cause(pctx))
	}
	if firstErr != nil {
		rep.FirstError = firstErr.Error()
	}
	return rep
}

// connectOne creates client i with its chats and waits until it is ready.
func (f *fleet) connectOne(ctx context.Context, i int, o options) error {
	if f.raw != nil {
		return f.connectRaw(ctx, i, o)
	}
	c, err := client.New(f.cfg)
	if err != nil {
		return err
	}
	m := &member{c: c}
	f.members[i] = m
	c.OnStateChange(f.observer(m))
	for j := range o.chats {
		ch, err := c.NewChat(ctx, client.ChatOptions{Title: fmt.Sprintf("loadtest %d.%d", i, j)})
		if err != nil {
			return fmt.Errorf("new chat: %w", err)
		}
		m.talks = append(m.talks, sdkTalk{ch: ch, replyTimeout: o.replyTimeout})
	}
	if err := c.Connect(ctx); err != nil {
		return err
	}
	m.ok = true
	return nil
}

// connectRaw creates raw client i: its chats over REST, then the
// connection, ready and joined.
func (f *fleet) connectRaw(ctx context.Context, i int, o options) error {
	ids := make([]string, o.chats)
	for j := range ids {
		id, err := f.raw.createChat(ctx, fmt.Sprintf("loadtest %d.%d", i, j))
		if err != nil {
			return err
		}
		ids[j] = id
	}
	rc, err := dialRaw(ctx, *f.raw, ids)
	if err != nil {
		return err
	}
	m := &member{raw: rc, ok: true}
	for _, id := range ids {
		m.talks = append(m.talks, rawTalk{c: rc, chatID: id, replyTimeout: o.replyTimeout})
	}
	f.members[i] = m
	f.ready.Add(1)
	return nil
}

// observer returns the state-change callback of a member: it keeps the
// ready count and feeds the storm watch.
func (f *fleet) observer(m *member) func(client.StateChange) {
	return func(sc client.StateChange) {
		if sc.Current == client.StateReady && sc.Previous != client.StateReady {
			f.ready.Add(1)
		}
		if sc.Previous == client.StateReady && sc.Current != client.StateReady {
			f.ready.Add(-1)
		}
		if w := f.watch.Load(); w != nil {
			w.observe(m, sc)
		}
	}
}

// live returns the members that were ready after the connect phase.
func (f *fleet) live() []*member {
	var out []*member
	for _, m := range f.members {
		if m != nil && m.ok {
			out = append(out, m)
		}
	}
	return out
}

// totals sums the reconnects and dropped duplicates of every client.
func (f *fleet) totals() (reconnects, duplicates uint64) {
	for _, m := range f.members {
		if m == nil || m.c == nil {
			continue
		}
		s := m.c.Stats()
		reconnects += s.Reconnects
		duplicates += s.DuplicatesDropped
	}
	return reconnects, duplicates
}

// close closes every client, closeConcurrency at a time, and reports how
// many did not finish within closeTimeout. It is idempotent.
func (f *fleet) close() int {
	f.closeOnce.Do(func() {
		ms := make(chan *member)
		var wg sync.WaitGroup
		for range closeConcurrency {
			wg.Go(func() {
				for m := range ms {
					if m.raw != nil {
						m.raw.close()
						continue
					}
					ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
					if err := m.c.Close(ctx); err != nil {
						f.closeSlow.Add(1)
					}
					cancel()
				}
			})
		}
		for _, m := range f.members {
			if m != nil {
				ms <- m
			}
		}
		close(ms)
		wg.Wait()
	})
	return int(f.closeSlow.Load())
}
