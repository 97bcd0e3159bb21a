package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/gorilla/websocket"
	"github.com/miptechnologies/miptech-go/protocol"
)

// One connection's opening: the WebSocket handshake with the platform.

// dial opens the socket and starts its reader and writer.
func (c *Client) dial(ctx context.Context) (*wsConn, error) {
	q := url.Values{}
	q.Set(protocol.QueryTenantID, c.cfg.TenantID)
	if id := c.firstChatID(); id != "" {
		q.Set(protocol.QueryChatID, id)
	}
	if c.cfg.ClientID != "" {
		q.Set(protocol.QueryClientID, c.cfg.ClientID)
	}
	u := c.cfg.WSURL + protocol.PathWebSocket + "?" + q.Encode()
	tok, session, fresh, err := c.wsToken(ctx)
	if err != nil {
		return nil, tokenError(err, session)
	}
	h := http.Header{}
	if err := setAuthHeaders(ctx, h, &c.cfg, false); err != nil {
		return nil, err
	}
	if session {
		h.Del(protocol.HeaderAPIKey) // the session token stands for the key
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: c.cfg.HandshakeTimeout,
		ReadBufferSize:   4096,
		WriteBufferSize:  4096,
		WriteBufferPool:  writeBufferPool,
	}
	if tok != "" {
		d.Subprotocols = []string{"bearer", tok}
	}
	ws, resp, err := d.DialContext(ctx, u, h)
	if err != nil {
		if resp != nil {
			if resp.Body != nil {
				_ = resp.Body.Close()
			}
			tr := protocol.Trigger{Cause: protocol.CauseHandshake, Code: resp.StatusCode}
			return nil, c.handshakeRefused(&ConnectError{Trigger: tr, Retryable: protocol.Lookup(tr).Retry,
				RetryAfter: protocol.ParseRetryAfter(resp.Header.Get(protocol.HeaderRetryAfter), c.clock.Now())}, tok, session, fresh)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}, Retryable: true, Err: redactURLError(err)}
	}
	ws.SetReadLimit(c.cfg.ReadLimit)
	conn := &wsConn{
		ws:      ws,
		seq:     c.connSeq.Add(1),
		stop:    make(chan struct{}),
		lost:    make(chan error, 1),
		ready:   make(chan struct{}),
		greeted: make(chan struct{}),
		session: session,
	}
	conn.spawn = func() {
		// Called with conn.mu held and the connection open: teardown waits
		// on conn.wg only after closing it, so no writer starts after.
		conn.wg.Add(1)
		c.wg.Add(1)
		go func() { defer c.wg.Done(); defer conn.wg.Done(); c.write(conn) }()
	}
	conn.mu.Lock()
	conn.pingT = c.clock.AfterFunc(c.cfg.PingInterval, func() { c.ping(conn) })
	conn.mu.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		conn.shutdown()
		return nil, ErrClosed
	}
	c.conn = conn
	c.setStateLocked(StateConnected, nil, 0, 0)
	c.mu.Unlock()
	c.log.Debug("miptech: socket open", "url", logURL{u, c.cfg.secrets}, "header", logHeader{h, c.cfg.secrets})
	conn.wg.Add(1)
	c.wg.Add(1)
	go func() { defer c.wg.Done(); defer conn.wg.Done(); c.read(conn) }()
	return conn, nil
}
