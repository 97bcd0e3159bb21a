package protocol

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFrame_EncodeCanonicalShapes(t *testing.T) {
	const ts = 1736000000123
	tests := []struct {
		name     string
		typ      string
		payload  any
		clientID string
		want     string
	}{
		{
			name: "chat_message",
			typ:  TypeChatMessage,
			payload: ChatMessage{Message: "hello", ChatID: "c1", TenantID: "t1",
				ClientMessageID: "m-1", Stream: true},
			clientID: "cl-9",
			want: `{"type":"chat_message","data":{"message":"hello","chat_id":"c1","tenant_id":"t1",
				"client_message_id":"m-1","stream":true},"timestamp":1736000000123,"client_id":"cl-9"}`,
		},
		{
			name:    "chat_message without a chat id yet omits it",
			typ:     TypeChatMessage,
			payload: ChatMessage{Message: "hi", TenantID: "t1", ClientMessageID: "m-2"},
			want: `{"type":"chat_message","data":{"message":"hi","tenant_id":"t1",
				"client_message_id":"m-2","stream":false},"timestamp":1736000000123}`,
		},
		{
			name:    "join_chat with a chat id",
			typ:     TypeJoinChat,
			payload: JoinChat{ChatID: "c1"},
			want:    `{"type":"join_chat","data":{"chat_id":"c1"},"timestamp":1736000000123}`,
		},
		{
			name:    "join_chat with no chat id asks to create one",
			typ:     TypeJoinChat,
			payload: JoinChat{Create: true},
			want:    `{"type":"join_chat","data":{"create":true},"timestamp":1736000000123}`,
		},
		{
			name:    "leave_chat",
			typ:     TypeLeaveChat,
			payload: LeaveChat{ChatID: "c1"},
			want:    `{"type":"leave_chat","data":{"chat_id":"c1"},"timestamp":1736000000123}`,
		},
		{
			name:    "typing_start",
			typ:     TypeTypingStart,
			payload: Typing{ChatID: "c1", TenantID: "t1"},
			want:    `{"type":"typing_start","data":{"chat_id":"c1","tenant_id":"t1"},"timestamp":1736000000123}`,
		},
		{
			name:    "typing_stop",
			typ:     TypeTypingStop,
			payload: Typing{ChatID: "c1", TenantID: "t1"},
			want:    `{"type":"typing_stop","data":{"chat_id":"c1","tenant_id":"t1"},"timestamp":1736000000123}`,
		},
		{
			name:    "ping",
			typ:     TypePing,
			payload: Ping{TS: ts},
			want:    `{"type":"ping","data":{"ts":1736000000123},"timestamp":1736000000123}`,
		},
		{
			name:    "pong",
			typ:     TypePong,
			payload: Ping{TS: 42},
			want:    `{"type":"pong","data":{"ts":42},"timestamp":1736000000123}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFrame(tt.typ, tt.payload, ts, tt.clientID)
			require.NoError(t, err)
			assert.Equal(t, tt.typ, f.Type)
			assert.Equal(t, int64(ts), f.Timestamp)
			assert.Equal(t, tt.clientID, f.ClientID)
			got, err := f.Encode()
			require.NoError(t, err)
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}

func TestFrame_EncodeWithoutDataSendsAnEmptyObject(t *testing.T) {
	got, err := Frame{Type: TypePing, Timestamp: 5}.Encode()
	require.NoError(t, err)
	assert.JSONEq(t, `{"type":"ping","data":{},"timestamp":5}`, string(got))
}

func TestFrame_EncodeRejectsInvalidData(t *testing.T) {
	_, err := Frame{Type: TypePing, Data: json.RawMessage(`{"broken`)}.Encode()
	require.Error(t, err)
}

func TestNewFrame_ReportsAPayloadThatCannotBeEncoded(t *testing.T) {
	_, err := NewFrame(TypeChatMessage, map[string]any{"c": make(chan int)}, 1, "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "protocol: encode chat_message payload")
	var unsupported *json.UnsupportedTypeError
	assert.ErrorAs(t, err, &unsupported, "the encoding error is wrapped")
}
