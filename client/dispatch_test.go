package client

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// startDispatcher runs a dispatcher with the given limit until the test
// ends.
func startDispatcher(t *testing.T, limit int) *dispatcher {
	t.Helper()
	d := newDispatcher(limit, slog.New(slog.NewTextHandler(io.Discard, nil)))
	t.Cleanup(func() {
		d.shutdown()
		<-d.done
	})
	return d
}

func TestDispatcher_CallbackEnqueueingPastTheLimitNeverBlocks(t *testing.T) {
	d := startDispatcher(t, 2)
	var mu sync.Mutex
	var order []int
	done := make(chan struct{})
	require.True(t, d.enqueue(func() {
		// A callback whose SDK calls enqueue ten events while the
		// dispatcher, busy with this very callback, cannot run them.
		for i := 1; i <= 10; i++ {
			require.True(t, d.enqueue(func() {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
			}))
		}
		d.enqueue(func() { close(done) })
	}))
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the dispatcher deadlocked on its own events")
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, order, "events run in the order they were enqueued")
}

func TestDispatcher_ReaderWaitsForRoomAndTheStallIsCounted(t *testing.T) {
	d := startDispatcher(t, 2)
	release := make(chan struct{})
	require.True(t, d.enqueue(func() { <-release })) // a slow callback
	require.True(t, d.enqueue(func() {}))
	require.True(t, d.enqueue(func() {}))

	got := make(chan bool, 1)
	go func() { got <- d.waitRoom(nil) }()
	select {
	case <-got:
		t.Fatal("the reader did not wait although the dispatcher is behind")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case ok := <-got:
		assert.True(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("the reader was not let go when the callbacks caught up")
	}
	assert.EqualValues(t, 1, d.stalls.Load())
}

func TestDispatcher_WaitingReaderLetGoOnStop(t *testing.T) {
	d := startDispatcher(t, 1)
	release := make(chan struct{})
	defer close(release)
	require.True(t, d.enqueue(func() { <-release }))
	require.True(t, d.enqueue(func() {}))
	stop := make(chan struct{})
	got := make(chan bool, 1)
	go func() { got <- d.waitRoom(stop) }()
	close(stop)
	select {
	case ok := <-got:
		assert.False(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("the reader kept waiting after its connection stopped")
	}
}

func TestClient_CallbackSendingWhileCallbacksAreBehindDoesNotDeadlock(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.DispatchBuffer = 1 }))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))

		second := make(chan *Message, 1)
		var once sync.Once
		chat.OnChunk(func(ChunkEvent) {
			once.Do(func() {
				// The reader is blocked on the full dispatcher by now; this
				// send enqueues status events from the dispatcher itself.
				m, err := chat.Send(ctx, "second")
				assert.NoError(t, err)
				_ = c.State()
				_ = chat.State()
				second <- m
			})
		})
		r, err := chat.Ask(ctx, "first")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("first"), r.Text)
		var m *Message
		select {
		case m = <-second:
		case <-ctx.Done():
			t.Fatal("the callback deadlocked")
		}
		require.NotNil(t, m)
		r, err = m.Wait(ctx)
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("second"), r.Text)
	})
}

func TestClient_PanicWhileCallbacksAreBehindIsReported(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.DispatchBuffer = 1 }))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		errs := make(chan ErrorEvent, 16)
		c.OnError(func(e ErrorEvent) { errs <- e })
		chat.OnChunk(func(ChunkEvent) { panic("chunk handler broke") })
		r, err := chat.Ask(ctx, "hello")
		require.NoError(t, err)
		assert.Equal(t, platformtest.ReplyText("hello"), r.Text)
		for {
			select {
			case e := <-errs:
				if e.Kind == ErrorProtocol {
					assert.Contains(t, e.Err.Error(), "chunk handler broke")
					return
				}
			case <-ctx.Done():
				t.Fatal("the panic was not reported")
			}
		}
	})
}

func TestClient_CloseFromACallbackRunsNoCallbackQueuedBehindIt(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	eachFormParallel(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		require.NoError(t, c.Connect(ctx))
		for range 20 {
			gate := make(chan struct{})
			closed := make(chan error, 1)
			var after atomic.Bool
			require.True(t, c.disp.enqueue(func() {
				<-gate
				closed <- c.Close(ctx)
				// Close has returned: from here on no other callback may
				// start, though this one may go on.
			}))
			require.True(t, c.disp.enqueue(func() { after.Store(true) }))
			close(gate)
			require.NoError(t, <-closed)
			select {
			case <-c.disp.done:
			case <-ctx.Done():
				t.Fatal("the dispatcher did not exit after Close")
			}
			require.False(t, after.Load(), "a callback ran after Close returned")

			c = newClient(t, srv, form)
			require.NoError(t, c.Connect(ctx))
		}
	})
}

// closeRecorder is a minimal platform (health check and WebSocket
// handshake) that records the close code of each connection.
type closeRecorder struct {
	srv   *httptest.Server
	codes chan int
}

func newCloseRecorder(t *testing.T) *closeRecorder {
	t.Helper()
	r := &closeRecorder{codes: make(chan int, 64)}
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.HandleFunc(protocol.PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"healthy"}`))
	})
	mux.HandleFunc(protocol.PathWebSocket, func(w http.ResponseWriter, req *http.Request) {
		ws, err := up.Upgrade(w, req, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for _, f := range []string{
			`{"type":"connection_established","data":{"client_id":"c-1"}}`,
			`{"type":"connection_ready","data":{}}`,
		} {
			if ws.WriteMessage(websocket.TextMessage, []byte(f)) != nil {
				return
			}
		}
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				code := -1
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					code = ce.Code
				}
				r.codes <- code
				return
			}
		}
	})
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

func TestClient_CloseAlwaysSendsANormalClosure(t *testing.T) {
	rec := newCloseRecorder(t)
	ctx := ctxT(t, 20*time.Second)
	for i := range 30 {
		c, err := New(Config{APIURL: rec.srv.URL, TenantID: testTenant})
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))
		require.NoError(t, c.Close(ctx))
		select {
		case code := <-rec.codes:
			require.Equal(t, websocket.CloseNormalClosure, code, "close %d", i)
		case <-ctx.Done():
			t.Fatal("the platform saw no close")
		}
	}
}

func TestClient_SendOnAFailedClientFailsAtOnceWithoutReconnecting(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakes(1, http.StatusUnauthorized)
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.OpenChat(ctx, "chat-failed")
	require.NoError(t, err)
	require.ErrorIs(t, c.Connect(ctx), ErrFailed)
	handshakes := srv.Handshakes()

	_, err = chat.Send(ctx, "anyone there?")
	require.ErrorIs(t, err, ErrFailed, "failed is terminal until Connect")
	var ce *ConnectError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusUnauthorized, ce.Trigger.Code)
	_, err = c.OpenChat(ctx, "chat-failed-2")
	require.NoError(t, err)
	assert.Equal(t, StateFailed, c.State())
	assert.Equal(t, handshakes, srv.Handshakes(), "no connection attempt without Connect")

	require.NoError(t, c.Connect(ctx))
	r, err := chat.Ask(ctx, "and now?")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("and now?"), r.Text)
}

func TestClient_CallbacksKeepRegistrationOrderAfterManyUnsubscribes(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		for range 1000 {
			c.OnStateChange(func(StateChange) {})()
		}
		var mu sync.Mutex
		var order []string
		add := func(name string) func() {
			return c.OnStateChange(func(sc StateChange) {
				if sc.Current == StateReady {
					mu.Lock()
					order = append(order, name)
					mu.Unlock()
				}
			})
		}
		add("a")
		unsubB := add("b")
		add("c")
		unsubB()
		add("d")
		require.NoError(t, c.Connect(ctxT(t, 10*time.Second)))
		syncCallbacks(t, c)
		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, []string{"a", "c", "d"}, order)
		assert.Len(t, c.onState.get(), 3)
	})
}

func TestClient_SeveralDegradedChatsAreEachAcknowledged(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.FailChatCreations(100, http.StatusServiceUnavailable)
	// Both chats exist before the connection is ready, so both are joined
	// (with create) by the same connect.
	srv.WithholdReady(true)
	// With a fake clock the join timeout never fires: only the platform's
	// acknowledgements let Connect reach ready.
	clk := clock.NewFake(time.Now())
	c := newClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	a, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	b, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	srv.WithholdReady(false)
	require.NoError(t, c.Connect(ctx))
	assert.NotEmpty(t, a.ID())
	assert.NotEmpty(t, b.ID())
	assert.NotEqual(t, a.ID(), b.ID())
}

func TestDispatcher_TheReaderWaitsPastTheByteBound(t *testing.T) {
	d := startDispatcher(t, 100)
	d.byteLimit = 100
	release := make(chan struct{})
	ran := make(chan struct{}, 4)
	d.chargeNext(60)
	require.True(t, d.enqueue(func() { <-release; ran <- struct{}{} })) // holds 60 bytes while it runs
	d.chargeNext(60)
	require.True(t, d.enqueue(func() { ran <- struct{}{} }))
	stop := make(chan struct{})
	defer close(stop)
	waited := make(chan bool, 1)
	go func() { waited <- d.waitRoom(stop) }()
	select {
	case <-waited:
		t.Fatal("the reader did not wait with 120 bytes of events pending and a bound of 100")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case ok := <-waited:
		assert.True(t, ok)
	case <-time.After(10 * time.Second):
		t.Fatal("the reader was not let go once the events ran")
	}
	<-ran
	<-ran
	// The bytes are released just after the event's function returns.
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.bytes == 0
	}, 5*time.Second, time.Millisecond, "every charged byte is released when its event has run")
}

func TestDispatcher_KnowsItsOwnCallbacksOnly(t *testing.T) {
	d := startDispatcher(t, 4)
	assert.NotEmpty(t, callName)
	assert.False(t, d.onDispatcher(), "outside any callback")
	type verdict struct{ inside, deep, spawned bool }
	got := make(chan verdict, 1)
	var deep func(n int) bool
	deep = func(n int) bool {
		if n == 0 {
			return d.onDispatcher()
		}
		return deep(n - 1)
	}
	require.True(t, d.enqueue(func() {
		v := verdict{inside: d.onDispatcher(), deep: deep(500)}
		spawned := make(chan bool)
		go func() { spawned <- d.onDispatcher() }()
		v.spawned = <-spawned
		got <- v
	}))
	v := <-got
	assert.True(t, v.inside, "a callback runs on the dispatcher")
	assert.True(t, v.deep, "however deep its stack")
	assert.False(t, v.spawned, "a goroutine the callback starts is not the dispatcher")
	assert.False(t, d.onDispatcher(), "another goroutine while a callback may run")
}

func TestDispatcher_NoGoroutineWhileNothingIsPending(t *testing.T) {
	d := startDispatcher(t, 4)
	ran := make(chan struct{})
	require.True(t, d.enqueue(func() { close(ran) }))
	<-ran
	require.Eventually(t, func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return !d.running
	}, 5*time.Second, time.Millisecond, "the goroutine exits once nothing is pending")
	again := make(chan struct{})
	require.True(t, d.enqueue(func() { close(again) }), "and a new event starts one")
	<-again
}
