package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/protocol"
)

// started runs the program with args and returns the REST base URL it
// printed, a channel of its remaining stderr lines, a cancel that stops it,
// and a channel with run's result.
func started(t *testing.T, args ...string) (string, <-chan string, context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	result := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw)
		_ = pw.Close()
		result <- err
	}()
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		for range lines {
		}
	})
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "program ended before printing its URL")
			if rest, found := strings.CutPrefix(line, "fakeplatform: REST      "); found {
				base, _, _ := strings.Cut(rest, "/api/v1")
				return base, lines, cancel, result
			}
		case <-timeout:
			t.Fatal("no URL printed")
		}
	}
}

// readUntil reads frames up to the first of type typ.
func readUntil(t *testing.T, ws *websocket.Conn, typ string) map[string]any {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		var f struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, ws.ReadJSON(&f))
		if f.Type == typ {
			return f.Data
		}
	}
}

func TestRun_ServesHandshakeJoinAndStreamedReplyThenStops(t *testing.T) {
	base, lines, cancel, result := started(t, "-addr", "127.0.0.1:0", "-tenants", "acme, beta", "-api-key", "k",
		"-chunks", "2", "-chunk-delay", "1ms", "-v")

	resp, err := http.Get(base + protocol.PathHealthz)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	wsBase := "ws" + strings.TrimPrefix(base, "http")
	_, refused, err := websocket.DefaultDialer.Dial(wsBase+protocol.PathWebSocket+"?tenant_id=other", http.Header{protocol.HeaderAPIKey: {"k"}})
	require.Error(t, err)
	assert.Equal(t, http.StatusForbidden, refused.StatusCode, "only the listed tenants")
	require.NoError(t, refused.Body.Close())

	ws, _, err := websocket.DefaultDialer.Dial(wsBase+protocol.PathWebSocket+"?tenant_id=beta", http.Header{protocol.HeaderAPIKey: {"k"}})
	require.NoError(t, err)
	defer ws.Close()
	readUntil(t, ws, protocol.TypeConnectionReady)
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "join_chat", "data": map[string]any{"chat_id": "c1"}}))
	readUntil(t, ws, protocol.TypeChatJoined)
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "chat_message", "data": map[string]any{
		"chat_id": "c1", "message": "one two three", "client_message_id": "m1", "tenant_id": "beta"}}))
	var chunks []string
	for {
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, raw, err := ws.ReadMessage()
		require.NoError(t, err)
		var f struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, json.Unmarshal(raw, &f))
		if f.Type == protocol.TypeResponseChunk {
			chunks = append(chunks, f.Data["content"].(string))
		}
		if f.Type == protocol.TypeResponseComplete {
			assert.Equal(t, "Echo: one two three", f.Data["content"])
			break
		}
	}
	assert.Equal(t, []string{"Echo: one ", "two three"}, chunks, "-chunks 2")

	cancel()
	var ce *websocket.CloseError
	_, _, err = ws.ReadMessage()
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, protocol.CloseGoingAway, ce.Code, "shutdown closes connections with 1001")
	require.NoError(t, <-result)

	var log []string
	for line := range lines {
		log = append(log, line)
	}
	all := strings.Join(log, "\n")
	assert.Contains(t, all, "connection opened", "-v logs connections")
	assert.Contains(t, all, "frame in", "-v logs frames")
	assert.Contains(t, all, "fakeplatform: shutting down")
	assert.NotContains(t, all, "=k ", "the API key is not logged")
}

func TestRun_RejectsBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-nope"}, "flag provided but not defined"},
		{"extra argument", []string{"serve"}, "unexpected arguments"},
		{"zero chunks", []string{"-chunks", "0"}, "-chunks 0"},
		{"negative delay", []string{"-ready-delay", "-1s"}, "must not be negative"},
		{"zero max length", []string{"-max-message-length", "0"}, "-max-message-length 0"},
		{"bad address", []string{"-addr", "256.0.0.1:1"}, "listen on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			err := run(t.Context(), tt.args, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error()+out.String(), tt.want)
		})
	}
}

func TestSplitList_DropsBlanks(t *testing.T) {
	assert.Equal(t, []string{"a", "b"}, splitList(" a, ,b,"))
	assert.Nil(t, splitList(""))
}
