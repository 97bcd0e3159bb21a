package platformtest_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestWaitFor_ReturnsAtOnceWhenTheConditionHolds(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	calls := 0
	require.NoError(t, srv.WaitFor(testCtx(t), func(*platformtest.Server) bool { calls++; return true }))
	assert.Equal(t, 1, calls)
}

func TestWaitFor_WakesOnStateChange(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	done := make(chan error, 1)
	go func() {
		done <- srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
			conns := s.Connections()
			return len(conns) == 1 && len(conns[0].Joined) == 1
		})
	}()
	c := connect(t, srv, "a")
	c.join("c")
	require.NoError(t, <-done)
}

func TestWaitFor_ReturnsContextErrorWhenTheConditionNeverHolds(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	err := srv.WaitFor(ctx, func(s *platformtest.Server) bool { return s.ConnectionCount() == 5 })
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestFrames_RecordEveryFrameWithConnectionAndTime(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	before := time.Now()
	a := connect(t, srv, "a")
	b := connect(t, srv, "a")
	a.join("c")
	b.send(protocol.TypePing, map[string]any{"ts": 7})
	b.next()
	conns := srv.Connections()
	require.Len(t, conns, 2)

	frames := srv.Frames()
	require.Len(t, frames, 2)
	assert.Equal(t, conns[0].ConnID, frames[0].ConnID)
	assert.Equal(t, protocol.TypeJoinChat, frames[0].Type)
	assert.Equal(t, "c", frames[0].Data["chat_id"])
	assert.Contains(t, string(frames[0].Raw), `"join_chat"`)
	assert.False(t, frames[0].Time.Before(before))
	assert.Equal(t, conns[1].ConnID, frames[1].ConnID)

	assert.Len(t, srv.ConnFrames(conns[1].ConnID), 1)
	assert.Equal(t, protocol.TypePing, srv.ConnFrames(conns[1].ConnID)[0].Type)
	assert.Len(t, srv.FramesOfType(protocol.TypeJoinChat), 1)
	assert.Empty(t, srv.FramesOfType(protocol.TypeChatMessage))
}

func TestRecords_MaxRecordsKeepsTheLatest(t *testing.T) {
	tests := []struct {
		name string
		max  int
		want []float64
	}{
		{"bounded", 3, []float64{7, 8, 9}},
		{"off", -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{MaxRecords: tt.max})
			var c *wsClient
			for range 5 {
				c = connect(t, srv, "a")
			}
			for i := range 10 {
				c.send(protocol.TypePing, map[string]any{"ts": i})
				c.next()
			}
			assert.Equal(t, 5, srv.Handshakes(), "the count stays exact")
			assert.Len(t, srv.HandshakeRequests(), min(max(tt.max, 0), 5))
			assert.Len(t, srv.HandshakeTimes(), min(max(tt.max, 0), 5))
			var got []float64
			for _, f := range srv.Frames() {
				got = append(got, f.Data["ts"].(float64))
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogger_LogsConnectionsAndFramesAtDebug(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := platformtest.NewServer(platformtest.Config{Logger: log, APIKey: "very-secret"})
	ws, _, err := dialRaw(t, srv, map[string][]string{"tenant_id": {"a"}}, map[string][]string{"X-Api-Key": {"very-secret"}})
	require.NoError(t, err)
	c := &wsClient{t: t, ws: ws}
	c.until(protocol.TypeConnectionReady)
	c.join("c")
	srv.Close()
	out := buf.String()
	for _, want := range []string{"connection opened", "frame in", "frame out", "type=join_chat", "connection closed", "server closed"} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "very-secret", "the API key is never logged")
}
