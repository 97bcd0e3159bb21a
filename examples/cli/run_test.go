package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestRun_NonTerminalPrintsOneEscapedLinePerReplyInInputOrder(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	srv.SetResponder(func(_ context.Context, req platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Chunks: []string{`back\slash `, "new\nline ", "cr\rreturn ", req.Text}}
	})
	res := runCLI(t, envFor(srv), "q1\nq2\nq3\nq4\nq5\n")
	assert.Equal(t, 0, res.code, res.stderr)
	var want strings.Builder
	for _, q := range []string{"q1", "q2", "q3", "q4", "q5"} {
		want.WriteString(`assistant: back\\slash new\nline cr\rreturn ` + q + "\n")
	}
	assert.Equal(t, want.String(), res.stdout, "one escaped line per reply, in input order, nothing else")
	assert.Contains(t, res.stderr, "state: ready", "state changes go to stderr")
	assert.NotContains(t, res.stderr, "error:")
}

func TestRun_InputRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		input      string
		wantSent   []string
		wantStdout string
	}{
		{"CRLF line endings", "one\r\ntwo\r\n", []string{"one", "two"},
			"assistant: Echo: one\nassistant: Echo: two\n"},
		{"last line without newline is a line", "one\ntwo", []string{"one", "two"},
			"assistant: Echo: one\nassistant: Echo: two\n"},
		{"last CRLF line without newline", "one\r\ntwo\r", []string{"one", "two"},
			"assistant: Echo: one\nassistant: Echo: two\n"},
		{"empty and blank lines skipped", "\none\n\n \t \n\r\ntwo\n\n", []string{"one", "two"},
			"assistant: Echo: one\nassistant: Echo: two\n"},
		{"rest of the line sent as typed", "  padded  \r\nx\r\r\n", []string{"  padded  ", "x\r"},
			"assistant: Echo:   padded  \nassistant: Echo: x\\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := platform(t, platformtest.Config{})
			res := runCLI(t, envFor(srv), tt.input)
			assert.Equal(t, 0, res.code, res.stderr)
			assert.Equal(t, tt.wantSent, sentTexts(srv))
			assert.Equal(t, tt.wantStdout, res.stdout)
		})
	}
}

func TestRun_EmptyOrBlankInputExitsZeroWithoutConnecting(t *testing.T) {
	t.Parallel()
	for name, input := range map[string]string{
		"empty":       "",
		"one newline": "\n",
		"blank lines": "  \n\t\r\n\n \r",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := platform(t, platformtest.Config{})
			res := runCLI(t, envFor(srv), input)
			assert.Equal(t, 0, res.code, res.stderr)
			assert.Empty(t, res.stdout)
			assert.Zero(t, srv.Handshakes(), "no WebSocket handshake")
			assert.Empty(t, srv.RESTRequests(), "no REST request")
		})
	}
}

func TestRun_TooLongLineReportedOnStderrOthersAnswered(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	res := runCLI(t, envFor(srv), "first\n"+strings.Repeat("x", 4001)+"\nthird\n")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, "assistant: Echo: first\nassistant: Echo: third\n", res.stdout)
	assert.Contains(t, res.stderr, "error: line 2: ")
	assert.Contains(t, res.stderr, "4001 characters")
	assert.Equal(t, []string{"first", "third"}, sentTexts(srv))
}

func TestRun_LineBeyondTheQueueWhileDisconnectedFails(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	srv.WithholdReady(true)
	p := start(t, envFor(srv), false, "-queue-size", "2")
	p.write(t, "a\nb\nc\n")
	p.stderr.waitFor(t, "error: line 3: ")
	srv.WithholdReady(false)
	p.closeInput()
	assert.Equal(t, 1, p.wait(t))
	assert.Equal(t, "assistant: Echo: a\nassistant: Echo: b\n", p.stdout.String())
	assert.Contains(t, p.stderr.String(), "error: line 3: not sent: 2 lines already wait for the connection (-queue-size)")
}

func TestRun_ConnectionDroppedBetweenLinesEveryLineAnsweredOnceInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		drop func(*platformtest.Server)
	}{
		{"close 1001", func(s *platformtest.Server) { s.DropAll(1001) }},
		{"abrupt", func(s *platformtest.Server) { s.DropAllAbrupt() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := platform(t, platformtest.Config{})
			p := start(t, envFor(srv), false)
			p.write(t, "one\n")
			p.stdout.waitFor(t, "assistant: Echo: one\n")
			tt.drop(srv)
			p.stderr.waitFor(t, "state: reconnecting")
			p.write(t, "two\nthree\n") // queued while disconnected
			p.closeInput()
			assert.Equal(t, 0, p.wait(t), p.stderr.String())
			assert.Equal(t, "assistant: Echo: one\nassistant: Echo: two\nassistant: Echo: three\n", p.stdout.String())
			assert.Equal(t, []string{"one", "two", "three"}, sentTexts(srv), "each line sent once")
		})
	}
}

// slowSecond answers "two" in two chunks one second apart, so that a test
// can drop the connection between them; other lines get the default reply.
func slowSecond(ctx context.Context, req platformtest.Request) platformtest.Reply {
	if req.Text == "two" {
		return platformtest.Reply{Chunks: []string{"Echo: ", "two"}, ChunkDelay: time.Second}
	}
	return platformtest.DefaultResponder(ctx, req)
}

func TestRun_ConnectionDroppedMidReplyEveryLineAnsweredOnceInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// arm sets the fault up after line one was answered; drop, if set,
		// is called once line two's first chunk arrived.
		arm  func(*platformtest.Server)
		drop func(*platformtest.Server)
	}{
		{name: "before the acknowledgement", arm: func(s *platformtest.Server) { s.DropAfterChatMessage(1) }},
		{name: "after the acknowledgement", arm: func(s *platformtest.Server) { s.DropAfterReceived(1) }},
		{name: "between chunks, close 1001", drop: func(s *platformtest.Server) { s.DropAll(1001) }},
		{name: "between chunks, abrupt", drop: func(s *platformtest.Server) { s.DropAllAbrupt() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := platform(t, platformtest.Config{Responder: slowSecond})
			// -v logs every inbound frame: the test sees chunks arrive.
			p := start(t, envFor(srv), false, "-v")
			p.write(t, "one\n")
			p.stdout.waitFor(t, "assistant: Echo: one\n")
			chunksBefore := strings.Count(p.stderr.String(), "type=response_chunk")
			if tt.arm != nil {
				tt.arm(srv)
			}
			p.write(t, "two\n")
			if tt.drop != nil {
				p.stderr.waitUntil(t, "line two's first chunk", func(s string) bool {
					return strings.Count(s, "type=response_chunk") > chunksBefore
				})
				tt.drop(srv)
			}
			p.write(t, "three\n")
			p.closeInput()
			assert.Equal(t, 0, p.wait(t), p.stderr.String())
			assert.Equal(t, "assistant: Echo: one\nassistant: Echo: two\nassistant: Echo: three\n", p.stdout.String())
			assert.Contains(t, p.stderr.String(), "state: reconnecting", "the connection was lost")
		})
	}
}

func TestRun_TerminalStreamsRepliesAndRecoversADropMidStream(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{Responder: slowSecond})
	p := start(t, envFor(srv), true)
	p.write(t, "one\n")
	p.stdout.waitFor(t, "assistant: Echo: one\n")
	p.write(t, "two\n")
	p.stdout.waitFor(t, "assistant: Echo: one\nassistant: Echo: ")
	assert.NotContains(t, p.stdout.String(), "two", "the first chunk is shown before the reply completes")
	srv.DropAllAbrupt()
	p.write(t, "three\n")
	p.closeInput()
	assert.Equal(t, 0, p.wait(t), p.stderr.String())
	// The state change ended reply two's line; the reply is then shown
	// whole on a line of its own.
	assert.Equal(t, "assistant: Echo: one\nassistant: Echo: \nassistant: Echo: two\nassistant: Echo: three\n", p.stdout.String())
	stderr := p.stderr.String()
	assert.Contains(t, stderr, "* the assistant is typing")
	assert.Contains(t, stderr, "state: reconnecting")
}

func TestRun_ReplyTimeoutExitsOneAfterTheOtherLinesWereAnswered(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == "never" {
			return platformtest.Reply{Withhold: true}
		}
		return platformtest.DefaultResponder(ctx, req)
	})
	res := runCLI(t, envFor(srv), "one\nnever\nthree\n", "-reply-timeout", "1s")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, "assistant: Echo: one\nassistant: Echo: three\n", res.stdout)
	assert.Contains(t, res.stderr, "error: line 2: no reply within 1s")
}

func TestRun_LateReplyGoesToStderrOnly(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	release := make(chan struct{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == "slow" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return platformtest.DefaultResponder(ctx, req)
	})
	p := start(t, envFor(srv), false, "-reply-timeout", "300ms")
	p.write(t, "one\nslow\n")
	p.stderr.waitFor(t, "error: line 2: no reply within 300ms")
	close(release)
	p.stderr.waitFor(t, "late: line 2: assistant: Echo: slow\n")
	p.write(t, "three\n")
	p.closeInput()
	assert.Equal(t, 1, p.wait(t))
	assert.Equal(t, "assistant: Echo: one\nassistant: Echo: three\n", p.stdout.String())
}

func TestRun_PlatformErrorFailsTheLineOthersAnswered(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == "fail" {
			return platformtest.Reply{Error: &platformtest.ErrorReply{Code: "ai_unavailable", Message: "AI service unavailable"}}
		}
		return platformtest.DefaultResponder(ctx, req)
	})
	res := runCLI(t, envFor(srv), "one\nfail\nthree\n")
	assert.Equal(t, 1, res.code)
	assert.Equal(t, "assistant: Echo: one\nassistant: Echo: three\n", res.stdout)
	assert.Contains(t, res.stderr, "error: line 2: ")
	assert.Contains(t, res.stderr, "AI service unavailable")
}

func TestRun_RateLimitReportedOnStderr(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	srv.SetRetryAfter(100 * time.Millisecond)
	srv.RateLimit(1)
	res := runCLI(t, envFor(srv), "limited\n", "-reply-timeout", "500ms")
	assert.Equal(t, 1, res.code, "the rate-limited line is not answered")
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "cli: rate_limit: ")
	assert.Contains(t, res.stderr, "error: line 1: ")
}

func TestRun_HandshakeRefusedFailsAtOnce(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	srv.RefuseHandshakes(1, 401)
	p := start(t, envFor(srv), false)
	p.write(t, "hello\n") // the input stays open: the program must not wait for it
	assert.Equal(t, 1, p.wait(t))
	assert.Empty(t, p.stdout.String())
	stderr := p.stderr.String()
	failedAt := strings.Index(stderr, "state: failed")
	errorAt := strings.Index(stderr, "error: client: connection failed after 1 attempt: ")
	require.GreaterOrEqual(t, failedAt, 0, stderr)
	require.Greater(t, errorAt, failedAt, "the state change, then the error that ends the program")
	assert.Contains(t, stderr[errorAt:], "401")
	assert.Equal(t, 1, srv.Handshakes(), "no retry after 401")
}

func TestRun_WrongAPIKeyFailsWithAMessage(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{APIKey: "right-key"})
	env := envFor(srv)
	env[envAPIKey] = "wrong-key"
	res := runCLI(t, env, "hello\n")
	assert.Equal(t, 1, res.code)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "error: opening a chat: ")
	assert.Contains(t, res.stderr, "401")
	assert.NotContains(t, res.stderr, "wrong-key", "the key is never printed")
}

func TestRun_InterruptExits130(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	srv.SetResponder(func(ctx context.Context, req platformtest.Request) platformtest.Reply {
		if req.Text == "hang" {
			<-ctx.Done()
		}
		return platformtest.DefaultResponder(ctx, req)
	})
	p := start(t, envFor(srv), false)
	p.write(t, "one\nhang\n")
	p.stdout.waitFor(t, "assistant: Echo: one\n")
	p.cancel()
	assert.Equal(t, 130, p.wait(t))
	assert.Contains(t, p.stderr.String(), "cli: interrupted")
	assert.Equal(t, "assistant: Echo: one\n", p.stdout.String())
}

func TestRun_EmbeddedPlatformWithoutAPIURL(t *testing.T) {
	t.Parallel()
	res := runCLI(t, nil, "hello\n")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "assistant: Echo: hello\n", res.stdout)
	assert.Contains(t, res.stderr, "embedded fake platform")
	assert.Contains(t, res.stderr, `tenant "demo"`)
}

func TestRun_FlagsOverrideTheEnvironment(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{Tenants: []string{"flag-tenant"}, APIKey: "flag-key"})
	env := map[string]string{
		envAPIURL:   "http://127.0.0.1:1", // nothing listens there
		envWSURL:    "ws://127.0.0.1:1",
		envTenantID: "env-tenant",
		envAPIKey:   "env-key",
	}
	res := runCLI(t, env, "hello\n", "-api-url", srv.URL(), "-ws-url", srv.WSURL(), "-tenant", "flag-tenant", "-api-key", "flag-key")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "assistant: Echo: hello\n", res.stdout)
	hs := srv.HandshakeRequests()
	require.NotEmpty(t, hs)
	assert.Equal(t, "flag-tenant", hs[0].Query.Get("tenant_id"))
}

func TestRun_TenantDefaultsToDemoWithANote(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	res := runCLI(t, map[string]string{envAPIURL: srv.URL()}, "hello\n")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "assistant: Echo: hello\n", res.stdout)
	assert.Contains(t, res.stderr, `no tenant id (-tenant, $MIPTECH_TENANT_ID): using "demo"`)
	hs := srv.HandshakeRequests()
	require.NotEmpty(t, hs)
	assert.Equal(t, "demo", hs[0].Query.Get("tenant_id"))
}

func TestRun_HelpDocumentsEverythingAndExitsZero(t *testing.T) {
	t.Parallel()
	res := runCLI(t, nil, "", "-h")
	assert.Equal(t, 0, res.code)
	assert.Empty(t, res.stderr)
	for _, want := range []string{
		"Usage: cli", "-api-url", "-ws-url", "-tenant", "-api-key", "-reply-timeout", "(default 30s)",
		envAPIURL, envWSURL, envTenantID, envAPIKey, "embedded fake platform",
		"Input:", "CRLF", "blank lines", "Output:", `\n`, "assistant: <reply text>", "standard error",
		"Exit status:", "130", "Ctrl-C:", "cancels that",
	} {
		assert.Contains(t, res.stdout, want)
	}
}

func TestRun_UsageErrorsExitTwo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"-nope"}, "flag provided but not defined"},
		{"argument", nil, []string{"hello"}, "unexpected arguments"},
		{"zero reply timeout", nil, []string{"-reply-timeout", "0s"}, "-reply-timeout 0s"},
		{"zero queue", nil, []string{"-queue-size", "0"}, "-queue-size 0"},
		{"bad API URL", map[string]string{envAPIURL: "ftp://x", envTenantID: "t"}, nil, "-api-url or $MIPTECH_API_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, tt.env, "hello\n", tt.args...)
			assert.Equal(t, 2, res.code)
			assert.Empty(t, res.stdout)
			assert.Contains(t, res.stderr, tt.want)
		})
	}
}

func TestRun_BothProtocolFormsDetectedOrForced(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		form   platformtest.Protocol
		forced string
	}{
		{"rest detected", platformtest.ProtocolREST, ""},
		{"website detected", platformtest.ProtocolWebsite, ""},
		{"tenant-app detected", platformtest.ProtocolTenantApp, ""},
		{"tenant-app forced", platformtest.ProtocolTenantApp, "realtime"},
		{"rest forced", platformtest.ProtocolREST, "rest"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := platform(t, platformtest.Config{Protocol: tt.form})
			env := envFor(srv)
			env[envAPIKey] = "any-key"
			env[envProtocol] = tt.forced
			res := runCLI(t, env, "hello\nhow are you?\n")
			assert.Equal(t, 0, res.code, res.stderr)
			assert.Equal(t, "assistant: Echo: hello\nassistant: Echo: how are you?\n", res.stdout)
			assert.NotContains(t, res.stderr, "any-key")
		})
	}
}

func TestRun_EmbeddedPlatformInTheRealtimeForm(t *testing.T) {
	t.Parallel()
	res := runCLI(t, map[string]string{envProtocol: "realtime"}, "hello\n")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "assistant: Echo: hello\n", res.stdout)
}

func TestRun_UnknownProtocolIsAUsageError(t *testing.T) {
	t.Parallel()
	res := runCLI(t, map[string]string{envProtocol: "grpc"}, "hello\n")
	assert.Equal(t, exitUsage, res.code)
	assert.Contains(t, res.stderr, "-protocol")
}
