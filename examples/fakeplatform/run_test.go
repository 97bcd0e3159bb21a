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

	"github.com/miptechnologies/miptech-go/platformtest"
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
				base, _, _ := strings.Cut(rest, " ")
				return strings.TrimSuffix(base, "/api/v1"), lines, cancel, result
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
		{"unknown protocol", []string{"-protocol", "grpc"}, "-protocol"},
		{"zero token lifetime", []string{"-token-ttl", "0s"}, "-token-ttl 0s"},
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

// bannerUntil reads the program's stderr up to the line starting with
// prefix and returns that line.
func bannerUntil(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			require.True(t, ok, "no line %q printed", prefix)
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timeout:
			t.Fatalf("no line %q printed", prefix)
		}
	}
}

func TestRun_TenantAppFormIssuesTokensAndStreamsChunksOnly(t *testing.T) {
	base, lines, _, _ := started(t, "-addr", "127.0.0.1:0", "-protocol", "realtime", "-api-key", "k", "-token-ttl", "5m")
	assert.Contains(t, bannerUntil(t, lines, "fakeplatform: protocol"), "tenant-app")

	resp, err := http.Post(base+protocol.PathChats, "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no REST chats")

	session := func(key string) (*http.Response, map[string]any) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+platformtest.PathSession, strings.NewReader(`{"tenant_id":"acme"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "ApiKey "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp, body
	}
	resp, body := session("wrong")
	assert.Equal(t, "INVALID_API_KEY", body["code"])
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "-api-key is the only key accepted")
	resp, body = session("k")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", body)
	exp, err := time.Parse(time.RFC3339, body["expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(5*time.Minute), exp, time.Minute, "-token-ttl")

	wsBase := "ws" + strings.TrimPrefix(base, "http")
	d := websocket.Dialer{Subprotocols: []string{"bearer", body["websocket_token"].(string)}}
	ws, _, err := d.Dial(wsBase+protocol.PathWebSocket+"?tenant_id=acme", nil)
	require.NoError(t, err)
	defer ws.Close()
	chatID := "0b7e6f3c-8c7e-4d0a-9a57-2f1c3e4d5a6b"
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "join_chat", "data": map[string]any{"tenant_id": "acme", "chat_id": chatID, "create": true}}))
	assert.Equal(t, chatID, readUntil(t, ws, protocol.TypeChatJoined)["chat_id"], "the first frame: nothing was sent on open")
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "chat_message", "data": map[string]any{"chat_id": chatID, "message": "one two", "stream": true}}))
	var text strings.Builder
	for {
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
		var f struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		require.NoError(t, ws.ReadJSON(&f))
		require.Contains(t, []string{protocol.TypeResponseChunk, protocol.TypeResponseComplete}, f.Type)
		if f.Type == protocol.TypeResponseComplete {
			assert.NotContains(t, f.Data, "content")
			break
		}
		text.WriteString(f.Data["content"].(string))
	}
	assert.Equal(t, "Echo: one two", text.String())
}

func TestRun_WebsiteFormCreatesChatsOverTheWebSocket(t *testing.T) {
	base, lines, _, _ := started(t, "-addr", "127.0.0.1:0", "-protocol", "website", "-api-key", "k")
	assert.Contains(t, bannerUntil(t, lines, "fakeplatform: protocol"), "website")
	resp, err := http.Get(base + protocol.PathHealthz)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+protocol.PathWebSocket+"?tenant_id=acme", nil)
	require.NoError(t, err, "no credential")
	defer ws.Close()
	require.NoError(t, ws.WriteJSON(map[string]any{"type": "join_chat", "data": map[string]any{"channel": "website", "create": true}}))
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	for {
		var f map[string]any
		require.NoError(t, ws.ReadJSON(&f))
		if f["type"] == protocol.TypeChatCreated {
			assert.NotEmpty(t, f["chat_id"])
			return
		}
	}
}

func TestRun_RESTFormIsTheDefaultAndSaysSo(t *testing.T) {
	_, lines, _, _ := started(t, "-addr", "127.0.0.1:0")
	assert.Contains(t, bannerUntil(t, lines, "fakeplatform: protocol"), "rest")
}
