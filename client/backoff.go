package client

import (
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/miptechnologies/miptech-go/protocol"
)

// retryDelays computes reconnect delays: exponential backoff with ±20 %
// jitter from cenkalti/backoff, clamped by the close-code policy with its
// spread kept (protocol.Policy.Clamp). One instance per connection loop.
type retryDelays struct {
	b    *backoff.ExponentialBackOff
	rand func() float64
}

func newRetryDelays(cfg Config) *retryDelays {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(cfg.InitialBackoff),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0.2),
		backoff.WithMaxInterval(cfg.MaxBackoff),
		backoff.WithMaxElapsedTime(0),
	)
	b.Clock = cfg.clock
	r := cfg.rand
	if r == nil {
		r = rand.Float64
	}
	return &retryDelays{b: b, rand: r}
}

// next returns the delay before the next attempt after a loss with the given
// policy and server-requested wait.
func (r *retryDelays) next(p protocol.Policy, retryAfter time.Duration) time.Duration {
	d := r.b.NextBackOff()
	return p.Clamp(d, retryAfter, r.rand)
}

// reset starts the sequence again (on ready).
func (r *retryDelays) reset() { r.b.Reset() }
