package client

import (
	"context"
	"slices"
	"sync"
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

func TestUnnamedReplies_AMessageTheDroppedPlatformHadFailsAndTheNextGetsItsOwnReply(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	srv.SetResponder(answerAfterRejoin(srv, "first"))
	c := realtimeClient(t, srv, func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond })
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	completes := collectCompletes(chat)

	srv.DropAfterReceived(1) // the platform has "first", and answers it after the rejoin
	m1, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	m2, err := chat.Send(ctx, "second")
	require.NoError(t, err)

	// Its reply comes over the new connection, but nothing tells whether
	// a part of it went out while no connection was up.
	_, err = m1.Wait(ctx)
	require.ErrorIs(t, err, ErrReplyLost)
	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("second"), r2.Text, "the second message's own reply")
	assert.Equal(t, []string{m2.ID()}, completes.until(t, ctx, m2.ID()), "the first reply is delivered to nobody")
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
	// "next" waits, held, for a reply to "lost" until ResponseTimeout: had
	// the platform had "lost", that reply would come first.
	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("next"), r2.Text)
	assert.Equal(t, 1, sentTexts(srv)["lost"], "not sent again")
	assert.Equal(t, []string{m2.ID()}, completes.until(t, ctx, m2.ID()), "one reply, the second message's")
}

func TestUnnamedReplies_AReplyThatMayHaveLostItsBeginningIsNeverDelivered(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == "first" {
			return platformtest.Reply{Withhold: true} // its reply is injected below
		}
		return platformtest.DefaultResponder(ctx, req)
	})
	c := realtimeClient(t, srv, func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond })
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	var chunks []string
	var mu sync.Mutex
	chat.OnChunk(func(e ChunkEvent) {
		mu.Lock()
		chunks = append(chunks, e.Text)
		mu.Unlock()
	})
	completes := collectCompletes(chat)

	srv.DropAfterReceived(1)
	m1, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	_, err = m1.Wait(ctx)
	require.ErrorIs(t, err, ErrReplyLost, "its reply, if it comes, may lack its beginning")
	m2, err := chat.Send(ctx, "second")
	require.NoError(t, err)

	// The platform answered "first" while the client was away: the chunk
	// sent then ("Echo: ") is lost, the rest comes once the chat is joined
	// again.
	require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
		return len(s.FramesOfType(protocol.TypeJoinChat)) >= 2
	}))
	srv.Inject(chat.ID(), map[string]any{"type": "response_chunk",
		"data": map[string]any{"content": "first", "message_id": "reply-1", "chat_id": chat.ID()}})
	srv.Inject(chat.ID(), map[string]any{"type": "response_complete",
		"data": map[string]any{"message_id": "reply-1", "chat_id": chat.ID()}})

	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("second"), r2.Text, "the second message's own reply")
	assert.Equal(t, []string{m2.ID()}, completes.until(t, ctx, m2.ID()), "no other reply delivered")
	mu.Lock()
	assert.NotContains(t, chunks, "first", "no piece of the lost reply shown")
	mu.Unlock()
	assert.Equal(t, 1, sentTexts(srv)["first"], "not sent again")
}

func TestUnnamedReplies_AReplyToAMessageOfALeftChatIsNotTheNextMessagesAfterJoin(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	release := make(chan struct{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == "first" {
			select { // answered once the chat was left and joined again
			case <-release:
			case <-ctx.Done():
				return platformtest.Reply{Withhold: true}
			}
		}
		return platformtest.DefaultResponder(ctx, req)
	})
	c := realtimeClient(t, srv, nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	completes := collectCompletes(chat)

	m1, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool { return sentTexts(s)["first"] == 1 }))
	require.NoError(t, chat.Leave(ctx))
	_, err = m1.Wait(ctx)
	require.ErrorIs(t, err, ErrChatLeft)
	require.NoError(t, chat.Join(ctx))
	// Join sends join_chat; the platform answers a chat over the sockets
	// joined to it when it answers.
	require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
		// The platform handles one socket's frames in order: once the
		// second join_chat is recorded, the leave_chat before it was
		// handled, and the chat is joined once that join is.
		conns := s.Connections()
		return len(s.FramesOfType(protocol.TypeJoinChat)) == 2 && len(conns) == 1 && slices.Contains(conns[0].Joined, chat.ID())
	}))
	m2, err := chat.Send(ctx, "second")
	require.NoError(t, err)
	close(release) // the platform answers "first" now, then "second"

	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("second"), r2.Text, "the second message's own reply")
	assert.Equal(t, []string{m2.ID()}, completes.until(t, ctx, m2.ID()))
}

// answerAnonymously sends a whole reply whose frames name no message.
func answerAnonymously(sc *scriptConn, text string) {
	sc.send(protocol.TypeResponseStart, map[string]any{})
	sc.send(protocol.TypeResponseChunk, map[string]any{"content": text})
	sc.send(protocol.TypeResponseComplete, map[string]any{"content": text})
}

func TestUnnamedReplies_APlatformWhoseRepliesNameNoMessageIsTreatedAsSuchWhateverItsForm(t *testing.T) {
	// A platform of the REST form whose replies carry no id: once the client
	// has seen one, a message caught by a drop is not sent again.
	var mu sync.Mutex
	var sent []string
	srv := newScriptServer(t, func(n int, sc *scriptConn) {
		sc.greet()
		if !sc.join() {
			return
		}
		if n > 1 {
			// The platform had "first" and answers it over the new socket.
			answerAnonymously(sc, "answer to first")
		}
		for {
			d, ok := sc.next(protocol.TypeChatMessage)
			if !ok {
				return
			}
			text := str(d["message"])
			mu.Lock()
			sent = append(sent, text)
			mu.Unlock()
			if text == "first" {
				sc.close(1012) // it has the message; the reply comes later
				return
			}
			answerAnonymously(sc, "answer to "+text)
		}
	})
	c := srv.client(func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond })
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.OpenChat(ctx, "chat-anonymous")
	require.NoError(t, err)
	r, err := chat.Ask(ctx, "warm up")
	require.NoError(t, err)
	require.Equal(t, "answer to warm up", r.Text)

	m1, err := chat.Send(ctx, "first")
	require.NoError(t, err)
	m2, err := chat.Send(ctx, "second")
	require.NoError(t, err)
	_, err = m1.Wait(ctx)
	require.ErrorIs(t, err, ErrReplyLost)
	r2, err := m2.Wait(ctx)
	require.NoError(t, err)
	assert.Equal(t, "answer to second", r2.Text, "the second message's own reply")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []string{"warm up", "first", "second"}, sent, "\"first\" not sent again")
}
