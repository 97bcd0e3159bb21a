package otelmiptech

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/miptechnologies/miptech-go/client"
)

// messageCtx is the context messageStart returns: the context of the
// message's span (a child of the caller's), and what the message's later
// hooks need, in one allocation. The later hooks of a message run one after
// the other on the client's callback goroutine, so they share its option
// arrays without a lock; the span copies the options and attributes it is
// given, except those of an event, which get arrays of their own.
type messageCtx struct {
	context.Context // tracer.Start's: carries the span
	owner           *telemetry
	span            trace.Span

	startKV   [4]attribute.KeyValue // the span's first attributes
	startOpts [3]trace.SpanStartOption
	ackKV     [1]attribute.KeyValue // the acknowledged event's, used once
	ackUsed   bool
	kv        [5]attribute.KeyValue // SetAttributes
	evOpts    [2]trace.EventOption
	endOpts   [1]trace.SpanEndOption
}

// Value returns m itself for its owner's messageSpanKey, else the value of
// the context it wraps.
func (m *messageCtx) Value(key any) any {
	if key == (messageSpanKey{m.owner}) {
		return m
	}
	return m.Context.Value(key)
}

// messageStart starts the message's span, a child of the span in ctx (the
// context given to Send, Ask or Stream).
func (t *telemetry) messageStart(ctx context.Context, info client.MessageInfo) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	if t.noopTracer {
		outer := ctx.Value(messageSpanKey{t}) != nil
		ctx, _ = t.tracer.Start(ctx, SpanMessage)
		if outer {
			// Hide the span of the message whose hooks called Send.
			return &messageCtx{Context: ctx, owner: t}
		}
		return ctx
	}
	m := &messageCtx{owner: t}
	attrs := m.startKV[:0]
	if len(t.attrs) > 0 {
		attrs = make([]attribute.KeyValue, 0, len(t.attrs)+4)
		attrs = append(attrs, t.attrs...)
	}
	if info.ChatID != "" {
		attrs = append(attrs, keyChatID.String(info.ChatID))
	}
	attrs = append(attrs,
		keyClientMsgID.String(info.ClientMessageID),
		keyAttempt.Int(info.Attempt),
		keyMessageSize.Int(info.Bytes))
	m.startOpts = [3]trace.SpanStartOption{t.kindClient, trace.WithTimestamp(info.Time), trace.WithAttributes(attrs...)}
	ctx, span := t.tracer.Start(ctx, SpanMessage, m.startOpts[:]...)
	m.Context = ctx
	if span.IsRecording() {
		m.span = span // else the later hooks have nothing to add to it
	}
	return m
}

// messageSpan returns the state t's messageStart put in ctx when it started
// a recording span, or nil.
func (t *telemetry) messageSpan(ctx context.Context) *messageCtx {
	if ctx == nil {
		return nil
	}
	if m, _ := ctx.Value(messageSpanKey{t}).(*messageCtx); m != nil && m.span != nil {
		return m
	}
	return nil
}

// event adds the event name at info's time to m's span.
func (m *messageCtx) event(name string, info *client.MessageInfo) {
	m.evOpts[0] = trace.WithTimestamp(info.Time)
	m.span.AddEvent(name, m.evOpts[:1]...)
}

func (t *telemetry) messageWritten(ctx context.Context, info client.MessageInfo) {
	if m := t.messageSpan(ctx); m != nil {
		m.event(eventWritten, &info)
	}
}

func (t *telemetry) messageAcknowledged(ctx context.Context, info client.MessageInfo) {
	t.in.messageDuration.Record(orBackground(ctx), info.Time.Sub(info.Start).Seconds(), t.ackPhase.rec...)
	m := t.messageSpan(ctx)
	if m == nil {
		return
	}
	if info.ServerID == "" {
		m.event(eventAcknowledged, &info)
		return
	}
	id := keyServerMsgID.String(info.ServerID)
	m.kv[0] = id
	m.span.SetAttributes(m.kv[:1]...)
	var evAttrs []attribute.KeyValue // kept by the span's event
	if !m.ackUsed {
		m.ackUsed = true
		m.ackKV[0] = id
		evAttrs = m.ackKV[:]
	} else {
		evAttrs = []attribute.KeyValue{id}
	}
	m.evOpts[0] = trace.WithTimestamp(info.Time)
	m.evOpts[1] = trace.WithAttributes(evAttrs...)
	m.span.AddEvent(eventAcknowledged, m.evOpts[:2]...)
}

func (t *telemetry) messageFirstChunk(ctx context.Context, info client.MessageInfo) {
	t.in.messageDuration.Record(orBackground(ctx), info.Time.Sub(info.Start).Seconds(), t.firstPhase.rec...)
	if m := t.messageSpan(ctx); m != nil {
		m.event(eventFirstChunk, &info)
	}
}

// messageDone counts the message's outcome, records its duration and ends
// its span.
func (t *telemetry) messageDone(ctx context.Context, info client.MessageDoneInfo) {
	ctx = orBackground(ctx)
	took := info.Time.Sub(info.Start).Seconds()
	var errType string
	if info.Err == nil {
		t.in.messages.Add(ctx, 1, t.answered.add...)
		t.in.messageDuration.Record(ctx, took, t.answeredPhase.rec...)
	} else {
		errType = errorType(info.Err)
		t.in.messages.Add(ctx, 1, t.failedMsgs.get(errType, t.failedOpts).add...)
		t.in.messageDuration.Record(ctx, took, t.failedPhase.get(errType, t.failedPhaseOpts).rec...)
	}

	m := t.messageSpan(ctx)
	if m == nil {
		return
	}
	attrs := m.kv[:0]
	if info.ChatID != "" {
		attrs = append(attrs, keyChatID.String(info.ChatID))
	}
	if info.ServerID != "" {
		attrs = append(attrs, keyServerMsgID.String(info.ServerID))
	}
	if info.Err == nil {
		attrs = append(attrs, keyReplySize.Int(info.ReplyBytes))
	}
	if info.Recovered {
		attrs = append(attrs, keyRecovered.Bool(true))
		m.event(eventRecovered, &info.MessageInfo)
	}
	if info.Late {
		attrs = append(attrs, keyLate.Bool(true))
	}
	if info.Err != nil {
		attrs = append(attrs, keyErrorType.String(errType))
		m.evOpts[0] = trace.WithTimestamp(info.Time)
		m.span.RecordError(info.Err, m.evOpts[:1:1]...)
		m.span.SetStatus(codes.Error, info.Err.Error())
	}
	m.span.SetAttributes(attrs...)
	m.endOpts[0] = endAt(info.Time, info.Time.IsZero())
	m.span.End(m.endOpts[:]...)
}

// failedOpts returns the options of a failed message's count.
func (t *telemetry) failedOpts(errType string) opts {
	return t.opt(keyMessageOutcome.String(outcomeFailed), keyErrorType.String(errType))
}

// failedPhaseOpts returns the options of a failed message's duration.
func (t *telemetry) failedPhaseOpts(errType string) opts {
	return t.opt(keyMessagePhase.String(phaseComplete), keyMessageOutcome.String(outcomeFailed), keyErrorType.String(errType))
}

func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
