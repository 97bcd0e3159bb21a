package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun_EmbeddedPlatformPrintsRepliesSpansAndMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, func(string) string { return "" }))
	s := out.String()
	assert.Contains(t, s, "embedded fake platform")
	for _, q := range questions {
		assert.Contains(t, s, "assistant: "+platformtest.ReplyText(q)+"\n")
	}
	for _, want := range []string{`"Name": "miptech.message"`, `"Name": "miptech.connect"`, `"Name": "handle request"`,
		`"Name": "miptech.client.messages"`, `"Name": "miptech.client.message.duration"`,
		`"Name": "miptech.client.connect.duration"`, `"Name": "miptech.client.queue.length"`, `"otel-demo"`} {
		assert.Contains(t, s, want)
	}
}

func TestRun_UsesMIPTECHAPIURL(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{Tenants: []string{"acme"}, APIKey: "k"})
	defer srv.Close()
	env := map[string]string{"MIPTECH_API_URL": srv.URL(), "MIPTECH_TENANT_ID": "acme", "MIPTECH_API_KEY": "k"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, func(k string) string { return env[k] }))
	assert.NotContains(t, out.String(), "embedded")
	assert.Contains(t, out.String(), `"Name": "miptech.message"`)
	assert.NotContains(t, out.String(), `"k"`, "the API key is in no attribute")
	assert.Equal(t, 1, srv.Handshakes())
}
