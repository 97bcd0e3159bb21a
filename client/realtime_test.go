package client

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// testKey is the API key of the realtime tests; the fake accepts any
// non-empty key unless told otherwise.
const testKey = "sk-test-realtime-key"

// formCase is one form of the platform a conversation test runs against:
// the fake's form and the client's setting.
type formCase struct {
	name   string
	server platformtest.Protocol
	client Protocol
}

// forms are the platform forms the conversation tests run against: the
// REST form, and both variants of the realtime form, forced or detected.
var forms = []formCase{
	{"rest", platformtest.ProtocolREST, ProtocolAuto},
	{"website", platformtest.ProtocolWebsite, ProtocolAuto},
	{"tenant-app", platformtest.ProtocolTenantApp, ProtocolAuto},
	{"tenant-app forced", platformtest.ProtocolTenantApp, ProtocolRealtime},
}

// eachForm runs f as a subtest for every form, with a server of that form
// and a mutator that configures a client for it (the API key and the
// Protocol setting).
func eachForm(t *testing.T, cfg platformtest.Config, f func(t *testing.T, fc formCase, srv *platformtest.Server, mutate func(*Config))) {
	for _, fc := range forms {
		t.Run(fc.name, func(t *testing.T) {
			c := cfg
			c.Protocol = fc.server
			srv := newServer(t, c)
			f(t, fc, srv, func(cfg *Config) {
				cfg.APIKey = testKey
				cfg.Protocol = fc.client
			})
		})
	}
}

// then chains two config mutators.
func then(a, b func(*Config)) func(*Config) {
	return func(c *Config) {
		a(c)
		if b != nil {
			b(c)
		}
	}
}

// realtimeServer starts a fake platform in form (strict joining).
func realtimeServer(t *testing.T, form platformtest.Protocol, cfg platformtest.Config) *platformtest.Server {
	t.Helper()
	cfg.Protocol = form
	return newServer(t, cfg)
}

// realtimeClient returns a client with the test key, forced to the
// realtime form, and mutate applied.
func realtimeClient(t *testing.T, srv *platformtest.Server, mutate func(*Config)) *Client {
	t.Helper()
	return newClient(t, srv, func(c *Config) {
		c.APIKey = testKey
		c.Protocol = ProtocolRealtime
		if mutate != nil {
			mutate(c)
		}
	})
}

// waitListed waits until the server lists n live connections (a tenant-app
// connection is listed a moment after its handshake).
func waitListed(t *testing.T, srv *platformtest.Server, n int) {
	t.Helper()
	require.NoError(t, srv.WaitFor(ctxT(t, 10*time.Second), func(s *platformtest.Server) bool {
		return len(s.Connections()) == n
	}))
}

func TestRealtime_TenantAppTokenOnlyInTheSubprotocolHeader(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	c := realtimeClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	r, err := chat.Ask(ctx, "hello")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("hello"), r.Text)

	sessions := srv.Sessions()
	require.Len(t, sessions, 1)
	tok := sessions[0].Token
	assert.Equal(t, []string{tok}, srv.HandshakeTokens())
	for _, rec := range srv.HandshakeRequests() {
		assert.NotContains(t, rec.Path+"?"+rec.Query.Encode(), tok, "the token must never be in a URL")
		assert.NotContains(t, rec.Path+"?"+rec.Query.Encode(), testKey)
		assert.Empty(t, rec.Header.Get(protocol.HeaderAPIKey), "the session token stands for the key on the handshake")
		assert.Equal(t, []string{"bearer", tok}, strings.Split(strings.ReplaceAll(rec.Header.Get("Sec-Websocket-Protocol"), " ", ""), ","))
	}
	for _, rec := range srv.RESTRequests() {
		assert.NotContains(t, rec.Path+"?"+rec.Query.Encode(), tok)
		assert.NotContains(t, rec.Path+"?"+rec.Query.Encode(), testKey)
		if rec.Path == platformtest.PathSession {
			assert.Equal(t, "ApiKey "+testKey, rec.Header.Get("Authorization"))
		}
	}
	assert.Equal(t, ProtocolRealtime, c.Stats().Protocol)
}
