package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// inboundReadLimit is the Config.ReadLimit of the inbound robustness tests:
// small, so that oversized frames are cheap to make.
const inboundReadLimit = 8 << 10

// inboundMarkerType is the type of the frame sent after each hostile frame:
// when the client's raw-event hook sees it, the hostile frame before it on
// the same connection was handled.
const inboundMarkerType = "inbound_robustness_marker"

// inboundHarness is a ready client with one chat on a fake platform, fed
// hostile frames on its connection one at a time. It survives many inputs,
// so a fuzz worker sets it up once.
type inboundHarness struct {
	srv     *platformtest.Server
	c       *Client
	chat    *Chat
	markers chan int64
	drops   chan struct{}
	seq     int64
}

func newInboundHarness(tb testing.TB) *inboundHarness {
	tb.Helper()
	h := &inboundHarness{
		srv:     newServer(tb, platformtest.Config{}),
		markers: make(chan int64, 64),
		drops:   make(chan struct{}, 64),
	}
	h.c = newClient(tb, h.srv, func(cfg *Config) {
		cfg.ReadLimit = inboundReadLimit
		cfg.InitialBackoff = 5 * time.Millisecond
		cfg.MaxRetries = 50
	})
	h.c.OnEvent(func(ev normalize.Event) {
		if ev.Type != inboundMarkerType {
			return
		}
		var d struct {
			N int64 `json:"n"`
		}
		if json.Unmarshal(ev.Data, &d) == nil {
			select {
			case h.markers <- d.N:
			default: // a flood of fuzzed markers must not block the dispatcher
			}
		}
	})
	h.c.OnStateChange(func(sc StateChange) {
		if sc.Current == StateReconnecting {
			select {
			case h.drops <- struct{}{}:
			default:
			}
		}
	})
	ctx := ctxT(tb, 30*time.Second)
	var err error
	h.chat, err = h.c.NewChat(ctx, ChatOptions{Title: "inbound"})
	require.NoError(tb, err)
	require.NoError(tb, h.c.Connect(ctx))
	return h
}

// connID returns the fake platform's id of the client's connection: the
// newest one (a dropped one may still be closing).
func (h *inboundHarness) connID(tb testing.TB) string {
	tb.Helper()
	conns := h.srv.Connections()
	require.NotEmpty(tb, conns, "no live connection")
	return conns[len(conns)-1].ConnID
}

// feed sends one hostile frame to the client and checks what SPEC §6 and
// §11 require: no panic (a panic fails the test), no hang, a malformed
// frame counted as a decode error with the connection kept, an oversized
// frame ending the connection with a reconnect, and a client that answers
// an Ask afterwards.
func (h *inboundHarness) feed(t *testing.T, data []byte, binary bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, h.c.WaitForState(ctx, StateReady))
	for len(h.drops) > 0 {
		<-h.drops
	}
	h.seq++
	n := h.seq
	mt := websocket.TextMessage
	if binary {
		mt = websocket.BinaryMessage
	}
	oversized := len(data) > inboundReadLimit
	_, normErr := normalize.Normalize(data, time.Now())
	malformed := !oversized && (binary || normErr != nil)
	before := h.c.Stats()

	id := h.connID(t)
	require.NoError(t, h.srv.SendRaw(id, mt, data))
	marker := []byte(`{"type":"` + inboundMarkerType + `","data":{"n":` + strconv.FormatInt(n, 10) + `}}`)
	if err := h.srv.SendRaw(id, websocket.TextMessage, marker); err != nil {
		// An oversized frame ends the connection: the platform may see it
		// gone before the marker goes out.
		require.True(t, oversized && errors.Is(err, platformtest.ErrNoConnection), "marker not sent: %v", err)
	}

	dropped := false
wait:
	for {
		select {
		case got := <-h.markers:
			if got == n {
				break wait
			}
		case <-h.drops:
			dropped = true
			break wait
		case <-ctx.Done():
			t.Fatalf("frame %q (binary %v): the client neither handled it nor dropped the connection", clip(data), binary)
		}
	}
	after := h.c.Stats()
	switch {
	case oversized:
		require.True(t, dropped, "oversized frame (%d bytes > ReadLimit %d) did not end the connection", len(data), inboundReadLimit)
		require.NoError(t, h.c.WaitForState(ctx, StateReady), "no reconnect after an oversized frame")
	default:
		require.False(t, dropped, "frame %q (binary %v, %d bytes) dropped the connection", clip(data), binary, len(data))
		want := before.DecodeErrors
		if malformed {
			want++
		}
		require.Equal(t, want, after.DecodeErrors, "decode errors after frame %q (binary %v, normalize: %v)", clip(data), binary, normErr)
	}

	// A rate_limit_exceeded frame makes sends wait what it asks, up to an
	// hour: the documented behaviour, not a failure. The next probe must not
	// wait for it.
	h.c.rateUntil.Store(0)

	text := fmt.Sprintf("probe %d", n)
	r, err := h.chat.Ask(ctx, text)
	require.NoError(t, err, "Ask after frame %q (binary %v)", clip(data), binary)
	require.Equal(t, platformtest.ReplyText(text), r.Text, "reply after frame %q (binary %v)", clip(data), binary)
}

// clip shortens a frame for a failure message.
func clip(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + fmt.Sprintf("… (%d bytes)", len(b))
	}
	return string(b)
}

// inboundCorpus returns hostile and odd frames: malformed JSON, non-objects,
// wrong-typed fields, unknown types, frames of other chats, deep nesting,
// huge numbers, invalid UTF-8, frames at and over the read limit.
func inboundCorpus(chatID string) [][]byte {
	seeds := []string{
		``,
		`not json`,
		`{`,
		`{"type":"response_chunk"`,
		`null`,
		`[1,2,3]`,
		`"response_chunk"`,
		`42`,
		`{}`,
		`{"data":{}}`,
		`{"type":5}`,
		`{"type":null,"data":{}}`,
		`{"type":""}`,
		`{"type":"mystery_event","data":{"x":1}}`,
		`{"type":"response_chunk","data":"a string payload"}`,
		`{"type":"response_chunk","data":{"chat_id":5,"content":{"nested":true},"chunk_index":"x","message_id":[1]}}`,
		`{"type":"response_complete","data":{"chat_id":"` + chatID + `","content":7,"prompt_tokens":"many","sources":"none"}}`,
		`{"type":"response_complete","data":{"chat_id":"other-chat","message_id":"m-x","content":"not yours"}}`,
		`{"type":"response_chunk","data":{"chat_id":"other-chat","message_id":"m-x","content":"not yours","chunk_index":0}}`,
		`{"type":"message_received","data":{"chat_id":"other-chat","message_id":"u-x","client_message_id":"c-x"}}`,
		`{"type":"response_start","data":{"chat_id":"` + chatID + `","message_id":"a-orphan"}}`,
		`{"type":"response_chunk","data":{"chat_id":"` + chatID + `","content":"stray chunk"}}`,
		`{"type":"response_complete","data":{"chat_id":"` + chatID + `","message_id":"a-orphan","content":"stray"}}`,
		`{"type":"message_received","data":{"chat_id":"` + chatID + `"}}`,
		`{"type":"processing","data":{"chat_id":"` + chatID + `"}}`,
		`{"type":"error","data":{"message":"boom","code":"E1","retry_after":"soon"}}`,
		`{"type":"error","data":{"chat_id":"` + chatID + `","message_id":"nobody","code":1e400}}`,
		`{"type":"rate_limit_exceeded","data":{"retry_after":1e300}}`,
		`{"type":"rate_limit_exceeded","retry_after":-5}`,
		`{"type":"typing_indicator","data":{"chat_id":"` + chatID + `","is_typing":"yes","user_id":{"id":1}}}`,
		`{"type":"typing_start","data":{"chat_id":"` + chatID + `"}}`,
		`{"type":"chat_left","data":{"chat_id":"` + chatID + `","success":"no"}}`,
		`{"type":"chat_joined","data":{"chat_id":"someone-elses","success":true}}`,
		`{"type":"chat_created","data":{"success":true}}`,
		`{"type":"connection_established","data":{"client_id":12,"connected_at":"yesterday"}}`,
		`{"type":"connection_ready","data":{"ready_duration":-1e308}}`,
		`{"type":"initialization_progress","data":{"phase":["starting"]}}`,
		`{"type":"ping","data":{"ts":"now"}}`,
		`{"type":"pong"}`,
		`{"type":"response_chunk","timestamp":1e300,"event_ts":-1,"data":{"chat_id":"other-chat","chunk_index":9223372036854775808}}`,
		`{"type":"response_chunk","payload":{"chat_id":"other-chat","delta":{"content":null}},"data":null}`,
		`{"type":"response_complete","data":{"message":{"id":{"x":1},"content":["a"]}}}`,
		"{\"type\":\"response_chunk\",\"data\":{\"content\":\"\xff\xfe\xfd\",\"chat_id\":\"other-chat\"}}",
		"{\"type\":\"x\u0000y\",\"data\":{}}",
		`{"type":"response_chunk","type":"error","data":{},"data":{"message":"duplicate keys"}}`,
	}
	out := make([][]byte, 0, len(seeds)+6)
	for _, s := range seeds {
		out = append(out, []byte(s))
	}
	// Deep nesting within the read limit: arrays, objects, and nesting under
	// a valid type.
	out = append(out,
		[]byte(strings.Repeat("[", inboundReadLimit/2)+strings.Repeat("]", inboundReadLimit/2)),
		[]byte(`{"type":"response_chunk","data":`+strings.Repeat(`{"a":`, 1000)+`1`+strings.Repeat(`}`, 1000)+`}`),
		[]byte(`{"type":"mystery","data":{"x":`+strings.Repeat("[", 3000)+strings.Repeat("]", 3000)+`}}`),
	)
	// A frame exactly at the limit, and frames over it.
	atLimit := []byte(`{"type":"mystery","data":{"pad":"` + strings.Repeat("p", inboundReadLimit) + `"}}`)
	atLimit = append(atLimit[:inboundReadLimit-3], '"', '}', '}')
	out = append(out, atLimit,
		bytes.Repeat([]byte("a"), inboundReadLimit+1),
		[]byte(`{"type":"response_chunk","data":{"chat_id":"`+chatID+`","content":"`+strings.Repeat("x", 4*inboundReadLimit)+`"}}`),
	)
	return out
}

// TestClientInbound_HostileFramesNeitherCrashNorHangAndAreCounted feeds the
// fixed corpus (as text and as binary messages) to one client: malformed
// frames are counted as decode errors and keep the connection, oversized
// ones end it and the client reconnects, and after each the chat still gets
// its reply.
func TestClientInbound_HostileFramesNeitherCrashNorHangAndAreCounted(t *testing.T) {
	h := newInboundHarness(t)
	corpus := inboundCorpus(h.chat.ID())
	for _, binary := range []bool{false, true} {
		for _, data := range corpus {
			if binary && len(data) > inboundReadLimit {
				continue // one reconnect per oversized frame is enough
			}
			h.feed(t, data, binary)
		}
	}
	st := h.c.Stats()
	require.Positive(t, st.DecodeErrors)
	require.Positive(t, st.IsolationDrops, "events of other chats are dropped and counted")
	require.Equal(t, uint64(2), st.Reconnects, "one reconnect per oversized frame")
}

// FuzzClientInbound sends each input to a connected client as one WebSocket
// message (text or binary) from the fake platform, then checks that the
// client neither panicked nor hung, counted a malformed frame, reconnected
// after an oversized one, and still answers an Ask. One client serves all
// the inputs of a fuzz worker.
//
//	go test -run '^$' -fuzz FuzzClientInbound -fuzztime 2m ./client/
func FuzzClientInbound(f *testing.F) {
	for _, data := range inboundCorpus("chat-fuzz") {
		if len(data) <= inboundReadLimit {
			f.Add(data, false)
		}
	}
	f.Add([]byte{0, 1, 2, 0xff}, true)
	f.Add([]byte(`{"type":"response_chunk","data":{"content":"binary"}}`), true)
	h := newInboundHarness(f)
	f.Fuzz(func(t *testing.T, data []byte, binary bool) {
		h.feed(t, data, binary)
	})
}
