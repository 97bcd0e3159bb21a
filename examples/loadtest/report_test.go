package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/miptechnologies/miptech-go/client"
)

func msList(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestMaxWindow_CountsTheBusiestSlidingWindowNotFixedBuckets(t *testing.T) {
	tests := []struct {
		name   string
		in     []time.Duration
		want   int
		wantAt time.Duration
	}{
		{"empty", nil, 0, 0},
		{"one", msList(500), 1, 500 * time.Millisecond},
		{"straddling a bucket edge", msList(950, 990, 1010, 1040, 1300), 4, 950 * time.Millisecond},
		{"window end is exclusive", msList(0, 100, 200), 1, 0},
		{"unsorted input", msList(1200, 800, 810, 1250, 820), 3, 800 * time.Millisecond},
		{"a herd", msList(1000, 1000, 1000, 1000), 4, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, at := maxWindow(tt.in, 100*time.Millisecond)
			assert.Equal(t, tt.want, n)
			assert.Equal(t, tt.wantAt, at)
		})
	}
}

func TestHistogram_SpansFirstToLastNonEmptyBucketWithShares(t *testing.T) {
	got := histogram(msList(820, 850, 1190, 1005), 100*time.Millisecond)
	assert.Equal(t, []bucket{
		{StartMS: 800, Count: 2, Share: 0.5},
		{StartMS: 900, Count: 0, Share: 0},
		{StartMS: 1000, Count: 1, Share: 0.25},
		{StartMS: 1100, Count: 1, Share: 0.25},
	}, got)
	assert.Nil(t, histogram(nil, 100*time.Millisecond))
}

func TestSummarize_UsesNearestRankPercentiles(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- {
		samples = append(samples, time.Duration(i)*time.Millisecond)
	}
	p := summarize(samples)
	assert.Equal(t, percentiles{Count: 100, P50: 50, P90: 90, P95: 95, P99: 99, Max: 100}, p)
	assert.Equal(t, time.Duration(100), samples[0]/time.Millisecond, "the caller's slice is not sorted")
	assert.Equal(t, percentiles{Count: 1, P50: 7, P90: 7, P95: 7, P99: 7, Max: 7}, summarize(msList(7)))
	assert.Equal(t, percentiles{}, summarize(nil))
}

func TestClassify_SortsMessageErrorsIntoTheReportKinds(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want errKind
	}{
		{"response timeout", client.ErrResponseTimeout, kindTimeout},
		{"expired in the queue", fmt.Errorf("send: %w", client.ErrExpired), kindTimeout},
		{"context deadline", context.DeadlineExceeded, kindTimeout},
		{"queue full", client.ErrQueueFull, kindQueueFull},
		{"platform error frame", &client.PlatformError{Code: "ai_service_error"}, kindPlatform},
		{"rate limited", &client.RateLimitError{RetryAfter: time.Second}, kindPlatform},
		{"closed", client.ErrClosed, kindClosed},
		{"connection failed", &client.FailedError{Attempts: 6}, kindOther},
		{"anything else", errors.New("boom"), kindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, classify(tt.err))
		})
	}
}

func TestReport_FailedWhenAnythingWasLost(t *testing.T) {
	ok := func() *report {
		return &report{Connect: connectReport{Ready: 2}, Load: &loadReport{Sent: 4, Answered: 4},
			Storm: &stormReport{Clients: 2, Back: 2}}
	}
	assert.False(t, ok().failed())
	tests := []struct {
		name   string
		mutate func(*report)
	}{
		{"a client did not connect", func(r *report) { r.Connect.Failed = 1 }},
		{"a message failed", func(r *report) { r.Load.Failed = 1 }},
		{"a message was never answered", func(r *report) { r.Load.Answered = 3 }},
		{"a client did not come back", func(r *report) { r.Storm.Back = 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.mutate(r)
			assert.True(t, r.failed())
		})
	}
}

func TestWriteHistogram_ScalesBarsToThePeak(t *testing.T) {
	var b strings.Builder
	writeHistogram(&b, []bucket{{StartMS: 800, Count: 10, Share: 0.5}, {StartMS: 900, Count: 5, Share: 0.25}, {StartMS: 1000, Count: 0}})
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	assert.Equal(t, []string{
		"    +0.8s     10  50.0% " + strings.Repeat("#", 50),
		"    +0.9s      5  25.0% " + strings.Repeat("#", 25),
		"    +1.0s      0   0.0% ",
	}, lines)
}

func TestWriteHistogram_FoldsRunsOfThreeEmptyBuckets(t *testing.T) {
	var b strings.Builder
	writeHistogram(&b, []bucket{{StartMS: 800, Count: 4, Share: 0.5}, {StartMS: 900}, {StartMS: 1000}, {StartMS: 1100},
		{StartMS: 1200, Count: 2, Share: 0.25}, {StartMS: 1300}, {StartMS: 1400}, {StartMS: 1500, Count: 2, Share: 0.25}})
	assert.Equal(t, []string{
		"    +0.8s      4  50.0% " + strings.Repeat("#", 50),
		"    +0.9s … +1.1s: none",
		"    +1.2s      2  25.0% " + strings.Repeat("#", 25),
		"    +1.3s      0   0.0% ",
		"    +1.4s      0   0.0% ",
		"    +1.5s      2  25.0% " + strings.Repeat("#", 25),
	}, strings.Split(strings.TrimRight(b.String(), "\n"), "\n"))
}

// stormOf returns the report of a storm of len(attempts) clients that lost
// their connection at the restart, drew delays, started their first
// attempt at attempts and were ready again at back (offsets from the
// restart).
func stormOf(kind string, delays, attempts, back []time.Duration) *stormReport {
	mark := time.Unix(1000, 0)
	n := len(attempts)
	w := &stormWatch{mark: mark, total: n, lost: n, back: len(back),
		lostAt: make([]time.Duration, n), firstAt: attempts, backAt: back, delays: delays}
	for _, d := range attempts {
		w.attempts = append(w.attempts, mark.Add(d))
	}
	return w.report(kind, nil, false)
}

// evenly returns n offsets from start, step apart.
func evenly(n int, start, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = start + time.Duration(i)*step
	}
	return out
}

func TestStormReport_JudgesAClose1001AgainstFourSecondsAndTenPercent(t *testing.T) {
	spread := evenly(100, 0, 20*time.Millisecond) // 5 per 100 ms over 2 s
	bunched := func(inOne int) []time.Duration {
		// inOne attempts 1 ms apart, the rest 200 ms apart.
		out := evenly(inOne, time.Second, time.Millisecond)
		return append(out, evenly(100-inOne, 2*time.Second, 200*time.Millisecond)...)
	}
	tests := []struct {
		name               string
		kind               string
		attempts           []time.Duration
		lastBack           time.Duration
		wantBack, wantSpan bool
	}{
		{"spread over 2 s, back in 3.9 s", stormClose1001, spread, 3900 * time.Millisecond, true, true},
		{"10 % in one window is within the goal", stormClose1001, bunched(10), 3900 * time.Millisecond, true, true},
		{"11 % in one window misses it", stormClose1001, bunched(11), 3900 * time.Millisecond, true, false},
		{"the last client back after 4.1 s misses it", stormClose1001, spread, 4100 * time.Millisecond, false, true},
		{"the SDK's old 1 s ± 20 %: 28 % in one window", stormClose1001, bunched(28), 1250 * time.Millisecond, true, false},
		{"abrupt keeps SPEC §10's 10 s and 30 %", stormAbrupt, bunched(28), 4100 * time.Millisecond, true, true},
		{"abrupt over 30 %", stormAbrupt, bunched(31), 4100 * time.Millisecond, true, false},
		{"observed keeps SPEC §10's 10 s", "observed", spread, 10100 * time.Millisecond, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			back := append(evenly(99, tt.lastBack-time.Second, 10*time.Millisecond), tt.lastBack)
			r := stormOf(tt.kind, nil, tt.attempts, back)
			want := goalSPEC
			if tt.kind == stormClose1001 {
				want = stormGoal{AllBack: 4 * time.Second, WindowShare: 0.10}
			}
			assert.Equal(t, want.AllBack.Seconds(), r.GoalAllBackSeconds)
			assert.Equal(t, want.WindowShare, r.GoalWindowShare)
			assert.Equal(t, tt.lastBack.Seconds(), r.AllBackSeconds)
			assert.Equal(t, tt.wantBack, r.GoalAllBack, "all back")
			assert.Equal(t, tt.wantSpan, r.GoalSpread, "spread (largest window %.3f)", r.MaxWindowShare)
		})
	}
}

func TestStormReport_NotAllBackMissesTheGoal(t *testing.T) {
	r := stormOf(stormClose1001, nil, evenly(10, 0, 200*time.Millisecond), evenly(9, time.Second, 10*time.Millisecond))
	assert.Equal(t, -1.0, r.AllBackSeconds)
	assert.False(t, r.GoalAllBack)
}

func TestStormReport_SummarizesTheDelaysTheClientsDrew(t *testing.T) {
	delays := append(evenly(8, 100*time.Millisecond, 200*time.Millisecond), 1520*time.Millisecond, 1540*time.Millisecond)
	r := stormOf(stormClose1001, delays, evenly(10, 0, 200*time.Millisecond), evenly(10, time.Second, 10*time.Millisecond))
	assert.Equal(t, 10, r.FirstDelayPerClient.Count)
	assert.Equal(t, 1540.0, r.FirstDelayPerClient.Max)
	assert.Equal(t, 1440.0, r.FirstDelaySpanMS)
	assert.Equal(t, 0.3, r.FirstDelayMaxWindowShare, "1500, 1520 and 1540 ms share a window")

	var b strings.Builder
	r.writeTable(&b)
	out := b.String()
	assert.Contains(t, out, "(goal ≤ 4s: met)")
	assert.Contains(t, out, "(goal ≤ 10%: met)")
	assert.Contains(t, out, "10 first delays drawn by the clients: p50 900ms, max 1.54s, spread over 1.44s; largest share in any 100 ms window 30.0%")
}
