package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/client"
)

// step is one check: it runs when every step it needs passed (or was
// skipped as not applicable), else it is reported as skipped.
type step struct {
	name  string
	needs []string
	// budget is the step's time limit in units of -timeout; 0 means
	// -reply-timeout (the round trip).
	budget int
	run    func(d *doctor, ctx context.Context) outcome
}

// steps are the checks, in order: each builds on what the ones before it
// learned.
var steps = []step{
	{name: "dns", budget: 1, run: (*doctor).dns},
	{name: "tcp", needs: []string{"dns"}, budget: 1, run: (*doctor).tcp},
	{name: "tls", needs: []string{"tcp"}, budget: 1, run: (*doctor).tls},
	{name: "healthz", needs: []string{"tls"}, budget: 1, run: (*doctor).healthz},
	{name: "session", needs: []string{"tls"}, budget: 1, run: (*doctor).session},
	{name: "handshake", needs: []string{"session"}, budget: 1, run: (*doctor).handshake},
	{name: "greeting", needs: []string{"handshake"}, budget: 1, run: (*doctor).greeting},
	{name: "join", needs: []string{"healthz", "greeting"}, budget: 2, run: (*doctor).join},
	{name: "round_trip", needs: []string{"join"}, run: (*doctor).roundTrip},
}

// doctor holds the settings and what the steps learned, for the steps
// after them.
type doctor struct {
	set     settings
	secrets *secrets
	http    *http.Client

	port string // the API URL's port, or its scheme's
	// tenantApp is set when a session token was issued: the tenant-app
	// variant of the realtime form, which sends no greeting and no
	// acknowledgement.
	tenantApp bool
	token     string          // from session, tenant-app form
	conn      *websocket.Conn // from handshake, closed by greeting or Close

	c    *client.Client // from join
	chat *client.Chat   // from join
}

func newDoctor(set settings, sec *secrets) *doctor {
	sec.add(set.apiKey)
	d := &doctor{set: set, secrets: sec}
	d.port = set.api.Port()
	if d.port == "" {
		d.port = map[string]string{"http": "80", "https": "443"}[set.api.Scheme]
	}
	d.http = d.newHTTPClient()
	return d
}

// run runs every step, printing each result as it ends, and reports
// whether none failed.
func (d *doctor) run(ctx context.Context, p *printer) bool {
	failed := map[string]string{} // step → the failed step that stops it
	allOK := true
	for _, s := range steps {
		r := result{Step: s.name}
		var roots []string
		for _, n := range s.needs {
			if root, found := failed[n]; found && !slices.Contains(roots, root) {
				roots = append(roots, root)
			}
		}
		if ctx.Err() != nil {
			r.Status, r.Detail, allOK = statusSkip, "skipped: interrupted", false
			p.print(r)
			continue
		}
		if len(roots) > 0 {
			failed[s.name] = roots[0]
			r.Status, r.Detail = statusSkip, "skipped: "+strings.Join(roots, " and ")+" failed"
			p.print(r)
			continue
		}
		limit := d.set.replyTimeout
		if s.budget > 0 {
			limit = time.Duration(s.budget) * d.set.timeout
		}
		sctx, cancel := context.WithTimeout(ctx, limit)
		start := time.Now()
		o := s.run(d, sctx)
		took := time.Since(start)
		cancel()
		if o.status == statusFail && ctx.Err() != nil {
			o = fail(o.detail, "interrupted", "run doctor again")
		}
		r.Status, r.Detail, r.Cause, r.Fix, r.Timings = o.status, o.detail, o.cause, o.fix, o.timings
		if o.status != statusSkip {
			r.MS = ms(took)
		}
		if o.status == statusFail {
			failed[s.name], allOK = s.name, false
		}
		p.print(r)
	}
	return allOK
}

// Close releases the socket and the client the steps left open.
func (d *doctor) Close() {
	if d.conn != nil {
		d.conn.Close()
	}
	if d.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.c.Close(ctx)
	}
	d.http.CloseIdleConnections()
}

// timedOut reports whether err is a timeout (a deadline or a net timeout).
func timedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// refused reports whether err is a refused TCP connection.
func refused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection refused")
}

// hostPort is the API URL's address: its host and port.
func (d *doctor) hostPort() string { return net.JoinHostPort(d.set.api.Hostname(), d.port) }

// networkFailure names the cause and fix of a failed dial to addr.
func networkFailure(err error, addr string, limit time.Duration) outcome {
	switch {
	case refused(err):
		return fail(err.Error(), "connection refused: nothing listens on "+addr,
			"start the platform, or correct the host and port in $"+envAPIURL)
	case timedOut(err):
		return fail(err.Error(), fmt.Sprintf("no answer from %s within %s: the host is down or a firewall drops the packets", addr, limit),
			"check that the platform runs and that this network may reach it (proxy, VPN, firewall); raise -timeout for a slow link")
	}
	return fail(err.Error(), "the network refused the connection to "+addr,
		"check the address in $"+envAPIURL+" and this machine's network")
}
