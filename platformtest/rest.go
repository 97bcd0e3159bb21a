package platformtest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Version is the version the health endpoints report in "version".
const Version = "platformtest-0.1.0"

// maxBody bounds a REST request body.
const maxBody = 1 << 20

// restHandler serves one REST endpoint for an authenticated tenant ("" for
// endpoints that need none).
type restHandler func(w http.ResponseWriter, r *http.Request, tenant string)

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// rest wraps a handler with the request log, the REST rate-limit fault,
// the forms of the protocol that serve the endpoint (404 in the others)
// and, when auth is set, the API key and tenant header checks.
func (s *Server) rest(h restHandler, auth bool, in forms) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		entry := newRequestRecord(r)
		s.restLog.add(entry, s.cfg.MaxRecords)
		limited := s.faults.take(&s.faults.rateLimitREST) != 0
		retryAfter := s.faults.retryAfter
		served := in.has(s.protocol)
		s.bumpLocked()
		s.mu.Unlock()

		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.mu.Lock()
			entry.Status = rec.status
			s.bumpLocked()
			s.mu.Unlock()
			s.log.Debug("platformtest: request", "method", r.Method, "path", r.URL.Path, "status", rec.status)
		}()
		if limited {
			writeError(rec, http.StatusTooManyRequests, "rate_limit_exceeded", "Rate limit exceeded", retryAfter)
			return
		}
		if !served {
			handleNotFound(rec, r, "")
			return
		}
		tenant := ""
		if auth {
			if s.cfg.APIKey != "" && r.Header.Get(protocol.HeaderAPIKey) != s.cfg.APIKey {
				writeError(rec, http.StatusUnauthorized, "invalid_api_key", "Invalid or missing API key", 0)
				return
			}
			tenant = tenantHeader(r.Header)
			if tenant == "" {
				writeError(rec, http.StatusBadRequest, "tenant_required", "X-Tenant-ID header is required", 0)
				return
			}
			if !s.tenantAccepted(tenant) {
				writeError(rec, http.StatusForbidden, "tenant_not_found", "Tenant not found or inactive", 0)
				return
			}
		}
		h(rec, r, tenant)
	})
}

// tenantHeader returns the tenant id of X-Tenant-ID, X-Tenant or Tenant-ID.
func tenantHeader(h http.Header) string {
	for _, k := range []string{protocol.HeaderTenantID, protocol.HeaderTenant, protocol.HeaderTenantPlain} {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return v
		}
	}
	return ""
}

// writeJSON answers status with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError answers in the platform's error shape {"detail", "error_code"},
// with retry_after and a Retry-After header when retryAfter is positive.
func writeError(w http.ResponseWriter, status int, code, detail string, retryAfter time.Duration) {
	body := map[string]any{"detail": detail, "error_code": code}
	if retryAfter > 0 {
		body["retry_after"] = seconds(retryAfter)
		w.Header().Set(protocol.HeaderRetryAfter, RetryAfterHeader(retryAfter))
	}
	writeJSON(w, status, body)
}

// RetryAfterHeader renders d as a Retry-After header value in seconds: an
// integer for whole seconds, else a decimal ("0.25"). RFC 9110 allows only
// integers; set whole seconds with SetRetryAfter for strict clients.
func RetryAfterHeader(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10)
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}

// errorCodeFor names the error code of an injected HTTP status.
func errorCodeFor(status int) string {
	switch {
	case status == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case status == http.StatusUnauthorized:
		return "invalid_api_key"
	case status == http.StatusForbidden:
		return "forbidden"
	case status == http.StatusNotFound:
		return "not_found"
	case status >= 500:
		return "internal_error"
	}
	return "bad_request"
}

// handleHealthz answers GET /healthz (404 while DisableHealthz is on).
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request, tenant string) {
	s.mu.Lock()
	off := s.faults.noHealthz
	s.mu.Unlock()
	if off {
		handleNotFound(w, r, tenant)
		return
	}
	s.handleHealth(w, r, tenant)
}

// handleHealth answers GET /api/v1/health.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request, _ string) {
	s.mu.Lock()
	conns := len(s.conns)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"status":      "healthy",
		"service":     "platformtest",
		"version":     Version,
		"connections": conns,
		"timestamp":   time.Now().UTC().Format(time.RFC3339Nano),
	})
}

// handleNotFound answers 404 the way the platform's framework does.
func handleNotFound(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusNotFound, map[string]any{"detail": "Not Found"})
}

// handleCreateChat answers POST /api/v1/chat/ with 201 {chat_id, title,
// created_at}.
func (s *Server) handleCreateChat(w http.ResponseWriter, r *http.Request, tenant string) {
	var body protocol.CreateChatRequest
	if err := decodeBody(r, &body); err != nil {
		writeValidation(w, "body", err.Error())
		return
	}
	now := time.Now()
	s.mu.Lock()
	if status := s.faults.take(&s.faults.failCreate); status != 0 {
		s.mu.Unlock()
		writeError(w, status, "chat_creation_failed", "Failed to create chat (fault injected)", 0)
		return
	}
	c := s.store.create(tenant, body.Title, now)
	s.bumpLocked()
	info := c.info
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"chat_id":    info.ChatID,
		"title":      info.Title,
		"created_at": info.CreatedAt.UTC().Format(time.RFC3339Nano),
		"tenant_id":  tenant,
	})
}

// handleChatConfig answers GET /api/v1/chat/config.
func (s *Server) handleChatConfig(w http.ResponseWriter, _ *http.Request, _ string) {
	writeJSON(w, http.StatusOK, map[string]any{
		"max_message_length": s.cfg.MaxMessageLength,
		"streaming":          true,
		"llm_model":          Model,
	})
}

// handleGetMessages answers GET /api/v1/chat/{id}/messages with
// {"items": [...], "total": n}.
func (s *Server) handleGetMessages(w http.ResponseWriter, r *http.Request, tenant string) {
	chatID := r.PathValue("id")
	s.mu.Lock()
	c := s.store.get(tenant, chatID)
	var items []protocol.HistoryMessage
	if c != nil {
		items = append(items, c.messages...)
	}
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusNotFound, "chat_not_found", "Chat not found", 0)
		return
	}
	if items == nil {
		items = []protocol.HistoryMessage{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "total": len(items)})
}

// handlePostMessage answers POST /api/v1/chat/{id}/messages: it stores the
// user message, answers 201 with it, and produces the reply over the sockets
// joined to the chat.
func (s *Server) handlePostMessage(w http.ResponseWriter, r *http.Request, tenant string) {
	chatID := r.PathValue("id")
	var body protocol.SendMessageRequest
	if err := decodeBody(r, &body); err != nil {
		writeValidation(w, "body", err.Error())
		return
	}
	switch {
	case strings.TrimSpace(body.Content) == "":
		writeValidation(w, "content", "field required: content must not be empty")
		return
	case utf8.RuneCountInString(body.Content) > s.cfg.MaxMessageLength:
		writeValidation(w, "content", "content longer than "+strconv.Itoa(s.cfg.MaxMessageLength)+" characters")
		return
	case body.Role != "" && body.Role != protocol.RoleUser:
		writeValidation(w, "role", "role must be \"user\"")
		return
	}
	cmid, _ := body.Metadata["client_message_id"].(string)
	now := time.Now()
	msgID := uuid.NewString()
	s.mu.Lock()
	if s.store.get(tenant, chatID) == nil {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "chat_not_found", "Chat not found", 0)
		return
	}
	msg := historyMessage(msgID, protocol.RoleUser, body.Content, now, body.Metadata)
	s.store.add(tenant, chatID, msg, now)
	s.bumpLocked()
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{
		"id":         msg.ID,
		"message_id": msg.ID,
		"chat_id":    chatID,
		"content":    msg.Content,
		"role":       msg.Role,
		"timestamp":  msg.Timestamp,
	})
	s.submit(job{
		req: Request{
			TenantID:        tenant,
			ChatID:          chatID,
			ClientMessageID: cmid,
			MessageID:       msgID,
			Text:            body.Content,
		},
		received: now,
	})
}

// decodeBody reads an optional JSON body into v; an empty body is valid.
func decodeBody(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return errors.New("invalid JSON body: " + err.Error())
	}
	return nil
}

// writeValidation answers 422 with a list-shaped detail, as the platform's
// framework does.
func writeValidation(w http.ResponseWriter, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"detail": []map[string]any{{
			"loc":  []string{"body", field},
			"msg":  msg,
			"type": "value_error",
		}},
		"error_code": "validation_error",
	})
}
