package otelmiptech

import (
	"context"
	"slices"
	"testing"
	"time"

	mnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tnoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// BenchmarkRoundTrip measures Chat.Ask on a ready chat (one-chunk reply)
// without hooks (the baseline), with the hooks of NewHooks on no-op
// providers (the cost of the client calling hooks, and of this package
// around the OpenTelemetry API), and with them on the OpenTelemetry SDK:
// every span sampled and batched to an exporter that discards them, every
// measurement aggregated by a manual reader. Goal: otel within 5 % of
// unset.
//
//	cd otelmiptech && go test -run '^$' -bench RoundTrip -benchmem -count 6 . | tee bench.txt
//	benchstat -col /hooks bench.txt
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("hooks=unset", func(b *testing.B) { benchRoundTrip(b, client.Hooks{}) })
	b.Run("hooks=noop", func(b *testing.B) {
		hooks, err := NewHooks(WithMeterProvider(mnoop.NewMeterProvider()), WithTracerProvider(tnoop.NewTracerProvider()))
		if err != nil {
			b.Fatal(err)
		}
		benchRoundTrip(b, hooks)
	})
	b.Run("hooks=otel", func(b *testing.B) {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(discardExporter{}))
		b.Cleanup(func() {
			_ = tp.Shutdown(context.Background())
			_ = mp.Shutdown(context.Background())
		})
		hooks, err := NewHooks(WithMeterProvider(mp), WithTracerProvider(tp))
		if err != nil {
			b.Fatal(err)
		}
		benchRoundTrip(b, hooks)
	})
}

// discardExporter drops the spans it is given.
type discardExporter struct{}

func (discardExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error { return nil }
func (discardExporter) Shutdown(context.Context) error                             { return nil }

func benchRoundTrip(b *testing.B, hooks client.Hooks) {
	srv := newServer(b, platformtest.Config{
		MaxRecords: -1, // no inspection logs growing with b.N
		MaxHistory: -1,
		Responder: func(context.Context, platformtest.Request) platformtest.Reply {
			return platformtest.Reply{Chunks: []string{"ok"}}
		},
	})
	c := newClient(b, srv, hooks, nil)
	ctx := ctxT(b, 10*time.Minute)
	chat, err := c.OpenChat(ctx, "chat-bench")
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := chat.Ask(ctx, "warm up"); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		r, err := chat.Ask(ctx, "hello")
		if err != nil {
			b.Fatal(err)
		}
		if r.Text != "ok" {
			b.Fatalf("reply %q, want %q", r.Text, "ok")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	}
}
