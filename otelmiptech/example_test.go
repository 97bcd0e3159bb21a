package otelmiptech_test

import (
	"context"
	"fmt"
	"log"
	"slices"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/otelmiptech"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// The hooks of NewHooks in a client's Config: the message's span is a
// child of the caller's, and the metrics count it. A service would pass
// its own providers (or none, for the global ones) and exporters.
func ExampleNewHooks() {
	srv := platformtest.NewServer(platformtest.Config{})
	defer srv.Close()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	hooks, err := otelmiptech.NewHooks(otelmiptech.WithMeterProvider(mp), otelmiptech.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(client.Config{APIURL: srv.URL(), TenantID: "acme", Hooks: hooks})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	chat, err := c.OpenChat(ctx, "chat-example")
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	reqCtx, span := tp.Tracer("service").Start(ctx, "handle request")
	reply, err := chat.Ask(reqCtx, "hello")
	span.End()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("reply:", reply.Text)
	// Close runs the hooks still queued: the message's span ends.
	if err := c.Close(ctx); err != nil {
		log.Fatal(err)
	}

	names := map[[8]byte]string{}
	for _, s := range spans.Ended() {
		names[s.SpanContext().SpanID()] = s.Name()
	}
	var lines []string
	for _, s := range spans.Ended() {
		parent := "root"
		if s.Parent().IsValid() {
			parent = "child of " + names[s.Parent().SpanID()]
		}
		lines = append(lines, fmt.Sprintf("span %s (%s)", s.Name(), parent))
	}
	slices.Sort(lines)
	for _, l := range lines {
		fmt.Println(l)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "miptech.client.messages" {
			for _, p := range sum.DataPoints {
				outcome, _ := p.Attributes.Value("miptech.message.outcome")
				fmt.Printf("%s{outcome=%s} %d\n", m.Name, outcome.AsString(), p.Value)
			}
		}
	}
	// Output:
	// reply: Echo: hello
	// span handle request (root)
	// span miptech.connect (root)
	// span miptech.message (child of handle request)
	// miptech.client.messages{outcome=answered} 1
}
