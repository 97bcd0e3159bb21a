package platformtest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// notFaults are the Server methods that are not faults: they start, stop,
// describe or inspect the server. Every other method needs a row in the
// fault table.
var notFaults = []string{
	"ApplyFault", "Chats", "Close", "ConnFrames", "ConnectionCount", "Connections",
	"Frames", "FramesOfType", "HandshakeRequests", "HandshakeTimes", "HandshakeTokens", "Handshakes", "Messages",
	"Protocol", "RESTRequests", "Sessions", "URL", "WSURL", "WaitFor",
}

func TestFaultTable_CoversEveryServerMethod(t *testing.T) {
	rows := map[string]string{}
	for _, f := range platformtest.Faults() {
		require.NotEmpty(t, f.Doc, f.Name)
		_, dup := rows[f.Method]
		require.False(t, dup, "two rows call %s", f.Method)
		rows[f.Method] = f.Name
	}
	typ := reflect.TypeFor[*platformtest.Server]()
	for i := range typ.NumMethod() {
		m := typ.Method(i).Name
		if slices.Contains(notFaults, m) {
			continue
		}
		assert.Contains(t, rows, m, "Server.%s is neither in the fault table nor an inspection method: add a row to faultTable (faulttable.go) or the name to notFaults", m)
	}
	for method, name := range rows {
		_, ok := typ.MethodByName(method)
		assert.True(t, ok, "row %s names no Server method %s", name, method)
	}
}

// applier applies a fault by name: through the Go API or the control API.
type applier func(t *testing.T, srv *platformtest.Server, name string, params map[string]any)

func applyGo(t *testing.T, srv *platformtest.Server, name string, params map[string]any) {
	t.Helper()
	require.NoError(t, srv.ApplyFault(name, params))
}

func applyHTTP(t *testing.T, srv *platformtest.Server, name string, params map[string]any) {
	t.Helper()
	body := ""
	if params != nil {
		b, err := json.Marshal(params)
		require.NoError(t, err)
		body = string(b)
	}
	status, _, out := call(t, http.MethodPost, srv.URL()+platformtest.ControlPrefix+"/faults/"+name, nil, body)
	require.Equal(t, http.StatusOK, status, "%s", out)
	assert.Equal(t, name, decode(t, out)["applied"])
}

// faultChecks observe the effect of every row of the fault table.
var faultChecks = map[string]func(t *testing.T, srv *platformtest.Server, apply applier){
	"drop_all": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "drop_all", map[string]any{"code": protocol.CloseRateLimited})
		assert.Equal(t, protocol.CloseRateLimited, closeCode(c.readErr()))
	},
	"drop_all_abrupt": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "drop_all_abrupt", nil)
		assert.Equal(t, protocol.CloseAbnormal, closeCode(c.readErr()))
	},
	"refuse_handshakes": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "refuse_handshakes", map[string]any{"n": 2, "status": 502})
		for range 2 {
			_, resp, err := dialRaw(t, srv, url.Values{"tenant_id": {"a"}}, nil)
			require.Error(t, err)
			assert.Equal(t, http.StatusBadGateway, resp.StatusCode)
		}
		connect(t, srv, "a")
		assert.Equal(t, 3, srv.Handshakes())
	},
	"refuse_handshakes_with_close": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "refuse_handshakes_with_close", map[string]any{"code": protocol.CloseServiceRestart})
		assert.Equal(t, protocol.CloseServiceRestart, closeCode(dial(t, srv, "a").readErr()))
		connect(t, srv, "a")
	},
	"fail_chat_creations": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "fail_chat_creations", map[string]any{"status": 503})
		status, _, body := call(t, http.MethodPost, srv.URL()+protocol.PathChats, tenantHdr("a"), "")
		assert.Equal(t, http.StatusServiceUnavailable, status)
		assert.Equal(t, "chat_creation_failed", decode(t, body)["error_code"])
		createChat(t, srv, "a")
	},
	"rate_limit": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		c.join("c")
		apply(t, srv, "rate_limit", nil)
		c.say("c", "m1", "hi")
		assert.Equal(t, "m1", c.until(protocol.TypeRateLimitExceeded).str("client_message_id"))
	},
	"rate_limit_rest": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "rate_limit_rest", nil)
		status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
		assert.Equal(t, http.StatusTooManyRequests, status)
	},
	"set_retry_after": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "set_retry_after", map[string]any{"after": "2s"})
		srv.RateLimitREST(1)
		_, h, _ := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
		assert.Equal(t, "2", h.Get(protocol.HeaderRetryAfter))
		apply(t, srv, "set_retry_after", map[string]any{"after": 1500})
		srv.RateLimitREST(1)
		_, h, _ = call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
		assert.Equal(t, "1.5", h.Get(protocol.HeaderRetryAfter), "a number is milliseconds")
	},
	"drop_after_chat_message": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		c.join("c")
		apply(t, srv, "drop_after_chat_message", nil)
		c.say("c", "m1", "hi")
		require.Error(t, c.readErr())
		assert.Empty(t, srv.Messages("c"), "not processed")
	},
	"drop_after_received": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		c.join("c")
		apply(t, srv, "drop_after_received", nil)
		c.say("c", "m1", "hi")
		assert.Equal(t, protocol.TypeMessageReceived, c.next().Type)
		require.Error(t, c.readErr())
	},
	"stall": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "stall", nil)
		c.send(protocol.TypePing, map[string]any{"ts": 1})
		_ = c.ws.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
		_, _, err := c.ws.ReadMessage()
		var ne interface{ Timeout() bool }
		require.ErrorAs(t, err, &ne, "nothing is answered while stalled")
		assert.Empty(t, srv.FramesOfType(protocol.TypePing))
		apply(t, srv, "stall", map[string]any{"on": false})
		require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
			return len(s.FramesOfType(protocol.TypePing)) == 1
		}))
	},
	"withhold_ready": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "withhold_ready", nil)
		c := dial(t, srv, "a")
		c.expect(protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress,
			protocol.TypeInitializationProgress, protocol.TypeInitializationProgress)
		c.quiet()
		assert.False(t, srv.Connections()[0].Ready)
		apply(t, srv, "withhold_ready", map[string]any{"on": false})
		assert.Equal(t, protocol.TypeConnectionReady, c.next().Type)
	},
	"set_ready_delay": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "set_ready_delay", map[string]any{"delay": "80ms"})
		c := dial(t, srv, "a")
		start := time.Now()
		c.until(protocol.TypeConnectionReady)
		assert.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	},
	"set_duplicate": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "set_duplicate", nil)
		c.send(protocol.TypePing, map[string]any{"ts": 7})
		c.expect(protocol.TypePong, protocol.TypePong)
	},
	"set_variant": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "set_variant", map[string]any{"variant": "legacy_types|camel_case"})
		c := dial(t, srv, "a")
		est := c.next()
		assert.NotEmpty(t, est.Data["clientId"], "%s", est.Raw)
		assert.Contains(t, est.Top, "eventTs")
		c.until(protocol.TypePlatformReady)
	},
	"set_shape": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		c.join("c")
		apply(t, srv, "set_shape", map[string]any{"shape": "nested"})
		c.say("c", "m1", "hi")
		msg, _ := c.until(protocol.TypeResponseComplete).Data["message"].(map[string]any)
		assert.Equal(t, "Echo: hi", msg["content"])
	},
	"set_strict_join": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "set_strict_join", nil)
		c.say("c", "m1", "hi")
		assert.Equal(t, platformtest.CodeNotJoined, c.until(protocol.TypeError).str("code"))
		apply(t, srv, "set_strict_join", map[string]any{"on": false})
		c.say("c", "m2", "hi")
		assert.Equal(t, "m2", c.until(protocol.TypeResponseComplete).str("client_message_id"))
	},
	"disable_healthz": func(t *testing.T, srv *platformtest.Server, apply applier) {
		apply(t, srv, "disable_healthz", nil)
		status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
		assert.Equal(t, http.StatusNotFound, status)
	},
	"set_responder": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		c.join("c")
		apply(t, srv, "set_responder", map[string]any{"text": "fixed answer here", "chunks": 2, "chunk_delay": "1ms"})
		c.say("c", "m1", "hi")
		var chunks []string
		for {
			f := c.next()
			if f.Type == protocol.TypeResponseChunk {
				chunks = append(chunks, f.str("content"))
			}
			if f.Type == protocol.TypeResponseComplete {
				assert.Equal(t, "fixed answer here", f.str("content"))
				break
			}
		}
		assert.Equal(t, []string{"fixed answer ", "here"}, chunks)

		apply(t, srv, "set_responder", map[string]any{"fail_pct": 100, "fail_code": "model_down", "fail_retryable": true})
		c.say("c", "m2", "hi")
		e := c.until(protocol.TypeError)
		assert.Equal(t, "model_down", e.str("code"))
		assert.Equal(t, "m2", e.str("client_message_id"))
		assert.Equal(t, true, e.Data["retryable"])
	},
	"ping": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "ping", nil)
		assert.Equal(t, protocol.TypePing, c.next().Type)
	},
	"inject": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "inject", map[string]any{"chat_id": "other", "frame": map[string]any{"type": "custom_event"}})
		f := c.next()
		assert.Equal(t, "custom_event", f.Type)
		assert.Equal(t, "other", f.str("chat_id"))
	},
	"send_raw": func(t *testing.T, srv *platformtest.Server, apply applier) {
		c := connect(t, srv, "a")
		apply(t, srv, "send_raw", map[string]any{"conn_id": srv.Connections()[0].ConnID, "data": "{not json"})
		f := c.next()
		assert.Equal(t, "{not json", string(f.Raw))
	},
	"set_protocol": func(t *testing.T, srv *platformtest.Server, apply applier) {
		rest := connect(t, srv, "a")
		apply(t, srv, "set_protocol", map[string]any{"protocol": "realtime"})
		assert.Equal(t, platformtest.ProtocolTenantApp, srv.Protocol())
		status, _, _ := call(t, http.MethodPost, srv.URL()+protocol.PathChats, tenantHdr("a"), "")
		assert.Equal(t, http.StatusNotFound, status)
		c := dialToken(t, srv, "a", issueToken(t, srv, "k", "a"))
		c.quiet()
		rest.join("c") // a live connection keeps its form
		apply(t, srv, "set_protocol", map[string]any{"protocol": "website"})
		connect(t, srv, "a").newChatIn(platformtest.ProtocolWebsite, "a")
		apply(t, srv, "set_protocol", nil)
		createChat(t, srv, "a")
	},
	"set_token_ttl": func(t *testing.T, srv *platformtest.Server, apply applier) {
		srv.SetProtocol(platformtest.ProtocolTenantApp)
		apply(t, srv, "set_token_ttl", map[string]any{"ttl": "10m"})
		issueToken(t, srv, "k", "a")
		si := srv.Sessions()[0]
		assert.Equal(t, 10*time.Minute, si.ExpiresAt.Sub(si.IssuedAt))
		apply(t, srv, "set_token_ttl", map[string]any{"ttl": 0})
		issueToken(t, srv, "k", "a")
		si = srv.Sessions()[1]
		assert.Equal(t, platformtest.DefaultTokenTTL, si.ExpiresAt.Sub(si.IssuedAt), "0 restores the default")
	},
	"expire_tokens": func(t *testing.T, srv *platformtest.Server, apply applier) {
		srv.SetProtocol(platformtest.ProtocolTenantApp)
		tok := issueToken(t, srv, "k", "a")
		c := dialToken(t, srv, "a", tok)
		apply(t, srv, "expire_tokens", map[string]any{"close_code": protocol.CloseUnauthorized})
		assert.Equal(t, protocol.CloseUnauthorized, closeCode(c.readErr()))
		_, resp, err := dialProtocols(t, srv, url.Values{"tenant_id": {"a"}}, "bearer", tok)
		require.Error(t, err)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	},
	"reset": func(t *testing.T, srv *platformtest.Server, apply applier) {
		connect(t, srv, "a")
		srv.RefuseHandshakes(5, http.StatusInternalServerError)
		srv.SetShape(platformtest.ShapeChatResponse)
		srv.DisableHealthz(true)
		srv.SetProtocol(platformtest.ProtocolWebsite)
		apply(t, srv, "reset", nil)
		assert.Equal(t, platformtest.ProtocolREST, srv.Protocol(), "the protocol is back to the configured one")
		assert.Zero(t, srv.Handshakes(), "records are forgotten")
		assert.Empty(t, srv.Frames())
		c := connect(t, srv, "a")
		c.join("c")
		c.say("c", "m1", "hi")
		assert.Equal(t, "Echo: hi", c.until(protocol.TypeResponseComplete).str("content"), "the shape is back to flat")
		status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
		assert.Equal(t, http.StatusOK, status)
		assert.Equal(t, 2, srv.ConnectionCount(), "connections stay")
	},
}

func TestFaultTable_EveryRowAppliesFromGoAndHTTP(t *testing.T) {
	for _, f := range platformtest.Faults() {
		check, ok := faultChecks[f.Name]
		if !assert.True(t, ok, "fault %s has no check in faultChecks", f.Name) {
			continue
		}
		for via, apply := range map[string]applier{"go": applyGo, "http": applyHTTP} {
			t.Run(f.Name+"/"+via, func(t *testing.T) {
				srv := newServer(t, platformtest.Config{ControlAPI: true})
				check(t, srv, apply)
			})
		}
	}
}

func TestFaultTable_ApplyFaultRejectsBadInput(t *testing.T) {
	srv := newServer(t, platformtest.Config{ControlAPI: true})
	tests := []struct {
		name   string
		fault  string
		params map[string]any
		is     error
		status int
	}{
		{"unknown fault", "explode", nil, platformtest.ErrUnknownFault, http.StatusNotFound},
		{"unknown parameter", "drop_all", map[string]any{"cod": 1001}, platformtest.ErrBadParam, http.StatusBadRequest},
		{"wrong kind", "refuse_handshakes", map[string]any{"n": "two"}, platformtest.ErrBadParam, http.StatusBadRequest},
		{"not an integer", "refuse_handshakes", map[string]any{"n": 1.5}, platformtest.ErrBadParam, http.StatusBadRequest},
		{"bad duration", "set_ready_delay", map[string]any{"delay": "soon"}, platformtest.ErrBadParam, http.StatusBadRequest},
		{"negative duration", "set_ready_delay", map[string]any{"delay": "-1s"}, platformtest.ErrBadParam, http.StatusBadRequest},
		{"missing required", "inject", nil, platformtest.ErrBadParam, http.StatusBadRequest},
		{"unknown variant", "set_variant", map[string]any{"variant": "klingon"}, platformtest.ErrUnknownName, http.StatusBadRequest},
		{"unknown shape", "set_shape", map[string]any{"shape": "round"}, platformtest.ErrUnknownName, http.StatusBadRequest},
		{"unknown protocol", "set_protocol", map[string]any{"protocol": "grpc"}, platformtest.ErrUnknownName, http.StatusBadRequest},
		{"fail share past 100", "set_responder", map[string]any{"fail_pct": 101}, platformtest.ErrBadParam, http.StatusBadRequest},
		{"zero chunks", "set_responder", map[string]any{"chunks": 0}, platformtest.ErrBadParam, http.StatusBadRequest},
		{"no such connection", "send_raw", map[string]any{"conn_id": "conn-99"}, platformtest.ErrNoConnection, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorIs(t, srv.ApplyFault(tt.fault, tt.params), tt.is)
			b, _ := json.Marshal(tt.params)
			status, _, body := call(t, http.MethodPost, srv.URL()+platformtest.ControlPrefix+"/faults/"+tt.fault, nil, string(b))
			assert.Equal(t, tt.status, status, "%s", body)
			assert.NotEmpty(t, decode(t, body)["detail"])
		})
	}
	status, _, _ := call(t, http.MethodPost, srv.URL()+platformtest.ControlPrefix+"/faults/drop_all", nil, "[1]")
	assert.Equal(t, http.StatusBadRequest, status, "the body is a JSON object")
}

func TestControl_ListsWhatTheServerSaw(t *testing.T) {
	srv := newServer(t, platformtest.Config{ControlAPI: true, APIKey: "secret-key"})
	key := http.Header{protocol.HeaderAPIKey: {"secret-key"}}
	ws, _, err := dialRaw(t, srv, url.Values{"tenant_id": {"acme"}, "chat_id": {"c0"}}, key)
	require.NoError(t, err)
	c := &wsClient{t: t, ws: ws}
	c.until(protocol.TypeConnectionReady)
	c.join("c1")
	c.say("c1", "m1", "hi")
	c.until(protocol.TypeResponseComplete)
	hdr := tenantHdr("acme")
	hdr.Set(protocol.HeaderAPIKey, "secret-key")
	status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathChatConfig, hdr, "")
	require.Equal(t, http.StatusOK, status)

	get := func(path string) map[string]any {
		t.Helper()
		status, _, body := call(t, http.MethodGet, srv.URL()+platformtest.ControlPrefix+path, nil, "")
		require.Equal(t, http.StatusOK, status, "%s: %s", path, body)
		assert.NotContains(t, string(body), "secret-key", "%s shows no secret", path)
		return decode(t, body)
	}
	conns := get("/connections")["connections"].([]any)
	require.Len(t, conns, 1)
	conn := conns[0].(map[string]any)
	assert.Equal(t, "acme", conn["tenant_id"])
	assert.Equal(t, "c0", conn["chat_id"])
	assert.Equal(t, []any{"c1"}, conn["joined"])
	assert.Equal(t, true, conn["ready"])

	chats := get("/chats?tenant_id=acme")["chats"].([]any)
	require.Len(t, chats, 1)
	assert.Equal(t, "c1", chats[0].(map[string]any)["chat_id"])
	assert.Equal(t, 2.0, chats[0].(map[string]any)["message_count"])
	assert.Empty(t, get("/chats?tenant_id=other")["chats"])
	items := get("/chats/c1/messages")["items"].([]any)
	assert.Len(t, items, 2)

	frames := get("/frames?type=chat_message")["frames"].([]any)
	require.Len(t, frames, 1)
	assert.Equal(t, "hi", frames[0].(map[string]any)["data"].(map[string]any)["message"])
	assert.Len(t, get("/frames")["frames"], 2, "join_chat and chat_message")

	reqs := get("/requests")["requests"].([]any)
	require.Len(t, reqs, 1, "control requests are not recorded")
	assert.Equal(t, protocol.PathChatConfig, reqs[0].(map[string]any)["path"])
	hs := get("/handshakes")
	assert.Equal(t, 1.0, hs["count"])
	assert.Equal(t, 101.0, hs["requests"].([]any)[0].(map[string]any)["status"])

	index := get("/")
	assert.Len(t, index["faults"], len(platformtest.Faults()))
	assert.Len(t, get("/faults")["faults"], len(platformtest.Faults()))

	status, _, _ = call(t, http.MethodGet, srv.URL()+platformtest.ControlPrefix+"/chats/nope/messages", nil, "")
	assert.Equal(t, http.StatusNotFound, status)
	status, _, _ = call(t, http.MethodGet, srv.URL()+platformtest.ControlPrefix+"/nope", nil, "")
	assert.Equal(t, http.StatusNotFound, status)
}

func TestControl_OffByDefaultTokenAndLoopbackOnly(t *testing.T) {
	off := newServer(t, platformtest.Config{})
	status, _, _ := call(t, http.MethodGet, off.URL()+platformtest.ControlPrefix+"/faults", nil, "")
	assert.Equal(t, http.StatusNotFound, status, "no control API unless asked for")

	srv := newServer(t, platformtest.Config{ControlAPI: true, ControlToken: "tok"})
	u := srv.URL() + platformtest.ControlPrefix + "/faults"
	status, _, body := call(t, http.MethodGet, u, nil, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.NotContains(t, string(body), "tok\"")
	status, _, _ = call(t, http.MethodGet, u, http.Header{"Authorization": {"Bearer nope"}}, "")
	assert.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = call(t, http.MethodGet, u, http.Header{"Authorization": {"Bearer tok"}}, "")
	assert.Equal(t, http.StatusOK, status)

	remote := func(s *platformtest.Server) int {
		req := httptest.NewRequest(http.MethodPost, platformtest.ControlPrefix+"/faults/drop_all", io.NopCloser(bytes.NewReader(nil)))
		req.RemoteAddr = "192.0.2.7:40000"
		rec := httptest.NewRecorder()
		platformtest.HandlerOf(s).ServeHTTP(rec, req)
		return rec.Code
	}
	assert.Equal(t, http.StatusForbidden, remote(newServer(t, platformtest.Config{ControlAPI: true})))
	assert.Equal(t, http.StatusOK, remote(newServer(t, platformtest.Config{ControlAPI: true, ControlRemote: true})))
}

func TestResponderSpec_FailsAnEvenShareAndAnswersTheRest(t *testing.T) {
	tests := []struct {
		pct  float64
		want string // F: failed, ok: answered, for questions 1..8
	}{
		{0, "........"},
		{25, "...F...F"},
		{50, ".F.F.F.F"},
		{100, "FFFFFFFF"},
	}
	for _, tt := range tests {
		r := platformtest.ResponderSpec{FailPercent: tt.pct, FailRetryable: true}.Responder()
		var got strings.Builder
		for range 8 {
			reply := r(t.Context(), platformtest.Request{Text: "a b"})
			if reply.Error != nil {
				got.WriteString("F")
				assert.Equal(t, platformtest.DefaultFailCode, reply.Error.Code)
				assert.True(t, reply.Error.Retryable)
				continue
			}
			got.WriteString(".")
			assert.Equal(t, []string{"Echo: ", "a ", "b"}, reply.Chunks)
		}
		assert.Equal(t, tt.want, got.String(), "fail %g%%", tt.pct)
	}
	r := platformtest.ResponderSpec{Text: "one two three four", Chunks: 2, Delay: time.Second}.Responder()
	reply := r(t.Context(), platformtest.Request{Text: "ignored"})
	assert.Equal(t, []string{"one two ", "three four"}, reply.Chunks)
	assert.Equal(t, time.Second, reply.Delay)
}

func TestParseVariantAndShape_RoundTripTheirNames(t *testing.T) {
	for _, v := range []platformtest.Variant{platformtest.VariantCanonical, platformtest.VariantLegacyTypes,
		platformtest.VariantCamelCase | platformtest.VariantTopLevelIDs | platformtest.VariantPayloadKey,
		platformtest.VariantProcessingNoID | platformtest.VariantChunkNoID} {
		got, err := platformtest.ParseVariant(v.String())
		require.NoError(t, err)
		assert.Equal(t, v, got)
	}
	got, err := platformtest.ParseVariant(" legacy_types , camel_case ")
	require.NoError(t, err)
	assert.Equal(t, platformtest.VariantLegacyTypes|platformtest.VariantCamelCase, got)
	for sh := platformtest.ShapeFlat; sh <= platformtest.ShapeChatResponse; sh++ {
		got, err := platformtest.ParseShape(sh.String())
		require.NoError(t, err)
		assert.Equal(t, sh, got)
	}
	_, err = platformtest.ParseShape("round")
	require.ErrorIs(t, err, platformtest.ErrUnknownName)
}
