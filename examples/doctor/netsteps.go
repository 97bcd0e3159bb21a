package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// dns resolves the API URL's host.
func (d *doctor) dns(ctx context.Context) outcome {
	host := d.set.api.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		return ok("%s is an IP address: nothing to look up", host)
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsNotFound:
			return fail(err.Error(), "no such host: "+host+" is not in DNS",
				"check the host name in $"+envAPIURL+" (typo, or a name only another network knows)")
		case timedOut(err):
			return fail(err.Error(), "the DNS server did not answer within "+d.set.timeout.String(),
				"check this machine's DNS settings and network")
		}
		return fail(err.Error(), "the DNS lookup of "+host+" failed", "check this machine's DNS settings and network")
	}
	var shown []string
	for _, a := range addrs {
		shown = append(shown, a.IP.String())
	}
	return ok("%s → %s", host, strings.Join(shown, ", "))
}

// tcp opens a TCP connection to the host's port, trying its addresses as
// an HTTP client does.
func (d *doctor) tcp(ctx context.Context) outcome {
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", d.hostPort())
	if err != nil {
		return networkFailure(err, d.hostPort(), d.set.timeout)
	}
	conn.Close()
	return ok("connected to %s", conn.RemoteAddr())
}

// tls makes a TLS handshake with the host and reports its certificate.
func (d *doctor) tls(ctx context.Context) outcome {
	if d.set.api.Scheme != "https" {
		return skip("skipped: %s", d.set.api.Scheme)
	}
	host := d.set.api.Hostname()
	dialer := tls.Dialer{Config: &tls.Config{ServerName: host, RootCAs: d.set.roots}}
	conn, err := dialer.DialContext(ctx, "tcp", d.hostPort())
	if err != nil {
		return tlsFailure(err, host, d.set.timeout)
	}
	defer conn.Close()
	st := conn.(*tls.Conn).ConnectionState()
	cert := st.PeerCertificates[0]
	left := time.Until(cert.NotAfter)
	detail := fmt.Sprintf("%s, subject %s, issuer %s, expires %s (in %d days)",
		tls.VersionName(st.Version), cert.Subject, cert.Issuer.CommonName, cert.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24))
	if left < 14*24*time.Hour {
		detail += ": renew it soon"
	}
	return ok("%s", detail)
}

// tlsFailure names the cause and fix of a failed TLS handshake.
func tlsFailure(err error, host string, limit time.Duration) outcome {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		return fail(err.Error(), "the certificate is signed by an authority this machine does not trust",
			"install the issuing CA on this machine, or check that no proxy intercepts TLS")
	case errors.As(err, &hostname):
		return fail(err.Error(), "the certificate is not for "+host,
			"use in $"+envAPIURL+" a host name the certificate names")
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fail(err.Error(), "the certificate has expired, or this machine's clock is wrong",
			"renew the platform's certificate, or set this machine's clock")
	case errors.As(err, &invalid):
		return fail(err.Error(), "the certificate is not valid", "have the platform's certificate reissued")
	case errors.As(err, &record):
		return fail(err.Error(), "the server does not speak TLS on this port",
			"use http:// in $"+envAPIURL+", or the port where the platform serves https")
	}
	return networkFailure(err, host, limit)
}
