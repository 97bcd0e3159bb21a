package normalize

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestKey_TypeIsPartOfTheKey(t *testing.T) {
	seen := map[string]string{}
	for _, typ := range []string{"message_received", "processing", "response_start", "response_complete", "error"} {
		ev, err := Normalize([]byte(`{"type":"`+typ+`","data":{"message_id":"m-1","chat_id":"c"}}`), testNow)
		require.NoError(t, err)
		require.NotEmpty(t, ev.Key, typ)
		prev, dup := seen[ev.Key]
		require.False(t, dup, "%s and %s share the key %q", typ, prev, ev.Key)
		seen[ev.Key] = typ
	}
}

func TestKey_Rules(t *testing.T) {
	const data = `{"chat_id":"c","x":1}`
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"event with a message id", `{"type":"response_start","data":{"message_id":"m"}}`, "response_start|m"},
		{"alias keys under its canonical type", `{"type":"message_complete","data":{"message_id":"m"}}`, "response_complete|m"},
		{"error with a message id", `{"type":"error","data":{"message_id":"m","message":"x"}}`, "error|m"},
		{"chunk with sequence and message id", `{"type":"response_chunk","data":{"message_id":"m","chat_id":"c","chunk_index":4}}`, "response_chunk|m|4"},
		{"chunk with sequence and only a chat id", `{"type":"message_chunk","data":{"chat_id":"c","sequence_number":4}}`, "response_chunk|c|4"},
		{"chunk with sequence and no id has none", `{"type":"response_chunk","data":{"sequence_number":4},"timestamp":1718000000123}`, ""},
		{"chunk without sequence has none", `{"type":"response_chunk","data":{"message_id":"m"},"timestamp":1718000000123}`, ""},
		{"ping has none", `{"type":"ping","data":{"ts":1},"timestamp":1718000000123}`, ""},
		{"pong has none", `{"type":"pong","data":{"ts":1},"message_id":"m"}`, ""},
		{"connection_established has none", `{"type":"connection_established","data":{"client_id":"c"},"timestamp":1718000000123}`, ""},
		{"initialization_progress has none", `{"type":"platform_initializing","data":{"message_id":"m"}}`, ""},
		{"connection_ready has none", `{"type":"ai_services_ready","data":{},"timestamp":1718000000123}`, ""},
		{"no message id and an explicit time", `{"type":"typing_start","data":` + data + `,"timestamp":1718000000123}`,
			timeKey("typing_start", "c", ms(tsMS), data)},
		{"no message id and no payload hashes the frame", `{"type":"typing_stop","chat_id":"c","timestamp":1718000000123}`,
			timeKey("typing_stop", "c", ms(tsMS), `{"type":"typing_stop","chat_id":"c","timestamp":1718000000123}`)},
		{"no message id and no time has none", `{"type":"typing_start","data":` + data + `}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Normalize([]byte(tt.in), testNow)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ev.Key)
		})
	}
}

func TestKey_TimeKeySeparatesDifferentContent(t *testing.T) {
	a := `{"type":"typing_start","data":{"chat_id":"c","user_id":"u1"},"timestamp":1718000000123}`
	b := `{"type":"typing_start","data":{"chat_id":"c","user_id":"u2"},"timestamp":1718000000123}`
	c := `{"type":"typing_start","data":{"chat_id":"c","user_id":"u1"},"timestamp":1718000000124}`
	resent := `{"type":"typing_start","client_id":"new","data":{"chat_id":"c","user_id":"u1"},"timestamp":1718000000123}`
	key := func(s string) string {
		ev, err := Normalize([]byte(s), testNow)
		require.NoError(t, err)
		require.NotEmpty(t, ev.Key)
		return ev.Key
	}
	assert.NotEqual(t, key(a), key(b), "different data")
	assert.NotEqual(t, key(a), key(c), "different time")
	assert.Equal(t, key(a), key(resent), "the same event re-sent on a new connection")
}
