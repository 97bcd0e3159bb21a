// Command fakeplatform serves the fake MIPTech platform of package
// platformtest on a fixed address, so that clients in any language (the web
// front end's tests, curl, websocat) can run against it offline.
//
//	go run ./examples/fakeplatform                      # 127.0.0.1:8001, any tenant
//	go run ./examples/fakeplatform -tenants acme -api-key k -ready-delay 500ms -chunk-delay 50ms -v
//	go run ./examples/fakeplatform -variant legacy_types -shape nested -fail-pct 20 -latency 300ms
//	go run ./examples/fakeplatform -protocol realtime -api-key k -token-ttl 5m
//
// REST lives under http://ADDR/api/v1 and the WebSocket at
// ws://ADDR/api/v1/ws/chat?tenant_id=<tenant>. -protocol picks the form of
// the protocol: rest (the default: chats over REST, history), website (the
// realtime form of the platform's website: /healthz only, chats created
// over the WebSocket) or tenant-app, alias realtime (session tokens from
// POST /api/auth/session offered as WebSocket subprotocols, no greeting,
// replies of chunks only); the start banner says which. Every reply is "Echo: " and
// the user's text, in -chunks pieces split at word boundaries. Browsers of
// any origin may call the REST API (CORS; -cors-origins restricts them).
// The control API under http://ADDR/_platform/ drives faults and lists what
// the server saw, from this machine only (see platformtest.ControlPrefix);
// its address and a curl example are printed at start. With -v every
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
	"slices"
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
	proto := fs.String("protocol", "rest", "form of the protocol: rest, website, or tenant-app (alias realtime)")
	apiKey := fs.String("api-key", "", "X-API-Key required on REST and WebSocket handshakes (default: none); with -protocol tenant-app, the only key POST /api/auth/session accepts (default: any)")
	tokenTTL := fs.Duration("token-ttl", platformtest.DefaultTokenTTL, "lifetime of the session tokens of -protocol tenant-app")
	strictJoin := fs.Bool("strict-join", false, "answer a chat_message for a chat the socket has not joined with error not_joined (default: join it, as the platform does)")
	maxLen := fs.Int("max-message-length", platformtest.DefaultMaxMessageLength, "longest user message accepted, in characters")
	maxRecords := fs.Int("max-records", 10_000, "entries kept per inspection log (frames, handshakes, requests); negative: none")
	variant := fs.String("variant", "canonical", "wire variant: names joined by | (legacy_types, camel_case, top_level_ids, processing_no_id, chunk_no_id, payload_key)")
	shape := fs.String("shape", "flat", "reply shape: flat, nested, full_text, chunks_only or chat_response")
	failPct := fs.Float64("fail-pct", 0, "share of questions, 0-100, answered with an error frame instead of a reply")
	latency := fs.Duration("latency", 0, "pause before each reply's response_start (the model's latency)")
	corsOrigins := fs.String("cors-origins", "*", "comma-separated browser origins allowed by CORS (\"*\": any; \"\": none)")
	control := fs.Bool("control", true, "serve the control API under "+platformtest.ControlPrefix)
	controlToken := fs.String("control-token", "", "bearer token required by the control API (default: none)")
	controlRemote := fs.Bool("control-remote", false, "let clients not on this machine use the control API")
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
	case *readyDelay < 0 || *chunkDelay < 0 || *latency < 0:
		return errors.New("-ready-delay, -chunk-delay and -latency must not be negative")
	case *tokenTTL <= 0:
		return fmt.Errorf("-token-ttl %s: want a positive duration", *tokenTTL)
	case *failPct < 0 || *failPct > 100:
		return fmt.Errorf("-fail-pct %g: want 0 to 100", *failPct)
	case *maxLen < 1:
		return fmt.Errorf("-max-message-length %d: want at least 1", *maxLen)
	case *maxRecords == 0:
		*maxRecords = -1
	}

	form, err := platformtest.ParseProtocol(*proto)
	if err != nil {
		return fmt.Errorf("-protocol: %w", err)
	}
	v, err := platformtest.ParseVariant(*variant)
	if err != nil {
		return fmt.Errorf("-variant: %w", err)
	}
	sh, err := platformtest.ParseShape(*shape)
	if err != nil {
		return fmt.Errorf("-shape: %w", err)
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg := platformtest.Config{
		Protocol:   form,
		TokenTTL:   *tokenTTL,
		ReadyDelay: *readyDelay,
		Responder: platformtest.ResponderSpec{
			Chunks: *chunks, ChunkDelay: *chunkDelay, Delay: *latency, FailPercent: *failPct,
		}.Responder(),
		Variant:          v,
		Shape:            sh,
		AllowedOrigins:   splitList(*corsOrigins),
		ControlAPI:       *control,
		ControlToken:     *controlToken,
		ControlRemote:    *controlRemote,
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
	keyText := keyNote(form, cfg.APIKey != "")
	switch form {
	case platformtest.ProtocolREST:
		fmt.Fprintf(stderr, "fakeplatform: REST      %s/api/v1 (health: %s%s)\n", srv.URL(), srv.URL(), protocol.PathHealthz)
	case platformtest.ProtocolWebsite:
		fmt.Fprintf(stderr, "fakeplatform: REST      %s (health: %s%s; every other path 404)\n", srv.URL(), srv.URL(), protocol.PathHealthz)
	default:
		fmt.Fprintf(stderr, "fakeplatform: REST      %s (health: %s%s; sessions: POST %s%s; every other path 404)\n",
			srv.URL(), srv.URL(), protocol.PathHealthz, srv.URL(), platformtest.PathSession)
	}
	if form == platformtest.ProtocolTenantApp {
		fmt.Fprintf(stderr, "fakeplatform: WebSocket %s%s?tenant_id=<tenant> (subprotocols: bearer, <websocket_token>)\n", srv.WSURL(), protocol.PathWebSocket)
	} else {
		fmt.Fprintf(stderr, "fakeplatform: WebSocket %s%s?tenant_id=<tenant>\n", srv.WSURL(), protocol.PathWebSocket)
	}
	fmt.Fprintf(stderr, "fakeplatform: protocol  %s\n", formNote(form, *tokenTTL))
	fmt.Fprintf(stderr, "fakeplatform: %s, %s, ready delay %s, %d chunks, chunk delay %s, latency %s, %g%% of questions failed, variant %s, shape %s\n",
		tenantNote, keyText, *readyDelay, *chunks, *chunkDelay, *latency, *failPct, v, sh)
	fmt.Fprintf(stderr, "fakeplatform: CORS      %s\n", corsNote(cfg.AllowedOrigins))
	if cfg.ControlAPI {
		access := "this machine only"
		if cfg.ControlRemote {
			access = "any address"
		}
		auth, curlAuth := "no token", ""
		if cfg.ControlToken != "" {
			auth, curlAuth = "bearer token required", " -H 'Authorization: Bearer <token>'"
		}
		ctl := srv.URL() + platformtest.ControlPrefix
		fmt.Fprintf(stderr, "fakeplatform: control   %s/ (%s, %s); faults: GET %s/faults\n", ctl, access, auth, ctl)
		fmt.Fprintf(stderr, "fakeplatform:   e.g.    curl%s -X POST %s/faults/drop_all -d '{\"code\":1001}'\n", curlAuth, ctl)
		fmt.Fprintf(stderr, "fakeplatform:           curl%s -X POST %s/faults/set_responder -d '{\"fail_pct\":50}'\n", curlAuth, ctl)
		fmt.Fprintf(stderr, "fakeplatform:           curl%s %s/connections\n", curlAuth, ctl)
	}
	fmt.Fprintln(stderr, "fakeplatform: Ctrl-C to stop")

	<-ctx.Done()
	fmt.Fprintln(stderr, "fakeplatform: shutting down")
	start := time.Now()
	srv.Close()
	fmt.Fprintf(stderr, "fakeplatform: stopped in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

// formNote describes the form of the protocol for the start banner.
func formNote(form platformtest.Protocol, ttl time.Duration) string {
	switch form {
	case platformtest.ProtocolWebsite:
		return "website (realtime form): chats created over the WebSocket (join_chat create:true → chat_created), no REST chats, no history"
	case platformtest.ProtocolTenantApp:
		return fmt.Sprintf("tenant-app (realtime form): session tokens (%s) from POST %s, no greeting on open, chats by join_chat with a UUID v4, no REST chats, no history", ttl, platformtest.PathSession)
	}
	return "rest: chats and history over REST, replies over the WebSocket (-protocol website or tenant-app for the realtime form)"
}

// keyNote describes the API key setting for the start banner.
func keyNote(form platformtest.Protocol, set bool) string {
	switch {
	case form == platformtest.ProtocolWebsite:
		return "no credential"
	case form == platformtest.ProtocolTenantApp && set:
		return "one API key accepted for sessions"
	case form == platformtest.ProtocolTenantApp:
		return "any API key accepted for sessions"
	case set:
		return "X-API-Key required"
	}
	return "no API key"
}

// corsNote describes the CORS setting for the start banner.
func corsNote(origins []string) string {
	switch {
	case len(origins) == 0:
		return "off: browsers cannot call the REST API (-cors-origins)"
	case slices.Contains(origins, "*"):
		return "any origin may call the REST API from a browser (-cors-origins to restrict)"
	}
	return "browser origins allowed: " + strings.Join(origins, ", ")
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
