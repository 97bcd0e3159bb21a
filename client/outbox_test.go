package client

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestOutbox_APlatformThatStopsReadingMakesSendFailInsteadOfGrowing(t *testing.T) {
	// Not parallel: it measures the heap, which other tests would grow.
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, func(cfg *Config) { cfg.ResponseTimeout = time.Hour })
	ctx := ctxT(t, 60*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	srv.Stall(true) // reads one more frame, then nothing
	defer srv.Stall(false)

	// Until the socket's buffers are full, frames go out; then the writer
	// blocks and its backlog reaches the queue's bound.
	accepted, refused := 0, 0
	for i := 0; refused < 1000 && i < 300_000; i++ {
		_, err := chat.Send(context.Background(), "a message the platform never reads")
		if errors.Is(err, ErrQueueFull) {
			refused++ // in a row
			continue
		}
		require.NoError(t, err)
		accepted++
		refused = 0
	}
	require.Equal(t, 1000, refused, "Send never refused: the writer's backlog is unbounded")

	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	conn.mu.Lock()
	backlog := conn.backlog
	conn.mu.Unlock()
	assert.LessOrEqual(t, backlog, DefaultWriteBuffer, "bytes waiting for the writer")

	// From here on sends are refused, and memory stays flat. (The writer's
	// 10 s write deadline may meanwhile give the connection up: the client
	// then reconnects, and the queue, bounded the same, takes the sends.)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	attemptsBefore := c.Stats().Attempts
	sends := outboxSends
	if raceEnabled {
		sends /= 5
	}
	more := 0
	start := time.Now()
	for range sends {
		_, err := chat.Send(context.Background(), "a message the platform never reads")
		if err == nil {
			more++
			continue
		}
		if !errors.Is(err, ErrQueueFull) {
			require.ErrorIs(t, err, ErrFailed, "a refused send fails with ErrQueueFull, or with the connection's failure")
		}
	}
	t.Logf("phase 2: %v", time.Since(start))
	if c.Stats().Attempts == attemptsBefore {
		assert.LessOrEqual(t, more, DefaultQueueSize+DefaultWriteBuffer/100, "sends taken while the platform reads nothing")
	} else {
		// The write deadline gave the stalled connection up (a slow
		// machine): a new socket's kernel buffers took sends again. The
		// heap bound below still holds.
		t.Logf("the connection was replaced during phase 2; %d sends taken", more)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	assert.Less(t, grown, int64(4<<20), "heap grew by %d bytes over %d refused sends", grown, sends)
	t.Logf("accepted %d sends before the platform's buffers filled; heap %+d bytes over %d refused sends", accepted, grown, sends)
}

// outboxSends is how many sends the never-reading platform test makes once
// the platform's buffers are full.
const outboxSends = 100_000

func TestOutbox_ANoisyChatCannotTakeTheQuietChatsSlots(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) {
			// Back within milliseconds once the outage ends, however many
			// attempts it refused.
			cfg.InitialBackoff = 5 * time.Millisecond
			cfg.MaxBackoff = 20 * time.Millisecond
			cfg.MaxRetries = RetryForever
		}))
		ctx := ctxT(t, 10*time.Second)
		chats := make([]*Chat, 10)
		for i := range chats {
			ch, err := c.OpenChat(ctx, uuid.NewString())
			require.NoError(t, err)
			chats[i] = ch
		}
		require.NoError(t, c.WaitForState(ctx, StateReady))
		srv.RefuseHandshakes(1000, 503) // a gateway outage: everything queues
		srv.DropAll(websocket.CloseGoingAway)
		require.NoError(t, c.WaitForState(ctx, StateReconnecting))

		noisy, quiet := chats[0], chats[1:]
		var accepted []*Message
		refused := 0
		for i := range DefaultQueueSize {
			m, err := noisy.Send(ctx, fmt.Sprint("noisy ", i))
			if errors.Is(err, ErrQueueFull) {
				refused++
				continue
			}
			require.NoError(t, err)
			accepted = append(accepted, m)
		}
		share := DefaultQueueSize / len(chats)
		assert.Len(t, accepted, share, "the noisy chat holds its fair share of the queue")
		assert.Equal(t, DefaultQueueSize-share, refused)
		var quietMsgs []*Message
		for i, ch := range quiet {
			for j := range share - 1 {
				m, err := ch.Send(ctx, fmt.Sprintf("quiet %d.%d", i, j))
				require.NoError(t, err, "a quiet chat is never refused while it is under its share")
				quietMsgs = append(quietMsgs, m)
			}
		}
		srv.RefuseHandshakes(0, 0)
		for _, m := range append(accepted, quietMsgs...) {
			_, err := m.Wait(ctx)
			require.NoError(t, err, "every accepted message is answered after the outage")
		}
	})
}
