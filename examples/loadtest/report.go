package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// report is everything a run measured. It is printed as a table or, with
// -json, as one JSON object of this shape.
type report struct {
	// Client is "sdk" or "raw": the clients measured.
	Client string `json:"client"`
	// Platform is "embedded" or the API URL.
	Platform       string `json:"platform"`
	Clients        int    `json:"clients"`
	ChatsPerClient int    `json:"chats_per_client"`
	// FileLimit is the process's open-file limit during the run (0 when
	// unknown).
	FileLimit uint64        `json:"file_limit,omitempty"`
	Connect   connectReport `json:"connect"`
	Load      *loadReport   `json:"load,omitempty"`
	Storm     *stormReport  `json:"storm,omitempty"`
	Idle      *idleReport   `json:"idle,omitempty"`
	// Reconnects and DuplicatesDropped sum the clients' Stats.
	Reconnects        uint64 `json:"reconnects"`
	DuplicatesDropped uint64 `json:"duplicates_dropped"`
	// SlowCloses counts clients whose Close did not return in time.
	SlowCloses int `json:"slow_closes,omitempty"`
	// Interrupted is true when the run was cancelled (SIGINT).
	Interrupted bool `json:"interrupted,omitempty"`
}

// failed reports whether the run saw failures: a client that did not
// connect, a failed message, a client that did not come back after a storm.
func (r *report) failed() bool {
	switch {
	case r.Connect.Failed > 0:
		return true
	case r.Load != nil && (r.Load.Failed > 0 || r.Load.Answered < r.Load.Sent):
		return true
	case r.Storm != nil && r.Storm.Back < r.Storm.Clients:
		return true
	}
	return false
}

// notes returns the diagnostics that go to stderr after the report.
func (r *report) notes() []string {
	var out []string
	if r.Connect.FirstError != "" {
		out = append(out, "first connection failure: "+r.Connect.FirstError)
	}
	if r.Load != nil {
		for k := range numKinds {
			if e := r.Load.ErrorExamples[k.String()]; e != "" {
				out = append(out, fmt.Sprintf("first %s error: %s", k, e))
			}
		}
	}
	if r.SlowCloses > 0 {
		out = append(out, fmt.Sprintf("%d clients did not close within %s", r.SlowCloses, closeTimeout))
	}
	if r.Interrupted {
		out = append(out, "interrupted; the report covers what was done")
	}
	return out
}

// write prints the report as a table or as JSON.
func (r *report) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	var b strings.Builder
	r.writeTable(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable renders the human-readable report.
func (r *report) writeTable(b *strings.Builder) {
	platform := "the embedded fake platform"
	if r.Platform != "embedded" {
		platform = r.Platform
	}
	who := ""
	if r.Client == clientRaw {
		who = " (raw gorilla clients)"
	}
	fmt.Fprintf(b, "loadtest: %s × %s%s on %s\n", plural(r.Clients, "client"), plural(r.ChatsPerClient, "chat"), who, platform)
	c := r.Connect
	fmt.Fprintf(b, "connect      %d/%d clients ready in %s (per client p50 %s, p99 %s, max %s)",
		c.Ready, r.Clients, secs(c.Seconds), msText(c.PerClient.P50), msText(c.PerClient.P99), msText(c.PerClient.Max))
	if c.Failed > 0 {
		fmt.Fprintf(b, "; %d failed", c.Failed)
	}
	b.WriteString("\n")
	if l := r.Load; l != nil {
		fmt.Fprintf(b, "messages     %d conversations: %d sent, %d answered, %d failed in %s: %.1f messages/s\n",
			l.Conversations, l.Sent, l.Answered, l.Failed, secs(l.Seconds), l.Throughput)
		b.WriteString("\n")
		fmt.Fprintf(b, "%-20s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "p50", "p90", "p95", "p99", "max", "samples")
		for _, row := range []struct {
			name string
			p    percentiles
		}{{"send to first chunk", l.FirstChunk}, {"send to complete", l.Complete}} {
			fmt.Fprintf(b, "%-20s %9.2f %9.2f %9.2f %9.2f %9.2f %9d\n", row.name, row.p.P50, row.p.P90, row.p.P95, row.p.P99, row.p.Max, row.p.Count)
		}
		b.WriteString("\n")
		if l.CPUPerMessageUS >= 0 {
			fmt.Fprintf(b, "cpu          %s of process CPU time, %.1f µs per answered message\n", secs(l.CPUSeconds), l.CPUPerMessageUS)
		}
		fmt.Fprintf(b, "stalls       %d replies took over 1s (longest %s)\n", l.Stalls, msText(l.Complete.Max))
		fmt.Fprintf(b, "errors       timeout %d, queue full %d, platform error %d, closed %d, other %d\n",
			l.Errors[kindTimeout.String()], l.Errors[kindQueueFull.String()], l.Errors[kindPlatform.String()],
			l.Errors[kindClosed.String()], l.Errors[kindOther.String()])
	}
	fmt.Fprintf(b, "reconnects   %d\n", r.Reconnects)
	fmt.Fprintf(b, "duplicates   %d dropped\n", r.DuplicatesDropped)
	if s := r.Storm; s != nil {
		s.writeTable(b)
	}
	if i := r.Idle; i != nil {
		i.writeTable(b, r.Platform == "embedded")
	}
}

// writeTable renders the storm section.
func (s *stormReport) writeTable(b *strings.Builder) {
	b.WriteString("\n")
	what := map[string]string{
		stormClose1001: "close 1001 to every connection (platformtest DropAll(1001))",
		stormAbrupt:    "TCP reset of every connection (platformtest DropAllAbrupt)",
		"observed":     "external platform restarted; measured from the first lost connection",
	}[s.Kind]
	fmt.Fprintf(b, "storm        %s: %s\n", s.Kind, what)
	goalBack := time.Duration(s.GoalAllBackSeconds * float64(time.Second))
	if s.AllBackSeconds >= 0 {
		fmt.Fprintf(b, "back         %d/%d clients ready again in %s (goal ≤ %s: %s)\n",
			s.Back, s.Clients, secs(s.AllBackSeconds), goalBack, metText(s.GoalAllBack))
	} else {
		fmt.Fprintf(b, "back         %d/%d clients ready again (%d lost the connection, %d failed); not all back (goal ≤ %s: missed)\n",
			s.Back, s.Clients, s.Lost, s.Failed, goalBack)
	}
	for _, row := range []struct {
		name string
		p    percentiles
	}{{"lost", s.LostPerClient}, {"1st attempt", s.FirstAttemptPerClient}, {"ready again", s.BackPerClient}} {
		p := row.p
		fmt.Fprintf(b, "  %-12s p50 %s, p90 %s, p99 %s, max %s after the restart\n", row.name, msText(p.P50), msText(p.P90), msText(p.P99), msText(p.Max))
	}
	fmt.Fprintf(b, "attempts     %d client attempt starts; largest share in any 100 ms window %.1f%% at +%s (goal ≤ %.0f%%: %s); largest bucket %.1f%%\n",
		s.Attempts, 100*s.MaxWindowShare, msText(s.MaxWindowStartMS), 100*s.GoalWindowShare, metText(s.GoalSpread), 100*s.MaxBucketShare)
	if d := s.FirstDelayPerClient; d.Count > 0 {
		fmt.Fprintf(b, "             %d first delays drawn by the clients: p50 %s, max %s, spread over %s; largest share in any 100 ms window %.1f%%\n",
			d.Count, msText(d.P50), msText(d.Max), msText(s.FirstDelaySpanMS), 100*s.FirstDelayMaxWindowShare)
	}
	if s.PlatformHandshakes > 0 {
		fmt.Fprintf(b, "             %d handshakes seen by the embedded platform; largest share in any 100 ms window %.1f%%\n",
			s.PlatformHandshakes, 100*s.PlatformMaxWindowShare)
	}
	if len(s.Histogram) > 0 {
		fmt.Fprintf(b, "\nclient attempt starts per 100 ms after the restart:\n")
		writeHistogram(b, s.Histogram)
	}
}

// writeHistogram renders buckets as text bars; a run of three or more empty
// buckets is folded into one line.
func writeHistogram(b *strings.Builder, hs []bucket) {
	const width = 50
	peak := 0
	for _, h := range hs {
		peak = max(peak, h.Count)
	}
	label := func(h bucket) string { return fmt.Sprintf("+%.1fs", h.StartMS/1000) }
	for i := 0; i < len(hs); i++ {
		h := hs[i]
		if h.Count == 0 {
			j := i
			for j+1 < len(hs) && hs[j+1].Count == 0 {
				j++
			}
			if j-i >= 2 {
				fmt.Fprintf(b, "  %7s … %s: none\n", label(h), label(hs[j]))
				i = j
				continue
			}
		}
		bar := 0
		if peak > 0 {
			bar = (h.Count*width + peak - 1) / peak
		}
		fmt.Fprintf(b, "  %7s %6d %5.1f%% %s\n", label(h), h.Count, 100*h.Share, strings.Repeat("#", bar))
	}
}

// metText renders a goal result.
func metText(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// secs renders seconds for the table.
func secs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Millisecond).String()
}

// msText renders milliseconds for the table: to 0.1 ms below a second, to
// the millisecond above.
func msText(v float64) string {
	d := time.Duration(v * float64(time.Millisecond))
	if d >= time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

// plural renders "1 chat", "2 chats".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// percentiles summarizes latency samples, in milliseconds.
type percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// maxDuration returns Max as a duration.
func (p percentiles) maxDuration() time.Duration {
	return time.Duration(p.Max * float64(time.Millisecond))
}

// summarize returns the percentiles of samples (nearest rank). It sorts a
// copy.
func summarize(samples []time.Duration) percentiles {
	if len(samples) == 0 {
		return percentiles{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	return percentiles{
		Count: len(s),
		P50:   round3(ms(rank(s, 50))),
		P90:   round3(ms(rank(s, 90))),
		P95:   round3(ms(rank(s, 95))),
		P99:   round3(ms(rank(s, 99))),
		Max:   round3(ms(s[len(s)-1])),
	}
}

// rank returns the p-th percentile of sorted s by the nearest-rank method:
// the smallest sample with at least p % of the samples at or below it.
func rank(s []time.Duration, p int) time.Duration {
	i := (p*len(s)+99)/100 - 1
	return s[min(max(i, 0), len(s)-1)]
}

// bucket is one bar of a histogram.
type bucket struct {
	// StartMS is the bucket's start, in milliseconds after the restart.
	StartMS float64 `json:"start_ms"`
	Count   int     `json:"count"`
	// Share is Count over all attempts.
	Share float64 `json:"share"`
}

// histogram counts offsets in buckets of width w, from the first non-empty
// bucket to the last (empty ones in between included).
func histogram(offs []time.Duration, w time.Duration) []bucket {
	if len(offs) == 0 {
		return nil
	}
	idx := func(d time.Duration) int64 { return int64(math.Floor(float64(d) / float64(w))) }
	lo, hi := idx(slices.Min(offs)), idx(slices.Max(offs))
	counts := make([]int, hi-lo+1)
	for _, d := range offs {
		counts[idx(d)-lo]++
	}
	out := make([]bucket, len(counts))
	for i, n := range counts {
		out[i] = bucket{StartMS: ms(time.Duration(lo+int64(i)) * w), Count: n, Share: round3(float64(n) / float64(len(offs)))}
	}
	return out
}

// maxWindow returns the largest number of offsets in any window [t, t+w)
// and the start of the first such window (a sliding window, not fixed
// buckets).
func maxWindow(offs []time.Duration, w time.Duration) (int, time.Duration) {
	s := slices.Clone(offs)
	slices.Sort(s)
	best, at, j := 0, time.Duration(0), 0
	for i := range s {
		for s[i]-s[j] >= w {
			j++
		}
		if n := i - j + 1; n > best {
			best, at = n, s[j]
		}
	}
	return best, at
}

// ms converts a duration to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// round3 rounds to three decimals, for readable JSON.
func round3(v float64) float64 { return math.Round(v*1000) / 1000 }
