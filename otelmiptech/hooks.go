package otelmiptech

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/protocol"
)

// Span names.
const (
	// SpanMessage is the name of the span of a message, from Send
	// accepting it to its outcome.
	SpanMessage = "miptech.message"
	// SpanConnect is the name of the span of a connection attempt.
	SpanConnect = "miptech.connect"
)

// Event names on a message span.
const (
	eventWritten      = "written"
	eventAcknowledged = "acknowledged"
	eventFirstChunk   = "first_chunk"
	eventRecovered    = "recovered"
)

// NewHooks returns hooks that record the OpenTelemetry metrics and spans
// of the clients they are set on (Config.Hooks). One value may be set on
// several clients; their measurements then add up, told apart only by the
// attributes of WithAttributes. By default the global meter and tracer
// providers are used; WithMeterProvider and WithTracerProvider choose
// others.
//
// The error reports instruments the meter could not create; the hooks are
// then not returned.
func NewHooks(opts ...Option) (client.Hooks, error) {
	cfg := newConfig(opts)
	in, err := newInstruments(cfg.meter())
	if err != nil {
		return client.Hooks{}, err
	}
	t := &telemetry{tracer: cfg.tracer(), in: in, attrs: cfg.attrs}
	t.precompute()
	return client.Hooks{
		ConnectStart:        t.connectStart,
		ConnectDone:         t.connectDone,
		StateChange:         t.stateChange,
		MessageStart:        t.messageStart,
		MessageWritten:      t.messageWritten,
		MessageAcknowledged: t.messageAcknowledged,
		MessageFirstChunk:   t.messageFirstChunk,
		MessageDone:         t.messageDone,
		Recovery:            t.recovery,
		QueueDrop:           t.queueDrop,
		DuplicateDropped:    t.duplicateDropped,
		ProtocolError:       t.protocolError,
	}, nil
}

// telemetry records the hooks of one NewHooks call.
type telemetry struct {
	tracer trace.Tracer
	in     instruments
	attrs  []attribute.KeyValue // WithAttributes

	// Measurement options of the frequent cases, computed once so that a
	// message costs no attribute set of its own.
	plain         metric.MeasurementOption
	states        [protocol.StateFailed + 1]metric.MeasurementOption
	ackPhase      metric.MeasurementOption
	firstPhase    metric.MeasurementOption
	answeredPhase metric.MeasurementOption
	answered      metric.MeasurementOption
	connectOK     [2]metric.MeasurementOption // by reconnect
}

// opt returns the measurement option of the user's attributes and kvs.
func (t *telemetry) opt(kvs ...attribute.KeyValue) metric.MeasurementOption {
	all := make([]attribute.KeyValue, 0, len(t.attrs)+len(kvs))
	all = append(all, t.attrs...)
	all = append(all, kvs...)
	return metric.WithAttributeSet(attribute.NewSet(all...))
}

func (t *telemetry) precompute() {
	t.plain = t.opt()
	for s := range t.states {
		t.states[s] = t.opt(keyConnectionState.String(protocol.State(s).String()))
	}
	t.ackPhase = t.opt(keyMessagePhase.String(phaseAcknowledged))
	t.firstPhase = t.opt(keyMessagePhase.String(phaseFirstChunk))
	t.answeredPhase = t.opt(keyMessagePhase.String(phaseComplete), keyMessageOutcome.String(outcomeAnswered))
	t.answered = t.opt(keyMessageOutcome.String(outcomeAnswered))
	for i, re := range []bool{false, true} {
		t.connectOK[i] = t.opt(keyConnectOutcome.String(outcomeOK), keyReconnect.Bool(re))
	}
}

// stateOpt returns the option of the connection state s.
func (t *telemetry) stateOpt(s client.State) metric.MeasurementOption {
	if s >= 0 && int(s) < len(t.states) {
		return t.states[s]
	}
	return t.opt(keyConnectionState.String(s.String()))
}

// stateChange moves a client from one state's count to the other's.
// Disconnected, the state of a new client, is not counted, so that the
// counts need no starting point: a client counts from its first
// connection attempt to Close.
func (t *telemetry) stateChange(sc client.StateChange) {
	ctx := context.Background()
	if sc.Previous != client.StateDisconnected {
		t.in.connectionsState.Add(ctx, -1, t.stateOpt(sc.Previous))
	}
	if sc.Current != client.StateDisconnected {
		t.in.connectionsState.Add(ctx, 1, t.stateOpt(sc.Current))
	}
}

// Context keys of the spans this package started: a later hook ends the
// span of its own start, never one of the caller's.
type (
	messageSpanKey struct{}
	connectSpanKey struct{}
)

func (t *telemetry) connectStart(ctx context.Context, info client.ConnectStartInfo) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	attrs := make([]attribute.KeyValue, 0, len(t.attrs)+2)
	attrs = append(attrs, t.attrs...)
	attrs = append(attrs, keyConnectAttempt.Int(info.Attempt), keyReconnect.Bool(info.Reconnect))
	ctx, span := t.tracer.Start(ctx, SpanConnect,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(info.Time),
		trace.WithAttributes(attrs...))
	return context.WithValue(ctx, connectSpanKey{}, span)
}

func (t *telemetry) connectDone(ctx context.Context, info client.ConnectDoneInfo) {
	if ctx == nil {
		ctx = context.Background()
	}
	var opt metric.MeasurementOption
	var errType string
	switch {
	case info.Err == nil && info.Reconnect:
		opt = t.connectOK[1]
		t.in.reconnects.Add(ctx, 1, t.plain)
	case info.Err == nil:
		opt = t.connectOK[0]
	default:
		errType = errorType(info.Err)
		opt = t.opt(keyConnectOutcome.String(outcomeError), keyReconnect.Bool(info.Reconnect), keyErrorType.String(errType))
	}
	t.in.connectDuration.Record(ctx, info.Duration.Seconds(), opt)

	span, _ := ctx.Value(connectSpanKey{}).(trace.Span)
	if span == nil {
		return
	}
	if info.CloseCode != 0 {
		span.SetAttributes(keyCloseCode.Int(info.CloseCode))
	}
	if info.Err != nil {
		span.SetAttributes(keyErrorType.String(errType))
		span.RecordError(info.Err)
		span.SetStatus(codes.Error, info.Err.Error())
	}
	span.End(endAt(info.Time.Add(info.Duration), info.Time.IsZero()))
}

// endAt ends a span at t, or now when t is unknown.
func endAt(t time.Time, unknown bool) trace.SpanEndOption {
	if unknown {
		return trace.WithTimestamp(time.Now())
	}
	return trace.WithTimestamp(t)
}
