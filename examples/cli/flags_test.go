package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestRun_RemoteURLWithoutATenantIsAOneLineUsageError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"API URL from the environment", map[string]string{envAPIURL: "https://platform.example.invalid"}, nil},
		{"API URL from the flag", nil, []string{"-api-url", "https://platform.example.invalid"}},
		{"remote WebSocket URL", map[string]string{envAPIURL: "http://127.0.0.1:1", envWSURL: "wss://platform.example.invalid"}, nil},
		{"empty tenant", map[string]string{envAPIURL: "https://platform.example.invalid", envTenantID: "  "}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, tt.env, "hello\n", tt.args...)
			assert.Equal(t, exitUsage, res.code)
			assert.Empty(t, res.stdout)
			assert.Equal(t, 1, strings.Count(res.stderr, "\n"), "one line: %q", res.stderr)
			assert.Contains(t, res.stderr, "-tenant or $"+envTenantID)
			assert.Contains(t, res.stderr, "platform.example.invalid")
		})
	}
}

func TestRun_LoopbackURLKeepsTheDemoTenant(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	local := strings.Replace(srv.URL(), "127.0.0.1", "localhost", 1)
	res := runCLI(t, map[string]string{envAPIURL: local}, "hello\n")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "assistant: Echo: hello\n", res.stdout)
	assert.Contains(t, res.stderr, `using "demo"`)
	hs := srv.HandshakeRequests()
	require.NotEmpty(t, hs)
	assert.Equal(t, "demo", hs[0].Query.Get("tenant_id"))
}

func TestLocalURL_OnlyLoopbackHostsAreLocal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url  string
		want bool
	}{
		{"http://localhost:8001", true},
		{"http://LOCALHOST:8001/api", true},
		{"ws://localhost", true},
		{"http://127.0.0.1:8001", true},
		{"http://127.8.9.10", true},
		{"http://[::1]:8001", true},
		{"https://api.miptechnologies.tech", false},
		{"http://localhost.example.com", false},
		{"http://10.0.0.1:8001", false},
		{"http://192.168.1.20", false},
		{"http://[::ffff:10.0.0.1]", false},
		{"not a url", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, localURL(tt.url))
		})
	}
}

func TestRun_EmbeddedPlatformKeepsTheDemoTenantWhateverTheWebSocketURL(t *testing.T) {
	t.Parallel()
	res := runCLI(t, map[string]string{envWSURL: "wss://platform.example.invalid"}, "hello\n")
	assert.Equal(t, 0, res.code, res.stderr)
	assert.Equal(t, "assistant: Echo: hello\n", res.stdout)
	assert.Contains(t, res.stderr, "-ws-url and -api-key are ignored")
}
