package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		// The tests wait on the program's reconnects and timeouts, not on
		// the CPU: run more of them at once than there are cores.
		_ = flag.Set("test.parallel", strconv.Itoa(max(8, runtime.GOMAXPROCS(0))))
	}
	goleak.VerifyTestMain(m)
}

// testTenant is the tenant the tests use against their own platform.
const testTenant = "acme"

// waitLimit bounds every wait of a test for the program.
const waitLimit = 30 * time.Second

// output is a writer, safe for concurrent use, whose content a test can
// wait for.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitUntil waits until cond holds for the content written so far.
func (o *output) waitUntil(t *testing.T, what string, cond func(string) bool) {
	t.Helper()
	timeout := time.NewTimer(waitLimit)
	defer timeout.Stop()
	for {
		o.mu.Lock()
		s, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		if cond(s) {
			return
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("timed out waiting for %s; output so far:\n%s", what, s)
		}
	}
}

// waitFor waits until the content contains s.
func (o *output) waitFor(t *testing.T, s string) {
	t.Helper()
	o.waitUntil(t, quote(s), func(out string) bool { return strings.Contains(out, s) })
}

// quote shows s on one line, for messages.
func quote(s string) string { return "\"" + strings.ReplaceAll(s, "\n", `\n`) + "\"" }

// platform starts a fake platform closed at the end of the test.
func platform(t *testing.T, cfg platformtest.Config) *platformtest.Server {
	t.Helper()
	srv := platformtest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// envFor is an environment that points the program at srv.
func envFor(srv *platformtest.Server) map[string]string {
	return map[string]string{envAPIURL: srv.URL(), envTenantID: testTenant}
}

// getenv reads env only: the tests never see the real environment.
func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// result is what a finished run left.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the program to its end on input, in non-terminal mode.
func runCLI(t *testing.T, env map[string]string, input string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, strings.NewReader(input), &stdout, &stderr, getenv(env))
	return result{code, stdout.String(), stderr.String()}
}

// proc is a run of the program in the background, fed line by line.
type proc struct {
	stdin          *io.PipeWriter
	stdout, stderr *output
	cancel         context.CancelFunc // ends the program's context (SIGTERM)
	interrupts     chan os.Signal     // what the program reads as SIGINT
	done           chan int           // its exit code
}

// start runs the program in the background. The test writes its input
// with write and ends it with closeInput; the program is interrupted and
// waited for at the end of the test if still running.
func start(t *testing.T, env map[string]string, terminal bool, args ...string) *proc {
	t.Helper()
	return startWith(t, env, terminal, newOutput(), newOutput(), args...)
}

// startScreen runs the program in terminal mode with standard output and
// standard error going to one output, as on a terminal's screen: stdout
// and stderr of the proc are then the same.
func startScreen(t *testing.T, env map[string]string, args ...string) *proc {
	t.Helper()
	screen := newOutput()
	return startWith(t, env, true, screen, screen, args...)
}

func startWith(t *testing.T, env map[string]string, terminal bool, stdout, stderr *output, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	p := &proc{stdin: pw, stdout: stdout, stderr: stderr, cancel: cancel,
		interrupts: make(chan os.Signal), done: make(chan int, 1)}
	go func() {
		p.done <- runMode(ctx, args, pr, p.stdout, p.stderr, getenv(env), options{terminal: terminal, interrupts: p.interrupts})
	}()
	t.Cleanup(func() {
		cancel()
		_ = pw.Close()
		select {
		case code := <-p.done:
			p.done <- code
		case <-time.After(waitLimit):
			t.Error("the program did not end after an interrupt")
		}
	})
	return p
}

// interrupt delivers one SIGINT (Ctrl-C) to the program, once it reads
// it.
func (p *proc) interrupt(t *testing.T) {
	t.Helper()
	select {
	case p.interrupts <- os.Interrupt:
	case code := <-p.done:
		p.done <- code
		t.Fatalf("the program exited (%d) before the interrupt", code)
	case <-time.After(waitLimit):
		t.Fatal("the program did not read the interrupt")
	}
}

// write feeds s to the program's standard input.
func (p *proc) write(t *testing.T, s string) {
	t.Helper()
	_, err := io.WriteString(p.stdin, s)
	require.NoError(t, err)
}

// closeInput ends the program's standard input.
func (p *proc) closeInput() { _ = p.stdin.Close() }

// wait returns the program's exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-p.done:
		p.done <- code
		return code
	case <-time.After(waitLimit):
		t.Fatalf("the program did not exit; stdout:\n%s\nstderr:\n%s", p.stdout, p.stderr)
		return -1
	}
}

// sentTexts returns the texts of the chat_message frames srv received, in
// order.
func sentTexts(srv *platformtest.Server) []string {
	var out []string
	for _, f := range srv.FramesOfType("chat_message") {
		s, _ := f.Data["message"].(string)
		out = append(out, s)
	}
	return out
}
