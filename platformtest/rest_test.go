package platformtest_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestREST_HealthEndpointsNeedNoTenant(t *testing.T) {
	srv := newServer(t, platformtest.Config{APIKey: "k", Tenants: []string{"a"}})
	for _, path := range []string{protocol.PathHealthz, protocol.PathHealth} {
		status, _, body := call(t, http.MethodGet, srv.URL()+path, nil, "")
		assert.Equal(t, http.StatusOK, status, path)
		assert.Equal(t, "healthy", decode(t, body)["status"], path)
		assert.Equal(t, platformtest.Version, decode(t, body)["version"], path)
	}
}

func TestREST_DisableHealthzAnswers404(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.DisableHealthz(true)
	status, _, body := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "Not Found", decode(t, body)["detail"])
	status, _, _ = call(t, http.MethodGet, srv.URL()+protocol.PathHealth, nil, "")
	assert.Equal(t, http.StatusOK, status, "the fallback still answers")
	srv.DisableHealthz(false)
	status, _, _ = call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
	assert.Equal(t, http.StatusOK, status)
}

func TestREST_TenantAndAPIKeyChecks(t *testing.T) {
	tests := []struct {
		name     string
		header   http.Header
		status   int
		wantCode string
	}{
		{"missing tenant is 400", http.Header{protocol.HeaderAPIKey: {"k"}}, http.StatusBadRequest, "tenant_required"},
		{"unknown tenant is 403", http.Header{protocol.HeaderAPIKey: {"k"}, protocol.HeaderTenantID: {"zz"}}, http.StatusForbidden, "tenant_not_found"},
		{"missing key is 401", http.Header{protocol.HeaderTenantID: {"a"}}, http.StatusUnauthorized, "invalid_api_key"},
		{"wrong key is 401", http.Header{protocol.HeaderAPIKey: {"x"}, protocol.HeaderTenantID: {"a"}}, http.StatusUnauthorized, "invalid_api_key"},
		{"X-Tenant is accepted", http.Header{protocol.HeaderAPIKey: {"k"}, protocol.HeaderTenant: {"a"}}, http.StatusOK, ""},
		{"Tenant-ID is accepted", http.Header{protocol.HeaderAPIKey: {"k"}, protocol.HeaderTenantPlain: {"a"}}, http.StatusOK, ""},
	}
	srv := newServer(t, platformtest.Config{APIKey: "k", Tenants: []string{"a"}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := call(t, http.MethodGet, srv.URL()+protocol.PathChatConfig, tt.header, "")
			require.Equal(t, tt.status, status, "%s", body)
			if tt.wantCode == "" {
				return
			}
			assert.Equal(t, "application/json", hdr.Get("Content-Type"))
			e := protocol.ParseAPIError(status, hdr.Get(protocol.HeaderRetryAfter), body, time.Now())
			assert.Equal(t, tt.wantCode, e.Code)
			assert.NotEmpty(t, e.Message)
		})
	}
}

func TestREST_CreateChatAnswers201AndStoresPerTenant(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	status, _, body := call(t, http.MethodPost, srv.URL()+protocol.PathChats, tenantHdr("a"),
		`{"session_id":"s","visitor_id":"v","title":"Support","context":{"k":1}}`)
	require.Equal(t, http.StatusCreated, status)
	var resp protocol.CreateChatResponse
	require.NoError(t, resp.UnmarshalJSON(body))
	assert.Equal(t, "Support", resp.Title)
	_, err := time.Parse(time.RFC3339Nano, resp.CreatedAt)
	require.NoError(t, err)

	// An empty body and the path without trailing slash are accepted.
	status, _, _ = call(t, http.MethodPost, srv.URL()+"/api/v1/chat", tenantHdr("b"), "")
	require.Equal(t, http.StatusCreated, status)

	chats := srv.Chats("a")
	require.Len(t, chats, 1)
	assert.Equal(t, resp.ChatID, chats[0].ChatID)
	assert.Equal(t, "a", chats[0].TenantID)
	assert.Len(t, srv.Chats("b"), 1)
	assert.Empty(t, srv.Chats("c"))

	status, _, body = call(t, http.MethodPost, srv.URL()+protocol.PathChats, tenantHdr("a"), `{"title":`)
	assert.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
}

func TestREST_ChatConfigServesMaxMessageLength(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  int
		want int
	}{{"zero means 4000", 0, 4000}, {"configured", 12, 12}} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{MaxMessageLength: tt.cfg})
			status, _, body := call(t, http.MethodGet, srv.URL()+protocol.PathChatConfig, tenantHdr("a"), "")
			require.Equal(t, http.StatusOK, status)
			assert.Equal(t, float64(tt.want), decode(t, body)["max_message_length"])
		})
	}
}

func TestREST_PostedMessageIsStoredAndAnsweredOverJoinedSockets(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	chatID := createChat(t, srv, "a")
	c := connect(t, srv, "a")
	c.join(chatID)

	status, _, body := call(t, http.MethodPost, srv.URL()+protocol.PathChatMessages(chatID), tenantHdr("a"),
		`{"content":"hi there","role":"user","metadata":{"client_message_id":"cm-1"}}`)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	posted := decode(t, body)
	userID := posted["id"].(string)
	assert.Equal(t, userID, posted["message_id"])
	assert.Equal(t, "hi there", posted["content"])
	assert.Equal(t, protocol.RoleUser, posted["role"])

	proc := c.next()
	require.Equal(t, protocol.TypeProcessing, proc.Type, "no message_received for a REST message")
	assert.Equal(t, userID, proc.str("message_id"))
	assert.Equal(t, "cm-1", proc.str("client_message_id"))
	complete := c.until(protocol.TypeResponseComplete)
	assert.Equal(t, platformtest.ReplyText("hi there"), complete.str("content"))
	assert.Equal(t, userID, complete.str("user_message_id"))

	status, _, body = call(t, http.MethodGet, srv.URL()+protocol.PathChatMessages(chatID), tenantHdr("a"), "")
	require.Equal(t, http.StatusOK, status)
	hist, err := protocol.ParseHistory(body)
	require.NoError(t, err)
	require.Len(t, hist, 2)
	assert.Equal(t, userID, hist[0].ID)
	assert.Equal(t, protocol.RoleUser, hist[0].Role)
	assert.Equal(t, protocol.RoleAssistant, hist[1].Role)
	assert.Equal(t, complete.str("message_id"), hist[1].ID)
	assert.Equal(t, platformtest.ReplyText("hi there"), hist[1].Content)
	assert.NotEmpty(t, hist[1].Timestamp)
	assert.Equal(t, hist, srv.Messages(chatID))
}

func TestREST_MessagesRejectsInvalidAndUnknown(t *testing.T) {
	srv := newServer(t, platformtest.Config{MaxMessageLength: 5})
	chatID := createChat(t, srv, "a")
	tests := []struct {
		name   string
		chat   string
		tenant string
		body   string
		status int
	}{
		{"empty content is 422", chatID, "a", `{"content":"  ","role":"user"}`, http.StatusUnprocessableEntity},
		{"too long is 422", chatID, "a", `{"content":"123456","role":"user"}`, http.StatusUnprocessableEntity},
		{"assistant role is 422", chatID, "a", `{"content":"x","role":"assistant"}`, http.StatusUnprocessableEntity},
		{"bad JSON is 422", chatID, "a", `{`, http.StatusUnprocessableEntity},
		{"unknown chat is 404", "nope", "a", `{"content":"x","role":"user"}`, http.StatusNotFound},
		{"other tenant's chat is 404", chatID, "b", `{"content":"x","role":"user"}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := call(t, http.MethodPost, srv.URL()+protocol.PathChatMessages(tt.chat), tenantHdr(tt.tenant), tt.body)
			require.Equal(t, tt.status, status, "%s", body)
			e := protocol.ParseAPIError(status, hdr.Get(protocol.HeaderRetryAfter), body, time.Now())
			assert.NotEmpty(t, e.Message)
			if status == http.StatusUnprocessableEntity {
				assert.NotEmpty(t, e.Fields, "validation errors have a list-shaped detail")
			}
		})
	}
	status, _, _ := call(t, http.MethodGet, srv.URL()+protocol.PathChatMessages("nope"), tenantHdr("a"), "")
	assert.Equal(t, http.StatusNotFound, status)
	status, _, body := call(t, http.MethodGet, srv.URL()+protocol.PathChatMessages(chatID), tenantHdr("a"), "")
	require.Equal(t, http.StatusOK, status)
	assert.True(t, strings.Contains(string(body), `"items":[]`), "%s", body)
	assert.Empty(t, srv.Messages(chatID))
}

func TestREST_UnknownPathIs404(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	status, _, body := call(t, http.MethodGet, srv.URL()+"/api/v1/nothing", nil, "")
	assert.Equal(t, http.StatusNotFound, status)
	assert.Equal(t, "Not Found", decode(t, body)["detail"])
}

func TestREST_RequestsAreRecordedWithStatus(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, http.Header{"User-Agent": {"miptech-go/test"}}, "")
	call(t, http.MethodGet, srv.URL()+protocol.PathChatConfig, nil, "")
	reqs := srv.RESTRequests()
	require.Len(t, reqs, 2)
	assert.Equal(t, protocol.PathHealthz, reqs[0].Path)
	assert.Equal(t, http.MethodGet, reqs[0].Method)
	assert.Equal(t, "miptech-go/test", reqs[0].Header.Get("User-Agent"))
	assert.Equal(t, http.StatusOK, reqs[0].Status)
	assert.Equal(t, http.StatusBadRequest, reqs[1].Status)
}
