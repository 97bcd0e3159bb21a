package client

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// maxRedirects is the most same-origin redirects followed when the user's
// HTTP client has no CheckRedirect of its own (net/http's default).
const maxRedirects = 10

// RedirectError is a REST call the SDK refused to follow to another origin:
// the platform answered with a redirect (301, 302, 303, 307 or 308) to
// another scheme, host or port, where the API key, the tenant headers and
// the bearer token would have gone. Nothing was sent to the target. It
// unwraps to a *protocol.APIError with the redirect status and Code
// "redirect_refused", so errors.As finds the REST error type too. It is not
// retried.
type RedirectError struct {
	// Method and Path are the SDK's request that was redirected.
	Method, Path string
	// Status is the redirect status.
	Status int
	// Target is where the platform redirected to: scheme, host and path,
	// never the query, user info or fragment, with the credentials redacted.
	Target string
	// Reason says what changed: "another scheme", "another host", "another
	// port", or "a downgrade from https to http".
	Reason string

	api *protocol.APIError
}

// Error names the request, the target and what to do.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("client: %s %s: refused to follow an HTTP %d redirect to %s (%s): "+
		"credentials go only to the origin of Config.APIURL; set APIURL to the address the platform redirects to if it is trusted",
		e.Method, e.Path, e.Status, e.Target, e.Reason)
}

// Unwrap returns the REST error the refusal stands for.
func (e *RedirectError) Unwrap() error { return e.api }

// redirectPolicy is the CheckRedirect of every HTTP client the SDK uses, its
// own or the user's: a redirect to another origin than the request's
// (scheme, host or port; https to http always) is refused with a
// *RedirectError before anything is sent there. A same-origin redirect is
// followed, with the credentials, when next (the user's CheckRedirect)
// allows it, or, without one, up to net/http's limit of 10 redirects.
func redirectPolicy(next func(*http.Request, []*http.Request) error, secrets *redactor) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) == 0 {
			return nil
		}
		first := via[0]
		if reason := originChange(first.URL, req.URL); reason != "" {
			status := http.StatusFound
			if req.Response != nil {
				status = req.Response.StatusCode
			}
			target := secrets.string(originAndPath(req.URL))
			e := &RedirectError{Method: first.Method, Path: first.URL.Path, Status: status, Target: target, Reason: reason}
			e.api = &protocol.APIError{Status: status, Code: "redirect_refused",
				Message: fmt.Sprintf("redirect to %s refused: %s", target, reason)}
			return e
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= maxRedirects {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// originChange says what differs between the origins of two URLs: "a
// downgrade from https to http", "another scheme", "another host", "another
// port", or "" for the same origin. Host
// names compare without regard to case; an absent port is the scheme's
// default.
func originChange(from, to *url.URL) string {
	fs, ts := strings.ToLower(from.Scheme), strings.ToLower(to.Scheme)
	switch {
	case fs == "https" && ts != "https":
		return "a downgrade from https to http"
	case fs != ts:
		return "another scheme"
	case !strings.EqualFold(strings.TrimSuffix(from.Hostname(), "."), strings.TrimSuffix(to.Hostname(), ".")):
		return "another host"
	case effectivePort(from) != effectivePort(to):
		return "another port"
	}
	return ""
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "wss":
		return "443"
	}
	return "80"
}

// httpClient returns the HTTP client the SDK uses for REST, with the
// redirect policy. Without a user client it is the SDK's own, on a
// transport the SDK owns (returned, to close its idle connections on
// Client.Close). A user client is copied, never changed, and its transport
// is left to the user; its CheckRedirect runs after the policy.
func httpClient(user *http.Client, timeout time.Duration, secrets *redactor) (*http.Client, *http.Transport) {
	var hc http.Client
	var own *http.Transport
	if user != nil {
		hc = *user
	} else {
		own = newTransport(timeout)
		hc = http.Client{Transport: own, Timeout: timeout}
	}
	hc.CheckRedirect = redirectPolicy(hc.CheckRedirect, secrets)
	return &hc, own
}

// newTransport returns a transport for the SDK's own HTTP client: a clone
// of http.DefaultTransport (its proxy, dial and TLS settings) with bounded
// waits, or the same settings when the default has been replaced.
func newTransport(timeout time.Duration) *http.Transport {
	var t *http.Transport
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		t = dt.Clone()
	} else {
		t = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          100,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
		}
	}
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ResponseHeaderTimeout = timeout
	t.IdleConnTimeout = 90 * time.Second
	t.MaxIdleConnsPerHost = 16
	return t
}
