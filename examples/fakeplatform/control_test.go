package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// control calls the control API of the program at base and returns the
// decoded answer.
func control(t *testing.T, base, method, path string, params map[string]any) map[string]any {
	t.Helper()
	var body io.Reader
	if params != nil {
		b, err := json.Marshal(params)
		require.NoError(t, err)
		body = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+platformtest.ControlPrefix+path, body)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s %s: %s", method, path, b)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "%s", b)
	return out
}

// fault applies a fault over the control API.
func fault(t *testing.T, base, name string, params map[string]any) {
	t.Helper()
	assert.Equal(t, name, control(t, base, http.MethodPost, "/faults/"+name, params)["applied"])
}

// sdkClient returns an SDK client for the program at base with fast
// retries and close-code delays, closed at the end of the test.
func sdkClient(t *testing.T, base string, mutate func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{APIURL: base, TenantID: "acme", InitialBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	fastDelays(&cfg)
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, c.Close(ctx))
	})
	return c
}

// ctxT bounds a test's waits.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// readyChat connects an SDK client and opens a chat.
func readyChat(t *testing.T, base string, mutate func(*client.Config)) (*client.Client, *client.Chat) {
	t.Helper()
	c := sdkClient(t, base, mutate)
	ctx := ctxT(t)
	chat, err := c.NewChat(ctx, client.ChatOptions{Title: "control"})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	return c, chat
}

func TestControl_DropAllIsFollowedByAReconnect(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		params map[string]any
		fault  string
	}{
		{"close code", map[string]any{"code": protocol.CloseGoingAway}, "drop_all"},
		{"abrupt", nil, "drop_all_abrupt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
			c, chat := readyChat(t, base, nil)
			ctx := ctxT(t)
			lost := make(chan client.StateChange, 16)
			c.OnStateChange(func(sc client.StateChange) { lost <- sc })

			fault(t, base, tt.fault, tt.params)
			reconnecting := false
			for sc := range lost {
				reconnecting = reconnecting || sc.Current == client.StateReconnecting
				if reconnecting && sc.Current == client.StateReady {
					break
				}
			}
			assert.Equal(t, uint64(1), c.Stats().Reconnects)
			r, err := chat.Ask(ctx, "after the drop")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("after the drop"), r.Text)
		})
	}
}

func TestControl_RefusedHandshakesAreCounted(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	fault(t, base, "refuse_handshakes_with_close", map[string]any{"n": 2, "code": protocol.CloseNormal})
	c, chat := readyChat(t, base, nil)
	assert.Equal(t, uint64(3), c.Stats().Attempts, "two refused, then accepted")
	assert.Equal(t, 3.0, control(t, base, http.MethodGet, "/handshakes", nil)["count"])

	fault(t, base, "refuse_handshakes", map[string]any{"n": 1, "status": http.StatusServiceUnavailable})
	fault(t, base, "drop_all", map[string]any{"code": protocol.CloseGoingAway})
	_, err := chat.Ask(ctxT(t), "after a refused handshake")
	require.NoError(t, err)
	hs := control(t, base, http.MethodGet, "/handshakes", nil)
	assert.Equal(t, 5.0, hs["count"])
	var statuses []float64
	for _, r := range hs["requests"].([]any) {
		statuses = append(statuses, r.(map[string]any)["status"].(float64))
	}
	assert.Equal(t, []float64{101, 101, 101, 503, 101}, statuses)
	assert.Equal(t, uint64(5), c.Stats().Attempts)
}

func TestControl_FailedQuestionComesBackAsTheError(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	_, chat := readyChat(t, base, nil)
	ctx := ctxT(t)
	fault(t, base, "set_responder", map[string]any{"fail_pct": 100, "fail_code": "model_down", "fail_retryable": true})
	_, err := chat.Ask(ctx, "will fail")
	var pe *client.PlatformError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "model_down", pe.Code)

	fault(t, base, "set_responder", map[string]any{"text": "fixed answer", "chunks": 2})
	r, err := chat.Ask(ctx, "anything")
	require.NoError(t, err)
	assert.Equal(t, "fixed answer", r.Text)
	assert.Equal(t, 2, r.Chunks)

	fault(t, base, "reset", nil)
	r, err = chat.Ask(ctx, "after reset")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("after reset"), r.Text)
}

func TestControl_FailPctFlagFailsAShareOfQuestions(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0", "-fail-pct", "50", "-latency", "5ms")
	_, chat := readyChat(t, base, nil)
	ctx := ctxT(t)
	_, err := chat.Ask(ctx, "first")
	require.NoError(t, err)
	_, err = chat.Ask(ctx, "second")
	var pe *client.PlatformError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, platformtest.DefaultFailCode, pe.Code)
}

func TestControl_WireVariantAndShapeReachTheClient(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0", "-variant", "legacy_types|camel_case", "-shape", "full_text")
	_, chat := readyChat(t, base, nil)
	ctx := ctxT(t)
	r, err := chat.Ask(ctx, "in variants")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("in variants"), r.Text)

	fault(t, base, "set_variant", map[string]any{"variant": "top_level_ids|payload_key|chunk_no_id"})
	fault(t, base, "set_shape", map[string]any{"shape": "nested"})
	r, err = chat.Ask(ctx, "in other variants")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("in other variants"), r.Text)
}

func TestControl_DuplicateInjectAndRawFramesReachTheClient(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	c, chat := readyChat(t, base, nil)
	ctx := ctxT(t)
	events := make(chan normalize.Event, 64)
	c.OnEvent(func(e normalize.Event) {
		select {
		case events <- e:
		default:
		}
	})

	fault(t, base, "set_duplicate", nil)
	_, err := chat.Ask(ctx, "twice")
	require.NoError(t, err)
	assert.Positive(t, c.Stats().DuplicatesDropped)
	fault(t, base, "set_duplicate", map[string]any{"on": false})

	fault(t, base, "inject", map[string]any{"frame": map[string]any{"type": "custom_notice", "data": map[string]any{"note": "hello"}}})
	for e := range events {
		if e.Type == "custom_notice" {
			break
		}
	}

	conns := control(t, base, http.MethodGet, "/connections", nil)["connections"].([]any)
	require.Len(t, conns, 1)
	fault(t, base, "send_raw", map[string]any{"conn_id": conns[0].(map[string]any)["conn_id"], "data": "{not json"})
	// The raw frame is written before the reply to a later question, and
	// the client reads in order.
	_, err = chat.Ask(ctx, "after the raw frame")
	require.NoError(t, err)
	assert.Positive(t, c.Stats().DecodeErrors)
}

func TestControl_WithholdReadyKeepsTheClientConnected(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	fault(t, base, "withhold_ready", nil)
	c := sdkClient(t, base, nil)
	ctx := ctxT(t)
	done := make(chan error, 1)
	go func() { done <- c.Connect(ctx) }()
	require.NoError(t, c.WaitForState(ctx, client.StateConnected))
	// The platform lists a connection a moment after the client sees it
	// open.
	var conns []any
	require.Eventually(t, func() bool {
		conns, _ = control(t, base, http.MethodGet, "/connections", nil)["connections"].([]any)
		return len(conns) == 1
	}, 10*time.Second, 5*time.Millisecond)
	assert.Equal(t, false, conns[0].(map[string]any)["ready"])
	fault(t, base, "withhold_ready", map[string]any{"on": false})
	require.NoError(t, <-done)
	assert.Equal(t, client.StateReady, c.State())
}

func TestControl_ChatCreationFailureAndHealthzFallback(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	fault(t, base, "fail_chat_creations", map[string]any{"status": http.StatusForbidden})
	fault(t, base, "disable_healthz", nil)
	c := sdkClient(t, base, nil)
	ctx := ctxT(t)
	_, err := c.NewChat(ctx, client.ChatOptions{})
	var apiErr *protocol.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusForbidden, apiErr.Status)

	chat, err := c.NewChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	_, err = chat.Ask(ctx, "hi")
	require.NoError(t, err)
	var paths []string
	for _, r := range control(t, base, http.MethodGet, "/requests", nil)["requests"].([]any) {
		paths = append(paths, r.(map[string]any)["path"].(string))
	}
	assert.Contains(t, paths, protocol.PathHealth, "the client fell back from /healthz")
	chats := control(t, base, http.MethodGet, "/chats", nil)["chats"].([]any)
	assert.Len(t, chats, 1)
}

func TestControl_RateLimitReachesTheClient(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	_, chat := readyChat(t, base, nil)
	fault(t, base, "set_retry_after", map[string]any{"after": "50ms"})
	fault(t, base, "rate_limit", nil)
	_, err := chat.Ask(ctxT(t), "limited")
	require.ErrorIs(t, err, client.ErrRateLimited)
	frames := control(t, base, http.MethodGet, "/frames?type=chat_message", nil)["frames"].([]any)
	require.Len(t, frames, 1)
}

// The browser-style check: the platform's web client on a dev server at
// http://localhost:3000 makes its REST calls with Content-Type and the
// tenant headers, so Chromium sends a preflight before each.
func TestBrowser_PreflightAndRequestsAsChromiumSendsThemSucceed(t *testing.T) {
	t.Parallel()
	base, _, _, _ := started(t, "-addr", "127.0.0.1:0")
	const origin = "http://localhost:3000"
	webHeaders := []string{"content-type", "tenant-id", "x-tenant", "x-tenant-id"}
	do := func(method, path, body string, hdr http.Header) (*http.Response, []byte) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, rd)
		require.NoError(t, err)
		req.Header = hdr
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, b
	}
	// corsOK is the browser's CORS check of an answer.
	corsOK := func(resp *http.Response) {
		t.Helper()
		acao := resp.Header.Get("Access-Control-Allow-Origin")
		require.True(t, acao == origin || acao == "*", "Access-Control-Allow-Origin %q", acao)
	}
	preflight := func(method, path string) {
		t.Helper()
		resp, _ := do(http.MethodOptions, path, "", http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {method},
			"Access-Control-Request-Headers": {strings.Join(webHeaders, ",")},
			"Sec-Fetch-Mode":                 {"cors"},
			"Sec-Fetch-Site":                 {"same-site"},
			"Sec-Fetch-Dest":                 {"empty"},
			"Referer":                        {origin + "/"},
			"User-Agent":                     {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36"},
		})
		require.GreaterOrEqual(t, resp.StatusCode, 200, "preflight %s %s", method, path)
		require.Less(t, resp.StatusCode, 300, "preflight %s %s", method, path)
		corsOK(resp)
		allowedHeaders := strings.Split(strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")), ",")
		for i := range allowedHeaders {
			allowedHeaders[i] = strings.TrimSpace(allowedHeaders[i])
		}
		for _, h := range webHeaders {
			assert.True(t, slices.Contains(allowedHeaders, h), "header %s allowed for %s %s", h, method, path)
		}
		assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), method)
	}
	web := func() http.Header {
		return http.Header{
			"Origin":       {origin},
			"Content-Type": {"application/json"},
			"X-Tenant-Id":  {"acme"},
			"X-Tenant":     {"acme"},
			"Tenant-Id":    {"acme"},
			"Accept":       {"*/*"},
		}
	}

	preflight(http.MethodGet, protocol.PathHealthz)
	resp, body := do(http.MethodGet, protocol.PathHealthz, "", web())
	corsOK(resp)
	var health map[string]any
	require.NoError(t, json.Unmarshal(body, &health))
	assert.Equal(t, platformtest.Version, health["version"])

	preflight(http.MethodPost, protocol.PathChats)
	resp, body = do(http.MethodPost, protocol.PathChats, `{"title":"from the browser"}`, web())
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
	corsOK(resp)
	var created map[string]any
	require.NoError(t, json.Unmarshal(body, &created))
	msgs := "/api/v1/chat/" + created["chat_id"].(string) + "/messages"

	preflight(http.MethodPost, msgs)
	resp, body = do(http.MethodPost, msgs, `{"content":"hello","role":"user"}`, web())
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
	corsOK(resp)

	preflight(http.MethodGet, msgs)
	resp, _ = do(http.MethodGet, msgs, "", web())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	corsOK(resp)

	// A page can drive faults too.
	preflight(http.MethodPost, platformtest.ControlPrefix+"/faults/ping")
	resp, _ = do(http.MethodPost, platformtest.ControlPrefix+"/faults/ping", "{}", web())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	corsOK(resp)
}

func TestRun_PrintsWhereTheControlAPIIsAndHowToCallIt(t *testing.T) {
	t.Parallel()
	base, lines, cancel, result := started(t, "-addr", "127.0.0.1:0", "-control-token", "tok")
	var banner []string
	for line := range lines {
		banner = append(banner, line)
		if strings.Contains(line, "Ctrl-C") {
			break
		}
	}
	all := strings.Join(banner, "\n")
	assert.Contains(t, all, "control   "+base+platformtest.ControlPrefix+"/ (this machine only, bearer token required)")
	assert.Contains(t, all, "curl -H 'Authorization: Bearer <token>' -X POST "+base+platformtest.ControlPrefix+"/faults/drop_all")
	assert.Contains(t, all, "any origin may call the REST API")
	assert.NotContains(t, all, "tok'", "the token itself is not printed")
	cancel()
	require.NoError(t, <-result)
}

func TestRun_RejectsBadFaultFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-variant", "klingon"}, "-variant"},
		{[]string{"-shape", "round"}, "-shape"},
		{[]string{"-fail-pct", "101"}, "-fail-pct 101"},
		{[]string{"-latency", "-1s"}, "must not be negative"},
	} {
		var out strings.Builder
		err := run(t.Context(), tt.args, &out)
		require.Error(t, err, "%v", tt.args)
		assert.Contains(t, err.Error(), tt.want)
	}
}
