// Command cli is an interactive chat with the MIPTech AI platform, built on
// package client, and a tool for scripts and test harnesses.
//
// It reads one message per line on standard input and sends each line as
// soon as it is read (queued while the connection is down). When standard
// output is not a terminal it prints exactly one line per reply, in input
// order, "assistant: <text>" with \, newline and carriage return escaped,
// and nothing else; on a terminal it streams the replies, and Ctrl-C during
// a reply cancels that reply and keeps the session. Connection state
// changes and diagnostics go to standard error, on a terminal at once. Without an API URL it
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
	"os"
	"os/signal"
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
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	interrupts := make(chan os.Signal, 1)
	signal.Notify(interrupts, os.Interrupt)
	code := runMode(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv,
		options{terminal: isTerminal(os.Stdout), interrupts: interrupts})
	signal.Stop(interrupts)
	stop()
	os.Exit(code)
}

// options are what the caller of runMode decides for the program: tests
// force the terminal mode and deliver interrupts without a terminal or a
// signal.
type options struct {
	// terminal is whether standard output is a terminal: replies are then
	// streamed, and an interrupt during a reply cancels that reply.
	terminal bool
	// interrupts delivers SIGINT (Ctrl-C); nil delivers none.
	interrupts <-chan os.Signal
}

// run is the whole program: it parses args, reads stdin, writes stdout and
// stderr, reads the environment through getenv, and returns the exit code.
// Cancelling ctx is an interrupt that ends the program (exit 130), as
// SIGTERM is. Standard output is treated as a terminal when it is one.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	return runMode(ctx, args, stdin, stdout, stderr, getenv, options{terminal: isTerminal(stdout)})
}

// runMode is run with the options chosen by the caller.
func runMode(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string, opts options) int {
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
	s := &session{set: set, con: newConsole(stdout, stderr, opts.terminal), failed: make(chan struct{})}
	defer s.close()
	if err := s.setup(); err != nil {
		if where := flagOf(err); where != "" {
			s.con.errorf("%v (set %s)", err, where)
		} else {
			s.con.errorf("%v", err)
		}
		return exitUsage
	}
	return s.run(ctx, stdin, opts.interrupts)
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

	turnMu        sync.Mutex
	turn          *sentLine // the line whose reply is being printed, or nil
	turnCancelled bool      // the user cancelled turn's reply
}

// run sends the lines of stdin as they are read while a printer goroutine
// prints the replies in input order, then waits for the outstanding
// replies. It returns at once when the connection fails, ctx ends, or an
// interrupt ends the program (see watchInterrupts).
func (s *session) run(ctx context.Context, stdin io.Reader, interrupts <-chan os.Signal) int {
	s.backlog = newBacklog()
	s.lineOf = map[string]int{}

	ctx, quit := context.WithCancel(ctx)
	defer quit()
	if interrupts != nil {
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			s.watchInterrupts(ctx, interrupts, quit)
		}()
		defer func() {
			quit()
			<-watchDone
		}()
	}

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
				if err := s.send(printCtx, l); err != nil {
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
// counted. The chat is opened at the first non-blank line. ctx is the
// printer's: it ends when run returns. It returns an error only when the
// chat cannot be opened, which ends the program.
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
			chat.OnProcessing(func(client.ProcessingEvent) { s.con.note("* the assistant is typing…") })
			chat.OnTyping(func(e client.TypingEvent) {
				if e.Typing {
					s.con.note("* %s is typing…", e.UserID)
				}
			})
		}
	}
	// The message has a context of its own, which cancelling its reply
	// ends: a message not written yet is then never sent.
	mctx, cancel := context.WithCancel(ctx)
	m, err := s.chat.Send(mctx, l.text)
	if err != nil {
		cancel()
		if ctx.Err() == nil { // else interrupted: run reports it
			s.lineFailed(l.n, err)
		}
		return nil
	}
	s.lineMu.Lock()
	s.lineOf[m.ID()] = l.n
	s.lineMu.Unlock()
	s.backlog.push(sentLine{n: l.n, msg: m, ctx: mctx, cancel: cancel})
	return nil
}
