package normalize

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The cases below prove that odd but valid frames are read, not rejected,
// and that Normalize neither keeps nor changes its input.

func TestNormalize_IgnoresWrongTypedFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "chat_id object, content number, success string, chunk_index word",
			in:   `{"type":"response_chunk","data":{"chat_id":{"id":"x"},"content":42,"success":"yes","chunk_index":"abc","message_id":true}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk"},
		},
		{
			name: "null fields are absent",
			in:   `{"type":"message_received","data":{"chat_id":null,"message_id":null,"content":null,"success":null,"retry_after":null}}`,
			want: Event{Type: "message_received", RawType: "message_received"},
		},
		{
			name: "NaN-like and huge numbers are ignored",
			in: `{"type":"rate_limit_exceeded","data":{"retry_after":"NaN","chunk_index":1e300,"ts":"Infinity",` +
				`"ready_duration":"-Inf","timestamp":1e400}}`,
			want: Event{Type: "rate_limit_exceeded", RawType: "rate_limit_exceeded"},
		},
		{
			name: "huge metadata numbers are ignored or capped",
			in: `{"type":"response_complete","data":{"prompt_tokens":99999999999999999999,"total_tokens":1.5,` +
				`"response_time_ms":1e300,"cost_estimate":"lots","sources":{"not":"an array"}}}`,
			want: Event{Type: "response_complete", RawType: "response_complete",
				Meta: &ResponseMeta{ResponseTime: time.Duration(1<<63 - 1)}},
		},
		{
			name: "data that is not an object falls back to payload",
			in:   `{"type":"message_received","data":"oops","payload":{"message_id":"m-1"}}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "m-1", Key: "message_received|m-1"},
		},
		{
			name: "data and payload that are not objects are ignored",
			in:   `{"type":"message_received","data":[1,2],"payload":7,"chat_id":"chat-1"}`,
			want: Event{Type: "message_received", RawType: "message_received", ChatID: "chat-1"},
		},
		{
			name: "message that is neither object nor string is ignored",
			in:   `{"type":"response_complete","data":{"message":[1],"message_id":"a-1"}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1", Meta: &ResponseMeta{},
				Key: "response_complete|a-1"},
		},
		{
			name: "escaped member names are decoded",
			in:   `{"type":"message_received","data":{"chat\u005fid":"chat-1"}}`,
			want: Event{Type: "message_received", RawType: "message_received", ChatID: "chat-1"},
		},
		{
			name: "escaped type is decoded",
			in:   `{"type":"message\u005fchunk","data":{"content":"x"}}`,
			want: Event{Type: "response_chunk", RawType: "message_chunk", Text: "x", HasText: true},
		},
		{
			name: "last duplicate member wins",
			in:   `{"type":"ping","type":"message_received","data":{"chat_id":"a","chat_id":"b"}}`,
			want: Event{Type: "message_received", RawType: "message_received", ChatID: "b"},
		},
		{
			name: "white space everywhere",
			in:   " \n{ \"type\" :\t\"chat_joined\" , \"data\" : { \"chat_id\" : \"c\" , \"success\" : true } } \r\n",
			want: Event{Type: "chat_joined", RawType: "chat_joined", ChatID: "c", Success: boolPtr(true)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireEvent(t, tt.in, tt.want) })
	}
}

func TestNormalize_RendersNumericIDsInDecimal(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want string
	}{
		{"string", `"m-1"`, "m-1"},
		{"integer", `123`, "123"},
		{"negative integer", `-7`, "-7"},
		{"integer beyond int64 keeps its digits", `123456789012345678901234567890`, "123456789012345678901234567890"},
		{"exponent form of an integer", `1e3`, "1000"},
		{"integral fraction", `12.0`, "12"},
		{"fraction keeps its text", `1.5`, "1.5"},
		{"huge exponent keeps its text", `1e300`, "1e300"},
		{"bool is no id", `true`, ""},
		{"object is no id", `{"id":1}`, ""},
		{"empty string is no id", `""`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Normalize([]byte(`{"type":"x","data":{"message_id":`+tt.id+`}}`), testNow)
			require.NoError(t, err)
			assert.Equal(t, tt.want, ev.MessageID)
		})
	}
}

func TestNormalize_DataIsThePayloadObject(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"data object", `{"type":"x","data":{"a":1} }`, `{"a":1}`},
		{"legacy payload object", `{"type":"x","payload":{"b":[1,{"c":"}"}]}}`, `{"b":[1,{"c":"}"}]}`},
		{"data wins over payload", `{"type":"x","payload":{"p":1},"data":{"d":1}}`, `{"d":1}`},
		{"payload when data is not an object", `{"type":"x","data":null,"payload":{"p":1}}`, `{"p":1}`},
		{"none", `{"type":"x","chat_id":"c"}`, ``},
		{"data not an object", `{"type":"x","data":"s"}`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Normalize([]byte(tt.in), testNow)
			require.NoError(t, err)
			if tt.want == "" {
				assert.Nil(t, ev.Data)
				return
			}
			assert.Equal(t, tt.want, string(ev.Data))
		})
	}
}

func TestNormalize_DataAndSourcesAliasInput(t *testing.T) {
	raw := []byte(`{"type":"response_complete","data":{"content":"x","sources":[{"s":1}]}}`)
	ev, err := Normalize(raw, testNow)
	require.NoError(t, err)
	require.Equal(t, `{"content":"x","sources":[{"s":1}]}`, string(ev.Data))
	require.Len(t, ev.Meta.Sources, 1)

	// Appending to the views must not write into the frame.
	_ = append(ev.Data, 'Z')
	_ = append(ev.Meta.Sources[0], 'Z')
	require.Equal(t, `{"type":"response_complete","data":{"content":"x","sources":[{"s":1}]}}`, string(raw))

	// Strings are copies; Data is a view of the frame.
	raw[bytesIndex(raw, `"x"`)+1] = 'y'
	assert.Equal(t, "x", ev.Text)
	assert.Contains(t, string(ev.Data), `"content":"y"`)
}

// bytesIndex is the index of s in b, failing loudly when absent.
func bytesIndex(b []byte, s string) int {
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	panic("not found: " + s)
}

func TestNormalize_IsPureAndRepeatable(t *testing.T) {
	raw := []byte(`{"type":"response_chunk","data":{"message_id":"a","content":"x","chunk_index":1}}`)
	before := string(raw)
	first, err := Normalize(raw, testNow)
	require.NoError(t, err)
	second, err := Normalize(raw, testNow.Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, before, string(raw), "input must not be modified")
	assert.Equal(t, first.Key, second.Key)
	assert.Equal(t, testNow.Add(time.Hour), second.Time, "now is used when the frame has no time")
}
