package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// stepNames are the steps in the order they are printed.
var stepNames = []string{"dns", "tcp", "tls", "healthz", "session", "handshake", "greeting", "join", "round_trip"}

// runDoctor runs the program with env and args and returns its standard
// output, standard error and exit code.
func runDoctor(t *testing.T, env map[string]string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut, func(k string) string { return env[k] })
	return out.String(), errOut.String(), code
}

// decodeResults parses JSON Lines output strictly into results, one per
// line, and fails the test on anything else.
func decodeResults(t *testing.T, out string) []result {
	t.Helper()
	var rs []result
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var r result
		require.NoError(t, dec.Decode(&r), "line %q", sc.Text())
		rs = append(rs, r)
	}
	return rs
}

// byStep indexes results by step name.
func byStep(rs []result) map[string]result {
	m := map[string]result{}
	for _, r := range rs {
		m[r.Step] = r
	}
	return m
}

// platformEnv is the environment that points the doctor at srv.
func platformEnv(srv *platformtest.Server, tenant, key string) map[string]string {
	return map[string]string{envAPIURL: srv.URL(), envTenantID: tenant, envAPIKey: key}
}

func TestRun_AllStepsPassInEachProtocolForm(t *testing.T) {
	const key = "sk-doctor-right-key"
	for _, tt := range []struct {
		name        string
		form        platformtest.Protocol
		subprotocol string
		greeting    string
		ack         bool
	}{
		{"rest", platformtest.ProtocolREST, "subprotocol none", "connection_ready; ready after", true},
		{"website", platformtest.ProtocolWebsite, "subprotocol none", "connection_ready; ready after", true},
		{"tenant-app", platformtest.ProtocolTenantApp, "subprotocol bearer", "sends no greeting and no connection_ready", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := platformtest.NewServer(platformtest.Config{Protocol: tt.form, APIKey: key, Tenants: []string{"acme"}})
			defer srv.Close()
			out, _, code := runDoctor(t, platformEnv(srv, "acme", key), "-json", "-message", "are you there?")
			rs := decodeResults(t, out)
			require.Len(t, rs, len(stepNames), out)
			for i, r := range rs {
				assert.Equal(t, stepNames[i], r.Step)
				if r.Step == "tls" {
					assert.Equal(t, statusSkip, r.Status)
					assert.Equal(t, "skipped: http", r.Detail)
					continue
				}
				assert.Equal(t, statusOK, r.Status, "%s: %s %s", r.Step, r.Detail, r.Cause)
			}
			assert.Equal(t, exitOK, code, out)
			m := byStep(rs)
			assert.Contains(t, m["handshake"].Detail, tt.subprotocol)
			assert.Contains(t, m["greeting"].Detail, tt.greeting)
			assert.Contains(t, m["round_trip"].Detail, platformtest.ReplyText("are you there?"))
			assert.Contains(t, m["round_trip"].Timings, "first_chunk")
			assert.Contains(t, m["round_trip"].Timings, "complete")
			if tt.ack {
				assert.Contains(t, m["round_trip"].Timings, "ack")
			} else {
				assert.NotContains(t, m["round_trip"].Timings, "ack")
				assert.Contains(t, m["round_trip"].Detail, "the tenant-app form sends no message_received")
				assert.Contains(t, m["session"].Detail, "token issued")
			}
			assert.NotContains(t, out, key)
			for _, tok := range srv.HandshakeTokens() {
				if tok != "" {
					assert.NotContains(t, out, tok, "a session token was printed")
				}
			}
		})
	}
}

func TestRun_ClosedPortFailsTheTCPStepWithinOneSecond(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	start := time.Now()
	out, _, code := runDoctor(t, map[string]string{envAPIURL: "http://" + addr})
	took := time.Since(start)
	assert.Less(t, took, time.Second)
	assert.Equal(t, exitFailure, code)
	lines := strings.Split(out, "\n")
	var tcp, cause string
	for i, l := range lines {
		if strings.HasPrefix(l, "✗ tcp") {
			tcp, cause = l, lines[i+1]
		}
	}
	require.NotEmpty(t, tcp, out)
	assert.Contains(t, tcp, "connection refused")
	assert.Contains(t, cause, "cause: connection refused: nothing listens on "+addr+"; fix: ")
	assert.Contains(t, out, "✓ dns")
	for _, later := range []string{"tls", "healthz", "session", "handshake", "greeting", "join", "round trip"} {
		assert.Regexp(t, `(?m)^– `+later+` +skipped: tcp failed$`, out)
	}
}

func TestRun_WrongAPIKeyFailsTheHandshakeInTheRESTForm(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{APIKey: "the-right-key"})
	defer srv.Close()
	out, _, code := runDoctor(t, platformEnv(srv, "acme", "a-wrong-key"), "-json")
	assert.Equal(t, exitFailure, code)
	m := byStep(decodeResults(t, out))
	assert.Equal(t, statusOK, m["healthz"].Status)
	assert.Equal(t, statusOK, m["session"].Status, "the REST form has no session endpoint: %s", m["session"].Detail)
	assert.Equal(t, statusFail, m["handshake"].Status)
	assert.Contains(t, m["handshake"].Detail, "401")
	assert.Equal(t, "the platform refused the API key", m["handshake"].Cause)
	assert.Contains(t, m["handshake"].Fix, envAPIKey)
	for _, later := range []string{"greeting", "join", "round_trip"} {
		assert.Equal(t, statusSkip, m[later].Status)
		assert.Equal(t, "skipped: handshake failed", m[later].Detail)
	}
	assert.NotContains(t, out, "a-wrong-key")
}

func TestRun_WrongAPIKeyFailsTheSessionInTheTenantAppForm(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{Protocol: platformtest.ProtocolTenantApp, APIKeys: []string{"the-right-key"}})
	defer srv.Close()
	out, _, code := runDoctor(t, platformEnv(srv, "acme", "a-wrong-key"), "-json")
	assert.Equal(t, exitFailure, code)
	m := byStep(decodeResults(t, out))
	assert.Equal(t, statusFail, m["session"].Status)
	assert.Contains(t, m["session"].Detail, "401")
	assert.Contains(t, m["session"].Detail, platformtest.CodeInvalidAPIKey)
	assert.Equal(t, "the platform refused the API key", m["session"].Cause)
	assert.Equal(t, "skipped: session failed", m["handshake"].Detail)
	assert.NotContains(t, out, "a-wrong-key")
}

func TestRun_ForcedRESTFormAgainstTheTenantAppFormNamesTheMissingToken(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{Protocol: platformtest.ProtocolTenantApp})
	defer srv.Close()
	out, _, code := runDoctor(t, platformEnv(srv, "acme", "sk-any-key"), "-json", "-protocol", "rest")
	assert.Equal(t, exitFailure, code)
	m := byStep(decodeResults(t, out))
	assert.Equal(t, statusSkip, m["session"].Status)
	assert.Contains(t, m["session"].Detail, "-protocol rest")
	assert.Equal(t, statusFail, m["handshake"].Status)
	assert.Contains(t, m["handshake"].Detail, platformtest.CodeTokenMissing)
	assert.Contains(t, m["handshake"].Cause, "wants a session token")
	assert.Contains(t, m["handshake"].Fix, "-protocol")
}

func TestRun_WithheldReadyFailsTheGreetingAtTheTimeout(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	srv.WithholdReady(true)
	start := time.Now()
	out, _, code := runDoctor(t, platformEnv(srv, "acme", ""), "-json", "-timeout", "300ms")
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, exitFailure, code)
	m := byStep(decodeResults(t, out))
	assert.Equal(t, statusOK, m["handshake"].Status)
	g := m["greeting"]
	assert.Equal(t, statusFail, g.Status)
	assert.Equal(t, "no connection_ready within 300ms (received connection_established, initialization_progress ×3)", g.Detail)
	assert.Contains(t, g.Cause, "initializing")
	assert.Contains(t, g.Fix, "-timeout")
	assert.GreaterOrEqual(t, g.MS, 300.0)
	assert.Equal(t, "skipped: greeting failed", m["join"].Detail)
	assert.Equal(t, "skipped: greeting failed", m["round_trip"].Detail)
}

func TestRun_TextPrintsOneLinePerStep(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{APIKey: "sk-text-test"})
	defer srv.Close()
	out, _, code := runDoctor(t, platformEnv(srv, "acme", "sk-text-test"))
	require.Equal(t, exitOK, code, out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.Len(t, lines, 1+len(stepNames), out)
	assert.Equal(t, `checking `+srv.URL()+` for tenant "acme" (protocol auto, API key set)`, lines[0])
	for i, name := range stepNames {
		want := `^✓ ` + strings.ReplaceAll(name, "_", " ") + ` +\d+(\.\d+)?(ms|s)  \S`
		if name == "tls" {
			want = `^– tls +skipped: http$`
		}
		assert.Regexp(t, want, lines[i+1])
	}
}

func TestRun_UsageErrorsExit2(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no tenant for a remote platform", map[string]string{envAPIURL: "https://api.example.com"}, nil, "no tenant id"},
		{"key in clear text to a remote host", map[string]string{envAPIURL: "http://api.example.com", envTenantID: "acme", envAPIKey: "sk-clear"}, nil, "clear text"},
		{"bad protocol", nil, []string{"-protocol", "soap"}, "want auto, rest or realtime"},
		{"bad timeout", nil, []string{"-timeout", "0s"}, "-timeout"},
		{"stray argument", nil, []string{"extra"}, "unexpected arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runDoctor(t, tt.env, tt.args...)
			assert.Equal(t, exitUsage, code)
			assert.Empty(t, out)
			assert.Contains(t, errOut, tt.want)
			assert.NotContains(t, errOut, "sk-clear")
		})
	}
	out, _, code := runDoctor(t, nil, "-h")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "-reply-timeout")
}
