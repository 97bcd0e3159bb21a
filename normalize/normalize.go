package normalize

import (
	"encoding/json"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Normalize decodes one inbound frame into its canonical [Event]. now is the
// event time when the frame carries none. It is pure and safe for concurrent
// use; the Event's Data and Meta.Sources alias raw.
//
// Members are read from the payload (data, or the legacy payload when data
// is not an object) first and from the top level second; data.message is
// read as an object (content, id, chat_id, role, metadata) or as a string
// (the text). A member of the wrong kind, say a chat_id that is an object, is
// ignored. Member names are matched exactly.
//
// The dedup key (Event.Key) follows these rules, in order:
//   - ping, pong, connection_established, initialization_progress and
//     connection_ready have no key: they are never duplicates.
//   - response_chunk has a key only when it carries a sequence number:
//     "response_chunk|<message id, else chat id>|<sequence>" (none when it
//     has neither id).
//   - Any other event with a message id: "<type>|<message id>". The type is
//     part of the key, so message_received, processing, response_start and
//     response_complete of one message keep distinct keys.
//   - Any other event with an explicit time (event_ts, eventTs or timestamp
//     that parsed): "<type>|<chat id>|<unix seconds>.<nanoseconds>|<hash>",
//     the hash being the FNV-1a 64 of Data, or of the whole frame when it has
//     no payload.
//   - Otherwise none.
//
// The error is a [*DecodeError] wrapping [ErrMalformed] when raw is not JSON,
// [ErrNotObject] when it is JSON but not an object, or [ErrMissingType] when
// "type" is missing, empty or not a string.
func Normalize(raw []byte, now time.Time) (Event, error) {
	// One pass checks the whole frame, as json.Valid would, and records
	// the top-level members; the nested objects read below lie inside it.
	var top fields
	if err := top.readFrame(raw); err != nil {
		return Event{}, decodeError(err, raw)
	}
	rawType, ok := typeName(top.Type)
	if !ok {
		return Event{}, decodeError(ErrMissingType, raw)
	}

	var payload flex
	switch {
	case top.Data.isObject():
		payload = top.Data
	case top.Payload.isObject():
		payload = top.Payload
	}
	var body, msg fields
	body.walk(payload)
	msg.walk(body.Message)
	d, t, m := &body, &top, &msg

	ev := Event{
		Type:    protocol.CanonicalType(rawType),
		RawType: rawType,
		Data:    json.RawMessage(payload),
	}
	ev.ChatID = firstID(d.ChatID, d.ChatIDAlt, t.ChatID, t.ChatIDAlt, m.ChatID, m.ChatIDAlt)
	ev.MessageID = firstID(d.MessageID, d.MessageIDAlt, d.ServerMessageID, m.ID, m.MessageID, m.MessageIDAlt,
		t.MessageID, t.MessageIDAlt, t.ServerMessageID)
	ev.ClientMessageID = firstID(d.ClientMessageID, d.ClientMessageIDAlt, m.ClientMessageID, m.ClientMessageIDAlt,
		t.ClientMessageID, t.ClientMessageIDAlt)
	ev.ClientID = firstID(d.ClientID, d.ClientIDAlt, t.ClientID, t.ClientIDAlt)
	ev.TenantID = firstID(d.TenantID, d.TenantIDAlt, t.TenantID, t.TenantIDAlt)
	ev.UserID = firstID(d.UserID, d.UserIDAlt, d.SenderID, d.Sender, t.UserID, t.UserIDAlt, t.SenderID, t.Sender)

	explicit := false
	ev.Time, explicit = firstTime(t.EventTS, t.EventTSAlt, d.EventTS, d.EventTSAlt, t.Timestamp, d.Timestamp)
	if !explicit {
		ev.Time = now
	}

	ev.Text, ev.HasText = text(ev.Type, d, m)
	if !ev.HasText {
		ev.Text, ev.HasText = text(ev.Type, t, nil)
	}
	ev.Role = firstName(d.Role, m.Role, t.Role)
	ev.Phase = firstName(d.Phase, t.Phase)
	if ev.Phase == "" {
		switch rawType {
		case protocol.TypePlatformInitializing:
			ev.Phase = protocol.PhaseStarting
		case protocol.TypeAIServicesLoading:
			ev.Phase = protocol.PhaseServices
		}
	}
	ev.Code = firstID(d.Code, d.ErrorCode, d.CloseCode, t.Code, t.ErrorCode, t.CloseCode)
	if ev.Code == "" && ev.Type == protocol.TypeError {
		// The realtime form's error frames carry their code as a string
		// in data.details.
		ev.Code = firstString(d.Details)
	}
	ev.Category = firstString(d.Type, d.ErrorType, t.ErrorType)
	if f, ok := firstFloat(d.RetryAfter, t.RetryAfter); ok {
		ev.RetryAfter = durationOf(f, time.Second, maxRetryAfter)
	}
	if b, ok := firstBool(d.Success, t.Success); ok {
		ev.Success = &b
	}
	if b, ok := firstBool(d.Retry, t.Retry); ok {
		ev.Retryable = b
	}
	ev.Sequence, ev.HasSequence = firstInt(d.ChunkIndex, d.SequenceNumber, t.ChunkIndex, t.SequenceNumber)
	ev.ConnectedAt, _ = firstTime(d.ConnectedAt, t.ConnectedAt)
	if f, ok := firstFloat(d.ReadyDuration, t.ReadyDuration); ok {
		ev.ReadyDuration = durationOf(f, time.Second, maxDuration)
	}
	ev.PingTS, _ = firstInt(d.TS, t.TS)
	if ev.Type == protocol.TypeResponseComplete || ev.Type == protocol.TypeChatResponse {
		ev.Meta = meta(d, m)
	}

	hashed := []byte(payload)
	if len(hashed) == 0 {
		hashed = raw
	}
	ev.Key = key(&ev, explicit, hashed)
	return ev, nil
}

// typeName reads the frame type, which must be a non-empty string. Known
// names are returned as the package constants, which saves an allocation.
func typeName(v flex) (string, bool) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", false
	}
	body := v[1 : len(v)-1]
	if len(body) == 0 {
		return "", false
	}
	switch string(body) {
	case protocol.TypeConnectionEstablished:
		return protocol.TypeConnectionEstablished, true
	case protocol.TypeInitializationProgress:
		return protocol.TypeInitializationProgress, true
	case protocol.TypeConnectionReady:
		return protocol.TypeConnectionReady, true
	case protocol.TypeChatJoined:
		return protocol.TypeChatJoined, true
	case protocol.TypeChatLeft:
		return protocol.TypeChatLeft, true
	case protocol.TypeChatCreated:
		return protocol.TypeChatCreated, true
	case protocol.TypeMessageReceived:
		return protocol.TypeMessageReceived, true
	case protocol.TypeProcessing:
		return protocol.TypeProcessing, true
	case protocol.TypeResponseStart:
		return protocol.TypeResponseStart, true
	case protocol.TypeResponseChunk:
		return protocol.TypeResponseChunk, true
	case protocol.TypeResponseComplete:
		return protocol.TypeResponseComplete, true
	case protocol.TypeChatResponse:
		return protocol.TypeChatResponse, true
	case protocol.TypeTypingStart:
		return protocol.TypeTypingStart, true
	case protocol.TypeTypingStop:
		return protocol.TypeTypingStop, true
	case protocol.TypeTypingIndicator:
		return protocol.TypeTypingIndicator, true
	case protocol.TypeError:
		return protocol.TypeError, true
	case protocol.TypeRateLimitExceeded:
		return protocol.TypeRateLimitExceeded, true
	case protocol.TypePing:
		return protocol.TypePing, true
	case protocol.TypePong:
		return protocol.TypePong, true
	}
	s := unquote(body)
	return s, s != ""
}

// text finds the event's text in one object (f) and its message object (m,
// nil at the top level), by the rules of [Event].Text.
func text(typ string, f, m *fields) (string, bool) {
	switch typ {
	case protocol.TypeResponseChunk:
		if s, ok := firstStringOK(f.Content, f.Chunk, f.Text); ok {
			return s, true
		}
		if s, ok := f.Delta.str(); ok {
			return s, true
		}
		if f.Delta.isObject() {
			var delta fields
			delta.walk(f.Delta)
			return firstStringOK(delta.Content, delta.Text)
		}
		return "", false
	case protocol.TypeResponseComplete, protocol.TypeChatResponse:
		var mc, mt flex
		if m != nil {
			mc, mt = m.Content, m.Text
		}
		s := firstString(f.Content, mc, f.FullText, f.Message, f.Text, mt)
		return s, s != ""
	case protocol.TypeError, protocol.TypeRateLimitExceeded, protocol.TypeInitializationProgress:
		return firstStringOK(f.Message, f.Error, f.Detail, f.Content)
	default:
		var mc flex
		if m != nil {
			mc = m.Content
		}
		return firstStringOK(f.Content, f.Message, mc, f.Text)
	}
}

// meta builds the response metadata from the payload (d), its metadata
// object, the message object (m) and its metadata object, in that order.
func meta(d, m *fields) *ResponseMeta {
	var dm, mm metaFields
	dm.walk(d.Metadata)
	mm.walk(m.Metadata)
	src := [...]*metaFields{&d.metaFields, &dm, &m.metaFields, &mm}
	out := &ResponseMeta{}
	out.Model = firstString(src[0].LLMModel, src[0].Model, src[1].LLMModel, src[1].Model,
		src[2].LLMModel, src[2].Model, src[3].LLMModel, src[3].Model)
	var havePrompt, haveCompletion, haveTotal, haveTime, haveCost bool
	for _, s := range src {
		if n, ok := s.PromptTokens.int(); ok && !havePrompt {
			out.PromptTokens, havePrompt = clampInt(n), true
		}
		if n, ok := s.CompletionTokens.int(); ok && !haveCompletion {
			out.CompletionTokens, haveCompletion = clampInt(n), true
		}
		if n, ok := s.TotalTokens.int(); ok && !haveTotal {
			out.TotalTokens, haveTotal = clampInt(n), true
		}
		if f, ok := s.ResponseTimeMS.float(); ok && !haveTime {
			out.ResponseTime, haveTime = durationOf(f, time.Millisecond, maxDuration), true
		}
		if f, ok := firstFloat(s.CostEstimate, s.CostEstimateUSD); ok && !haveCost {
			out.Cost, haveCost = f, true
		}
		if out.Sources == nil && len(s.Sources) > 0 && s.Sources[0] == '[' {
			out.Sources = rawMessages(s.Sources)
		}
	}
	return out
}

// rawMessages splits a JSON array into its raw elements; an empty array
// gives an empty, non-nil slice.
func rawMessages(arr flex) []json.RawMessage {
	if els := elements(arr); els != nil {
		return els
	}
	return []json.RawMessage{}
}

// clampInt converts n to int, saturating where int is narrower than int64.
func clampInt(n int64) int {
	const maxInt, minInt = int64(^uint(0) >> 1), -int64(^uint(0)>>1) - 1
	switch {
	case n > maxInt:
		return int(maxInt)
	case n < minInt:
		return int(minInt)
	}
	return int(n)
}

// firstID returns the first of vs that holds an id (a string or a number).
func firstID(vs ...flex) string {
	for _, v := range vs {
		if len(v) == 0 {
			continue
		}
		if s := v.id(); s != "" {
			return s
		}
	}
	return ""
}

// firstString returns the first non-empty string among vs.
func firstString(vs ...flex) string {
	for _, v := range vs {
		if s, ok := v.str(); ok && s != "" {
			return s
		}
	}
	return ""
}

// firstName returns the first non-empty string among vs, as [flex.name]
// reads it.
func firstName(vs ...flex) string {
	for _, v := range vs {
		if s, ok := v.name(); ok && s != "" {
			return s
		}
	}
	return ""
}

// firstStringOK returns the first string among vs, empty or not; ok is
// false when there is none.
func firstStringOK(vs ...flex) (string, bool) {
	for _, v := range vs {
		if s, ok := v.str(); ok {
			return s, true
		}
	}
	return "", false
}

// firstFloat returns the first of vs that reads as a number.
func firstFloat(vs ...flex) (float64, bool) {
	for _, v := range vs {
		if f, ok := v.float(); ok {
			return f, true
		}
	}
	return 0, false
}

// firstInt returns the first of vs that reads as an integer.
func firstInt(vs ...flex) (int64, bool) {
	for _, v := range vs {
		if n, ok := v.int(); ok {
			return n, true
		}
	}
	return 0, false
}

// firstBool returns the first of vs that is true or false.
func firstBool(vs ...flex) (value, ok bool) {
	for _, v := range vs {
		if b, ok := v.bool(); ok {
			return b, true
		}
	}
	return false, false
}

// Type returns the canonical type of a frame, after the same well-formedness
// check as Normalize, without building its Event: the reader uses it to pass
// over the keepalive's pong frames cheaply.
func Type(raw []byte) (string, error) {
	var top fields
	if err := top.readFrame(raw); err != nil {
		return "", decodeError(err, raw)
	}
	rawType, ok := typeName(top.Type)
	if !ok {
		return "", decodeError(ErrMissingType, raw)
	}
	return protocol.CanonicalType(rawType), nil
}
