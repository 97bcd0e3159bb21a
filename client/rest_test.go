package client

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestREST_HealthFallsBackOn404(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.DisableHealthz(true)
	c := newClient(t, srv, nil)
	h, err := c.REST().Health(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, "healthy", h.Status)
	var paths []string
	for _, r := range srv.RESTRequests() {
		paths = append(paths, r.Path)
	}
	assert.Equal(t, []string{protocol.PathHealthz, protocol.PathHealth}, paths)
}

func TestREST_SendsTenantHeadersKeyAndUserAgent(t *testing.T) {
	srv := newServer(t, platformtest.Config{APIKey: "key-1"})
	c := newClient(t, srv, func(cfg *Config) {
		cfg.APIKey = "key-1"
		cfg.Token = func(context.Context) (string, error) { return "tok-1", nil }
	})
	ctx := ctxT(t, 5*time.Second)
	_, err := c.REST().ChatConfig(ctx)
	require.NoError(t, err)
	reqs := srv.RESTRequests()
	require.NotEmpty(t, reqs)
	h := reqs[len(reqs)-1].Header
	assert.Equal(t, testTenant, h.Get(protocol.HeaderTenantID))
	assert.Equal(t, testTenant, h.Get(protocol.HeaderTenant))
	assert.Equal(t, testTenant, h.Get(protocol.HeaderTenantPlain))
	assert.Equal(t, "key-1", h.Get(protocol.HeaderAPIKey))
	assert.Equal(t, "Bearer tok-1", h.Get("Authorization"))
	assert.Equal(t, "miptech-go/"+Version, h.Get("User-Agent"))

	require.NoError(t, c.Connect(ctx))
	hs := srv.HandshakeRequests()
	require.NotEmpty(t, hs)
	assert.Equal(t, testTenant, hs[0].Query.Get(protocol.QueryTenantID))
	assert.Equal(t, "key-1", hs[0].Header.Get(protocol.HeaderAPIKey))
	assert.Equal(t, "bearer, tok-1", hs[0].Header.Get("Sec-Websocket-Protocol"))
}

func TestREST_RetriesRateLimitedIdempotentCallsHonouringRetryAfter(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	srv := newServer(t, platformtest.Config{})
	srv.SetRetryAfter(50 * time.Millisecond)
	srv.RateLimitREST(2)
	c := newClient(t, srv, nil)
	cc, err := c.REST().ChatConfig(ctxT(t, 5*time.Second))
	require.NoError(t, err)
	assert.Equal(t, DefaultMaxMessageLength, cc.MaxMessageLength)
	assert.Len(t, srv.RESTRequests(), 3)
}

func TestREST_NeverRetriesPostingAMessage(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 5*time.Second)
	chat, err := c.REST().CreateChat(ctx, protocol.CreateChatRequest{Title: "t"})
	require.NoError(t, err)
	srv.RateLimitREST(1)
	err = c.REST().PostMessage(ctx, chat.ChatID, "hi", nil)
	require.ErrorIs(t, err, protocol.ErrRateLimited)
	var apiErr *protocol.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusTooManyRequests, apiErr.Status)
	assert.Equal(t, protocol.DefaultRateLimitWait, apiErr.RetryAfter)
	n := 0
	for _, r := range srv.RESTRequests() {
		if r.Method == http.MethodPost && r.Path == protocol.PathChatMessages(chat.ChatID) {
			n++
		}
	}
	assert.Equal(t, 1, n)
}

func TestREST_RetriesStopAtTheLimit(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	srv := newServer(t, platformtest.Config{})
	srv.SetRetryAfter(time.Millisecond)
	srv.RateLimitREST(10)
	c := newClient(t, srv, nil)
	_, err := c.REST().ChatConfig(ctxT(t, 5*time.Second))
	require.ErrorIs(t, err, protocol.ErrRateLimited)
	assert.Len(t, srv.RESTRequests(), DefaultRESTRetries)
}

func TestREST_NetworkErrorIsTypedAndRetryable(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	url := srv.URL()
	srv.Close()
	c, err := New(Config{APIURL: url, TenantID: testTenant, RESTRetries: -1})
	require.NoError(t, err)
	defer c.Close(context.Background())
	_, err = c.REST().Health(ctxT(t, 5*time.Second))
	var ne *NetworkError
	require.ErrorAs(t, err, &ne)
	assert.True(t, retryableREST(err))
	assert.Contains(t, ne.Error(), "no answer from the platform")
	assert.NotNil(t, errors.Unwrap(ne))
}

func TestREST_TokenSourceErrorIsReported(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	boom := errors.New("token store down")
	c := newClient(t, srv, func(cfg *Config) {
		cfg.Token = func(context.Context) (string, error) { return "", boom }
	})
	_, err := c.REST().ChatConfig(ctxT(t, 5*time.Second))
	require.ErrorIs(t, err, boom)
}

func TestREST_HistoryBothShapesAndChatConfig(t *testing.T) {
	srv := newServer(t, platformtest.Config{MaxMessageLength: 123})
	c := newClient(t, srv, nil)
	ctx := ctxT(t, 5*time.Second)
	cc, err := c.REST().ChatConfig(ctx)
	require.NoError(t, err)
	assert.Equal(t, 123, cc.MaxMessageLength)
	created, err := c.REST().CreateChat(ctx, protocol.CreateChatRequest{})
	require.NoError(t, err)
	hist, err := c.REST().History(ctx, created.ChatID)
	require.NoError(t, err)
	assert.Empty(t, hist)
}
