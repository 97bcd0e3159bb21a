package platformtest

import (
	"net/http"
	"slices"
	"strings"
)

// CORS answers for browsers: the methods and request headers a preflight
// allows, the headers a page may read, and how long a preflight is cached.
const (
	corsMethods = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
	// corsHeaders are the headers the SDK and the platform's web client
	// send: the tenant headers, the API key, a bearer token, and common
	// request ids.
	corsHeaders = "Accept, Accept-Language, Authorization, Cache-Control, Content-Language, Content-Type, " +
		"Tenant-ID, X-API-Key, X-Client-ID, X-Request-ID, X-Requested-With, X-Session-ID, X-Tenant, X-Tenant-ID"
	corsExpose = "Retry-After, X-Request-ID"
	corsMaxAge = "600"
)

// originAllowed reports whether a browser origin may call the server.
func (s *Server) originAllowed(origin string) bool {
	return slices.ContainsFunc(s.cfg.AllowedOrigins, func(o string) bool {
		return o == "*" || strings.EqualFold(strings.TrimRight(o, "/"), origin)
	})
}

// cors wraps h with CORS for the origins of Config.AllowedOrigins: a
// preflight (OPTIONS with Origin and Access-Control-Request-Method) from an
// allowed origin is answered 204 with the allowed methods and headers, one
// from another origin 403 without them; every other request from an
// allowed origin gets Access-Control-Allow-Origin. Preflights are not
// recorded (RESTRequests) and not counted by RateLimitREST. WebSocket
// handshakes pass through untouched.
func (s *Server) cors(h http.Handler) http.Handler {
	if len(s.cfg.AllowedOrigins) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			h.ServeHTTP(w, r)
			return
		}
		allowed := s.originAllowed(origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		hdr := w.Header()
		hdr.Add("Vary", "Origin")
		if preflight {
			hdr.Add("Vary", "Access-Control-Request-Method")
			hdr.Add("Vary", "Access-Control-Request-Headers")
		}
		if !allowed {
			if preflight {
				writeError(w, http.StatusForbidden, "cors_origin_not_allowed", "origin "+origin+" is not allowed; see -cors-origins (Config.AllowedOrigins)", 0)
				return
			}
			h.ServeHTTP(w, r)
			return
		}
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Set("Access-Control-Allow-Credentials", "true")
		if !preflight {
			hdr.Set("Access-Control-Expose-Headers", corsExpose)
			h.ServeHTTP(w, r)
			return
		}
		hdr.Set("Access-Control-Allow-Methods", corsMethods)
		hdr.Set("Access-Control-Allow-Headers", corsHeaders)
		hdr.Set("Access-Control-Max-Age", corsMaxAge)
		if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
			// Chromium's Private Network Access: a public page calling
			// a server on this machine.
			hdr.Set("Access-Control-Allow-Private-Network", "true")
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
