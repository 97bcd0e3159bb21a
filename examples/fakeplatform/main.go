// Command fakeplatform serves the fake MIPTech platform of package
// platformtest on a fixed address, so that clients in any language (the web
// front end's tests, curl, websocat) can run against it offline.
//
//	go run ./examples/fakeplatform                      # 127.0.0.1:8001, any tenant
//	go run ./examples/fakeplatform -tenants acme -api-key k -ready-delay 500ms -chunk-delay 50ms -v
//
// REST lives under http://ADDR/api/v1 and the WebSocket at
// ws://ADDR/api/v1/ws/chat?tenant_id=<tenant>. Every reply is "Echo: " and
// the user's text, in -chunks pieces split at word boundaries. With -v every
// connection and frame is logged (debug level) on stderr. SIGINT or SIGTERM
// closes every connection (close code 1001) and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/miptechnologies/miptech-go/platformtest"
	"github.com/miptechnologies/miptech-go/protocol"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "fakeplatform:", err)
		os.Exit(2)
	}
}

// run parses args, serves until ctx ends, then shuts the server down. It
// writes the URLs, logs and usage errors to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakeplatform", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8001", "address to listen on (`host:port`; port 0 picks a free one)")
	readyDelay := fs.Duration("ready-delay", 0, "pause between connection_established and connection_ready")
	chunks := fs.Int("chunks", platformtest.DefaultChunks, "number of response_chunk frames per reply (split at word boundaries)")
	chunkDelay := fs.Duration("chunk-delay", 0, "pause before each response_chunk")
	tenants := fs.String("tenants", "", "comma-separated accepted tenant ids (default: any non-empty tenant)")
	apiKey := fs.String("api-key", "", "X-API-Key required on REST and WebSocket handshakes (default: none)")
	strictJoin := fs.Bool("strict-join", false, "answer a chat_message for a chat the socket has not joined with error not_joined (default: join it, as the platform does)")
	maxLen := fs.Int("max-message-length", platformtest.DefaultMaxMessageLength, "longest user message accepted, in characters")
	maxRecords := fs.Int("max-records", 10_000, "entries kept per inspection log (frames, handshakes, requests); negative: none")
	verbose := fs.Bool("v", false, "log every connection and frame (debug level)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q; see -h", fs.Args())
	}
	switch {
	case *chunks < 1:
		return fmt.Errorf("-chunks %d: want at least 1", *chunks)
	case *readyDelay < 0 || *chunkDelay < 0:
		return errors.New("-ready-delay and -chunk-delay must not be negative")
	case *maxLen < 1:
		return fmt.Errorf("-max-message-length %d: want at least 1", *maxLen)
	case *maxRecords == 0:
		*maxRecords = -1
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := platformtest.Config{
		ReadyDelay:       *readyDelay,
		Responder:        platformtest.ChunkedResponder(*chunks, *chunkDelay),
		Tenants:          splitList(*tenants),
		APIKey:           *apiKey,
		StrictJoin:       *strictJoin,
		MaxMessageLength: *maxLen,
		MaxRecords:       *maxRecords,
		Logger:           logger,
	}
	srv, err := platformtest.NewServerAt(*addr, cfg)
	if err != nil {
		return err
	}
	tenantNote := "any tenant"
	if len(cfg.Tenants) > 0 {
		tenantNote = "tenants " + strings.Join(cfg.Tenants, ", ")
	}
	keyNote := "no API key"
	if cfg.APIKey != "" {
		keyNote = "X-API-Key required"
	}
	fmt.Fprintf(stderr, "fakeplatform: REST      %s/api/v1 (health: %s%s)\n", srv.URL(), srv.URL(), protocol.PathHealthz)
	fmt.Fprintf(stderr, "fakeplatform: WebSocket %s%s?tenant_id=<tenant>\n", srv.WSURL(), protocol.PathWebSocket)
	fmt.Fprintf(stderr, "fakeplatform: %s, %s, ready delay %s, %d chunks, chunk delay %s; Ctrl-C to stop\n",
		tenantNote, keyNote, *readyDelay, *chunks, *chunkDelay)

	<-ctx.Done()
	fmt.Fprintln(stderr, "fakeplatform: shutting down")
	start := time.Now()
	srv.Close()
	fmt.Fprintf(stderr, "fakeplatform: stopped in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
