package client

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestClient_HappyPathConnectsInFourStepsAndJoins(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, nil)
	states := recordStates(c)
	var phases []string
	var pmu sync.Mutex
	c.OnProgress(func(p ProgressEvent) {
		pmu.Lock()
		phases = append(phases, p.Phase)
		pmu.Unlock()
	})
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{Title: "support"})
	require.NoError(t, err)
	require.NotEmpty(t, chat.ID())
	require.NoError(t, c.Connect(ctx))

	states.next(t, ctx, StateReady)
	assert.Equal(t, []State{StateConnecting, StateConnected, StateReady}, states.states())
	assert.NotEmpty(t, c.ClientID(), "client_id from connection_established")

	joins := srv.FramesOfType(protocol.TypeJoinChat)
	require.NotEmpty(t, joins)
	assert.Equal(t, chat.ID(), joins[0].Data["chat_id"])
	pmu.Lock()
	assert.Equal(t, []string{protocol.PhaseStarting, protocol.PhaseServices, protocol.PhaseComplete}, phases)
	pmu.Unlock()
	st := c.Stats()
	assert.Equal(t, StateReady, st.State)
	assert.False(t, st.ConnectedAt.IsZero())
	assert.Equal(t, uint64(1), st.Attempts)
}

func TestClient_QueuedFramesFlushedAfterJoinInOrder(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{ReadyDelay: 50 * time.Millisecond}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		var msgs []*Message
		for i := 0; i < 5; i++ {
			m, err := chat.Send(ctx, "message "+string(rune('a'+i)))
			require.NoError(t, err)
			msgs = append(msgs, m)
		}
		for _, m := range msgs {
			_, err := m.Wait(ctx)
			require.NoError(t, err)
		}
		frames := srv.Frames()
		joinAt, firstMsgAt := -1, -1
		var texts []string
		for i, f := range frames {
			switch f.Type {
			case protocol.TypeJoinChat:
				if joinAt < 0 {
					joinAt = i
				}
			case protocol.TypeChatMessage:
				if firstMsgAt < 0 {
					firstMsgAt = i
				}
				texts = append(texts, f.Data["message"].(string))
			}
		}
		require.GreaterOrEqual(t, joinAt, 0)
		assert.Less(t, joinAt, firstMsgAt, "join_chat is sent before the queued messages")
		assert.Equal(t, []string{"message a", "message b", "message c", "message d", "message e"}, texts, "exactly once, in order")
	})
}

func TestClient_CloseCodePolicy(t *testing.T) {
	tests := []struct {
		name     string
		code     int
		retry    bool
		min, max time.Duration // bounds of the first retry delay
	}{
		{"1000 from server reconnects", 1000, true, 800 * time.Millisecond, 1200 * time.Millisecond},
		{"1001 reconnects within the ceiling, spread over all of it", 1001, true, 0, 2 * time.Second},
		{"1008 fails", 1008, false, 0, 0},
		{"1011 floor 2s", 1011, true, 2 * time.Second, 2800 * time.Millisecond},
		{"1012 floor 2s", 1012, true, 2 * time.Second, 2800 * time.Millisecond},
		{"4003 floor 5s", 4003, true, 5 * time.Second, 7 * time.Second},
		{"4004 fails", 4004, false, 0, 0},
		{"4400 fails", 4400, false, 0, 0},
		{"4401 fails", 4401, false, 0, 0},
		{"4403 fails", 4403, false, 0, 0},
		{"4408 fails", 4408, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			clk := clock.NewFake(time.Now())
			c := newClient(t, srv, withSpecDelays(withFakeClock(clk)))
			states := recordStates(c)
			ctx := ctxT(t, 10*time.Second)
			require.NoError(t, c.Connect(ctx))
			srv.DropAll(tt.code)
			if !tt.retry {
				sc := states.next(t, ctx, StateFailed)
				var ce *ConnectError
				require.ErrorAs(t, sc.Reason, &ce)
				assert.Equal(t, tt.code, ce.Trigger.Code)
				assert.ErrorIs(t, sc.Reason, ErrFailed)
				assert.Equal(t, 1, srv.Handshakes(), "no reconnect")
				return
			}
			sc := states.next(t, ctx, StateReconnecting)
			assert.GreaterOrEqual(t, sc.RetryIn, tt.min)
			assert.LessOrEqual(t, sc.RetryIn, tt.max)
			var ce *ConnectError
			require.ErrorAs(t, sc.Reason, &ce)
			assert.Equal(t, tt.code, ce.Trigger.Code)
			clk.Advance(sc.RetryIn)
			states.next(t, ctx, StateReady)
			assert.Equal(t, 2, srv.Handshakes())
			assert.Equal(t, uint64(1), c.Stats().Reconnects)
		})
	}
}

func TestClient_AbruptDropReconnectsAfterNetworkFloor(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withSpecDelays(withFakeClock(clk)))
	states := recordStates(c)
	ctx := ctxT(t, 10*time.Second)
	require.NoError(t, c.Connect(ctx))
	srv.DropAllAbrupt()
	sc := states.next(t, ctx, StateReconnecting)
	assert.GreaterOrEqual(t, sc.RetryIn, 3*time.Second)
	assert.Less(t, sc.RetryIn, 4200*time.Millisecond)
	clk.Advance(sc.RetryIn)
	states.next(t, ctx, StateReady)
}

func TestClient_HandshakeStatusPolicy(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter time.Duration
		retry      bool
		min, max   time.Duration
	}{
		{"401 fails", 401, 0, false, 0, 0},
		{"403 fails", 403, 0, false, 0, 0},
		{"404 fails", 404, 0, false, 0, 0},
		{"429 without Retry-After waits 5s", 429, 0, true, 5 * time.Second, 7 * time.Second},
		{"429 honours Retry-After", 429, 8 * time.Second, true, 8 * time.Second, 11200 * time.Millisecond},
		{"500 as 1011", 500, 0, true, 2 * time.Second, 2800 * time.Millisecond},
		{"503 as 1011", 503, 0, true, 2 * time.Second, 2800 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetRetryAfter(tt.retryAfter)
			srv.RefuseHandshakes(1, tt.status)
			clk := clock.NewFake(time.Now())
			c := newClient(t, srv, withSpecDelays(withFakeClock(clk)))
			states := recordStates(c)
			ctx := ctxT(t, 10*time.Second)
			if !tt.retry {
				err := c.Connect(ctx)
				require.ErrorIs(t, err, ErrFailed)
				var ce *ConnectError
				require.ErrorAs(t, err, &ce)
				assert.Equal(t, protocol.CauseHandshake, ce.Trigger.Cause)
				assert.Equal(t, tt.status, ce.Trigger.Code)
				assert.Equal(t, StateFailed, c.State())
				return
			}
			require.NoError(t, c.start())
			sc := states.nextWait(t, ctx, StateConnecting)
			assert.GreaterOrEqual(t, sc.RetryIn, tt.min)
			assert.LessOrEqual(t, sc.RetryIn, tt.max)
			clk.Advance(sc.RetryIn)
			states.next(t, ctx, StateReady)
		})
	}
}

func TestClient_RefusedWithCloseCodeAtOpenFails(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakesWithClose(1, protocol.ClosePolicyViolation)
	c := newClient(t, srv, nil)
	err := c.Connect(ctxT(t, 10*time.Second))
	require.ErrorIs(t, err, ErrFailed)
	var ce *ConnectError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, protocol.ClosePolicyViolation, ce.Trigger.Code)
}

func TestClient_AttemptsStopAfterLimitThenConnectWorks(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakes(1000, 503)
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	states := recordStates(c)
	ctx := ctxT(t, 20*time.Second)
	require.NoError(t, c.start())
	for i := 1; i <= DefaultMaxRetries; i++ {
		sc := states.nextWait(t, ctx, StateConnecting) // never ready: not "re"connecting
		assert.Equal(t, i+1, sc.Attempt)
		assert.Positive(t, sc.RetryIn)
		clk.Advance(sc.RetryIn)
	}
	assert.NotContains(t, states.states(), StateReconnecting)
	sc := states.next(t, ctx, StateFailed)
	assert.ErrorIs(t, sc.Reason, ErrFailed)
	var fe *FailedError
	require.ErrorAs(t, sc.Reason, &fe)
	assert.Equal(t, 6, fe.Attempts)
	assert.Equal(t, 6, srv.Handshakes(), "a platform that never answers sees 6 dials")

	// Failed is terminal until Connect.
	srv.RefuseHandshakes(0, 0)
	require.NoError(t, c.Connect(ctx))
	assert.Equal(t, StateReady, c.State())
}

func TestClient_AttemptCounterResetsOnReady(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	states := recordStates(c)
	ctx := ctxT(t, 20*time.Second)
	require.NoError(t, c.Connect(ctx))
	for round := 0; round < 2; round++ {
		srv.RefuseHandshakes(3, 503)
		srv.DropAll(1011)
		for i := 1; i <= 4; i++ {
			sc := states.next(t, ctx, StateReconnecting)
			assert.Equal(t, i+1, sc.Attempt, "round %d", round)
			clk.Advance(sc.RetryIn)
		}
		states.next(t, ctx, StateReady)
	}
}

func TestClient_DegradedChatLearnsIDFromPlatform(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.FailChatCreations(2, 503)
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{Title: "degraded"})
	require.NoError(t, err)
	require.True(t, chat.State().Chat.Degraded || chat.ID() != "")
	assert.Equal(t, chat.State().Chat.Degraded, chat.Degraded())
	require.NoError(t, c.Connect(ctx))
	require.NotEmpty(t, chat.ID(), "id learned from chat_created")
	assert.False(t, chat.State().Chat.Degraded)
	assert.False(t, chat.Degraded())
	r, err := chat.Ask(ctx, "hello")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("hello"), r.Text)
}

func TestClient_ChatCreation4xxIsAnError(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.FailChatCreations(1, 422)
	c := newClient(t, srv, nil)
	_, err := c.NewChat(ctxT(t, 5*time.Second), ChatOptions{})
	require.ErrorIs(t, err, protocol.ErrValidation)
}

func TestClient_ReadyTimeoutReconnectsAsInitializing(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.WithholdReady(true)
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withSpecDelays(withFakeClock(clk)))
	states := recordStates(c)
	ctx := ctxT(t, 10*time.Second)
	require.NoError(t, c.start())
	states.next(t, ctx, StateConnected)
	require.NoError(t, clk.WaitForWaiters(ctx, 2)) // ping ticker, ready timer (nothing else is due: no timer)
	clk.Advance(DefaultReadyTimeout)
	sc := states.nextWait(t, ctx, StateConnecting) // connected, never ready: connecting again
	var ce *ConnectError
	require.ErrorAs(t, sc.Reason, &ce)
	assert.Equal(t, protocol.CauseReadyTimeout, ce.Trigger.Cause)
	assert.GreaterOrEqual(t, sc.RetryIn, 2*time.Second)
	srv.WithholdReady(false)
	clk.Advance(sc.RetryIn)
	states.next(t, ctx, StateReady)
}

func TestClient_DeadConnectionDetectedAndRecovered(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, func(cfg *Config) {
		cfg.PingInterval = time.Hour
		cfg.DeadTimeout = 300 * time.Millisecond
		cfg.InitialBackoff = 10 * time.Millisecond
	})
	states := recordStates(c)
	ctx := ctxT(t, 20*time.Second)
	require.NoError(t, c.Connect(ctx))
	srv.Stall(true)
	sc := states.next(t, ctx, StateReconnecting)
	var ce *ConnectError
	require.ErrorAs(t, sc.Reason, &ce)
	assert.Equal(t, protocol.CauseNetwork, ce.Trigger.Cause)
	srv.Stall(false)
	states.next(t, ctx, StateReady)
}

func TestClient_ServerPingAnsweredWithPong(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	require.NoError(t, c.Connect(ctx))
	srv.Ping()
	require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
		return len(s.FramesOfType(protocol.TypePong)) > 0
	}))
}

func TestClient_KeepalivePingSentEveryInterval(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, then(form, withFakeClock(clk)))
		ctx := ctxT(t, 10*time.Second)
		require.NoError(t, c.Connect(ctx))
		clk.Advance(DefaultPingInterval)
		require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
			return len(s.FramesOfType(protocol.TypePing)) == 1
		}))
	})
}

func TestClient_QueueOverflowReturnsErrQueueFull(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.WithholdReady(true)
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.QueueSize = 3 }))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, "chat-q")
		require.NoError(t, err)
		for i := 0; i < 3; i++ {
			_, err := chat.Send(ctx, "queued")
			require.NoError(t, err)
		}
		_, err = chat.Send(ctx, "one too many")
		require.ErrorIs(t, err, ErrQueueFull)
		assert.Equal(t, uint64(1), c.Stats().QueueRejected)
		assert.Equal(t, 3, c.Stats().QueueLength)
	})
}

func TestClient_ExpiredQueuedMessageFailsItsSender(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.WithholdReady(true)
		clk := clock.NewFake(time.Now())
		c := newClient(t, srv, then(form, withFakeClock(clk)))
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, "chat-ttl")
		require.NoError(t, err)
		// No deadline of its own: the queue's TTL is the message's deadline.
		m, err := chat.Send(context.Background(), "too late")
		require.NoError(t, err)
		clk.Advance(DefaultQueueTTL + time.Second)
		_, err = m.Wait(ctx)
		require.ErrorIs(t, err, ErrExpired)
		assert.Zero(t, c.Stats().QueueLength)
	})
}

func TestClient_SendContextEndedBeforeWriteFailsAndIsNeverSent(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.WithholdReady(true)
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.OpenChat(ctx, "chat-ctx")
	require.NoError(t, err)
	sendCtx, cancel := context.WithCancel(ctx)
	m, err := chat.Send(sendCtx, "never")
	require.NoError(t, err)
	cancel()
	srv.WithholdReady(false)
	srv.DropAll(1012) // reconnect; now the platform gets ready
	require.NoError(t, c.Connect(ctx))
	_, err = m.Wait(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, srv.FramesOfType(protocol.TypeChatMessage))
}

func TestClient_DuplicateEventsDeliveredOnce(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		if fc.server == platformtest.ProtocolTenantApp {
			// Its chunks carry no sequence number: a chunk sent twice cannot
			// be told from a chunk that repeats the text (SPEC §5).
			t.Skip("the tenant-app variant's chunks cannot be deduplicated")
		}
		srv.SetDuplicate(true)
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		completes := collectCompletes(chat)
		r, err := chat.Ask(ctx, "twice?")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("twice?"), r.Text)
		// Callbacks run in order: a duplicate of the first reply would be
		// delivered before the second reply.
		r2, err := chat.Ask(ctx, "again")
		require.NoError(t, err)
		assert.Equal(t, []string{r.ClientMessageID, r2.ClientMessageID}, completes.until(t, ctx, r2.ClientMessageID))
		assert.Positive(t, c.Stats().DuplicatesDropped)
	})
}

func TestClient_ForeignChatEventsDroppedAndCounted(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		mine := uuid.NewString()
		chat, err := c.OpenChat(ctx, mine)
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		var foreign atomic.Int32
		chat.OnComplete(func(e CompleteEvent) {
			if e.Reply.ChatID != mine {
				foreign.Add(1)
			}
		})
		chat.OnChunk(func(e ChunkEvent) {
			if e.ChatID != mine {
				foreign.Add(1)
			}
		})
		srv.Inject("chat-other", map[string]any{"type": "response_chunk", "data": map[string]any{"chat_id": "chat-other", "message_id": "m-x", "content": "not yours", "chunk_index": 0}})
		srv.Inject("chat-other", map[string]any{"type": "response_complete", "data": map[string]any{"chat_id": "chat-other", "message_id": "m-x", "content": "not yours"}})
		r, err := chat.Ask(ctx, "mine")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("mine"), r.Text)
		assert.Zero(t, foreign.Load())
		assert.Equal(t, uint64(2), c.Stats().IsolationDrops)
	})
}

func TestClient_CallbackMayCallCloseWithoutDeadlock(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		closed := make(chan error, 1)
		c.OnStateChange(func(sc StateChange) {
			if sc.Current == StateReady {
				closed <- c.Close(context.Background())
			}
		})
		ctx := ctxT(t, 10*time.Second)
		_ = c.Connect(ctx)
		select {
		case err := <-closed:
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("Close from a callback deadlocked")
		}
		assert.Equal(t, StateDisconnected, c.State())
	})
}

func TestClient_CallbackMayCallConnectAndSend(t *testing.T) {
	t.Parallel()
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		got := make(chan error, 1)
		var once sync.Once
		c.OnStateChange(func(sc StateChange) {
			if sc.Current != StateReady {
				return
			}
			once.Do(func() {
				if err := c.Connect(ctx); err != nil {
					got <- err
					return
				}
				_, err := chat.Send(ctx, "from a callback")
				got <- err
			})
		})
		require.NoError(t, c.Connect(ctx))
		select {
		case err := <-got:
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("callback deadlocked")
		}
	})
}

func TestClient_PanickingCallbackIsReported(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		errs := make(chan ErrorEvent, 4)
		c.OnError(func(e ErrorEvent) { errs <- e })
		c.OnStateChange(func(sc StateChange) {
			if sc.Current == StateReady {
				panic("boom")
			}
		})
		ctx := ctxT(t, 10*time.Second)
		require.NoError(t, c.Connect(ctx))
		select {
		case e := <-errs:
			assert.Equal(t, ErrorProtocol, e.Kind)
			assert.Contains(t, e.Err.Error(), "boom")
		case <-ctx.Done():
			t.Fatal("panic not reported")
		}
	})
}

func TestClient_CloseFromManyGoroutinesIsSafe(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		require.NoError(t, c.Connect(ctx))
		var wg sync.WaitGroup
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				assert.NoError(t, c.Close(ctx))
			}()
		}
		wg.Wait()
		assert.ErrorIs(t, c.Connect(ctx), ErrClosed)
	})
}

func TestClient_NoCallbackAfterCloseReturns(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		var after atomic.Bool
		var closedAt atomic.Bool
		cb := func() {
			if closedAt.Load() {
				after.Store(true)
			}
		}
		chat.OnChunk(func(ChunkEvent) { cb() })
		chat.OnMessageStatus(func(MessageStatusEvent) { cb() })
		c.OnStateChange(func(StateChange) { cb() })
		c.OnEvent(func(normalize.Event) { cb() })
		require.NoError(t, c.Connect(ctx))
		for i := 0; i < 20; i++ {
			_, _ = chat.Send(ctx, "burst")
		}
		require.NoError(t, c.Close(ctx))
		closedAt.Store(true)
		// Give any stray goroutine the chance to misbehave: a further message
		// round trip on another client proves the server kept going.
		c2 := newClient(t, srv, form)
		chat2, err := c2.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		_, err = chat2.Ask(ctx, "still here")
		require.NoError(t, err)
		assert.False(t, after.Load(), "a callback ran after Close returned")
	})
}

func TestClient_CloseFailsWaitersWithErrClosed(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.WithholdReady(true)
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		m, err := chat.Send(ctx, "pending")
		require.NoError(t, err)
		require.NoError(t, c.Close(ctx))
		_, err = m.Wait(ctx)
		require.ErrorIs(t, err, ErrClosed)
		_, err = chat.Send(ctx, "after close")
		require.ErrorIs(t, err, ErrClosed)
	})
}

func TestClient_SecretsNeverLoggedNorInErrorsNorURLs(t *testing.T) {
	const key = "sk-very-secret-key-123"
	srv := newServer(t, platformtest.Config{APIKey: key})
	var logs logBuffer
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, func(cfg *Config) {
		cfg.APIKey = key
		cfg.Logger = debugLogger(&logs)
		cfg.clock = clk
	})
	states := recordStates(c)
	var errs []string
	var emu sync.Mutex
	c.OnError(func(e ErrorEvent) {
		emu.Lock()
		errs = append(errs, e.Err.Error())
		emu.Unlock()
	})
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	_, err = chat.Ask(ctx, "hello")
	require.NoError(t, err)
	srv.RefuseHandshakes(1, 429)
	srv.DropAll(1011)
	sc := states.next(t, ctx, StateReconnecting)
	clk.Advance(sc.RetryIn)
	sc = states.next(t, ctx, StateReconnecting)
	clk.Advance(sc.RetryIn)
	states.next(t, ctx, StateReady)
	srv.DropAllAbrupt()
	sc = states.next(t, ctx, StateReconnecting)
	clk.Advance(sc.RetryIn)
	states.next(t, ctx, StateReady)

	assert.Contains(t, logs.String(), "frame in", "debug frame logging was on")
	assert.NotContains(t, logs.String(), key)
	emu.Lock()
	for _, e := range errs {
		assert.NotContains(t, e, key)
	}
	emu.Unlock()
	for _, sc := range states.changes {
		if sc.Reason != nil {
			assert.NotContains(t, sc.Reason.Error(), key)
		}
	}
	reqs := append(srv.HandshakeRequests(), srv.RESTRequests()...)
	require.NotEmpty(t, reqs)
	for _, r := range reqs {
		assert.NotContains(t, r.Path+"?"+r.Query.Encode(), key, "the key is never in a URL")
	}

	// A wrong key is refused; the error names no key.
	bad := newClient(t, srv, func(cfg *Config) { cfg.APIKey = "sk-wrong-key-456" })
	err = bad.Connect(ctx)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "sk-wrong-key-456")
}

func TestConfig_Validation(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string
	}{
		{"missing tenant", Config{}, "TenantID"},
		{"bad api url", Config{TenantID: "t", APIURL: "ftp://x"}, "APIURL"},
		{"relative api url", Config{TenantID: "t", APIURL: "/api"}, "APIURL"},
		{"bad ws url", Config{TenantID: "t", WSURL: "http://x"}, "WSURL"},
		{"credentials in url", Config{TenantID: "t", APIURL: "https://u:p@x"}, "APIURL"},
		{"insecure http with key to remote host", Config{TenantID: "t", APIURL: "http://api.example.com", APIKey: "k"}, "APIURL"},
		{"insecure ws with key to remote host", Config{TenantID: "t", APIURL: "https://api.example.com", WSURL: "ws://api.example.com", APIKey: "k"}, "WSURL"},
		{"negative timeout", Config{TenantID: "t", ReadyTimeout: -1}, "ReadyTimeout"},
		{"negative queue", Config{TenantID: "t", QueueSize: -1}, "QueueSize"},
		{"bad retries", Config{TenantID: "t", MaxRetries: -2}, "MaxRetries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.field, ce.Field)
			assert.NotContains(t, err.Error(), "k\"")
		})
	}
}

func TestConfig_DefaultsAndCopy(t *testing.T) {
	in := Config{TenantID: "t", APIKey: "k"}
	out, err := in.withDefaults()
	require.NoError(t, err)
	assert.Empty(t, in.APIURL, "the caller's value is not changed")
	assert.Equal(t, DefaultAPIURL, out.APIURL)
	assert.Equal(t, "ws://localhost:8001", out.WSURL)
	assert.Equal(t, DefaultQueueSize, out.QueueSize)
	assert.Equal(t, 2*DefaultPingInterval+10*time.Second, out.DeadTimeout)
	assert.Equal(t, DefaultMaxRetries, out.MaxRetries)

	prod, err := Config{TenantID: "t", APIURL: ProductionAPIURL}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "wss://api.miptechnologies.tech", prod.WSURL)

	opt, err := Config{TenantID: "t", APIURL: "http://api.example.com", APIKey: "k", AllowInsecure: true}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "ws://api.example.com", opt.WSURL)

	none, err := Config{TenantID: "t", MaxRetries: -1}.withDefaults()
	require.NoError(t, err)
	assert.Zero(t, none.MaxRetries)
}

func TestStateMachine_TableHoldsOnlySpecTransitions(t *testing.T) {
	all := []State{StateDisconnected, StateConnecting, StateConnected, StateReady, StateReconnecting, StateFailed}
	allowed := map[[2]State]bool{
		{StateDisconnected, StateConnecting}: true,
		{StateConnecting, StateConnected}:    true, {StateConnecting, StateReconnecting}: true, {StateConnecting, StateFailed}: true,
		{StateConnecting, StateConnecting}: true, // a wait between attempts before the first ready
		{StateConnected, StateReady}:       true, {StateConnected, StateReconnecting}: true, {StateConnected, StateFailed}: true,
		{StateConnected, StateConnecting}: true, // the socket opened, then the attempt failed, before the first ready
		{StateReady, StateReconnecting}:   true, {StateReady, StateFailed}: true,
		{StateReconnecting, StateConnecting}: true, {StateReconnecting, StateFailed}: true,
		{StateFailed, StateConnecting}: true,
	}
	for _, from := range all {
		for _, to := range all {
			want := allowed[[2]State{from, to}] || (to == StateDisconnected && from != StateDisconnected)
			assert.Equal(t, want, canTransition(from, to), "%s → %s", from, to)
		}
	}
}

func TestStateMachine_ImpossibleTransitionIsRefusedAndCounted(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, nil)
	assert.False(t, c.setState(StateReady, nil, 0, 0), "disconnected → ready is impossible")
	assert.Equal(t, StateDisconnected, c.State())
	assert.Equal(t, uint64(1), c.stats.badTransitions.Load())
	assert.True(t, strings.Contains(transitionError{StateDisconnected, StateReady}.Error(), "disconnected → ready"))
}

func TestClient_StateChangesAreValidTransitionsUnderFaults(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, func(cfg *Config) { cfg.InitialBackoff = time.Millisecond })
	states := recordStates(c)
	ctx := ctxT(t, 30*time.Second)
	require.NoError(t, c.Connect(ctx))
	for i := 0; i < 3; i++ {
		srv.DropAll(1001)
		states.next(t, ctx, StateReconnecting)
		states.next(t, ctx, StateReady)
	}
	states.mu.Lock()
	defer states.mu.Unlock()
	for _, sc := range states.changes {
		assert.True(t, canTransition(sc.Previous, sc.Current), "%s → %s", sc.Previous, sc.Current)
	}
	assert.Zero(t, c.stats.badTransitions.Load())
}
