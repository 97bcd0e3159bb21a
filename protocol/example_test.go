package protocol_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/miptechnologies/miptech-go/protocol"
)

// A client that lost its connection looks the loss up in the policy table and
// clamps its backoff delay by the row it finds.
func ExampleLookup() {
	rnd := rand.New(rand.NewPCG(1, 2)).Float64
	backoff := time.Second // the exponential backoff's next delay

	for _, trigger := range []protocol.Trigger{
		{Cause: protocol.CauseClose, Code: protocol.CloseGoingAway},
		{Cause: protocol.CauseNetwork},
		{Cause: protocol.CauseHandshake, Code: 429},
		{Cause: protocol.CauseClose, Code: protocol.CloseUnauthorized},
	} {
		p := protocol.Lookup(trigger)
		if !p.Retry {
			fmt.Printf("%s: %s, give up\n", trigger, p.Class)
			continue
		}
		retryAfter := 20 * time.Second // the server's Retry-After, if it sent one
		d := p.Clamp(backoff, retryAfter, rnd)
		fmt.Printf("%s: %s, retry in %s\n", trigger, p.Class, d.Round(time.Millisecond))
	}
	// Output:
	// close 1001: going_away, retry in 1s
	// network: network, retry in 3.812s
	// handshake HTTP 429: rate_limited, retry in 23.691s
	// close 4401: auth, give up
}

func ExampleParseAPIError() {
	body := []byte(`{"detail":"Rate limit exceeded","error_code":"RATE_LIMIT","retry_after":30}`)
	now := time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)
	err := error(protocol.ParseAPIError(429, "", body, now))

	var apiErr *protocol.APIError
	if errors.As(err, &apiErr) && errors.Is(err, protocol.ErrRateLimited) {
		fmt.Println(apiErr.Code, apiErr.Retryable, apiErr.RetryAfter)
	}
	fmt.Println(err)
	// Output:
	// RATE_LIMIT true 30s
	// platform API: HTTP 429 (RATE_LIMIT): Rate limit exceeded; retry after 30s
}
