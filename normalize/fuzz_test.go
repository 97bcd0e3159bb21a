package normalize

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/miptechnologies/miptech-go/protocol"
)

// fuzzSeeds are frames shaped like the platform's, one or more per variant.
var fuzzSeeds = []string{
	`{"type":"connection_established","data":{"client_id":"c-1","tenant_id":"acme","connected_at":1718000000.5}}`,
	`{"type":"initialization_progress","data":{"phase":"services","message":"Loading AI services"}}`,
	`{"type":"platform_initializing","payload":{"message":"Platform initializing"}}`,
	`{"type":"ai_services_ready","clientId":"c-1","ready_duration":"2"}`,
	`{"type":"chat_joined","chat_id":"chat-1","data":{"success":true}}`,
	`{"type":"chat_created","data":{"chatId":"chat-9","success":true}}`,
	`{"type":"message_received","messageId":12345,"clientMessageId":"cm-1","chatId":"chat-1"}`,
	`{"type":"ai_processing_started","data":{"chat_id":"chat-1"},"timestamp":"2024-06-10T06:13:20Z"}`,
	`{"type":"message_chunk","payload":{"chat_id":"chat-1","chunk":"Hi","sequence_number":"3"}}`,
	`{"type":"response_chunk","data":{"message_id":"a-1","delta":{"content":"\ud83d\ude00 caf\u00e9"}}}`,
	`{"type":"message_complete","data":{"message":{"id":"a-2","content":"Nested","metadata":{"model":"m","sources":[1,{"a":"]"}]}}}}`,
	`{"type":"chat_response","data":{"chat_id":"chat-1","message":"Sync reply","cost_estimate_usd":"0.5"}}`,
	`{"type":"typing_indicator","data":{"chat_id":"chat-1","sender":{"id":"u"},"user_id":7}}`,
	`{"type":"error","data":{"message":"bad","error_code":4001,"type":"validation","retry_after":"1.5"},"event_ts":1718000000123}`,
	`{"type":"rate_limit_exceeded","retry_after":1e999}`,
	`{"type":"ping","data":{"ts":1718000000123}}`,
	`{"type":"x\u0000","data":{"chat\u005fid":"\udc00","content":-0.0e-0}}`,
	`{"type":"response_complete","data":{"prompt_tokens":99999999999999999999,"timestamp":"NaN","ts":"Infinity"}}`,
	`[{"type":"ping"}]`,
	`{"type":5}`,
	`{"type":"ping"`,
	``,
	`null`,
}

func FuzzNormalize(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	for _, fr := range benchFrames {
		f.Add([]byte(fr.frame))
	}
	for _, v := range grammarValues {
		if len(v) < 100 {
			f.Add([]byte(v))
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		before := bytes.Clone(raw)
		ev, err := Normalize(raw, testNow)
		if !bytes.Equal(before, raw) {
			t.Fatalf("Normalize modified its input")
		}
		if errors.Is(err, ErrMalformed) == json.Valid(raw) {
			t.Fatalf("malformed verdict %v, json.Valid %v, for %q", errors.Is(err, ErrMalformed), json.Valid(raw), raw)
		}
		// The input as a member the normalizer skips and as a value
		// nested in the payload it walks: malformed exactly when
		// json.Valid rejects the whole frame.
		for _, wrap := range [][2]string{
			{`{"type":"ping","x":`, `}`},
			{`{"type":"response_chunk","data":{"content":"a","x":[`, `]}}`},
		} {
			requireVerdict(t, []byte(wrap[0]+string(raw)+wrap[1]))
		}

		// Cross-check against encoding/json.
		valid := json.Valid(raw)
		var top map[string]json.RawMessage
		isObject := valid && json.Unmarshal(raw, &top) == nil && top != nil
		var typ string
		hasType := isObject && json.Unmarshal(top["type"], &typ) == nil && typ != "" && top["type"][0] == '"'

		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			switch {
			case !valid:
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("invalid JSON gave %v", err)
				}
			case !isObject:
				if !errors.Is(err, ErrNotObject) {
					t.Fatalf("non-object gave %v", err)
				}
			case !hasType:
				if !errors.Is(err, ErrMissingType) {
					t.Fatalf("object without type gave %v", err)
				}
			default:
				t.Fatalf("a frame with type %q was rejected: %v", typ, err)
			}
			return
		}
		if ev.Type == "" {
			t.Fatalf("event without a type from %q", raw)
		}
		if !hasType {
			t.Fatalf("accepted a frame encoding/json finds no type in: %q", raw)
		}
		if ev.RawType != typ || ev.Type != protocol.CanonicalType(typ) {
			t.Fatalf("type: got %q/%q, encoding/json reads %q", ev.RawType, ev.Type, typ)
		}
		if d := top["data"]; len(d) > 0 && d[0] == '{' {
			if !bytes.Equal(ev.Data, d) {
				t.Fatalf("data: got %q, encoding/json reads %q", ev.Data, d)
			}
			var data map[string]json.RawMessage
			var chatID string
			if json.Unmarshal(d, &data) == nil && json.Unmarshal(data["chat_id"], &chatID) == nil &&
				chatID != "" && data["chat_id"][0] == '"' && ev.ChatID != chatID {
				t.Fatalf("chat_id: got %q, encoding/json reads %q", ev.ChatID, chatID)
			}
		}
		switch ev.Type {
		case protocol.TypePing, protocol.TypePong, protocol.TypeConnectionEstablished,
			protocol.TypeInitializationProgress, protocol.TypeConnectionReady:
			if ev.Key != "" {
				t.Fatalf("%s got key %q", ev.Type, ev.Key)
			}
		case protocol.TypeResponseComplete, protocol.TypeChatResponse:
			if ev.Meta == nil {
				t.Fatalf("%s without Meta", ev.Type)
			}
		}
	})
}
