package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// Goals of the SDK against the raw client, side by side in one run.
const (
	goalThroughputRatio = 0.95     // load: SDK messages/s ≥ 0.95 × raw
	goalCPUPerMsgRatio  = 1.3      // load: SDK CPU per message ≤ 1.3 × raw
	goalIdleCPURatio    = 1.5      // idle: SDK CPU ≤ 1.5 × raw
	goalRSSRatio        = 1.5      // idle: SDK RSS per client ≤ 1.5 × raw
	goalGoroutines      = 3.0      // idle: SDK goroutines per client
	goalIdleHeap        = 10 << 10 // idle: SDK heap per client, bytes
)

// comparison is the report of -client both: rounds of an SDK run and a raw
// run with the same flags, the SDK ÷ raw ratios of each round, their
// median and spread, and the goals judged on the medians.
type comparison struct {
	Client   string  `json:"client"` // "both"
	Platform string  `json:"platform"`
	Rounds   []round `json:"rounds"`
	// The SDK ÷ raw ratios over the rounds (nil when not measured).
	Throughput          *spread `json:"throughput_ratio,omitempty"`
	CPUPerMessage       *spread `json:"cpu_per_message_ratio,omitempty"`
	IdleCPU             *spread `json:"idle_cpu_ratio,omitempty"`
	HeapPerClient       *spread `json:"heap_per_client_ratio,omitempty"`
	RSSPerClient        *spread `json:"rss_per_client_ratio,omitempty"`
	GoroutinesPerClient *spread `json:"goroutines_per_client_ratio,omitempty"`
	// Goals are the goals judged on the medians.
	Goals       []goal `json:"goals"`
	Interrupted bool   `json:"interrupted,omitempty"`
}

// round is one SDK run and one raw run; First says which ran first.
type round struct {
	First string  `json:"first"`
	SDK   *report `json:"sdk"`
	Raw   *report `json:"raw"`
}

// spread is the median, least and greatest of a ratio over the rounds.
type spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// goal is one goal judged: Got against Want, compared by Op (">=" or
// "<=").
type goal struct {
	Name string  `json:"name"`
	Op   string  `json:"op"`
	Want float64 `json:"want"`
	Got  float64 `json:"got"`
	Met  bool    `json:"met"`
	// Raw is the raw client's figure for an absolute goal judged on the
	// SDK alone (the longest wait), for reference; 0 otherwise.
	Raw float64 `json:"raw,omitempty"`
}

// runBoth runs -rounds rounds of an SDK run and a raw run, alternating
// which goes first, and compares them.
func runBoth(ctx context.Context, o options, cfg client.Config, srv *platformtest.Server, tr *http.Transport, limit uint64, stderr io.Writer) *comparison {
	cmp := &comparison{Client: clientBoth, Platform: platformName(o, cfg)}
	for i := range o.rounds {
		order := []string{clientSDK, clientRaw}
		if i%2 == 1 {
			order = []string{clientRaw, clientSDK}
		}
		rd := round{First: order[0]}
		for _, kind := range order {
			if ctx.Err() != nil {
				break
			}
			ko := o
			if o.memProfile != "" {
				ko.memProfile = fmt.Sprintf("%s.%d.%s", o.memProfile, i+1, kind)
			}
			rep := runOne(ctx, ko, kind, cfg, srv, tr, limit, stderr)
			if kind == clientSDK {
				rd.SDK = rep
			} else {
				rd.Raw = rep
			}
		}
		if rd.SDK == nil || rd.Raw == nil {
			cmp.Interrupted = true
			break
		}
		cmp.Rounds = append(cmp.Rounds, rd)
	}
	cmp.Interrupted = cmp.Interrupted || ctx.Err() != nil
	cmp.summarize()
	return cmp
}

// summarize computes the ratios' spreads and judges the goals.
func (c *comparison) summarize() {
	ratios := func(f func(r round) (sdk, raw float64, ok bool)) *spread {
		var rs []float64
		for _, r := range c.Rounds {
			if s, w, ok := f(r); ok && s >= 0 && w > 0 {
				rs = append(rs, round3(s/w))
			}
		}
		return spreadOf(rs)
	}
	load := func(get func(l *loadReport) float64) func(r round) (float64, float64, bool) {
		return func(r round) (float64, float64, bool) {
			if r.SDK.Load == nil || r.Raw.Load == nil {
				return 0, 0, false
			}
			return get(r.SDK.Load), get(r.Raw.Load), true
		}
	}
	idle := func(get func(i *idleReport) float64) func(r round) (float64, float64, bool) {
		return func(r round) (float64, float64, bool) {
			if r.SDK.Idle == nil || r.Raw.Idle == nil {
				return 0, 0, false
			}
			return get(r.SDK.Idle), get(r.Raw.Idle), true
		}
	}
	c.Throughput = ratios(load(func(l *loadReport) float64 { return l.Throughput }))
	c.CPUPerMessage = ratios(load(func(l *loadReport) float64 { return l.CPUPerMessageUS }))
	c.IdleCPU = ratios(idle(func(i *idleReport) float64 { return i.CPUPercent }))
	c.HeapPerClient = ratios(idle(func(i *idleReport) float64 { return i.HeapPerClient }))
	c.RSSPerClient = ratios(idle(func(i *idleReport) float64 { return i.RSSPerClient }))
	c.GoroutinesPerClient = ratios(idle(func(i *idleReport) float64 { return i.GoroutinesPerClient }))

	c.Goals = nil
	judge := func(name, op string, want float64, s *spread) {
		if s == nil {
			return
		}
		met := s.Median >= want
		if op == "<=" {
			met = s.Median <= want
		}
		c.Goals = append(c.Goals, goal{Name: name, Op: op, Want: want, Got: s.Median, Met: met})
	}
	judge("throughput, SDK ÷ raw", ">=", goalThroughputRatio, c.Throughput)
	judge("CPU per message, SDK ÷ raw", "<=", goalCPUPerMsgRatio, c.CPUPerMessage)
	if c.Throughput != nil {
		worst, raw := 0.0, 0.0
		for _, r := range c.Rounds {
			worst = max(worst, r.SDK.Load.Complete.Max)
			raw = max(raw, r.Raw.Load.Complete.Max)
		}
		judge("longest SDK wait for a reply over the rounds, ms", "<=", ms(stallLimit), &spread{Median: worst, Min: worst, Max: worst})
		c.Goals[len(c.Goals)-1].Raw = raw
	}
	judge("idle CPU, SDK ÷ raw", "<=", goalIdleCPURatio, c.IdleCPU)
	judge("RSS per idle client, SDK ÷ raw", "<=", goalRSSRatio, c.RSSPerClient)
	var gs, hs []float64
	for _, r := range c.Rounds {
		if r.SDK.Idle != nil {
			gs = append(gs, r.SDK.Idle.GoroutinesPerClient)
			hs = append(hs, r.SDK.Idle.HeapPerClient)
		}
	}
	judge("SDK goroutines per idle client", "<=", goalGoroutines, spreadOf(gs))
	judge("SDK heap per idle client, bytes", "<=", goalIdleHeap, spreadOf(hs))
}

// spreadOf returns the median, least and greatest of vs; nil for none. The
// median of an even count is the mean of the middle two.
func spreadOf(vs []float64) *spread {
	if len(vs) == 0 {
		return nil
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return &spread{Median: round3(m), Min: s[0], Max: s[len(s)-1]}
}

// failed reports whether any run saw failures.
func (c *comparison) failed() bool {
	for _, r := range c.Rounds {
		if r.SDK.failed() || r.Raw.failed() {
			return true
		}
	}
	return false
}

// notes returns the notes of every run, each named by its round and kind.
func (c *comparison) notes() []string {
	var out []string
	for i, r := range c.Rounds {
		for _, rep := range []*report{r.SDK, r.Raw} {
			for _, n := range rep.notes() {
				out = append(out, fmt.Sprintf("round %d %s: %s", i+1, rep.Client, n))
			}
		}
	}
	if c.Interrupted {
		out = append(out, "interrupted; the report covers the rounds completed")
	}
	return out
}

// write prints the comparison as a table or as JSON.
func (c *comparison) write(w io.Writer, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	var b strings.Builder
	c.writeTable(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable renders one line per run, the ratios and the goals.
func (c *comparison) writeTable(b *strings.Builder) {
	if len(c.Rounds) == 0 {
		b.WriteString("loadtest: no round completed\n")
		return
	}
	r0 := c.Rounds[0].SDK
	platform := "the embedded fake platform"
	if c.Platform != "embedded" {
		platform = c.Platform
	}
	fmt.Fprintf(b, "loadtest: SDK and raw gorilla clients side by side, %s × %s on %s, %s\n",
		plural(r0.Clients, "client"), plural(r0.ChatsPerClient, "chat"), platform, plural(len(c.Rounds), "round"))
	for i, r := range c.Rounds {
		for _, rep := range []*report{r.SDK, r.Raw} {
			fmt.Fprintf(b, "round %-3d %-4s", i+1, rep.Client)
			switch {
			case rep.Load != nil:
				l := rep.Load
				fmt.Fprintf(b, " %9.1f msg/s  %8.1f µs CPU/msg  complete p50 %s p99 %s max %s  stalls %d  answered %d/%d\n",
					l.Throughput, l.CPUPerMessageUS, msText(l.Complete.P50), msText(l.Complete.P99), msText(l.Complete.Max), l.Stalls, l.Answered, l.Sent)
			case rep.Idle != nil:
				i := rep.Idle
				fmt.Fprintf(b, " heap %6.1f KiB  RSS %6.1f KiB  stacks %5.1f KiB  goroutines %.2f per client  idle CPU %.1f%%\n",
					i.HeapPerClient/1024, i.RSSPerClient/1024, i.StackPerClient/1024, i.GoroutinesPerClient, i.CPUPercent)
			default:
				fmt.Fprintf(b, " %d/%d clients ready\n", rep.Connect.Ready, rep.Clients)
			}
		}
	}
	b.WriteString("\nSDK ÷ raw     median  [min – max]\n")
	for _, row := range []struct {
		name string
		s    *spread
	}{{"throughput", c.Throughput}, {"CPU/message", c.CPUPerMessage}, {"idle CPU", c.IdleCPU},
		{"heap/client", c.HeapPerClient}, {"RSS/client", c.RSSPerClient}, {"goroutines", c.GoroutinesPerClient}} {
		if row.s != nil {
			fmt.Fprintf(b, "%-13s %6.2f  [%.2f – %.2f]\n", row.name, row.s.Median, row.s.Min, row.s.Max)
		}
	}
	b.WriteString("\ngoals\n")
	for _, g := range c.Goals {
		fmt.Fprintf(b, "  %-52s %s %-7g got %-9g %s", g.Name, g.Op, g.Want, g.Got, metText(g.Met))
		if g.Raw != 0 {
			fmt.Fprintf(b, " (raw: %g)", g.Raw)
		}
		b.WriteString("\n")
	}
}
