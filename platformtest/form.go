package platformtest

import (
	"fmt"
	"strings"
)

// Protocol is the form of the platform's protocol the server speaks: the
// REST form of mid-2025, or one of the two variants of the realtime form in
// which the WebSocket does everything. Switch it with Server.SetProtocol.
type Protocol int

// Protocol forms.
const (
	// ProtocolREST is the REST form (the default): chats are created over
	// REST, history is served, and every connection is greeted with
	// connection_established, initialization_progress and
	// connection_ready.
	ProtocolREST Protocol = iota
	// ProtocolWebsite is the realtime form of the platform's own website
	// (October 2025). REST serves GET /healthz only; every other path
	// answers 404. The WebSocket needs tenant_id only, no credential, and
	// greets as in ProtocolREST, but join_chat is accepted at once.
	// join_chat {"create":true} creates a chat with an id the server
	// chooses and is answered chat_created with the id at the top level
	// chat_id. Replies stream as in ProtocolREST.
	ProtocolWebsite
	// ProtocolTenantApp is the realtime form of the tenant apps (December
	// 2025, the newest). POST /api/auth/session exchanges an API key
	// ("Authorization: ApiKey <key>", body {"tenant_id"}) for a session
	// token; GET /healthz answers 200; every other REST path 404. The
	// handshake must offer the subprotocols "bearer" and the token, else it
	// is refused with 401. The server sends nothing on open.
	// join_chat {"tenant_id","chat_id","create":true} with a UUID v4 creates
	// or joins that chat and is answered chat_joined {"data":{"chat_id"}}.
	// A reply is response_chunk {"content","message_id","chat_id"} frames
	// and a response_complete {"message_id","chat_id"} without text; error
	// frames carry {"message","details"} and no ids.
	ProtocolTenantApp
)

var protocolNames = [...]string{
	ProtocolREST:      "rest",
	ProtocolWebsite:   "website",
	ProtocolTenantApp: "tenant-app",
}

// protocolRealtimeAlias names ProtocolTenantApp, the newest realtime
// variant, in ParseProtocol.
const protocolRealtimeAlias = "realtime"

// String names the form: "rest", "website" or "tenant-app".
func (p Protocol) String() string {
	if p >= 0 && int(p) < len(protocolNames) {
		return protocolNames[p]
	}
	return "unknown"
}

// ParseProtocol returns the Protocol named name, as Protocol.String names
// it ("rest", "website", "tenant-app"); "realtime" is ProtocolTenantApp and
// an empty name ProtocolREST. Case and surrounding blanks are ignored.
func ParseProtocol(name string) (Protocol, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	switch name {
	case "":
		return ProtocolREST, nil
	case protocolRealtimeAlias:
		return ProtocolTenantApp, nil
	}
	for p, n := range protocolNames {
		if n == name {
			return Protocol(p), nil
		}
	}
	return 0, fmt.Errorf("%w: protocol %q; want %s, or %s (tenant-app)", ErrUnknownName, name,
		strings.Join(protocolNames[:], ", "), protocolRealtimeAlias)
}

// forms is a set of protocol forms: the forms in which a REST endpoint is
// served.
type forms uint

// formSet returns the set of ps.
func formSet(ps ...Protocol) forms {
	var f forms
	for _, p := range ps {
		f |= 1 << uint(p)
	}
	return f
}

// has reports whether p is in the set.
func (f forms) has(p Protocol) bool { return f&(1<<uint(p)) != 0 }

// SetProtocol switches the form of the protocol (see Protocol) for REST
// requests and WebSocket handshakes from now on. Live connections keep the
// form they were opened in, and a reply comes in the form of the connection
// (or REST request) its question came on. Issued session tokens stay valid
// until they expire.
func (s *Server) SetProtocol(p Protocol) {
	s.mu.Lock()
	s.protocol = p
	s.bumpLocked()
	s.mu.Unlock()
}

// Protocol returns the form of the protocol the server speaks to new
// requests and connections.
func (s *Server) Protocol() Protocol {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.protocol
}
