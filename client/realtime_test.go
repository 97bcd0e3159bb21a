package client

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/registry"
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
	runForms(t, cfg, false, f)
}

// eachFormParallel is eachForm with the forms run in parallel with each
// other, for tests that spend their time waiting (on replies, timeouts,
// reconnects) and whose subtests share nothing but their arguments: no
// package-level hook, no count of goroutines or of the heap.
func eachFormParallel(t *testing.T, cfg platformtest.Config, f func(t *testing.T, fc formCase, srv *platformtest.Server, mutate func(*Config))) {
	runForms(t, cfg, true, f)
}

func runForms(t *testing.T, cfg platformtest.Config, parallel bool, f func(t *testing.T, fc formCase, srv *platformtest.Server, mutate func(*Config))) {
	for _, fc := range forms {
		t.Run(fc.name, func(t *testing.T) {
			if parallel {
				t.Parallel()
			}
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

// heldStatus is the status a message reaches while its reply is withheld:
// delivered once the platform acknowledges it, or in the tenant-app form,
// which acknowledges nothing and delivers on the first chunk, sent.
func (fc formCase) heldStatus() registry.Status {
	if fc.server == platformtest.ProtocolTenantApp {
		return registry.StatusSent
	}
	return registry.StatusDelivered
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

// variants are the two realtime variants of the platform.
var variants = []struct {
	name string
	form platformtest.Protocol
}{
	{"website", platformtest.ProtocolWebsite},
	{"tenant-app", platformtest.ProtocolTenantApp},
}

// joinsOf returns the join_chat frames the server received, in order.
func joinsOf(srv *platformtest.Server) []platformtest.ReceivedFrame {
	return srv.FramesOfType(protocol.TypeJoinChat)
}

func TestRealtime_ExpiredTokenClosedWithAuthCodeIsRefreshedOnce(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	c := realtimeClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	states := recordStates(c)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	waitListed(t, srv, 1)
	srv.ExpireTokens(protocol.CloseUnauthorized)
	states.next(t, ctx, StateReconnecting)
	states.next(t, ctx, StateReady)
	r, err := chat.Ask(ctx, "after the refresh")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("after the refresh"), r.Text)
	sessions := srv.Sessions()
	require.Len(t, sessions, 2, "one new token for one expiry")
	assert.Equal(t, []string{sessions[0].Token, sessions[1].Token}, srv.HandshakeTokens())
	assert.NotContains(t, states.states(), StateFailed)
}

func TestRealtime_TokenRefusedAtTheHandshakeIsReplacedOnce(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	c := realtimeClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	states := recordStates(c)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	waitListed(t, srv, 1)
	srv.ExpireTokens(0) // the connection stays; the next handshake is refused
	srv.DropAll(protocol.CloseGoingAway)
	states.next(t, ctx, StateReconnecting)
	states.next(t, ctx, StateReady)
	_, err = chat.Ask(ctx, "still here")
	require.NoError(t, err)
	sessions := srv.Sessions()
	require.Len(t, sessions, 2)
	assert.Equal(t, []string{sessions[0].Token, sessions[0].Token, sessions[1].Token}, srv.HandshakeTokens(),
		"the expired token is refused once, then a new one is offered")
}

func TestRealtime_WrongKeyFailsWithErrUnauthorizedAndNoRetry(t *testing.T) {
	for _, mode := range []Protocol{ProtocolRealtime, ProtocolAuto} {
		t.Run(mode.String(), func(t *testing.T) {
			srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{APIKeys: []string{"the-right-key"}})
			c := newClient(t, srv, func(cfg *Config) { cfg.APIKey = "a-wrong-key"; cfg.Protocol = mode })
			ctx := ctxT(t, 10*time.Second)
			_, err := c.NewChat(ctx, ChatOptions{})
			require.ErrorIs(t, err, ErrUnauthorized)
			assert.NotContains(t, err.Error(), "a-wrong-key")
			assert.Equal(t, StateFailed, c.State())
			var sessionCalls int
			for _, r := range srv.RESTRequests() {
				if r.Path == platformtest.PathSession {
					sessionCalls++
				}
			}
			assert.Equal(t, 1, sessionCalls, "the key is asked about once")
			assert.Zero(t, srv.Handshakes(), "no handshake without a token")
		})
	}
}

func TestRealtime_NewChatAskStreamOpenChat(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			srv := realtimeServer(t, v.form, platformtest.Config{})
			c := realtimeClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			id := chat.ID()
			require.NotEmpty(t, id)
			joins := joinsOf(srv)
			require.Len(t, joins, 1)
			assert.Equal(t, true, joins[0].Data["create"])
			assert.Equal(t, testTenant, joins[0].Data["tenant_id"])
			proposed, _ := joins[0].Data["chat_id"].(string)
			u, err := uuid.Parse(proposed)
			require.NoError(t, err)
			assert.Equal(t, uuid.Version(4), u.Version())
			if v.form == platformtest.ProtocolTenantApp {
				assert.Equal(t, proposed, id, "the platform keeps the proposed id")
			} else {
				assert.NotEqual(t, proposed, id, "the website form chooses its own id, which the chat takes")
			}
			assert.Len(t, srv.Chats(testTenant), 1)

			r, err := chat.Ask(ctx, "first question")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("first question"), r.Text)
			assert.Equal(t, id, r.ChatID)
			msgs := srv.FramesOfType(protocol.TypeChatMessage)
			require.Len(t, msgs, 1)
			assert.Equal(t, id, msgs[0].Data["chat_id"])
			assert.Equal(t, true, msgs[0].Data["stream"])

			var text strings.Builder
			for chunk, err := range chat.Stream(ctx, "second question") {
				require.NoError(t, err)
				if chunk.Done {
					assert.Equal(t, platformtest.ReplyText("second question"), chunk.Reply.Text)
					break
				}
				text.WriteString(chunk.Text)
			}
			assert.Equal(t, platformtest.ReplyText("second question"), text.String())

			// Another client opens the chat by its id: a join without create.
			c2 := realtimeClient(t, srv, nil)
			other, err := c2.OpenChat(ctx, id)
			require.NoError(t, err)
			r, err = other.Ask(ctx, "from elsewhere")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("from elsewhere"), r.Text)
			joins = joinsOf(srv)
			last := joins[len(joins)-1]
			assert.Equal(t, id, last.Data["chat_id"])
			assert.Nil(t, last.Data["create"], "OpenChat joins without create")
			assert.Len(t, srv.Chats(testTenant), 1, "no chat was created by OpenChat")
			assert.Zero(t, countREST(srv, protocol.PathChats), "no REST chat creation")
		})
	}
}

// countREST counts the REST requests to path.
func countREST(srv *platformtest.Server, path string) int {
	n := 0
	for _, r := range srv.RESTRequests() {
		if r.Path == path {
			n++
		}
	}
	return n
}

func TestRealtime_ReconnectRejoinsByTheSameID(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			srv := realtimeServer(t, v.form, platformtest.Config{})
			c := realtimeClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			states := recordStates(c)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			id := chat.ID()
			waitListed(t, srv, 1)
			srv.DropAll(protocol.CloseGoingAway)
			states.next(t, ctx, StateReconnecting)
			states.next(t, ctx, StateReady)
			r, err := chat.Ask(ctx, "after the reconnect")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("after the reconnect"), r.Text)
			assert.Equal(t, id, chat.ID())
			joins := joinsOf(srv)
			require.Len(t, joins, 2)
			assert.Equal(t, id, joins[1].Data["chat_id"], "rejoined by the confirmed id")
			assert.Nil(t, joins[1].Data["create"])
			assert.Len(t, srv.Chats(testTenant), 1)
		})
	}
}

func TestRealtime_AReplyOfChunksOnlyIsTheChunksText(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			srv := realtimeServer(t, v.form, platformtest.Config{})
			srv.SetShape(platformtest.ShapeChunksOnly) // the tenant-app form never carries text
			c := realtimeClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			r, err := chat.Ask(ctx, "only chunks")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("only chunks"), r.Text)
			assert.Greater(t, r.Chunks, 1)
		})
	}
}

func TestRealtime_ServerPingIsAnsweredWithPong(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			srv := realtimeServer(t, v.form, platformtest.Config{})
			c := realtimeClient(t, srv, nil)
			ctx := ctxT(t, 10*time.Second)
			require.NoError(t, c.Connect(ctx))
			waitListed(t, srv, 1)
			srv.Ping()
			require.NoError(t, srv.WaitFor(ctx, func(s *platformtest.Server) bool {
				return len(s.FramesOfType(protocol.TypePong)) == 1
			}))
		})
	}
}

func TestRealtime_ReplyLostWithTheConnectionFailsPromptlyWithoutHistory(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolWebsite, platformtest.Config{})
	c := realtimeClient(t, srv, func(cfg *Config) { cfg.InitialBackoff = 20 * time.Millisecond })
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	srv.DropAfterReceived(1)
	start := time.Now()
	_, err = chat.Ask(ctx, "answered while away")
	require.ErrorIs(t, err, ErrReplyLost)
	assert.Less(t, time.Since(start), c.cfg.ResponseTimeout, "not after the reply timeout")
	for _, r := range srv.RESTRequests() {
		assert.NotContains(t, r.Path, "/messages", "no history request")
	}
}

func TestRealtime_AutoDetectionChoosesTheForm(t *testing.T) {
	cases := []struct {
		name     string
		form     platformtest.Protocol
		noHealth bool
		want     Protocol
	}{
		{"rest", platformtest.ProtocolREST, false, ProtocolREST},
		{"website", platformtest.ProtocolWebsite, false, ProtocolRealtime},
		{"tenant-app", platformtest.ProtocolTenantApp, false, ProtocolRealtime},
		{"404 to everything but the WebSocket", platformtest.ProtocolWebsite, true, ProtocolRealtime},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			srv := realtimeServer(t, tt.form, platformtest.Config{})
			srv.DisableHealthz(tt.noHealth)
			var logs logBuffer
			c := newClient(t, srv, func(cfg *Config) { cfg.APIKey = testKey; cfg.Logger = debugLogger(&logs) })
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			r, err := chat.Ask(ctx, "which form?")
			require.NoError(t, err)
			assert.Equal(t, platformtest.ReplyText("which form?"), r.Text)
			assert.Equal(t, tt.want, c.Stats().Protocol)
			assert.Contains(t, logs.String(), "protocol form chosen")
			assert.Contains(t, logs.String(), "protocol="+tt.want.String())
			assert.Zero(t, len(srv.FramesOfType(protocol.TypeChatMessage))-1, "detection cost no message")
			assert.NotContains(t, logs.String(), testKey)
			for _, s := range srv.Sessions() {
				assert.NotContains(t, logs.String(), s.Token)
			}
		})
	}
}

func TestRealtime_UserTokenWorksInBothForms(t *testing.T) {
	for _, v := range []platformtest.Protocol{platformtest.ProtocolREST, platformtest.ProtocolWebsite} {
		t.Run(v.String(), func(t *testing.T) {
			srv := realtimeServer(t, v, platformtest.Config{})
			c := newClient(t, srv, func(cfg *Config) {
				cfg.Token = func(context.Context) (string, error) { return "user-token", nil }
			})
			ctx := ctxT(t, 10*time.Second)
			chat, err := c.NewChat(ctx, ChatOptions{})
			require.NoError(t, err)
			_, err = chat.Ask(ctx, "with my token")
			require.NoError(t, err)
			assert.Equal(t, []string{"user-token"}, srv.HandshakeTokens())
			assert.Empty(t, srv.Sessions())
		})
	}
}

func TestRealtime_ParseProtocol(t *testing.T) {
	for in, want := range map[string]Protocol{"": ProtocolAuto, "auto": ProtocolAuto, " REST ": ProtocolREST,
		"realtime": ProtocolRealtime, "tenant-app": ProtocolRealtime, "website": ProtocolRealtime} {
		got, err := ParseProtocol(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	_, err := ParseProtocol("grpc")
	assert.Error(t, err)
	_, err = New(Config{TenantID: "t", Protocol: Protocol(9)})
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "Protocol", ce.Field)
}

func TestRealtime_AModelFailureFailsTheMessageAtOnce(t *testing.T) {
	// The tenant-app form's error frames name no message: the error is
	// about the message the platform is answering, the oldest waiting.
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	srv.SetResponder(failing)
	c := realtimeClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	_, err = chat.Ask(ctx, "please fail") // well before the 30 s reply timeout
	var pe *PlatformError
	require.ErrorAs(t, err, &pe)
	r, err := chat.Ask(ctx, "then answer")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("then answer"), r.Text, "the next message gets its own reply")
}

func TestRealtime_APlatformClosingEveryNewTokenIsNotAskedForeverAndFailsUnauthorized(t *testing.T) {
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{})
	c := realtimeClient(t, srv, nil)
	ctx := ctxT(t, 10*time.Second)
	states := recordStates(c)
	_, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	// Every connection is closed for its token as soon as the platform lists
	// it, until the client gives up.
	closed := map[string]bool{}
	require.Eventually(t, func() bool {
		for _, ci := range srv.Connections() {
			if !closed[ci.ConnID] {
				closed[ci.ConnID] = true
				srv.ExpireTokens(protocol.CloseUnauthorized)
			}
		}
		return c.State() == StateFailed
	}, 10*time.Second, time.Millisecond, "the client went on asking for tokens; seen %v", states.states())
	sc := states.next(t, ctx, StateFailed)
	assert.ErrorIs(t, sc.Reason, ErrUnauthorized)
	// A close may also expire a token being fetched for the next handshake,
	// which is then refused and replaced once.
	assert.LessOrEqual(t, len(srv.Sessions()), maxAuthCloses+1, "no storm of tokens")
	assert.GreaterOrEqual(t, len(srv.Sessions()), maxAuthCloses, "a new token for each close")
}

func TestRealtime_TheSessionTokenIsReplacedShortlyBeforeItExpires(t *testing.T) {
	const ttl = time.Hour
	srv := realtimeServer(t, platformtest.ProtocolTenantApp, platformtest.Config{TokenTTL: ttl})
	clk := clock.NewFake(time.Now())
	c := realtimeClient(t, srv, withFakeClock(clk))
	ctx := ctxT(t, 10*time.Second)
	states := recordStates(c)
	chat, err := c.NewChat(ctx, ChatOptions{})
	require.NoError(t, err)
	waitListed(t, srv, 1)

	// Well before expiry a reconnect keeps the token.
	clk.Advance(ttl / 2)
	srv.DropAll(protocol.CloseGoingAway)
	sc := states.nextWait(t, ctx, StateReconnecting)
	clk.Advance(sc.RetryIn)
	states.next(t, ctx, StateReady)
	require.Len(t, srv.Sessions(), 1)

	// Within the refresh margin of expires_at a reconnect asks for a new
	// one before it dials: the platform never sees the old token again.
	clk.Advance(ttl/2 - sessionRefreshMargin + time.Second)
	waitListed(t, srv, 1)
	srv.DropAll(protocol.CloseGoingAway)
	sc = states.nextWait(t, ctx, StateReconnecting)
	clk.Advance(sc.RetryIn)
	states.next(t, ctx, StateReady)
	sessions := srv.Sessions()
	require.Len(t, sessions, 2)
	assert.Equal(t, []string{sessions[0].Token, sessions[0].Token, sessions[1].Token}, srv.HandshakeTokens())
	r, err := chat.Ask(ctx, "with the new token")
	require.NoError(t, err)
	assert.Equal(t, platformtest.ReplyText("with the new token"), r.Text)
}
