package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/internal/envflag"
)

// Environment variables read when the matching flag is not given. The API
// key is read from the environment only: flags show in the process list.
const (
	envAPIURL   = "MIPTECH_API_URL"
	envWSURL    = "MIPTECH_WS_URL"
	envTenantID = "MIPTECH_TENANT_ID"
	envAPIKey   = "MIPTECH_API_KEY"
	envProtocol = "MIPTECH_PROTOCOL"
)

// Defaults of the flags.
const (
	defaultTimeout      = 10 * time.Second
	defaultReplyTimeout = client.DefaultResponseTimeout
	defaultMessage      = "doctor: ping"
	// defaultLocalTenant is the tenant used against a loopback platform
	// when none is given: the fake platform accepts any.
	defaultLocalTenant = "demo"
)

// settings are the parsed flags, completed from the environment.
type settings struct {
	apiURL, wsURL, tenant, apiKey string
	protocolName                  string
	protocol                      client.Protocol
	timeout, replyTimeout         time.Duration
	message                       string
	json                          bool
	allowInsecure                 bool

	api, ws *url.URL // apiURL and the WebSocket base, parsed
	// roots, when set, replaces the system's trusted certificates (tests).
	roots *x509.CertPool

	notes []string // what was assumed, printed before the steps
}

// newFlagSet declares the flags; parse and usage share it.
func newFlagSet(s *settings) *flag.FlagSet {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.StringVar(&s.apiURL, "api-url", "", "platform base `URL` ($"+envAPIURL+"); default "+client.DefaultAPIURL)
	fs.StringVar(&s.wsURL, "ws-url", "", "WebSocket base `URL` ($"+envWSURL+"); default: the API URL with http→ws, https→wss")
	fs.StringVar(&s.tenant, "tenant", "", "tenant `id` ($"+envTenantID+"); required unless the platform is on this machine\n(then \""+defaultLocalTenant+"\")")
	fs.StringVar(&s.protocolName, "protocol", "", "protocol `form`: auto (default: detected), rest or realtime ($"+envProtocol+")")
	fs.DurationVar(&s.timeout, "timeout", defaultTimeout, "limit of each step (the join step, which connects a client and joins, gets twice as long)")
	fs.DurationVar(&s.replyTimeout, "reply-timeout", defaultReplyTimeout, "limit of the round trip: send a message and wait for its complete reply")
	fs.StringVar(&s.message, "message", defaultMessage, "`text` of the message sent in the round trip")
	fs.BoolVar(&s.json, "json", false, "print one JSON object per step (JSON Lines) instead of text")
	fs.BoolVar(&s.allowInsecure, "allow-insecure", false, "send the API key over plain http/ws to a host that is not this machine")
	return fs
}

// parseFlags parses args and fills the values not given as flags from
// getenv ($MIPTECH_API_KEY always comes from there). It returns
// flag.ErrHelp for -h and any other error for a usage mistake; it prints
// nothing.
func parseFlags(args []string, getenv func(string) string) (settings, error) {
	var s settings
	fs := newFlagSet(&s)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	envflag.Fill(fs, getenv,
		envflag.Var{Flag: "api-url", Env: envAPIURL, P: &s.apiURL},
		envflag.Var{Flag: "ws-url", Env: envWSURL, P: &s.wsURL},
		envflag.Var{Flag: "tenant", Env: envTenantID, P: &s.tenant},
		envflag.Var{Flag: "protocol", Env: envProtocol, P: &s.protocolName},
	)
	s.apiKey = strings.TrimSpace(getenv(envAPIKey))
	p, err := client.ParseProtocol(s.protocolName)
	if err != nil {
		return s, fmt.Errorf("-protocol %q: want auto, rest or realtime", s.protocolName)
	}
	s.protocol = p
	switch {
	case s.timeout <= 0:
		return s, fmt.Errorf("-timeout %s: want a positive duration, e.g. 10s", s.timeout)
	case s.replyTimeout <= 0:
		return s, fmt.Errorf("-reply-timeout %s: want a positive duration, e.g. 30s", s.replyTimeout)
	case strings.TrimSpace(s.message) == "":
		return s, errors.New("-message: want a non-blank text")
	}
	if err := s.resolveURLs(); err != nil {
		return s, err
	}
	if s.tenant == "" {
		if !isLoopback(s.api.Hostname()) {
			return s, fmt.Errorf("no tenant id: set -tenant or $%s", envTenantID)
		}
		s.tenant = defaultLocalTenant
		s.notes = append(s.notes, fmt.Sprintf("no tenant id (-tenant, $%s): using %q, which the fake platform accepts", envTenantID, s.tenant))
	}
	return s, nil
}

// resolveURLs parses the API and WebSocket URLs as the SDK does and refuses
// to send the key in clear text to another machine.
func (s *settings) resolveURLs() error {
	if s.apiURL == "" {
		s.apiURL = client.DefaultAPIURL
		s.notes = append(s.notes, fmt.Sprintf("no API URL (-api-url, $%s): checking the local default %s", envAPIURL, s.apiURL))
	}
	s.apiURL = strings.TrimRight(s.apiURL, "/")
	api, err := url.Parse(s.apiURL)
	if err != nil || (api.Scheme != "http" && api.Scheme != "https") || api.Host == "" || api.User != nil {
		return fmt.Errorf("API URL %q: want an absolute http:// or https:// URL without credentials", s.apiURL)
	}
	ws := *api
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[api.Scheme]
	if s.wsURL != "" {
		u, err := url.Parse(strings.TrimRight(s.wsURL, "/"))
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" || u.User != nil || u.RawQuery != "" {
			return fmt.Errorf("WebSocket URL %q: want an absolute ws:// or wss:// URL without credentials or query", s.wsURL)
		}
		ws = *u
	}
	s.api, s.ws = api, &ws
	if s.apiKey != "" && !s.allowInsecure {
		if api.Scheme == "http" && !isLoopback(api.Hostname()) || ws.Scheme == "ws" && !isLoopback(ws.Hostname()) {
			return errors.New("plain http/ws to a host that is not this machine would send the API key in clear text; use https, or -allow-insecure")
		}
	}
	return nil
}

// isLoopback reports whether host names this machine.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// usage returns the text printed by -h.
func usage() string {
	var b strings.Builder
	b.WriteString(`Usage: doctor [flags]

doctor checks the connection to a MIPTech platform one step at a time and
says which step fails, why, and what to do: DNS, TCP, TLS, /healthz, session
token, WebSocket handshake, greeting (connection_ready), join a chat, and one
round trip (a message and its reply). Steps that depend on a failed step are
skipped. The API key is read from $` + envAPIKey + ` only and is never printed.

Flags (a flag given on the command line wins over its environment variable):
`)
	var s settings
	fs := newFlagSet(&s)
	fs.SetOutput(&b)
	fs.PrintDefaults()
	b.WriteString(`
Output: one line per step: ✓ (passed), ✗ (failed) or – (skipped), the step,
the time it took and what was seen; under a failure, the likely cause and
the fix. With -json, one JSON object per step and per line (JSON Lines):
  {"step", "status": "ok"|"fail"|"skip", "ms", "detail",
   "cause" and "fix" (failures only), "timings_ms" (greeting: ready; join:
   connect; round_trip: ack, first_chunk, complete)}
Notes printed before the steps (defaults used) appear in the text output only.

Exit status: 0 every step passed or was skipped as not applicable, 1 a step
failed, 2 invalid flags.
`)
	return b.String()
}
