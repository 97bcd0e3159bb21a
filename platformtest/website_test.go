package platformtest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestWebsite_RESTServesHealthzAndNothingElse(t *testing.T) {
	srv := newServer(t, platformtest.Config{Protocol: platformtest.ProtocolWebsite})
	status, _, body := call(t, http.MethodGet, srv.URL()+protocol.PathHealthz, nil, "")
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "healthy", decode(t, body)["status"])

	hdr := tenantHdr("acme")
	for _, r := range []struct{ method, path string }{
		{http.MethodPost, protocol.PathChats},
		{http.MethodPost, "/api/v1/chat"},
		{http.MethodGet, protocol.PathHealth},
		{http.MethodGet, protocol.PathChatConfig},
		{http.MethodGet, protocol.PathChatMessages("c1")},
		{http.MethodPost, protocol.PathChatMessages("c1")},
		{http.MethodPost, platformtest.PathSession},
		{http.MethodGet, "/anything"},
	} {
		status, _, body := call(t, r.method, srv.URL()+r.path, hdr, `{"content":"hi"}`)
		assert.Equal(t, http.StatusNotFound, status, "%s %s: %s", r.method, r.path, body)
	}
	assert.Empty(t, srv.Chats("acme"), "nothing was created")
}

func TestWebsite_HandshakeNeedsTenantOnlyAndGreetsAsREST(t *testing.T) {
	srv := newServer(t, platformtest.Config{Protocol: platformtest.ProtocolWebsite, APIKey: "secret"})
	c := dial(t, srv, "acme") // no X-API-Key: the website sends no credential
	c.expect(protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress, protocol.TypeInitializationProgress, protocol.TypeConnectionReady)
	conns := srv.Connections()
	require.Len(t, conns, 1)
	assert.Equal(t, platformtest.ProtocolWebsite, conns[0].Protocol)
	assert.True(t, conns[0].Ready)

	_, resp, err := dialRaw(t, srv, url.Values{}, nil)
	require.Error(t, err)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "tenant_id stays required")
}

func TestWebsite_JoinRightAfterOpenCreatesChatAnnouncedWithTopLevelID(t *testing.T) {
	srv := newServer(t, platformtest.Config{Protocol: platformtest.ProtocolWebsite})
	srv.WithholdReady(true)
	c := dial(t, srv, "acme")
	c.send(protocol.TypeJoinChat, map[string]any{"channel": "website", "create": true})
	c.expect(protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress,
		protocol.TypeInitializationProgress, protocol.TypeInitializationProgress)
	created := c.next()
	require.Equal(t, protocol.TypeChatCreated, created.Type, "answered before connection_ready: %s", created.Raw)
	id, _ := created.Top["chat_id"].(string)
	require.NotEmpty(t, id, "the id stands at the top level: %s", created.Raw)
	assert.NotContains(t, created.Data, "chat_id", "and only there")
	c.quiet() // no chat_joined follows
	chats := srv.Chats("acme")
	require.Len(t, chats, 1)
	assert.Equal(t, id, chats[0].ChatID)
	assert.Equal(t, []string{id}, srv.Connections()[0].Joined)

	srv.WithholdReady(false)
	assert.Equal(t, protocol.TypeConnectionReady, c.next().Type)
}

func TestWebsite_JoinOfAnExistingChatIsAnsweredChatJoined(t *testing.T) {
	srv := newServer(t, platformtest.Config{Protocol: platformtest.ProtocolWebsite})
	id := connect(t, srv, "acme").newChatIn(platformtest.ProtocolWebsite, "acme")

	c := connect(t, srv, "acme")
	c.send(protocol.TypeJoinChat, map[string]any{"chat_id": id})
	f := c.next()
	require.Equal(t, protocol.TypeChatJoined, f.Type, "%s", f.Raw)
	assert.Equal(t, id, f.str("chat_id"))

	c.send(protocol.TypeJoinChat, map[string]any{"chat_id": id, "create": true})
	f = c.next()
	require.Equal(t, protocol.TypeChatJoined, f.Type, "create:true for an existing chat joins it: %s", f.Raw)
	assert.Equal(t, id, f.str("chat_id"))

	c.send(protocol.TypeJoinChat, map[string]any{"chat_id": "f47ac10b-58cc-4372-a567-0e02b2c3d479", "create": true})
	f = c.next()
	require.Equal(t, protocol.TypeChatCreated, f.Type, "%s", f.Raw)
	other, _ := f.Top["chat_id"].(string)
	assert.NotEqual(t, "f47ac10b-58cc-4372-a567-0e02b2c3d479", other, "the server chooses the id of a new chat")
	assert.Len(t, srv.Chats("acme"), 2)
}

func TestWebsite_MessageGoesToTheJoinedChatAndStreamsTheFullSequence(t *testing.T) {
	srv := newServer(t, platformtest.Config{Protocol: platformtest.ProtocolWebsite})
	c := connect(t, srv, "acme")
	id := c.newChatIn(platformtest.ProtocolWebsite, "acme")
	for _, explicit := range []string{"", id} {
		c.ask(explicit, "hello there world")
		fs := c.expect(protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeResponseStart,
			protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseComplete)
		var text strings.Builder
		for _, f := range fs {
			assert.Equal(t, id, f.str("chat_id"), "%s", f.Raw)
			if f.Type == protocol.TypeResponseChunk {
				text.WriteString(f.str("content"))
			}
		}
		assert.Equal(t, platformtest.ReplyText("hello there world"), text.String())
		assert.Equal(t, text.String(), fs[6].str("content"))
	}
	assert.Len(t, srv.Messages(id), 4)
}
