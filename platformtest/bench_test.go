package platformtest_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// benchReadUntil reads raw frames until one contains typ.
func benchReadUntil(b *testing.B, ws *websocket.Conn, typ string) {
	b.Helper()
	marker := []byte(`"type":"` + typ + `"`)
	for {
		_, raw, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(raw, marker) {
			return
		}
	}
}

// BenchmarkServer_RoundTrip measures chat_message → response_complete (one
// chunk) for a raw client over loopback: the fake platform's share of the
// SDK's round-trip benchmark.
func BenchmarkServer_RoundTrip(b *testing.B) {
	srv := platformtest.NewServer(platformtest.Config{Responder: func(_ context.Context, req platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Chunks: []string{platformtest.ReplyText(req.Text)}}
	}})
	defer srv.Close()
	ws, _, err := websocket.DefaultDialer.Dial(srv.WSURL()+protocol.PathWebSocket+"?tenant_id=t", nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	benchReadUntil(b, ws, protocol.TypeConnectionReady)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"join_chat","data":{"chat_id":"c"}}`)); err != nil {
		b.Fatal(err)
	}
	benchReadUntil(b, ws, protocol.TypeChatJoined)
	msg := []byte(`{"type":"chat_message","data":{"chat_id":"c","message":"hello","client_message_id":"m","stream":true}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		benchReadUntil(b, ws, protocol.TypeResponseComplete)
	}
}

// BenchmarkServer_Handshake measures dial → connection_ready → close.
func BenchmarkServer_Handshake(b *testing.B) {
	srv := platformtest.NewServer(platformtest.Config{MaxRecords: -1})
	defer srv.Close()
	u := srv.WSURL() + protocol.PathWebSocket + "?" + url.Values{"tenant_id": {"t"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		ws, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			b.Fatal(fmt.Errorf("dial: %w", err))
		}
		benchReadUntil(b, ws, protocol.TypeConnectionReady)
		_ = ws.Close()
	}
}
