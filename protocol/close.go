package protocol

import (
	"fmt"
	"time"
)

// WebSocket close codes the platform uses (RFC 6455 and the platform's own
// 4xxx range).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseAbnormal        = 1006
	ClosePolicyViolation = 1008
	CloseInternalError   = 1011
	CloseServiceRestart  = 1012
	CloseRateLimited     = 4003
	CloseNotFound        = 4004
	CloseBadRequest      = 4400
	CloseUnauthorized    = 4401
	CloseForbidden       = 4403
	CloseTimeout         = 4408
)

// Cause says where a connection loss came from, so that its code can be looked
// up in the right column of the policy table.
type Cause int

// Causes of a connection loss.
const (
	// CauseClose: the server closed the socket with a close code.
	CauseClose Cause = iota
	// CauseHandshake: the WebSocket handshake was refused with an HTTP status.
	CauseHandshake
	// CauseNetwork: a dial or read error, or a close without a close frame (1006).
	CauseNetwork
	// CauseReadyTimeout: the socket opened but connection_ready did not arrive in time.
	CauseReadyTimeout
)

// String names the cause.
func (c Cause) String() string {
	switch c {
	case CauseClose:
		return "close"
	case CauseHandshake:
		return "handshake"
	case CauseNetwork:
		return "network"
	case CauseReadyTimeout:
		return "ready timeout"
	}
	return "unknown"
}

// Class is the reason class of a connection loss.
type Class string

// Reason classes of the policy table.
const (
	ClassNormal       Class = "normal"
	ClassGoingAway    Class = "going_away"
	ClassNetwork      Class = "network"
	ClassPolicy       Class = "policy"
	ClassServerError  Class = "server_error"
	ClassInitializing Class = "initializing"
	ClassRateLimited  Class = "rate_limited"
	ClassAuth         Class = "auth"
)

// Trigger identifies one row of the policy table: a cause and its code (close
// code for CauseClose, HTTP status for CauseHandshake, ignored otherwise).
type Trigger struct {
	// Cause is where the loss came from.
	Cause Cause
	// Code is the close code (CauseClose) or the HTTP status (CauseHandshake);
	// it is ignored for the other causes.
	Code int
}

// String describes the trigger, for example "close 1011" or "handshake HTTP 429".
func (t Trigger) String() string {
	switch t.Cause {
	case CauseClose:
		return fmt.Sprintf("close %d", t.Code)
	case CauseHandshake:
		return fmt.Sprintf("handshake HTTP %d", t.Code)
	}
	return t.Cause.String()
}

// Policy is what the client does after a connection loss.
type Policy struct {
	// Class is the reason class.
	Class Class
	// Retry reports whether the client reconnects; false means the state goes
	// to failed.
	Retry bool
	// Floor is the least delay before the next attempt (0 for none).
	Floor time.Duration
	// Ceiling is the most delay before the next attempt (0 for none).
	Ceiling time.Duration
	// HonourRetryAfter makes a server-given Retry-After the floor when it is
	// larger than Floor.
	HonourRetryAfter bool
}

// Delay floors and ceilings of the policy table (SPEC §2.3).
const (
	GoingAwayCeiling  = 2 * time.Second
	NetworkFloor      = 3 * time.Second
	ServerErrorFloor  = 2 * time.Second
	InitializingFloor = 2 * time.Second
	RateLimitFloor    = 5 * time.Second
)

var (
	policyNormal       = Policy{Class: ClassNormal, Retry: true}
	policyGoingAway    = Policy{Class: ClassGoingAway, Retry: true, Ceiling: GoingAwayCeiling}
	policyNetwork      = Policy{Class: ClassNetwork, Retry: true, Floor: NetworkFloor}
	policyPolicy       = Policy{Class: ClassPolicy}
	policyServerError  = Policy{Class: ClassServerError, Retry: true, Floor: ServerErrorFloor}
	policyInitializing = Policy{Class: ClassInitializing, Retry: true, Floor: InitializingFloor}
	policyRateLimited  = Policy{Class: ClassRateLimited, Retry: true, Floor: RateLimitFloor, HonourRetryAfter: true}
	policyAuth         = Policy{Class: ClassAuth}
)

// policyTable is the close-code policy of SPEC §2.3, the one place where the
// reaction to a connection loss is decided.
var policyTable = map[Trigger]Policy{
	{CauseClose, CloseNormal}:          policyNormal,
	{CauseClose, CloseGoingAway}:       policyGoingAway,
	{CauseClose, CloseAbnormal}:        policyNetwork,
	{CauseNetwork, 0}:                  policyNetwork,
	{CauseClose, ClosePolicyViolation}: policyPolicy,
	{CauseClose, CloseInternalError}:   policyServerError,
	{CauseClose, CloseServiceRestart}:  policyInitializing,
	{CauseReadyTimeout, 0}:             policyInitializing,
	{CauseClose, CloseRateLimited}:     policyRateLimited,
	{CauseHandshake, 429}:              policyRateLimited,
	{CauseClose, CloseNotFound}:        policyAuth,
	{CauseClose, CloseBadRequest}:      policyAuth,
	{CauseClose, CloseUnauthorized}:    policyAuth,
	{CauseClose, CloseForbidden}:       policyAuth,
	{CauseClose, CloseTimeout}:         policyAuth,
	{CauseHandshake, 401}:              policyAuth,
	{CauseHandshake, 403}:              policyAuth,
	{CauseHandshake, 404}:              policyAuth,
}

// Lookup returns the policy for a connection loss. Codes missing from the
// table fall back by range: any other handshake 5xx is a server error (retry,
// floor 2 s); any other handshake status is a client error (no retry); any
// other close code is treated as a network loss (retry, floor 3 s). The 1000
// row is a close sent by the server; a close the client sent itself is not a
// loss and is not looked up.
func Lookup(t Trigger) Policy {
	if t.Cause == CauseNetwork || t.Cause == CauseReadyTimeout {
		t.Code = 0
	}
	if p, ok := policyTable[t]; ok {
		return p
	}
	switch t.Cause {
	case CauseHandshake:
		if t.Code >= 500 {
			return policyServerError
		}
		return policyAuth
	default:
		return policyNetwork
	}
}

// Clamp bounds a backoff delay d by the policy while keeping its spread, so
// that clients that lost the same server do not reconnect in the same
// millisecond. A delay below the floor F becomes F × U(1.0, 1.4); a delay
// above the ceiling C becomes C × U(0.6, 1.0). The floor is retryAfter when
// the policy honours it and retryAfter is larger. rnd returns a uniform value
// in [0, 1).
func (p Policy) Clamp(d, retryAfter time.Duration, rnd func() float64) time.Duration {
	floor := p.Floor
	if p.HonourRetryAfter && retryAfter > floor {
		floor = retryAfter
	}
	if floor > 0 && d < floor {
		return time.Duration(float64(floor) * (1.0 + 0.4*rnd()))
	}
	if p.Ceiling > 0 && d > p.Ceiling {
		return time.Duration(float64(p.Ceiling) * (0.6 + 0.4*rnd()))
	}
	return d
}

// Delays overrides the floors and ceilings of the policy table, by class,
// for clients that need other timings (a test suite that injects faults, a
// platform with its own restart times). A zero field keeps the table's value
// (SPEC §2.3); a negative one removes the bound.
type Delays struct {
	// GoingAwayCeiling bounds the delay after a 1001 close (2 s).
	GoingAwayCeiling time.Duration
	// NetworkFloor is the least delay after a network loss or 1006 (3 s).
	NetworkFloor time.Duration
	// ServerErrorFloor is the least delay after a 1011 close or a handshake
	// 5xx (2 s).
	ServerErrorFloor time.Duration
	// InitializingFloor is the least delay after a 1012 close or a ready
	// timeout (2 s).
	InitializingFloor time.Duration
	// RateLimitFloor is the least delay after a 4003 close or a handshake 429
	// without Retry-After (5 s).
	RateLimitFloor time.Duration
}

// Apply returns p with the bound d sets for p's class.
func (d Delays) Apply(p Policy) Policy {
	set := func(dst *time.Duration, v time.Duration) {
		switch {
		case v < 0:
			*dst = 0
		case v > 0:
			*dst = v
		}
	}
	switch p.Class {
	case ClassGoingAway:
		set(&p.Ceiling, d.GoingAwayCeiling)
	case ClassNetwork:
		set(&p.Floor, d.NetworkFloor)
	case ClassServerError:
		set(&p.Floor, d.ServerErrorFloor)
	case ClassInitializing:
		set(&p.Floor, d.InitializingFloor)
	case ClassRateLimited:
		set(&p.Floor, d.RateLimitFloor)
	}
	return p
}
