package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestOriginChange(t *testing.T) {
	tests := []struct{ from, to, want string }{
		{"https://api.example.com/healthz", "https://api.example.com/api/v1/health", ""},
		{"https://api.example.com/a", "https://API.example.com:443/b", ""},
		{"http://127.0.0.1/a", "http://127.0.0.1:80/b", ""},
		{"https://api.example.com/a", "http://api.example.com/a", "a downgrade from https to http"},
		{"https://api.example.com/a", "http://evil.example/a", "a downgrade from https to http"},
		{"http://api.example.com/a", "https://api.example.com/a", "another scheme"},
		{"https://api.example.com/a", "https://evil.example/a", "another host"},
		{"https://api.example.com/a", "https://sub.api.example.com/a", "another host"},
		{"http://127.0.0.1:8001/a", "http://localhost:8001/a", "another host"},
		{"http://127.0.0.1:8001/a", "http://127.0.0.1:8002/a", "another port"},
		{"https://api.example.com/a", "https://api.example.com:8443/a", "another port"},
	}
	for _, tt := range tests {
		from, err := url.Parse(tt.from)
		require.NoError(t, err)
		to, err := url.Parse(tt.to)
		require.NoError(t, err)
		assert.Equal(t, tt.want, originChange(from, to), "%s → %s", tt.from, tt.to)
	}
}

func TestRedactor_RemembersTheLastTokensOnly(t *testing.T) {
	r := newRedactor("key-0001")
	var calls int
	ts := r.tokenSource(func(context.Context) (string, error) {
		calls++
		return fmt.Sprintf("token-%04d", calls), nil
	})
	n := MaxRememberedTokens + 4
	for range n {
		_, err := ts(context.Background())
		require.NoError(t, err)
	}
	for i := 1; i <= n; i++ {
		tok := fmt.Sprintf("token-%04d", i)
		if i <= n-MaxRememberedTokens {
			assert.Equal(t, tok, r.string(tok), "%s is too old to be remembered", tok)
		} else {
			assert.Equal(t, Redacted, r.string(tok), "%s is one of the last %d", tok, MaxRememberedTokens)
		}
	}
	assert.Equal(t, Redacted, r.string("key-0001"), "the key is always redacted")

	// A token returned again is not stored twice.
	r2 := newRedactor("")
	for range 100 {
		r2.noteToken("same")
	}
	assert.Len(t, r2.tokens, 1)
}

func TestRedactor_EscapedFormsAndOverlaps(t *testing.T) {
	r := newRedactor("k/ey+1&2")
	r.noteToken("tok-k/ey+1&2-long")
	for _, s := range []string{"k/ey+1&2", "k%2Fey%2B1%262", "k%2Fey+1&2", "tok-k/ey+1&2-long"} {
		out := r.string("a " + s + " b")
		assert.Equal(t, "a "+Redacted+" b", out, s)
	}
	assert.Equal(t, `{"m":"a [REDACTED]"}`, string(r.json([]byte(`{"m":"a k/ey+1\u00262"}`))))
	var nilR *redactor
	assert.Equal(t, "x", nilR.string("x"))
}

func TestRedactor_EventKeepsTheReplyText(t *testing.T) {
	r := newRedactor("secret-key")
	chunk := normalize.Event{Type: protocol.TypeResponseChunk, Text: "quoting secret-key", ChatID: "c", Data: []byte(`{"k":"secret-key"}`)}
	assert.Equal(t, chunk, r.event(chunk), "the conversation is delivered as sent")
	errEv := normalize.Event{Type: protocol.TypeError, Text: "bad secret-key", Code: "secret-key",
		Data: []byte(`{"message":"bad secret-key","n":1.50,"list":["secret-key",true,null]}`)}
	got := r.event(errEv)
	assert.Equal(t, "bad "+Redacted, got.Text)
	assert.Equal(t, Redacted, got.Code)
	assert.JSONEq(t, `{"message":"bad [REDACTED]","n":1.50,"list":["[REDACTED]",true,null]}`, string(got.Data))
	assert.Contains(t, string(got.Data), "1.50", "numbers are kept as sent")
	assert.Contains(t, string(errEv.Data), "secret-key", "the original bytes are not changed")
}

func TestRedactHandler_RedactsEveryAttribute(t *testing.T) {
	r := newRedactor("sk-secret-123456")
	var b strings.Builder
	log := slog.New(redactHandler{slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug}), r})
	snippet := `{"type":"error","message":"key sk-secret-123456 and sk-sec` // cut in the key
	log.With("pre", "sk-secret-123456").WithGroup("g").Debug("msg sk-secret-123456",
		"s", "x sk-secret-123456",
		"err", fmt.Errorf("wrapped: %w", errors.New("sk-secret-123456")),
		"decode", &normalize.DecodeError{Err: normalize.ErrMalformed, Snippet: snippet},
		"any", []string{"sk-secret-123456"},
		slog.Group("grp", "inner", "sk-secret-123456"),
		"url", logURL{"https://u:p@h.example/p?q=sk-secret-123456#f", r},
		"header", logHeader{http.Header{"X-Api-Key": {"whatever"}, "Authorization": {"Bearer t"}, "X-Tenant-Id": {"acme"}}, r},
	)
	out := b.String()
	assert.NotContains(t, out, "sk-secret")
	assert.NotContains(t, out, "sk-sec\"", "a cut key")
	assert.Contains(t, out, Redacted)
	assert.Contains(t, out, "url=https://h.example/p ")
	assert.Contains(t, out, "X-Api-Key="+Redacted)
	assert.Contains(t, out, "Authorization="+Redacted)
	assert.Contains(t, out, "X-Tenant-Id=acme")
}

func TestChecks_ChatID(t *testing.T) {
	for _, id := range []string{"7f0c2c1e", "chat with spaces", "...", "ü-id", strings.Repeat("x", MaxChatIDBytes)} {
		assert.NoError(t, checkChatID(id), "%q", id)
	}
	for _, id := range []string{"", " ", ".", "..", "a/b", `a\b`, "a\tb", "a\u0085b", "\xff", strings.Repeat("x", MaxChatIDBytes+1)} {
		err := checkChatID(id)
		assert.ErrorIs(t, err, ErrValidation, "%q", id)
	}
}

func TestConfig_OwnTransportOnlyWithoutAUserClient(t *testing.T) {
	own, err := Config{TenantID: "t"}.withDefaults()
	require.NoError(t, err)
	require.NotNil(t, own.transport)
	assert.Same(t, own.transport, own.HTTPClient.Transport)
	assert.NotSame(t, http.DefaultTransport, own.HTTPClient.Transport)
	assert.NotNil(t, own.HTTPClient.CheckRedirect)

	user := &http.Client{}
	withUser, err := Config{TenantID: "t", HTTPClient: user}.withDefaults()
	require.NoError(t, err)
	assert.Nil(t, withUser.transport)
	assert.NotSame(t, user, withUser.HTTPClient, "the user's client is copied")
	assert.Nil(t, user.CheckRedirect, "the user's client is not changed")
	assert.NotNil(t, withUser.HTTPClient.CheckRedirect)
}
