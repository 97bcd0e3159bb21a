package client

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
	"github.com/miptechnologies/miptech-go/queue"
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrClosed is returned by calls on a closed Client, and to every waiter
	// when Client.Close is called. ErrChatClosed matches it too.
	ErrClosed = errors.New("client: client closed; create a new Client to go on")
	// ErrChatClosed is returned by calls on a Chat after Chat.Close, and to
	// the chat's waiters then; the client stays open. It matches ErrClosed.
	ErrChatClosed error = chatClosedError{}
	// ErrChatOpen is returned by OpenChat for a chat already open on the
	// client: there is one *Chat per chat id, which its holders share and
	// the last of them closes. Use the one OpenChat returned first
	// (Client.Chat finds it), or close it before opening the id again.
	ErrChatOpen = errors.New("client: chat already open on this client; use the *Chat OpenChat returned (Client.Chat finds it) or close it first")
	// ErrQueueFull is returned by Send when the outbound queue is full while
	// the connection is down, or when the chat holds its share of it
	// (Config.QueuePerChat: one busy chat cannot take every slot of the
	// client-wide queue), or when the platform stops reading and the write
	// buffer is full while ready. Wait for StateReady, or raise
	// Config.QueueSize.
	ErrQueueFull = queue.ErrQueueFull
	// ErrExpired is returned for a message that waited in the outbound queue
	// past its deadline (its context's, or Config.QueueTTL).
	ErrExpired = queue.ErrExpired
	// ErrEvicted is returned for a queued message dropped to make room under
	// the DropOldest policy.
	ErrEvicted = queue.ErrEvicted
	// ErrFailed is matched by the error of a connection that stopped retrying
	// (state failed). Call Connect to try again.
	ErrFailed = errors.New("client: connection failed; check the error's cause, then call Connect again")
	// ErrResponseTimeout is returned when no response_complete arrived within
	// Config.ResponseTimeout of the message being sent or of its last chunk.
	ErrResponseTimeout = errors.New("client: no reply within the response timeout; the platform may be overloaded, retry later or raise Config.ResponseTimeout")
	// ErrValidation is matched by every *ValidationError.
	ErrValidation = errors.New("client: invalid message")
	// ErrReplyTooLarge is returned when a reply's text exceeds
	// Config.MaxReplyBytes.
	ErrReplyTooLarge = errors.New("client: reply exceeds the size limit; raise Config.MaxReplyBytes")
	// ErrRateLimited is matched by every *RateLimitError.
	ErrRateLimited = errors.New("client: rate limited by the platform")
	// ErrChatLeft is returned to the waiters of a chat's messages still
	// without a reply when Chat.Leave is called: the platform no longer
	// delivers the chat's events to this client.
	ErrChatLeft = errors.New("client: chat left before the reply came; call Chat.Join and send again")
	// ErrReplyLost is returned for a message the platform acknowledged on a
	// connection that was then lost, when its reply cannot be recovered:
	// the platform has no history endpoint, or the chat has no id. Where the
	// platform's replies name no message (the tenant-app variant), it is
	// returned for a message on the wire when its connection was lost (its
	// reply may lack what was sent while no connection was up); and for a
	// reply whose numbered chunks have a hole and whose complete frame
	// carries no text.
	ErrReplyLost = errors.New("client: the connection was lost while the platform answered and the reply cannot be recovered from the history; send the message again (Message.Retry)")
	// ErrInCallback is returned by Message.Wait, Message.Chunks, Chat.Ask and
	// Chat.Stream called on the callback goroutine for a reply not yet
	// complete: no event is delivered while a callback blocks. Use Send and
	// OnComplete there, or wait on another goroutine.
	ErrInCallback = errors.New("client: cannot wait for a reply inside a callback; use Send with OnComplete, or wait on another goroutine")
	// ErrUnauthorized is matched by the error of a platform that refused the
	// client's credentials: the session endpoint refused the API key, or the
	// handshake or the connection was refused for authentication (HTTP 401
	// or 403, close 4401 or 4403). It is not retried: check Config.APIKey,
	// Config.Token and Config.TenantID.
	ErrUnauthorized = errors.New("client: the platform refused the credentials; check the API key, token and tenant id")
	// ErrNotFailed is returned by Message.Retry for a message that has no
	// failed outcome: it was answered, or still waits for its reply.
	ErrNotFailed = errors.New("client: the message has not failed; only a failed message can be retried")
)

// chatClosedError is ErrChatClosed.
type chatClosedError struct{}

func (chatClosedError) Error() string {
	return "client: chat closed; open it again with Client.OpenChat"
}

// Is matches ErrClosed, so that code written for a closed client handles a
// closed chat too.
func (chatClosedError) Is(target error) bool { return target == ErrClosed }

// bare returns err's text without this package's "client: " prefix, for an
// error wrapped in another of the package's errors: one prefix per line.
func bare(err error) string {
	return strings.TrimPrefix(err.Error(), "client: ")
}

// ConnectError reports why a connection attempt failed or a connection was
// lost: a close code, a handshake HTTP status, a network error or a ready
// timeout, with the policy that the client applied.
type ConnectError struct {
	// Trigger is the cause and code (close code or HTTP status).
	Trigger protocol.Trigger
	// Reason is the close reason text sent by the server, if any.
	Reason string
	// Retryable reports whether the client reconnects after this error.
	Retryable bool
	// RetryAfter is the wait the server asked for, if any.
	RetryAfter time.Duration
	// Err is the underlying error, if any.
	Err error

	hint string // what to do, for an error that retrying will not fix
}

// Error describes the failure and what to do about it, in one line.
func (e *ConnectError) Error() string {
	var msg string
	switch e.Trigger.Cause {
	case protocol.CauseHandshake:
		msg = fmt.Sprintf("client: handshake refused with HTTP %d %s", e.Trigger.Code, http.StatusText(e.Trigger.Code))
	case protocol.CauseClose:
		msg = fmt.Sprintf("client: connection closed by the platform with code %d", e.Trigger.Code)
	case protocol.CauseReadyTimeout:
		msg = "client: no connection_ready in time"
	default:
		msg = "client: network error"
	}
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	if e.Err != nil {
		msg += ": " + bare(e.Err)
	}
	switch {
	case e.hint != "":
		msg += "; " + e.hint
	case !e.Retryable:
		p := protocol.Lookup(e.Trigger)
		if p.Class == protocol.ClassAuth || p.Class == protocol.ClassPolicy {
			msg += "; not retried: check the tenant id, API key and URLs"
		}
	}
	return msg
}

// Unwrap returns the underlying error.
func (e *ConnectError) Unwrap() error { return e.Err }

// Is matches ErrRateLimited for a rate-limited handshake or close, and
// ErrUnauthorized for a handshake refused with HTTP 401 or 403 or a close
// with code 4401 or 4403.
func (e *ConnectError) Is(target error) bool {
	switch target {
	case ErrRateLimited:
		return protocol.Lookup(e.Trigger).Class == protocol.ClassRateLimited
	case ErrUnauthorized:
		t := e.Trigger
		return (t.Cause == protocol.CauseHandshake && (t.Code == 401 || t.Code == 403)) ||
			(t.Cause == protocol.CauseClose && (t.Code == protocol.CloseUnauthorized || t.Code == protocol.CloseForbidden))
	}
	return false
}

// FailedError is the reason of the transition to StateFailed: the last error
// and how many attempts were made. It matches ErrFailed.
type FailedError struct {
	// Attempts is the number of connection attempts made.
	Attempts int
	// Last is the error of the last attempt.
	Last error
}

// Error describes the failure.
func (e *FailedError) Error() string {
	attempts := "1 attempt"
	if e.Attempts != 1 {
		attempts = fmt.Sprintf("%d attempts", e.Attempts)
	}
	return fmt.Sprintf("client: connection failed after %s: %s; call Connect to try again", attempts, bare(e.Last))
}

// Unwrap returns the last attempt's error.
func (e *FailedError) Unwrap() error { return e.Last }

// Is matches ErrFailed.
func (e *FailedError) Is(target error) bool { return target == ErrFailed }

// ValidationError reports a user message the SDK refused to send.
type ValidationError struct {
	// Reason says what is wrong.
	Reason string
}

// Error returns the reason.
func (e *ValidationError) Error() string { return "client: invalid message: " + e.Reason }

// Is matches ErrValidation.
func (e *ValidationError) Is(target error) bool { return target == ErrValidation }

// PlatformError is an error frame sent by the platform about a message or
// the connection.
type PlatformError struct {
	// Code is the platform's error code (code or error_code).
	Code string
	// Category is the platform's error type.
	Category string
	// Message is the platform's message.
	Message string
	// MessageID is the message the error is about, if any.
	MessageID string
	// RetryAfter is the wait the platform asked for, if any.
	RetryAfter time.Duration
	// Retryable is true when the platform said the same message may
	// succeed if sent again (Message.Retry, Config.MessageRetries).
	Retryable bool
}

// Error describes the platform error.
func (e *PlatformError) Error() string {
	msg := "client: platform error"
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf("; retry after %s", e.RetryAfter)
	}
	return msg
}

// Is matches ErrRateLimited when the platform asked to wait.
func (e *PlatformError) Is(target error) bool {
	return target == ErrRateLimited && e.RetryAfter > 0
}

// RateLimitError reports a rate_limit_exceeded frame, or an error frame
// carrying retry_after: sends wait RetryAfter. It is also the error of the
// message such a frame names.
type RateLimitError struct {
	// RetryAfter is how long the platform asked to wait.
	RetryAfter time.Duration
	// Err is the error frame that asked for the wait (a *PlatformError), or
	// nil for a rate_limit_exceeded frame.
	Err error
}

// Error says how long to wait.
func (e *RateLimitError) Error() string {
	msg := fmt.Sprintf("client: rate limited by the platform; sends resume after %s", e.RetryAfter)
	if e.Err != nil {
		msg += " (" + bare(e.Err) + ")"
	}
	return msg
}

// Unwrap returns the platform's error frame, if any.
func (e *RateLimitError) Unwrap() error { return e.Err }

// Is matches ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }
