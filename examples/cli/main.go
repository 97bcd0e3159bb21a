// Command cli is an interactive chat with the MIPTech AI platform, built on
// package client, and a tool for scripts and test harnesses.
//
// It reads one message per line on standard input and sends each line as
// soon as it is read (queued while the connection is down). When standard
// output is not a terminal it prints exactly one line per reply, in input
// order, "assistant: <text>" with \, newline and carriage return escaped,
// and nothing else; on a terminal it streams the replies. Connection state
// changes and diagnostics go to standard error. Without an API URL it
// starts the fake platform of package platformtest in-process and talks to
// it, so that it runs on a fresh machine with no setup:
//
//	printf 'hello\nhow are you?\n' | go run ./examples/cli
//	MIPTECH_API_URL=http://localhost:8001 MIPTECH_TENANT_ID=acme go run ./examples/cli
//
// The platform's protocol form (REST or realtime) is detected;
// MIPTECH_PROTOCOL (or -protocol) forces one.
//
// Run it with -h for the flags, the input rules and the exit codes.
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
	"sync"
	"syscall"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// Exit codes (see -h).
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// closeTimeout bounds the shutdown of the client at exit.
const closeTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole program: it parses args, reads stdin, writes stdout and
// stderr, reads the environment through getenv, and returns the exit code.
// Cancelling ctx is an interrupt (exit 130). Standard output is treated as a
// terminal when it is one.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return runMode(ctx, args, stdin, stdout, stderr, getenv, isTerminal(stdout))
}

// runMode is run with the output mode chosen by the caller: tests force the
// terminal mode with terminal set.
func runMode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, terminal bool) int {
	set, err := parseFlags(args, getenv)
	var noTenant *noTenantError
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage())
		return exitOK
	case errors.As(err, &noTenant):
		fmt.Fprintf(stderr, "cli: %v\n", err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "cli: %v\nRun cli -h for the flags, input rules and exit codes.\n", err)
		return exitUsage
	}
	s := &session{set: set, con: newConsole(stdout, stderr, terminal), failed: make(chan struct{})}
	defer s.close()
	if err := s.setup(); err != nil {
		if where := flagOf(err); where != "" {
			s.con.errorf("%v (set %s)", err, where)
		} else {
			s.con.errorf("%v", err)
		}
		return exitUsage
	}
	return s.run(ctx, stdin)
}

// session is one run of the program: the client, the conversation, and
// the bookkeeping of lines and failures.
type session struct {
	set  settings
	con  *console
	srv  *platformtest.Server // the embedded fake platform, or nil
	c    *client.Client
	chat *client.Chat // opened at the first non-blank line

	backlog  *backlog
	lineMu   sync.Mutex
	lineOf   map[string]int // client message id → input line number
	failures int            // guarded by lineMu

	failOnce sync.Once
	failed   chan struct{} // closed when the connection failed for good
	failErr  error         // why; written before failed is closed
}

// embeddedKey is the API key the CLI uses with the embedded platform in the
// realtime form, which accepts any key.
const embeddedKey = "embedded-demo-key"

// setup starts the embedded platform when no API URL is set and creates
// the client. Neither connects: the chat is opened at the first line.
func (s *session) setup() error {
	cfg := client.Config{
		APIURL:          s.set.apiURL,
		WSURL:           s.set.wsURL,
		TenantID:        s.set.tenant,
		APIKey:          s.set.apiKey,
		Protocol:        s.set.protocol,
		ResponseTimeout: s.set.replyTimeout,
		QueueSize:       s.set.queueSize,
	}
	if s.set.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(s.con, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if s.set.embedded() {
		pc := platformtest.Config{}
		cfg.APIURL, cfg.WSURL, cfg.APIKey = "", "", ""
		if s.set.protocol == client.ProtocolRealtime {
			// The realtime form exchanges an API key for a session token;
			// the embedded platform accepts any.
			pc.Protocol, cfg.APIKey = platformtest.ProtocolTenantApp, embeddedKey
		}
		s.srv = platformtest.NewServer(pc)
		cfg.APIURL = s.srv.URL()
		if s.set.wsURL != "" || s.set.apiKey != "" {
			s.con.line("cli: -ws-url and -api-key are ignored without an API URL")
		}
		s.con.line("cli: no API URL (-api-url, $%s): using the embedded fake platform at %s, tenant %q", envAPIURL, cfg.APIURL, cfg.TenantID)
	} else if s.set.defaultTenant {
		s.con.line("cli: no tenant id (-tenant, $%s): using %q", envTenantID, cfg.TenantID)
	}
	c, err := client.New(cfg)
	if err != nil {
		return err
	}
	s.c = c
	c.OnStateChange(s.onState)
	return nil
}

// close releases the client, then the embedded platform, and waits for
// their goroutines.
func (s *session) close() {
	if s.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		if err := s.c.Close(ctx); err != nil {
			s.con.errorf("closing the client: %v", err)
		}
		cancel()
	}
	if s.srv != nil {
		s.srv.Close()
	}
}

// run sends the lines of stdin as they are read while a printer goroutine
// prints the replies in input order, then waits for the outstanding
// replies. It returns at once when the connection fails or ctx ends.
func (s *session) run(ctx context.Context, stdin io.Reader) int {
	s.backlog = newBacklog()
	s.lineOf = map[string]int{}

	lines := make(chan inputLine)
	stop := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		readLines(stdin, lines, stop)
	}()
	// On an early return the reader may be blocked in a Read of stdin,
	// which cannot be interrupted: it ends with that Read (or the process).
	defer close(stop)

	printCtx, cancelPrint := context.WithCancel(ctx)
	printDone := make(chan struct{})
	go func() {
		defer close(printDone)
		s.print(printCtx)
	}()
	defer func() {
		cancelPrint()
		<-printDone
	}()

	for eof := false; !eof; {
		select {
		case l, ok := <-lines:
			switch {
			case !ok:
				eof = true
			case l.err != nil:
				s.lineFailed(l.n, fmt.Errorf("reading standard input: %w", l.err))
				eof = true
			default:
				if err := s.send(ctx, l); err != nil {
					if ctx.Err() != nil {
						return s.interrupted()
					}
					s.con.errorf("%v", err)
					return exitFailure
				}
			}
		case <-s.failed:
			return s.connectionFailed()
		case <-ctx.Done():
			return s.interrupted()
		}
	}
	<-readDone
	s.backlog.close()
	select {
	case <-printDone:
	case <-s.failed:
	case <-ctx.Done():
		return s.interrupted()
	}
	select {
	case <-s.failed:
		return s.connectionFailed()
	default:
	}
	s.lineMu.Lock()
	defer s.lineMu.Unlock()
	if s.failures > 0 {
		s.con.line("cli: %d line(s) not answered", s.failures)
		return exitFailure
	}
	return exitOK
}

// send sends one input line; a line that cannot be sent is reported and
// counted. The chat is opened at the first non-blank line. It returns an
// error only when the chat cannot be opened, which ends the program.
func (s *session) send(ctx context.Context, l inputLine) error {
	if l.blank() {
		return nil
	}
	if l.tooLong {
		s.lineFailed(l.n, fmt.Errorf("longer than %d bytes; not sent", maxLineBytes))
		return nil
	}
	if s.chat == nil {
		chat, err := s.c.NewChat(ctx, client.ChatOptions{Title: "cli"})
		if err != nil {
			return fmt.Errorf("opening a chat: %w", err)
		}
		s.chat = chat
		chat.OnComplete(s.onComplete)
		chat.OnError(s.onChatError)
		if s.con.terminal {
			chat.OnProcessing(func(client.ProcessingEvent) { s.con.line("* the assistant is typing…") })
			chat.OnTyping(func(e client.TypingEvent) {
				if e.Typing {
					s.con.line("* %s is typing…", e.UserID)
				}
			})
		}
	}
	m, err := s.chat.Send(ctx, l.text)
	if err != nil {
		if ctx.Err() == nil { // else interrupted: run reports it
			s.lineFailed(l.n, err)
		}
		return nil
	}
	s.lineMu.Lock()
	s.lineOf[m.ID()] = l.n
	s.lineMu.Unlock()
	s.backlog.push(sentLine{n: l.n, msg: m})
	return nil
}

// print prints the reply of each sent line, in input order, until the
// backlog is closed and drained or ctx ends. A reply that completes before
// an earlier one waits in its Message until its turn.
func (s *session) print(ctx context.Context) {
	for {
		l, ok := s.backlog.next(ctx)
		if !ok {
			return
		}
		var err error
		if s.con.terminal {
			err = s.stream(ctx, l.msg)
		} else {
			var r client.Reply
			if r, err = l.msg.Wait(ctx); err == nil {
				s.con.reply(r.Text)
			}
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case errors.Is(err, client.ErrFailed):
			// The connection failed for good: the state change that
			// follows reports it, and run ends the program.
			select {
			case <-s.failed:
			case <-ctx.Done():
			}
			return
		default:
			s.lineFailed(l.n, err)
		}
	}
}

// stream writes a reply chunk by chunk as it arrives (terminal mode).
func (s *session) stream(ctx context.Context, m *client.Message) error {
	shown, open := "", false
	defer func() {
		if open {
			s.con.endReply()
		}
	}()
	for c, err := range m.Chunks(ctx) {
		if err != nil {
			return err
		}
		text := c.Text
		whole := c.Replace || c.Done
		if c.Done {
			text = c.Reply.Text
		}
		if whole {
			// A Replace chunk, and the final value, carry the whole text:
			// it normally extends what was shown; a reply restarted or
			// recovered after a lost connection may carry other text, shown
			// again on a line of its own.
			rest, ok := strings.CutPrefix(text, shown)
			if !ok && open {
				s.con.endReply()
				open, rest, shown = false, text, ""
			}
			text = rest
		}
		if !open {
			s.con.beginReply()
			open = true
		}
		s.con.chunk(text)
		shown += text
	}
	return nil
}
