package otelmiptech

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testTenant = "tenant-otel"

// fastDelays makes the fault tests reconnect in milliseconds.
var fastDelays = protocol.Delays{GoingAwayCeiling: 20 * time.Millisecond, NetworkFloor: 20 * time.Millisecond,
	ServerErrorFloor: 20 * time.Millisecond, InitializingFloor: 20 * time.Millisecond, RateLimitFloor: 20 * time.Millisecond}

// ctxT returns a context that ends with the test or after d.
func ctxT(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newServer starts a fake platform closed at the end of the test.
func newServer(t testing.TB, cfg platformtest.Config) *platformtest.Server {
	t.Helper()
	srv := platformtest.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// newClient returns a client of srv observed by hooks, closed at the end of
// the test unless the test closes it first. mutate may change the config.
func newClient(t testing.TB, srv *platformtest.Server, hooks client.Hooks, mutate func(*client.Config)) *client.Client {
	t.Helper()
	cfg := client.Config{APIURL: srv.URL(), TenantID: testTenant, ReconnectDelays: fastDelays,
		InitialBackoff: 20 * time.Millisecond, Hooks: hooks}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := client.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { closeClient(t, c) })
	return c
}

func closeClient(t testing.TB, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, c.Close(ctx))
}

// harness is an in-memory OpenTelemetry pipeline: a manual metric reader
// and a span recorder, and the hooks of NewHooks on them, chained with a
// probe that tells the test when a hook has run.
type harness struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	probe  *probe
	hooks  client.Hooks
}

func newHarness(t testing.TB, opts ...Option) *harness {
	t.Helper()
	h := &harness{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(), probe: newProbe()}
	h.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	h.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	t.Cleanup(func() {
		_ = h.mp.Shutdown(context.Background())
		_ = h.tp.Shutdown(context.Background())
	})
	otel, err := NewHooks(append([]Option{WithMeterProvider(h.mp), WithTracerProvider(h.tp)}, opts...)...)
	require.NoError(t, err)
	// The probe comes second: when it runs, the OpenTelemetry hook has.
	h.hooks = Chain(otel, h.probe.hooks())
	return h
}

// collect reads the metrics recorded so far.
func (h *harness) collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, h.reader.Collect(context.Background(), &rm))
	return rm
}

// ended returns the ended spans named name, in the order they ended.
func (h *harness) ended(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.spans.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// waitConnectSpans waits until every connection attempt c made has ended
// its span: ConnectDone runs when the connection loop returns from an
// attempt, which may be a moment after the client went ready.
func (h *harness) waitConnectSpans(t *testing.T, c *client.Client) {
	t.Helper()
	require.Eventually(t, func() bool {
		return uint64(len(h.ended(SpanConnect))) >= c.Stats().Attempts
	}, 10*time.Second, time.Millisecond)
}

// findMetric returns the metric named name.
func findMetric(rm metricdata.ResourceMetrics, name string) (metricdata.Metrics, bool) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// matches reports whether set has every attribute of want.
func matches(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// intValue sums the points of the int64 sum or gauge named name whose
// attributes include want; 0 when there are none.
func intValue(t testing.TB, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	var points []metricdata.DataPoint[int64]
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	default:
		t.Fatalf("%s is a %T, not an int64 sum or gauge", name, m.Data)
	}
	var n int64
	for _, p := range points {
		if matches(p.Attributes, want) {
			n += p.Value
		}
	}
	return n
}

// histCount returns the number of values recorded in the float64
// histogram named name with attributes that include want.
func histCount(t testing.TB, rm metricdata.ResourceMetrics, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	m, ok := findMetric(rm, name)
	if !ok {
		return 0
	}
	d, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok, "%s is a %T, not a float64 histogram", name, m.Data)
	var n uint64
	for _, p := range d.DataPoints {
		if matches(p.Attributes, want) {
			n += p.Count
		}
	}
	return n
}

// attrOf returns the span's attribute key, and whether it has it.
func attrOf(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// eventNames returns the names of the span's events in order.
func eventNames(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, e := range s.Events() {
		out = append(out, e.Name)
	}
	return out
}

// probe records that hooks ran, on channels a test waits on.
type probe struct {
	connects   chan client.ConnectDoneInfo
	states     chan client.StateChange
	done       chan client.MessageDoneInfo
	recoveries chan client.RecoveryInfo
	drops      chan client.QueueDropInfo
	duplicates chan client.DuplicateInfo
	protocol   chan error
}

func newProbe() *probe {
	const n = 1024
	return &probe{
		connects: make(chan client.ConnectDoneInfo, n), states: make(chan client.StateChange, n),
		done: make(chan client.MessageDoneInfo, n), recoveries: make(chan client.RecoveryInfo, n),
		drops: make(chan client.QueueDropInfo, n), duplicates: make(chan client.DuplicateInfo, n),
		protocol: make(chan error, n),
	}
}

// put sends v on ch, or drops it when nobody reads that many (a hook must
// not block).
func put[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func (p *probe) hooks() client.Hooks {
	return client.Hooks{
		ConnectDone: func(_ context.Context, i client.ConnectDoneInfo) { put(p.connects, i) },
		StateChange: func(sc client.StateChange) { put(p.states, sc) },
		MessageDone: func(_ context.Context, i client.MessageDoneInfo) { put(p.done, i) },
		Recovery:    func(i client.RecoveryInfo) { put(p.recoveries, i) },
		QueueDrop:   func(i client.QueueDropInfo) { put(p.drops, i) },
		DuplicateDropped: func(i client.DuplicateInfo) {
			put(p.duplicates, i)
		},
		ProtocolError: func(err error) { put(p.protocol, err) },
	}
}

// next waits for the next value on ch.
func next[T any](t testing.TB, ctx context.Context, ch chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		var zero T
		t.Fatalf("no %s hook: %v", what, ctx.Err())
		return zero
	}
}

// waitState waits until the StateChange hook reported a change into want.
func (p *probe) waitState(t testing.TB, ctx context.Context, want client.State) {
	t.Helper()
	var seen []client.State
	for {
		select {
		case sc := <-p.states:
			if sc.Current == want {
				return
			}
			seen = append(seen, sc.Current)
		case <-ctx.Done():
			t.Fatalf("no StateChange hook into %s: %v; seen %v", want, ctx.Err(), seen)
		}
	}
}

// stateCounts returns the miptech.client.connections.state value of every
// state that has a non-zero one.
func stateCounts(t testing.TB, rm metricdata.ResourceMetrics) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for s := client.StateDisconnected; s <= client.StateFailed; s++ {
		if n := intValue(t, rm, nameConnectionsState, keyConnectionState.String(s.String())); n != 0 {
			out[s.String()] = n
		}
	}
	return out
}

// hasEvents reports whether names has want in this order (others may sit
// between).
func hasEvents(names []string, want ...string) bool {
	i := 0
	for _, n := range names {
		if i < len(want) && n == want[i] {
			i++
		}
	}
	return i == len(want)
}
