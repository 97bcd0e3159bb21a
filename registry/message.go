package registry

import "time"

// Message is a snapshot of a user message, as reported to the client's
// orphan callback.
type Message struct {
	// ClientID is the client_message_id the message was sent with.
	ClientID string
	// ServerID is the platform's id for the message, once known.
	ServerID string
	// ChatID is the chat's id ("" while the chat has none).
	ChatID string
	// Role is RoleUser.
	Role Role
	// Status is where the message stands.
	Status Status
	// Text is the message text.
	Text string
	// CreatedAt is when it was sent.
	CreatedAt time.Time
}
