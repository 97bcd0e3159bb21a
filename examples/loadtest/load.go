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

// stallLimit is the longest wait for a reply that is not a stall (issue
// goal: no stall over 1 s).
const stallLimit = time.Second

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
	// CPUSeconds is the process's CPU time (user and system) over the
	// load; CPUPerMessageUS divides it by Answered, in microseconds (-1
	// when unknown). With the embedded platform it includes the platform.
	CPUSeconds      float64 `json:"cpu_seconds"`
	CPUPerMessageUS float64 `json:"cpu_per_message_us"`
	// Stalls counts the replies that took longer than 1 s from the send
	// to the complete reply (the longest is Complete.Max).
	Stalls int `json:"stalls_over_1s"`
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
	for _, d := range r.completes {
		if d > stallLimit {
			lr.Stalls++
		}
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
// under way. It measures the process's CPU time over the load.
func drive(ctx context.Context, o options, f *fleet, rec *recorder) *loadReport {
	sendCtx := ctx
	if o.duration > 0 {
		var cancel context.CancelFunc
		sendCtx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}
	cpu0, ok0 := cpuTime()
	start := time.Now()
	n := 0
	var wg sync.WaitGroup
	for i, m := range f.members {
		if m == nil || !m.ok {
			continue
		}
		for j, t := range m.talks {
			n++
			wg.Go(func() { converse(ctx, sendCtx, o, t, fmt.Sprintf("%d.%d", i, j), rec) })
		}
	}
	wg.Wait()
	cpu1, ok1 := cpuTime()
	lr := rec.report(start, n)
	lr.CPUSeconds, lr.CPUPerMessageUS = -1, -1
	if ok0 && ok1 {
		lr.CPUSeconds = round3((cpu1 - cpu0).Seconds())
		if lr.Answered > 0 {
			lr.CPUPerMessageUS = round3(float64((cpu1-cpu0)/time.Microsecond) / float64(lr.Answered))
		}
	}
	return lr
}

// askResult is the outcome of one message.
type askResult struct {
	sent        bool      // the message went out (SDK: Send accepted it)
	first, done time.Time // its first chunk and its complete reply (zero: none)
	err         error     // why it failed
	stop        bool      // the conversation cannot go on (its client is closed)
}

// talker is one conversation of an SDK client or of a raw one.
type talker interface {
	// ask sends text and waits for the complete reply. sendCtx is the
	// sending window (the SDK waits in it for a full queue to drain).
	ask(ctx, sendCtx context.Context, text string) askResult
}

// sdkTalk is a conversation of an SDK client: a Chat.
type sdkTalk struct {
	ch           *client.Chat
	replyTimeout time.Duration
}

func (s sdkTalk) ask(ctx, sendCtx context.Context, text string) askResult {
	msg, err := s.ch.Send(ctx, text)
	if err != nil {
		if errors.Is(err, client.ErrQueueFull) && ctx.Err() == nil {
			// Let the connection come back before the next message.
			wctx, cancel := context.WithTimeout(sendCtx, s.replyTimeout)
			_ = s.ch.Client().WaitForState(wctx, client.StateReady)
			cancel()
		}
		return askResult{err: err, stop: errors.Is(err, client.ErrClosed)}
	}
	r := askResult{sent: true}
	for chunk, err := range msg.Chunks(ctx) {
		if err != nil {
			r.err = err
			return r
		}
		now := time.Now()
		if r.first.IsZero() {
			r.first = now
		}
		if chunk.Done {
			r.done = now
			return r
		}
	}
	return r
}

// rawTalk is a conversation of a raw client: a chat id on its connection.
type rawTalk struct {
	c            *rawClient
	chatID       string
	replyTimeout time.Duration
}

func (r rawTalk) ask(ctx, _ context.Context, text string) askResult {
	rctx, cancel := context.WithTimeout(ctx, r.replyTimeout)
	defer cancel()
	first, sent, err := r.c.ask(rctx, r.chatID, text)
	res := askResult{sent: sent, first: first, err: err, stop: errors.Is(err, errRawLost)}
	if err == nil {
		res.done = time.Now()
	}
	return res
}

// converse sends the chat's messages one after the other, each after the
// previous reply completed (or failed). It stops sending when sendCtx ends
// and stops waiting when ctx ends.
func converse(ctx, sendCtx context.Context, o options, t talker, name string, rec *recorder) {
	var firsts, completes []time.Duration
	var last time.Time
	defer func() { rec.merge(firsts, completes, last) }()
	for n := 1; o.messages == 0 || n <= o.messages; n++ {
		if sendCtx.Err() != nil {
			return
		}
		t0 := time.Now()
		r := t.ask(ctx, sendCtx, fmt.Sprintf("%s (chat %s, message %d)", o.text, name, n))
		if r.sent {
			rec.sent.Add(1)
		}
		if ctx.Err() != nil {
			return
		}
		switch {
		case r.err != nil:
			rec.fail(r.err)
			if r.stop {
				return
			}
		case !r.done.IsZero():
			first := r.first
			if first.IsZero() {
				first = r.done // a reply without chunks: its first chunk is the reply
			}
			firsts = append(firsts, first.Sub(t0))
			completes = append(completes, r.done.Sub(t0))
			last = r.done
			rec.answered.Add(1)
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
