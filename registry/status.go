package registry

// Status is where a message stands in its life.
//
// A user message goes StatusSending → StatusSent → StatusDelivered →
// StatusAnswered, or to StatusFailed from any state before StatusAnswered.
// Steps may be skipped forward (the platform may omit an acknowledgement),
// never taken backwards. An assistant message goes StatusStreaming →
// StatusComplete, or to StatusFailed. StatusAnswered, StatusComplete and
// StatusFailed are terminal.
type Status int

// The message statuses. The zero Status is not a status; Register reads it as
// "the initial status of the role".
const (
	// StatusSending: a user message is queued or being written.
	StatusSending Status = iota + 1
	// StatusSent: a user message was written to the socket.
	StatusSent
	// StatusDelivered: the platform acknowledged a user message
	// (message_received), or it was correlated by order.
	StatusDelivered
	// StatusAnswered: the reply to a user message completed. Terminal.
	StatusAnswered
	// StatusFailed: the message failed; Message.Err says why. Terminal.
	StatusFailed
	// StatusStreaming: an assistant message is arriving in chunks.
	StatusStreaming
	// StatusComplete: an assistant message is complete. Terminal.
	StatusComplete
)

var statusNames = [...]string{
	StatusSending:   "sending",
	StatusSent:      "sent",
	StatusDelivered: "delivered",
	StatusAnswered:  "answered",
	StatusFailed:    "failed",
	StatusStreaming: "streaming",
	StatusComplete:  "complete",
}

// String returns the lower-case name of the status ("sending", "sent", …), or
// "unknown" for a value that is not a status.
func (s Status) String() string {
	if s > 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "unknown"
}

// Terminal reports whether no transition leads out of s: StatusAnswered,
// StatusComplete and StatusFailed.
func (s Status) Terminal() bool {
	return s == StatusAnswered || s == StatusComplete || s == StatusFailed
}

// Role says who wrote a message.
type Role int

// The roles. The zero Role is RoleUser.
const (
	// RoleUser is a message written by the end user and sent by the SDK.
	RoleUser Role = iota
	// RoleAssistant is a reply from the platform.
	RoleAssistant
)

// String returns "user" or "assistant", or "unknown" for a value that is not
// a role.
func (r Role) String() string {
	switch r {
	case RoleUser:
		return "user"
	case RoleAssistant:
		return "assistant"
	}
	return "unknown"
}
