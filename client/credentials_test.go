package client_test

// Credential handling (issue 13), tried as an outsider would: real loopback
// servers (httptest and platformtest) and the SDK's public API only.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

const (
	credKey    = "sk-live-credential-key-0123456789"
	credToken  = "tok-bearer-credential-9876543210"
	credTenant = "tenant-credentials"
	// credQuery is put in every redirect target's query: an error names the
	// target without it.
	credQuery = "sig=query-secret-4242"
)

// credSink is a server that must never receive a credential: it records
// every request it gets.
type credSink struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

func (s *credSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.reqs = append(s.reqs, r.Clone(context.Background()))
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"healthy","chat_id":"sink-chat","max_message_length":10,"items":[]}`)
}

// assertNoCredentials fails when the sink got the key, the token or a
// tenant header.
func (s *credSink) assertNoCredentials(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.reqs {
		for _, h := range []string{protocol.HeaderAPIKey, protocol.HeaderTenantID, protocol.HeaderTenant, protocol.HeaderTenantPlain, "Authorization"} {
			assert.Empty(t, r.Header.Values(h), "the sink received %s on %s %s", h, r.Method, r.URL)
		}
		for name, vs := range r.Header {
			for _, v := range vs {
				assert.NotContains(t, v, credKey, "the sink received the key in %s", name)
				assert.NotContains(t, v, credToken, "the sink received the token in %s", name)
				assert.NotContains(t, v, credTenant, "the sink received the tenant in %s", name)
			}
		}
		assert.NotContains(t, r.URL.String(), credKey)
	}
}

// listenOn opens a loopback listener on addr, or fails the test.
func listenOn(t *testing.T, addr string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	return l
}

// serveOn starts an httptest server on l (TLS when tls is set).
func serveOn(t *testing.T, l net.Listener, h http.Handler, tls bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = l
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// redirectKind is where a redirecting platform sends its clients.
type redirectKind string

const (
	otherHost   redirectKind = "another host"
	otherPort   redirectKind = "same host, another port"
	httpsToHTTP redirectKind = "https to http"
)

// redirectSetup starts a platform that answers every request for endpoint
// path with a status redirect to a sink of the given kind (same path, plus
// credQuery), and serves the other endpoints normally. It returns the
// platform URL, the HTTP client to use (nil for the SDK's own) and the sink.
func redirectSetup(t *testing.T, kind redirectKind, status int, isTarget func(*http.Request) bool) (string, *http.Client, *credSink, string) {
	t.Helper()
	sink := &credSink{}
	var platformL net.Listener
	var sinkHost string
	switch kind {
	case otherHost:
		// The same port on another loopback address: only the host differs.
		for range 20 {
			sl, err := net.Listen("tcp", "127.0.0.2:0")
			if err != nil {
				break
			}
			port := sl.Addr().(*net.TCPAddr).Port
			pl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				_ = sl.Close()
				continue
			}
			sink.srv = serveOn(t, sl, sink, false)
			platformL = pl
			sinkHost = sl.Addr().String()
			break
		}
		if platformL == nil {
			// No 127.0.0.2 here: another host name for the loopback.
			sink.srv = serveOn(t, listenOn(t, "127.0.0.1:0"), sink, false)
			sinkHost = fmt.Sprintf("localhost:%d", sink.srv.Listener.Addr().(*net.TCPAddr).Port)
			platformL = listenOn(t, "127.0.0.1:0")
		}
	default:
		sink.srv = serveOn(t, listenOn(t, "127.0.0.1:0"), sink, false)
		sinkHost = sink.srv.Listener.Addr().String()
		platformL = listenOn(t, "127.0.0.1:0")
	}
	target := "http://" + sinkHost
	platform := serveOn(t, platformL, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isTarget(r) {
			http.Redirect(w, r, target+r.URL.Path+"?"+credQuery, status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == protocol.PathHealthz || r.URL.Path == protocol.PathHealth:
			_, _ = io.WriteString(w, `{"status":"healthy"}`)
		case r.URL.Path == protocol.PathChatConfig:
			_, _ = io.WriteString(w, `{"max_message_length":4000}`)
		case r.URL.Path == protocol.PathChats:
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"chat_id":"platform-chat"}`)
		default:
			http.NotFound(w, r)
		}
	}), kind == httpsToHTTP)
	var hc *http.Client
	if kind == httpsToHTTP {
		hc = platform.Client() // trusts the test certificate
	}
	return platform.URL, hc, sink, sinkHost
}

// redirectEndpoint is a REST endpoint and the public calls that reach it.
type redirectEndpoint struct {
	name     string
	isTarget func(*http.Request) bool
	calls    map[string]func(ctx context.Context, c *client.Client) error
}

var redirectEndpoints = []redirectEndpoint{
	{"health", func(r *http.Request) bool { return r.URL.Path == protocol.PathHealthz }, map[string]func(context.Context, *client.Client) error{
		"REST.Health": func(ctx context.Context, c *client.Client) error { _, err := c.REST().Health(ctx); return err },
		"Connect":     func(ctx context.Context, c *client.Client) error { return c.Connect(ctx) },
	}},
	{"chat creation", func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Path == protocol.PathChats }, map[string]func(context.Context, *client.Client) error{
		"NewChat": func(ctx context.Context, c *client.Client) error {
			_, err := c.NewChat(ctx, client.ChatOptions{Title: "t"})
			return err
		},
	}},
	{"history", func(r *http.Request) bool { return r.URL.Path == protocol.PathChatMessages("chat-1") }, map[string]func(context.Context, *client.Client) error{
		"REST.History": func(ctx context.Context, c *client.Client) error {
			_, err := c.REST().History(ctx, "chat-1")
			return err
		},
	}},
	{"config", func(r *http.Request) bool { return r.URL.Path == protocol.PathChatConfig }, map[string]func(context.Context, *client.Client) error{
		"REST.ChatConfig": func(ctx context.Context, c *client.Client) error { _, err := c.REST().ChatConfig(ctx); return err },
	}},
}

// TestCredentials_RedirectToAnotherOriginIsRefused: a 302, 307 or 308 from
// health, chat creation, history or config to another host, to the same host
// on another port, or from https to http is refused with a typed error
// naming the target without its query, and the target never receives the
// key, a tenant header or the token.
func TestCredentials_RedirectToAnotherOriginIsRefused(t *testing.T) {
	for _, kind := range []redirectKind{otherHost, otherPort, httpsToHTTP} {
		for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
			for _, ep := range redirectEndpoints {
				t.Run(fmt.Sprintf("%s/%d/%s", kind, status, ep.name), func(t *testing.T) {
					apiURL, hc, sink, sinkHost := redirectSetup(t, kind, status, ep.isTarget)
					defer sink.assertNoCredentials(t) // also when an assertion below stops the test
					c, err := client.New(client.Config{
						APIURL: apiURL, TenantID: credTenant, APIKey: credKey, HTTPClient: hc,
						Token:       func(context.Context) (string, error) { return credToken, nil },
						MaxRetries:  -1,
						RESTRetries: -1,
					})
					require.NoError(t, err)
					defer c.Close(context.Background())
					for name, call := range ep.calls {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						err := call(ctx, c)
						cancel()
						require.Error(t, err, name)
						var apiErr *protocol.APIError
						require.ErrorAs(t, err, &apiErr, "%s: %v", name, err)
						assert.Equal(t, status, apiErr.Status, name)
						var re *client.RedirectError
						require.ErrorAs(t, err, &re, name)
						assert.Equal(t, status, re.Status)
						assert.Equal(t, map[redirectKind]string{otherHost: "another host", otherPort: "another port", httpsToHTTP: "a downgrade from https to http"}[kind], re.Reason)
						assert.Contains(t, re.Target, sinkHost)
						assert.Contains(t, err.Error(), sinkHost, "the error names the target")
						assert.NotContains(t, err.Error(), "query-secret", "the error names the target without its query")
						assert.NotContains(t, err.Error(), credKey)
						assert.NotContains(t, err.Error(), credToken)
					}
				})
			}
		}
	}
}

// TestCredentials_SameOriginRedirectIsFollowed: a redirect within the
// platform's origin is followed, with the credentials.
func TestCredentials_SameOriginRedirectIsFollowed(t *testing.T) {
	var gotKey atomic.Value
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case protocol.PathChatConfig:
			http.Redirect(w, r, "/moved/config?x=1", http.StatusTemporaryRedirect)
		case "/moved/config":
			gotKey.Store(r.Header.Get(protocol.HeaderAPIKey))
			_, _ = io.WriteString(w, `{"max_message_length":123}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer platform.Close()
	c, err := client.New(client.Config{APIURL: platform.URL, TenantID: credTenant, APIKey: credKey})
	require.NoError(t, err)
	defer c.Close(context.Background())
	cc, err := c.REST().ChatConfig(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 123, cc.MaxMessageLength)
	assert.Equal(t, credKey, gotKey.Load())
}

// TestCredentials_UserHTTPClientIsComposedNotChanged: with a user HTTP
// client the policy runs before the user's CheckRedirect (called for a
// same-origin redirect, never able to let a cross-origin one through), the
// user's client is not changed, and Close leaves its transport alone.
func TestCredentials_UserHTTPClientIsComposedNotChanged(t *testing.T) {
	sink := &credSink{}
	sink.srv = httptest.NewServer(sink)
	defer sink.srv.Close()
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case protocol.PathHealthz:
			http.Redirect(w, r, "/api/v1/health", http.StatusFound)
		case protocol.PathHealth:
			_, _ = io.WriteString(w, `{"status":"healthy"}`)
		case protocol.PathChatConfig:
			http.Redirect(w, r, sink.srv.URL+r.URL.Path, http.StatusFound)
		}
	}))
	defer platform.Close()
	var userCalls atomic.Int32
	tr := &closeCounter{RoundTripper: platform.Client().Transport}
	user := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		userCalls.Add(1)
		return nil // a permissive user policy
	}}
	before := *user
	defer sink.assertNoCredentials(t)
	c, err := client.New(client.Config{APIURL: platform.URL, TenantID: credTenant, APIKey: credKey, HTTPClient: user, RESTRetries: -1})
	require.NoError(t, err)

	_, err = c.REST().Health(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int32(1), userCalls.Load(), "the user's CheckRedirect decides same-origin redirects")
	_, err = c.REST().ChatConfig(t.Context())
	var re *client.RedirectError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, int32(1), userCalls.Load(), "a cross-origin redirect is refused before the user's CheckRedirect")

	require.NoError(t, c.Close(t.Context()))
	assert.Zero(t, tr.closes.Load(), "Close leaves a user transport alone")
	assert.Same(t, before.Transport, user.Transport)
	assert.Equal(t, fmt.Sprintf("%p", before.CheckRedirect), fmt.Sprintf("%p", user.CheckRedirect), "the user's client is not changed")
}

type closeCounter struct {
	http.RoundTripper
	closes atomic.Int32
}

func (c *closeCounter) CloseIdleConnections() { c.closes.Add(1) }

// TestCredentials_HandshakeRedirectIsNotFollowed: the WebSocket dial never
// follows a redirect (kept so).
func TestCredentials_HandshakeRedirectIsNotFollowed(t *testing.T) {
	sink := &credSink{}
	sink.srv = httptest.NewServer(sink)
	defer sink.srv.Close()
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case protocol.PathHealthz:
			_, _ = io.WriteString(w, `{"status":"healthy"}`)
		case protocol.PathChatConfig:
			_, _ = io.WriteString(w, `{"max_message_length":4000}`)
		case protocol.PathWebSocket:
			http.Redirect(w, r, sink.srv.URL+r.URL.Path, http.StatusTemporaryRedirect)
		}
	}))
	defer platform.Close()
	c, err := client.New(client.Config{APIURL: platform.URL, TenantID: credTenant, APIKey: credKey, MaxRetries: -1,
		Token: func(context.Context) (string, error) { return credToken, nil }})
	require.NoError(t, err)
	defer c.Close(context.Background())
	err = c.Connect(t.Context())
	var ce *client.ConnectError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, http.StatusTemporaryRedirect, ce.Trigger.Code)
	sink.mu.Lock()
	assert.Empty(t, sink.reqs, "the handshake redirect was followed")
	sink.mu.Unlock()
}

// echoWatch collects everything a client lets out: OnError events, chat
// OnError events, raw events and every log line at debug level.
type echoWatch struct {
	mu     sync.Mutex
	logs   strings.Builder
	errs   []string
	events []string
}

func (w *echoWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.Write(p)
}

func (w *echoWatch) add(list *[]string, s string) {
	w.mu.Lock()
	*list = append(*list, s)
	w.mu.Unlock()
}

// config returns a client config that reports to w.
func (w *echoWatch) config(apiURL string) client.Config {
	return client.Config{
		APIURL: apiURL, TenantID: credTenant, APIKey: credKey,
		Token:       func(context.Context) (string, error) { return credToken, nil },
		Logger:      slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxRetries:  -1,
		RESTRetries: -1,
	}
}

func (w *echoWatch) watch(c *client.Client) {
	c.OnError(func(e client.ErrorEvent) { w.add(&w.errs, e.Err.Error()) })
	c.OnStateChange(func(sc client.StateChange) {
		if sc.Reason != nil {
			w.add(&w.errs, sc.Reason.Error())
		}
	})
	c.OnEvent(func(ev normalize.Event) {
		w.add(&w.events, fmt.Sprintf("%s %s %s %s %s %s", ev.Type, ev.Text, ev.Code, ev.Category, ev.ChatID, ev.Data))
	})
}

// assertClean fails when the key or the token (or the key's first bytes)
// is in anything the client let out, and when no echo was seen redacted
// (the echo must have been made and caught, not lost).
func (w *echoWatch) assertClean(t *testing.T, returned ...error) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	all := append([]string{w.logs.String()}, w.errs...)
	all = append(all, w.events...)
	for _, err := range returned {
		require.Error(t, err)
		all = append(all, err.Error(), fmt.Sprintf("%+v", err))
	}
	for _, s := range all {
		assert.NotContains(t, s, credKey)
		assert.NotContains(t, s, credKey[:12], "a cut key")
		assert.NotContains(t, s, credToken)
	}
	assert.Contains(t, w.logs.String(), client.Redacted, "the echo reached the logs, redacted")
	for _, err := range returned {
		assert.Contains(t, err.Error(), client.Redacted, "the echo reached the error, redacted")
	}
	assert.NotEmpty(t, w.errs, "OnError saw the echo")
}

// echo is a platform message that repeats the credentials.
const echo = "invalid API key " + credKey + " for Bearer " + credToken

// TestCredentials_EchoedInRESTBodiesIsRedacted: a platform that echoes the
// key and the token in REST error bodies (JSON, plain text, field errors, a
// body cut in the middle of the key) gets them into no error, no OnError
// event and no log line.
func TestCredentials_EchoedInRESTBodiesIsRedacted(t *testing.T) {
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == protocol.PathHealthz:
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]any{"detail": echo, "error_code": credKey, "type": credToken})
		case r.URL.Path == protocol.PathChats:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, echo)
		case r.URL.Path == protocol.PathChatConfig:
			w.WriteHeader(http.StatusBadRequest) // the key straddles the 512-byte cut
			_ = json.NewEncoder(w).Encode(map[string]any{"detail": strings.Repeat("x", 500) + credKey})
		default:
			w.WriteHeader(http.StatusUnprocessableEntity)
			_ = json.NewEncoder(w).Encode(map[string]any{"detail": []any{
				map[string]any{"loc": []any{"header", credKey}, "msg": echo},
			}})
		}
	}))
	defer platform.Close()
	var w echoWatch
	c, err := client.New(w.config(platform.URL))
	require.NoError(t, err)
	w.watch(c)
	ctx := t.Context()
	errConnect := c.Connect(ctx)
	_, errCreate := c.NewChat(ctx, client.ChatOptions{})
	_, errHistory := c.REST().History(ctx, "chat-1")
	_, errConfig := c.REST().ChatConfig(ctx)
	require.NoError(t, c.Close(ctx))
	var apiErr *protocol.APIError
	require.ErrorAs(t, errConfig, &apiErr)
	w.assertClean(t, errConnect, errCreate, errHistory)
	assert.NotContains(t, errConfig.Error(), credKey[:12])
}

// TestCredentials_EchoedInErrorFramesIsRedacted: error frames that echo the
// credentials (in message, code and type, for a message, for the chat and
// for no chat) reach no returned error, no OnError event, no chat state and
// no log line with them.
func TestCredentials_EchoedInErrorFramesIsRedacted(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{APIKey: credKey})
	defer srv.Close()
	srv.SetResponder(func(context.Context, platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Error: &platformtest.ErrorReply{Code: "bad_" + credKey, Message: echo, Category: credToken}}
	})
	var w echoWatch
	c, err := client.New(w.config(srv.URL()))
	require.NoError(t, err)
	defer c.Close(context.Background())
	w.watch(c)
	ctx := t.Context()
	chat, err := c.NewChat(ctx, client.ChatOptions{})
	require.NoError(t, err)
	chat.OnError(func(e client.ErrorEvent) { w.add(&w.errs, e.Err.Error()) })
	_, errAsk := chat.Ask(ctx, "hello")
	var pe *client.PlatformError
	require.ErrorAs(t, errAsk, &pe)

	seen := make(chan struct{}, 4)
	c.OnEvent(func(ev normalize.Event) {
		if ev.Type == "echo_done" {
			seen <- struct{}{}
		}
	})
	srv.Inject(chat.ID(), map[string]any{"type": "error", "data": map[string]any{"message": echo, "code": credKey, "details": map[string]any{"key": credKey}}})
	srv.Inject("", map[string]any{"type": "error", "message": echo, "error_code": credToken})
	srv.Inject("", map[string]any{"type": "echo_done"})
	select {
	case <-seen:
	case <-ctx.Done():
		t.Fatal("the injected frames never arrived")
	}
	st := chat.State()
	require.NoError(t, c.Close(ctx))
	for _, e := range []error{st.Errors.Processing, st.Errors.Connection, st.Errors.RateLimit} {
		if e != nil {
			w.add(&w.errs, e.Error())
		}
	}
	require.Error(t, st.Errors.Processing)
	w.assertClean(t, errAsk)
}

// TestCredentials_EchoedInCloseReasonsIsRedacted: a close frame whose reason
// echoes the credentials reaches no returned error, no OnError event, no
// state change and no log line with them.
func TestCredentials_EchoedInCloseReasonsIsRedacted(t *testing.T) {
	upgrader := websocket.Upgrader{}
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case protocol.PathHealthz:
			_, _ = io.WriteString(w, `{"status":"healthy"}`)
		case protocol.PathChatConfig:
			_, _ = io.WriteString(w, `{"max_message_length":4000}`)
		case protocol.PathWebSocket:
			ws, err := upgrader.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer ws.Close()
			_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(protocol.CloseUnauthorized, echo), time.Now().Add(time.Second))
			_, _, _ = ws.ReadMessage() // until the client answers the close
		}
	}))
	defer platform.Close()
	var w echoWatch
	c, err := client.New(w.config(platform.URL))
	require.NoError(t, err)
	w.watch(c)
	errConnect := c.Connect(t.Context())
	var ce *client.ConnectError
	require.ErrorAs(t, errConnect, &ce)
	assert.Equal(t, protocol.CloseUnauthorized, ce.Trigger.Code)
	require.NoError(t, c.Close(t.Context()))
	w.assertClean(t, errConnect)
}

// badChatIDs are refused wherever a chat id enters the SDK.
var badChatIDs = map[string]string{
	"empty":       "",
	"dot":         ".",
	"dot dot":     "..",
	"slash":       "a/b",
	"backslash":   `a\b`,
	"NUL":         "a\x00b",
	"newline":     "a\nb",
	"DEL":         "a\x7fb",
	"too long":    strings.Repeat("x", client.MaxChatIDBytes+1),
	"invalid UTF": "a\xffb",
}

// TestCredentials_DotChatIDsAreRefused: OpenChat and the REST calls that put
// a chat id in a path refuse ids that would change the path, and nothing is
// sent.
func TestCredentials_DotChatIDsAreRefused(t *testing.T) {
	var requests atomic.Int32
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	defer platform.Close()
	c, err := client.New(client.Config{APIURL: platform.URL, TenantID: credTenant, MaxRetries: -1})
	require.NoError(t, err)
	defer c.Close(context.Background())
	ctx := t.Context()
	for name, id := range badChatIDs {
		t.Run(name, func(t *testing.T) {
			_, err := c.OpenChat(ctx, id)
			assert.ErrorIs(t, err, client.ErrValidation, "OpenChat")
			_, err = c.REST().History(ctx, id)
			assert.ErrorIs(t, err, client.ErrValidation, "History")
			err = c.REST().PostMessage(ctx, id, "hi", nil)
			assert.ErrorIs(t, err, client.ErrValidation, "PostMessage")
		})
	}
	assert.Zero(t, requests.Load(), "nothing was sent for an invalid id")
	_, err = c.OpenChat(ctx, strings.Repeat("x", client.MaxChatIDBytes))
	assert.NoError(t, err, "an id of MaxChatIDBytes is accepted")
}

// TestCredentials_DotChatIDFromCreateChatIsRefused: a chat creation answer
// with a dot id is an error matching ErrValidation, and no request is ever
// made with it.
func TestCredentials_DotChatIDFromCreateChatIsRefused(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	platform := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.RawPath+" "+r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case protocol.PathChats:
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"chat_id":".."}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer platform.Close()
	c, err := client.New(client.Config{APIURL: platform.URL, TenantID: credTenant, MaxRetries: -1})
	require.NoError(t, err)
	defer c.Close(context.Background())
	_, err = c.REST().CreateChat(t.Context(), protocol.CreateChatRequest{})
	assert.ErrorIs(t, err, client.ErrValidation, "REST.CreateChat")
	chat, err := c.NewChat(t.Context(), client.ChatOptions{})
	if assert.ErrorIs(t, err, client.ErrValidation, "NewChat") {
		return
	}
	_, _ = chat.History(t.Context())
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		assert.NotContains(t, p, "/../")
	}
}

// TestCredentials_DotChatIDFromAFrameIsRefused: a degraded chat does not
// adopt an invalid id from chat_created, chat_joined or message_received;
// the frame is counted as a protocol error, logged, and nothing is sent
// with the id.
func TestCredentials_DotChatIDFromAFrameIsRefused(t *testing.T) {
	for _, typ := range []string{protocol.TypeChatCreated, protocol.TypeChatJoined, protocol.TypeMessageReceived} {
		for _, id := range []string{"..", "a/b"} {
			t.Run(typ+"/"+id, func(t *testing.T) {
				srv := platformtest.NewServer(platformtest.Config{})
				defer srv.Close()
				srv.FailChatCreations(100, http.StatusServiceUnavailable)
				srv.WithholdReady(true)
				var w echoWatch
				cfg := w.config(srv.URL())
				cfg.APIKey, cfg.Token = "", nil
				c, err := client.New(cfg)
				require.NoError(t, err)
				defer c.Close(context.Background())
				marker := make(chan struct{}, 1)
				c.OnEvent(func(ev normalize.Event) {
					if ev.Type == "id_marker" {
						marker <- struct{}{}
					}
				})
				ctx := t.Context()
				chat, err := c.NewChat(ctx, client.ChatOptions{})
				require.NoError(t, err, "degraded")
				require.Empty(t, chat.ID())
				m, err := chat.Send(ctx, "hello") // queued until ready
				require.NoError(t, err)
				require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool { return s.ConnectionCount() > 0 }))
				data := map[string]any{"chat_id": id, "success": true}
				if typ == protocol.TypeMessageReceived {
					data["client_message_id"] = m.ID()
					data["message_id"] = "server-1"
				}
				srv.Inject("", map[string]any{"type": typ, "data": data})
				srv.Inject("", map[string]any{"type": "id_marker"})
				select {
				case <-marker:
				case <-ctx.Done():
					t.Fatal("the frames never arrived")
				}
				assert.Empty(t, chat.ID(), "the invalid id was not adopted")
				assert.GreaterOrEqual(t, c.Stats().DecodeErrors, uint64(1), "counted as a protocol error")
				w.mu.Lock()
				assert.Contains(t, w.logs.String(), "breaks the protocol")
				w.mu.Unlock()
				srv.WithholdReady(false)
				_, err = m.Wait(ctx)
				require.NoError(t, err)
				assert.NotEmpty(t, chat.ID())
				assert.NotEqual(t, id, chat.ID())
				for _, f := range srv.Frames() {
					assert.NotContains(t, string(f.Raw), fmt.Sprintf("%q", id), "a frame was sent with the invalid id")
				}
			})
		}
	}
}

// TestCredentials_NoKeepAliveGoroutineOutlivesClose: 20 clients created,
// used (chat creation, a reply, history) and closed against a platform in
// another process leave no goroutine behind: the SDK owns its transport and
// closes its idle connections on Close.
func TestCredentials_NoKeepAliveGoroutineOutlivesClose(t *testing.T) {
	apiURL := client.StartPlatformProcess(t, credKey)
	ctx := t.Context()
	for i := range 20 {
		c, err := client.New(client.Config{APIURL: apiURL, TenantID: credTenant, APIKey: credKey})
		require.NoError(t, err)
		chat, err := c.NewChat(ctx, client.ChatOptions{Title: fmt.Sprint("leak ", i)})
		require.NoError(t, err)
		_, err = chat.Ask(ctx, "hello")
		require.NoError(t, err)
		_, err = chat.History(ctx)
		require.NoError(t, err)
		require.NoError(t, c.Close(ctx))
	}
	goleak.VerifyNone(t)
}

// TestCredentials_LogAttributesOfHeadersAndURLsAreRedacted: the REST
// request and socket log lines show headers with the credentials as
// [REDACTED] and URLs without their query.
func TestCredentials_LogAttributesOfHeadersAndURLsAreRedacted(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{APIKey: credKey})
	defer srv.Close()
	var w echoWatch
	c, err := client.New(w.config(srv.URL()))
	require.NoError(t, err)
	_, err = c.NewChat(t.Context(), client.ChatOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Connect(t.Context()))
	require.NoError(t, c.Close(t.Context()))
	logs := w.logs.String()
	assert.Contains(t, logs, "X-Api-Key="+client.Redacted)
	assert.Contains(t, logs, "Authorization="+client.Redacted)
	assert.Contains(t, logs, "X-Tenant-Id="+credTenant)
	assert.NotContains(t, logs, "tenant_id="+credTenant, "the socket URL is logged without its query")
	assert.NotContains(t, logs, credKey)
	assert.NotContains(t, logs, credToken)
}
