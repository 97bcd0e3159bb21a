package client

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestMain(m *testing.M) {
	if os.Getenv(platformProcessEnv) != "" {
		os.Exit(servePlatformProcess())
	}
	flag.Parse()
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		// The parallel tests wait on the network and on timers, not on
		// the CPU: run more of them at once than there are cores.
		_ = flag.Set("test.parallel", strconv.Itoa(max(testParallel, runtime.GOMAXPROCS(0))))
	}
	goleak.VerifyTestMain(m)
}

// testParallel is the least number of parallel tests run at once when
// -test.parallel is not given.
const testParallel = 8

// platformProcessEnv, set to an API key, makes the test binary serve a fake
// platform instead of running the tests (see StartPlatformProcess).
const platformProcessEnv = "MIPTECH_TEST_PLATFORM_PROCESS_KEY"

// servePlatformProcess serves a fake platform requiring the API key in
// platformProcessEnv, prints its URL on a line of stdout, and stops when
// stdin is closed (the parent test ended, or died).
func servePlatformProcess() int {
	srv := platformtest.NewServer(platformtest.Config{APIKey: os.Getenv(platformProcessEnv)})
	defer srv.Close()
	fmt.Println(srv.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// StartPlatformProcess runs a fake platform requiring apiKey in another
// process (this test binary, re-executed) and returns its URL. The process
// stops at the end of the test. Its goroutines are not this process's: a
// goleak check sees only the client's.
func StartPlatformProcess(t testing.TB, apiKey string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), platformProcessEnv+"="+apiKey)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the platform process printed no URL")
	return strings.TrimSpace(line)
}

const testTenant = "tenant-test"

// newServer starts a fake platform closed at the end of the test.
func newServer(t testing.TB, cfg platformtest.Config) *platformtest.Server {
	t.Helper()
	// Strict joining: a chat_message sent before its chat is joined gets
	// an error frame, so every test also checks the client's join gating.
	cfg.StrictJoin = true
	srv := platformtest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// fastDelays makes the fault tests reconnect in milliseconds; the tests of
// the close-code timings themselves set Config.ReconnectDelays to zero.
var fastDelays = protocol.Delays{GoingAwayCeiling: 20 * time.Millisecond, NetworkFloor: 20 * time.Millisecond,
	ServerErrorFloor: 20 * time.Millisecond, InitializingFloor: 20 * time.Millisecond, RateLimitFloor: 20 * time.Millisecond}

// newClient returns a client for srv, closed at the end of the test. mutate
// may change the config.
func newClient(t testing.TB, srv *platformtest.Server, mutate func(*Config)) *Client {
	t.Helper()
	cfg := Config{APIURL: srv.URL(), TenantID: testTenant, ReconnectDelays: fastDelays}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.Close(ctx))
	})
	return c
}

// withSpecDelays keeps the close-code policy's own floors and ceilings (SPEC
// §2.3) for the tests of those timings, then applies mutate.
func withSpecDelays(mutate func(*Config)) func(*Config) {
	return func(c *Config) {
		c.ReconnectDelays = protocol.Delays{}
		if mutate != nil {
			mutate(c)
		}
	}
}

// withFakeClock makes the client read a fake clock.
func withFakeClock(clk *clock.Fake) func(*Config) {
	return func(c *Config) { c.clock = clk }
}

// ctxT returns a context that ends with the test or after d.
func ctxT(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// stateLog records the state changes of a client.
type stateLog struct {
	mu      sync.Mutex
	changes []StateChange
	ch      chan StateChange
}

func recordStates(c *Client) *stateLog {
	l := &stateLog{ch: make(chan StateChange, 1024)}
	c.OnStateChange(func(sc StateChange) {
		l.mu.Lock()
		l.changes = append(l.changes, sc)
		l.mu.Unlock()
		l.ch <- sc
	})
	return l
}

// next waits for the next state change into want, skipping others.
func (l *stateLog) next(t testing.TB, ctx context.Context, want State) StateChange {
	t.Helper()
	for {
		select {
		case sc := <-l.ch:
			if sc.Current == want {
				return sc
			}
		case <-ctx.Done():
			t.Fatalf("no state change to %s: %v; seen %v", want, ctx.Err(), l.states())
		}
	}
}

// nextWait waits for the next change into want that is a wait between
// attempts (it has a reason): want is StateConnecting before the client
// was ever ready, StateReconnecting after.
func (l *stateLog) nextWait(t testing.TB, ctx context.Context, want State) StateChange {
	t.Helper()
	for {
		sc := l.next(t, ctx, want)
		if sc.Reason != nil {
			return sc
		}
	}
}

func (l *stateLog) states() []State {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]State, len(l.changes))
	for i, c := range l.changes {
		out[i] = c.Current
	}
	return out
}

// logBuffer is a slog handler target safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

func debugLogger(b *logBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// syncCallbacks waits until every callback enqueued so far has run.
func syncCallbacks(t testing.TB, c *Client) {
	t.Helper()
	done := make(chan struct{})
	require.True(t, c.disp.enqueue(func() { close(done) }))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("callbacks did not drain")
	}
}
