package registry

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	t0     = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	errX   = errors.New("platform: model failed")
	chatA  = ChatKey(1)
	chatB  = ChatKey(2)
	answer = "found in the history"
)

// harness drives a Ledger as the client does and records its decisions.
type harness struct {
	t    *testing.T
	l    *Ledger
	now  time.Time
	conn uint64
}

func newHarness(t *testing.T, cfg LedgerConfig) *harness {
	return &harness{t: t, l: NewLedger(cfg), now: t0, conn: 1}
}

func (h *harness) add(chat ChatKey, id, text string) {
	h.t.Helper()
	require.True(h.t, h.l.Add(chat, id, text, id, h.now), "add %s", id)
}

func (h *harness) written(id string) []Decision { return h.l.Written(id, h.conn, h.now, nil) }

func (h *harness) step(in Input) []Decision {
	if in.Chat == 0 {
		in.Chat = chatA
	}
	if in.Conn == 0 {
		in.Conn = h.conn
	}
	return h.l.Step(in, h.now, nil)
}

func (h *harness) lose() {
	h.l.ConnectionLost(h.conn)
	h.conn++
}

// checkCounts asserts that every line's counts match its messages.
func (h *harness) checkCounts() {
	h.t.Helper()
	for k, ln := range h.l.chats {
		awaiting, held := 0, 0
		for _, e := range ln.order {
			if e.awaiting {
				awaiting++
			}
			if e.parked != nil {
				held++
			}
		}
		assert.Equal(h.t, awaiting, ln.awaiting, "chat %d: awaiting count", k)
		assert.Equal(h.t, held, ln.held, "chat %d: held count", k)
	}
}

// kinds names the decisions, "status:from>to" for status changes.
func kinds(ds []Decision) string {
	var out []string
	for _, d := range ds {
		switch d.Kind {
		case DecideStatus:
			out = append(out, fmt.Sprintf("status:%s>%s", d.From, d.To))
		case DecideChunk:
			if d.Piece.Replace {
				out = append(out, "chunk!")
			} else {
				out = append(out, "chunk")
			}
		case DecideComplete:
			switch {
			case d.Late:
				out = append(out, "complete(late)")
			case d.Recovered:
				out = append(out, "complete(recovered)")
			default:
				out = append(out, "complete")
			}
		default:
			out = append(out, d.Kind.String())
		}
	}
	return strings.Join(out, " ")
}

// state describes where message id stands: its status and flags, or gone.
func (h *harness) state(id string) string {
	e := h.l.byClient[id]
	if e == nil {
		return "gone"
	}
	s := e.status.String()
	for _, f := range []struct {
		on   bool
		name string
	}{{e.done, "done"}, {e.resend, "resend"}, {e.awaiting, "awaiting"}, {e.retrying, "retrying"}, {e.parked != nil, "parked"}} {
		if f.on {
			s += "+" + f.name
		}
	}
	return s
}

// The states a message can be in, each reached the way the client reaches
// it. The message is "m" in chatA, with platform id "s-m", text "hello".
var ledgerStates = []struct {
	name  string
	setup func(h *harness)
}{
	{"sending", func(h *harness) { h.add(chatA, "m", "hello") }},
	{"sent", func(h *harness) { h.add(chatA, "m", "hello"); h.written("m") }},
	{"delivered", func(h *harness) {
		h.add(chatA, "m", "hello")
		h.written("m")
		h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-m"})
	}},
	{"streaming", func(h *harness) {
		h.add(chatA, "m", "hello")
		h.written("m")
		h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-m"})
		h.step(Input{Kind: InChunk, ClientID: "m", MessageID: "r-m", Text: "a"})
	}},
	{"timedout", func(h *harness) {
		h.add(chatA, "m", "hello")
		h.written("m")
		h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-m"})
		h.now = h.now.Add(DefaultResponseTimeout)
		h.l.Tick(h.now, nil)
	}},
	{"resend", func(h *harness) { h.add(chatA, "m", "hello"); h.written("m"); h.lose() }},
	{"awaiting", func(h *harness) {
		h.add(chatA, "m", "hello")
		h.written("m")
		h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-m"})
		h.lose()
	}},
	{"retrying", func(h *harness) {
		h.add(chatA, "m", "hello")
		h.written("m")
		h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-m"})
		h.step(Input{Kind: InError, ClientID: "m", Err: errX, Retryable: true})
	}},
	{"parked", func(h *harness) {
		h.add(chatA, "f", "first")
		h.written("f")
		h.step(Input{Kind: InAck, ClientID: "f", MessageID: "s-f"})
		h.lose()
		h.add(chatA, "m", "hello")
		h.written("m")
		h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-m"})
		h.step(Input{Kind: InComplete, ClientID: "m", Text: "x", HasText: true})
	}},
	{"answered", func(h *harness) {
		h.add(chatA, "m", "hello")
		h.written("m")
		h.step(Input{Kind: InAck, ClientID: "m", MessageID: "s-m"})
		h.step(Input{Kind: InComplete, ClientID: "m", Text: "x", HasText: true})
	}},
}

// The events a message can meet.
var ledgerEvents = []struct {
	name string
	do   func(h *harness) []Decision
}{
	{"written", func(h *harness) []Decision { return h.written("m") }},
	{"ack", func(h *harness) []Decision { return h.step(Input{Kind: InAck, ClientID: "m"}) }},
	{"processing", func(h *harness) []Decision { return h.step(Input{Kind: InProcessing, ClientID: "m"}) }},
	{"start", func(h *harness) []Decision { return h.step(Input{Kind: InStart, ClientID: "m", MessageID: "r-m"}) }},
	{"chunk", func(h *harness) []Decision { return h.step(Input{Kind: InChunk, ClientID: "m", Text: "b"}) }},
	{"complete", func(h *harness) []Decision {
		return h.step(Input{Kind: InComplete, ClientID: "m", Text: "full", HasText: true})
	}},
	{"error", func(h *harness) []Decision { return h.step(Input{Kind: InError, ClientID: "m", Err: errX}) }},
	{"error-retryable", func(h *harness) []Decision {
		return h.step(Input{Kind: InError, ClientID: "m", Err: errX, Retryable: true})
	}},
	{"fail", func(h *harness) []Decision { return h.l.Fail("m", errX, h.now, nil) }},
	{"timeout", func(h *harness) []Decision {
		h.now = h.now.Add(DefaultResponseTimeout)
		return h.l.Tick(h.now, nil)
	}},
	{"lost", func(h *harness) []Decision { h.lose(); return nil }},
	{"recover", func(h *harness) []Decision {
		return h.l.Recover(chatA, []HistoryItem{{ID: "s-m", Text: "hello"}, {ID: "a-m", Assistant: true, Text: answer, ReplyTo: "s-m"}}, h.now, nil)
	}},
	{"give-up", func(h *harness) []Decision { return h.l.GiveUp(chatA, errX, h.now, nil) }},
	{"retry", func(h *harness) []Decision {
		out, _ := h.l.Retry(chatA, "m", "m2", "hello", "m", 1, h.now, nil)
		return out
	}},
}

// ledgerTable is the transition table of a message: for every state and
// every event, the decisions and the state after. "status:a>b" is a status
// change; "chunk!" a Replace piece.
var ledgerTable = map[string]map[string][2]string{
	"sending": {
		"written":         {"status:sending>sent", "sent"},
		"ack":             {"status:sending>sent status:sent>delivered", "delivered"},
		"processing":      {"status:sending>sent status:sent>delivered processing", "delivered"},
		"start":           {"status:sending>sent status:sent>delivered start", "delivered"},
		"chunk":           {"status:sending>sent status:sent>delivered chunk", "delivered"},
		"complete":        {"status:sending>sent status:sent>delivered chunk status:delivered>answered complete", "gone"},
		"error":           {"status:sending>failed fail", "gone"},
		"error-retryable": {"status:sending>failed retry", "failed+retrying"},
		"fail":            {"status:sending>failed fail", "gone"},
		"timeout":         {"", "sending"},
		"lost":            {"", "sending"},
		"recover":         {"", "sending"},
		"give-up":         {"", "sending"},
		"retry":           {"", "sending"},
	},
	"sent": {
		"written":         {"", "sent"},
		"ack":             {"status:sent>delivered", "delivered"},
		"processing":      {"status:sent>delivered processing", "delivered"},
		"start":           {"status:sent>delivered start", "delivered"},
		"chunk":           {"status:sent>delivered chunk", "delivered"},
		"complete":        {"status:sent>delivered chunk status:delivered>answered complete", "gone"},
		"error":           {"status:sent>failed fail", "gone"},
		"error-retryable": {"status:sent>failed retry", "failed+retrying"},
		"fail":            {"status:sent>failed fail", "gone"},
		"timeout":         {"status:sent>failed fail", "failed+done"},
		"lost":            {"", "sent+resend"},
		"recover":         {"", "sent"},
		"give-up":         {"", "sent"},
		"retry":           {"", "sent"},
	},
	"delivered": {
		"written":         {"", "delivered"},
		"ack":             {"", "delivered"},
		"processing":      {"processing", "delivered"},
		"start":           {"start", "delivered"},
		"chunk":           {"chunk", "delivered"},
		"complete":        {"chunk status:delivered>answered complete", "gone"},
		"error":           {"status:delivered>failed fail", "gone"},
		"error-retryable": {"status:delivered>failed retry", "failed+retrying"},
		"fail":            {"status:delivered>failed fail", "gone"},
		"timeout":         {"status:delivered>failed fail", "failed+done"},
		"lost":            {"", "delivered+awaiting"},
		"recover":         {"", "delivered"},
		"give-up":         {"", "delivered"},
		"retry":           {"", "delivered"},
	},
	"streaming": {
		"written":         {"", "delivered"},
		"ack":             {"", "delivered"},
		"processing":      {"processing", "delivered"},
		"start":           {"start", "delivered"},
		"chunk":           {"chunk", "delivered"},
		"complete":        {"chunk! status:delivered>answered complete", "gone"},
		"error":           {"status:delivered>failed fail", "gone"},
		"error-retryable": {"status:delivered>failed retry", "failed+retrying"},
		"fail":            {"status:delivered>failed fail", "gone"},
		"timeout":         {"status:delivered>failed fail", "failed+done"},
		"lost":            {"", "delivered+awaiting"},
		"recover":         {"", "delivered"},
		"give-up":         {"", "delivered"},
		"retry":           {"", "delivered"},
	},
	"timedout": {
		"written":         {"", "failed+done"},
		"ack":             {"duplicate", "failed+done"},
		"processing":      {"processing", "failed+done"},
		"start":           {"start", "failed+done"},
		"chunk":           {"chunk", "failed+done"},
		"complete":        {"chunk complete(late)", "gone"},
		"error":           {"duplicate", "gone"},
		"error-retryable": {"duplicate", "gone"},
		"fail":            {"", "gone"},
		"timeout":         {"", "failed+done"},
		"lost":            {"", "failed+done"},
		"recover":         {"", "failed+done"},
		"give-up":         {"", "failed+done"},
		"retry":           {"status:failed>sending", "sending"},
	},
	"resend": {
		"written":         {"", "sent"},
		"ack":             {"status:sent>delivered", "delivered"},
		"processing":      {"status:sent>delivered processing", "delivered"},
		"start":           {"status:sent>delivered start", "delivered"},
		"chunk":           {"status:sent>delivered chunk", "delivered"},
		"complete":        {"status:sent>delivered chunk status:delivered>answered complete", "gone"},
		"error":           {"status:sent>failed fail", "gone"},
		"error-retryable": {"status:sent>failed retry", "failed+retrying"},
		"fail":            {"status:sent>failed fail", "gone"},
		"timeout":         {"status:sent>failed fail", "failed+done"},
		"lost":            {"", "sent+resend"},
		"recover":         {"", "sent+resend"},
		"give-up":         {"", "sent+resend"},
		"retry":           {"", "sent+resend"},
	},
	"awaiting": {
		"written":         {"", "delivered+awaiting"},
		"ack":             {"", "delivered+awaiting"},
		"processing":      {"processing", "delivered+awaiting"},
		"start":           {"start", "delivered+awaiting"},
		"chunk":           {"chunk", "delivered+awaiting"},
		"complete":        {"chunk status:delivered>answered complete", "gone"},
		"error":           {"status:delivered>failed fail", "gone"},
		"error-retryable": {"status:delivered>failed retry", "failed+retrying"},
		"fail":            {"status:delivered>failed fail", "gone"},
		"timeout":         {"status:delivered>failed fail", "failed+done"},
		"lost":            {"", "delivered+awaiting"},
		"recover":         {"chunk status:delivered>answered complete(recovered)", "gone"},
		"give-up":         {"status:delivered>failed fail", "gone"},
		"retry":           {"", "delivered+awaiting"},
	},
	"retrying": {
		"written":         {"", "failed+retrying"},
		"ack":             {"duplicate", "failed+retrying"},
		"processing":      {"duplicate", "failed+retrying"},
		"start":           {"duplicate", "failed+retrying"},
		"chunk":           {"duplicate", "failed+retrying"},
		"complete":        {"duplicate", "failed+retrying"},
		"error":           {"duplicate", "failed+retrying"},
		"error-retryable": {"duplicate", "failed+retrying"},
		"fail":            {"fail", "gone"},
		"timeout":         {"", "failed+retrying"},
		"lost":            {"", "failed+retrying"},
		"recover":         {"", "failed+retrying"},
		"give-up":         {"", "failed+retrying"},
		"retry":           {"status:failed>sending", "sending"},
	},
	"parked": {
		"written":         {"", "delivered+parked"},
		"ack":             {"", "delivered+parked"},
		"processing":      {"processing", "delivered+parked"},
		"start":           {"start", "delivered+parked"},
		"chunk":           {"chunk", "delivered+parked"},
		"complete":        {"held", "delivered+parked"},
		"error":           {"status:delivered>failed fail", "gone"},
		"error-retryable": {"status:delivered>failed retry", "failed+retrying"},
		"fail":            {"status:delivered>failed fail", "gone"},
		"timeout":         {"status:delivered>failed fail chunk status:delivered>answered complete", "gone"},
		"lost":            {"", "delivered+parked"},
		"recover":         {"", "delivered+parked"},
		"give-up":         {"status:delivered>failed fail chunk status:delivered>answered complete", "gone"},
		"retry":           {"", "delivered+parked"},
	},
	"answered": {
		"written":         {"", "gone"},
		"ack":             {"duplicate", "gone"},
		"processing":      {"duplicate", "gone"},
		"start":           {"duplicate", "gone"},
		"chunk":           {"duplicate", "gone"},
		"complete":        {"duplicate", "gone"},
		"error":           {"duplicate", "gone"},
		"error-retryable": {"duplicate", "gone"},
		"fail":            {"", "gone"},
		"timeout":         {"", "gone"},
		"lost":            {"", "gone"},
		"recover":         {"", "gone"},
		"give-up":         {"", "gone"},
		"retry":           {"status:failed>sending", "sending"},
	},
}

func TestLedger_TransitionTable_EveryEventInEveryState(t *testing.T) {
	for _, st := range ledgerStates {
		for _, ev := range ledgerEvents {
			t.Run(st.name+"/"+ev.name, func(t *testing.T) {
				want, ok := ledgerTable[st.name][ev.name]
				require.True(t, ok, "the table has no row for %s/%s", st.name, ev.name)
				h := newHarness(t, LedgerConfig{MaxRetries: 1})
				st.setup(h)
				got := ev.do(h)
				assert.Equal(t, want[0], kinds(got), "decisions")
				assert.Equal(t, want[1], h.state("m"), "state after")
				h.checkCounts()
			})
		}
	}
	assert.Len(t, ledgerTable, len(ledgerStates))
	for s, row := range ledgerTable {
		assert.Len(t, row, len(ledgerEvents), "row %s", s)
	}
}
