package platformtest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// webOrigin is the origin of a front end's dev server.
const webOrigin = "http://localhost:3000"

// chromiumPreflight returns the headers Chromium sends with the preflight
// of a fetch carrying the request headers named in reqHeaders: the names
// lowercased, sorted and joined by "," without spaces.
func chromiumPreflight(origin, method string, reqHeaders ...string) http.Header {
	names := make([]string, len(reqHeaders))
	for i, h := range reqHeaders {
		names[i] = strings.ToLower(h)
	}
	slices.Sort(names)
	return http.Header{
		"Origin":                         {origin},
		"Access-Control-Request-Method":  {method},
		"Access-Control-Request-Headers": {strings.Join(names, ",")},
		"Sec-Fetch-Mode":                 {"cors"},
		"Sec-Fetch-Site":                 {"same-site"},
		"Sec-Fetch-Dest":                 {"empty"},
		"Accept":                         {"*/*"},
	}
}

// corsPasses applies the fetch standard's CORS check (and, for a
// preflight, its method and header checks) to an answer, as a browser does.
func corsPasses(status int, h http.Header, origin, method string, reqHeaders []string, preflight bool) string {
	if acao := h.Get("Access-Control-Allow-Origin"); acao != "*" && acao != origin {
		return "Access-Control-Allow-Origin is " + acao
	}
	if !preflight {
		return ""
	}
	if status < 200 || status > 299 {
		return "preflight status " + http.StatusText(status)
	}
	allowed := func(list, v string) bool {
		for _, item := range strings.Split(list, ",") {
			if item = strings.TrimSpace(item); item == "*" || strings.EqualFold(item, v) {
				return true
			}
		}
		return false
	}
	if method != http.MethodGet && method != http.MethodPost && method != http.MethodHead && !allowed(h.Get("Access-Control-Allow-Methods"), method) {
		return "method " + method + " not allowed"
	}
	for _, rh := range reqHeaders {
		if !allowed(h.Get("Access-Control-Allow-Headers"), rh) {
			return "header " + rh + " not allowed"
		}
	}
	return ""
}

// webClientHeaders are the request headers the platform's web client and
// the SDK send on REST calls.
var webClientHeaders = []string{"Content-Type", "X-Tenant-ID", "X-Tenant", "Tenant-ID", "X-API-Key", "Authorization"}

func TestCORS_PreflightFromAllowedOriginGetsHeadersOthersDoNot(t *testing.T) {
	srv := newServer(t, platformtest.Config{AllowedOrigins: []string{webOrigin, "https://app.example.com/"}})
	for _, origin := range []string{webOrigin, "https://app.example.com"} {
		status, h, _ := call(t, http.MethodOptions, srv.URL()+protocol.PathChats,
			chromiumPreflight(origin, http.MethodPost, webClientHeaders...), "")
		assert.Equal(t, http.StatusNoContent, status, origin)
		assert.Equal(t, origin, h.Get("Access-Control-Allow-Origin"))
		assert.Empty(t, corsPasses(status, h, origin, http.MethodPost, webClientHeaders, true), origin)
		assert.Contains(t, h.Values("Vary"), "Origin")
	}

	status, h, body := call(t, http.MethodOptions, srv.URL()+protocol.PathChats,
		chromiumPreflight("http://evil.example", http.MethodPost, webClientHeaders...), "")
	assert.Equal(t, http.StatusForbidden, status)
	assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
	assert.Empty(t, h.Get("Access-Control-Allow-Headers"))
	assert.Equal(t, "cors_origin_not_allowed", decode(t, body)["error_code"])

	// A simple request from another origin is answered, without the header
	// that would let the page read it.
	status, h, _ = call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, http.Header{"Origin": {"http://evil.example"}}, "")
	assert.Equal(t, http.StatusOK, status)
	assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
	assert.Len(t, srv.RESTRequests(), 1, "preflights are not recorded")
}

func TestCORS_EveryRESTAnswerToAnAllowedOriginCarriesTheHeader(t *testing.T) {
	srv := newServer(t, platformtest.Config{AllowedOrigins: []string{"*"}, Tenants: []string{"acme"}})
	hdr := func() http.Header {
		h := tenantHdr("acme")
		h.Set("Origin", webOrigin)
		return h
	}
	chat := createChat(t, srv, "acme")
	for _, tt := range []struct {
		method, path, body string
		hdr                http.Header
		want               int
	}{
		{http.MethodGet, protocol.PathHealthz, "", http.Header{"Origin": {webOrigin}}, http.StatusOK},
		{http.MethodGet, protocol.PathHealth, "", http.Header{"Origin": {webOrigin}}, http.StatusOK},
		{http.MethodPost, protocol.PathChats, `{"title":"t"}`, hdr(), http.StatusCreated},
		{http.MethodGet, "/api/v1/chat/" + chat + "/messages", "", hdr(), http.StatusOK},
		{http.MethodPost, "/api/v1/chat/" + chat + "/messages", `{"content":"hi","role":"user"}`, hdr(), http.StatusCreated},
		{http.MethodGet, protocol.PathChatConfig, "", hdr(), http.StatusOK},
		{http.MethodGet, protocol.PathChatConfig, "", http.Header{"Origin": {webOrigin}, "X-Tenant-ID": {"other"}}, http.StatusForbidden},
		{http.MethodGet, "/nope", "", http.Header{"Origin": {webOrigin}}, http.StatusNotFound},
	} {
		status, h, body := call(t, tt.method, srv.URL()+tt.path, tt.hdr, tt.body)
		assert.Equal(t, tt.want, status, "%s %s: %s", tt.method, tt.path, body)
		assert.Equal(t, webOrigin, h.Get("Access-Control-Allow-Origin"), "%s %s", tt.method, tt.path)
	}
}

func TestCORS_NoAllowedOriginsSendsNoCORSHeaders(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	status, h, _ := call(t, http.MethodOptions, srv.URL()+protocol.PathChats, chromiumPreflight(webOrigin, http.MethodPost, "content-type"), "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Empty(t, h.Get("Access-Control-Allow-Origin"))
}

func TestCORS_WebSocketAcceptsAnyOrigin(t *testing.T) {
	srv := newServer(t, platformtest.Config{AllowedOrigins: []string{webOrigin}})
	for _, origin := range []string{webOrigin, "http://evil.example"} {
		ws, _, err := dialRaw(t, srv, map[string][]string{"tenant_id": {"a"}}, http.Header{"Origin": {origin}})
		require.NoError(t, err, origin)
		c := &wsClient{t: t, ws: ws}
		c.until(protocol.TypeConnectionReady)
	}
}
