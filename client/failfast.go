package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"syscall"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Errors that retrying will not fix. Before a client was ever ready, a
// connection attempt that fails with one of them ends the attempts at once
// (unless Config.MaxRetries is RetryForever), so that a wrong URL is
// reported in milliseconds instead of after the whole backoff: the host's
// name does not resolve, a platform on this machine refuses the connection
// (nothing listens on the port), or TLS fails (an untrusted certificate,
// another host's certificate, a plain-HTTP server on an https URL). The
// platform's own refusals (HTTP 401/403/404 at the handshake, close 1008)
// are not retried by the close-code policy already. Once the client was
// ready, the same errors are a platform restarting and are retried.

// permanentHint returns what to do about err when retrying it will not
// help, or "" when it may.
func (c *Client) permanentHint(err error) string {
	var dns *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the host name does not resolve: check Config.APIURL and Config.WSURL"
	case errors.Is(err, syscall.ECONNREFUSED) && c.loopbackPlatform(err):
		return "nothing listens at Config.APIURL on this machine: start the platform or fix the URL"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return "the platform's TLS certificate is not trusted for this host: check the URL or Config.HTTPClient's TLS settings"
	case errors.As(err, &record):
		return "the server does not speak TLS: use an http:// or ws:// URL, or the platform's https port"
	}
	return ""
}

// loopbackPlatform reports whether the address err failed to reach, else
// the configured platform, is on this machine.
func (c *Client) loopbackPlatform(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Addr != nil {
		if tcp, ok := op.Addr.(*net.TCPAddr); ok {
			return tcp.IP.IsLoopback()
		}
	}
	for _, raw := range []string{c.cfg.APIURL, c.cfg.WSURL} {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			continue
		}
		host := u.Hostname()
		if host == "localhost" {
			return true
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return true
		}
	}
	return false
}

// permanentError returns err, a connection error that retrying will not
// fix, with hint saying what to do.
func permanentError(err error, hint string) error {
	var ce *ConnectError
	if errors.As(err, &ce) {
		cp := *ce
		cp.Retryable, cp.hint = false, hint
		return &cp
	}
	return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Err: err, hint: hint}
}

// notePermanent records a connection error that retrying will not fix
// while a RetryForever client goes on trying: Connect returns it at once.
func (c *Client) notePermanent(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.permErr = err
	close(c.stateCh) // wakes Connect
	c.stateCh = make(chan struct{})
}
