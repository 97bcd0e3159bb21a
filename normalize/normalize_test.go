package normalize

import (
	"testing"
	"time"
)

// The cases below hold one frame for each shape of SPEC §2.2 the platform has
// been seen to send, with the event it must become.

const tsMS = 1718000000123 // 2024-06-10T06:13:20.123Z

func TestNormalize_MapsConnectionLifecycleFrames(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "connection_established with ids in data and connected_at in float seconds",
			in:   `{"type":"connection_established","data":{"client_id":"c-1","tenant_id":"acme","connected_at":1718000000.5},"timestamp":1718000000123}`,
			want: Event{Type: "connection_established", RawType: "connection_established", ClientID: "c-1", TenantID: "acme",
				Time: ms(tsMS), ConnectedAt: time.Unix(1718000000, 5e8)},
		},
		{
			name: "connection_established with camelCase ids at the top level and connected_at in ms",
			in:   `{"type":"connection_established","clientId":"c-2","tenantId":"acme","connected_at":1718000000123,"data":{}}`,
			want: Event{Type: "connection_established", RawType: "connection_established", ClientID: "c-2", TenantID: "acme",
				ConnectedAt: ms(tsMS)},
		},
		{
			name: "connection_established with connected_at in RFC 3339",
			in:   `{"type":"connection_established","data":{"clientId":"c-3","connected_at":"2024-06-10T06:13:20.123Z"}}`,
			want: Event{Type: "connection_established", RawType: "connection_established", ClientID: "c-3", ConnectedAt: ms(tsMS)},
		},
		{
			name: "initialization_progress phase starting with message",
			in:   `{"type":"initialization_progress","data":{"phase":"starting","message":"Starting platform"}}`,
			want: Event{Type: "initialization_progress", RawType: "initialization_progress", Phase: "starting",
				Text: "Starting platform", HasText: true},
		},
		{
			name: "initialization_progress phase services",
			in:   `{"type":"initialization_progress","data":{"phase":"services","message":"Loading AI services","progress":50}}`,
			want: Event{Type: "initialization_progress", RawType: "initialization_progress", Phase: "services",
				Text: "Loading AI services", HasText: true},
		},
		{
			name: "initialization_progress phase complete",
			in:   `{"type":"initialization_progress","data":{"phase":"complete"}}`,
			want: Event{Type: "initialization_progress", RawType: "initialization_progress", Phase: "complete"},
		},
		{
			name: "legacy platform_initializing without phase is phase starting",
			in:   `{"type":"platform_initializing","data":{"message":"Platform initializing"}}`,
			want: Event{Type: "initialization_progress", RawType: "platform_initializing", Phase: "starting",
				Text: "Platform initializing", HasText: true},
		},
		{
			name: "legacy ai_services_loading without phase is phase services",
			in:   `{"type":"ai_services_loading","payload":{"message":"Loading"}}`,
			want: Event{Type: "initialization_progress", RawType: "ai_services_loading", Phase: "services",
				Text: "Loading", HasText: true},
		},
		{
			name: "legacy platform_initializing keeps a given phase",
			in:   `{"type":"platform_initializing","data":{"phase":"complete"}}`,
			want: Event{Type: "initialization_progress", RawType: "platform_initializing", Phase: "complete"},
		},
		{
			name: "connection_ready with client_id and ready_duration",
			in:   `{"type":"connection_ready","data":{"client_id":"c-1","ready_duration":1.25},"timestamp":1718000000123}`,
			want: Event{Type: "connection_ready", RawType: "connection_ready", ClientID: "c-1",
				ReadyDuration: 1250 * time.Millisecond, Time: ms(tsMS)},
		},
		{
			name: "legacy platform_ready is connection_ready",
			in:   `{"type":"platform_ready","payload":{"clientId":"c-1"}}`,
			want: Event{Type: "connection_ready", RawType: "platform_ready", ClientID: "c-1"},
		},
		{
			name: "legacy ai_services_ready is connection_ready",
			in:   `{"type":"ai_services_ready","client_id":"c-1","ready_duration":"2"}`,
			want: Event{Type: "connection_ready", RawType: "ai_services_ready", ClientID: "c-1", ReadyDuration: 2 * time.Second},
		},
		{
			name: "ping carries ts",
			in:   `{"type":"ping","data":{"ts":1718000000123}}`,
			want: Event{Type: "ping", RawType: "ping", PingTS: tsMS},
		},
		{
			name: "pong carries ts",
			in:   `{"type":"pong","data":{"ts":1718000000123},"timestamp":1718000000123}`,
			want: Event{Type: "pong", RawType: "pong", PingTS: tsMS, Time: ms(tsMS)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireEvent(t, tt.in, tt.want) })
	}
}

func TestNormalize_MapsChatAndMessageFrames(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "chat_joined with chat_id at the top level and success",
			in:   `{"type":"chat_joined","chat_id":"chat-1","data":{"success":true}}`,
			want: Event{Type: "chat_joined", RawType: "chat_joined", ChatID: "chat-1", Success: boolPtr(true)},
		},
		{
			name: "chat_joined with chat_id in data and success false",
			in:   `{"type":"chat_joined","data":{"chat_id":"chat-1","success":false}}`,
			want: Event{Type: "chat_joined", RawType: "chat_joined", ChatID: "chat-1", Success: boolPtr(false)},
		},
		{
			name: "chat_left with chatId in data",
			in:   `{"type":"chat_left","data":{"chatId":"chat-1"}}`,
			want: Event{Type: "chat_left", RawType: "chat_left", ChatID: "chat-1"},
		},
		{
			name: "chat_created with chatId at the top level",
			in:   `{"type":"chat_created","chatId":"chat-9","data":{"success":true}}`,
			want: Event{Type: "chat_created", RawType: "chat_created", ChatID: "chat-9", Success: boolPtr(true)},
		},
		{
			name: "message_received with snake_case ids in data",
			in:   `{"type":"message_received","data":{"message_id":"m-1","client_message_id":"cm-1","chat_id":"chat-1"},"timestamp":1718000000123}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "m-1", ClientMessageID: "cm-1",
				ChatID: "chat-1", Time: ms(tsMS), Key: "message_received|m-1"},
		},
		{
			name: "message_received with camelCase ids in data",
			in:   `{"type":"message_received","data":{"messageId":"m-1","clientMessageId":"cm-1","chatId":"chat-1"}}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "m-1", ClientMessageID: "cm-1",
				ChatID: "chat-1", Key: "message_received|m-1"},
		},
		{
			name: "message_received with ids at the top level",
			in:   `{"type":"message_received","message_id":"m-1","client_message_id":"cm-1","chat_id":"chat-1","data":{}}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "m-1", ClientMessageID: "cm-1",
				ChatID: "chat-1", Key: "message_received|m-1"},
		},
		{
			name: "message_received with camelCase ids at the top level",
			in:   `{"type":"message_received","messageId":"m-1","clientMessageId":"cm-1","chatId":"chat-1"}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "m-1", ClientMessageID: "cm-1",
				ChatID: "chat-1", Key: "message_received|m-1"},
		},
		{
			name: "message_received with numeric ids renders them in decimal",
			in:   `{"type":"message_received","data":{"message_id":12345678901234,"chat_id":42}}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "12345678901234", ChatID: "42",
				Key: "message_received|12345678901234"},
		},
		{
			name: "ids in data win over ids at the top level",
			in:   `{"type":"message_received","chat_id":"top","message_id":"top-m","data":{"chat_id":"inner","message_id":"inner-m"}}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "inner-m", ChatID: "inner",
				Key: "message_received|inner-m"},
		},
		{
			name: "legacy payload holds the ids",
			in:   `{"type":"message_received","payload":{"message_id":"m-1","chat_id":"chat-1"}}`,
			want: Event{Type: "message_received", RawType: "message_received", MessageID: "m-1", ChatID: "chat-1",
				Key: "message_received|m-1"},
		},
		{
			name: "processing without message_id",
			in:   `{"type":"processing","data":{"chat_id":"chat-1"}}`,
			want: Event{Type: "processing", RawType: "processing", ChatID: "chat-1"},
		},
		{
			name: "legacy ai_processing_started is processing",
			in:   `{"type":"ai_processing_started","data":{"chat_id":"chat-1","message_id":"m-1"}}`,
			want: Event{Type: "processing", RawType: "ai_processing_started", ChatID: "chat-1", MessageID: "m-1",
				Key: "processing|m-1"},
		},
		{
			name: "response_start with message_id",
			in:   `{"type":"response_start","data":{"message_id":"a-1","chat_id":"chat-1","role":"assistant"}}`,
			want: Event{Type: "response_start", RawType: "response_start", MessageID: "a-1", ChatID: "chat-1",
				Role: "assistant", Key: "response_start|a-1"},
		},
		{
			name: "response_start with server_message_id",
			in:   `{"type":"response_start","data":{"server_message_id":"a-1","chat_id":"chat-1"}}`,
			want: Event{Type: "response_start", RawType: "response_start", MessageID: "a-1", ChatID: "chat-1",
				Key: "response_start|a-1"},
		},
		{
			name: "response_start with server_message_id at the top level",
			in:   `{"type":"response_start","server_message_id":"a-1","chat_id":"chat-1"}`,
			want: Event{Type: "response_start", RawType: "response_start", MessageID: "a-1", ChatID: "chat-1",
				Key: "response_start|a-1"},
		},
		{
			name: "typing_start with user_id",
			in:   `{"type":"typing_start","data":{"chat_id":"chat-1","user_id":"u-1"}}`,
			want: Event{Type: "typing_start", RawType: "typing_start", ChatID: "chat-1", UserID: "u-1"},
		},
		{
			name: "typing_stop with userId at the top level",
			in:   `{"type":"typing_stop","chatId":"chat-1","userId":"u-1"}`,
			want: Event{Type: "typing_stop", RawType: "typing_stop", ChatID: "chat-1", UserID: "u-1"},
		},
		{
			name: "typing_indicator with sender",
			in:   `{"type":"typing_indicator","data":{"chat_id":"chat-1","sender":"assistant","is_typing":true}}`,
			want: Event{Type: "typing_indicator", RawType: "typing_indicator", ChatID: "chat-1", UserID: "assistant"},
		},
		{
			name: "typing_indicator with sender_id",
			in:   `{"type":"typing_indicator","data":{"chat_id":"chat-1","sender_id":7}}`,
			want: Event{Type: "typing_indicator", RawType: "typing_indicator", ChatID: "chat-1", UserID: "7"},
		},
		{
			name: "chat_message echo with its text as a string message",
			in:   `{"type":"chat_message","data":{"chat_id":"chat-1","message":"hello","client_message_id":"cm-1"}}`,
			want: Event{Type: "chat_message", RawType: "chat_message", ChatID: "chat-1", ClientMessageID: "cm-1",
				Text: "hello", HasText: true},
		},
		{
			name: "unknown type passes through with its ids and content",
			in:   `{"type":"knowledge_base_updated","data":{"chat_id":"chat-1","content":"v2","extra":[1,2]}}`,
			want: Event{Type: "knowledge_base_updated", RawType: "knowledge_base_updated", ChatID: "chat-1",
				Text: "v2", HasText: true},
		},
		{
			name: "unknown type with a message object reads its content",
			in:   `{"type":"history_item","data":{"message":{"id":"m-5","content":"old","role":"user","chat_id":"chat-1"}}}`,
			want: Event{Type: "history_item", RawType: "history_item", ChatID: "chat-1", MessageID: "m-5", Role: "user",
				Text: "old", HasText: true, Key: "history_item|m-5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireEvent(t, tt.in, tt.want) })
	}
}

func TestNormalize_ReadsChunkTextFromEveryLocation(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "text in data.content with chunk_index",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","chat_id":"chat-1","content":"Hel","chunk_index":0}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1", ChatID: "chat-1",
				Text: "Hel", HasText: true, HasSequence: true, Key: "response_chunk|a-1|0"},
		},
		{
			name: "text in data.chunk with sequence_number",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","chunk":"lo","sequence_number":7}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1",
				Text: "lo", HasText: true, Sequence: 7, HasSequence: true, Key: "response_chunk|a-1|7"},
		},
		{
			name: "text in data.text",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","text":" wor"}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1", Text: " wor", HasText: true},
		},
		{
			name: "text in data.delta.content",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","delta":{"content":"ld","role":"assistant"}}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1", Text: "ld", HasText: true},
		},
		{
			name: "text in a string data.delta",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","delta":"!"}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1", Text: "!", HasText: true},
		},
		{
			name: "delta object without text has none",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","delta":{"role":"assistant"}}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1"},
		},
		{
			name: "legacy message_chunk is response_chunk",
			in:   `{"type":"message_chunk","payload":{"chat_id":"chat-1","content":"Hi"}}`,
			want: Event{Type: "response_chunk", RawType: "message_chunk", ChatID: "chat-1", Text: "Hi", HasText: true},
		},
		{
			name: "chunk without message_id keys by chat id and sequence",
			in:   `{"type":"response_chunk","data":{"chat_id":"chat-1","content":"Hi","chunk_index":"3"}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", ChatID: "chat-1", Text: "Hi", HasText: true,
				Sequence: 3, HasSequence: true, Key: "response_chunk|chat-1|3"},
		},
		{
			name: "chunk text at the top level",
			in:   `{"type":"response_chunk","message_id":"a-1","content":"top","timestamp":1718000000123}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1", Text: "top", HasText: true,
				Time: ms(tsMS)},
		},
		{
			name: "empty chunk text is still text",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","content":""}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1", HasText: true},
		},
		{
			name: "escapes and non-ASCII text are decoded",
			in:   `{"type":"response_chunk","data":{"message_id":"a-1","content":"line\n\"q\" caf\u00e9 \ud83d\ude00 ü"}}`,
			want: Event{Type: "response_chunk", RawType: "response_chunk", MessageID: "a-1",
				Text: "line\n\"q\" café 😀 ü", HasText: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireEvent(t, tt.in, tt.want) })
	}
}

func TestNormalize_ReadsCompleteTextAndMetadata(t *testing.T) {
	fullMeta := &ResponseMeta{Model: "gpt-4o-mini", PromptTokens: 812, CompletionTokens: 9, TotalTokens: 821,
		ResponseTime: 1432500 * time.Microsecond, Cost: 0.000129,
		Sources: raws(`{"title":"FAQ","url":"https://example.com/faq"}`, `"doc-2"`)}
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "flat data.content with every metadata field",
			in: `{"type":"response_complete","data":{"message_id":"a-1","chat_id":"chat-1","content":"Hello!","role":"assistant",` +
				`"llm_model":"gpt-4o-mini","prompt_tokens":812,"completion_tokens":9,"total_tokens":821,"response_time_ms":1432.5,` +
				`"cost_estimate":0.000129,"sources":[{"title":"FAQ","url":"https://example.com/faq"}, "doc-2"]}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1", ChatID: "chat-1",
				Role: "assistant", Text: "Hello!", HasText: true, Meta: fullMeta, Key: "response_complete|a-1"},
		},
		{
			name: "metadata in data.metadata with model and cost_estimate_usd",
			in: `{"type":"response_complete","data":{"message_id":"a-1","content":"Hi","metadata":{"model":"m-small",` +
				`"prompt_tokens":"5","completion_tokens":2.0,"total_tokens":7,"response_time_ms":20,"cost_estimate_usd":"0.5","sources":[]}}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1", Text: "Hi", HasText: true,
				Meta: &ResponseMeta{Model: "m-small", PromptTokens: 5, CompletionTokens: 2, TotalTokens: 7,
					ResponseTime: 20 * time.Millisecond, Cost: 0.5, Sources: raws()},
				Key: "response_complete|a-1"},
		},
		{
			name: "flat metadata wins over data.metadata, a zero included",
			in:   `{"type":"response_complete","data":{"message_id":"a-1","total_tokens":0,"llm_model":"a","metadata":{"total_tokens":9,"model":"b"}}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1",
				Meta: &ResponseMeta{Model: "a"}, Key: "response_complete|a-1"},
		},
		{
			name: "nested data.message with content, id and metadata",
			in: `{"type":"response_complete","data":{"chat_id":"chat-1","message":{"id":"a-2","content":"Nested reply","role":"assistant",` +
				`"metadata":{"llm_model":"gpt-x","total_tokens":3}}}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-2", ChatID: "chat-1",
				Role: "assistant", Text: "Nested reply", HasText: true, Meta: &ResponseMeta{Model: "gpt-x", TotalTokens: 3},
				Key: "response_complete|a-2"},
		},
		{
			name: "nested data.message with chat_id and message_id",
			in:   `{"type":"response_complete","data":{"message":{"message_id":"a-3","chat_id":"chat-2","content":"x","total_tokens":4}}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-3", ChatID: "chat-2",
				Text: "x", HasText: true, Meta: &ResponseMeta{TotalTokens: 4}, Key: "response_complete|a-3"},
		},
		{
			name: "text in full_text",
			in:   `{"type":"response_complete","data":{"message_id":"a-1","full_text":"All of it"}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1", Text: "All of it", HasText: true,
				Meta: &ResponseMeta{}, Key: "response_complete|a-1"},
		},
		{
			name: "no text means use the aggregate of the chunks",
			in:   `{"type":"response_complete","data":{"message_id":"a-1","total_tokens":10}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1",
				Meta: &ResponseMeta{TotalTokens: 10}, Key: "response_complete|a-1"},
		},
		{
			name: "empty content counts as no text",
			in:   `{"type":"response_complete","data":{"message_id":"a-1","content":""}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1",
				Meta: &ResponseMeta{}, Key: "response_complete|a-1"},
		},
		{
			name: "empty content falls back to full_text",
			in:   `{"type":"response_complete","data":{"message_id":"a-1","content":"","full_text":"Full"}}`,
			want: Event{Type: "response_complete", RawType: "response_complete", MessageID: "a-1", Text: "Full", HasText: true,
				Meta: &ResponseMeta{}, Key: "response_complete|a-1"},
		},
		{
			name: "legacy message_complete is response_complete",
			in:   `{"type":"message_complete","payload":{"messageId":"a-1","content":"Done"}}`,
			want: Event{Type: "response_complete", RawType: "message_complete", MessageID: "a-1", Text: "Done", HasText: true,
				Meta: &ResponseMeta{}, Key: "response_complete|a-1"},
		},
		{
			name: "chat_response with content is a complete response",
			in:   `{"type":"chat_response","data":{"message_id":"a-1","chat_id":"chat-1","content":"Sync reply","model":"m"}}`,
			want: Event{Type: "chat_response", RawType: "chat_response", MessageID: "a-1", ChatID: "chat-1",
				Text: "Sync reply", HasText: true, Meta: &ResponseMeta{Model: "m"}, Key: "chat_response|a-1"},
		},
		{
			name: "chat_response with its text as a string message",
			in:   `{"type":"chat_response","data":{"chat_id":"chat-1","message":"Sync reply"}}`,
			want: Event{Type: "chat_response", RawType: "chat_response", ChatID: "chat-1",
				Text: "Sync reply", HasText: true, Meta: &ResponseMeta{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireEvent(t, tt.in, tt.want) })
	}
}

func TestNormalize_ReadsErrorFields(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
	}{
		{
			name: "error with message, code, category, retry_after and message_id",
			in:   `{"type":"error","data":{"message":"AI unavailable","code":"AI_UNAVAILABLE","type":"service_error","retry_after":5,"message_id":"m-1"}}`,
			want: Event{Type: "error", RawType: "error", Text: "AI unavailable", HasText: true, Code: "AI_UNAVAILABLE",
				Category: "service_error", RetryAfter: 5 * time.Second, MessageID: "m-1", Key: "error|m-1"},
		},
		{
			name: "error with a numeric error_code and messageId",
			in:   `{"type":"error","data":{"message":"bad","error_code":4001,"messageId":"m-2"}}`,
			want: Event{Type: "error", RawType: "error", Text: "bad", HasText: true, Code: "4001", MessageID: "m-2",
				Key: "error|m-2"},
		},
		{
			name: "error with its text in data.error and error_type",
			in:   `{"type":"error","data":{"error":"tenant not found","error_type":"validation"}}`,
			want: Event{Type: "error", RawType: "error", Text: "tenant not found", HasText: true, Category: "validation"},
		},
		{
			name: "error with its text in data.detail",
			in:   `{"type":"error","data":{"detail":"oops"}}`,
			want: Event{Type: "error", RawType: "error", Text: "oops", HasText: true},
		},
		{
			name: "error fields at the top level",
			in:   `{"type":"error","message":"top","code":"X","retry_after":"1.5","close_code":1011}`,
			want: Event{Type: "error", RawType: "error", Text: "top", HasText: true, Code: "X",
				RetryAfter: 1500 * time.Millisecond},
		},
		{
			name: "error that the platform says may succeed if sent again",
			in:   `{"type":"error","data":{"message":"busy","code":"overloaded","retryable":true,"message_id":"m-3"}}`,
			want: Event{Type: "error", RawType: "error", Text: "busy", HasText: true, Code: "overloaded", Retryable: true,
				MessageID: "m-3", Key: "error|m-3"},
		},
		{
			name: "realtime form: the code in data.details",
			in:   `{"type":"error","data":{"message":"Chat not joined","details":"not_joined"}}`,
			want: Event{Type: "error", RawType: "error", Text: "Chat not joined", HasText: true, Code: "not_joined"},
		},
		{
			name: "details that are not a string are no code",
			in:   `{"type":"error","data":{"message":"bad","details":{"field":"chat_id"}}}`,
			want: Event{Type: "error", RawType: "error", Text: "bad", HasText: true},
		},
		{
			name: "close_code when there is no other code",
			in:   `{"type":"error","data":{"close_code":1011}}`,
			want: Event{Type: "error", RawType: "error", Code: "1011"},
		},
		{
			name: "rate_limit_exceeded with retry_after in seconds",
			in:   `{"type":"rate_limit_exceeded","data":{"retry_after":30,"message":"Too many messages"}}`,
			want: Event{Type: "rate_limit_exceeded", RawType: "rate_limit_exceeded", RetryAfter: 30 * time.Second,
				Text: "Too many messages", HasText: true},
		},
		{
			name: "rate_limit_exceeded with retry_after at the top level as a string",
			in:   `{"type":"rate_limit_exceeded","retry_after":"12"}`,
			want: Event{Type: "rate_limit_exceeded", RawType: "rate_limit_exceeded", RetryAfter: 12 * time.Second},
		},
		{
			name: "retry_after is capped at one hour",
			in:   `{"type":"rate_limit_exceeded","data":{"retry_after":1e9}}`,
			want: Event{Type: "rate_limit_exceeded", RawType: "rate_limit_exceeded", RetryAfter: time.Hour},
		},
		{
			name: "negative retry_after is zero",
			in:   `{"type":"rate_limit_exceeded","data":{"retry_after":-3}}`,
			want: Event{Type: "rate_limit_exceeded", RawType: "rate_limit_exceeded"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { requireEvent(t, tt.in, tt.want) })
	}
}
