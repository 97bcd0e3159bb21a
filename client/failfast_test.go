package client

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// deadAddress returns a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

func TestFailFast_ARefusedLoopbackPortIsReportedAtOnceWithTheCause(t *testing.T) {
	live := newServer(t, platformtest.Config{})
	dead := "http://" + deadAddress(t)
	tests := []struct {
		name       string
		api, ws    string
		restFailed bool // the health check fails before the dial
	}{
		{"nothing listening", dead, "", true},
		{"WebSocket endpoint not listening", live.URL(), "ws://" + strings.TrimPrefix(dead, "http://"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(Config{APIURL: tt.api, WSURL: tt.ws, TenantID: testTenant, ReconnectDelays: fastDelays})
			require.NoError(t, err)
			t.Cleanup(func() { require.NoError(t, c.Close(ctxT(t, 10*time.Second))) })
			states := recordStates(c)
			ctx := ctxT(t, 10*time.Second)
			start := time.Now()
			err = c.Connect(ctx)
			took := time.Since(start)
			require.ErrorIs(t, err, ErrFailed)
			assert.Less(t, took, time.Second, "a wrong URL is reported at once, not after the backoff")
			require.ErrorIs(t, err, syscall.ECONNREFUSED, "the cause is kept")
			var fe *FailedError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, 1, fe.Attempts, "retrying would not help")
			var ce *ConnectError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, protocol.CauseNetwork, ce.Trigger.Cause)
			assert.False(t, ce.Retryable)
			var ne *NetworkError
			assert.Equal(t, tt.restFailed, errors.As(err, &ne), "a REST failure is a *NetworkError")
			msg := err.Error()
			assert.Equal(t, 1, strings.Count(msg, "client:"), "one prefix: %s", msg)
			assert.NotContains(t, msg, "\n")
			assert.Contains(t, msg, "nothing listens at Config.APIURL on this machine")
			syncCallbacks(t, c)
			assert.Equal(t, []State{StateConnecting, StateFailed}, states.states(), "never reconnecting: it never connected")
		})
	}
}

func TestFailFast_AHandshakeRefusedFor401GoesFailedAtOnce(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakes(1000, 401)
	c := newClient(t, srv, nil)
	states := recordStates(c)
	ctx := ctxT(t, 10*time.Second)
	start := time.Now()
	err := c.Connect(ctx)
	assert.Less(t, time.Since(start), time.Second)
	require.ErrorIs(t, err, ErrUnauthorized)
	require.ErrorIs(t, err, ErrFailed)
	assert.Equal(t, 1, srv.Handshakes())
	assert.Equal(t, StateFailed, c.State())
	assert.NotContains(t, states.states(), StateReconnecting)
}

func TestFailFast_RetryForeverGoesOnAcrossFailuresAndRecoversWhenThePlatformComesBack(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	addr := deadAddress(t)
	attempts := make(chan ConnectDoneInfo, 1024)
	c, err := New(Config{APIURL: "http://" + addr, TenantID: testTenant, MaxRetries: RetryForever,
		ReconnectDelays: fastDelays, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Hooks: Hooks{ConnectDone: func(_ context.Context, i ConnectDoneInfo) { attempts <- i }}})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, c.Close(ctxT(t, 10*time.Second))) })
	ctx := ctxT(t, 20*time.Second)

	chat, err := c.OpenChat(ctx, "chat-forever")
	require.NoError(t, err)
	start := time.Now()
	err = c.Connect(ctx)
	assert.Less(t, time.Since(start), time.Second, "Connect says at once what is wrong")
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	assert.NotErrorIs(t, err, ErrFailed, "the client has not given up")
	m, err := chat.Send(ctx, "queued while the platform is away")
	require.NoError(t, err)

	for n := 0; n < 20; n++ {
		select {
		case i := <-attempts:
			require.Error(t, i.Err)
		case <-ctx.Done():
			t.Fatalf("only %d attempts", n)
		}
	}
	assert.NotEqual(t, StateFailed, c.State(), "20 failures and still trying")

	srv, err := platformtest.NewServerAt(addr, platformtest.Config{StrictJoin: true})
	require.NoError(t, err)
	t.Cleanup(srv.Close)
	require.NoError(t, c.WaitForState(ctx, StateReady))
	require.NoError(t, c.Connect(ctx), "ready: no error left over")
	r, err := m.Wait(ctx)
	require.NoError(t, err, "the chat and its queued message survived")
	assert.Equal(t, platformtest.ReplyText("queued while the platform is away"), r.Text)
}

func TestFailFast_ReconnectAfterFailedKeepsTheChatsAndTheMessagesSentMeanwhile(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakes(1000, 503)
	c := newClient(t, srv, func(cfg *Config) { cfg.MaxRetries, cfg.InitialBackoff = 2, 10*time.Millisecond })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.OpenChat(ctx, "chat-after-failed")
	require.NoError(t, err)
	queued, err := chat.Send(ctx, "queued while connecting")
	require.NoError(t, err)
	require.ErrorIs(t, c.Connect(ctx), ErrFailed)
	_, err = queued.Wait(ctx)
	require.ErrorIs(t, err, ErrFailed, "a message queued through the failed series is told so, not kept waiting")
	_, err = chat.Send(ctx, "sent while failed")
	require.ErrorIs(t, err, ErrFailed, "a failed client refuses at once: its sender learns it now")

	srv.RefuseHandshakes(0, 0)
	reconnected := make(chan error, 1)
	go func() { reconnected <- c.Reconnect(ctx) }()
	require.NoError(t, c.WaitForState(ctx, StateConnecting))
	m, err := chat.Send(ctx, "sent while reconnecting")
	require.NoError(t, err, "queued for the new connection")
	require.NoError(t, <-reconnected)
	r, err := m.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, "chat-after-failed", r.ChatID, "the chat was kept")
	_, err = queued.Wait(ctx)
	require.ErrorIs(t, err, ErrFailed, "its outcome stays the one it was given")
	r, err = chat.Ask(ctx, "and after")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("and after"), r.Text)
}
