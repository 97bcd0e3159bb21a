package client

import (
	"context"
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

func TestStateChanges_YieldsEveryChangeAndEndsAfterClose(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		cfg := Config{APIURL: srv.URL(), TenantID: testTenant}
		form(&cfg)
		c, err := New(cfg)
		require.NoError(t, err)
		ctx := ctxT(t, 10*time.Second)

		watching := hookWatching(t)
		var got []State
		done := make(chan struct{})
		go func() {
			defer close(done)
			for sc := range c.StateChanges(ctx) {
				got = append(got, sc.Current)
				if sc.Current == StateReady {
					// The body may call the client, Close included.
					assert.NoError(t, c.Close(ctx))
				}
			}
		}()
		<-watching // the subscription starts with the loop
		if err := c.Connect(ctx); err != nil {
			// The loop body may close the client before Connect sees ready.
			require.ErrorIs(t, err, ErrClosed)
		}
		select {
		case <-done:
		case <-ctx.Done():
			t.Fatal("the loop did not end after Close")
		}
		assert.Equal(t, []State{StateConnecting, StateConnected, StateReady, StateDisconnected}, got)
	})
}

func TestEvents_BreakingOutUnsubscribesAndLeaksNothing(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 10*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))

		watching := hookWatching(t)
		var wg sync.WaitGroup
		types := make(chan string, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ev := range c.Events(ctx) {
				if ev.Type == protocol.TypeResponseComplete {
					types <- ev.Type
					break
				}
			}
		}()
		<-watching
		_, err = chat.Ask(ctx, "hello")
		require.NoError(t, err)
		select {
		case typ := <-types:
			assert.Equal(t, protocol.TypeResponseComplete, typ)
		case <-ctx.Done():
			t.Fatal("no response_complete from Events")
		}
		wg.Wait()
		assert.Empty(t, c.onEvent.get(), "the callback is unregistered when the loop ends")
	})
}

func TestEvents_SlowLoopBodyLosesNothing(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		c := newClient(t, srv, form)
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))

		watching := hookWatching(t)
		const asks = 40 // each reply is several events: well past the buffer
		completes := make(chan int, 1)
		release := make(chan struct{})
		go func() {
			n := 0
			first := true
			for ev := range c.Events(ctx) {
				if first {
					<-release // a body busy while the events pile up
					first = false
				}
				if ev.Type == protocol.TypeResponseComplete {
					n++
					if n == asks {
						break
					}
				}
			}
			completes <- n
		}()
		<-watching
		var msgs []*Message
		for i := range asks {
			m, err := chat.Send(ctx, "m"+string(rune('a'+i%26)))
			require.NoError(t, err)
			msgs = append(msgs, m)
		}
		close(release)
		for _, m := range msgs {
			_, err := m.Wait(ctx)
			require.NoError(t, err)
		}
		select {
		case n := <-completes:
			assert.Equal(t, asks, n)
		case <-ctx.Done():
			t.Fatal("the loop did not see every reply")
		}
	})
}

func TestErrors_EndsWithItsContext(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, nil)
	watching := hookWatching(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range c.Errors(ctx) {
		}
	}()
	<-watching
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not end with its context")
	}
	assert.Empty(t, c.onError.get())
}

// hookWatching returns a channel that gets a value each time an iterator
// has registered its callback, for the duration of the test.
func hookWatching(t *testing.T) <-chan struct{} {
	t.Helper()
	ch := make(chan struct{}, 16)
	testHookWatching = func() { ch <- struct{}{} }
	t.Cleanup(func() { testHookWatching = nil })
	return ch
}

func TestEvents_LoopBodyMayAskWhileALongReplyStreams(t *testing.T) {
	eachForm(t, platformtest.Config{}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
			if req.Text == "long" {
				return platformtest.Reply{Chunks: platformtest.SplitChunks(strings.Repeat("word ", 600), 600)}
			}
			return platformtest.DefaultResponder(ctx, req)
		})
		c := newClient(t, srv, then(form, func(cfg *Config) { cfg.DispatchBuffer = 8 }))
		ctx := ctxT(t, 20*time.Second)
		chat, err := c.OpenChat(ctx, uuid.NewString())
		require.NoError(t, err)
		require.NoError(t, c.Connect(ctx))

		watching := hookWatching(t)
		inner := make(chan error, 1)
		go func() {
			for ev := range c.Events(ctx) {
				if ev.Type == protocol.TypeResponseChunk {
					// The body waits for a reply while the long one streams:
					// the events pile up for the loop, not in front of the
					// socket reader.
					_, err := chat.Ask(ctx, "inner")
					inner <- err
					return
				}
			}
		}()
		<-watching
		long, err := chat.Send(ctx, "long")
		require.NoError(t, err)
		select {
		case err := <-inner:
			require.NoError(t, err)
		case <-ctx.Done():
			t.Fatal("the loop body's Ask never got its reply")
		}
		_, err = long.Wait(ctx)
		require.NoError(t, err)
	})
}
