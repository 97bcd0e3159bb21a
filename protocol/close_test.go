package protocol

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLookup_PolicyOfEveryCloseCodeAndHandshakeStatus(t *testing.T) {
	var (
		normal       = Policy{Class: ClassNormal, Retry: true}
		goingAway    = Policy{Class: ClassGoingAway, Retry: true, Ceiling: 2 * time.Second}
		network      = Policy{Class: ClassNetwork, Retry: true, Floor: 3 * time.Second}
		policy       = Policy{Class: ClassPolicy}
		serverError  = Policy{Class: ClassServerError, Retry: true, Floor: 2 * time.Second}
		initializing = Policy{Class: ClassInitializing, Retry: true, Floor: 2 * time.Second}
		rateLimited  = Policy{Class: ClassRateLimited, Retry: true, Floor: 5 * time.Second, HonourRetryAfter: true}
		auth         = Policy{Class: ClassAuth}
	)
	tests := []struct {
		name    string
		trigger Trigger
		want    Policy
	}{
		{"1000 normal close from the server reconnects", Trigger{CauseClose, 1000}, normal},
		{"1001 going away reconnects within 2s", Trigger{CauseClose, 1001}, goingAway},
		{"1006 abnormal close is a network loss with a 3s floor", Trigger{CauseClose, 1006}, network},
		{"network error reconnects with a 3s floor", Trigger{CauseNetwork, 0}, network},
		{"network error ignores the code", Trigger{CauseNetwork, 1011}, network},
		{"1008 policy violation fails", Trigger{CauseClose, 1008}, policy},
		{"1011 internal error reconnects with a 2s floor", Trigger{CauseClose, 1011}, serverError},
		{"1012 service restart is initializing with a 2s floor", Trigger{CauseClose, 1012}, initializing},
		{"ready timeout is initializing with a 2s floor", Trigger{CauseReadyTimeout, 0}, initializing},
		{"ready timeout ignores the code", Trigger{CauseReadyTimeout, 4401}, initializing},
		{"4003 rate limited honours Retry-After over a 5s floor", Trigger{CauseClose, 4003}, rateLimited},
		{"HTTP 429 at handshake honours Retry-After over a 5s floor", Trigger{CauseHandshake, 429}, rateLimited},
		{"HTTP 500 at handshake is a server error", Trigger{CauseHandshake, 500}, serverError},
		{"HTTP 502 at handshake is a server error", Trigger{CauseHandshake, 502}, serverError},
		{"HTTP 503 at handshake is a server error", Trigger{CauseHandshake, 503}, serverError},
		{"4004 not found fails", Trigger{CauseClose, 4004}, auth},
		{"4400 bad request fails", Trigger{CauseClose, 4400}, auth},
		{"4401 unauthorized fails", Trigger{CauseClose, 4401}, auth},
		{"4403 forbidden fails", Trigger{CauseClose, 4403}, auth},
		{"4408 timeout fails", Trigger{CauseClose, 4408}, auth},
		{"HTTP 401 at handshake fails", Trigger{CauseHandshake, 401}, auth},
		{"HTTP 403 at handshake fails", Trigger{CauseHandshake, 403}, auth},
		{"HTTP 404 at handshake fails", Trigger{CauseHandshake, 404}, auth},
		{"unknown close code falls back to a network loss", Trigger{CauseClose, 4999}, network},
		{"unknown RFC close code falls back to a network loss", Trigger{CauseClose, 1002}, network},
		{"unknown 4xx handshake status falls back to failing", Trigger{CauseHandshake, 418}, auth},
		{"HTTP 400 at handshake falls back to failing", Trigger{CauseHandshake, 400}, auth},
		{"unknown 5xx handshake status falls back to a server error", Trigger{CauseHandshake, 504}, serverError},
		{"unknown cause falls back to a network loss", Trigger{Cause(42), 0}, network},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Lookup(tt.trigger)
			assert.Equal(t, tt.want.Class, got.Class, "Class")
			assert.Equal(t, tt.want.Retry, got.Retry, "Retry")
			assert.Equal(t, tt.want.Floor, got.Floor, "Floor")
			assert.Equal(t, tt.want.Ceiling, got.Ceiling, "Ceiling")
			assert.Equal(t, tt.want.HonourRetryAfter, got.HonourRetryAfter, "HonourRetryAfter")
		})
	}

	t.Run("every row of the table is tested", func(t *testing.T) {
		tested := map[Trigger]bool{}
		for _, tt := range tests {
			tested[tt.trigger] = true
		}
		for trigger := range policyTable {
			assert.True(t, tested[trigger], "row %v has no test case", trigger)
		}
	})
}

// constRand returns a rnd func that always yields v and counts its calls.
func constRand(v float64, calls *int) func() float64 {
	return func() float64 {
		*calls++
		return v
	}
}

func TestPolicy_Clamp(t *testing.T) {
	network := Lookup(Trigger{Cause: CauseNetwork})
	goingAway := Lookup(Trigger{CauseClose, CloseGoingAway})
	rateLimited := Lookup(Trigger{CauseHandshake, 429})
	normal := Lookup(Trigger{CauseClose, CloseNormal})

	tests := []struct {
		name       string
		policy     Policy
		d          time.Duration
		retryAfter time.Duration
		rnd        float64
		want       time.Duration
		wantRand   bool // whether rnd is drawn
	}{
		{"below the floor becomes the floor at U=0", network, time.Second, 0, 0, 3 * time.Second, true},
		{"below the floor becomes 1.2 floor at U=0.5", network, time.Second, 0, 0.5, 3600 * time.Millisecond, true},
		{"below the floor stays under 1.4 floor at U near 1", network, 0, 0, 0.999999, 4199998800 * time.Nanosecond, true},
		{"above the ceiling becomes 0.6 ceiling at U=0", goingAway, 10 * time.Second, 0, 0, 1200 * time.Millisecond, true},
		{"above the ceiling becomes 0.8 ceiling at U=0.5", goingAway, 10 * time.Second, 0, 0.5, 1600 * time.Millisecond, true},
		{"above the ceiling stays under the ceiling at U near 1", goingAway, 30 * time.Second, 0, 0.999999, 1999999200 * time.Nanosecond, true},
		{"above the floor is unchanged", network, 7 * time.Second, 0, 0.5, 7 * time.Second, false},
		{"equal to the floor is unchanged", network, 3 * time.Second, 0, 0.5, 3 * time.Second, false},
		{"below the ceiling is unchanged", goingAway, 1500 * time.Millisecond, 0, 0.5, 1500 * time.Millisecond, false},
		{"equal to the ceiling is unchanged", goingAway, 2 * time.Second, 0, 0.5, 2 * time.Second, false},
		{"no floor and no ceiling leaves any delay", normal, 17 * time.Second, 0, 0.5, 17 * time.Second, false},
		{"Retry-After larger than the floor is used as the floor", rateLimited, time.Second, 30 * time.Second, 0.5, 36 * time.Second, true},
		{"Retry-After larger than the floor lifts a delay above the policy floor", rateLimited, 8 * time.Second, 30 * time.Second, 0, 30 * time.Second, true},
		{"Retry-After smaller than the floor leaves the floor", rateLimited, time.Second, 2 * time.Second, 0, 5 * time.Second, true},
		{"a delay above Retry-After is unchanged", rateLimited, time.Minute, 30 * time.Second, 0.5, time.Minute, false},
		{"Retry-After is ignored by a policy that does not honour it", network, 4 * time.Second, 30 * time.Second, 0.5, 4 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			got := tt.policy.Clamp(tt.d, tt.retryAfter, constRand(tt.rnd, &calls))
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.wantRand, calls > 0, "rnd drawn")
		})
	}
}

func TestPolicy_ClampBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	network := Lookup(Trigger{Cause: CauseNetwork})
	goingAway := Lookup(Trigger{CauseClose, CloseGoingAway})
	for range 1000 {
		below := network.Clamp(time.Duration(rng.Int64N(int64(network.Floor))), 0, rng.Float64)
		require.GreaterOrEqual(t, below, network.Floor)
		require.Less(t, below, network.Floor*14/10)

		above := goingAway.Clamp(goingAway.Ceiling+time.Duration(rng.Int64N(int64(time.Minute)))+1, 0, rng.Float64)
		require.GreaterOrEqual(t, above, goingAway.Ceiling*6/10)
		require.Less(t, above, goingAway.Ceiling)
	}
}

func TestPolicy_ClampKeepsTheSpread(t *testing.T) {
	const n = 1000
	rng := rand.New(rand.NewPCG(1, 2))
	network := Lookup(Trigger{Cause: CauseNetwork})
	buckets := map[time.Duration]int{}
	for range n {
		// A first backoff delay of 1 s with ±20 % jitter, all below the floor.
		d := time.Duration(float64(time.Second) * (0.8 + 0.4*rng.Float64()))
		got := network.Clamp(d, 0, rng.Float64)
		require.GreaterOrEqual(t, got, network.Floor)
		require.Less(t, got, network.Floor*14/10)
		buckets[got.Truncate(100*time.Millisecond)]++
	}
	assert.GreaterOrEqual(t, len(buckets), 10, "delays spread over the 1.2 s window: %v", buckets)
	for b, c := range buckets {
		assert.LessOrEqual(t, c, n*30/100, "bucket %v holds %d of %d delays", b, c, n)
	}
}

func TestCause_String(t *testing.T) {
	tests := []struct {
		c    Cause
		want string
	}{
		{CauseClose, "close"},
		{CauseHandshake, "handshake"},
		{CauseNetwork, "network"},
		{CauseReadyTimeout, "ready timeout"},
		{Cause(99), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.c.String())
		})
	}
}

func TestTrigger_String(t *testing.T) {
	tests := []struct {
		tr   Trigger
		want string
	}{
		{Trigger{CauseClose, 1011}, "close 1011"},
		{Trigger{CauseHandshake, 429}, "handshake HTTP 429"},
		{Trigger{CauseNetwork, 0}, "network"},
		{Trigger{CauseReadyTimeout, 0}, "ready timeout"},
		{Trigger{Cause(99), 7}, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.tr.String())
		})
	}
}

func TestDelays_ApplyOverridesTheBoundOfItsClassOnly(t *testing.T) {
	fast := Delays{GoingAwayCeiling: time.Millisecond, NetworkFloor: 2 * time.Millisecond, ServerErrorFloor: 3 * time.Millisecond,
		InitializingFloor: 4 * time.Millisecond, RateLimitFloor: -1}
	tests := []struct {
		trigger      Trigger
		floor, ceil  time.Duration
		retry, honor bool
	}{
		{Trigger{CauseClose, CloseGoingAway}, 0, time.Millisecond, true, false},
		{Trigger{CauseNetwork, 0}, 2 * time.Millisecond, 0, true, false},
		{Trigger{CauseClose, CloseInternalError}, 3 * time.Millisecond, 0, true, false},
		{Trigger{CauseReadyTimeout, 0}, 4 * time.Millisecond, 0, true, false},
		{Trigger{CauseHandshake, 429}, 0, 0, true, true},
		{Trigger{CauseClose, CloseNormal}, 0, 0, true, false},
		{Trigger{CauseHandshake, 401}, 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.trigger.String(), func(t *testing.T) {
			p := fast.Apply(Lookup(tt.trigger))
			if p.Floor != tt.floor || p.Ceiling != tt.ceil || p.Retry != tt.retry || p.HonourRetryAfter != tt.honor {
				t.Fatalf("got %+v", p)
			}
			if got := (Delays{}).Apply(Lookup(tt.trigger)); got != Lookup(tt.trigger) {
				t.Fatalf("zero Delays changed the policy: %+v", got)
			}
		})
	}
}
