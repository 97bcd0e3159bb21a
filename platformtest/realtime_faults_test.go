package platformtest_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

// realtimeHandshake dials as a client of form would, with a fresh token in
// the tenant-app form, and returns the answer and the error.
func realtimeHandshake(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) (*http.Response, error) {
	t.Helper()
	q := url.Values{"tenant_id": {"acme"}}
	var protos []string
	if form == platformtest.ProtocolTenantApp {
		protos = []string{"bearer", issueToken(t, srv, "k", "acme")}
	}
	_, resp, err := dialProtocols(t, srv, q, protos...)
	return resp, err
}

// replyEnd reads the frames of a reply in form up to response_complete and
// returns the types read.
func (c *wsClient) replyEnd() []string {
	c.t.Helper()
	var types []string
	for {
		f := c.next()
		types = append(types, f.Type)
		if f.Type == protocol.TypeResponseComplete {
			return types
		}
	}
}

// realtimeFaults observe the faults that apply in both realtime forms.
var realtimeFaults = map[string]func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol){
	"drop_all": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		srv.DropAll(protocol.CloseGoingAway)
		assert.Equal(t, protocol.CloseGoingAway, closeCode(c.readErr()))
	},
	"drop_all_abrupt": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		srv.DropAllAbrupt()
		assert.Equal(t, protocol.CloseAbnormal, closeCode(c.readErr()))
	},
	"refuse_handshakes": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		srv.RefuseHandshakes(1, http.StatusServiceUnavailable)
		resp, err := realtimeHandshake(t, srv, form)
		require.Error(t, err)
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "refused before the token is looked at")
		_, err = realtimeHandshake(t, srv, form)
		require.NoError(t, err)
	},
	"refuse_handshakes_with_close": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		srv.RefuseHandshakesWithClose(1, protocol.CloseRateLimited)
		var protos []string
		if form == platformtest.ProtocolTenantApp {
			protos = []string{"bearer", issueToken(t, srv, "k", "acme")}
		}
		ws, _, err := dialProtocols(t, srv, url.Values{"tenant_id": {"acme"}}, protos...)
		require.NoError(t, err)
		c := &wsClient{t: t, ws: ws}
		assert.Equal(t, protocol.CloseRateLimited, closeCode(c.readErr()))
	},
	"fail_chat_creations": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		srv.FailChatCreations(1, http.StatusInternalServerError)
		c.sendCreate(form, "acme")
		assert.Equal(t, platformtest.CodeChatCreationFailed, c.errorOf(form))
		assert.Empty(t, srv.Chats("acme"))
		assert.Empty(t, srv.Connections()[0].Joined)
		c.newChatIn(form, "acme")
	},
	"rate_limit": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		id := c.newChatIn(form, "acme")
		srv.RateLimit(1)
		c.ask(id, "hi")
		if form == platformtest.ProtocolTenantApp {
			assert.Equal(t, platformtest.CodeRateLimited, c.errorOf(form), "the tenant-app form has only error frames")
		} else {
			assert.Equal(t, id, c.until(protocol.TypeRateLimitExceeded).str("chat_id"))
		}
		assert.Empty(t, srv.Messages(id), "not processed")
	},
	"drop_after_chat_message": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		id := c.newChatIn(form, "acme")
		srv.DropAfterChatMessage(1)
		c.ask(id, "hi")
		require.Error(t, c.readErr())
		assert.Empty(t, srv.Messages(id))
	},
	"drop_after_received": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		id := c.newChatIn(form, "acme")
		srv.DropAfterReceived(1)
		c.ask(id, "hi")
		if form == platformtest.ProtocolWebsite {
			assert.Equal(t, protocol.TypeMessageReceived, c.next().Type)
		}
		require.Error(t, c.readErr(), "dropped once the message is accepted")
		require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return len(s.Messages(id)) == 2 }),
			"the message is still answered")
	},
	"stall": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		srv.Stall(true)
		c.send(protocol.TypePing, map[string]any{})
		_ = c.ws.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, _, err := c.ws.ReadMessage()
		var ne interface{ Timeout() bool }
		require.ErrorAs(t, err, &ne, "nothing is answered while stalled")
		srv.Stall(false)
		require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool {
			return len(s.FramesOfType(protocol.TypePing)) == 1
		}))
	},
	"set_duplicate": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		id := c.newChatIn(form, "acme")
		srv.SetDuplicate(true)
		srv.SetResponder(platformtest.ChunkedResponder(1, 0))
		c.ask(id, "hi")
		types := c.replyEnd()
		assert.Equal(t, protocol.TypeResponseComplete, c.next().Type, "the complete comes twice")
		assert.Equal(t, types[0], types[1], "every frame twice: %v", types)
	},
	"set_responder": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		id := c.newChatIn(form, "acme")
		srv.SetResponder(platformtest.ResponderSpec{FailPercent: 100, FailCode: "model_down"}.Responder())
		c.ask(id, "hi")
		assert.Equal(t, "model_down", c.errorOf(form))
		srv.SetResponder(platformtest.ResponderSpec{Text: "one two", Chunks: 2, Delay: time.Millisecond}.Responder())
		c.ask(id, "hi")
		types := c.replyEnd()
		assert.Equal(t, protocol.TypeResponseChunk, types[len(types)-2])
	},
	"ping": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		srv.Ping()
		assert.Equal(t, protocol.TypePing, c.next().Type)
	},
	"inject": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		srv.Inject("other", map[string]any{"type": "custom_event"})
		assert.Equal(t, "other", c.next().str("chat_id"))
	},
	"withhold_reply": func(t *testing.T, srv *platformtest.Server, form platformtest.Protocol) {
		c := openIn(t, srv, form, "acme")
		id := c.newChatIn(form, "acme")
		srv.SetResponder(func(_ context.Context, _ platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Withhold: true}
		})
		c.ask(id, "hi")
		require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return len(s.Messages(id)) == 1 }))
		if form == platformtest.ProtocolWebsite {
			c.expect(protocol.TypeMessageReceived, protocol.TypeProcessing)
		}
		c.quiet()
	},
}

func TestRealtimeForms_FaultsApplyInBoth(t *testing.T) {
	for _, form := range realtimeForms {
		for name, check := range realtimeFaults {
			t.Run(form.String()+"/"+name, func(t *testing.T) {
				check(t, newServer(t, platformtest.Config{Protocol: form}), form)
			})
		}
	}
}

func TestTenantApp_ShapeAndReadyFaultsDoNotApply(t *testing.T) {
	srv := newServer(t, tenantApp)
	srv.SetShape(platformtest.ShapeNested)
	srv.WithholdReady(true)
	srv.SetReadyDelay(time.Hour)
	c := openIn(t, srv, platformtest.ProtocolTenantApp, "acme")
	id := c.newChatIn(platformtest.ProtocolTenantApp, "acme")
	c.ask(id, "hi")
	f := c.until(protocol.TypeResponseComplete)
	assert.ElementsMatch(t, []string{"message_id", "chat_id"}, keys(f.Data), "the reply has no text in any shape: %s", f.Raw)
	c.quiet()
}
