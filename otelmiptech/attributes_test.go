package otelmiptech

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/miptechnologies/miptech-go/client"
	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
)

func TestErrorType_NamesEachErrorOfTheSDK(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"canceled", context.Canceled, "canceled"},
		{"deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded), "deadline_exceeded"},
		{"response timeout", client.ErrResponseTimeout, "response_timeout"},
		{"reply lost", client.ErrReplyLost, "reply_lost"},
		{"closed", client.ErrClosed, "closed"},
		{"chat left", client.ErrChatLeft, "chat_left"},
		{"reply too large", client.ErrReplyTooLarge, "reply_too_large"},
		{"rate limited", &client.RateLimitError{}, "rate_limited"},
		{"queue full", client.ErrQueueFull, "queue_full"},
		{"expired", client.ErrExpired, "expired"},
		{"evicted", client.ErrEvicted, "evicted"},
		{"unauthorized", client.ErrUnauthorized, "unauthorized"},
		{"platform code", &client.PlatformError{Code: "ai_service_error"}, "ai_service_error"},
		{"platform without code", &client.PlatformError{}, "platform_error"},
		{"close", &client.ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseClose, Code: 1011}}, "close_1011"},
		{"handshake", &client.ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseHandshake, Code: 503}}, "handshake_503"},
		{"network", &client.ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork}}, "network"},
		{"ready timeout", &client.ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseReadyTimeout}}, "ready_timeout"},
		{"failed", fmt.Errorf("%w: %w", client.ErrFailed, errors.New("gave up")), "connection_failed"},
		{"malformed", &normalize.DecodeError{Err: normalize.ErrMalformed}, "malformed"},
		{"missing type", &normalize.DecodeError{Err: normalize.ErrMissingType}, "missing_type"},
		{"other", errors.New("something else"), "_OTHER"},
		{"nil", nil, "_OTHER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, errorType(tt.err))
		})
	}
}

func TestQueueReason_NamesEachDrop(t *testing.T) {
	assert.Equal(t, "full", queueReason(client.ErrQueueFull))
	assert.Equal(t, "expired", queueReason(client.ErrExpired))
	assert.Equal(t, "evicted", queueReason(client.ErrEvicted))
	assert.Equal(t, "canceled", queueReason(context.Canceled))
	assert.Equal(t, "canceled", queueReason(context.DeadlineExceeded))
	assert.Equal(t, "_OTHER", queueReason(errors.New("?")))
}
