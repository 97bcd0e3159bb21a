package client

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/platformtest"
)

var chaosLong = flag.Bool("chaos.long", false,
	"run the long variant of TestChaos_EveryMessageAnsweredOnceOrFailed (also MIPTECH_CHAOS_LONG=1)")

// chaosSize is the scale of a chaos run.
type chaosSize struct {
	clients, chatsPerClient, messages int
	// inFlight is the number of messages a chat sends before it waits for
	// the oldest reply (1: one at a time).
	inFlight int
	// faultEvery bounds the number of outcomes between two faults: a number
	// drawn from [faultEvery[0], faultEvery[1]).
	faultEvery [2]int
}

// chaosMsg is one user message of a chaos run and its outcome, as its
// sender saw it.
type chaosMsg struct {
	text   string
	id     string // client_message_id; "" when Send failed
	reply  Reply
	err    error
	stream bool   // the outcome was read from Message.Chunks, not Wait
	shown  string // what the stream showed: chunks joined, restarted at a Replace
}

// chaosChat is one conversation of a chaos run: the messages its sender sent
// (in send order) and the OnComplete events delivered to it (in dispatch
// order).
type chaosChat struct {
	name   string
	client int
	chat   *Chat
	msgs   []*chaosMsg

	mu        sync.Mutex
	completes []CompleteEvent
	chunks    map[string]*strings.Builder // OnChunk texts by client_message_id, restarted at a Replace
}

func (cc *chaosChat) completeLog() []CompleteEvent {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return slices.Clone(cc.completes)
}

// chaosFault is one way the fake platform breaks connections.
type chaosFault struct {
	name string
	do   func(srv *platformtest.Server, rng *rand.Rand)
}

// chaosFaults are the faults injected at random: clean closes, a server
// error close, an abrupt reset, refused handshakes (made to bite by a close),
// and drops in the middle of a message's exchange.
var chaosFaults = []chaosFault{
	{"close 1000", func(srv *platformtest.Server, _ *rand.Rand) { srv.DropAll(1000) }},
	{"close 1001", func(srv *platformtest.Server, _ *rand.Rand) { srv.DropAll(1001) }},
	{"close 1011", func(srv *platformtest.Server, _ *rand.Rand) { srv.DropAll(1011) }},
	{"abrupt reset", func(srv *platformtest.Server, _ *rand.Rand) { srv.DropAllAbrupt() }},
	{"refuse handshakes 503, close 1001", func(srv *platformtest.Server, rng *rand.Rand) {
		srv.RefuseHandshakes(1+rng.IntN(2), 503)
		srv.DropAll(1001)
	}},
	{"drop after chat_message", func(srv *platformtest.Server, _ *rand.Rand) { srv.DropAfterChatMessage(1) }},
	{"drop after message_received", func(srv *platformtest.Server, _ *rand.Rand) { srv.DropAfterReceived(1) }},
}

// chaosResponder answers ReplyText(text) in one to three chunks, mostly at
// once, sometimes slowly enough that a fast reconnect lands in the middle of
// the reply.
func chaosResponder(_ context.Context, req platformtest.Request) platformtest.Reply {
	r := platformtest.Reply{
		Chunks:     platformtest.SplitChunks(platformtest.ReplyText(req.Text), 1+rand.IntN(3)),
		ChunkDelay: time.Duration(rand.IntN(3)) * time.Millisecond,
	}
	if rand.IntN(10) == 0 {
		r.Delay = time.Duration(50+rand.IntN(250)) * time.Millisecond
	}
	return r
}

// TestChaos_EveryMessageAnsweredOnceOrFailed sends messages from several
// chats on several clients, each chat one message at a time, while the fake
// platform breaks the connections at random (SPEC §11). At the end every
// message was answered exactly once with its own reply or its sender got an
// error, never both and never neither; no reply was delivered twice; a late
// reply came only for a message that timed out; the replies of each chat
// were delivered in send order; and the clients' counters agree. goleak
// (TestMain) checks that nothing leaked.
//
// The default size runs in well under a minute under -race; -chaos.long or
// MIPTECH_CHAOS_LONG=1 runs a larger one. MIPTECH_CHAOS_SEED fixes the seed
// of the fault schedule (the timing still varies). MIPTECH_CHAOS_INFLIGHT=n
// lets each chat keep n messages in flight instead of one; the same
// assertions apply.
func TestChaos_EveryMessageAnsweredOnceOrFailed(t *testing.T) {
	t.Parallel() // waits on replies, timeouts and reconnects, not the CPU
	size := chaosSize{clients: 2, chatsPerClient: 2, messages: 60, inFlight: 1, faultEvery: [2]int{8, 28}}
	if *chaosLong || os.Getenv("MIPTECH_CHAOS_LONG") == "1" {
		size = chaosSize{clients: 4, chatsPerClient: 4, messages: 500, inFlight: 1, faultEvery: [2]int{40, 120}}
	}
	if v := os.Getenv("MIPTECH_CHAOS_INFLIGHT"); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "MIPTECH_CHAOS_INFLIGHT")
		require.Positive(t, n, "MIPTECH_CHAOS_INFLIGHT")
		size.inFlight = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MIPTECH_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "MIPTECH_CHAOS_SEED")
		seed = v
	}
	t.Logf("chaos: %d clients × %d chats × %d messages, %d in flight per chat, seed %d",
		size.clients, size.chatsPerClient, size.messages, size.inFlight, seed)

	eachFormParallel(t, platformtest.Config{Responder: chaosResponder}, func(t *testing.T, fc formCase, srv *platformtest.Server, form func(*Config)) {
		if fc.client == ProtocolRealtime && fc.server == platformtest.ProtocolTenantApp {
			t.Skip("the tenant-app variant runs detected (\"tenant-app\"); forcing the form changes only the detection")
		}
		// Each form draws its own fault schedule from the seed (the forms
		// run in parallel, and a rand.Rand is not safe for concurrent use).
		form0 := seed
		for _, b := range []byte(fc.name) {
			form0 = form0*31 + uint64(b)
		}
		rng := rand.New(rand.NewPCG(form0, form0^0x9e3779b97f4a7c15))
		// A message on a lost connection in the tenant-app variant waits
		// out its timeout when its reply was lost: a shorter one keeps the
		// test quick (the replies come within 300 ms).
		timeout := 5 * time.Second
		if fc.server == platformtest.ProtocolTenantApp {
			timeout = 1500 * time.Millisecond
		}
		ctx := ctxT(t, 10*time.Minute)

		var clients []*Client
		var chats []*chaosChat
		for ci := range size.clients {
			c := newClient(t, srv, then(form, func(cfg *Config) {
				cfg.InitialBackoff = 5 * time.Millisecond
				cfg.MaxRetries = 50
				cfg.ResponseTimeout = timeout
			}))
			clients = append(clients, c)
			for k := range size.chatsPerClient {
				cc := &chaosChat{name: fmt.Sprintf("client %d chat %d", ci, k), client: ci}
				var err error
				if k%2 == 0 {
					cc.chat, err = c.NewChat(ctx, ChatOptions{Title: cc.name})
				} else {
					cc.chat, err = c.OpenChat(ctx, uuid.NewString()) // the realtime form takes UUIDs
				}
				require.NoError(t, err)
				cc.chat.OnComplete(func(e CompleteEvent) {
					cc.mu.Lock()
					cc.completes = append(cc.completes, e)
					cc.mu.Unlock()
				})
				cc.chunks = map[string]*strings.Builder{}
				cc.chat.OnChunk(func(e ChunkEvent) {
					cc.mu.Lock()
					defer cc.mu.Unlock()
					b := cc.chunks[e.ClientMessageID]
					if b == nil {
						b = &strings.Builder{}
						cc.chunks[e.ClientMessageID] = b
					}
					if e.Replace {
						b.Reset()
					}
					b.WriteString(e.Text)
				})
				chats = append(chats, cc)
			}
			require.NoError(t, c.Connect(ctx))
		}

		// Senders: one per chat, size.inFlight messages outstanding at most,
		// outcomes awaited in send order.
		progress := make(chan struct{}, len(chats)*size.messages)
		var senders sync.WaitGroup
		for _, cc := range chats {
			senders.Go(func() {
				type flight struct {
					m   *chaosMsg
					msg *Message
				}
				var window []flight
				wait := func() {
					f := window[0]
					window = window[1:]
					// Every message gets its outcome well within a minute: the
					// response timeout, after at most a few reconnects.
					wctx, cancel := context.WithTimeout(ctx, time.Minute)
					if f.m.stream {
						var shown strings.Builder
						for c, err := range f.msg.Chunks(wctx) {
							switch {
							case err != nil:
								f.m.err = err
							case c.Done:
								f.m.reply = c.Reply
							case c.Replace:
								shown.Reset()
								fallthrough
							default:
								shown.WriteString(c.Text)
							}
						}
						f.m.shown = shown.String()
					} else {
						f.m.reply, f.m.err = f.msg.Wait(wctx)
					}
					cancel()
					progress <- struct{}{}
				}
				for i := range size.messages {
					m := &chaosMsg{text: fmt.Sprintf("%s message %d", cc.name, i), stream: i%2 == 1}
					cc.msgs = append(cc.msgs, m)
					msg, err := cc.chat.Send(ctx, m.text)
					if err != nil {
						m.err = err
						progress <- struct{}{}
					} else {
						m.id = msg.ID()
						window = append(window, flight{m, msg})
					}
					if len(window) >= size.inFlight {
						wait()
					}
				}
				for len(window) > 0 {
					wait()
				}
			})
		}
		sendersDone := make(chan struct{})
		go func() { senders.Wait(); close(sendersDone) }()

		// Faults: after every few outcomes, one fault at random.
		injected := map[string]int{} // read once the injector is done
		nFaults := 0
		injectorDone := make(chan struct{})
		go func() {
			defer close(injectorDone)
			for {
				for n := size.faultEvery[0] + rng.IntN(size.faultEvery[1]-size.faultEvery[0]); n > 0; n-- {
					select {
					case <-progress:
					case <-sendersDone:
						return
					}
				}
				f := chaosFaults[rng.IntN(len(chaosFaults))]
				f.do(srv, rng)
				injected[f.name]++
				nFaults++
			}
		}()
		<-sendersDone
		<-injectorDone
		srv.DropAfterChatMessage(0)
		srv.DropAfterReceived(0)
		srv.RefuseHandshakes(0, 0)

		// Let every callback enqueued so far run, then close the clients: no
		// callback runs after Close, so the logs below are final.
		for _, c := range clients {
			syncCallbacks(t, c)
		}
		stats := make([]Stats, len(clients))
		for i, c := range clients {
			require.NoError(t, c.Close(ctx))
			stats[i] = c.Stats()
		}

		answered, failed := 0, 0
		reasons := map[string]int{}
		late := 0
		answeredBy := make([]uint64, len(clients))
		failedBy := make([]uint64, len(clients))
		for _, cc := range chats {
			completes := cc.completeLog()
			byID := map[string]*chaosMsg{}
			for _, m := range cc.msgs {
				if m.id != "" {
					byID[m.id] = m
				}
			}
			onTime := map[string]int{}
			lateFor := map[string]int{}
			var order []string
			for _, e := range completes {
				m, ok := byID[e.Reply.ClientMessageID]
				if !assert.True(t, ok, "%s: a reply for a message it never sent: %+v", cc.name, e.Reply) {
					continue
				}
				assert.Equal(t, platformtest.ReplyText(m.text), e.Reply.Text, "%s: reply delivered to the wrong message", cc.name)
				assert.Equal(t, cc.chat.ID(), e.Reply.ChatID, "%s: reply of another chat", cc.name)
				if e.Reply.Late {
					lateFor[m.id]++
					continue
				}
				onTime[m.id]++
				order = append(order, m.id)
			}
			var want []string
			for i, m := range cc.msgs {
				if m.err == nil {
					answered++
					answeredBy[cc.client]++
					want = append(want, m.id)
					assert.Equal(t, platformtest.ReplyText(m.text), m.reply.Text, "%s message %d: wrong reply text", cc.name, i)
					assert.Equal(t, m.id, m.reply.ClientMessageID, "%s message %d: reply of another message", cc.name, i)
					assert.False(t, m.reply.Late, "%s message %d: Wait returned a late reply", cc.name, i)
					if m.stream {
						assert.Equal(t, m.reply.Text, m.shown, "%s message %d: the stream's chunks do not add up to the reply", cc.name, i)
					}
					if b := cc.chunks[m.id]; b != nil {
						assert.Equal(t, m.reply.Text, b.String(), "%s message %d: the chunk callbacks do not add up to the reply", cc.name, i)
					}
					assert.Equal(t, 1, onTime[m.id], "%s message %d: OnComplete count for an answered message", cc.name, i)
					assert.Zero(t, lateFor[m.id], "%s message %d: a late reply for an answered message", cc.name, i)
					continue
				}
				require.NotErrorIs(t, m.err, context.DeadlineExceeded, "%s message %d: no outcome within a minute (lost)", cc.name, i)
				failed++
				reasons[chaosReason(m.err)]++
				if m.id == "" {
					continue // Send refused it: never registered
				}
				failedBy[cc.client]++
				assert.Zero(t, onTime[m.id], "%s message %d: failed (%v) and answered", cc.name, i, m.err)
				if lateFor[m.id] > 0 {
					late++
					assert.ErrorIs(t, m.err, ErrResponseTimeout, "%s message %d: a late reply for a message that did not time out", cc.name, i)
					assert.Equal(t, 1, lateFor[m.id], "%s message %d: late reply delivered twice", cc.name, i)
				}
			}
			if !slices.Equal(want, order) {
				idx := map[string]int{}
				for i, m := range cc.msgs {
					idx[m.id] = i
				}
				var seq []string
				for _, e := range completes {
					seq = append(seq, fmt.Sprintf("%d(rec=%v,late=%v)", idx[e.Reply.ClientMessageID], e.Reply.Recovered, e.Reply.Late))
				}
				t.Errorf("%s: replies delivered out of send order: %s", cc.name, strings.Join(seq, " "))
			}
		}
		for i, st := range stats {
			assert.Equal(t, answeredBy[i], st.MessagesAnswered, "client %d: Stats().MessagesAnswered", i)
			assert.Equal(t, failedBy[i], st.MessagesFailed, "client %d: Stats().MessagesFailed", i)
		}

		total := answered + failed
		require.Equal(t, len(chats)*size.messages, total)
		var sum []string
		for _, st := range stats {
			sum = append(sum, fmt.Sprintf("reconnects %d, attempts %d, duplicates dropped %d", st.Reconnects, st.Attempts, st.DuplicatesDropped))
		}
		t.Logf("chaos: %d faults %v; clients: %s", nFaults, injected, strings.Join(sum, "; "))
		t.Logf("chaos: %d messages: %d answered (%.1f%%), %d failed %v, %d late replies",
			total, answered, 100*float64(answered)/float64(total), failed, sortedReasons(reasons), late)
		assert.GreaterOrEqual(t, nFaults, 3, "too few faults for a chaos run")
		assert.GreaterOrEqual(t, answered*2, total, "fewer than half the messages answered")
	})
}

// chaosReason names the kind of a message failure for the summary.
func chaosReason(err error) string {
	var pe *PlatformError
	switch {
	case errors.Is(err, ErrResponseTimeout):
		return "response timeout"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, ErrQueueFull):
		return "queue full"
	case errors.Is(err, ErrExpired):
		return "expired"
	case errors.Is(err, ErrFailed):
		return "connection failed"
	case errors.As(err, &pe):
		return "platform error " + pe.Code
	}
	return err.Error()
}

func sortedReasons(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
