package platformtest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestReply_DefaultReplyFramesInOrder(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	c.join("c1")
	c.say("c1", "cm-1", "hello there world")
	fs := c.expect(
		protocol.TypeMessageReceived,
		protocol.TypeProcessing,
		protocol.TypeResponseStart,
		protocol.TypeResponseChunk,
		protocol.TypeResponseChunk,
		protocol.TypeResponseChunk,
		protocol.TypeResponseComplete,
	)
	recv := fs[0]
	userID := recv.str("message_id")
	require.NotEmpty(t, userID)
	assert.Equal(t, "cm-1", recv.str("client_message_id"))
	assert.Equal(t, "c1", recv.str("chat_id"))
	assert.Equal(t, userID, fs[1].str("message_id"), "processing carries the user message id")
	assert.Equal(t, "c1", fs[1].str("chat_id"))

	replyID := fs[2].str("message_id")
	require.NotEmpty(t, replyID)
	assert.NotEqual(t, userID, replyID, "the reply has its own id")
	for _, f := range fs[2:] {
		assert.Equal(t, replyID, f.str("message_id"), f.Type)
		assert.Equal(t, "c1", f.str("chat_id"), f.Type)
		assert.Equal(t, "cm-1", f.str("client_message_id"), f.Type)
		assert.Equal(t, userID, f.str("user_message_id"), f.Type)
		assert.Equal(t, userID, f.str("reply_to"), f.Type)
		assert.Contains(t, f.Top, "timestamp")
	}
	want := []string{"Echo: hello ", "there ", "world"}
	for i, f := range fs[3:6] {
		assert.Equal(t, want[i], f.str("content"))
		assert.Equal(t, float64(i), f.Data["chunk_index"])
	}
	complete := fs[6]
	assert.Equal(t, "Echo: hello there world", complete.str("content"))
	assert.Equal(t, platformtest.ReplyText("hello there world"), complete.str("content"))
	assert.Equal(t, platformtest.Model, complete.str("llm_model"))
	assert.Equal(t, float64(3), complete.Data["prompt_tokens"])
	assert.Equal(t, float64(4), complete.Data["completion_tokens"])
	assert.Equal(t, float64(7), complete.Data["total_tokens"])
	assert.InDelta(t, 7*platformtest.CostPerToken, complete.Data["cost_estimate"], 1e-12)
	assert.Contains(t, complete.Data, "response_time_ms")
	assert.Equal(t, []any{}, complete.Data["sources"])

	hist := srv.Messages("c1")
	require.Len(t, hist, 2)
	assert.Equal(t, protocol.HistoryMessage{ID: userID, Content: "hello there world", Role: protocol.RoleUser,
		Timestamp: hist[0].Timestamp, Metadata: map[string]any{"client_message_id": "cm-1"}}, hist[0])
	assert.Equal(t, replyID, hist[1].ID)
	assert.Equal(t, "Echo: hello there world", hist[1].Content)
	assert.Equal(t, protocol.RoleAssistant, hist[1].Role)
	assert.Equal(t, 2, srv.Chats("a")[0].MessageCount)
}

func TestReply_ReachesOnlySocketsJoinedToTheChat(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	sender := connect(t, srv, "a")
	peer := connect(t, srv, "a")
	other := connect(t, srv, "a")
	otherTenant := connect(t, srv, "b")
	sender.join("c1")
	peer.join("c1")
	other.join("c2")
	otherTenant.join("c1") // same chat id, another tenant: another chat

	sender.say("c1", "m", "hi")
	assert.Equal(t, protocol.TypeMessageReceived, sender.next().Type)
	sender.until(protocol.TypeResponseComplete)
	first := peer.next()
	assert.Equal(t, protocol.TypeProcessing, first.Type, "message_received goes to the sender only")
	assert.Equal(t, "Echo: hi", peer.until(protocol.TypeResponseComplete).str("content"))
	other.quiet()
	otherTenant.quiet()

	// After leave_chat, the socket gets nothing of that chat.
	peer.send(protocol.TypeLeaveChat, map[string]any{"chat_id": "c1"})
	peer.until(protocol.TypeChatLeft)
	sender.say("c1", "m2", "again")
	sender.until(protocol.TypeResponseComplete)
	peer.quiet()
}

func TestReply_NotJoinedChatJoinsItUnlessStrictJoin(t *testing.T) {
	t.Run("strict join", func(t *testing.T) {
		srv := newServer(t, platformtest.Config{StrictJoin: true})
		c := connect(t, srv, "a")
		c.say("c9", "m1", "hi")
		f := c.next()
		require.Equal(t, protocol.TypeError, f.Type)
		assert.Equal(t, platformtest.CodeNotJoined, f.str("code"))
		assert.Equal(t, "m1", f.str("client_message_id"))
		assert.Equal(t, "c9", f.str("chat_id"))
		c.quiet()
		assert.Empty(t, srv.Messages("c9"))

		c.say("", "m2", "no chat at all")
		assert.Equal(t, platformtest.CodeNotJoined, c.next().str("code"))
	})
	t.Run("auto-join by default", func(t *testing.T) {
		srv := newServer(t, platformtest.Config{})
		c := connect(t, srv, "a")
		c.say("c9", "m1", "hi")
		assert.Equal(t, "c9", c.next().str("chat_id"))
		assert.Equal(t, "Echo: hi", c.until(protocol.TypeResponseComplete).str("content"))
		assert.Equal(t, []string{"c9"}, srv.Connections()[0].Joined)

		// With no chat at all, the platform opens one.
		c2 := connect(t, srv, "a")
		c2.say("", "m2", "hey")
		recv := c2.next()
		require.Equal(t, protocol.TypeMessageReceived, recv.Type)
		newChat := recv.str("chat_id")
		require.NotEmpty(t, newChat)
		assert.Equal(t, newChat, c2.until(protocol.TypeResponseComplete).str("chat_id"))
	})
}

func TestReply_ChatMessageWithoutChatIDGoesToLastJoinedOrURLChat(t *testing.T) {
	srv := newServer(t, platformtest.Config{StrictJoin: true})
	c := connect(t, srv, "a", "chat_id", "url-chat")
	c.join("url-chat")
	c.join("c2")
	c.say("", "m1", "x")
	assert.Equal(t, "c2", c.next().str("chat_id"))
	c.until(protocol.TypeResponseComplete)
	c.send(protocol.TypeLeaveChat, map[string]any{"chat_id": "c2"})
	c.until(protocol.TypeChatLeft)
	c.send(protocol.TypeLeaveChat, map[string]any{"chat_id": "url-chat"})
	c.until(protocol.TypeChatLeft)
	c.say("", "m2", "y")
	f := c.next()
	assert.Equal(t, platformtest.CodeNotJoined, f.str("code"))
	assert.Equal(t, "url-chat", f.str("chat_id"), "the URL's chat is the fallback")
}

func TestReply_ChatMessageValidation(t *testing.T) {
	srv := newServer(t, platformtest.Config{MaxMessageLength: 5})
	c := connect(t, srv, "a")
	c.join("c")
	tests := []struct {
		name string
		msg  map[string]any
		code string
	}{
		{"empty", map[string]any{"message": "  ", "chat_id": "c"}, platformtest.CodeEmptyMessage},
		{"too long", map[string]any{"message": "123456", "chat_id": "c"}, platformtest.CodeMessageTooLong},
		{"other tenant", map[string]any{"message": "x", "chat_id": "c", "tenant_id": "b"}, platformtest.CodeTenantMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.t = t
			c.send(protocol.TypeChatMessage, tt.msg)
			f := c.next()
			require.Equal(t, protocol.TypeError, f.Type)
			assert.Equal(t, tt.code, f.str("code"))
		})
	}
	c.t = t
	assert.Empty(t, srv.Messages("c"))
	// Five characters of several bytes each are within the limit.
	c.send(protocol.TypeChatMessage, map[string]any{"message": "ééééé", "chat_id": "c"})
	assert.Equal(t, protocol.TypeMessageReceived, c.next().Type)
}

func TestReply_MessagesOfAChatAreAnsweredInOrder(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	c := connect(t, srv, "a")
	c.join("c")
	srv.SetResponder(func(_ context.Context, req platformtest.Request) platformtest.Reply {
		// The first reply is the slowest: order must still hold.
		d := time.Duration(0)
		if req.Text == "0" {
			d = 50 * time.Millisecond
		}
		return platformtest.Reply{Chunks: []string{"r" + req.Text}, Delay: d}
	})
	for i := range 5 {
		c.say("c", fmt.Sprint(i), fmt.Sprint(i))
	}
	var got []string
	for len(got) < 5 {
		if f := c.next(); f.Type == protocol.TypeResponseComplete {
			got = append(got, f.str("content"))
		}
	}
	assert.Equal(t, []string{"r0", "r1", "r2", "r3", "r4"}, got)
}

func TestReply_Shapes(t *testing.T) {
	tests := []struct {
		shape platformtest.Shape
		types []string
		check func(t *testing.T, last frame, replyID string)
	}{
		{platformtest.ShapeFlat, nil, func(t *testing.T, f frame, id string) {
			assert.Equal(t, "Echo: a b c", f.str("content"))
			assert.Equal(t, id, f.str("message_id"))
		}},
		{platformtest.ShapeNested, nil, func(t *testing.T, f frame, id string) {
			msg, ok := f.Data["message"].(map[string]any)
			require.True(t, ok, "%s", f.Raw)
			assert.Equal(t, "Echo: a b c", msg["content"])
			assert.Equal(t, id, msg["id"])
			assert.NotContains(t, f.Data, "message_id")
			assert.NotContains(t, f.Data, "content")
		}},
		{platformtest.ShapeFullText, nil, func(t *testing.T, f frame, _ string) {
			assert.Equal(t, "Echo: a b c", f.str("full_text"))
			assert.NotContains(t, f.Data, "content")
		}},
		{platformtest.ShapeChunksOnly, nil, func(t *testing.T, f frame, _ string) {
			assert.NotContains(t, f.Data, "content")
			assert.NotContains(t, f.Data, "full_text")
			assert.NotContains(t, f.Data, "message")
			assert.Equal(t, platformtest.Model, f.str("llm_model"))
		}},
		{platformtest.ShapeChatResponse, []string{protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeChatResponse},
			func(t *testing.T, f frame, _ string) {
				assert.Equal(t, "Echo: a b c", f.str("content"))
				assert.Equal(t, protocol.RoleAssistant, f.str("role"))
				assert.Equal(t, platformtest.Model, f.str("llm_model"))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.shape.String(), func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetShape(tt.shape)
			c := connect(t, srv, "a")
			c.join("c")
			c.say("c", "m", "a b c")
			types := tt.types
			if types == nil {
				types = []string{protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeResponseStart,
					protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseComplete}
			}
			fs := c.expect(types...)
			last := fs[len(fs)-1]
			hist := srv.Messages("c")
			require.Len(t, hist, 2)
			assert.Equal(t, "Echo: a b c", hist[1].Content)
			tt.check(t, last, hist[1].ID)
		})
	}
	assert.Equal(t, "unknown", platformtest.Shape(99).String())
}

func TestReply_Variants(t *testing.T) {
	tests := []struct {
		name    string
		variant platformtest.Variant
		check   func(t *testing.T, fs []frame)
	}{
		{"legacy types", platformtest.VariantLegacyTypes, func(t *testing.T, fs []frame) {
			assert.Equal(t, []string{
				protocol.TypeConnectionEstablished, protocol.TypePlatformInitializing, protocol.TypeAIServicesLoading,
				protocol.TypeAIServicesLoading, protocol.TypePlatformReady, protocol.TypeChatJoined,
				protocol.TypeMessageReceived, protocol.TypeAIProcessingStarted, protocol.TypeResponseStart,
				protocol.TypeMessageChunk, protocol.TypeMessageChunk, protocol.TypeMessageChunk, protocol.TypeMessageComplete,
			}, types(fs))
			canonical := make([]string, len(fs))
			for i, f := range fs {
				canonical[i] = protocol.CanonicalType(f.Type)
			}
			assert.Equal(t, []string{
				protocol.TypeConnectionEstablished, protocol.TypeInitializationProgress, protocol.TypeInitializationProgress,
				protocol.TypeInitializationProgress, protocol.TypeConnectionReady, protocol.TypeChatJoined,
				protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeResponseStart,
				protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseComplete,
			}, canonical, "every legacy name maps back to its canonical type")
		}},
		{"camel case", platformtest.VariantCamelCase, func(t *testing.T, fs []frame) {
			assert.Equal(t, "t", fs[0].Data["tenantId"])
			assert.NotEmpty(t, fs[0].Data["clientId"])
			last := fs[len(fs)-1]
			for _, k := range []string{"messageId", "chatId", "clientMessageId", "userMessageId", "replyTo"} {
				assert.Contains(t, last.Data, k)
			}
			for _, f := range fs {
				assert.Contains(t, f.Top, "eventTs", f.Type)
				assert.NotContains(t, f.Top, "timestamp", f.Type)
				assert.NotContains(t, f.Data, "message_id", f.Type)
				assert.NotContains(t, f.Data, "chat_id", f.Type)
			}
		}},
		{"top-level ids", platformtest.VariantTopLevelIDs, func(t *testing.T, fs []frame) {
			last := fs[len(fs)-1]
			for _, k := range []string{"message_id", "chat_id", "client_message_id", "user_message_id", "reply_to"} {
				assert.Contains(t, last.Top, k)
				assert.NotContains(t, last.Data, k)
			}
			assert.Equal(t, "Echo: x y", last.str("content"))
			assert.Equal(t, "t", fs[0].Top["tenant_id"])
		}},
		{"top-level camel ids", platformtest.VariantTopLevelIDs | platformtest.VariantCamelCase, func(t *testing.T, fs []frame) {
			assert.Contains(t, fs[len(fs)-1].Top, "messageId")
		}},
		{"processing without id", platformtest.VariantProcessingNoID, func(t *testing.T, fs []frame) {
			p := fs[7]
			require.Equal(t, protocol.TypeProcessing, p.Type)
			assert.Equal(t, map[string]any{"chat_id": "c"}, p.Data)
		}},
		{"chunk without id", platformtest.VariantChunkNoID, func(t *testing.T, fs []frame) {
			for _, f := range fs[9:12] {
				require.Equal(t, protocol.TypeResponseChunk, f.Type)
				assert.NotContains(t, f.Data, "message_id")
				assert.NotContains(t, f.Data, "client_message_id")
				assert.Equal(t, "c", f.str("chat_id"))
				assert.NotEmpty(t, f.str("content"))
			}
			assert.Contains(t, fs[12].Data, "message_id", "complete keeps its id")
		}},
		{"payload key", platformtest.VariantPayloadKey, func(t *testing.T, fs []frame) {
			for _, f := range fs {
				assert.Contains(t, f.Top, "payload")
				assert.NotContains(t, f.Top, "data")
			}
			assert.Equal(t, "Echo: x y", fs[len(fs)-1].str("content"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, platformtest.Config{})
			srv.SetVariant(tt.variant)
			c := dial(t, srv, "t")
			var fs []frame
			for range 5 {
				fs = append(fs, c.next())
			}
			c.send(protocol.TypeJoinChat, map[string]any{"chat_id": "c"})
			fs = append(fs, c.next())
			c.say("c", "m", "x y")
			for fs[len(fs)-1].Type != protocol.TypeResponseComplete && fs[len(fs)-1].Type != protocol.TypeMessageComplete {
				fs = append(fs, c.next())
			}
			tt.check(t, fs)
		})
	}
}

func types(fs []frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Type
	}
	return out
}

func TestVariant_String(t *testing.T) {
	tests := []struct {
		v    platformtest.Variant
		want string
	}{
		{platformtest.VariantCanonical, "canonical"},
		{platformtest.VariantLegacyTypes, "legacy_types"},
		{platformtest.VariantCamelCase | platformtest.VariantPayloadKey, "camel_case|payload_key"},
		{platformtest.VariantChunkNoID | 1<<20, "chunk_no_id|unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.v.String())
		})
	}
}

func TestReply_ResponderErrorSendsErrorFrame(t *testing.T) {
	srv := newServer(t, platformtest.Config{Responder: func(context.Context, platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Error: &platformtest.ErrorReply{Code: "ai_down", Message: "model offline", Category: "server_error", RetryAfter: 1500 * time.Millisecond}}
	}})
	c := connect(t, srv, "a")
	c.join("c")
	c.say("c", "m1", "hi")
	fs := c.expect(protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeError)
	e := fs[2]
	assert.Equal(t, "ai_down", e.str("code"))
	assert.Equal(t, "model offline", e.str("message"))
	assert.Equal(t, "server_error", e.str("type"))
	assert.Equal(t, 1.5, e.Data["retry_after"])
	assert.Equal(t, fs[0].str("message_id"), e.str("message_id"))
	assert.Equal(t, "m1", e.str("client_message_id"))
	c.quiet()
	assert.Len(t, srv.Messages("c"), 1, "no assistant message is stored")
}

func TestReply_WithholdSendsNothingAfterProcessing(t *testing.T) {
	srv := newServer(t, platformtest.Config{Responder: func(context.Context, platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Withhold: true}
	}})
	c := connect(t, srv, "a")
	c.join("c")
	c.say("c", "m1", "hi")
	c.expect(protocol.TypeMessageReceived, protocol.TypeProcessing)
	c.quiet()
	assert.Len(t, srv.Messages("c"), 1)
}

func TestReply_PanickingResponderSendsInternalError(t *testing.T) {
	srv := newServer(t, platformtest.Config{Responder: func(context.Context, platformtest.Request) platformtest.Reply {
		panic("boom")
	}})
	c := connect(t, srv, "a")
	c.join("c")
	c.say("c", "m1", "hi")
	e := c.until(protocol.TypeError)
	assert.Equal(t, platformtest.CodeInternalError, e.str("code"))
	assert.Contains(t, e.str("message"), "boom")
}

func TestReply_DelaysArePaused(t *testing.T) {
	const delay, chunkDelay = 60 * time.Millisecond, 30 * time.Millisecond
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(func(_ context.Context, req platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Chunks: []string{"a", "b"}, Delay: delay, ChunkDelay: chunkDelay}
	})
	c := connect(t, srv, "a")
	c.join("c")
	c.say("c", "m1", "hi")
	fs := c.expect(protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeResponseStart,
		protocol.TypeResponseChunk, protocol.TypeResponseChunk, protocol.TypeResponseComplete)
	ts := func(f frame) float64 { return f.Top["timestamp"].(float64) }
	assert.GreaterOrEqual(t, ts(fs[2])-ts(fs[1]), float64(delay.Milliseconds()))
	assert.GreaterOrEqual(t, ts(fs[3])-ts(fs[2]), float64(chunkDelay.Milliseconds()))
	assert.GreaterOrEqual(t, ts(fs[4])-ts(fs[3]), float64(chunkDelay.Milliseconds()))
	assert.GreaterOrEqual(t, fs[5].Data["response_time_ms"], float64((delay + 2*chunkDelay).Milliseconds()))
	assert.Equal(t, "ab", fs[5].str("content"))

	srv.SetResponder(nil) // back to the default
	c.say("c", "m2", "one two three four five")
	var chunks []string
	for f := c.next(); f.Type != protocol.TypeResponseComplete; f = c.next() {
		if f.Type == protocol.TypeResponseChunk {
			chunks = append(chunks, f.str("content"))
		}
	}
	assert.Equal(t, []string{"Echo: one ", "two three ", "four five"}, chunks)
}

func TestReply_CloseCancelsResponderContext(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan struct{})
	srv := platformtest.NewServer(platformtest.Config{Responder: func(ctx context.Context, _ platformtest.Request) platformtest.Reply {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return platformtest.Reply{Chunks: []string{"late"}}
	}})
	c := connect(t, srv, "a")
	c.join("c")
	c.say("c", "m", "hi")
	<-started
	srv.Close()
	<-cancelled
	for {
		f, err := c.tryNext()
		if err != nil {
			break
		}
		assert.NotEqual(t, protocol.TypeResponseStart, f.Type, "nothing is sent after Close")
	}
}

func TestSplitChunks_ConcatenatesToTheText(t *testing.T) {
	tests := []struct {
		name string
		text string
		n    int
		want []string
	}{
		{"three even", "a b c", 3, []string{"a ", "b ", "c"}},
		{"earlier pieces take the extra word", "a b c d e", 3, []string{"a b ", "c d ", "e"}},
		{"fewer words than pieces", "a b", 3, []string{"a ", "b"}},
		{"one piece", "a b c", 1, []string{"a b c"}},
		{"n below one means one", "a b", 0, []string{"a b"}},
		{"empty text", "", 3, nil},
		{"leading and inner runs of space", "  a\t\n b  ", 2, []string{"  a\t\n ", "b  "}},
		{"only space", "   ", 2, []string{"   "}},
		{"unicode", "héllo wörld ✓", 3, []string{"héllo ", "wörld ", "✓"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := platformtest.SplitChunks(tt.text, tt.n)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.text, strings.Join(got, ""))
		})
	}
}

func TestChunkedResponder_SplitsTheEchoIntoNChunks(t *testing.T) {
	r := platformtest.ChunkedResponder(2, time.Millisecond)(context.Background(), platformtest.Request{Text: "a b c"})
	assert.Equal(t, []string{"Echo: a ", "b c"}, r.Chunks)
	assert.Equal(t, time.Millisecond, r.ChunkDelay)
	d := platformtest.DefaultResponder(context.Background(), platformtest.Request{Text: "hello there world"})
	assert.Equal(t, []string{"Echo: hello ", "there ", "world"}, d.Chunks)
	assert.Zero(t, d.ChunkDelay)
}

func TestServer_ConcurrentConnections(t *testing.T) {
	const n = 50
	srv := newServer(t, platformtest.Config{ReadyDelay: time.Millisecond})
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := converse(t, srv, i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := range n {
		hist := srv.Messages(fmt.Sprintf("chat-%d", i))
		require.Len(t, hist, 4, "chat %d", i)
	}
	require.NoError(t, srv.WaitFor(testCtx(t), func(s *platformtest.Server) bool { return s.ConnectionCount() == n }))
	assert.Equal(t, n, srv.Handshakes())
}

// converse connects, joins its own chat and gets two replies; it reports
// errors instead of failing, since it runs off the test goroutine.
func converse(t *testing.T, srv *platformtest.Server, i int) error {
	ws, _, err := dialRaw(t, srv, map[string][]string{"tenant_id": {"t"}}, nil)
	if err != nil {
		return err
	}
	c := &wsClient{t: t, ws: ws}
	read := func(typ string) (frame, error) {
		for {
			f, err := c.tryNext()
			if err != nil || f.Type == typ {
				return f, err
			}
		}
	}
	if _, err := read(protocol.TypeConnectionReady); err != nil {
		return err
	}
	chat := fmt.Sprintf("chat-%d", i)
	msgs := []string{
		fmt.Sprintf(`{"type":"join_chat","data":{"chat_id":%q}}`, chat),
		fmt.Sprintf(`{"type":"chat_message","data":{"chat_id":%q,"message":"q%d a","client_message_id":"m%d-1"}}`, chat, i, i),
		fmt.Sprintf(`{"type":"chat_message","data":{"chat_id":%q,"message":"q%d b","client_message_id":"m%d-2"}}`, chat, i, i),
	}
	for _, m := range msgs {
		if err := ws.WriteMessage(1, []byte(m)); err != nil {
			return err
		}
	}
	for _, want := range []string{fmt.Sprintf("Echo: q%d a", i), fmt.Sprintf("Echo: q%d b", i)} {
		f, err := read(protocol.TypeResponseComplete)
		if err != nil {
			return err
		}
		if f.str("content") != want || f.str("chat_id") != chat {
			return fmt.Errorf("conn %d: got %s, want %q", i, f.Raw, want)
		}
	}
	return nil
}

func TestReply_IDsTheClientDidNotSendAreOmittedNotEmpty(t *testing.T) {
	srv := newServer(t, platformtest.Config{})
	srv.SetResponder(func(context.Context, platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Chunks: []string{"a"}}
	})
	c := connect(t, srv, "a")
	c.join("c1")
	c.say("c1", "", "no client id")
	frames := c.expect(protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeResponseStart,
		protocol.TypeResponseChunk, protocol.TypeResponseComplete)
	for _, f := range frames {
		assert.NotContains(t, f.Data, "client_message_id", "%s: %s", f.Type, f.Raw)
		assert.NotEmpty(t, f.str("message_id"), f.Type)
		assert.Equal(t, "c1", f.str("chat_id"), f.Type)
	}

	srv.RateLimit(1)
	c.say("c1", "", "limited")
	f := c.until(protocol.TypeRateLimitExceeded)
	assert.NotContains(t, f.Data, "client_message_id", "%s", f.Raw)
}

func TestReply_MaxHistoryKeepsTheNewestMessagesOrNone(t *testing.T) {
	for _, tc := range []struct {
		max  int
		want []string
	}{
		{0, []string{"one", "Echo: one", "two", "Echo: two", "three", "Echo: three"}},
		{3, []string{"Echo: two", "three", "Echo: three"}},
		{-1, nil},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			srv := newServer(t, platformtest.Config{MaxHistory: tc.max, Responder: func(_ context.Context, req platformtest.Request) platformtest.Reply {
				return platformtest.Reply{Chunks: []string{"Echo: " + req.Text}}
			}})
			c := connect(t, srv, "a")
			c.join("c1")
			for i, text := range []string{"one", "two", "three"} {
				c.say("c1", fmt.Sprint("cm-", i), text)
				c.expect(protocol.TypeMessageReceived, protocol.TypeProcessing, protocol.TypeResponseStart,
					protocol.TypeResponseChunk, protocol.TypeResponseComplete)
			}
			var got []string
			for _, m := range srv.Messages("c1") {
				got = append(got, m.Content)
			}
			assert.Equal(t, tc.want, got)
			assert.Equal(t, 6, srv.Chats("a")[0].MessageCount, "counted, kept or not")
		})
	}
}
