// Command otel-demo asks the MIPTech platform two questions with the
// OpenTelemetry hooks of otelmiptech set, then prints the spans and the
// metrics they recorded with the OpenTelemetry stdout exporters (JSON).
//
// With no MIPTECH_API_URL set it starts the fake platform (package
// platformtest) in-process, so it runs anywhere with no setup:
//
//	cd otelmiptech && go run ./cmd/otel-demo
//
// To talk to a real platform:
//
//	MIPTECH_API_URL=https://api.miptechnologies.tech MIPTECH_TENANT_ID=acme MIPTECH_API_KEY=... go run ./cmd/otel-demo
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/otelmiptech"
	"github.com/miptechnologies/miptech-go/platformtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "otel-demo:", err)
		os.Exit(1)
	}
}

// questions are what the demo asks.
var questions = []string{"What can you help me with?", "And what do you cost?"}

// lockedWriter serializes writes: spans are exported on the client's
// callback goroutine as they end, while the main goroutine prints.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// run asks the questions and prints the replies, the spans and the
// metrics to out.
func run(ctx context.Context, w io.Writer, getenv func(string) string) (err error) {
	out := &lockedWriter{w: w}
	cfg := client.Config{
		APIURL:   getenv("MIPTECH_API_URL"),
		WSURL:    getenv("MIPTECH_WS_URL"),
		TenantID: getenv("MIPTECH_TENANT_ID"),
		APIKey:   getenv("MIPTECH_API_KEY"),
	}
	if cfg.APIURL == "" {
		srv := platformtest.NewServer(platformtest.Config{Responder: platformtest.ChunkedResponder(3, 10*time.Millisecond)})
		defer srv.Close()
		cfg.APIURL, cfg.WSURL, cfg.APIKey = srv.URL(), "", ""
		fmt.Fprintf(out, "No MIPTECH_API_URL set: using the embedded fake platform at %s\n", srv.URL())
	}
	if cfg.TenantID == "" {
		cfg.TenantID = "otel-demo"
	}

	// Spans are printed as they end; metrics are read once, at the end.
	spanExp, err := stdouttrace.New(stdouttrace.WithWriter(out), stdouttrace.WithPrettyPrint())
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spanExp))
	defer func() { err = errors.Join(err, tp.Shutdown(context.Background())) }()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { err = errors.Join(err, mp.Shutdown(context.Background())) }()

	attrs := otelmiptech.WithAttributes(attribute.String("service.name", "otel-demo"))
	cfg.Hooks, err = otelmiptech.NewHooks(otelmiptech.WithMeterProvider(mp), otelmiptech.WithTracerProvider(tp), attrs)
	if err != nil {
		return err
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	unobserve, err := otelmiptech.ObserveClient(c, otelmiptech.WithMeterProvider(mp), attrs)
	if err != nil {
		return err
	}
	defer unobserve()

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	chat, err := c.NewChat(ctx, client.ChatOptions{Title: "otel-demo"})
	if err != nil {
		return fmt.Errorf("open a chat: %w", err)
	}
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// The service's own span: the message spans are its children.
	reqCtx, span := tp.Tracer("otel-demo").Start(ctx, "handle request")
	for _, q := range questions {
		reply, err := chat.Ask(reqCtx, q)
		if err != nil {
			span.End()
			return fmt.Errorf("ask: %w", err)
		}
		fmt.Fprintf(out, "\nyou:       %s\nassistant: %s\n\n", q, reply.Text)
	}
	span.End()

	// Close runs the hooks still queued (the last message's end) before it
	// returns; the queue length is still observed (unobserve is deferred).
	if err := c.Close(ctx); err != nil {
		return err
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	metricExp, err := stdoutmetric.New(stdoutmetric.WithWriter(out), stdoutmetric.WithPrettyPrint())
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\nmetrics:")
	if err := metricExp.Export(ctx, &rm); err != nil {
		return err
	}
	return metricExp.Shutdown(ctx)
}
