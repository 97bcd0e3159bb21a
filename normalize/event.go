package normalize

import (
	"encoding/json"
	"time"
)

// Event is one inbound frame in canonical form. Fields the frame did not
// carry are zero. Strings are copies; Data and ResponseMeta.Sources alias the
// bytes given to [Normalize].
type Event struct {
	// Type is the canonical type ([protocol.CanonicalType] of RawType, for
	// example "response_chunk" for "message_chunk"). Unknown types pass
	// through unchanged.
	Type string
	// RawType is the type as received.
	RawType string
	// ChatID is chat_id or chatId, from data, the top level, or
	// data.message.
	ChatID string
	// MessageID is the server's message id: message_id, messageId or
	// server_message_id (in data, then at the top level), or data.message.id.
	MessageID string
	// ClientMessageID is client_message_id or clientMessageId: the id the SDK
	// gave a user message when it was sent.
	ClientMessageID string
	// ClientID is client_id or clientId, the connection id the server
	// assigned.
	ClientID string
	// TenantID is tenant_id or tenantId.
	TenantID string
	// UserID names the participant of a typing event: user_id, userId,
	// sender_id or sender.
	UserID string
	// Time is the event time: event_ts or eventTs, else timestamp (a number,
	// a numeric string or an RFC 3339 string). A number below 1e11 is Unix
	// seconds (fractions kept), a larger one Unix milliseconds. When the frame
	// carries no usable time, Time is the now given to Normalize.
	Time time.Time
	// Text is the text the event carries: for response_chunk the chunk
	// (content, chunk, text or delta.content); for response_complete and
	// chat_response the full reply (content, data.message.content, full_text,
	// or a string data.message); for error, rate_limit_exceeded and
	// initialization_progress the message (message, error, detail or
	// content); for other types content, a string message,
	// data.message.content or text.
	Text string
	// HasText reports whether the frame carried Text. For response_complete
	// and chat_response an empty text counts as absent: the reply is then the
	// aggregate of the chunks.
	HasText bool
	// Role is the message role ("user", "assistant", "system"), from data,
	// data.message or the top level.
	Role string
	// Phase is the initialization_progress phase ("starting", "services",
	// "complete"). The legacy platform_initializing and ai_services_loading
	// frames give "starting" and "services" when they name no phase.
	Phase string
	// Code is the error code: code, error_code or close_code; a number is
	// rendered in decimal. An error frame with none of them takes a string
	// data.details (the realtime form's).
	Code string
	// Category is the error category: the "type" (or "error_type") field
	// inside data.
	Category string
	// RetryAfter is retry_after (seconds, a number or a numeric string, in
	// data or at the top level), at most one hour.
	RetryAfter time.Duration
	// Success is data.success when the frame carries a boolean there, else
	// nil.
	Success *bool
	// Retryable is the retryable flag of an error frame (data.retryable or
	// the top level): the platform says the same message may succeed if
	// sent again.
	Retryable bool
	// Sequence is the chunk's position: chunk_index or sequence_number. It is
	// meaningful only when HasSequence is true.
	Sequence int64
	// HasSequence reports whether the frame carried a sequence number.
	HasSequence bool
	// ConnectedAt is connected_at of connection_established (Unix seconds,
	// milliseconds or RFC 3339, as for Time); zero when absent.
	ConnectedAt time.Time
	// ReadyDuration is ready_duration of connection_ready (seconds).
	ReadyDuration time.Duration
	// PingTS is ts of a ping or pong (Unix milliseconds).
	PingTS int64
	// Meta is the response metadata of response_complete and chat_response
	// (never nil for those types), nil for all others.
	Meta *ResponseMeta
	// Data is the raw payload object: data, or the legacy payload when data
	// is not an object. It is nil when the frame has neither. Data aliases
	// the bytes given to Normalize: copy it to keep it past a reuse of that
	// buffer.
	Data json.RawMessage
	// Key is the dedup key (see [Normalize] for the rules), "" when the event
	// has none and must never be dropped as a duplicate.
	Key string
}

// ResponseMeta is the metadata of a complete response. Each field is read
// from data, then data.metadata, then data.message, then
// data.message.metadata; the first present value wins.
type ResponseMeta struct {
	// Model is llm_model or model.
	Model string
	// PromptTokens is prompt_tokens.
	PromptTokens int
	// CompletionTokens is completion_tokens.
	CompletionTokens int
	// TotalTokens is total_tokens.
	TotalTokens int
	// ResponseTime is response_time_ms.
	ResponseTime time.Duration
	// Cost is cost_estimate or cost_estimate_usd, in US dollars.
	Cost float64
	// Sources holds the entries of the sources array, each kept raw. The
	// entries alias the bytes given to Normalize.
	Sources []json.RawMessage
}
