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
// policy and server-requested wait. The first attempt after a close that
// sets a ceiling (1001: the server goes away and comes back at once) is
// drawn over the whole window below the ceiling (full jitter), so that the
// clients a restarting server drops do not all come back within the same
// few hundred milliseconds; later attempts keep SPEC §3.2's ±20 %.
func (r *retryDelays) next(p protocol.Policy, retryAfter time.Duration, first bool) time.Duration {
	d := r.b.NextBackOff()
	if first && p.Ceiling > 0 && p.Floor == 0 && !(p.HonourRetryAfter && retryAfter > 0) {
		return time.Duration(float64(p.Ceiling) * r.rand())
	}
	return p.Clamp(d, retryAfter, r.rand)
}

// reset starts the sequence again (on ready).
func (r *retryDelays) reset() { r.b.Reset() }
