package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/protocol"
)

// maxRESTBody bounds the REST answers read into memory.
const maxRESTBody = 8 << 20

// REST is the platform's REST API for one tenant. Get one from
// Client.REST. It is safe for concurrent use; every call honours its context
// and Config.RESTTimeout.
type REST struct {
	cfg    *Config // the Client's, read only
	clock  clock.Clock
	closed atomic.Bool // the Client was closed: no idle connection is kept
}

func newREST(cfg *Config) *REST {
	return &REST{cfg: cfg, clock: cfg.clock}
}

// Health checks liveness with GET /healthz, falling back to GET
// /api/v1/health when /healthz answers 404. Retryable failures are retried.
func (r *REST) Health(ctx context.Context) (protocol.Health, error) {
	return r.health(ctx, true)
}

// health checks liveness; the connection loop calls it without retries,
// since a failed check already counts as a failed connection attempt.
func (r *REST) health(ctx context.Context, retry bool) (protocol.Health, error) {
	var h protocol.Health
	err := r.do(ctx, http.MethodGet, protocol.PathHealthz, nil, &h, retry)
	var apiErr *protocol.APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
		err = r.do(ctx, http.MethodGet, protocol.PathHealth, nil, &h, retry)
	}
	return h, err
}

// CreateChat creates a conversation with POST /api/v1/chat/. It is not
// retried: a retry could create two chats. An answer whose chat id is not a
// valid one (see Client.OpenChat) is an error matching ErrValidation.
func (r *REST) CreateChat(ctx context.Context, req protocol.CreateChatRequest) (protocol.CreateChatResponse, error) {
	var resp protocol.CreateChatResponse
	if err := r.do(ctx, http.MethodPost, protocol.PathChats, req, &resp, false); err != nil {
		return resp, err
	}
	if err := checkChatID(resp.ChatID); err != nil {
		return protocol.CreateChatResponse{}, fmt.Errorf("client: the platform created a chat with an unusable id: %w", err)
	}
	return resp, nil
}

// PostMessage posts a user message with POST /api/v1/chat/{id}/messages. It
// is never retried, so that a message is never posted twice. An invalid chat
// id is refused with an error matching ErrValidation.
func (r *REST) PostMessage(ctx context.Context, chatID, content string, metadata map[string]any) error {
	if err := checkChatID(chatID); err != nil {
		return err
	}
	body := protocol.SendMessageRequest{Content: content, Role: protocol.RoleUser, Metadata: metadata}
	return r.do(ctx, http.MethodPost, protocol.PathChatMessages(chatID), body, nil, false)
}

// History returns a chat's messages with GET /api/v1/chat/{id}/messages,
// accepting both answer shapes ({"items": [...]} and a bare array). An
// invalid chat id is refused with an error matching ErrValidation.
func (r *REST) History(ctx context.Context, chatID string) ([]protocol.HistoryMessage, error) {
	if err := checkChatID(chatID); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	if err := r.do(ctx, http.MethodGet, protocol.PathChatMessages(chatID), nil, &raw, true); err != nil {
		return nil, err
	}
	return protocol.ParseHistory(raw)
}

// ChatConfig returns the platform's chat limits with GET /api/v1/chat/config.
func (r *REST) ChatConfig(ctx context.Context) (protocol.ChatConfig, error) {
	var cc protocol.ChatConfig
	err := r.do(ctx, http.MethodGet, protocol.PathChatConfig, nil, &cc, true)
	return cc, err
}

// do sends one request, retrying retryable failures with backoff when
// idempotent is true. out, when not nil, receives the decoded JSON answer.
func (r *REST) do(ctx context.Context, method, path string, in, out any, idempotent bool) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("client: encode %s %s body: %w", method, path, err)
		}
	}
	attempts := 1
	if idempotent {
		attempts = r.cfg.RESTRetries
	}
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(250*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.2),
		backoff.WithMaxInterval(5*time.Second),
		backoff.WithMaxElapsedTime(0),
	)
	b.Clock = r.clock
	for i := 1; ; i++ {
		err := r.once(ctx, method, path, body, out)
		if err == nil || i >= attempts || !retryableREST(err) || ctx.Err() != nil {
			return err
		}
		wait := b.NextBackOff()
		var apiErr *protocol.APIError
		if errors.As(err, &apiErr) && apiErr.RetryAfter > wait {
			wait = apiErr.RetryAfter
		}
		r.cfg.Logger.Debug("miptech: retrying REST call", "method", method, "path", logURL{path, r.cfg.secrets}, "attempt", i, "wait", wait, "err", err)
		t := r.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C():
		}
	}
}

func (r *REST) once(ctx context.Context, method, path string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RESTTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.cfg.APIURL+path, rd)
	if err != nil {
		return fmt.Errorf("client: build %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if err := setAuthHeaders(ctx, req.Header, r.cfg, true); err != nil {
		return err
	}
	if r.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		r.cfg.Logger.Debug("miptech: REST request", "method", method, "url", logURL{req.URL.String(), r.cfg.secrets},
			"header", logHeader{req.Header, r.cfg.secrets})
	}
	defer r.afterCall() // after the body is closed and its connection idle
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		var re *RedirectError
		if errors.As(err, &re) {
			return re
		}
		return &NetworkError{Op: method + " " + path, Err: redactURLError(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxRESTBody))
	if err != nil {
		return &NetworkError{Op: method + " " + path, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The body is the platform's: the credentials are taken out before
		// it is parsed (and cut), and out of every field after.
		apiErr := protocol.ParseAPIError(resp.StatusCode, resp.Header.Get(protocol.HeaderRetryAfter), r.cfg.secrets.bytes(data), r.clock.Now())
		return r.cfg.secrets.apiError(apiErr)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: decode answer of %s %s: %w", method, path, err)
	}
	return nil
}

// afterCall closes the idle connections of the SDK's own transport once the
// Client is closed, so that a call that ends after Close leaves no
// keep-alive connection behind.
func (r *REST) afterCall() {
	if r.closed.Load() {
		r.closeIdle()
	}
}

// closeIdle closes the idle connections of the SDK's own transport; a
// user-supplied HTTP client is left alone.
func (r *REST) closeIdle() {
	if r.cfg.transport != nil {
		r.cfg.transport.CloseIdleConnections()
	}
}

// NetworkError is a REST call that got no HTTP answer. It is retryable.
type NetworkError struct {
	// Op is the method and path.
	Op string
	// Err is the transport error.
	Err error
}

// Error describes the failure.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("client: %s: no answer from the platform: %v; check APIURL and the network", e.Op, e.Err)
}

// Unwrap returns the transport error.
func (e *NetworkError) Unwrap() error { return e.Err }

// retryableREST reports whether a REST failure may succeed if repeated.
func retryableREST(err error) bool {
	var apiErr *protocol.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Retryable
	}
	var netErr *NetworkError
	return errors.As(err, &netErr) && !errors.Is(err, context.Canceled)
}

// setAuthHeaders sets the tenant headers, the API key, the User-Agent and,
// for REST, the bearer token.
func setAuthHeaders(ctx context.Context, h http.Header, cfg *Config, bearer bool) error {
	h.Set(protocol.HeaderTenantID, cfg.TenantID)
	h.Set(protocol.HeaderTenant, cfg.TenantID)
	h.Set(protocol.HeaderTenantPlain, cfg.TenantID)
	h.Set("User-Agent", "miptech-go/"+Version)
	if cfg.APIKey != "" {
		h.Set(protocol.HeaderAPIKey, cfg.APIKey)
	}
	if bearer && cfg.Token != nil {
		tok, err := cfg.Token(ctx)
		if err != nil {
			return fmt.Errorf("client: token source: %w", err)
		}
		if tok != "" {
			h.Set("Authorization", "Bearer "+tok)
		}
	}
	return nil
}

// redactURLError strips the URL out of a *url.Error, keeping the operation
// and the cause. The SDK never puts a secret in a URL, but a user-supplied
// URL might carry one.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
