package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun_EmbeddedPlatformPrintsTheStreamedReplyAndStats(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, diag bytes.Buffer
	require.NoError(t, run(ctx, &out, &diag, func(string) string { return "" }))
	s := out.String()
	assert.Contains(t, s, "embedded fake platform")
	assert.Contains(t, s, "assistant: "+platformtest.ReplyText(question)+"\n")
	assert.Contains(t, s, "answered 1, failed 0")
	assert.Contains(t, diag.String(), "connected → ready")
}

func TestRun_UsesMIPTECHAPIURL(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{Tenants: []string{"acme"}, APIKey: "k"})
	defer srv.Close()
	env := map[string]string{"MIPTECH_API_URL": srv.URL(), "MIPTECH_TENANT_ID": "acme", "MIPTECH_API_KEY": "k"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, io.Discard, func(k string) string { return env[k] }))
	assert.NotContains(t, out.String(), "embedded")
	assert.Contains(t, out.String(), "assistant: "+platformtest.ReplyText(question))
	assert.Equal(t, 1, srv.Handshakes())
}

func TestRun_ReportsAWrongTenant(t *testing.T) {
	srv := platformtest.NewServer(platformtest.Config{Tenants: []string{"acme"}})
	defer srv.Close()
	env := map[string]string{"MIPTECH_API_URL": srv.URL(), "MIPTECH_TENANT_ID": "other"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, io.Discard, func(k string) string { return env[k] })
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "403"), err.Error())
}
