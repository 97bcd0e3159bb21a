package protocol

// State is the state of a client's connection to the platform.
//
// The normal path is Disconnected → Connecting → Connected → Ready. A lost
// connection goes to Reconnecting and back through Connecting; after the last
// attempt, or a close that must not be retried, the state is Failed until the
// user connects again. Closing the client returns it to Disconnected.
type State int

// The connection states.
const (
	// StateDisconnected: no socket and no attempt under way.
	StateDisconnected State = iota
	// StateConnecting: an attempt is under way (health check, chat creation, dial).
	StateConnecting
	// StateConnected: the socket is open; the platform has not said it is ready.
	StateConnected
	// StateReady: connection_ready was received and the chats were joined.
	StateReady
	// StateReconnecting: the connection was lost; waiting before the next attempt.
	StateReconnecting
	// StateFailed: attempts stopped; terminal until Connect is called again.
	StateFailed
)

var stateNames = [...]string{
	StateDisconnected: "disconnected",
	StateConnecting:   "connecting",
	StateConnected:    "connected",
	StateReady:        "ready",
	StateReconnecting: "reconnecting",
	StateFailed:       "failed",
}

// String returns the lower-case name of the state, as the web client names it.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}
