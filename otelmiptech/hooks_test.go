package otelmiptech

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// callerSpan starts the span of the code that calls the SDK, on the same
// provider as the hooks.
func callerSpan(ctx context.Context, h *harness) (context.Context, trace.Span) {
	return h.tp.Tracer("caller").Start(ctx, "handle request")
}

// assertChildOf checks that s is a child of parent.
func assertChildOf(t *testing.T, s interface{ Parent() trace.SpanContext }, parent trace.Span) {
	t.Helper()
	assert.Equal(t, parent.SpanContext().TraceID(), s.Parent().TraceID(), "same trace as the caller")
	assert.Equal(t, parent.SpanContext().SpanID(), s.Parent().SpanID(), "child of the caller's span")
}

func TestHooks_ConversationRecordsSpansAndMetrics(t *testing.T) {
	h := newHarness(t, WithAttributes(attribute.String("service.tenant", "acme")))
	srv := newServer(t, platformtest.Config{Responder: platformtest.ChunkedResponder(3, 0)})
	c := newClient(t, srv, h.hooks, nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.OpenChat(ctx, "chat-otel")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	h.probe.waitState(t, ctx, client.StateReady)

	reqCtx, parent := callerSpan(ctx, h)
	texts := []string{"hello", "how are you?"}
	var replies []client.Reply
	for _, text := range texts {
		r, err := chat.Ask(reqCtx, text)
		require.NoError(t, err)
		replies = append(replies, r)
		next(t, ctx, h.probe.done, "MessageDone")
	}
	parent.End()

	// Spans: one per message, children of the caller's span, in order.
	msgs := h.ended(SpanMessage)
	require.Len(t, msgs, 2)
	for i, s := range msgs {
		assertChildOf(t, s, parent)
		assert.Equal(t, trace.SpanKindClient, s.SpanKind())
		assert.Equal(t, codes.Unset, s.Status().Code)
		assert.True(t, hasEvents(eventNames(s), eventWritten, eventAcknowledged, eventFirstChunk), "events %v", eventNames(s))
		v, _ := attrOf(s, keyChatID)
		assert.Equal(t, "chat-otel", v.AsString())
		v, _ = attrOf(s, keyClientMsgID)
		assert.NotEmpty(t, v.AsString())
		v, ok := attrOf(s, keyServerMsgID)
		assert.True(t, ok, "server id set")
		assert.NotEmpty(t, v.AsString())
		v, _ = attrOf(s, keyAttempt)
		assert.Equal(t, int64(1), v.AsInt64())
		v, _ = attrOf(s, keyMessageSize)
		assert.Equal(t, int64(len(texts[i])), v.AsInt64())
		v, _ = attrOf(s, keyReplySize)
		assert.Equal(t, int64(len(replies[i].Text)), v.AsInt64())
		v, _ = attrOf(s, "service.tenant")
		assert.Equal(t, "acme", v.AsString(), "WithAttributes on spans")
		_, ok = attrOf(s, keyRecovered)
		assert.False(t, ok, "not recovered")
	}
	// One connection attempt, a root span (Connect's context has none).
	// Its span ends when the connection loop returns from the attempt,
	// which may be a moment after the client is ready.
	h.waitConnectSpans(t, c)
	conns := h.ended(SpanConnect)
	require.Len(t, conns, 1)
	assert.False(t, conns[0].Parent().IsValid())
	assert.Equal(t, codes.Unset, conns[0].Status().Code)
	v, _ := attrOf(conns[0], keyConnectAttempt)
	assert.Equal(t, int64(1), v.AsInt64())
	v, _ = attrOf(conns[0], keyReconnect)
	assert.False(t, v.AsBool())

	rm := h.collect(t)
	answered := keyMessageOutcome.String(outcomeAnswered)
	assert.Equal(t, int64(2), intValue(t, rm, nameMessages, answered))
	assert.Equal(t, int64(2), intValue(t, rm, nameMessages, attribute.String("service.tenant", "acme")), "WithAttributes on metrics")
	assert.Equal(t, int64(0), intValue(t, rm, nameMessages, keyMessageOutcome.String(outcomeFailed)))
	for _, phase := range []string{phaseAcknowledged, phaseFirstChunk, phaseComplete} {
		assert.Equal(t, uint64(2), histCount(t, rm, nameMessageDuration, keyMessagePhase.String(phase)), phase)
	}
	assert.Equal(t, uint64(1), histCount(t, rm, nameConnectDuration, keyConnectOutcome.String(outcomeOK), keyReconnect.Bool(false)))
	assert.Equal(t, int64(0), intValue(t, rm, nameReconnects))
	assert.Equal(t, map[string]int64{"ready": 1}, stateCounts(t, rm))

	// Closing the client takes it out of the counts.
	closeClient(t, c)
	h.probe.waitState(t, ctx, client.StateDisconnected)
	assert.Empty(t, stateCounts(t, h.collect(t)))
}

func TestHooks_ReconnectWithRecoveryFromHistory(t *testing.T) {
	h := newHarness(t)
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, h.hooks, nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.OpenChat(ctx, "chat-recover")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	h.probe.waitState(t, ctx, client.StateReady)

	// The connection drops right after message_received: the reply is
	// stored in the history, and recovered from it after the reconnect.
	srv.DropAfterReceived(1)
	reqCtx, parent := callerSpan(ctx, h)
	r, err := chat.Ask(reqCtx, "answered while away")
	require.NoError(t, err)
	require.True(t, r.Recovered)
	parent.End()
	done := next(t, ctx, h.probe.done, "MessageDone")
	assert.True(t, done.Recovered)
	rec := next(t, ctx, h.probe.recoveries, "Recovery")
	assert.Equal(t, 1, rec.Recovered)

	msgs := h.ended(SpanMessage)
	require.Len(t, msgs, 1)
	assertChildOf(t, msgs[0], parent)
	assert.Equal(t, codes.Unset, msgs[0].Status().Code)
	assert.True(t, hasEvents(eventNames(msgs[0]), eventWritten, eventAcknowledged, eventRecovered), "events %v", eventNames(msgs[0]))
	v, _ := attrOf(msgs[0], keyRecovered)
	assert.True(t, v.AsBool())

	// The first attempt, then at least one after the loss, the last ready.
	h.waitConnectSpans(t, c)
	conns := h.ended(SpanConnect)
	require.GreaterOrEqual(t, len(conns), 2)
	last := conns[len(conns)-1]
	v, _ = attrOf(last, keyReconnect)
	assert.True(t, v.AsBool())
	assert.Equal(t, codes.Unset, last.Status().Code)

	rm := h.collect(t)
	assert.Equal(t, int64(1), intValue(t, rm, nameReconnects))
	assert.Equal(t, uint64(1), histCount(t, rm, nameConnectDuration, keyConnectOutcome.String(outcomeOK), keyReconnect.Bool(true)))
	assert.Equal(t, int64(1), intValue(t, rm, nameRecoveryMessages, keyRecoveryOutcome.String(recoveryRecovered)))
	assert.Equal(t, int64(0), intValue(t, rm, nameRecoveryMessages, keyRecoveryOutcome.String(recoveryLost)))
	assert.Equal(t, int64(1), intValue(t, rm, nameRecoveryLookups))
	assert.Equal(t, int64(1), intValue(t, rm, nameMessages, keyMessageOutcome.String(outcomeAnswered)))
	assert.Equal(t, uint64(1), histCount(t, rm, nameMessageDuration, keyMessagePhase.String(phaseAcknowledged)))
	assert.Equal(t, uint64(1), histCount(t, rm, nameMessageDuration, keyMessagePhase.String(phaseComplete)))
	h.probe.waitState(t, ctx, client.StateReady)
	assert.Equal(t, map[string]int64{"ready": 1}, stateCounts(t, h.collect(t)))
}

func TestHooks_FailedMessageSetsErrorStatusAndCountsErrorType(t *testing.T) {
	h := newHarness(t)
	srv := newServer(t, platformtest.Config{Responder: func(context.Context, platformtest.Request) platformtest.Reply {
		return platformtest.Reply{Error: &platformtest.ErrorReply{Code: platformtest.DefaultFailCode,
			Message: "the model failed", Category: "server_error"}}
	}})
	c := newClient(t, srv, h.hooks, nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.OpenChat(ctx, "chat-fail")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))

	reqCtx, parent := callerSpan(ctx, h)
	_, err = chat.Ask(reqCtx, "this fails")
	var pe *client.PlatformError
	require.ErrorAs(t, err, &pe)
	parent.End()
	done := next(t, ctx, h.probe.done, "MessageDone")
	require.Error(t, done.Err)

	msgs := h.ended(SpanMessage)
	require.Len(t, msgs, 1)
	s := msgs[0]
	assertChildOf(t, s, parent)
	assert.Equal(t, codes.Error, s.Status().Code)
	assert.Equal(t, done.Err.Error(), s.Status().Description)
	assert.Contains(t, eventNames(s), "exception", "the error is recorded")
	v, _ := attrOf(s, keyErrorType)
	assert.Equal(t, platformtest.DefaultFailCode, v.AsString())
	_, ok := attrOf(s, keyReplySize)
	assert.False(t, ok, "no reply size without a reply")

	rm := h.collect(t)
	failed := []attribute.KeyValue{keyMessageOutcome.String(outcomeFailed), keyErrorType.String(platformtest.DefaultFailCode)}
	assert.Equal(t, int64(1), intValue(t, rm, nameMessages, failed...))
	assert.Equal(t, int64(0), intValue(t, rm, nameMessages, keyMessageOutcome.String(outcomeAnswered)))
	assert.Equal(t, uint64(1), histCount(t, rm, nameMessageDuration, append(failed, keyMessagePhase.String(phaseComplete))...))
}

func TestHooks_QueueOverflowCountsRejectedAndObservesQueueLength(t *testing.T) {
	h := newHarness(t)
	srv := newServer(t, platformtest.Config{})
	srv.WithholdReady(true) // the client never gets ready: sends queue
	c := newClient(t, srv, h.hooks, func(cfg *client.Config) { cfg.QueueSize = 2 })
	unregister, err := ObserveClient(c, WithMeterProvider(h.mp), WithAttributes(attribute.String("client", "a")))
	require.NoError(t, err)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.OpenChat(ctx, "chat-queue")
	require.NoError(t, err)

	reqCtx, parent := callerSpan(ctx, h)
	for range 2 {
		_, err := chat.Send(reqCtx, "queued")
		require.NoError(t, err)
	}
	_, err = chat.Send(reqCtx, "one too many")
	require.ErrorIs(t, err, client.ErrQueueFull)
	drop := next(t, ctx, h.probe.drops, "QueueDrop")
	require.ErrorIs(t, drop.Err, client.ErrQueueFull)
	// The refused message ends at once, with the error Send returned.
	done := next(t, ctx, h.probe.done, "MessageDone")
	require.ErrorIs(t, done.Err, client.ErrQueueFull)

	rm := h.collect(t)
	assert.Equal(t, int64(1), intValue(t, rm, nameQueueRejected, keyQueueReason.String("full")))
	assert.Equal(t, int64(1), intValue(t, rm, nameMessages, keyMessageOutcome.String(outcomeFailed), keyErrorType.String("queue_full")))
	assert.Equal(t, int64(2), intValue(t, rm, nameQueueLength, attribute.String("client", "a")))
	msgs := h.ended(SpanMessage)
	require.Len(t, msgs, 1, "the queued messages' spans are still open")
	assertChildOf(t, msgs[0], parent)
	assert.Equal(t, codes.Error, msgs[0].Status().Code)
	v, _ := attrOf(msgs[0], keyErrorType)
	assert.Equal(t, "queue_full", v.AsString())

	// Once the platform is ready, the queued messages go out and are
	// answered.
	srv.WithholdReady(false)
	srv.DropAll(1012) // reconnect; now the platform gets ready
	require.NoError(t, c.Connect(ctx))
	for range 2 {
		done := next(t, ctx, h.probe.done, "MessageDone")
		require.NoError(t, done.Err)
	}
	parent.End()
	msgs = h.ended(SpanMessage)
	require.Len(t, msgs, 3)
	for _, s := range msgs[1:] {
		assertChildOf(t, s, parent)
		assert.Equal(t, codes.Unset, s.Status().Code)
		assert.True(t, hasEvents(eventNames(s), eventWritten, eventAcknowledged, eventFirstChunk), "events %v", eventNames(s))
	}
	rm = h.collect(t)
	assert.Equal(t, int64(2), intValue(t, rm, nameMessages, keyMessageOutcome.String(outcomeAnswered)))
	assert.Equal(t, int64(0), intValue(t, rm, nameQueueLength, attribute.String("client", "a")))

	require.NoError(t, unregister())
	_, found := findMetric(h.collect(t), nameQueueLength)
	assert.False(t, found, "no queue length once unregistered")
}

func TestHooks_DuplicatesCountedByEventType(t *testing.T) {
	h := newHarness(t)
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, h.hooks, nil)
	ctx := ctxT(t, 20*time.Second)
	chat, err := c.OpenChat(ctx, "chat-dup")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	srv.SetDuplicate(true)
	_, err = chat.Ask(ctx, "twice")
	require.NoError(t, err)
	dup := next(t, ctx, h.probe.duplicates, "DuplicateDropped")
	next(t, ctx, h.probe.done, "MessageDone")

	rm := h.collect(t)
	assert.GreaterOrEqual(t, intValue(t, rm, nameDuplicates), int64(1))
	assert.GreaterOrEqual(t, intValue(t, rm, nameDuplicates, keyEventType.String(dup.Type)), int64(1))
	assert.Equal(t, int64(1), intValue(t, rm, nameMessages, keyMessageOutcome.String(outcomeAnswered)), "one message, once")
}

func TestHooks_ProtocolErrorCounted(t *testing.T) {
	h := newHarness(t)
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, h.hooks, nil)
	ctx := ctxT(t, 20*time.Second)
	_, err := c.OpenChat(ctx, "chat-proto")
	require.NoError(t, err)
	require.NoError(t, c.Connect(ctx))
	conns := srv.Connections()
	require.Len(t, conns, 1)
	require.NoError(t, srv.SendRaw(conns[0].ConnID, 1, []byte("{not json")))
	err = next(t, ctx, h.probe.protocol, "ProtocolError")
	require.Error(t, err)

	rm := h.collect(t)
	assert.Equal(t, int64(1), intValue(t, rm, nameProtocolErrors, keyErrorType.String("malformed")))
}

func TestHooks_FailedConnectAttemptSpanAndDuration(t *testing.T) {
	h := newHarness(t)
	srv := newServer(t, platformtest.Config{})
	srv.RefuseHandshakes(1, 503)
	c := newClient(t, srv, h.hooks, nil)
	ctx := ctxT(t, 20*time.Second)
	_, err := c.OpenChat(ctx, "chat-refused")
	require.NoError(t, err)
	_ = c.Connect(ctx) // the first attempt fails; the client retries
	require.NoError(t, c.WaitForState(ctx, client.StateReady))
	var failed client.ConnectDoneInfo
	for failed.Err == nil {
		failed = next(t, ctx, h.probe.connects, "ConnectDone")
	}
	for d := failed; d.Err != nil; {
		d = next(t, ctx, h.probe.connects, "ConnectDone")
	}

	conns := h.ended(SpanConnect)
	require.GreaterOrEqual(t, len(conns), 2)
	first := conns[0]
	assert.Equal(t, codes.Error, first.Status().Code)
	v, _ := attrOf(first, keyErrorType)
	assert.Equal(t, "handshake_503", v.AsString())
	rm := h.collect(t)
	assert.Equal(t, uint64(1), histCount(t, rm, nameConnectDuration, keyConnectOutcome.String(outcomeError), keyErrorType.String("handshake_503")))
	// A ready after a failed first attempt is no reconnect: the client
	// was never ready before (Stats.Reconnects counts the same).
	assert.Equal(t, uint64(0), c.Stats().Reconnects)
	assert.Equal(t, int64(0), intValue(t, rm, nameReconnects))
}

func TestNewHooks_InstrumentsHaveUnitsAndDescriptions(t *testing.T) {
	h := newHarness(t)
	// Record one value on each instrument so that the reader reports it.
	ctx := context.Background()
	hk := h.hooks
	now := time.Now()
	cctx := hk.ConnectStart(ctx, client.ConnectStartInfo{Attempt: 1, Time: now})
	hk.ConnectDone(cctx, client.ConnectDoneInfo{ConnectStartInfo: client.ConnectStartInfo{Attempt: 1, Reconnect: true, Time: now}, Duration: time.Millisecond})
	hk.StateChange(client.StateChange{Previous: client.StateDisconnected, Current: client.StateConnecting})
	mctx := hk.MessageStart(ctx, client.MessageInfo{Start: now, Time: now})
	hk.MessageAcknowledged(mctx, client.MessageInfo{Start: now, Time: now})
	hk.MessageDone(mctx, client.MessageDoneInfo{MessageInfo: client.MessageInfo{Start: now, Time: now}})
	hk.Recovery(client.RecoveryInfo{Recovered: 1})
	hk.QueueDrop(client.QueueDropInfo{Err: client.ErrQueueFull})
	hk.DuplicateDropped(client.DuplicateInfo{Type: "response_chunk"})
	hk.ProtocolError(errors.New("bad frame"))

	want := map[string]string{
		nameConnectionsState: "{connection}",
		nameReconnects:       "{reconnect}",
		nameConnectDuration:  "s",
		nameMessages:         "{message}",
		nameMessageDuration:  "s",
		nameQueueRejected:    "{message}",
		nameDuplicates:       "{event}",
		nameRecoveryMessages: "{message}",
		nameRecoveryLookups:  "{lookup}",
		nameProtocolErrors:   "{frame}",
	}
	rm := h.collect(t)
	for name, unit := range want {
		m, ok := findMetric(rm, name)
		if assert.True(t, ok, name) {
			assert.Equal(t, unit, m.Unit, name)
			assert.NotEmpty(t, m.Description, name)
		}
	}
	assert.Equal(t, ScopeName, rm.ScopeMetrics[0].Scope.Name)
	assert.Equal(t, client.Version, rm.ScopeMetrics[0].Scope.Version)
}

func TestHooks_EndOnlyTheirOwnSpans(t *testing.T) {
	h := newHarness(t)
	ctx, parent := callerSpan(context.Background(), h)
	now := time.Now()
	// Done hooks given a context without a span of theirs (the caller's
	// span only) record the metrics and leave the caller's span open.
	h.hooks.MessageDone(ctx, client.MessageDoneInfo{MessageInfo: client.MessageInfo{Start: now, Time: now}, Err: client.ErrResponseTimeout})
	h.hooks.ConnectDone(ctx, client.ConnectDoneInfo{Err: client.ErrFailed})
	assert.Empty(t, h.spans.Ended())
	assert.True(t, parent.IsRecording(), "the caller's span is still open")
	parent.End()
	rm := h.collect(t)
	assert.Equal(t, int64(1), intValue(t, rm, nameMessages, keyErrorType.String("response_timeout")))
	assert.Equal(t, uint64(1), histCount(t, rm, nameConnectDuration, keyErrorType.String("connection_failed")))
}

func TestHooks_TwoChainedEachEndTheirOwnSpans(t *testing.T) {
	first, second := newHarness(t), newHarness(t)
	srv := newServer(t, platformtest.Config{})
	c := newClient(t, srv, Chain(first.hooks, second.hooks), nil)
	ctx := ctxT(t, 10*time.Second)
	chat, err := c.OpenChat(ctx, "chat-two-hooks")
	require.NoError(t, err)
	_, err = chat.Ask(ctx, "seen twice")
	require.NoError(t, err)
	require.NoError(t, c.Close(ctx))
	for name, h := range map[string]*harness{"first": first, "second": second} {
		msgs := h.ended(SpanMessage)
		require.Len(t, msgs, 1, "%s: its own message span ended", name)
		assert.True(t, hasEvents(eventNames(msgs[0]), eventWritten, eventAcknowledged, eventFirstChunk), "%s: events %v", name, eventNames(msgs[0]))
		assert.Len(t, h.ended(SpanConnect), 1, "%s: its own connect span ended", name)
	}
}
