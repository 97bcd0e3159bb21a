package main

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// The faults of the control API not covered in control_test.go, each
// applied over HTTP to the program's handler and observed through an SDK
// client.

// fastDelays makes the clients of these tests reconnect in milliseconds
// whatever the close code.
func fastDelays(cfg *client.Config) {
	const d = 20 * time.Millisecond
	cfg.ReconnectDelays = protocol.Delays{GoingAwayCeiling: d, NetworkFloor: d, ServerErrorFloor: d, InitializingFloor: d, RateLimitFloor: d}
}

// stateChanges registers a buffered channel of c's state changes.
func stateChanges(t *testing.T, c *client.Client) <-chan client.StateChange {
	t.Helper()
	ch := make(chan client.StateChange, 64)
	t.Cleanup(c.OnStateChange(func(sc client.StateChange) {
		select {
		case ch <- sc:
		default:
		}
	}))
	return ch
}

// untilState waits for a change to s on changes and returns it.
func untilState(t *testing.T, changes <-chan client.StateChange, s client.State) client.StateChange {
	t.Helper()
	ctx := ctxT(t)
	for {
		select {
		case sc := <-changes:
			if sc.Current == s {
				return sc
			}
		case <-ctx.Done():
			t.Fatalf("no change to %s", s)
		}
	}
}

// listing returns the entries of a control API listing.
func listing(t *testing.T, base, path, key string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range control(t, base, http.MethodGet, path, nil)[key].([]any) {
		out = append(out, e.(map[string]any))
	}
	return out
}

func TestControl_StallIsDetectedAsADeadConnection(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c, chat := readyChat(t, base, func(cfg *client.Config) {
		fastDelays(cfg)
		cfg.PingInterval = 50 * time.Millisecond
		cfg.DeadTimeout = 200 * time.Millisecond
	})
	changes := stateChanges(t, c)

	fault(t, base, "stall", nil)
	sc := untilState(t, changes, client.StateReconnecting)
	var ce *client.ConnectError
	require.ErrorAs(t, sc.Reason, &ce, "the client gave up on the silent connection")
	fault(t, base, "stall", map[string]any{"on": false})
	untilState(t, changes, client.StateReady)
	assert.Equal(t, uint64(1), c.Stats().Reconnects)
	r, err := chat.Ask(ctxT(t), "after the stall")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("after the stall"), r.Text)
}

func TestControl_ServerPingIsAnsweredWithPong(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c, chat := readyChat(t, base, nil)
	ctx := ctxT(t)
	events := make(chan normalize.Event, 64)
	c.OnEvent(func(e normalize.Event) {
		select {
		case events <- e:
		default:
		}
	})

	fault(t, base, "ping", nil)
	// The client reads frames in order: once the marker sent after the
	// ping has arrived, its pong is queued before any later message.
	fault(t, base, "inject", map[string]any{"frame": map[string]any{"type": "custom_marker"}})
	sawPing := false
	for e := range events {
		sawPing = sawPing || e.Type == protocol.TypePing
		if e.Type == "custom_marker" {
			break
		}
	}
	assert.True(t, sawPing)
	_, err := chat.Ask(ctx, "after the ping")
	require.NoError(t, err)
	pongs := listing(t, base, "/frames?type=pong", "frames")
	assert.Len(t, pongs, 1, "the server's ping was answered once")
}

func TestControl_ReadyDelayHoldsTheClientInConnected(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	const delay = 150 * time.Millisecond
	fault(t, base, "set_ready_delay", map[string]any{"delay": delay.String()})

	// A ready timeout shorter than the delay: the client gives up and tries
	// again, until the delay is lifted.
	c := sdkClient(t, base, func(cfg *client.Config) {
		fastDelays(cfg)
		cfg.ReadyTimeout = 50 * time.Millisecond
	})
	changes := stateChanges(t, c)
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() { done <- c.Connect(ctx) }()
	// Never ready yet: the wait before the next attempt is "connecting"
	// with the reason, not "reconnecting".
	sc := untilState(t, changes, client.StateConnecting)
	for sc.Reason == nil {
		sc = untilState(t, changes, client.StateConnecting)
	}
	var ce *client.ConnectError
	require.ErrorAs(t, sc.Reason, &ce)
	assert.Equal(t, protocol.CauseReadyTimeout, ce.Trigger.Cause, "%v", sc.Reason)
	fault(t, base, "set_ready_delay", map[string]any{"delay": 0})
	require.NoError(t, <-done)
	assert.GreaterOrEqual(t, c.Stats().Attempts, uint64(2))

	// With the default ready timeout, the client waits the delay out in
	// connected.
	fault(t, base, "set_ready_delay", map[string]any{"delay": delay.String()})
	c2 := sdkClient(t, base, fastDelays)
	changes2 := stateChanges(t, c2)
	require.NoError(t, c2.Connect(ctx))
	connected := untilState(t, changes2, client.StateConnected)
	ready := untilState(t, changes2, client.StateReady)
	// The platform's delay starts at its end of the handshake, a moment
	// before the client sees the socket open.
	assert.GreaterOrEqual(t, ready.Time.Sub(connected.Time), delay-20*time.Millisecond)
	assert.Equal(t, uint64(1), c2.Stats().Attempts)
}

func TestControl_RESTRateLimitReachesTheClient(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c := sdkClient(t, base, nil)
	ctx := ctxT(t)
	fault(t, base, "set_retry_after", map[string]any{"after": "20ms"})

	// Chat creation is not retried: the 429 reaches the caller.
	fault(t, base, "rate_limit_rest", nil)
	_, err := c.REST().CreateChat(ctx, protocol.CreateChatRequest{Title: "limited"})
	var apiErr *protocol.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.Status)
	assert.True(t, apiErr.Retryable)

	// The health check is: the client waits and asks again.
	fault(t, base, "rate_limit_rest", map[string]any{"n": 1})
	_, err = c.REST().Health(ctx)
	require.NoError(t, err)
	var statuses []float64
	for _, r := range listing(t, base, "/requests", "requests") {
		statuses = append(statuses, r["status"].(float64))
	}
	assert.Equal(t, []float64{http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusOK}, statuses)
}

func TestControl_DropAfterChatMessageIsResentAndAnsweredOnce(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c, chat := readyChat(t, base, fastDelays)
	ctx := ctxT(t)
	fault(t, base, "drop_after_chat_message", nil)
	m, err := chat.Send(ctx, "dropped before the ack")
	require.NoError(t, err)
	r, err := m.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("dropped before the ack"), r.Text)
	assert.Equal(t, m.ID(), r.ClientMessageID)
	assert.Equal(t, uint64(1), c.Stats().Reconnects)

	frames := listing(t, base, "/frames?type=chat_message", "frames")
	require.Len(t, frames, 2, "sent, dropped, sent again")
	for _, f := range frames {
		assert.Equal(t, m.ID(), f["data"].(map[string]any)["client_message_id"])
	}
	history := listing(t, base, "/chats/"+chat.ID()+"/messages", "items")
	assert.Len(t, history, 2, "one question, one answer")
}

func TestControl_DropAfterReceivedIsRecoveredAndAnsweredOnce(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c, chat := readyChat(t, base, fastDelays)
	ctx := ctxT(t)
	fault(t, base, "drop_after_received", nil)
	m, err := chat.Send(ctx, "dropped after the ack")
	require.NoError(t, err)
	r, err := m.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("dropped after the ack"), r.Text)
	assert.Equal(t, m.ID(), r.ClientMessageID)
	assert.True(t, r.Recovered, "the reply came from the history")
	assert.Equal(t, uint64(1), c.Stats().Reconnects)
	assert.Len(t, listing(t, base, "/frames?type=chat_message", "frames"), 1, "acknowledged: not sent again")
}

// realtimeClient switches the program at base to the tenant-app form and
// returns a ready SDK client with an API key and one chat.
func realtimeClient(t *testing.T, base string) (*client.Client, *client.Chat) {
	t.Helper()
	fault(t, base, "set_protocol", map[string]any{"protocol": "tenant-app"})
	return readyChat(t, base, func(cfg *client.Config) {
		fastDelays(cfg)
		cfg.APIKey = "key"
	})
}

func TestControl_SetProtocolTenantAppIsSpokenByTheClient(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c, chat := realtimeClient(t, base)
	assert.Equal(t, client.ProtocolRealtime, c.Stats().Protocol)
	r, err := chat.Ask(ctxT(t), "in the realtime form")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("in the realtime form"), r.Text)
	assert.Len(t, listing(t, base, "/sessions", "sessions"), 1, "the API key was exchanged for a session token")
	conns := listing(t, base, "/connections", "connections")
	require.Len(t, conns, 1)
	assert.Equal(t, "tenant-app", conns[0]["protocol"])
}

func TestControl_ExpiredTokensAreReplacedByTheClient(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c, chat := realtimeClient(t, base)
	changes := stateChanges(t, c)
	require.Len(t, listing(t, base, "/sessions", "sessions"), 1)

	fault(t, base, "expire_tokens", map[string]any{"close_code": protocol.CloseUnauthorized})
	untilState(t, changes, client.StateReconnecting)
	untilState(t, changes, client.StateReady)
	sessions := listing(t, base, "/sessions", "sessions")
	require.Len(t, sessions, 2, "a new session token for the new connection")
	assert.Equal(t, true, sessions[0]["expired"])
	assert.Equal(t, false, sessions[1]["expired"])
	r, err := chat.Ask(ctxT(t), "with a new token")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("with a new token"), r.Text)

	// Without a close code the connection stays open; the next handshake
	// offering the expired token is refused and the client gets a new one.
	fault(t, base, "expire_tokens", nil)
	fault(t, base, "drop_all", map[string]any{"code": protocol.CloseGoingAway})
	untilState(t, changes, client.StateReconnecting)
	untilState(t, changes, client.StateReady)
	assert.Len(t, listing(t, base, "/sessions", "sessions"), 3)
	var statuses []float64
	for _, h := range listing(t, base, "/handshakes", "requests") {
		statuses = append(statuses, h["status"].(float64))
	}
	assert.Equal(t, []float64{101, 101, 401, 101}, statuses)
	_, err = chat.Ask(ctxT(t), "with a third token")
	require.NoError(t, err)
}

func TestControl_TokenTTLIsTheLifeOfTheClientsToken(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	const ttl = 500 * time.Millisecond
	fault(t, base, "set_token_ttl", map[string]any{"ttl": ttl.String()})
	c, chat := realtimeClient(t, base)
	changes := stateChanges(t, c)
	sessions := listing(t, base, "/sessions", "sessions")
	require.Len(t, sessions, 1)
	issued, err := time.Parse(time.RFC3339Nano, sessions[0]["issued_at"].(string))
	require.NoError(t, err)
	expires, err := time.Parse(time.RFC3339Nano, sessions[0]["expires_at"].(string))
	require.NoError(t, err)
	assert.Equal(t, ttl, expires.Sub(issued))

	// Once the token's life is over, the next connection needs a new one.
	ctx := ctxT(t)
	select {
	case <-time.After(time.Until(expires)):
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	fault(t, base, "drop_all", map[string]any{"code": protocol.CloseGoingAway})
	untilState(t, changes, client.StateReconnecting)
	untilState(t, changes, client.StateReady)
	assert.Len(t, listing(t, base, "/sessions", "sessions"), 2)
	r, err := chat.Ask(ctx, "with a second token")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("with a second token"), r.Text)
}

func TestControl_StrictJoinRefusesAMessageForAChatNotJoined(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	// In the tenant-app form a chat id that is not a UUID v4 cannot be
	// joined; the client goes on after its join timeout, as the platform
	// joins the socket to a chat on its first message, unless joining is
	// strict.
	fault(t, base, "set_protocol", map[string]any{"protocol": "tenant-app"})
	fault(t, base, "set_strict_join", nil)
	c := sdkClient(t, base, func(cfg *client.Config) {
		fastDelays(cfg)
		cfg.APIKey = "key"
		cfg.JoinTimeout = 50 * time.Millisecond
		cfg.ResponseTimeout = 300 * time.Millisecond
	})
	errs := make(chan client.ErrorEvent, 16)
	c.OnError(func(e client.ErrorEvent) {
		select {
		case errs <- e:
		default:
		}
	})
	ctx := ctxT(t)
	require.NoError(t, c.Connect(ctx))
	chat, err := c.OpenChat(ctx, "legacy-chat-1")
	require.NoError(t, err)

	m, err := chat.Send(ctx, "refused")
	require.NoError(t, err)
	var refused *client.PlatformError
	for refused == nil {
		select {
		case e := <-errs:
			// The tenant-app form's error frame carries its code in
			// data.details; the message is matched on its text.
			if pe := (*client.PlatformError)(nil); errors.As(e.Err, &pe) && strings.Contains(pe.Message, "chat not joined") {
				refused = pe
			}
		case <-ctx.Done():
			t.Fatal("no not_joined error")
		}
	}
	require.NotNil(t, refused)
	// Errors name no message in this form: the first one about the chat
	// after the send (the refused join, or the refused message) fails the
	// message the platform was answering, this one, at once.
	_, err = m.Wait(ctx)
	var pe *client.PlatformError
	require.ErrorAs(t, err, &pe)

	// Off, another such chat is joined by its first message.
	fault(t, base, "set_strict_join", map[string]any{"on": false})
	chat2, err := c.OpenChat(ctx, "legacy-chat-2")
	require.NoError(t, err)
	r, err := chat2.Ask(ctx, "joined on its first message")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("joined on its first message"), r.Text)
}
