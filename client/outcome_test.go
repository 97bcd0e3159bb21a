package client

import (
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestClient_SendRacingTheChangeToFailedNeverStaysQueued(t *testing.T) {
	// Not parallel: its senders spin on the CPU while the client fails.
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		ctx := ctxT(t, 60*time.Second)
		for trial := range 30 {
			srv.RefuseHandshakes(1, http.StatusUnauthorized)
			c, err := New(Config{APIURL: srv.URL(), TenantID: testTenant})
			require.NoError(t, err)
			chat, err := c.OpenChat(ctx, "chat-failing")
			require.NoError(t, err)

			// Senders keep sending until Send itself reports the failure.
			var mu sync.Mutex
			var accepted []*Message
			var wg sync.WaitGroup
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						m, err := chat.Send(ctx, "hi")
						if errors.Is(err, ErrQueueFull) {
							continue // 50 are waiting for the connection already
						}
						if err != nil {
							assert.ErrorIs(t, err, ErrFailed)
							return
						}
						mu.Lock()
						accepted = append(accepted, m)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			require.Equal(t, StateFailed, c.State())
			require.Zero(t, c.q.Len(), "trial %d: messages left queued on a failed client", trial)
			for _, m := range accepted {
				_, err := m.Wait(ctx)
				require.ErrorIs(t, err, ErrFailed, "trial %d: every accepted message fails with the connection", trial)
			}
			require.NoError(t, c.Close(ctx))
		}
	})
}

func TestChat_RESTSendOnAFailedClientFailsWithoutReconnecting(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakes(1, http.StatusUnauthorized)
	c := newClient(t, srv, func(cfg *Config) { cfg.SendMode = SendREST })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	require.ErrorIs(t, c.Connect(ctx), ErrFailed)
	handshakes := srv.Handshakes()

	_, err = chat.Send(ctx, "hello")
	require.ErrorIs(t, err, ErrFailed, "failed is terminal until Connect")
	assert.Equal(t, StateFailed, c.State())
	assert.Equal(t, handshakes, srv.Handshakes(), "no new connection without Connect")
	assert.Empty(t, srv.Messages(chat.ID()), "nothing posted")
}

func TestChat_LeaveStopsTheFramesTheWriterHasNotWritten(t *testing.T) {
	t.Parallel() // waits on deadlines and slow replies, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 30*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		other, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))

		// The platform stops reading: the writer blocks once the socket's
		// buffers are full, with the rest of the frames handed to it.
		srv.Stall(true)
		outBefore := c.Stats().FramesOut
		text := strings.Repeat("x", 3900)
		var msgs []*Message
		for range 2000 {
			m, err := chat.Send(ctx, text)
			if errors.Is(err, ErrQueueFull) {
				break // the writer's backlog is full: it holds frames not written
			}
			require.NoError(t, err)
			msgs = append(msgs, m)
		}
		c.mu.Lock()
		conn := c.conn
		c.mu.Unlock()
		conn.mu.Lock()
		backlog := conn.backlog
		conn.mu.Unlock()
		require.Positive(t, backlog, "no frame waits for the writer: the test proves nothing")
		require.NoError(t, chat.Leave(ctx))
		written := c.Stats().FramesOut - outBefore // before Leave; one more may be under way
		left := map[string]bool{}
		for _, m := range msgs {
			_, err := m.Wait(ctx)
			require.ErrorIs(t, err, ErrChatLeft)
			left[m.ID()] = true
		}
		srv.Stall(false)

		// The socket is FIFO: once this reply is in, every earlier frame has
		// reached the platform.
		_, err = other.Ask(ctx, "after the leave")
		require.NoError(t, err)
		received := 0
		for _, f := range srv.FramesOfType(protocol.TypeChatMessage) {
			if id, _ := f.Data["client_message_id"].(string); left[id] {
				received++
			}
		}
		assert.LessOrEqual(t, uint64(received), written+1,
			"frames handed to the writer but not written when Leave failed their messages were written afterwards")
	})
}
