package platformtest

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
)

// DefaultTokenTTL is the lifetime of session tokens when Config.TokenTTL is
// zero.
const DefaultTokenTTL = time.Hour

// PathSession is the endpoint that issues session tokens in
// ProtocolTenantApp: POST with "Authorization: ApiKey <key>" and
// {"tenant_id"}.
const PathSession = "/api/auth/session"

// Codes of the error bodies of the session endpoint and of the refused
// handshakes of ProtocolTenantApp, in "code".
const (
	// CodeInvalidAPIKey: the session request carried no API key, or one
	// that is not accepted.
	CodeInvalidAPIKey = "INVALID_API_KEY"
	// CodeTokenMissing: the handshake offered no "bearer", <token>
	// subprotocols.
	CodeTokenMissing = "TOKEN_MISSING"
	// CodeTokenInvalid: the handshake offered a token the server never
	// issued.
	CodeTokenInvalid = "INVALID_TOKEN"
	// CodeTokenExpired: the handshake offered a token past its expires_at
	// (or expired by ExpireTokens).
	CodeTokenExpired = "TOKEN_EXPIRED"
	// CodeTokenTenant: the handshake's tenant_id is not the tenant the
	// token was issued for.
	CodeTokenTenant = "TOKEN_TENANT_MISMATCH"
	// CodeTenantNotFound: the session request names a tenant not in
	// Config.Tenants.
	CodeTenantNotFound = "TENANT_NOT_FOUND"
)

// bearerProtocol is the subprotocol a client offers before its token.
const bearerProtocol = "bearer"

// SessionInfo is a session token the server issued.
type SessionInfo struct {
	// SessionID is the session_id of the answer.
	SessionID string
	// TenantID is the tenant the token is valid for.
	TenantID string
	// Token is the websocket_token. It is a secret: the control API never
	// shows it.
	Token string
	// IssuedAt is when it was issued.
	IssuedAt time.Time
	// ExpiresAt is its expires_at; ExpireTokens moves it to the time of
	// the call.
	ExpiresAt time.Time
}

// session is an issued token. Guarded by Server.mu.
type session struct {
	info SessionInfo
}

// newToken returns an opaque token that is a valid subprotocol name.
func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "wst_" + hex.EncodeToString(b)
}

// keyAccepted reports whether key may obtain a session token.
func (s *Server) keyAccepted(key string) bool {
	if key == "" {
		return false
	}
	if len(s.apiKeys) == 0 {
		return true
	}
	return s.apiKeys[key]
}

// writeCodeError answers in the tenant apps' error shape {"detail", "code"}.
func writeCodeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, map[string]any{"detail": detail, "code": code})
}

// handleSession answers POST /api/auth/session: 200 {websocket_token,
// session_id, expires_at} for an accepted API key and tenant.
func (s *Server) handleSession(w http.ResponseWriter, r *http.Request, _ string) {
	scheme, key, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	if !strings.EqualFold(scheme, "ApiKey") || !s.keyAccepted(strings.TrimSpace(key)) {
		writeCodeError(w, http.StatusUnauthorized, CodeInvalidAPIKey, "Invalid or missing API key: send Authorization: ApiKey <key>")
		return
	}
	var body struct {
		TenantID string `json:"tenant_id"`
	}
	if err := decodeBody(r, &body); err != nil {
		writeValidation(w, "body", err.Error())
		return
	}
	tenant := strings.TrimSpace(body.TenantID)
	if tenant == "" {
		writeValidation(w, "tenant_id", "field required: tenant_id")
		return
	}
	if !s.tenantAccepted(tenant) {
		writeCodeError(w, http.StatusForbidden, CodeTenantNotFound, "Tenant not found or inactive")
		return
	}
	now := time.Now()
	s.mu.Lock()
	sess := &session{info: SessionInfo{
		SessionID: uuid.NewString(),
		TenantID:  tenant,
		Token:     newToken(),
		IssuedAt:  now,
		ExpiresAt: now.Add(s.tokenTTL),
	}}
	s.sessions[sess.info.Token] = sess
	s.sessionOrder = append(s.sessionOrder, sess)
	info := sess.info
	s.bumpLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"websocket_token": info.Token,
		"session_id":      info.SessionID,
		"expires_at":      info.ExpiresAt.UTC().Format(time.RFC3339Nano),
	})
}

// offeredToken returns the token a handshake offers after the "bearer"
// subprotocol, or "".
func offeredToken(r *http.Request) string {
	protos := websocket.Subprotocols(r)
	i := slices.Index(protos, bearerProtocol)
	if i < 0 || i+1 >= len(protos) {
		return ""
	}
	return protos[i+1]
}

// checkToken returns the tenant of a ProtocolTenantApp handshake offering
// token for tenant ("" takes the token's), or the code and detail of its
// refusal (HTTP 401).
func (s *Server) checkToken(token, tenant string, now time.Time) (string, string, string) {
	if token == "" {
		return "", CodeTokenMissing, "no session token: offer the subprotocols bearer, <websocket_token> from POST " + PathSession
	}
	s.mu.Lock()
	sess := s.sessions[token]
	var info SessionInfo
	if sess != nil {
		info = sess.info
	}
	s.mu.Unlock()
	switch {
	case sess == nil:
		return "", CodeTokenInvalid, "session token not recognised: get one from POST " + PathSession
	case !now.Before(info.ExpiresAt):
		return "", CodeTokenExpired, "session token expired: get a new one from POST " + PathSession
	case tenant != "" && tenant != info.TenantID:
		return "", CodeTokenTenant, "session token was issued for another tenant"
	}
	return info.TenantID, "", ""
}

// SetTokenTTL changes Config.TokenTTL for tokens issued from now on. Zero
// or less means DefaultTokenTTL.
func (s *Server) SetTokenTTL(d time.Duration) {
	if d <= 0 {
		d = DefaultTokenTTL
	}
	s.mu.Lock()
	s.tokenTTL = d
	s.mu.Unlock()
}

// ExpireTokens makes every session token issued so far expire now: a
// handshake offering one is refused with 401 (code TOKEN_EXPIRED), so a
// client must get a new token. With closeCode not zero, the live
// connections opened with a token are also closed with that code (for
// example 4401; 1006 resets them); with zero they stay open, as the
// platform checks the token at the handshake only.
func (s *Server) ExpireTokens(closeCode int) {
	now := time.Now()
	s.mu.Lock()
	for _, sess := range s.sessionOrder {
		if sess.info.ExpiresAt.After(now) {
			sess.info.ExpiresAt = now
		}
	}
	var conns []*conn
	if closeCode != 0 {
		for _, c := range s.liveConnsLocked(false) {
			if c.token != "" {
				conns = append(conns, c)
			}
		}
	}
	s.bumpLocked()
	s.mu.Unlock()
	s.shutdownAll(conns, closeCode)
}

// Sessions returns the session tokens issued, in order.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SessionInfo, len(s.sessionOrder))
	for i, sess := range s.sessionOrder {
		out[i] = sess.info
	}
	return out
}

// HandshakeTokens returns the session token each WebSocket handshake
// attempt offered after the "bearer" subprotocol, in order ("" for an
// attempt that offered none); the latest Config.MaxRecords, one for each of
// HandshakeRequests.
func (s *Server) HandshakeTokens() []string {
	recs := s.HandshakeRequests()
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = offeredToken(&http.Request{Header: r.Header})
	}
	return out
}
