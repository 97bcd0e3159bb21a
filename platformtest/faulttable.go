package platformtest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Errors of ApplyFault.
var (
	// ErrUnknownFault is returned by ApplyFault for a name that is not in
	// the table Faults lists.
	ErrUnknownFault = errors.New("platformtest: unknown fault; GET /_platform/faults (or Faults) lists them")
	// ErrBadParam is matched by the error of ApplyFault for a parameter
	// that is unknown, missing or of the wrong kind.
	ErrBadParam = errors.New("platformtest: bad fault parameter")
)

// ParamKind is the kind of value a fault parameter takes.
type ParamKind string

// Parameter kinds. In JSON, a duration is a string ("250ms", "2s") or a
// number of milliseconds.
const (
	KindInt      ParamKind = "int"
	KindFloat    ParamKind = "float"
	KindBool     ParamKind = "bool"
	KindString   ParamKind = "string"
	KindDuration ParamKind = "duration"
	KindObject   ParamKind = "object"
)

// Param is a parameter of a fault.
type Param struct {
	// Name is the parameter's name in the JSON body and in ApplyFault.
	Name string `json:"name"`
	// Kind is the kind of value it takes.
	Kind ParamKind `json:"kind"`
	// Default is the value used when the parameter is absent; nil for a
	// required parameter.
	Default any `json:"default,omitempty"`
	// Doc says what it does.
	Doc string `json:"doc"`
}

// Fault is one row of the fault table: a fault or setting the Server can be
// told to apply at run time. The Go method it names and the control API
// (POST ControlPrefix + "/faults/" + Name) both reach it through this one
// row, so the two cannot drift apart.
type Fault struct {
	// Name is the fault's name in the control API ("drop_all").
	Name string `json:"name"`
	// Method is the Server method the row calls ("DropAll").
	Method string `json:"method"`
	// Doc says what it does.
	Doc string `json:"doc"`
	// Params are its parameters, in order.
	Params []Param `json:"params"`

	apply func(s *Server, a faultArgs) error
}

// faultArgs are the checked parameters of one ApplyFault call.
type faultArgs map[string]any

func (a faultArgs) int(name string) int            { return a[name].(int) }
func (a faultArgs) bool(name string) bool          { return a[name].(bool) }
func (a faultArgs) str(name string) string         { return a[name].(string) }
func (a faultArgs) float(name string) float64      { return a[name].(float64) }
func (a faultArgs) dur(name string) time.Duration  { return a[name].(time.Duration) }
func (a faultArgs) obj(name string) map[string]any { return a[name].(map[string]any) }
func param(name string, kind ParamKind, def any, doc string) Param {
	return Param{name, kind, def, doc}
}

// Parameters shared by several rows.
var (
	paramN  = param("n", KindInt, 1, "number of occurrences to arm; 0 disarms")
	paramOn = param("on", KindBool, true, "true switches it on, false off")
)

// faultTable is the one table of faults. A new fault is a Server method
// plus a row here; TestFaultTable_CoversEveryServerMethod fails for a
// method that has no row.
var faultTable = []Fault{
	{Name: "drop_all", Method: "DropAll", Doc: "close every live WebSocket with a close code (1006: abruptly)",
		Params: []Param{param("code", KindInt, 1001, "close code")},
		apply:  func(s *Server, a faultArgs) error { s.DropAll(a.int("code")); return nil }},
	{Name: "drop_all_abrupt", Method: "DropAllAbrupt", Doc: "reset every live TCP connection: no close frame",
		apply: func(s *Server, _ faultArgs) error { s.DropAllAbrupt(); return nil }},
	{Name: "refuse_handshakes", Method: "RefuseHandshakes", Doc: "answer the next n WebSocket handshakes with an HTTP status",
		Params: []Param{paramN, param("status", KindInt, 503, "HTTP status")},
		apply:  func(s *Server, a faultArgs) error { s.RefuseHandshakes(a.int("n"), a.int("status")); return nil }},
	{Name: "refuse_handshakes_with_close", Method: "RefuseHandshakesWithClose", Doc: "accept the next n handshakes, then close each at once with a close code",
		Params: []Param{paramN, param("code", KindInt, 1012, "close code (1006: TCP reset)")},
		apply:  func(s *Server, a faultArgs) error { s.RefuseHandshakesWithClose(a.int("n"), a.int("code")); return nil }},
	{Name: "fail_chat_creations", Method: "FailChatCreations", Doc: "answer the next n POST /api/v1/chat/ with an HTTP status",
		Params: []Param{paramN, param("status", KindInt, 500, "HTTP status")},
		apply:  func(s *Server, a faultArgs) error { s.FailChatCreations(a.int("n"), a.int("status")); return nil }},
	{Name: "rate_limit", Method: "RateLimit", Doc: "answer the next n chat_message frames with rate_limit_exceeded",
		Params: []Param{paramN},
		apply:  func(s *Server, a faultArgs) error { s.RateLimit(a.int("n")); return nil }},
	{Name: "rate_limit_rest", Method: "RateLimitREST", Doc: "answer the next n REST requests with 429",
		Params: []Param{paramN},
		apply:  func(s *Server, a faultArgs) error { s.RateLimitREST(a.int("n")); return nil }},
	{Name: "set_retry_after", Method: "SetRetryAfter", Doc: "the wait asked for by rate limits (Retry-After, retry_after)",
		Params: []Param{param("after", KindDuration, "0s", "wait; 0 sends none")},
		apply:  func(s *Server, a faultArgs) error { s.SetRetryAfter(a.dur("after")); return nil }},
	{Name: "drop_after_chat_message", Method: "DropAfterChatMessage", Doc: "drop the sender of each of the next n chat_message frames before acknowledging it",
		Params: []Param{paramN},
		apply:  func(s *Server, a faultArgs) error { s.DropAfterChatMessage(a.int("n")); return nil }},
	{Name: "drop_after_received", Method: "DropAfterReceived", Doc: "drop the sender of each of the next n chat_message frames right after message_received",
		Params: []Param{paramN},
		apply:  func(s *Server, a faultArgs) error { s.DropAfterReceived(a.int("n")); return nil }},
	{Name: "stall", Method: "Stall", Doc: "stop reading and writing every connection (on), or resume (off)",
		Params: []Param{paramOn},
		apply:  func(s *Server, a faultArgs) error { s.Stall(a.bool("on")); return nil }},
	{Name: "withhold_ready", Method: "WithholdReady", Doc: "hold connection_ready (on), or release it (off)",
		Params: []Param{paramOn},
		apply:  func(s *Server, a faultArgs) error { s.WithholdReady(a.bool("on")); return nil }},
	{Name: "set_ready_delay", Method: "SetReadyDelay", Doc: "pause before connection_ready for new connections",
		Params: []Param{param("delay", KindDuration, "0s", "pause")},
		apply:  func(s *Server, a faultArgs) error { s.SetReadyDelay(a.dur("delay")); return nil }},
	{Name: "set_duplicate", Method: "SetDuplicate", Doc: "send every generated frame twice",
		Params: []Param{paramOn},
		apply:  func(s *Server, a faultArgs) error { s.SetDuplicate(a.bool("on")); return nil }},
	{Name: "set_variant", Method: "SetVariant", Doc: "wire variant of frames sent from now on",
		Params: []Param{param("variant", KindString, "canonical", "names joined by |: legacy_types, camel_case, top_level_ids, processing_no_id, chunk_no_id, payload_key")},
		apply: func(s *Server, a faultArgs) error {
			v, err := ParseVariant(a.str("variant"))
			if err == nil {
				s.SetVariant(v)
			}
			return err
		}},
	{Name: "set_shape", Method: "SetShape", Doc: "shape of replies from now on",
		Params: []Param{param("shape", KindString, "flat", "flat, nested, full_text, chunks_only or chat_response")},
		apply: func(s *Server, a faultArgs) error {
			sh, err := ParseShape(a.str("shape"))
			if err == nil {
				s.SetShape(sh)
			}
			return err
		}},
	{Name: "set_strict_join", Method: "SetStrictJoin", Doc: "refuse a chat_message for a chat not joined (on), or join it (off)",
		Params: []Param{paramOn},
		apply:  func(s *Server, a faultArgs) error { s.SetStrictJoin(a.bool("on")); return nil }},
	{Name: "disable_healthz", Method: "DisableHealthz", Doc: "answer GET /healthz with 404",
		Params: []Param{paramOn},
		apply:  func(s *Server, a faultArgs) error { s.DisableHealthz(a.bool("on")); return nil }},
	{Name: "set_responder", Method: "SetResponder", Doc: "how user messages are answered (echo or fixed text, chunks, delays, a share failed)",
		Params: []Param{
			param("text", KindString, "", "full reply text; empty echoes (\"Echo: <text>\")"),
			param("chunks", KindInt, DefaultChunks, "response_chunk frames per reply"),
			param("chunk_delay", KindDuration, "0s", "pause before each chunk"),
			param("delay", KindDuration, "0s", "pause before response_start (latency)"),
			param("fail_pct", KindFloat, 0.0, "share of questions, 0-100, answered with an error frame"),
			param("fail_code", KindString, DefaultFailCode, "data.code of the error frame"),
			param("fail_message", KindString, DefaultFailMessage, "data.message of the error frame"),
			param("fail_retryable", KindBool, false, "data.retryable of the error frame"),
		},
		apply: func(s *Server, a faultArgs) error {
			if n := a.int("chunks"); n < 1 {
				return fmt.Errorf("%w: chunks %d: want at least 1", ErrBadParam, n)
			}
			if f := a.float("fail_pct"); f < 0 || f > 100 {
				return fmt.Errorf("%w: fail_pct %g: want 0 to 100", ErrBadParam, f)
			}
			s.SetResponder(ResponderSpec{
				Text: a.str("text"), Chunks: a.int("chunks"), ChunkDelay: a.dur("chunk_delay"), Delay: a.dur("delay"),
				FailPercent: a.float("fail_pct"), FailCode: a.str("fail_code"), FailMessage: a.str("fail_message"),
				FailRetryable: a.bool("fail_retryable"),
			}.Responder())
			return nil
		}},
	{Name: "ping", Method: "Ping", Doc: "send a server ping frame to every live connection",
		apply: func(s *Server, _ faultArgs) error { s.Ping(); return nil }},
	{Name: "inject", Method: "Inject", Doc: "send a frame, as given, to every live connection",
		Params: []Param{param("chat_id", KindString, "", "chat id set in data when the frame names none"), param("frame", KindObject, nil, "the frame")},
		apply:  func(s *Server, a faultArgs) error { s.Inject(a.str("chat_id"), a.obj("frame")); return nil }},
	{Name: "send_raw", Method: "SendRaw", Doc: "queue raw bytes as one message on a live connection",
		Params: []Param{param("conn_id", KindString, nil, "connection id (see connections)"), param("data", KindString, "", "the message"), param("binary", KindBool, false, "a binary message instead of text")},
		apply: func(s *Server, a faultArgs) error {
			mt := websocket.TextMessage
			if a.bool("binary") {
				mt = websocket.BinaryMessage
			}
			return s.SendRaw(a.str("conn_id"), mt, []byte(a.str("data")))
		}},
	{Name: "set_protocol", Method: "SetProtocol", Doc: "form of the protocol for REST requests and handshakes from now on",
		Params: []Param{param("protocol", KindString, "rest", "rest, website, or tenant-app (alias realtime)")},
		apply: func(s *Server, a faultArgs) error {
			p, err := ParseProtocol(a.str("protocol"))
			if err == nil {
				s.SetProtocol(p)
			}
			return err
		}},
	{Name: "set_token_ttl", Method: "SetTokenTTL", Doc: "lifetime of the session tokens issued from now on (tenant-app)",
		Params: []Param{param("ttl", KindDuration, DefaultTokenTTL.String(), "lifetime; 0 means the default, 1h")},
		apply:  func(s *Server, a faultArgs) error { s.SetTokenTTL(a.dur("ttl")); return nil }},
	{Name: "expire_tokens", Method: "ExpireTokens", Doc: "make every session token issued so far expire now (tenant-app): handshakes offering one get 401",
		Params: []Param{param("close_code", KindInt, 0, "also close the live connections opened with a token with this close code; 0 leaves them open")},
		apply:  func(s *Server, a faultArgs) error { s.ExpireTokens(a.int("close_code")); return nil }},
	{Name: "reset", Method: "Reset", Doc: "disarm every fault, restore the settings of the start and forget recorded frames and requests",
		apply: func(s *Server, _ faultArgs) error { s.Reset(); return nil }},
}

// Faults returns the fault table: every fault and setting the Server can be
// told to apply at run time, by Go method or over the control API, sorted
// by name.
func Faults() []Fault {
	out := slices.Clone(faultTable)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	for i := range out {
		out[i].Params = slices.Clone(out[i].Params)
	}
	return out
}

// lookupFault returns the row named name.
func lookupFault(name string) (Fault, bool) {
	i := slices.IndexFunc(faultTable, func(f Fault) bool { return f.Name == name })
	if i < 0 {
		return Fault{}, false
	}
	return faultTable[i], true
}

// ApplyFault applies the fault named name (see Faults) with params, by
// calling its Server method; absent parameters take their defaults. A
// parameter is a Go value of its kind (int, float64, bool, string,
// time.Duration, map[string]any) or its JSON decoding (numbers as float64,
// durations as "250ms" or milliseconds). It returns an error matching
// ErrUnknownFault or ErrBadParam, or the method's error.
func (s *Server) ApplyFault(name string, params map[string]any) error {
	f, ok := lookupFault(name)
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownFault, name)
	}
	args := faultArgs{}
	for k := range params {
		if !slices.ContainsFunc(f.Params, func(p Param) bool { return p.Name == k }) {
			return fmt.Errorf("%w: %s has no parameter %q (it takes %s)", ErrBadParam, name, k, paramNames(f.Params))
		}
	}
	for _, p := range f.Params {
		v, given := params[p.Name]
		if !given || v == nil {
			if p.Default == nil {
				return fmt.Errorf("%w: %s needs %q", ErrBadParam, name, p.Name)
			}
			v = p.Default
		}
		cv, err := convert(p.Kind, v)
		if err != nil {
			return fmt.Errorf("%w: %s.%s: %v", ErrBadParam, name, p.Name, err)
		}
		args[p.Name] = cv
	}
	return f.apply(s, args)
}

// paramNames lists parameter names for an error message.
func paramNames(ps []Param) string {
	if len(ps) == 0 {
		return "none"
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}

// convert checks v against kind and returns it as the Go type of kind.
func convert(kind ParamKind, v any) (any, error) {
	if n, ok := v.(json.Number); ok {
		f, err := n.Float64()
		if err != nil {
			return nil, err
		}
		v = f
	}
	switch kind {
	case KindInt:
		switch x := v.(type) {
		case int:
			return x, nil
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<31 {
				return nil, fmt.Errorf("%v is not an integer", x)
			}
			return int(x), nil
		}
	case KindFloat:
		switch x := v.(type) {
		case float64:
			return x, nil
		case int:
			return float64(x), nil
		}
	case KindBool:
		if x, ok := v.(bool); ok {
			return x, nil
		}
	case KindString:
		if x, ok := v.(string); ok {
			return x, nil
		}
	case KindDuration:
		var d time.Duration
		switch x := v.(type) {
		case time.Duration:
			d = x
		case string:
			var err error
			if d, err = time.ParseDuration(x); err != nil {
				return nil, err
			}
		case float64:
			d = time.Duration(x * float64(time.Millisecond))
		case int:
			d = time.Duration(x) * time.Millisecond
		default:
			return nil, fmt.Errorf("%v (%T) is not a duration: want \"250ms\" or milliseconds", v, v)
		}
		if d < 0 {
			return nil, fmt.Errorf("%s is negative", d)
		}
		return d, nil
	case KindObject:
		if x, ok := v.(map[string]any); ok {
			return x, nil
		}
	}
	return nil, fmt.Errorf("%v (%T) is not of kind %s", v, v, kind)
}

// Reset disarms every fault, restores every setting of the fault table to
// its Config value (ready delay, responder, variant, shape, strict joining,
// protocol form, token lifetime; no stall, no withheld ready, no
// duplicates, no Retry-After, /healthz on), and forgets the recorded
// frames, handshakes and REST requests (Handshakes counts from zero
// again). Live connections, chats, messages and issued session tokens
// stay (expired tokens stay expired).
func (s *Server) Reset() {
	s.mu.Lock()
	s.faults = faults{}
	s.ready = s.cfg.ReadyDelay
	s.respond = s.cfg.Responder
	s.variant = s.cfg.Variant
	s.shape = s.cfg.Shape
	s.strictJoin = s.cfg.StrictJoin
	s.protocol = s.cfg.Protocol
	s.tokenTTL = s.cfg.TokenTTL
	s.dup = false
	s.frames = records[ReceivedFrame]{}
	s.hsLog = records[*RequestRecord]{}
	s.restLog = records[*RequestRecord]{}
	s.mu.Unlock()
	s.Stall(false)
	s.WithholdReady(false)
}
