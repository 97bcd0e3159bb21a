package protocol

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Frame is the envelope of every outbound frame: a JSON text frame
// {"type", "data", "timestamp", "client_id"}.
type Frame struct {
	// Type is the frame type, one of the Type* constants.
	Type string `json:"type"`
	// Data is the payload, already encoded as a JSON object.
	Data json.RawMessage `json:"data"`
	// Timestamp is the send time in Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
	// ClientID is the connection's client id once the server assigned one.
	ClientID string `json:"client_id,omitempty"`
}

// NewFrame encodes payload as the data of a frame of type t stamped with
// timestamp (Unix milliseconds) and clientID (may be empty).
func NewFrame(t string, payload any, timestampMs int64, clientID string) (Frame, error) {
	data, err := json.Marshal(payload)
	if err != nil {
		return Frame{}, fmt.Errorf("protocol: encode %s payload: %w", t, err)
	}
	return Frame{Type: t, Data: data, Timestamp: timestampMs, ClientID: clientID}, nil
}

// Encode returns the frame as JSON text.
func (f Frame) Encode() ([]byte, error) {
	if len(f.Data) == 0 || string(f.Data) == "null" {
		f.Data = json.RawMessage("{}")
	}
	return json.Marshal(f)
}

// JoinChat is the payload of join_chat. With no chat id yet, set Create.
type JoinChat struct {
	// ChatID is the chat to join; empty when it is not known yet.
	ChatID string `json:"chat_id,omitempty"`
	// Create asks the platform to create a chat, when there is no ChatID.
	// In the realtime form (SPEC §2.4) ChatID is the id the client proposes
	// for the new chat.
	Create bool `json:"create,omitempty"`
	// TenantID is the tenant, sent in the realtime form.
	TenantID string `json:"tenant_id,omitempty"`
}

// LeaveChat is the payload of leave_chat.
type LeaveChat struct {
	// ChatID is the chat to leave.
	ChatID string `json:"chat_id"`
}

// ChatMessage is the payload of chat_message.
type ChatMessage struct {
	// Message is the text the user wrote.
	Message string `json:"message"`
	// ChatID is the chat the message belongs to; empty while a chat created
	// with JoinChat.Create has not told its id yet.
	ChatID string `json:"chat_id,omitempty"`
	// TenantID is the tenant the client connects for.
	TenantID string `json:"tenant_id"`
	// ClientMessageID is the id the client gave the message (a UUID v4); the
	// platform echoes it in message_received.
	ClientMessageID string `json:"client_message_id"`
	// Stream asks for the reply in chunks (response_chunk) before
	// response_complete. The client always sets it.
	Stream bool `json:"stream"`
}

// Typing is the payload of typing_start and typing_stop.
type Typing struct {
	// ChatID is the chat the user is typing in.
	ChatID string `json:"chat_id"`
	// TenantID is the tenant the client connects for.
	TenantID string `json:"tenant_id"`
}

// Ping is the payload of ping and pong: the sender's time in Unix milliseconds.
type Ping struct {
	// TS is the sender's time in Unix milliseconds; a pong carries the ts
	// of the ping it answers.
	TS int64 `json:"ts"`
}

// AppendPing appends the frame of type t (TypePing or TypePong) with the
// payload Ping{TS: ts}, stamped with timestampMs and clientID, to dst. The
// bytes are those of NewFrame followed by Encode, built without reflection
// or allocation beyond dst's growth: the keepalive writes one per interval
// on every connection.
func AppendPing(dst []byte, t string, ts, timestampMs int64, clientID string) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendJSONString(dst, t)
	dst = append(dst, `,"data":{"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	dst = append(dst, `},"timestamp":`...)
	dst = strconv.AppendInt(dst, timestampMs, 10)
	if clientID != "" {
		dst = append(dst, `,"client_id":`...)
		dst = appendJSONString(dst, clientID)
	}
	return append(dst, '}')
}

// appendJSONString appends s as encoding/json writes it: as is when no
// byte needs escaping, else through json.Marshal.
func appendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
