package platformtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// exampleDial connects a raw WebSocket client as tenant "acme" and reads
// the handshake up to connection_ready.
func exampleDial(srv *platformtest.Server) (*websocket.Conn, error) {
	ws, _, err := websocket.DefaultDialer.Dial(srv.WSURL()+protocol.PathWebSocket+"?tenant_id=acme", nil)
	if err != nil {
		return nil, err
	}
	if _, err := exampleReadUntil(ws, protocol.TypeConnectionReady); err != nil {
		ws.Close()
		return nil, err
	}
	return ws, nil
}

// exampleReadUntil reads frames up to the first of type typ and returns its data.
func exampleReadUntil(ws *websocket.Conn, typ string) (map[string]any, error) {
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		var f struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := ws.ReadJSON(&f); err != nil {
			return nil, err
		}
		if f.Type == typ {
			return f.Data, nil
		}
	}
}

// exampleSend writes a frame.
func exampleSend(ws *websocket.Conn, typ string, data any) error {
	return ws.WriteJSON(map[string]any{"type": typ, "data": data, "timestamp": time.Now().UnixMilli()})
}

// A test starts the fake platform, points its client at URL and WSURL, and
// asserts on the streamed reply, whose text ReplyText predicts.
func Example() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()

	ws, err := exampleDial(srv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	_ = exampleSend(ws, protocol.TypeJoinChat, protocol.JoinChat{ChatID: "chat-1"})
	_ = exampleSend(ws, protocol.TypeChatMessage, protocol.ChatMessage{
		Message: "hello world", ChatID: "chat-1", TenantID: "acme", ClientMessageID: "m-1", Stream: true,
	})
	done, err := exampleReadUntil(ws, protocol.TypeResponseComplete)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(done["content"])
	fmt.Println(done["content"] == platformtest.ReplyText("hello world"))
	fmt.Println(len(srv.Messages("chat-1")), "messages in history")
	// Output:
	// Echo: hello world
	// true
	// 2 messages in history
}

// Inject a fault (drop every connection with close code 1012), then wait,
// without sleeping, until the server has seen the client go.
func ExampleServer_DropAll() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	ws, err := exampleDial(srv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()

	srv.DropAll(protocol.CloseServiceRestart)
	_, _, err = ws.ReadMessage()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		fmt.Println("client saw close code", ce.Code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.WaitFor(ctx, func(s *platformtest.Server) bool { return s.ConnectionCount() == 0 })
	fmt.Println("connections:", srv.ConnectionCount(), err)
	// Output:
	// client saw close code 1012
	// connections: 0 <nil>
}

// WaitFor blocks until a condition on what the server has seen holds: here,
// that the client answered a server ping.
func ExampleServer_WaitFor() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	ws, err := exampleDial(srv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()

	srv.Ping()
	ping, _ := exampleReadUntil(ws, protocol.TypePing)
	_ = exampleSend(ws, protocol.TypePong, map[string]any{"ts": ping["ts"]})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.WaitFor(ctx, func(s *platformtest.Server) bool {
		return len(s.FramesOfType(protocol.TypePong)) == 1
	})
	fmt.Println("pong received:", err == nil)
	// Output:
	// pong received: true
}

// A Responder decides every reply: its chunks, its pace, or an error.
func ExampleServer_SetResponder() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	srv.SetResponder(func(_ context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == "fail" {
			return platformtest.Reply{Error: &platformtest.ErrorReply{Code: "ai_service_error", Message: "model unavailable"}}
		}
		return platformtest.Reply{Chunks: []string{"Hi ", "there"}, ChunkDelay: time.Millisecond}
	})
	ws, err := exampleDial(srv)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ws.Close()
	_ = exampleSend(ws, protocol.TypeJoinChat, protocol.JoinChat{ChatID: "c"})

	_ = exampleSend(ws, protocol.TypeChatMessage, protocol.ChatMessage{Message: "hello", ChatID: "c", ClientMessageID: "1"})
	done, _ := exampleReadUntil(ws, protocol.TypeResponseComplete)
	fmt.Println(done["content"])

	_ = exampleSend(ws, protocol.TypeChatMessage, protocol.ChatMessage{Message: "fail", ChatID: "c", ClientMessageID: "2"})
	e, _ := exampleReadUntil(ws, protocol.TypeError)
	fmt.Println(e["code"], e["client_message_id"])
	// Output:
	// Hi there
	// ai_service_error 2
}

// Refuse the next handshake with 429 and a Retry-After, as a rate-limited
// platform does.
func ExampleServer_RefuseHandshakes() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	srv.SetRetryAfter(2 * time.Second)
	srv.RefuseHandshakes(1, http.StatusTooManyRequests)

	url := srv.WSURL() + protocol.PathWebSocket + "?tenant_id=acme"
	_, resp, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil && resp != nil {
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Retry-After"), body["error_code"])
	}
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err == nil {
		fmt.Println("second attempt accepted")
		ws.Close()
	}
	fmt.Println("handshakes:", srv.Handshakes())
	// Output:
	// 429 2 rate_limit_exceeded
	// second attempt accepted
	// handshakes: 2
}
