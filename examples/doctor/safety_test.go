package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/client"
)

func TestRun_AKeyEchoedByThePlatformIsRedacted(t *testing.T) {
	const key = `sk-live/Zx9+q"7`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("X-API-Key")
		quoted, _ := json.Marshal(got)
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"detail":%s,"raw":"key=%s","query":"k=%s"}`, quoted, got, url.QueryEscape(got))
	}))
	defer srv.Close()
	env := map[string]string{envAPIURL: srv.URL, envTenantID: "acme", envAPIKey: key}
	escaped, _ := json.Marshal(key)
	for _, args := range [][]string{nil, {"-json"}} {
		out, _, code := runDoctor(t, env, args...)
		assert.Equal(t, exitFailure, code)
		assert.Contains(t, out, "500")
		assert.Contains(t, out, client.Redacted)
		for _, form := range []string{key, string(escaped[1 : len(escaped)-1]), url.QueryEscape(key)} {
			assert.NotContains(t, out, form, "output of %v", args)
		}
	}
	out, _, _ := runDoctor(t, env, "-json")
	h := byStep(decodeResults(t, out))["healthz"]
	assert.Equal(t, statusFail, h.Status)
	assert.Equal(t, "the platform reports itself unhealthy", h.Cause)
}

func TestRun_ARedirectToAnotherOriginIsRefused(t *testing.T) {
	var reached atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	out, _, code := runDoctor(t, map[string]string{envAPIURL: srv.URL, envTenantID: "acme", envAPIKey: "sk-redirected"}, "-json")
	assert.Equal(t, exitFailure, code)
	m := byStep(decodeResults(t, out))
	assert.Equal(t, statusFail, m["healthz"].Status)
	assert.Contains(t, m["healthz"].Detail, "redirect to another origin refused")
	assert.Contains(t, m["healthz"].Cause, "redirects to another origin")
	assert.Equal(t, statusFail, m["session"].Status)
	assert.Zero(t, reached.Load(), "a request reached the other origin")
}

func TestRun_TLSStepReportsTheCertificateOrWhyItIsNotTrusted(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"healthy"}`)
	}))
	// The tcp step and the untrusted client end their connections without
	// a TLS handshake: not worth a log line.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	for _, tt := range []struct {
		name   string
		roots  *x509.CertPool
		status status
		want   string
	}{
		{"trusted", roots, statusOK, "subject O=Acme Co, issuer , expires"},
		{"untrusted", nil, statusFail, "the certificate is signed by an authority this machine does not trust"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set, err := parseFlags([]string{"-json", "-api-url", srv.URL, "-tenant", "acme"}, func(string) string { return "" })
			require.NoError(t, err)
			set.roots = tt.roots
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var out bytes.Buffer
			check(ctx, set, &secrets{}, &out)
			r := byStep(decodeResults(t, out.String()))["tls"]
			assert.Equal(t, tt.status, r.Status, r.Detail)
			assert.Contains(t, r.Detail+r.Cause, tt.want)
			if tt.status == statusOK {
				assert.Equal(t, statusOK, byStep(decodeResults(t, out.String()))["healthz"].Status)
			}
		})
	}
}
