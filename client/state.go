package client

import (
	"fmt"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// State is the connection state; see protocol.State for the meaning of each.
type State = protocol.State

// The connection states (SPEC §3).
const (
	StateDisconnected = protocol.StateDisconnected
	StateConnecting   = protocol.StateConnecting
	StateConnected    = protocol.StateConnected
	StateReady        = protocol.StateReady
	StateReconnecting = protocol.StateReconnecting
	StateFailed       = protocol.StateFailed
)

// StateChange is delivered to OnStateChange callbacks on every transition.
type StateChange struct {
	// Previous and Current are the states before and after.
	Previous, Current State
	// Reason is why the state changed: the connection error for
	// reconnecting and failed, nil otherwise.
	Reason error
	// Attempt is the number of the connection attempt under way or coming
	// (1 for the first), 0 once ready.
	Attempt int
	// RetryIn is the delay before the next attempt (reconnecting only).
	RetryIn time.Duration
	// Time is when the change happened.
	Time time.Time
}

// transitions is the state machine of SPEC §3: every allowed move, in one
// table. Close may move any state to disconnected.
var transitions = map[State][]State{
	StateDisconnected: {StateConnecting},
	// connecting → connecting: an attempt before the first ready failed and
	// the next one waits (Reason and RetryIn say why and how long).
	StateConnecting:   {StateConnecting, StateConnected, StateReconnecting, StateFailed, StateDisconnected},
	StateConnected:    {StateReady, StateConnecting, StateReconnecting, StateFailed, StateDisconnected},
	StateReady:        {StateReconnecting, StateFailed, StateDisconnected},
	StateReconnecting: {StateConnecting, StateFailed, StateDisconnected},
	StateFailed:       {StateConnecting, StateDisconnected},
}

// canTransition reports whether from → to is in the table.
func canTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// transitionError is the error of an impossible transition: a bug in the SDK.
type transitionError struct{ from, to State }

func (e transitionError) Error() string {
	return fmt.Sprintf("client: internal error: impossible state transition %s → %s", e.from, e.to)
}
