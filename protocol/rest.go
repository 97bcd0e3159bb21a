package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// REST paths, relative to the API URL.
const (
	PathHealthz    = "/healthz"
	PathHealth     = "/api/v1/health"
	PathChats      = "/api/v1/chat/"
	PathChatConfig = "/api/v1/chat/config"
	PathWebSocket  = "/api/v1/ws/chat"
	// PathSession exchanges an API key for a WebSocket session token in the
	// realtime form (SPEC §2.4).
	PathSession       = "/api/auth/session"
	pathChatMessagesF = "/api/v1/chat/%s/messages"
)

// PathChatMessages returns the path of a chat's messages, with the chat id
// escaped as one path segment. It never holds a dot segment: url.PathEscape
// leaves "." and ".." as they are, which a normalising proxy would resolve
// (/api/v1/chat/../messages is /api/v1/messages), so their dots are
// percent-encoded. Callers should refuse such ids before (the client does).
func PathChatMessages(chatID string) string {
	seg := url.PathEscape(chatID)
	if seg == "." || seg == ".." {
		seg = strings.ReplaceAll(seg, ".", "%2E")
	}
	return fmt.Sprintf(pathChatMessagesF, seg)
}

// Headers sent on every REST request and on the WebSocket handshake.
const (
	HeaderTenantID    = "X-Tenant-ID"
	HeaderTenant      = "X-Tenant"
	HeaderTenantPlain = "Tenant-ID"
	HeaderAPIKey      = "X-API-Key"
	HeaderRetryAfter  = "Retry-After"
)

// WebSocket query parameters.
const (
	QueryTenantID = "tenant_id"
	QueryChatID   = "chat_id"
	QueryClientID = "client_id"
)

// Health is the answer of GET /healthz.
type Health struct {
	// Status is "healthy" when the platform is up.
	Status string `json:"status"`
}

// CreateChatRequest is the body of POST /api/v1/chat/.
type CreateChatRequest struct {
	// SessionID is the caller's session id, if any.
	SessionID string `json:"session_id,omitempty"`
	// VisitorID is the end user's id, if any.
	VisitorID string `json:"visitor_id,omitempty"`
	// Title is the chat's title, if any.
	Title string `json:"title,omitempty"`
	// Context is free-form data the platform stores with the chat.
	Context map[string]any `json:"context,omitempty"`
}

// CreateChatResponse is the answer of POST /api/v1/chat/. The platform puts
// the id in chat_id or in id; ChatID holds whichever was given.
type CreateChatResponse struct {
	// ChatID is the new chat's id (chat_id, else id; a numeric id is
	// rendered in decimal).
	ChatID string `json:"chat_id"`
	// Title is the chat's title, if the platform returned one.
	Title string `json:"title,omitempty"`
	// CreatedAt is the creation time as the platform wrote it, if given.
	CreatedAt string `json:"created_at,omitempty"`
}

// UnmarshalJSON accepts the id as chat_id or id.
func (r *CreateChatResponse) UnmarshalJSON(b []byte) error {
	var raw struct {
		ChatID    string          `json:"chat_id"`
		ID        json.RawMessage `json:"id"`
		Title     string          `json:"title"`
		CreatedAt string          `json:"created_at"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	r.ChatID, r.Title, r.CreatedAt = raw.ChatID, raw.Title, raw.CreatedAt
	if r.ChatID == "" && len(raw.ID) > 0 {
		r.ChatID = idString(raw.ID)
	}
	if r.ChatID == "" {
		return errors.New("protocol: chat creation answer has neither chat_id nor id")
	}
	return nil
}

// SendMessageRequest is the body of POST /api/v1/chat/{id}/messages.
type SendMessageRequest struct {
	// Content is the message text.
	Content string `json:"content"`
	// Role is the author's role; the client sends RoleUser.
	Role string `json:"role"`
	// Metadata is free-form data stored with the message, such as the
	// client_message_id.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// HistoryMessage is one message of GET /api/v1/chat/{id}/messages.
type HistoryMessage struct {
	// ID is the platform's message id; a numeric id is rendered in decimal.
	ID string `json:"id"`
	// Content is the message text.
	Content string `json:"content"`
	// Role is RoleUser, RoleAssistant or RoleSystem.
	Role string `json:"role"`
	// Timestamp is the message time as the platform wrote it: an RFC 3339
	// string, or the digits of an epoch number.
	Timestamp string `json:"timestamp,omitempty"`
	// Metadata is the message's metadata, if any.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// UnmarshalJSON accepts a numeric or string id and a timestamp given as a
// string or a number.
func (m *HistoryMessage) UnmarshalJSON(b []byte) error {
	var raw struct {
		ID        json.RawMessage `json:"id"`
		Content   string          `json:"content"`
		Role      string          `json:"role"`
		Timestamp json.RawMessage `json:"timestamp"`
		Metadata  map[string]any  `json:"metadata"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.ID = idString(raw.ID)
	m.Content, m.Role, m.Metadata = raw.Content, raw.Role, raw.Metadata
	m.Timestamp = idString(raw.Timestamp)
	return nil
}

// ParseHistory decodes the answer of GET /api/v1/chat/{id}/messages, given as
// {"items": [...]} (also "messages") or as a bare array.
func ParseHistory(body []byte) ([]HistoryMessage, error) {
	var list []HistoryMessage
	if err := json.Unmarshal(body, &list); err == nil {
		return list, nil
	}
	var wrapped struct {
		Items    []HistoryMessage `json:"items"`
		Messages []HistoryMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &wrapped); err != nil {
		return nil, fmt.Errorf("protocol: history is neither an array nor {\"items\": [...]}: %w", err)
	}
	if wrapped.Items != nil {
		return wrapped.Items, nil
	}
	return wrapped.Messages, nil
}

// ChatConfig is the answer of GET /api/v1/chat/config.
type ChatConfig struct {
	// MaxMessageLength is the longest message the platform accepts, in
	// characters; 0 when not given.
	MaxMessageLength int `json:"max_message_length"`
}

// idString renders a JSON string or number as a string; anything else is "".
func idString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}
