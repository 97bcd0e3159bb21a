package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailures    = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// Storm kinds (-storm-kind).
const (
	stormClose1001 = "close1001"
	stormAbrupt    = "abrupt"
)

// Clients measured (-client).
const (
	clientSDK  = "sdk"
	clientRaw  = "raw"
	clientBoth = "both"
)

// defaultMessages is the per-chat message count when neither -messages nor
// -duration is given.
const defaultMessages = 10

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed command line.
type options struct {
	clients, chats, messages int
	noLoad                   bool // -messages 0 -storm: the storm hits idle clients
	duration, think          time.Duration
	text                     string

	apiURL, wsURL, tenant, apiKey string
	protocolName                  string
	replyTimeout                  time.Duration
	connectConcurrency            int
	connectTimeout                time.Duration

	chunks                 int
	chunkDelay, readyDelay time.Duration

	storm                    bool
	stormKind                string
	stormAfter, stormTimeout time.Duration

	idle     bool
	idleHold time.Duration

	client string // clientSDK, clientRaw or clientBoth
	rounds int

	json, quiet            bool
	cpuProfile, memProfile string
	holdProfile            *holdProfile  // with -idle: the CPU profile of the first hold
	progressEvery          time.Duration // 0: the default for the output
	embedded               bool
}

// parseOptions reads args and the MIPTECH_* environment fallbacks. It
// returns flag.ErrHelp for -h.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: loadtest [flags]")
		fmt.Fprintln(stderr, "Drives concurrent conversations against a MIPTech platform (by default an embedded fake one)")
		fmt.Fprintln(stderr, "and reports latency percentiles, throughput, errors, reconnects; -storm restarts the platform,")
		fmt.Fprintln(stderr, "-idle measures memory per idle client. See `go doc ./examples/loadtest`.")
		fmt.Fprintln(stderr)
		fs.PrintDefaults()
	}
	fs.IntVar(&o.clients, "clients", 10, "number of clients (each one WebSocket connection)")
	fs.IntVar(&o.chats, "chats", 1, "chats (conversations) per client")
	fs.IntVar(&o.messages, "messages", 0, "messages per chat (default 10 when -duration is not set; 0 with -storm: no messages)")
	fs.DurationVar(&o.duration, "duration", 0, "send for this long, then wait for the replies under way")
	fs.DurationVar(&o.think, "think", 0, "pause between a reply and the chat's next message")
	fs.StringVar(&o.text, "text", "How are you today?", "message text (a sequence number is appended)")
	fs.StringVar(&o.apiURL, "api-url", "", "platform REST base URL (env MIPTECH_API_URL; default: embedded fake platform)")
	fs.StringVar(&o.wsURL, "ws-url", "", "platform WebSocket base URL (env MIPTECH_WS_URL; default: from -api-url)")
	fs.StringVar(&o.tenant, "tenant", "", "tenant id (env MIPTECH_TENANT_ID; default \"loadtest\")")
	fs.StringVar(&o.apiKey, "api-key", "", "API key (env MIPTECH_API_KEY)")
	fs.StringVar(&o.protocolName, "protocol", "", "protocol form: auto (default: detected), rest or realtime (env MIPTECH_PROTOCOL)")
	fs.DurationVar(&o.replyTimeout, "reply-timeout", client.DefaultResponseTimeout, "processing timeout per reply (Config.ResponseTimeout)")
	fs.IntVar(&o.connectConcurrency, "connect-concurrency", 64, "clients connecting at the same time")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 2*time.Minute, "time allowed for all clients to become ready")
	fs.IntVar(&o.chunks, "chunks", platformtest.DefaultChunks, "embedded platform: chunks per reply")
	fs.DurationVar(&o.chunkDelay, "chunk-delay", 0, "embedded platform: pause before each chunk")
	fs.DurationVar(&o.readyDelay, "ready-delay", 0, "embedded platform: pause before connection_ready")
	fs.BoolVar(&o.storm, "storm", false, "restart the platform once every client is ready and measure the reconnect storm")
	fs.StringVar(&o.stormKind, "storm-kind", stormClose1001, "storm restart: close1001 (close frame 1001) or abrupt (TCP reset)")
	fs.DurationVar(&o.stormAfter, "storm-after", time.Second, "pause between all clients ready and the restart")
	fs.DurationVar(&o.stormTimeout, "storm-timeout", time.Minute, "time allowed for every client to be ready again")
	fs.BoolVar(&o.idle, "idle", false, "connect the clients, measure heap and goroutines per idle ready client, send nothing")
	fs.DurationVar(&o.idleHold, "idle-hold", 3*time.Second, "with -idle: hold the idle clients this long and report their CPU use (0: skip)")
	fs.StringVar(&o.client, "client", clientSDK, "clients to run: sdk, raw (a minimal gorilla/websocket client, the baseline), or both (sdk and raw in turn, with their ratios)")
	fs.IntVar(&o.rounds, "rounds", 1, "with -client both: rounds of sdk and raw (the order alternates); the ratios' median and spread are reported")
	fs.BoolVar(&o.json, "json", false, "print the report as JSON instead of a table")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line on stderr")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to `file` (with -idle: of the first idle hold only)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile to `file` (with -idle: at the measurement)")
	fs.DurationVar(&o.progressEvery, "progress-every", 0, "progress line period (default 250ms on a terminal, 5s otherwise)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q; see -h", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, env := range map[string]string{"api-url": "MIPTECH_API_URL", "ws-url": "MIPTECH_WS_URL",
		"tenant": "MIPTECH_TENANT_ID", "api-key": "MIPTECH_API_KEY", "protocol": "MIPTECH_PROTOCOL"} {
		if set[name] {
			continue
		}
		if v := os.Getenv(env); v != "" {
			_ = fs.Set(name, v)
		}
	}
	if o.tenant == "" {
		o.tenant = "loadtest"
	}
	if _, err := client.ParseProtocol(o.protocolName); err != nil {
		return o, fmt.Errorf("-protocol: %w", err)
	}
	o.embedded = o.apiURL == ""
	if o.embedded && o.wsURL != "" {
		return o, errors.New("-ws-url needs -api-url")
	}
	if !set["chats"] && o.idle {
		o.chats = 1
	}
	switch {
	case o.clients < 1:
		return o, fmt.Errorf("-clients %d: want at least 1", o.clients)
	case o.chats < 0 || (o.chats == 0 && !o.idle):
		return o, fmt.Errorf("-chats %d: want at least 1 (0 only with -idle)", o.chats)
	case o.messages < 0 || o.duration < 0 || o.think < 0:
		return o, errors.New("-messages, -duration and -think must not be negative")
	case o.replyTimeout <= 0 || o.connectTimeout <= 0 || o.stormTimeout <= 0:
		return o, errors.New("-reply-timeout, -connect-timeout and -storm-timeout must be positive")
	case o.connectConcurrency < 1:
		return o, fmt.Errorf("-connect-concurrency %d: want at least 1", o.connectConcurrency)
	case o.chunks < 1:
		return o, fmt.Errorf("-chunks %d: want at least 1", o.chunks)
	case o.chunkDelay < 0 || o.readyDelay < 0 || o.stormAfter < 0 || o.idleHold < 0 || o.progressEvery < 0:
		return o, errors.New("durations must not be negative")
	case o.stormKind != stormClose1001 && o.stormKind != stormAbrupt:
		return o, fmt.Errorf("-storm-kind %q: want %s or %s", o.stormKind, stormClose1001, stormAbrupt)
	case o.storm && o.idle:
		return o, errors.New("-storm and -idle measure different things; choose one")
	case o.client != clientSDK && o.client != clientRaw && o.client != clientBoth:
		return o, fmt.Errorf("-client %q: want %s, %s or %s", o.client, clientSDK, clientRaw, clientBoth)
	case o.client != clientSDK && o.storm:
		return o, errors.New("-storm measures the SDK's reconnects; the raw client does not reconnect: use -client sdk")
	case o.client != clientSDK && o.protocolName != "" && o.protocolName != "auto" && o.protocolName != "rest":
		return o, fmt.Errorf("-client %s speaks the rest form only, not -protocol %s", o.client, o.protocolName)
	case o.rounds < 1:
		return o, fmt.Errorf("-rounds %d: want at least 1", o.rounds)
	case o.rounds > 1 && o.client != clientBoth:
		return o, errors.New("-rounds needs -client both")
	case strings.TrimSpace(o.text) == "":
		return o, errors.New("-text must not be blank")
	}
	if o.messages == 0 && o.duration == 0 {
		if set["messages"] && !o.idle {
			if !o.storm {
				return o, errors.New("-messages 0 sends nothing; add -storm to restart the platform under idle clients, or use -idle")
			}
			o.noLoad = true
		}
		o.messages = defaultMessages
	}
	return o, nil
}

// run is the program: it parses args, runs the load, storm or idle
// measurement, prints the report on stdout and diagnostics on stderr, and
// returns the exit status. Cancelling ctx (SIGINT) stops the run; the report
// covers what was done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return exitUsage
	}
	limit, err := checkFileLimit(o, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return exitUsage
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "loadtest:", err)
			return exitUsage
		}
		defer f.Close()
		if o.idle {
			// The hold is what the idle CPU figure covers.
			o.holdProfile = &holdProfile{f: f}
		} else {
			if err := pprof.StartCPUProfile(f); err != nil {
				fmt.Fprintln(stderr, "loadtest:", err)
				return exitUsage
			}
			defer pprof.StopCPUProfile()
		}
	}

	var srv *platformtest.Server
	form, _ := client.ParseProtocol(o.protocolName) // checked by parseOptions
	cfg := client.Config{APIURL: o.apiURL, WSURL: o.wsURL, TenantID: o.tenant, APIKey: o.apiKey, ResponseTimeout: o.replyTimeout, Protocol: form}
	if o.embedded {
		pc := platformtest.Config{
			ReadyDelay: o.readyDelay,
			Responder:  platformtest.ChunkedResponder(o.chunks, o.chunkDelay),
			MaxRecords: maxRecords(o),
		}
		if form == client.ProtocolRealtime {
			// The embedded platform in the realtime form accepts any key.
			pc.Protocol = platformtest.ProtocolTenantApp
			if cfg.APIKey == "" {
				cfg.APIKey = "embedded-load-key"
			}
		}
		srv = platformtest.NewServer(pc)
		defer srv.Close()
		cfg.APIURL = srv.URL()
	}
	// One transport for the REST calls of every client: a connect wave
	// reuses keep-alive connections instead of opening several per client.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = o.connectConcurrency
	tr.MaxIdleConns = o.connectConcurrency
	defer tr.CloseIdleConnections()
	cfg.HTTPClient = &http.Client{Transport: tr, Timeout: client.DefaultRESTTimeout}
	probe, err := client.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
		return exitUsage
	}
	_ = probe.Close(context.Background())

	if o.client == clientBoth {
		cmp := runBoth(ctx, o, cfg, srv, tr, limit, stderr)
		return finish(cmp, cmp.Interrupted, cmp.failed(), o, stdout, stderr)
	}
	rep := runOne(ctx, o, o.client, cfg, srv, tr, limit, stderr)
	return finish(rep, rep.Interrupted, rep.failed(), o, stdout, stderr)
}

// output is a report or a comparison: it prints itself and has notes.
type output interface {
	write(w io.Writer, asJSON bool) error
	notes() []string
}

// finish prints out and returns the exit status.
func finish(out output, interrupted, failed bool, o options, stdout, stderr io.Writer) int {
	if err := out.write(stdout, o.json); err != nil {
		fmt.Fprintln(stderr, "loadtest:", err)
	}
	for _, line := range out.notes() {
		fmt.Fprintln(stderr, "loadtest:", line)
	}
	switch {
	case interrupted:
		return exitInterrupted
	case failed:
		return exitFailures
	}
	return exitOK
}

// runOne runs the load or the idle measurement once with a fleet of kind
// (clientSDK or clientRaw) and closes the fleet.
func runOne(ctx context.Context, o options, kind string, cfg client.Config, srv *platformtest.Server, tr *http.Transport, limit uint64, stderr io.Writer) *report {
	f := newFleet(cfg, o.clients, kind == clientRaw)
	defer f.close()
	rep := &report{
		Client:         kind,
		Platform:       platformName(o, cfg),
		Clients:        o.clients,
		ChatsPerClient: o.chats,
		FileLimit:      limit,
	}
	prog := newProgress(stderr, o, f)
	defer prog.stop()
	if o.idle {
		runIdle(ctx, o, f, tr, rep, prog, stderr)
	} else {
		runLoad(ctx, o, f, srv, rep, prog)
		if o.memProfile != "" {
			if err := writeHeapProfile(o.memProfile); err != nil {
				fmt.Fprintln(stderr, "loadtest:", err)
			}
		}
	}
	rep.Reconnects, rep.DuplicatesDropped = f.totals()
	rep.Interrupted = ctx.Err() != nil
	prog.stop()
	rep.SlowCloses = f.close()
	return rep
}

// maxRecords bounds the embedded platform's inspection logs: none for the
// memory measurement, room for every storm handshake otherwise.
func maxRecords(o options) int {
	if o.idle {
		return -1
	}
	return max(10_000, 4*o.clients)
}

// platformName names the platform in the report.
func platformName(o options, cfg client.Config) string {
	if o.embedded {
		return "embedded"
	}
	return cfg.APIURL
}
