package protocol

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCreateChatResponse_AcceptsTheIDInChatIDOrID(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    CreateChatResponse
		wantErr string
	}{
		{
			name: "chat_id",
			body: `{"chat_id":"7f0c2c1e","title":"Support","created_at":"2025-01-02T15:04:05Z"}`,
			want: CreateChatResponse{ChatID: "7f0c2c1e", Title: "Support", CreatedAt: "2025-01-02T15:04:05Z"},
		},
		{
			name: "numeric id",
			body: `{"id":12345}`,
			want: CreateChatResponse{ChatID: "12345"},
		},
		{
			name: "string id",
			body: `{"id":"b2a9","title":"t"}`,
			want: CreateChatResponse{ChatID: "b2a9", Title: "t"},
		},
		{
			name: "chat_id wins over id",
			body: `{"chat_id":"a","id":"b"}`,
			want: CreateChatResponse{ChatID: "a"},
		},
		{
			name: "empty chat_id falls back to id",
			body: `{"chat_id":"","id":"b"}`,
			want: CreateChatResponse{ChatID: "b"},
		},
		{
			name:    "neither chat_id nor id is an error",
			body:    `{"title":"orphan"}`,
			wantErr: "neither chat_id nor id",
		},
		{
			name:    "an id that is neither string nor number is an error",
			body:    `{"id":{"value":"x"}}`,
			wantErr: "neither chat_id nor id",
		},
		{
			name:    "not an object is an error",
			body:    `["x"]`,
			wantErr: "cannot unmarshal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got CreateChatResponse
			err := json.Unmarshal([]byte(tt.body), &got)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCreateChatResponse_EncodesChatID(t *testing.T) {
	b, err := json.Marshal(CreateChatResponse{ChatID: "c1"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"chat_id":"c1"}`, string(b))
}

func TestHistoryMessage_AcceptsNumericIDAndTimestamp(t *testing.T) {
	tests := []struct {
		name string
		body string
		want HistoryMessage
	}{
		{
			name: "numeric id and numeric timestamp",
			body: `{"id":42,"content":"hi","role":"user","timestamp":1736000000}`,
			want: HistoryMessage{ID: "42", Content: "hi", Role: RoleUser, Timestamp: "1736000000"},
		},
		{
			name: "string id and RFC 3339 timestamp",
			body: `{"id":"m-1","content":"hello","role":"assistant","timestamp":"2025-01-02T15:04:05Z","metadata":{"model":"x"}}`,
			want: HistoryMessage{ID: "m-1", Content: "hello", Role: RoleAssistant,
				Timestamp: "2025-01-02T15:04:05Z", Metadata: map[string]any{"model": "x"}},
		},
		{
			name: "a fractional timestamp keeps its digits",
			body: `{"id":7,"timestamp":1736000000.25}`,
			want: HistoryMessage{ID: "7", Timestamp: "1736000000.25"},
		},
		{
			name: "missing fields are empty",
			body: `{}`,
			want: HistoryMessage{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got HistoryMessage
			require.NoError(t, json.Unmarshal([]byte(tt.body), &got))
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestHistoryMessage_RejectsAWrongFieldType(t *testing.T) {
	var m HistoryMessage
	require.Error(t, json.Unmarshal([]byte(`{"content":5}`), &m))
}

func TestParseHistory(t *testing.T) {
	one := []HistoryMessage{{ID: "1", Content: "hi", Role: RoleUser}}
	tests := []struct {
		name    string
		body    string
		want    []HistoryMessage
		wantErr bool
	}{
		{name: "items", body: `{"items":[{"id":1,"content":"hi","role":"user"}],"total":1}`, want: one},
		{name: "messages", body: `{"messages":[{"id":"1","content":"hi","role":"user"}]}`, want: one},
		{name: "items win over messages", body: `{"items":[{"id":1,"content":"hi","role":"user"}],"messages":[{"id":2}]}`, want: one},
		{name: "bare array", body: `[{"id":1,"content":"hi","role":"user"}]`, want: one},
		{name: "empty array", body: `[]`, want: []HistoryMessage{}},
		{name: "empty items", body: `{"items":[]}`, want: []HistoryMessage{}},
		{name: "an object without a list is no messages", body: `{"total":0}`, want: nil},
		{name: "garbage is an error", body: `<html>oops</html>`, wantErr: true},
		{name: "a string is an error", body: `"items"`, wantErr: true},
		{name: "items that are not a list is an error", body: `{"items":"none"}`, wantErr: true},
		{name: "an array with a bad element is an error", body: `[{"content":5}]`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHistory([]byte(tt.body))
			if tt.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "protocol: history")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPathChatMessages(t *testing.T) {
	assert.Equal(t, "/api/v1/chat/7f0c2c1e/messages", PathChatMessages("7f0c2c1e"))
	assert.Equal(t, "/api/v1/chat/a%2Fb/messages", PathChatMessages("a/b"))
	assert.Equal(t, "/api/v1/chat/.../messages", PathChatMessages("..."), "not a dot segment")
}

// A dot id never makes a dot segment, which a normalising proxy would
// resolve (/api/v1/chat/../messages is /api/v1/messages); the request keeps
// the escaped form on the wire.
func TestPathChatMessages_NeverADotSegment(t *testing.T) {
	for _, id := range []string{".", ".."} {
		p := PathChatMessages(id)
		for _, seg := range strings.Split(p, "/") {
			assert.NotContains(t, []string{".", ".."}, seg, "%q gives %q", id, p)
		}
		u, err := url.Parse("https://api.example.com" + p)
		require.NoError(t, err)
		assert.Equal(t, p, u.EscapedPath(), "the escaped form is what is sent")
		assert.Equal(t, "https://api.example.com"+p, u.ResolveReference(&url.URL{}).String(), "resolving keeps the segment")
	}
}
