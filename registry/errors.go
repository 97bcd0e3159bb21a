package registry

import (
	"errors"
	"fmt"
)

// Sentinel errors of the registry. Match them with errors.Is.
var (
	// ErrIllegalTransition is returned (inside a *TransitionError) when a
	// status change would go backwards, leave a terminal status, or name a
	// status the message's role cannot hold.
	ErrIllegalTransition = errors.New("registry: illegal status transition")
	// ErrUnknownMessage is returned when no message has the given id: it was
	// never registered, was removed, or was pruned beyond Config.Retain.
	ErrUnknownMessage = errors.New("registry: unknown message id (never registered, removed, or pruned beyond Config.Retain)")
	// ErrIDConflict is returned when an id is already taken: Register with an
	// id that another message holds, or MapServerID with a server id that
	// belongs to another message or onto a message that already has a
	// different server id.
	ErrIDConflict = errors.New("registry: id already in use")
	// ErrInvalidMessage is returned by Register for a message it cannot hold:
	// an unknown Role, or a Status the role cannot have.
	ErrInvalidMessage = errors.New("registry: invalid message")
)

// TransitionError describes a refused status change. It matches
// ErrIllegalTransition with errors.Is.
type TransitionError struct {
	// ID is the id the transition was asked for (client or server id).
	ID string
	// From is the message's status, which is unchanged.
	From Status
	// To is the status that was refused.
	To Status
}

// Error says which change was refused.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("registry: message %s cannot go from %s to %s", e.ID, e.From, e.To)
}

// Unwrap returns ErrIllegalTransition.
func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }
