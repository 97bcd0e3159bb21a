package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress line periods.
const (
	progressTerminal = 250 * time.Millisecond
	progressLog      = 5 * time.Second
)

// progress prints a live status line on stderr: rewritten in place on a
// terminal, one line per period otherwise. Its goroutine is owned by the
// progress and ends in stop.
type progress struct {
	w       io.Writer
	term    bool
	f       *fleet
	clients int
	start   time.Time
	rec     atomic.Pointer[recorder]
	watch   atomic.Pointer[stormWatch]
	phase   atomic.Pointer[string]

	mu           sync.Mutex // serializes writes and guards the fields below
	width        int        // length of the line on screen (terminal)
	lastAnswered int64
	lastAt       time.Time

	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// newProgress starts the progress line for fleet f, unless -quiet.
func newProgress(w io.Writer, o options, f *fleet) *progress {
	p := &progress{w: w, term: isTerminal(w), f: f, clients: o.clients, start: time.Now(),
		quit: make(chan struct{}), done: make(chan struct{})}
	p.lastAt = p.start
	p.setPhase("start")
	if o.quiet {
		close(p.done)
		return p
	}
	every := o.progressEvery
	if every == 0 {
		every = progressLog
		if p.term {
			every = progressTerminal
		}
	}
	go p.loop(every)
	return p
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func (p *progress) loop(every time.Duration) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			p.draw(true)
			return
		case <-t.C:
			p.draw(false)
		}
	}
}

// setPhase names what the run is doing now.
func (p *progress) setPhase(name string) { p.phase.Store(&name) }

// stop ends the progress line (printing it a last time) and waits for its
// goroutine. It is idempotent.
func (p *progress) stop() {
	p.stopOnce.Do(func() { close(p.quit) })
	<-p.done
}

// note prints a message on its own line, keeping the progress line below.
func (p *progress) note(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.term && p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
		p.width = 0
	}
	fmt.Fprintln(p.w, msg)
}

// draw prints the current line; final ends it with a newline on a terminal.
func (p *progress) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	line := p.line()
	if !p.term {
		fmt.Fprintln(p.w, line)
		return
	}
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = len(line)
	if final {
		fmt.Fprintln(p.w)
		p.width = 0
	}
}

// line composes the status. The caller holds p.mu.
func (p *progress) line() string {
	now := time.Now()
	var b strings.Builder
	fmt.Fprintf(&b, "[%s %s] ready %d/%d", *p.phase.Load(), now.Sub(p.start).Round(100*time.Millisecond), p.f.ready.Load(), p.clients)
	if w := p.watch.Load(); w != nil {
		back, total := w.counts()
		fmt.Fprintf(&b, ", back after restart %d/%d", back, total)
	}
	if r := p.rec.Load(); r != nil {
		answered := r.answered.Load()
		rate := 0.0
		if d := now.Sub(p.lastAt); d > 0 {
			rate = float64(answered-p.lastAnswered) / d.Seconds()
		}
		p.lastAnswered, p.lastAt = answered, now
		fmt.Fprintf(&b, " | sent %d, answered %d, failed %d | %.0f msg/s", r.sent.Load(), answered, r.failed.Load(), rate)
	}
	return b.String()
}
