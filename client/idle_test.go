package client

import (
	"bytes"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// clientGoroutines returns the top functions of the goroutines running the
// client package's code (the fake platform's are not counted).
func clientGoroutines(t *testing.T) []string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, pprof.Lookup("goroutine").WriteTo(&b, 2))
	var out []string
	for _, g := range strings.Split(b.String(), "\n\n") {
		if !strings.Contains(g, "miptech-go/client.") || strings.Contains(g, "miptech-go/client.Test") ||
			strings.Contains(g, "miptech-go/client.clientGoroutines") {
			continue
		}
		for _, line := range strings.Split(g, "\n") {
			if strings.Contains(line, "miptech-go/client.") {
				out = append(out, strings.TrimSpace(line))
				break
			}
		}
	}
	return out
}

// settledGoroutines waits up to 5 s for the client's goroutines to number
// want (goroutines that finished their work take a moment to exit) and
// returns them.
func settledGoroutines(t *testing.T, want int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		gs := clientGoroutines(t)
		if len(gs) == want || time.Now().After(deadline) {
			return gs
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIdle_AReadyClientRunsItsReaderAndSupervisorOnly(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	_, err = chat.Ask(ctx, "hello")
	require.NoError(t, err)
	syncCallbacks(t, c)

	gs := settledGoroutines(t, 2)
	require.Len(t, gs, 2, "an idle ready client runs its reader and its supervisor: %v", gs)
	for _, g := range gs {
		assert.NotContains(t, g, "(*Client).write", "no writer while nothing is to be written")
	}

	// The keepalive writes its ping on the timer's goroutine, which does
	// not stay.
	pings := len(srv.FramesOfType(protocol.TypePing))
	clk.Advance(c.cfg.PingInterval)
	require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
		return len(s.FramesOfType(protocol.TypePing)) == pings+1
	}))
	gs = settledGoroutines(t, 2)
	require.Len(t, gs, 2, "after the ping: %v", gs)
	_, err = chat.Ask(ctx, "still answered")
	require.NoError(t, err)
}

func TestIdle_PongsReachRawEventSubscribers(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	require.NoError(t, c.Connect(ctx))
	pongs := make(chan struct{}, 16)
	c.OnEvent(func(ev normalize.Event) {
		if ev.Type == protocol.TypePong {
			pongs <- struct{}{}
		}
	})
	clk.Advance(c.cfg.PingInterval)
	select {
	case <-pongs:
	case <-ctx.Done():
		t.Fatal("the pong answering the keepalive's ping never reached OnEvent")
	}
}
