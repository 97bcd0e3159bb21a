// Command doctor checks the connection to a MIPTech platform one step at a
// time and says which step fails, the likely cause, and the fix:
//
//	MIPTECH_API_URL=https://api.miptechnologies.tech MIPTECH_TENANT_ID=acme MIPTECH_API_KEY=... go run ./examples/doctor
//	go run ./examples/doctor -json     # one JSON object per step
//
// The steps, in order: dns (the API URL's host), tcp (a connection to its
// port), tls (certificate subject and expiry; skipped for http), healthz
// (GET /healthz), session (a session token, where the platform issues one),
// handshake (the WebSocket upgrade and the subprotocol chosen), greeting
// (the frames sent on open and how long connection_ready took), join (a
// client of package client connects and opens a chat) and round_trip (one
// message and its reply, with the times of the acknowledgement, the first
// chunk and the completion). A step whose prerequisite failed is skipped.
// The API key is read from MIPTECH_API_KEY only, sent only to the
// configured origin (a redirect elsewhere is refused), and never printed:
// where the platform echoes it, or the session token, it is replaced by
// [REDACTED].
//
// Run it with -h for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes (see -h).
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the whole program: it parses args, reads the environment through
// getenv, prints the steps on stdout and usage errors on stderr, and returns
// the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	set, err := parseFlags(args, getenv)
	sec := &secrets{}
	sec.add(set.apiKey)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usage())
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "doctor: %s\nRun doctor -h for the flags.\n", sec.redact(err.Error()))
		return exitUsage
	}
	return check(ctx, set, sec, stdout)
}

// check runs the steps with the parsed settings and returns the exit code.
func check(ctx context.Context, set settings, sec *secrets, stdout io.Writer) int {
	p := &printer{w: stdout, json: set.json, secrets: sec}
	for _, n := range set.notes {
		p.note("%s", n)
	}
	key := "no API key"
	if set.apiKey != "" {
		key = "API key set"
	}
	p.note("checking %s for tenant %q (protocol %s, %s)", set.apiURL, set.tenant, set.protocol, key)
	d := newDoctor(set, sec)
	defer d.Close()
	if !d.run(ctx, p) {
		return exitFailure
	}
	return exitOK
}
