package client

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
)

func TestTimers_AnIdleClientArmsNoTimerButItsPing(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	assert.Zero(t, clk.Waiters(), "a client not connected has no timer")

	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	_, err = chat.Ask(ctx, "hello")
	require.NoError(t, err)
	syncCallbacks(t, c)
	// The timer armed for the answered message's deadlines fires once,
	// finds nothing due, and is not armed again.
	clk.Advance(DefaultOrphanAge)
	require.Eventually(t, func() bool { return clk.Waiters() == 1 }, 5*time.Second, time.Millisecond,
		"a ready idle client has only its keepalive ping")

	// A message waiting for its reply arms the timer for its timeout, which
	// fails it when due.
	srv.SetResponder(withholding("never answered"))
	// No deadline of its own: the test's context runs on the real clock,
	// the client on the fake one, which is minutes ahead.
	m, err := chat.Send(context.Background(), "never answered")
	require.NoError(t, err)
	waitStatus(t, ctx, chat, m.ID(), registry.StatusDelivered)
	require.NoError(t, clk.WaitForWaiters(ctx, 2))
	clk.Advance(DefaultResponseTimeout)
	_, err = m.Wait(ctx)
	require.ErrorIs(t, err, ErrResponseTimeout)
}

func TestJoin_AChatOpenedWhileConnectingIsJoinedOnce(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.WithholdReady(true)
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	first, err := c.OpenChat(ctx, "chat-first")
	require.NoError(t, err)
	require.NoError(t, c.WaitForState(ctx, StateConnected)) // and it stays there: ready is withheld
	second, err := c.OpenChat(ctx, "chat-opened-while-connecting")
	require.NoError(t, err)
	srv.WithholdReady(false)
	require.NoError(t, c.Connect(ctx))
	_, err = second.Ask(ctx, "hello")
	require.NoError(t, err)
	_, err = first.Ask(ctx, "hello")
	require.NoError(t, err)
	joins := map[string]int{}
	for _, f := range srv.FramesOfType(protocol.TypeJoinChat) {
		joins[f.Data["chat_id"].(string)]++
	}
	assert.Equal(t, map[string]int{"chat-first": 1, "chat-opened-while-connecting": 1}, joins, "join_chat frames per chat on one connection")
}

func TestJoin_MoreChatsThanTheControlBacklogAreAllJoined(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 20*time.Second)
		chats := make([]*Chat, 2*maxControlBacklog+1)
		for i := range chats {
			ch, err := c.OpenChat(ctx, uuid.NewString())
			require.NoError(t, err)
			chats[i] = ch
		}
		for i, ch := range chats {
			r, err := ch.Ask(ctx, "question "+strconv.Itoa(i))
			require.NoError(t, err, "chat %d", i)
			assert.Equal(t, ch.ID(), r.ChatID)
		}
	})
}
