package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/protocol"
)

// wsURL is the WebSocket endpoint with the tenant in the query (never a
// credential).
func (d *doctor) wsURL() string {
	u := *d.set.ws
	u.Path = strings.TrimRight(u.Path, "/") + protocol.PathWebSocket
	u.RawQuery = url.Values{protocol.QueryTenantID: {d.set.tenant}}.Encode()
	return u.String()
}

// handshake opens the WebSocket as the SDK does: tenant headers, the API
// key, and the session token as the subprotocols "bearer", <token>.
func (d *doctor) handshake(ctx context.Context) outcome {
	dialer := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: d.set.timeout,
		TLSClientConfig:  &tls.Config{RootCAs: d.set.roots},
	}
	if d.token != "" {
		dialer.Subprotocols = []string{"bearer", d.token}
	}
	h := http.Header{}
	d.setHeaders(h)
	conn, resp, err := dialer.DialContext(ctx, d.wsURL(), h)
	if err != nil {
		if resp == nil {
			return networkFailure(err, d.set.ws.Host, d.set.timeout)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		return d.handshakeFailure(resp.StatusCode, string(body))
	}
	d.conn = conn
	sub := conn.Subprotocol()
	if sub == "" {
		sub = "none"
	}
	return ok("%s %d, subprotocol %s", protocol.PathWebSocket, resp.StatusCode, sub)
}

// handshakeFailure names the cause and fix of a handshake refused with
// an HTTP status.
func (d *doctor) handshakeFailure(code int, body string) outcome {
	seen := fmt.Sprintf("%s %d %s", protocol.PathWebSocket, code, body)
	switch {
	case code == http.StatusUnauthorized && d.set.apiKey == "":
		return fail(seen, "the platform wants credentials and none were given", "set $"+envAPIKey)
	case code == http.StatusUnauthorized && d.token == "" && strings.Contains(strings.ToUpper(body), "TOKEN"):
		return fail(seen, "the platform wants a session token (the tenant-app form) and none was asked for",
			"leave -protocol (and $"+envProtocol+") at auto or set realtime, with $"+envAPIKey+" set")
	case code == http.StatusUnauthorized && d.token != "":
		return fail(seen, "the platform refused the session token it issued", "check $"+envTenantID+" (the token is for that tenant); retry")
	case code == http.StatusUnauthorized:
		return fail(seen, "the platform refused the API key", "check $"+envAPIKey+" (a key of this tenant, not revoked)")
	case code == http.StatusForbidden:
		return fail(seen, "the platform refused the tenant", "check $"+envTenantID)
	case code == http.StatusNotFound:
		return fail(seen, "no WebSocket endpoint at "+d.set.ws.String()+protocol.PathWebSocket,
			"check $"+envAPIURL+" (and $"+envWSURL+" when set)")
	case code == http.StatusTooManyRequests:
		return fail(seen, "the platform is rate-limiting this client", "wait and run doctor again")
	case code >= 500:
		return fail(seen, "the platform failed the handshake", "retry later; check the platform's status")
	case code >= 300 && code < 400:
		return fail(seen, "the platform redirects the WebSocket elsewhere", "set $"+envWSURL+" to the address it redirects to, if you trust it")
	}
	return fail(seen, "the platform did not upgrade to a WebSocket", "check that $"+envAPIURL+" is the platform, not a proxy that drops upgrades")
}

// frame is the part of an inbound frame the greeting reads.
type frame struct {
	Type string `json:"type"`
	Data struct {
		Message string `json:"message"`
		Phase   string `json:"phase"`
	} `json:"data"`
}

// greeting reads the frames the platform sends on open until
// connection_ready, and how long it took; it then closes the socket.
func (d *doctor) greeting(ctx context.Context) outcome {
	conn := d.conn
	defer func() {
		conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		conn.Close()
		d.conn = nil
	}()
	if d.tenantApp {
		return ok("none: the tenant-app form sends no greeting and no connection_ready; a client joins at once")
	}
	start := time.Now()
	deadline, _ := ctx.Deadline()
	conn.SetReadDeadline(deadline)
	var seen []string
	for {
		_, b, err := conn.ReadMessage()
		if err != nil {
			return d.greetingFailure(err, seen)
		}
		var f frame
		if err := json.Unmarshal(b, &f); err != nil || f.Type == "" {
			seen = append(seen, "a frame that is not JSON with a type")
			continue
		}
		t := protocol.CanonicalType(f.Type)
		seen = appendSeen(seen, t)
		switch t {
		case protocol.TypePing:
			conn.WriteJSON(map[string]any{"type": protocol.TypePong, "data": map[string]any{"ts": time.Now().UnixMilli()}})
		case protocol.TypeError:
			return fail(strings.Join(seen, ", ")+": "+f.Data.Message, "the platform sent an error while greeting",
				"read the error above; check $"+envTenantID)
		case protocol.TypeConnectionReady:
			ready := time.Since(start)
			o := ok("%s; ready after %s", strings.Join(seen, ", "), ready.Round(10*time.Microsecond))
			o.timings = map[string]float64{"ready": ms(ready)}
			return o
		}
	}
}

// appendSeen adds a frame type to the list, counting repeats ("x ×3").
func appendSeen(seen []string, t string) []string {
	if n := len(seen); n > 0 {
		last := seen[n-1]
		base, count := last, 1
		if i := strings.LastIndex(last, " ×"); i >= 0 {
			base = last[:i]
			fmt.Sscanf(last[i+len(" ×"):], "%d", &count)
		}
		if base == t {
			seen[n-1] = fmt.Sprintf("%s ×%d", t, count+1)
			return seen
		}
	}
	return append(seen, t)
}

// greetingFailure names the cause and fix of a greeting that ended
// without connection_ready.
func (d *doctor) greetingFailure(err error, seen []string) outcome {
	got := "nothing"
	if len(seen) > 0 {
		got = strings.Join(seen, ", ")
	}
	var ce *websocket.CloseError
	switch {
	case timedOut(err):
		return fail(fmt.Sprintf("no connection_ready within %s (received %s)", d.set.timeout, got),
			"the platform is still initializing (its AI services loading) or is stuck",
			"retry in a minute; if it persists, check the platform's AI services (raise -timeout to wait longer)")
	case errors.As(err, &ce) && (ce.Code == 1008 || ce.Code >= 4000):
		return fail(fmt.Sprintf("closed %d %q after %s", ce.Code, ce.Text, got), "the platform refused the connection's settings",
			"check $"+envTenantID+" and $"+envAPIKey)
	case errors.As(err, &ce):
		return fail(fmt.Sprintf("closed %d %q after %s", ce.Code, ce.Text, got), "the platform closed the connection while greeting",
			"retry; if it persists, check the platform's status")
	}
	return fail(fmt.Sprintf("%v after %s", err, got), "the connection was lost while greeting",
		"retry; check proxies that cut WebSockets")
}
