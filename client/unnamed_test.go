package client

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// The tenant-app variant's replies name no message (SPEC §2.4): after a lost
// connection, the client cannot tell an answer to a message it sends again
// from the answer to the first sending. These tests drop a connection with
// a message on the wire and check that every message still gets its own
// reply, once, or an error.

// sentTexts counts the chat_message frames the platform recorded, by text.
func sentTexts(srv *platformtest.Server) map[string]int {
	n := map[string]int{}
	for _, f := range srv.FramesOfType(protocol.TypeChatMessage) {
		if s, ok := f.Data["message"].(string); ok {
			n[s]++
		}
	}
	return n
}

// answerAfterRejoin answers slow only once its chat was joined again after
// a lost connection (two join_chat frames), so that the reply comes over
// the new connection; every other message at once.
func answerAfterRejoin(srv *platformtest.Server, slow string) platformtest.Responder {
	return func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == slow {
			for len(srv.FramesOfType(protocol.TypeJoinChat)) < 2 {
				select {
				case <-ctx.Done():
					return platformtest.Reply{Withhold: true}
				case <-time.After(5 * time.Millisecond):
				}
			}
		}
		return platformtest.DefaultResponder(ctx, req)
	}
}

func TestUnnamedReplies_AMessageTheDroppedPlatformHadIsAnsweredOnceAndTheNextGetsItsOwn(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	srv.SetResponder(answerAfterRejoin(srv, "first"))
	c := realtimeClient(t, srv, func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond })
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)

	srv.DropAfterReceived(1) // the platform has "first", and answers it after the rejoin
	m1, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	m2, err := chat.Send(ctx, "second")
	require.NoError(t, err)

	r1, err := m1.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("first"), r1.Text)
	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("second"), r2.Text, "the second message's own reply")
	assert.Equal(t, 1, sentTexts(srv)["first"], "not sent again: the platform had it")
}

func TestUnnamedReplies_AMessageThePlatformNeverHadFailsAndIsNotSentAgain(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	c := realtimeClient(t, srv, func(cfg *Config) {
		cfg.InitialBackoff = 20 * time.Millisecond
		cfg.ResponseTimeout = 500 * time.Millisecond
	})
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	completes := collectCompletes(chat)

	srv.DropAfterChatMessage(1) // recorded, never processed: no reply comes
	m1, err := chat.Send(ctx, "lost")
	require.NoError(t, err)
	m2, err := chat.Send(ctx, "next")
	require.NoError(t, err)

	_, err = m1.Wait(ctx)
	require.ErrorIs(t, err, ErrReplyLost, "the client cannot know the platform did not have it")
	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("next"), r2.Text)
	assert.Equal(t, 1, sentTexts(srv)["lost"], "not sent again")
	assert.Equal(t, []string{m2.ID()}, completes.until(t, ctx, m2.ID()), "one reply, the second message's")
}
