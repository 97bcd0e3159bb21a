package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"time"
)

// goal of SPEC §10: heap per idle ready client.
const goalHeapPerClient = 64 << 10

// idleReport is the memory and CPU of idle ready clients.
type idleReport struct {
	// Clients is the number of ready clients measured.
	Clients int `json:"clients"`
	// HeapBytes is the HeapAlloc difference between before the first client
	// and after the last was ready (after two garbage collections);
	// HeapPerClient divides it by Clients.
	HeapBytes     int64   `json:"heap_bytes"`
	HeapPerClient float64 `json:"heap_bytes_per_client"`
	// StackPerClient is the same for goroutine stacks (StackInuse), which
	// HeapAlloc does not count.
	StackPerClient float64 `json:"stack_bytes_per_client"`
	// GoroutinesPerClient is the goroutine count difference per client.
	GoroutinesPerClient float64 `json:"goroutines_per_client"`
	// RSSPerClient is the resident set size difference per client, both
	// taken after the garbage collector returned free memory to the system
	// (-1 when unknown).
	RSSPerClient float64 `json:"rss_bytes_per_client"`
	// ServerIncluded is true when the embedded platform's side of every
	// connection is in the figures.
	ServerIncluded bool `json:"server_included"`
	// GoalHeap says whether HeapPerClient is within 64 KiB.
	GoalHeap bool `json:"goal_heap"`
	// HoldSeconds is how long the idle clients were held afterwards;
	// CPUPercent the process CPU time over that time, in % of one core
	// (-1 when unknown or not held).
	HoldSeconds float64 `json:"hold_seconds"`
	CPUPercent  float64 `json:"cpu_percent"`
}

// runIdle measures heap and goroutines per idle ready client, then holds the
// clients for -idle-hold and measures their CPU use.
func runIdle(ctx context.Context, o options, f *fleet, tr *http.Transport, rep *report, prog *progress, stderr io.Writer) {
	var before, after runtime.MemStats
	collect()
	runtime.ReadMemStats(&before)
	rss0, rssOK0 := residentBytes()
	g0 := runtime.NumGoroutine()

	prog.setPhase("connect")
	rep.Connect = f.connect(ctx, o)
	if ctx.Err() != nil || rep.Connect.Ready == 0 {
		return
	}
	prog.setPhase("measure")
	// The REST keep-alive connections are shared by all clients and
	// bounded; close them so that the figure is the clients' alone.
	tr.CloseIdleConnections()
	g1 := settleGoroutines(ctx)
	collect()
	runtime.ReadMemStats(&after)
	rss1, rssOK1 := residentBytes()
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
		}
	}
	n := float64(rep.Connect.Ready)
	ir := &idleReport{
		Clients:             rep.Connect.Ready,
		HeapBytes:           int64(after.HeapAlloc) - int64(before.HeapAlloc),
		StackPerClient:      round3(float64(int64(after.StackInuse)-int64(before.StackInuse)) / n),
		GoroutinesPerClient: round3(float64(g1-g0) / n),
		ServerIncluded:      o.embedded,
		RSSPerClient:        -1,
		CPUPercent:          -1,
	}
	if rssOK0 && rssOK1 {
		ir.RSSPerClient = round3(float64(rss1-rss0) / n)
	}
	ir.HeapPerClient = round3(float64(ir.HeapBytes) / n)
	ir.GoalHeap = ir.HeapPerClient <= goalHeapPerClient
	rep.Idle = ir

	if o.idleHold <= 0 {
		return
	}
	prog.setPhase("hold")
	stopProfile := o.holdProfile.start(stderr)
	defer stopProfile()
	cpu0, ok0 := cpuTime()
	t0 := time.Now()
	wait(ctx, o.idleHold)
	cpu1, ok1 := cpuTime()
	held := time.Since(t0)
	ir.HoldSeconds = round3(held.Seconds())
	if ok0 && ok1 && held > 0 {
		ir.CPUPercent = round3(100 * float64(cpu1-cpu0) / float64(held))
	}
}

// holdProfile is the CPU profile of an idle run: it covers the first hold.
type holdProfile struct {
	f    *os.File
	used bool // only the goroutine running the measurements touches it
}

// start starts the profile if p is the first hold's, and returns the
// function that stops it.
func (p *holdProfile) start(stderr io.Writer) func() {
	if p == nil || p.used {
		return func() {}
	}
	p.used = true
	if err := pprof.StartCPUProfile(p.f); err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return func() {}
	}
	return pprof.StopCPUProfile
}

// collect runs the garbage collector twice, so that objects with
// finalizers and the sync.Pool victim cache are gone too, and returns the
// freed memory to the system so that the resident set is the live memory.
func collect() {
	runtime.GC()
	runtime.GC()
	debug.FreeOSMemory()
}

// settleGoroutines waits (at most 2 s) until the goroutine count stops
// falling, since closed keep-alive connections end asynchronously, and
// returns it.
func settleGoroutines(ctx context.Context) int {
	n := runtime.NumGoroutine()
	for range 40 {
		if !wait(ctx, 50*time.Millisecond) {
			break
		}
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// writeHeapProfile writes the heap profile to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// writeTable renders the idle section.
func (i *idleReport) writeTable(b *strings.Builder, embedded bool) {
	b.WriteString("\n")
	who := "the clients alone (the platform runs in another process)"
	if embedded {
		who = "clients and the embedded platform's side of their connections"
	}
	fmt.Fprintf(b, "idle         %d ready clients; %s\n", i.Clients, who)
	fmt.Fprintf(b, "heap         %.1f KiB per client (%.1f MiB in all; goal ≤ 64 KiB: %s)\n",
		i.HeapPerClient/1024, float64(i.HeapBytes)/(1<<20), metText(i.GoalHeap))
	fmt.Fprintf(b, "stacks       %.1f KiB per client\n", i.StackPerClient/1024)
	fmt.Fprintf(b, "goroutines   %.2f per client\n", i.GoroutinesPerClient)
	if i.RSSPerClient >= 0 {
		fmt.Fprintf(b, "RSS          %.1f KiB per client\n", i.RSSPerClient/1024)
	}
	if i.CPUPercent >= 0 {
		fmt.Fprintf(b, "idle CPU     %.1f%% of one core over %s\n", i.CPUPercent, secs(i.HoldSeconds))
	}
}
