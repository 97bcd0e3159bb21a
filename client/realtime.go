package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/miptechnologies/miptech-go/internal/clock"
	"github.com/miptechnologies/miptech-go/protocol"
)

// The realtime form (SPEC §2.4): chats are created and joined over the
// WebSocket, the handshake offers a session token, and the platform may
// send no greeting. This file holds what the connection loop and the chats
// do differently in that form.

// greetWindow bounds the wait for a first greeting frame from a realtime
// platform that has not been seen to greet or to stay silent yet.
const greetWindow = time.Second

// errNotCreated is the error of a NewChat whose chat the platform did not
// confirm in time.
var errNotCreated = errors.New("client: the platform did not confirm the new chat within Config.JoinTimeout; try again later")

// errNoHistory ends the recovery of a chat in the realtime form, which has
// no history endpoint.
var errNoHistory = errors.New("client: the realtime form has no history")

// errSessionRefused wraps a handshake refused for a session token.
var errSessionRefused = fmt.Errorf("%w: the platform refused the session token", ErrUnauthorized)

// errStaleSession is a refused session token that was not new: the handshake
// is tried once more with a new one.
var errStaleSession = fmt.Errorf("%w; getting a new one", errSessionRefused)

// initForm sets up the form state of a new client.
func (c *Client) initForm() {
	c.fs.form = c.cfg.Protocol
	c.fs.tokens = &sessionTokens{c: c}
	if c.cfg.Protocol != ProtocolAuto {
		c.log.Debug("miptech: protocol form chosen", "protocol", c.cfg.Protocol.String(), "why", "Config.Protocol")
	}
}

// beginConnect starts a connection attempt with the protocol form: it
// reports whether the form is realtime, or the network error of the
// session endpoint (retryable as a failed health check is).
func (c *Client) beginConnect(ctx context.Context) (bool, error) {
	form, err := c.resolveForm(ctx)
	if err != nil {
		return false, restConnectError(err)
	}
	return form == ProtocolRealtime, nil
}

// healthError returns the error of a failed health check that stops the
// attempt, or nil: unless the REST form was chosen, a platform without any
// health endpoint (404) is not an error.
func (c *Client) healthError(err error) error {
	var apiErr *protocol.APIError
	if err == nil || (c.protocolForm() != ProtocolREST && errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound) {
		return nil
	}
	return restConnectError(err)
}

// dialOnce dials, and in the realtime form dials once more with a new
// session token when the platform refused one that was not new.
func (c *Client) dialOnce(ctx context.Context) (*wsConn, error) {
	conn, err := c.dial(ctx)
	if err != nil && errors.Is(err, errStaleSession) {
		c.log.Debug("miptech: session token refused at the handshake; getting a new one")
		conn, err = c.dial(ctx)
	}
	return conn, err
}

// tokenError turns a failure to get the handshake's token into a
// connection error: a refused key or a user token source error is not
// retried; a network or server error at the session endpoint is.
func tokenError(err error, session bool) error {
	if session && !errors.Is(err, ErrUnauthorized) {
		return restConnectError(err)
	}
	return &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseHandshake, Code: http.StatusUnauthorized}, Err: err}
}

// handshakeRefused completes the error of a refused handshake that offered
// a session token: the token is forgotten, and the error says whether a new
// one is worth a second handshake (the refused one was not new).
func (c *Client) handshakeRefused(ce *ConnectError, tok string, session, fresh bool) *ConnectError {
	if !session || (ce.Trigger.Code != http.StatusUnauthorized && ce.Trigger.Code != http.StatusForbidden) {
		return ce
	}
	c.fs.tokens.invalidate(tok)
	ce.Err = errSessionRefused
	if !fresh {
		ce.Err = errStaleSession
	}
	return ce
}

// refreshOnAuthClose lets a realtime client that holds a session token
// reconnect after the platform closed its connection with an auth code
// (4401, 4403): the token is forgotten and the next attempt gets a new one.
// A new token refused at its handshake ends the attempts (errSessionRefused).
func (c *Client) refreshOnAuthClose(err error, p protocol.Policy) protocol.Policy {
	var ce *ConnectError
	if p.Retry || !errors.As(err, &ce) || ce.Trigger.Cause != protocol.CauseClose ||
		(ce.Trigger.Code != protocol.CloseUnauthorized && ce.Trigger.Code != protocol.CloseForbidden) {
		return p
	}
	if c.cfg.Token != nil || c.cfg.APIKey == "" || !c.realtime() {
		return p
	}
	c.mu.Lock()
	lived := c.clock.Now().Sub(c.connectedAt)
	c.mu.Unlock()
	if !c.fs.tokens.noteAuthClose(lived) {
		c.log.Warn("miptech: the platform closed every new connection for its session token; not retried", "code", ce.Trigger.Code)
		return p
	}
	c.fs.tokens.dropCurrent()
	c.log.Debug("miptech: connection closed for its session token; reconnecting with a new one", "code", ce.Trigger.Code)
	return c.cfg.ReconnectDelays.Apply(protocol.Lookup(protocol.Trigger{Cause: protocol.CauseClose, Code: protocol.CloseGoingAway}))
}

// awaitGreeting is the ready step of the realtime form: ready at once on a
// platform that does not greet (always with a session token, the tenant-app
// variant); on one that greets (the website variant), when connection_ready
// came, within Config.ReadyTimeout. A platform not seen yet gets
// greetWindow to send its first frame.
func (c *Client) awaitGreeting(ctx context.Context, conn *wsConn, session bool) error {
	c.fs.mu.Lock()
	silent, greets := c.fs.silent, c.fs.greets
	c.fs.mu.Unlock()
	if session || silent {
		return nil
	}
	if !greets {
		t := c.clock.NewTimer(min(greetWindow, c.cfg.ReadyTimeout))
		select {
		case <-conn.ready:
			t.Stop()
			c.noteGreeting(true)
			return nil
		case <-conn.greeted:
			t.Stop()
			c.noteGreeting(true)
		case <-t.C():
			c.noteGreeting(false)
			return nil
		case err := <-conn.lost:
			t.Stop()
			return err
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	return c.waitReady(ctx, conn)
}

// noteGreeting records whether the platform greets; a silent one speaks
// the realtime form.
func (c *Client) noteGreeting(greets bool) {
	c.fs.mu.Lock()
	c.fs.greets, c.fs.silent = greets, !greets
	c.fs.mu.Unlock()
	c.log.Debug("miptech: platform greeting", "greets", greets)
	if !greets {
		c.decideForm(ProtocolRealtime, "the connection sent no greeting")
	}
}

// joinFrame returns the join_chat payload of the chat: in the REST form
// {chat_id} or {create:true}; in the realtime form {tenant_id, chat_id}
// and, for a chat the platform has not confirmed yet, create:true with the
// UUID v4 the client proposes (kept for every retry of the join).
func (ch *Chat) joinFrame() protocol.JoinChat {
	rt := ch.host.realtime()
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if !rt {
		if ch.id == "" {
			return protocol.JoinChat{Create: true}
		}
		return protocol.JoinChat{ChatID: ch.id}
	}
	if ch.id != "" {
		return protocol.JoinChat{ChatID: ch.id, TenantID: ch.cfg.TenantID}
	}
	if ch.proposed == "" {
		ch.proposed = uuid.NewString()
	}
	return protocol.JoinChat{ChatID: ch.proposed, Create: true, TenantID: ch.cfg.TenantID}
}

// proposedID returns the chat id the chat proposed to the platform, or "".
func (ch *Chat) proposedID() string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.id != "" {
		return ""
	}
	return ch.proposed
}

// newRealtimeChat creates a chat over the WebSocket: it joins with
// create:true and a UUID v4, and returns once the platform confirmed the
// chat (chat_created or chat_joined), whose id becomes the chat's.
func (c *Client) newRealtimeChat(ctx context.Context, opts ChatOptions) (*Chat, error) {
	ch := newChat(c)
	ch.title = opts.Title
	ch.needsCreate = true
	ch.proposed = uuid.NewString()
	ch.created = c.clock.Now()
	if err := c.addChat(ch); err != nil {
		return nil, err
	}
	if err := c.waitCreated(ctx, ch); err != nil {
		_ = ch.Close(context.Background())
		return nil, err
	}
	return ch, nil
}

// waitCreated waits until the platform confirmed the chat: the client is
// ready and the chat has its id. It fails after Config.JoinTimeout of
// readiness without the confirmation, with the error of a failed client,
// ErrClosed, or ctx's error.
func (c *Client) waitCreated(ctx context.Context, ch *Chat) error {
	var timer clock.Timer
	var expired <-chan time.Time
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for timedOut := false; ; {
		if err := c.connectLazy(ctx); err != nil {
			return err
		}
		ch.mu.Lock()
		id, sig, closed := ch.id, ch.joinSig, ch.closed
		ch.mu.Unlock()
		switch {
		case id != "":
			return nil
		case closed:
			return ErrClosed
		case timedOut:
			return errNotCreated
		}
		if timer == nil {
			timer = c.clock.NewTimer(c.cfg.JoinTimeout)
			expired = timer.C()
		}
		c.mu.Lock()
		stateCh := c.stateCh
		c.mu.Unlock()
		select {
		case <-sig:
		case <-stateCh:
		case <-expired:
			timedOut = true
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ctx.Done():
			return ErrClosed
		}
	}
}

// recoveryHistory returns the chat's history for recovery; the realtime
// form has none.
func (ch *Chat) recoveryHistory(ctx context.Context) ([]protocol.HistoryMessage, error) {
	if ch.host.realtime() {
		return nil, errNoHistory
	}
	return ch.History(ctx)
}
