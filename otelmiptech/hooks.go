package otelmiptech

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"

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

	// noopTracer is true when the tracer is the OpenTelemetry API's no-op
	// one: its spans are then started without building their attributes.
	noopTracer bool
	// kindClient is the span kind option of every span.
	kindClient trace.SpanStartOption

	// Measurement options of the frequent cases, computed once so that a
	// message costs no attribute set of its own.
	plain         opts
	states        [protocol.StateFailed + 1]opts
	ackPhase      opts
	firstPhase    opts
	answeredPhase opts
	answered      opts
	connectOK     [2]opts // by reconnect
	recoveredMsgs opts
	lostMsgs      opts
	queueReasons  map[string]opts

	// The options of the attribute sets that depend on an error type or an
	// event type, made at their first use.
	failedMsgs  optCache // error type: outcome failed
	failedPhase optCache // error type: phase complete, outcome failed
	connectErr  [2]optCache
	lookupErr   optCache
	protoErr    optCache
	dupTypes    optCache
}

// opts are the measurement options of one attribute set as the variadic
// slices of Add and of Record, made once: a measurement then allocates no
// slice of its own.
type opts struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// opt returns the options of the user's attributes and kvs.
func (t *telemetry) opt(kvs ...attribute.KeyValue) opts {
	all := make([]attribute.KeyValue, 0, len(t.attrs)+len(kvs))
	all = append(all, t.attrs...)
	all = append(all, kvs...)
	o := metric.WithAttributeSet(attribute.NewSet(all...))
	return opts{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
}

// maxCached bounds each optCache: past it, options are made per
// measurement (their values come from errors and the platform's codes, few
// in practice, but not bounded by this package).
const maxCached = 256

// optCache holds the options of attribute sets told apart by one string
// value, made at their first use.
type optCache struct {
	mu sync.RWMutex
	m  map[string]opts
}

// get returns the options of value v, made by build(v) at its first use.
func (c *optCache) get(v string, build func(string) opts) opts {
	c.mu.RLock()
	o, ok := c.m[v]
	c.mu.RUnlock()
	if ok {
		return o
	}
	o = build(v)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]opts)
	}
	if len(c.m) < maxCached {
		c.m[v] = o
	}
	return o
}

func (t *telemetry) precompute() {
	_, t.noopTracer = t.tracer.(tnoop.Tracer)
	t.kindClient = trace.WithSpanKind(trace.SpanKindClient)
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
	t.recoveredMsgs = t.opt(keyRecoveryOutcome.String(recoveryRecovered))
	t.lostMsgs = t.opt(keyRecoveryOutcome.String(recoveryLost))
	t.queueReasons = make(map[string]opts)
	for _, r := range []string{queueFull, queueExpired, queueEvicted, queueCanceled, errorTypeOther} {
		t.queueReasons[r] = t.opt(keyQueueReason.String(r))
	}
}

// stateOpt returns the options of the connection state s.
func (t *telemetry) stateOpt(s client.State) opts {
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
		t.in.connectionsState.Add(ctx, -1, t.stateOpt(sc.Previous).add...)
	}
	if sc.Current != client.StateDisconnected {
		t.in.connectionsState.Add(ctx, 1, t.stateOpt(sc.Current).add...)
	}
}

// Context keys of the spans this package started, one per set of hooks: a
// later hook ends the span of its own start, never one of the caller's nor
// one of another set of hooks chained with it.
type (
	messageSpanKey struct{ t *telemetry }
	connectSpanKey struct{ t *telemetry }
)

func (t *telemetry) connectStart(ctx context.Context, info client.ConnectStartInfo) context.Context {
	if ctx == nil {
		ctx = context.Background()
	}
	attrs := make([]attribute.KeyValue, 0, len(t.attrs)+2)
	attrs = append(attrs, t.attrs...)
	attrs = append(attrs, keyConnectAttempt.Int(info.Attempt), keyReconnect.Bool(info.Reconnect))
	ctx, span := t.tracer.Start(ctx, SpanConnect,
		t.kindClient,
		trace.WithTimestamp(info.Time),
		trace.WithAttributes(attrs...))
	return context.WithValue(ctx, connectSpanKey{t}, span)
}

func (t *telemetry) connectDone(ctx context.Context, info client.ConnectDoneInfo) {
	if ctx == nil {
		ctx = context.Background()
	}
	re := 0
	if info.Reconnect {
		re = 1
	}
	var o opts
	var errType string
	switch {
	case info.Err == nil && info.Reconnect:
		o = t.connectOK[re]
		t.in.reconnects.Add(ctx, 1, t.plain.add...)
	case info.Err == nil:
		o = t.connectOK[re]
	default:
		errType = errorType(info.Err)
		o = t.connectErr[re].get(errType, func(errType string) opts {
			return t.opt(keyConnectOutcome.String(outcomeError), keyReconnect.Bool(info.Reconnect), keyErrorType.String(errType))
		})
	}
	t.in.connectDuration.Record(ctx, info.Duration.Seconds(), o.rec...)

	span, _ := ctx.Value(connectSpanKey{t}).(trace.Span)
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
