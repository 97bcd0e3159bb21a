package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// errKind is the kind of a failed message in the report.
type errKind int

// Error kinds, in report order.
const (
	kindTimeout   errKind = iota // no reply in time, or expired in the queue
	kindQueueFull                // the outbound queue refused the message
	kindPlatform                 // an error or rate-limit frame from the platform
	kindClosed                   // the client or chat was closed
	kindOther                    // anything else (a failed connection, say)
	numKinds
)

// String names the kind as the report does.
func (k errKind) String() string {
	return [...]string{"timeout", "queue_full", "platform", "closed", "other"}[k]
}

// classify sorts a message's error into its kind.
func classify(err error) errKind {
	switch {
	case errors.Is(err, client.ErrResponseTimeout), errors.Is(err, client.ErrExpired),
		errors.Is(err, context.DeadlineExceeded):
		return kindTimeout
	case errors.Is(err, client.ErrQueueFull):
		return kindQueueFull
	case errors.As(err, new(*client.PlatformError)), errors.Is(err, client.ErrRateLimited):
		return kindPlatform
	case errors.Is(err, client.ErrClosed):
		return kindClosed
	}
	return kindOther
}

// recorder collects the outcome of every message. Counters are read live by
// the progress line; latency samples are merged by each conversation when
// it ends.
type recorder struct {
	sent, answered, failed atomic.Int64
	kinds                  [numKinds]atomic.Int64

	mu        sync.Mutex
	firsts    []time.Duration // send → first chunk
	completes []time.Duration // send → complete reply
	last      time.Time       // the latest completion
	examples  [numKinds]string
}

// fail records a failed message.
func (r *recorder) fail(err error) {
	k := classify(err)
	r.failed.Add(1)
	if r.kinds[k].Add(1) == 1 {
		r.mu.Lock()
		if r.examples[k] == "" {
			r.examples[k] = err.Error()
		}
		r.mu.Unlock()
	}
}

// merge adds one conversation's latency samples.
func (r *recorder) merge(firsts, completes []time.Duration, last time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.firsts = append(r.firsts, firsts...)
	r.completes = append(r.completes, completes...)
	if last.After(r.last) {
		r.last = last
	}
}

// loadReport describes the message load.
type loadReport struct {
	// Conversations is the number of chats that sent messages.
	Conversations int `json:"conversations"`
	// Sent counts messages accepted by Send; Answered those whose reply
	// completed; Failed those that got an error (at Send or after).
	Sent     int64 `json:"sent"`
	Answered int64 `json:"answered"`
	Failed   int64 `json:"failed"`
	// Seconds runs from the first send to the last complete reply.
	Seconds float64 `json:"seconds"`
	// Throughput is Answered / Seconds.
	Throughput float64 `json:"messages_per_second"`
	// FirstChunk and Complete are the latencies from Send to the first
	// chunk and to the complete reply.
	FirstChunk percentiles `json:"first_chunk_ms"`
	Complete   percentiles `json:"complete_ms"`
	// Errors counts failed messages by kind.
	Errors map[string]int64 `json:"errors"`
	// ErrorExamples holds the first error of each kind seen.
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
}

// report summarizes what the recorder holds; the load started at start.
func (r *recorder) report(start time.Time, conversations int) *loadReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	lr := &loadReport{
		Conversations: conversations,
		Sent:          r.sent.Load(),
		Answered:      r.answered.Load(),
		Failed:        r.failed.Load(),
		FirstChunk:    summarize(r.firsts),
		Complete:      summarize(r.completes),
		Errors:        map[string]int64{},
	}
	for k := range numKinds {
		lr.Errors[k.String()] = r.kinds[k].Load()
		if r.examples[k] != "" {
			if lr.ErrorExamples == nil {
				lr.ErrorExamples = map[string]string{}
			}
			lr.ErrorExamples[k.String()] = r.examples[k]
		}
	}
	if !r.last.IsZero() {
		secs := r.last.Sub(start).Seconds()
		lr.Seconds = round3(secs)
		if secs > 0 {
			lr.Throughput = round3(float64(lr.Answered) / secs)
		}
	}
	return lr
}

// runLoad connects the fleet, runs the conversations and, with -storm, the
// restart next to them.
func runLoad(ctx context.Context, o options, f *fleet, srv *platformtest.Server, rep *report, prog *progress) {
	prog.setPhase("connect")
	rep.Connect = f.connect(ctx, o)
	if ctx.Err() != nil {
		return
	}
	rec := &recorder{}
	if !o.noLoad {
		prog.rec.Store(rec)
		prog.setPhase("load")
	}
	var wg sync.WaitGroup
	if o.storm {
		wg.Go(func() { rep.Storm = runStorm(ctx, o, f, srv, prog) })
	}
	if !o.noLoad {
		rep.Load = drive(ctx, o, f, rec)
	}
	if o.storm {
		prog.setPhase("storm")
	}
	wg.Wait()
}

// drive runs one conversation per chat of every ready client until each
// has sent its messages or the duration is over, and waits for the replies
// under way.
func drive(ctx context.Context, o options, f *fleet, rec *recorder) *loadReport {
	sendCtx := ctx
	if o.duration > 0 {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	start := time.Now()
	n := 0
	var wg sync.WaitGroup
	for i, m := range f.members {
		if m == nil || !m.ok {
			continue
		}
		for j, ch := range m.chats {
			n++
			wg.Go(func() { converse(ctx, sendCtx, o, ch, fmt.Sprintf("%d.%d", i, j), rec) })
		}
	}
	wg.Wait()
	return rec.report(start, n)
}

// converse sends the chat's messages one after the other, each after the
// previous reply completed (or failed). It stops sending when sendCtx ends
// and stops waiting when ctx ends.
func converse(ctx, sendCtx context.Context, o options, ch *client.Chat, name string, rec *recorder) {
	var firsts, completes []time.Duration
	var last time.Time
	defer func() { rec.merge(firsts, completes, last) }()
	for n := 1; o.messages == 0 || n <= o.messages; n++ {
		if sendCtx.Err() != nil {
			return
		}
		t0 := time.Now()
		msg, err := ch.Send(ctx, fmt.Sprintf("%s (chat %s, message %d)", o.text, name, n))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			rec.fail(err)
			switch {
			case errors.Is(err, client.ErrClosed):
				return
			case errors.Is(err, client.ErrQueueFull):
				// Let the connection come back before the next message.
				wctx, cancel := context.WithTimeout(sendCtx, o.replyTimeout)
				_ = ch.Client().WaitForState(wctx, client.StateReady)
				cancel()
			}
			continue
		}
		rec.sent.Add(1)
		first := time.Duration(-1)
		for chunk, err := range msg.Chunks(ctx) {
			if err != nil {
				if ctx.Err() == nil {
					rec.fail(err)
				}
				break
			}
			d := time.Since(t0)
			if first < 0 {
				first = d // a reply without chunks: its first chunk is the reply
			}
			if chunk.Done {
				firsts = append(firsts, first)
				completes = append(completes, d)
				last = t0.Add(d)
				rec.answered.Add(1)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if o.think > 0 {
			t := time.NewTimer(o.think)
			select {
			case <-t.C:
			case <-sendCtx.Done():
				t.Stop()
			}
		}
	}
}
