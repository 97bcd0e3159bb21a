package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/protocol"
)

// maxBody is the most of an answer's body read.
const maxBody = 64 << 10

// errCrossOrigin is a redirect to another origin, not followed: the
// credentials go only to the configured origin.
var errCrossOrigin = errors.New("redirect to another origin refused")

// newHTTPClient returns the client of the REST steps: no keep-alive (each
// step opens its own connection, and nothing stays open after them), the
// test roots, and a redirect policy that refuses another origin.
func (d *doctor) newHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true
	tr.TLSClientConfig = &tls.Config{RootCAs: d.set.roots}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if origin(req.URL) != origin(via[0].URL) {
				return fmt.Errorf("%w: %s", errCrossOrigin, origin(req.URL))
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
}

// origin is a URL's scheme://host:port, with the scheme's port when none
// is given.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// setHeaders sets the headers the SDK sends on every REST request and on
// the handshake: the tenant, the API key when set, the User-Agent.
func (d *doctor) setHeaders(h http.Header) {
	h.Set(protocol.HeaderTenantID, d.set.tenant)
	h.Set(protocol.HeaderTenant, d.set.tenant)
	h.Set(protocol.HeaderTenantPlain, d.set.tenant)
	if d.set.apiKey != "" {
		h.Set(protocol.HeaderAPIKey, d.set.apiKey)
	}
	h.Set("User-Agent", "miptech-go-doctor/"+client.Version)
}

// do sends a request to the API URL's origin and reads its answer.
func (d *doctor) do(ctx context.Context, method, path string, body []byte, h http.Header) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, d.set.apiURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	d.setHeaders(req.Header)
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return resp.StatusCode, string(b), err
}

// requestFailure names the cause and fix of a REST request that got no
// answer.
func (d *doctor) requestFailure(err error) outcome {
	if errors.Is(err, errCrossOrigin) {
		return fail(err.Error(), "the platform redirects to another origin, where the API key and tenant would go",
			"set $"+envAPIURL+" to the address it redirects to, if you trust it")
	}
	return networkFailure(err, d.hostPort(), d.set.timeout)
}

// healthz asks GET /healthz (else GET /api/v1/health, as the SDK does).
func (d *doctor) healthz(ctx context.Context) outcome {
	path := protocol.PathHealthz
	code, body, err := d.do(ctx, http.MethodGet, path, nil, nil)
	if err == nil && code == http.StatusNotFound {
		path = protocol.PathHealth
		code, body, err = d.do(ctx, http.MethodGet, path, nil, nil)
	}
	switch {
	case err != nil:
		return d.requestFailure(err)
	case code == http.StatusOK:
		return ok("%s %d %s", path, code, body)
	case code == http.StatusNotFound:
		return fail(fmt.Sprintf("%s %d %s", path, code, body), "no health endpoint at "+d.set.apiURL+": not the platform's API URL",
			"set $"+envAPIURL+" to the platform's base URL (without /api/v1)")
	case code >= 500:
		return fail(fmt.Sprintf("%s %d %s", path, code, body), "the platform reports itself unhealthy",
			"wait for the platform to start, or check its logs and status page")
	}
	return fail(fmt.Sprintf("%s %d %s", path, code, body), "the health check was refused",
		"check that $"+envAPIURL+" is the platform and not a proxy or login page")
}

// sessionAnswer is the body of a token issued by POST /api/auth/session.
type sessionAnswer struct {
	Token     string `json:"websocket_token"`
	SessionID string `json:"session_id"`
	ExpiresAt string `json:"expires_at"`
}

// session asks for a session token, where the platform issues one.
func (d *doctor) session(ctx context.Context) outcome {
	switch {
	case d.set.protocol == client.ProtocolREST:
		return skip("skipped: -protocol rest (the REST form issues no session token)")
	case d.set.apiKey == "":
		return skip("skipped: no API key ($%s); a platform that issues session tokens needs one", envAPIKey)
	}
	body, _ := json.Marshal(map[string]string{"tenant_id": d.set.tenant})
	h := http.Header{"Authorization": {"ApiKey " + d.set.apiKey}, "Content-Type": {"application/json"}}
	code, text, err := d.do(ctx, http.MethodPost, protocol.PathSession, body, h)
	seen := fmt.Sprintf("POST %s %d %s", protocol.PathSession, code, text)
	switch {
	case err != nil:
		return d.requestFailure(err)
	case code == http.StatusNotFound:
		return ok("POST %s 404: no session endpoint (the REST-era form, or the realtime website variant); going on with the API key", protocol.PathSession)
	case code == http.StatusUnauthorized:
		return fail(seen, "the platform refused the API key", "check $"+envAPIKey+" (a key of this tenant, not revoked)")
	case code == http.StatusForbidden:
		return fail(seen, "the platform refused the tenant or the key for it", "check $"+envTenantID+" and $"+envAPIKey)
	case code != http.StatusOK:
		return fail(seen, "the session endpoint failed", "retry later; check the platform's status")
	}
	var a sessionAnswer
	if err := json.Unmarshal([]byte(text), &a); err != nil || a.Token == "" {
		return fail(fmt.Sprintf("POST %s 200 without websocket_token", protocol.PathSession),
			"the session endpoint answered something else than a token", "check that $"+envAPIURL+" is the platform")
	}
	d.secrets.add(a.Token)
	d.token, d.tenantApp = a.Token, true
	o := ok("token issued (tenant-app form), session %s", a.SessionID)
	if t, err := time.Parse(time.RFC3339, a.ExpiresAt); err == nil {
		o.detail += fmt.Sprintf(", expires %s (in %s)", t.UTC().Format(time.RFC3339), time.Until(t).Round(time.Second))
	}
	return o
}
