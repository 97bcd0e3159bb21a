// Command quickstart asks the MIPTech platform one question, prints the
// streamed reply as it arrives, then the client's statistics.
//
// With no MIPTECH_API_URL set it starts the fake platform (package
// platformtest) in-process, so it runs anywhere with no setup:
//
//	go run ./examples/quickstart
//
// To talk to a real platform:
//
//	MIPTECH_API_URL=https://api.miptechnologies.tech MIPTECH_TENANT_ID=acme MIPTECH_API_KEY=... go run ./examples/quickstart
//
// The platform's protocol form (REST or realtime) is detected;
// MIPTECH_PROTOCOL=rest or realtime forces one (with the embedded platform,
// realtime starts it in the realtime form).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// question is what the quickstart asks.
const question = "What can you help me with?"

// run connects, asks, streams the reply to out and prints the stats there;
// connection state changes go to diag.
func run(ctx context.Context, out, diag io.Writer, getenv func(string) string) error {
	cfg := client.Config{
		APIURL:   getenv("MIPTECH_API_URL"),
		WSURL:    getenv("MIPTECH_WS_URL"),
		TenantID: getenv("MIPTECH_TENANT_ID"),
		APIKey:   getenv("MIPTECH_API_KEY"),
	}
	form, err := client.ParseProtocol(getenv("MIPTECH_PROTOCOL"))
	if err != nil {
		return fmt.Errorf("MIPTECH_PROTOCOL: %w", err)
	}
	cfg.Protocol = form
	if cfg.APIURL == "" {
		pc := platformtest.Config{Responder: platformtest.ChunkedResponder(6, 40*time.Millisecond)}
		cfg.WSURL, cfg.APIKey = "", ""
		if form == client.ProtocolRealtime {
			// The embedded platform in the realtime form accepts any key.
			pc.Protocol, cfg.APIKey = platformtest.ProtocolTenantApp, "embedded-demo-key"
		}
		srv := platformtest.NewServer(pc)
		defer srv.Close()
		cfg.APIURL = srv.URL()
		fmt.Fprintf(out, "No MIPTECH_API_URL set: using the embedded fake platform at %s\n", srv.URL())
	}
	if cfg.TenantID == "" {
		cfg.TenantID = "quickstart"
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	// Callbacks run on the client's dispatcher goroutine: they write to
	// diag only, so they never race with the main goroutine's writes to out.
	// Connect returns as soon as the client is ready, possibly before the
	// callback for that change has run; printed tells the main goroutine
	// when it has, so that the two streams do not interleave on a terminal.
	printed := make(chan struct{})
	c.OnStateChange(func(sc client.StateChange) {
		fmt.Fprintf(diag, "[connection %s → %s]\n", sc.Previous, sc.Current)
		if sc.Current == client.StateReady {
			select {
			case <-printed:
			default:
				close(printed)
			}
		}
	})

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	chat, err := c.NewChat(ctx, client.ChatOptions{Title: "quickstart"})
	if err != nil {
		return fmt.Errorf("open a chat: %w", err)
	}
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	select {
	case <-printed:
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(out, "\nyou:       %s\nassistant: ", question)
	var reply client.Reply
	for chunk, err := range chat.Stream(ctx, question) {
		if err != nil {
			return fmt.Errorf("ask: %w", err)
		}
		if chunk.Done {
			reply = chunk.Reply
			break
		}
		fmt.Fprint(out, chunk.Text)
	}
	if reply.ClientMessageID == "" {
		return errors.New("the reply ended without completing")
	}
	if reply.Model != "" {
		fmt.Fprintf(out, "\n\nmodel %s, %d tokens, %d chunks\n", reply.Model, reply.TotalTokens, reply.Chunks)
	} else {
		// The realtime form sends no reply metadata.
		fmt.Fprintf(out, "\n\n%d chunks\n", reply.Chunks)
	}
	printStats(out, c.Stats())
	return nil
}

// printStats prints the client's counters.
func printStats(out io.Writer, s client.Stats) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nstats:\n")
	fmt.Fprintf(&b, "  state                 %s\n", s.State)
	fmt.Fprintf(&b, "  connect attempts      %d (reconnects %d)\n", s.Attempts, s.Reconnects)
	fmt.Fprintf(&b, "  frames in/out         %d / %d (%d / %d bytes)\n", s.FramesIn, s.FramesOut, s.BytesIn, s.BytesOut)
	fmt.Fprintf(&b, "  messages              sent %d, acknowledged %d, answered %d, failed %d\n",
		s.MessagesSent, s.MessagesAcknowledged, s.MessagesAnswered, s.MessagesFailed)
	fmt.Fprintf(&b, "  first chunk after     %s\n", s.FirstChunkLatency.P50.Round(time.Microsecond))
	fmt.Fprintf(&b, "  reply complete after  %s\n", s.ReplyLatency.P50.Round(time.Microsecond))
	fmt.Fprintf(&b, "  duplicates dropped    %d, decode errors %d\n", s.DuplicatesDropped, s.DecodeErrors)
	fmt.Fprint(out, b.String())
}
