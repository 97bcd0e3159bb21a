package normalize

import (
	"bytes"
	"math"
	"strconv"

	"github.com/miptechnologies/miptech-go/protocol"
)

// flex is one JSON value kept raw: the slice of the frame where it stands.
// Recording it costs nothing; it is read as a string, an id, a number or a
// time only when the event needs it, and a value of the wrong kind reads as
// absent. The zero flex is an absent value.
type flex []byte

// present reports whether the value is there and not null.
func (v flex) present() bool { return len(v) > 0 && v[0] != 'n' }

// isObject reports whether the value is a JSON object.
func (v flex) isObject() bool { return len(v) > 0 && v[0] == '{' }

// isNumber reports whether the value is a JSON number.
func (v flex) isNumber() bool { return len(v) > 0 && (v[0] == '-' || '0' <= v[0] && v[0] <= '9') }

// str returns the value of a JSON string; ok is false for any other kind.
func (v flex) str() (s string, ok bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	return unquote(v[1 : len(v)-1]), true
}

// name returns the value of a JSON string like str, but returns the
// package's constants for the common roles and phases instead of a copy.
func (v flex) name() (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	switch s := string(v[1 : len(v)-1]); s {
	case protocol.RoleUser:
		return protocol.RoleUser, true
	case protocol.RoleAssistant:
		return protocol.RoleAssistant, true
	case protocol.RoleSystem:
		return protocol.RoleSystem, true
	case protocol.PhaseStarting:
		return protocol.PhaseStarting, true
	case protocol.PhaseServices:
		return protocol.PhaseServices, true
	case protocol.PhaseComplete:
		return protocol.PhaseComplete, true
	}
	return v.str()
}

// id returns a string as is and a number in decimal ("" for other kinds):
// a plain integer keeps its digits, an integral number in exponent or
// fraction form is written as an integer, and any other number keeps its
// text.
func (v flex) id() string {
	if s, ok := v.str(); ok {
		return s
	}
	if !v.isNumber() {
		return ""
	}
	if isPlainInt(v) {
		return string(v)
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err == nil && f == math.Trunc(f) && math.Abs(f) < 1e21 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return string(v)
}

// number returns the text of a number, or of a string holding one (trimmed
// of white space). It allocates only for a string with escapes.
func (v flex) number() ([]byte, bool) {
	if v.isNumber() {
		return v, true
	}
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return nil, false
	}
	b := v[1 : len(v)-1]
	if bytes.IndexByte(b, '\\') >= 0 {
		b = []byte(unquote(b))
	}
	b = bytes.TrimSpace(b)
	return b, len(b) > 0
}

// float returns a finite number, or a string holding one.
func (v flex) float() (float64, bool) {
	b, ok := v.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// int returns an integral number, or a string holding one, that fits in an
// int64.
func (v flex) int() (int64, bool) {
	b, ok := v.number()
	if !ok {
		return 0, false
	}
	if isPlainInt(b) {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}

// bool returns the value of true or false.
func (v flex) bool() (value, ok bool) {
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// isPlainInt reports whether b is an optional minus and decimal digits.
func isPlainInt[T ~string | ~[]byte](b T) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 {
		return false
	}
	for i := 0; i < len(b); i++ {
		if b[i] < '0' || b[i] > '9' {
			return false
		}
	}
	return true
}

// metaFields holds the response metadata members of one object.
type metaFields struct {
	Model            flex // model
	LLMModel         flex // llm_model
	PromptTokens     flex // prompt_tokens
	CompletionTokens flex // completion_tokens
	TotalTokens      flex // total_tokens
	ResponseTimeMS   flex // response_time_ms
	CostEstimate     flex // cost_estimate
	CostEstimateUSD  flex // cost_estimate_usd
	Sources          flex // sources
}

// set records a member; it reports whether name is a metadata member.
func (m *metaFields) set(name []byte, v flex) bool {
	switch string(name) {
	case "model":
		m.Model = v
	case "llm_model":
		m.LLMModel = v
	case "prompt_tokens":
		m.PromptTokens = v
	case "completion_tokens":
		m.CompletionTokens = v
	case "total_tokens":
		m.TotalTokens = v
	case "response_time_ms":
		m.ResponseTimeMS = v
	case "cost_estimate":
		m.CostEstimate = v
	case "cost_estimate_usd":
		m.CostEstimateUSD = v
	case "sources":
		m.Sources = v
	default:
		return false
	}
	return true
}

// walk records the metadata members of obj.
func (m *metaFields) walk(obj flex) {
	if !obj.isObject() {
		return
	}
	it := newMembers(obj)
	for name, v, ok := it.next(); ok; name, v, ok = it.next() {
		m.set(memberName(name), v)
	}
}

// fields holds every member the normalizer reads from one object: the top
// level of a frame, its payload, or data.message. The same names are
// accepted at each level. At the top level Type is the frame type; in the
// payload it is the error category.
type fields struct {
	metaFields

	Type    flex // type
	Data    flex // data
	Payload flex // payload (legacy)

	ChatID             flex // chat_id
	ChatIDAlt          flex // chatId
	ID                 flex // id (read in data.message only)
	MessageID          flex // message_id
	MessageIDAlt       flex // messageId
	ServerMessageID    flex // server_message_id
	ClientMessageID    flex // client_message_id
	ClientMessageIDAlt flex // clientMessageId
	ClientID           flex // client_id
	ClientIDAlt        flex // clientId
	TenantID           flex // tenant_id
	TenantIDAlt        flex // tenantId
	UserID             flex // user_id
	UserIDAlt          flex // userId
	SenderID           flex // sender_id
	Sender             flex // sender

	EventTS       flex // event_ts
	EventTSAlt    flex // eventTs
	Timestamp     flex // timestamp
	ConnectedAt   flex // connected_at
	ReadyDuration flex // ready_duration
	RetryAfter    flex // retry_after
	TS            flex // ts

	Code      flex // code
	ErrorCode flex // error_code
	CloseCode flex // close_code
	ErrorType flex // error_type

	ChunkIndex     flex // chunk_index
	SequenceNumber flex // sequence_number

	Role     flex // role
	Phase    flex // phase
	Success  flex // success
	Retry    flex // retryable
	Details  flex // details
	Content  flex // content
	Chunk    flex // chunk
	Text     flex // text
	FullText flex // full_text
	Delta    flex // delta
	Message  flex // message
	Error    flex // error
	Detail   flex // detail
	Metadata flex // metadata
}

// walk records the members of obj; a later duplicate replaces an earlier one.
func (f *fields) walk(obj flex) {
	if !obj.isObject() {
		return
	}
	it := newMembers(obj)
	for name, v, ok := it.next(); ok; name, v, ok = it.next() {
		f.set(memberName(name), v)
	}
}

// memberName decodes a member name that holds escapes; names without any
// are returned as they are.
func memberName(name []byte) []byte {
	if bytes.IndexByte(name, '\\') < 0 {
		return name
	}
	return []byte(unquote(name))
}

// set records one member; unknown names are ignored.
func (f *fields) set(name []byte, v flex) {
	switch string(name) {
	case "type":
		f.Type = v
	case "data":
		f.Data = v
	case "payload":
		f.Payload = v
	case "chat_id":
		f.ChatID = v
	case "chatId":
		f.ChatIDAlt = v
	case "id":
		f.ID = v
	case "message_id":
		f.MessageID = v
	case "messageId":
		f.MessageIDAlt = v
	case "server_message_id":
		f.ServerMessageID = v
	case "client_message_id":
		f.ClientMessageID = v
	case "clientMessageId":
		f.ClientMessageIDAlt = v
	case "client_id":
		f.ClientID = v
	case "clientId":
		f.ClientIDAlt = v
	case "tenant_id":
		f.TenantID = v
	case "tenantId":
		f.TenantIDAlt = v
	case "user_id":
		f.UserID = v
	case "userId":
		f.UserIDAlt = v
	case "sender_id":
		f.SenderID = v
	case "sender":
		f.Sender = v
	case "event_ts":
		f.EventTS = v
	case "eventTs":
		f.EventTSAlt = v
	case "timestamp":
		f.Timestamp = v
	case "connected_at":
		f.ConnectedAt = v
	case "ready_duration":
		f.ReadyDuration = v
	case "retry_after":
		f.RetryAfter = v
	case "ts":
		f.TS = v
	case "code":
		f.Code = v
	case "error_code":
		f.ErrorCode = v
	case "close_code":
		f.CloseCode = v
	case "error_type":
		f.ErrorType = v
	case "chunk_index":
		f.ChunkIndex = v
	case "sequence_number":
		f.SequenceNumber = v
	case "role":
		f.Role = v
	case "phase":
		f.Phase = v
	case "success":
		f.Success = v
	case "retryable":
		f.Retry = v
	case "details":
		f.Details = v
	case "content":
		f.Content = v
	case "chunk":
		f.Chunk = v
	case "text":
		f.Text = v
	case "full_text":
		f.FullText = v
	case "delta":
		f.Delta = v
	case "message":
		f.Message = v
	case "error":
		f.Error = v
	case "detail":
		f.Detail = v
	case "metadata":
		f.Metadata = v
	default:
		f.metaFields.set(name, v)
	}
}
