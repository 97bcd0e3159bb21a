package client

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/miptechnologies/miptech-go/protocol"
)

// TestErrors_EveryExportedErrorReadsAsOneLine reads the text of every
// exported error once: one line, one package prefix however deep the
// wrapping, what happened and what to do.
func TestErrors_EveryExportedErrorReadsAsOneLine(t *testing.T) {
	refused := &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseNetwork},
		Err: &NetworkError{Op: "GET /healthz", Err: errors.New("dial tcp 127.0.0.1:8001: connect: connection refused")}}
	tests := []struct {
		err  error
		want string
	}{
		{ErrClosed, "client: client closed; create a new Client to go on"},
		{ErrChatClosed, "client: chat closed; open it again with Client.OpenChat"},
		{ErrChatOpen, "client: chat already open on this client; use the *Chat OpenChat returned (Client.Chat finds it) or close it first"},
		{ErrQueueFull, "queue: full, or the chat holds its share of it; wait for the connection to be ready, or raise the queue capacity or choose the DropOldest policy"},
		{ErrExpired, "queue: deadline passed before the connection was ready; send again or allow a longer deadline"},
		{ErrEvicted, "queue: evicted to make room for newer frames; send again, or raise the queue capacity"},
		{ErrFailed, "client: connection failed; check the error's cause, then call Connect again"},
		{ErrResponseTimeout, "client: no reply within the response timeout; the platform may be overloaded, retry later or raise Config.ResponseTimeout"},
		{ErrValidation, "client: invalid message"},
		{ErrReplyTooLarge, "client: reply exceeds the size limit; raise Config.MaxReplyBytes"},
		{ErrRateLimited, "client: rate limited by the platform"},
		{ErrChatLeft, "client: chat left before the reply came; call Chat.Join and send again"},
		{ErrReplyLost, "client: the connection was lost while the platform answered and the reply cannot be recovered from the history; send the message again (Message.Retry)"},
		{ErrInCallback, "client: cannot wait for a reply inside a callback; use Send with OnComplete, or wait on another goroutine"},
		{ErrUnauthorized, "client: the platform refused the credentials; check the API key, token and tenant id"},
		{ErrNotFailed, "client: the message has not failed; only a failed message can be retried"},
		{&ConfigError{"QueueSize", "must not be negative"}, "client: config QueueSize: must not be negative"},
		{&ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseHandshake, Code: 401}},
			"client: handshake refused with HTTP 401 Unauthorized; not retried: check the tenant id, API key and URLs"},
		{&ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseClose, Code: 1008}, Reason: "policy"},
			"client: connection closed by the platform with code 1008 (policy); not retried: check the tenant id, API key and URLs"},
		{&ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseReadyTimeout}, Retryable: true, Err: errors.New("the platform may still be initializing; it is tried again")},
			"client: no connection_ready in time: the platform may still be initializing; it is tried again"},
		{refused, "client: network error: GET /healthz: no answer from the platform: dial tcp 127.0.0.1:8001: connect: connection refused; check APIURL and the network"},
		{&FailedError{Attempts: 1, Last: permanentError(refused, "nothing listens at Config.APIURL on this machine: start the platform or fix the URL")},
			"client: connection failed after 1 attempt: network error: GET /healthz: no answer from the platform: dial tcp 127.0.0.1:8001: connect: connection refused; check APIURL and the network; nothing listens at Config.APIURL on this machine: start the platform or fix the URL; call Connect to try again"},
		{&FailedError{Attempts: 6, Last: &ConnectError{Trigger: protocol.Trigger{Cause: protocol.CauseHandshake, Code: 503}, Retryable: true}},
			"client: connection failed after 6 attempts: handshake refused with HTTP 503 Service Unavailable; call Connect to try again"},
		{&ValidationError{Reason: "empty message"}, "client: invalid message: empty message"},
		{&PlatformError{Code: "model_failed", Message: "the model failed", RetryAfter: 2 * time.Second},
			"client: platform error model_failed: the model failed; retry after 2s"},
		{&RateLimitError{RetryAfter: 3 * time.Second}, "client: rate limited by the platform; sends resume after 3s"},
		{&RateLimitError{RetryAfter: 3 * time.Second, Err: &PlatformError{Code: "rate_limited", Message: "slow down"}},
			"client: rate limited by the platform; sends resume after 3s (platform error rate_limited: slow down)"},
		{&NetworkError{Op: "GET /healthz", Err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")},
			"client: GET /healthz: no answer from the platform: dial tcp 127.0.0.1:1: connect: connection refused; check APIURL and the network"},
		{&RedirectError{Method: "GET", Path: "/healthz", Status: 302, Target: "https://elsewhere.example/healthz", Reason: "another host"},
			"client: GET /healthz: refused to follow an HTTP 302 redirect to https://elsewhere.example/healthz (another host): credentials go only to the origin of Config.APIURL; set APIURL to the address the platform redirects to if it is trusted"},
	}
	for _, tt := range tests {
		got := tt.err.Error()
		assert.Equal(t, tt.want, got)
		assert.NotContains(t, got, "\n")
		prefixes := strings.Count(got, "client: ") + strings.Count(got, "queue: ")
		assert.Equal(t, 1, prefixes, "one prefix: %s", got)
	}
}
