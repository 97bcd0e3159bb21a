package otelmiptech

import (
	"context"
	"errors"
	"strconv"

	"go.opentelemetry.io/otel/attribute"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
)

// Attribute keys of the measurements and spans. None carries a credential:
// the hooks never see the API key or a token.
const (
	// keyErrorType is the semantic conventions' error.type: a short,
	// low-cardinality class of the error (see errorType).
	keyErrorType = attribute.Key("error.type")

	keyConnectionState = attribute.Key("miptech.connection.state")
	keyConnectOutcome  = attribute.Key("miptech.connect.outcome")
	keyConnectAttempt  = attribute.Key("miptech.connect.attempt")
	keyReconnect       = attribute.Key("miptech.connect.reconnect")
	keyCloseCode       = attribute.Key("miptech.connect.close_code")

	keyMessagePhase   = attribute.Key("miptech.message.phase")
	keyMessageOutcome = attribute.Key("miptech.message.outcome")
	keyChatID         = attribute.Key("miptech.chat.id")
	keyClientMsgID    = attribute.Key("miptech.message.client_id")
	keyServerMsgID    = attribute.Key("miptech.message.id")
	keyAttempt        = attribute.Key("miptech.message.attempt")
	keyMessageSize    = attribute.Key("miptech.message.size")
	keyReplySize      = attribute.Key("miptech.reply.size")
	keyRecovered      = attribute.Key("miptech.message.recovered")
	keyLate           = attribute.Key("miptech.message.late")

	keyQueueReason     = attribute.Key("miptech.queue.reason")
	keyEventType       = attribute.Key("miptech.event.type")
	keyRecoveryOutcome = attribute.Key("miptech.recovery.outcome")
)

// Values of the outcome, phase and reason attributes.
const (
	outcomeOK       = "ok"
	outcomeError    = "error"
	outcomeAnswered = "answered"
	outcomeFailed   = "failed"

	phaseAcknowledged = "acknowledged"
	phaseFirstChunk   = "first_chunk"
	phaseComplete     = "complete"

	queueFull     = "full"
	queueExpired  = "expired"
	queueEvicted  = "evicted"
	queueCanceled = "canceled"

	recoveryRecovered = "recovered"
	recoveryLost      = "lost"

	errorTypeOther = "_OTHER"
)

// errorType classifies an error of the SDK into the value of error.type: a
// name for each sentinel, the platform's code for a *PlatformError, the
// cause and code for a *ConnectError, and "_OTHER" for the rest, so that the
// attribute keeps few values.
func errorType(err error) string {
	var pe *client.PlatformError
	var ce *client.ConnectError
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.Is(err, client.ErrResponseTimeout):
		return "response_timeout"
	case errors.Is(err, client.ErrReplyLost):
		return "reply_lost"
	case errors.Is(err, client.ErrClosed):
		return "closed"
	case errors.Is(err, client.ErrChatLeft):
		return "chat_left"
	case errors.Is(err, client.ErrReplyTooLarge):
		return "reply_too_large"
	case errors.Is(err, client.ErrRateLimited):
		return "rate_limited"
	case errors.Is(err, client.ErrValidation):
		return "validation"
	case errors.Is(err, client.ErrQueueFull):
		return "queue_full"
	case errors.Is(err, client.ErrExpired):
		return "expired"
	case errors.Is(err, client.ErrEvicted):
		return "evicted"
	case errors.Is(err, client.ErrUnauthorized):
		return "unauthorized"
	case errors.As(err, &pe):
		if pe.Code != "" {
			return pe.Code
		}
		return "platform_error"
	case errors.As(err, &ce):
		return connectErrorType(ce.Trigger)
	case errors.Is(err, client.ErrFailed):
		return "connection_failed"
	case errors.Is(err, normalize.ErrMalformed):
		return "malformed"
	case errors.Is(err, normalize.ErrNotObject):
		return "not_object"
	case errors.Is(err, normalize.ErrMissingType):
		return "missing_type"
	}
	var de *normalize.DecodeError
	if errors.As(err, &de) {
		return "decode"
	}
	return errorTypeOther
}

// connectErrorType names a connection failure by its cause and code:
// "close_1011", "handshake_503", "network", "ready_timeout".
func connectErrorType(t protocol.Trigger) string {
	switch t.Cause {
	case protocol.CauseClose:
		return "close_" + strconv.Itoa(t.Code)
	case protocol.CauseHandshake:
		return "handshake_" + strconv.Itoa(t.Code)
	case protocol.CauseNetwork:
		return "network"
	case protocol.CauseReadyTimeout:
		return "ready_timeout"
	}
	return errorTypeOther
}

// queueReason names why an outbound message was dropped before it was
// written.
func queueReason(err error) string {
	switch {
	case errors.Is(err, client.ErrQueueFull):
		return queueFull
	case errors.Is(err, client.ErrExpired):
		return queueExpired
	case errors.Is(err, client.ErrEvicted):
		return queueEvicted
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return queueCanceled
	}
	return errorTypeOther
}
