package main

import (
	"context"
	"log/slog"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/platformtest"
)

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
