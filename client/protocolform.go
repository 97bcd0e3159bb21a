package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Protocol selects the form of the platform's protocol a Client speaks
// (SPEC §2.4).
type Protocol int

// Protocol forms.
const (
	// ProtocolAuto (the default) decides once per client, from what the
	// platform does, between ProtocolREST and ProtocolRealtime. With an API
	// key (and no Token), the client first asks the session endpoint, on
	// APIURL's origin: a token issued means the realtime form. Otherwise it
	// speaks the REST form until the platform tells: a REST chat creation
	// or chat configuration that answers means REST; a chat creation that
	// answers 404 (NewChat then creates the chat over the WebSocket), or,
	// with a Token, a connection that sends no greeting, means realtime.
	// Detection never costs a user message.
	ProtocolAuto Protocol = iota
	// ProtocolREST is the form of SPEC §2.1–2.3: chats are created over
	// REST, the platform greets every connection with connection_ready,
	// and replies lost with a connection are recovered from the history.
	ProtocolREST
	// ProtocolRealtime is the form of SPEC §2.4, in which the WebSocket does
	// everything: chats are created with join_chat, the API key is
	// exchanged for a session token offered as the subprotocols "bearer",
	// <token>, and the platform may send no greeting. It has no history:
	// a reply lost with a connection fails with ErrReplyLost.
	ProtocolRealtime
)

var protocolNames = [...]string{ProtocolAuto: "auto", ProtocolREST: "rest", ProtocolRealtime: "realtime"}

// String names the form: "auto", "rest" or "realtime".
func (p Protocol) String() string {
	if p >= 0 && int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "unknown"
}

// ParseProtocol returns the Protocol named name ("auto", "rest",
// "realtime"), as the examples read MIPTECH_PROTOCOL. An empty name is
// ProtocolAuto; case and surrounding blanks are ignored. The names of the
// two realtime variants, "website" and "tenant-app", are ProtocolRealtime.
func ParseProtocol(name string) (Protocol, error) {
	switch n := strings.ToLower(strings.TrimSpace(name)); n {
	case "":
		return ProtocolAuto, nil
	case "website", "tenant-app":
		return ProtocolRealtime, nil
	default:
		for p, s := range protocolNames {
			if s == n {
				return Protocol(p), nil
			}
		}
	}
	return 0, fmt.Errorf("client: unknown protocol form %q; want auto, rest or realtime", name)
}

// formState is what a Client knows of the platform's protocol form: the
// form in use (ProtocolAuto until decided), whether the platform greets
// realtime connections, and the session tokens.
type formState struct {
	detect sync.Mutex // one session probe at a time
	probed bool       // the session endpoint was asked (guarded by detect)

	mu     sync.Mutex
	form   Protocol
	silent bool // a realtime platform was seen to send no greeting
	greets bool // a realtime platform was seen to greet

	tokens *sessionTokens
}

// protocolForm returns the form in use, ProtocolAuto while undecided.
func (c *Client) protocolForm() Protocol {
	c.fs.mu.Lock()
	defer c.fs.mu.Unlock()
	return c.fs.form
}

// realtime reports whether the client speaks the realtime form.
func (c *Client) realtime() bool { return c.protocolForm() == ProtocolRealtime }

// decideForm records the form the platform told, unless one was decided
// already: the first decision stands for the client's life.
func (c *Client) decideForm(p Protocol, why string) {
	c.fs.mu.Lock()
	if c.fs.form != ProtocolAuto {
		c.fs.mu.Unlock()
		return
	}
	c.fs.form = p
	c.fs.mu.Unlock()
	c.log.Debug("miptech: protocol form chosen", "protocol", p.String(), "why", why)
}

// listensForSilence reports whether a connection's silence may decide the
// form: in auto mode, undecided, with a user token (the tenant-app variant
// sends no greeting; without a token it would refuse the handshake).
func (c *Client) listensForSilence() bool {
	return c.cfg.Token != nil && c.protocolForm() == ProtocolAuto
}

// resolveForm returns the form in use. In auto mode, with an API key and
// no user token, it first asks the session endpoint, once per client (again
// after a network error): a token issued means the realtime form (the
// tenant-app variant). Otherwise the form stays undecided (ProtocolAuto)
// and the client speaks the REST form until the platform tells: a REST chat
// creation or chat configuration that answers means REST, a chat creation
// that answers 404 or a connection that sends no greeting means realtime.
// err is the session request's network error, if any.
func (c *Client) resolveForm(ctx context.Context) (Protocol, error) {
	if p := c.protocolForm(); p != ProtocolAuto {
		return p, nil
	}
	if c.cfg.APIKey == "" || c.cfg.Token != nil {
		return ProtocolAuto, nil
	}
	c.fs.detect.Lock()
	defer c.fs.detect.Unlock()
	if p := c.protocolForm(); p != ProtocolAuto || c.fs.probed {
		return p, nil
	}
	// The session endpoint is on APIURL's origin, where a REST client sends
	// the key too; a refused key is remembered for the first get, and is
	// not decisive (a platform may refuse any unknown path to a wrong key).
	err := c.fs.tokens.fetch(ctx, true)
	var netErr *NetworkError
	if errors.As(err, &netErr) {
		return ProtocolAuto, err
	}
	c.fs.probed = true
	if err == nil {
		c.decideForm(ProtocolRealtime, "the session endpoint issued a token")
		return ProtocolRealtime, nil
	}
	return ProtocolAuto, nil
}

// decideFromCreate records the form a REST chat creation tells, in auto
// mode: created means the REST form, 404 or 405 the realtime form.
func (c *Client) decideFromCreate(err error) Protocol {
	if p := c.protocolForm(); p != ProtocolAuto {
		return p
	}
	var apiErr *protocol.APIError
	switch {
	case err == nil:
		c.decideForm(ProtocolREST, "the platform created a chat over REST")
	case errors.As(err, &apiErr) && notServed(apiErr.Status):
		c.decideForm(ProtocolRealtime, "REST chat creation answered "+fmt.Sprint(apiErr.Status))
	}
	return c.protocolForm()
}

// notServed reports whether a REST status says the endpoint does not exist.
func notServed(status int) bool {
	return status == http.StatusNotFound || status == http.StatusMethodNotAllowed
}
