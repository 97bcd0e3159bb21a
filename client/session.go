package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// sessionRefreshMargin is how long before its expires_at a session token is
// replaced; a token with a shorter life is replaced when a tenth of it is
// left.
const sessionRefreshMargin = 30 * time.Second

// sessionTokens is the token source of the realtime form: it exchanges the
// API key for a session token (POST /api/auth/session, "Authorization:
// ApiKey <key>", body {"tenant_id"}), keeps it until shortly before its
// expires_at, and gets a new one after the platform refused it. Every token
// is registered with the redactor before it is used.
type sessionTokens struct {
	c *Client

	mu      sync.Mutex
	token   string
	renewAt time.Time // when the token is replaced
	refused error     // the key was refused when probed: the next get returns it
	absent  bool      // the platform has no session endpoint (the website variant)
	closes  int       // auth closes in a row of connections that lived briefly
}

// maxAuthCloses is how many connections in a row may be closed for their
// session token (4401, 4403) soon after they opened, each with a new token,
// before the client stops: a platform that refuses every new token refuses
// the tenant, and asking it again and again would be a storm.
const maxAuthCloses = 3

// authCloseBrief is how long a connection must have lived for its auth
// close to be an expiry rather than a refusal.
const authCloseBrief = time.Minute

// noteAuthClose counts a connection closed for its session token after
// living lived, and reports whether a new token may be tried.
func (s *sessionTokens) noteAuthClose(lived time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if lived >= authCloseBrief {
		s.closes = 0 // an expiry after a while: the token had worked
	}
	s.closes++
	return s.closes < maxAuthCloses
}

// sessionAnswer is the answer of the session endpoint.
type sessionAnswer struct {
	Token     string          `json:"websocket_token"`
	SessionID string          `json:"session_id"`
	ExpiresAt json.RawMessage `json:"expires_at"`
}

// get returns the current token, getting a new one when there is none or it
// is about to expire; fresh reports that it was obtained now.
func (s *sessionTokens) get(ctx context.Context) (tok string, fresh bool, err error) {
	s.mu.Lock()
	tok, at, refused, absent := s.token, s.renewAt, s.refused, s.absent
	s.refused = nil
	s.mu.Unlock()
	if refused != nil {
		return "", false, refused // asked a moment ago: not asked again
	}
	if absent {
		return "", false, nil
	}
	if tok != "" && s.c.clock.Now().Before(at) {
		return tok, false, nil
	}
	if err := s.fetch(ctx, false); err != nil {
		var apiErr *protocol.APIError
		if errors.As(err, &apiErr) && notServed(apiErr.Status) {
			return "", false, nil
		}
		return "", false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.token, s.token != "", nil
}

// dropCurrent forgets the current token (the platform closed a connection
// opened with it for authentication): the next get asks for a new one.
func (s *sessionTokens) dropCurrent() {
	s.mu.Lock()
	s.token = ""
	s.mu.Unlock()
}

// invalidate forgets tok after the platform refused it, so that the next
// get asks for a new one. It reports whether tok was the current token
// (false: a new one was already obtained, or the key itself was refused).
func (s *sessionTokens) invalidate(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok == "" || s.token != tok {
		return false
	}
	s.token = ""
	return true
}

// fetch asks the session endpoint for a token. A 401 or 403 answer is an
// error matching ErrUnauthorized; with remember, the next get returns it
// without asking again.
func (s *sessionTokens) fetch(ctx context.Context, remember bool) error {
	c := s.c
	body, _ := json.Marshal(map[string]string{"tenant_id": c.cfg.TenantID})
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RESTTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.APIURL+protocol.PathSession, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("client: build the session request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "miptech-go/"+Version)
	req.Header.Set("Authorization", "ApiKey "+c.cfg.APIKey)
	defer c.rest.afterCall()
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		var re *RedirectError
		if errors.As(err, &re) {
			return re
		}
		return &NetworkError{Op: http.MethodPost + " " + protocol.PathSession, Err: redactURLError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRESTBody))
	if err != nil {
		return &NetworkError{Op: http.MethodPost + " " + protocol.PathSession, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		apiErr := c.cfg.secrets.apiError(protocol.ParseAPIError(resp.StatusCode, resp.Header.Get(protocol.HeaderRetryAfter),
			c.cfg.secrets.bytes(data), c.clock.Now()))
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			err := fmt.Errorf("%w: the session endpoint refused the API key (%w)", ErrUnauthorized, apiErr)
			if remember {
				s.mu.Lock()
				s.refused = err
				s.mu.Unlock()
			}
			return err
		}
		if notServed(resp.StatusCode) {
			// No session endpoint: the variant that needs no token.
			s.mu.Lock()
			s.absent = true
			s.mu.Unlock()
			c.log.Debug("miptech: no session endpoint; connecting without a token")
		}
		return apiErr
	}
	var ans sessionAnswer
	if err := json.Unmarshal(data, &ans); err != nil || strings.TrimSpace(ans.Token) == "" {
		return fmt.Errorf("client: the session endpoint answered without a websocket_token")
	}
	c.cfg.secrets.noteToken(ans.Token) // redacted from here on
	now := c.clock.Now()
	renew := now.Add(DefaultMaxBackoff) // no expires_at: keep it a while, then ask again
	if exp, ok := parseExpiry(ans.ExpiresAt); ok {
		margin := min(sessionRefreshMargin, exp.Sub(now)/10)
		renew = exp.Add(-margin)
	}
	s.mu.Lock()
	s.token, s.renewAt, s.refused = ans.Token, renew, nil
	s.mu.Unlock()
	c.log.Debug("miptech: session token obtained", "renew_at", renew)
	return nil
}

// parseExpiry reads expires_at: an RFC 3339 string, or epoch seconds or
// milliseconds (a number below 1e11 is seconds).
func parseExpiry(raw json.RawMessage) (time.Time, bool) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return epoch(f), true
		}
		return time.Time{}, false
	}
	var f float64
	if json.Unmarshal(raw, &f) == nil && f > 0 {
		return epoch(f), true
	}
	return time.Time{}, false
}

func epoch(f float64) time.Time {
	if f < 1e11 {
		return time.UnixMilli(int64(f * 1000))
	}
	return time.UnixMilli(int64(f))
}

// wsToken returns the token to offer on the handshake: the user's Token
// when set, else in the realtime form with an API key a session token
// (session true; fresh when obtained now) unless the platform has no
// session endpoint, else none.
func (c *Client) wsToken(ctx context.Context) (tok string, session, fresh bool, err error) {
	if c.cfg.Token != nil {
		tok, err := c.cfg.Token(ctx)
		return tok, false, false, err
	}
	if c.cfg.APIKey == "" || !c.realtime() {
		return "", false, false, nil
	}
	tok, fresh, err = c.fs.tokens.get(ctx)
	return tok, tok != "", fresh, err
}
