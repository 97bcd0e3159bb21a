package normalize

import (
	"encoding/json"
	"testing"
	"time"
)

// benchFrames are typical frames of each main type, as the platform sends
// them.
var benchFrames = []struct {
	name  string
	frame string
}{
	{"connection_ready", `{"type":"connection_ready","data":{"client_id":"c-7f3a9e","tenant_id":"acme","ready_duration":1.25,"message":"Platform ready"},"timestamp":1718000000123}`},
	{"message_received", `{"type":"message_received","data":{"message_id":"msg_01HZX3K9","client_message_id":"5f1c2a7e-3b8d-4c1e-9a2f-0d6b7e8c9f10","chat_id":"chat_8d2e","status":"received"},"timestamp":1718000000456}`},
	{"response_start", `{"type":"response_start","data":{"message_id":"msg_01HZX3KA","chat_id":"chat_8d2e","role":"assistant"},"timestamp":1718000000789}`},
	{"response_chunk", `{"type":"response_chunk","data":{"message_id":"msg_01HZX3KA","chat_id":"chat_8d2e","content":"Hello! How can I help you","chunk_index":3},"timestamp":1718000000801}`},
	{"response_complete", `{"type":"response_complete","data":{"message_id":"msg_01HZX3KA","chat_id":"chat_8d2e","content":"Hello! How can I help you today?","role":"assistant","llm_model":"gpt-4o-mini","prompt_tokens":812,"completion_tokens":9,"total_tokens":821,"response_time_ms":1432.5,"cost_estimate":0.000129,"sources":[{"title":"FAQ","url":"https://example.com/faq"}]},"timestamp":1718000001234}`},
	{"error", `{"type":"error","data":{"message":"AI service temporarily unavailable","code":"AI_UNAVAILABLE","type":"service_error","retry_after":5,"message_id":"msg_01HZX3KB"},"timestamp":1718000001500}`},
}

// baselineFrame is a plain struct holding the fields of the benchmark frames,
// the reference a bare json.Unmarshal decodes into.
type baselineFrame struct {
	Type string `json:"type"`
	Data struct {
		ChatID           string  `json:"chat_id"`
		MessageID        string  `json:"message_id"`
		ClientMessageID  string  `json:"client_message_id"`
		ClientID         string  `json:"client_id"`
		TenantID         string  `json:"tenant_id"`
		Content          string  `json:"content"`
		Message          string  `json:"message"`
		Role             string  `json:"role"`
		Code             string  `json:"code"`
		Type             string  `json:"type"`
		ChunkIndex       int     `json:"chunk_index"`
		RetryAfter       float64 `json:"retry_after"`
		ReadyDuration    float64 `json:"ready_duration"`
		LLMModel         string  `json:"llm_model"`
		PromptTokens     int     `json:"prompt_tokens"`
		CompletionTokens int     `json:"completion_tokens"`
		TotalTokens      int     `json:"total_tokens"`
		ResponseTimeMS   float64 `json:"response_time_ms"`
		CostEstimate     float64 `json:"cost_estimate"`
	} `json:"data"`
	Timestamp int64 `json:"timestamp"`
}

// BenchmarkNormalize measures Normalize on each main frame type, next to
// its baseline in the same run: the same bytes through a bare json.Unmarshal
// into baselineFrame. The SPEC goal is a ratio of at most 1.5 per frame.
func BenchmarkNormalize(b *testing.B) {
	now := time.Unix(1718000000, 0)
	for _, f := range benchFrames {
		raw := []byte(f.frame)
		b.Run(f.name+"/normalize", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Normalize(raw, now); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(f.name+"/baseline-json.Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				var v baselineFrame
				if err := json.Unmarshal(raw, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
