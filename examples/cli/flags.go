package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/internal/envflag"
)

// Environment variables read when the matching flag is not given.
const (
	envAPIURL   = "MIPTECH_API_URL"
	envWSURL    = "MIPTECH_WS_URL"
	envTenantID = "MIPTECH_TENANT_ID"
	envAPIKey   = "MIPTECH_API_KEY"
	envProtocol = "MIPTECH_PROTOCOL"
)

// defaultTenant is the tenant used when none is given and the platform is
// the embedded one or on this machine: any tenant works with the fake
// platform. A platform elsewhere needs the tenant given.
const defaultTenant = "demo"

// settings are the parsed flags, completed from the environment.
type settings struct {
	apiURL, wsURL, tenant, apiKey string
	protocolName                  string
	protocol                      client.Protocol
	replyTimeout                  time.Duration
	queueSize                     int
	verbose                       bool
	defaultTenant                 bool // no tenant was given: defaultTenant is used
}

// remoteURL returns the first of the API and WebSocket URLs that points
// off this machine, or "" when both are loopback or the embedded platform
// is used (which ignores -ws-url).
func (s settings) remoteURL() string {
	if s.embedded() {
		return ""
	}
	for _, u := range []string{s.apiURL, s.wsURL} {
		if u != "" && !localURL(u) {
			return u
		}
	}
	return ""
}

// localURL reports whether u names a loopback host: localhost, or an IP
// address in 127.0.0.0/8 or ::1.
func localURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := p.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// embedded reports whether the embedded fake platform is used: no API URL
// was given by flag or environment.
func (s settings) embedded() bool { return s.apiURL == "" }

// newFlagSet declares the flags; parse and usage share it.
func newFlagSet(s *settings) *flag.FlagSet {
	fs := flag.NewFlagSet("cli", flag.ContinueOnError)
	fs.StringVar(&s.apiURL, "api-url", "", "platform base `URL`, e.g. https://api.miptechnologies.tech ($"+envAPIURL+");\nwhen empty, an embedded fake platform is started in-process and used")
	fs.StringVar(&s.wsURL, "ws-url", "", "WebSocket base `URL` ($"+envWSURL+"); default: the API URL with http→ws, https→wss")
	fs.StringVar(&s.tenant, "tenant", "", "tenant `id` ($"+envTenantID+"); required with a platform off this machine;\nwith the embedded platform or a loopback URL the default is \""+defaultTenant+"\"")
	fs.StringVar(&s.apiKey, "api-key", "", "API `key` sent as X-API-Key ($"+envAPIKey+"); prefer the environment variable,\nsince flags show in the process list")
	fs.StringVar(&s.protocolName, "protocol", "", "protocol `form`: auto (default: detected), rest or realtime ($"+envProtocol+");\nwith the embedded platform, realtime starts it in the realtime form")
	fs.DurationVar(&s.replyTimeout, "reply-timeout", client.DefaultResponseTimeout, "processing timeout: a line whose reply has not completed this long after it was\nsent (or after its last chunk) fails")
	fs.IntVar(&s.queueSize, "queue-size", client.DefaultQueueSize, "lines that may wait while the connection is down; one more is refused with an error")
	fs.BoolVar(&s.verbose, "v", false, "log the SDK's connection steps and every frame on standard error")
	return fs
}

// parseFlags parses args and fills the values not given as flags from
// getenv: a flag given on the command line, even empty, wins over its
// environment variable. It returns flag.ErrHelp for -h, and any other error
// for a usage mistake; it prints nothing.
func parseFlags(args []string, getenv func(string) string) (settings, error) {
	var s settings
	fs := newFlagSet(&s)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q: messages are read from standard input", fs.Args())
	}
	envflag.Fill(fs, getenv,
		envflag.Var{Flag: "api-url", Env: envAPIURL, P: &s.apiURL},
		envflag.Var{Flag: "ws-url", Env: envWSURL, P: &s.wsURL},
		envflag.Var{Flag: "tenant", Env: envTenantID, P: &s.tenant},
		envflag.Var{Flag: "api-key", Env: envAPIKey, P: &s.apiKey},
		envflag.Var{Flag: "protocol", Env: envProtocol, P: &s.protocolName},
	)
	p, err := client.ParseProtocol(s.protocolName)
	if err != nil {
		return s, fmt.Errorf("-protocol %q: want auto, rest or realtime", s.protocolName)
	}
	s.protocol = p
	switch {
	case s.replyTimeout <= 0:
		return s, fmt.Errorf("-reply-timeout %s: want a positive duration, e.g. 30s", s.replyTimeout)
	case s.queueSize < 1:
		return s, fmt.Errorf("-queue-size %d: want at least 1", s.queueSize)
	}
	if s.tenant == "" {
		if u := s.remoteURL(); u != "" {
			return s, &noTenantError{where: origin(u)}
		}
		s.tenant, s.defaultTenant = defaultTenant, true
	}
	return s, nil
}

// noTenantError is the error of parseFlags when no tenant is given for a
// platform off this machine.
type noTenantError struct{ where string }

func (e *noTenantError) Error() string {
	return fmt.Sprintf("no tenant id for the platform at %s: set -tenant or $%s to your tenant's id", e.where, envTenantID)
}

// origin returns u's scheme and host only, so that no credential or token
// a URL may carry is printed; a URL that does not parse is named by its
// flag.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return "the given -api-url or -ws-url"
	}
	return p.Scheme + "://" + p.Host
}

// flagOf names the flag and environment variable behind a client.Config
// field, for configuration errors.
func flagOf(err error) string {
	var ce *client.ConfigError
	if !errors.As(err, &ce) {
		return ""
	}
	switch ce.Field {
	case "APIURL":
		return "-api-url or $" + envAPIURL
	case "WSURL":
		return "-ws-url or $" + envWSURL
	case "TenantID":
		return "-tenant or $" + envTenantID
	case "APIKey":
		return "-api-key or $" + envAPIKey
	case "Protocol":
		return "-protocol or $" + envProtocol
	case "QueueSize":
		return "-queue-size"
	case "ResponseTimeout":
		return "-reply-timeout"
	}
	return ""
}

// usage returns the text printed by -h.
func usage() string {
	var b strings.Builder
	b.WriteString(`Usage: cli [flags] < messages.txt

cli chats with the MIPTech AI platform. It reads one message per line on
standard input and sends each line as soon as it is read, without waiting for
the reply to the line before; replies are printed in the order of the lines.

Flags (a flag given on the command line wins over its environment variable):
`)
	var s settings
	fs := newFlagSet(&s)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	b.WriteString(`
Input:
  One message per line. A last line without a newline is a line. A trailing
  carriage return (CRLF input) is removed and the rest of the line is sent as
  typed, spaces included. Empty and blank lines are skipped and get no reply.
  Empty input (or blank lines only) exits 0 without connecting: the connection
  is opened at the first non-blank line. While the connection is down, lines
  wait in a queue (-queue-size) and are sent once it is back.
  A line that cannot be sent, because it is too long (over the platform's
  limit, 4000 characters by default) or the queue is full, gets a line
  "error: line N: ..." on standard error, counts as a failure, and cli goes on
  with the next line.

Output:
  When standard output is not a terminal, cli prints exactly one line per
  reply, in the order of the input lines:
      assistant: <reply text>
  where, so that a reply always fits one line, \ is written as \\, a newline
  as \n and a carriage return as \r. Nothing else is written to standard
  output. On a terminal, replies are streamed as they arrive, and the status
  (the assistant typing) is shown on standard error.
  Standard error gets everything else: connection state changes ("state:
  ready"), failed lines ("error: line N: ..."), and late replies ("late: line
  N: assistant: ...", a reply that came after its line timed out; never on
  standard output). On a terminal these lines show at once, on a line of
  their own: one that comes while a reply streams ends the reply's line, and
  the reply then goes on from its beginning on a new line.

Ctrl-C:
  On a terminal, Ctrl-C while a reply is awaited or streaming cancels that
  reply ("cli: line N: reply cancelled"; it does not count as a failure) and
  cli goes on with the next line; Ctrl-C with no reply open, or twice within
  a second, exits (130). When standard output is not a terminal, Ctrl-C
  exits at once.

Exit status:
  0    every non-blank line was answered (also for empty input and -h)
  1    a line failed: it could not be sent, the platform answered it with an
       error, or its reply timed out (-reply-timeout); the other lines are
       still answered before cli exits. Also when the connection fails for
       good (state "failed": credentials or tenant refused, or the platform
       still unreachable after the last retry, about 30 s): cli then exits
       at once with an "error: connection failed ..." line.
  2    invalid flags or configuration
  130  interrupted (SIGTERM, or SIGINT/Ctrl-C as above)

Examples:
  echo "What are your opening hours?" | go run ./examples/cli
  MIPTECH_API_URL=https://api.miptechnologies.tech MIPTECH_TENANT_ID=acme \
    MIPTECH_API_KEY=... go run ./examples/cli < questions.txt > answers.txt
  go run ./examples/fakeplatform -protocol realtime &   # the realtime form
  printf 'hello\nhow are you?\n' | MIPTECH_API_URL=http://localhost:8001 \
    MIPTECH_API_KEY=any-key go run ./examples/cli
  The protocol form (rest or realtime) is detected unless -protocol or
  $MIPTECH_PROTOCOL forces one.
`)
	return b.String()
}
