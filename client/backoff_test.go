package client

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/miptechnologies/miptech-go/protocol"
)

func TestRetryDelays_TheFirstAttemptAfterAGoingAwayCloseIsSpreadOverTheWholeWindow(t *testing.T) {
	const clients = 1000
	p := protocol.Lookup(protocol.Trigger{Cause: protocol.CauseClose, Code: protocol.CloseGoingAway})
	var windows [20]int // 100 ms windows below the 2 s ceiling
	for range clients {
		cfg, err := Config{TenantID: testTenant}.withDefaults()
		require.NoError(t, err)
		d := newRetryDelays(cfg).next(p, 0, true)
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.Less(t, d, p.Ceiling)
		windows[d/(100*time.Millisecond)]++
	}
	for i, n := range windows {
		assert.LessOrEqual(t, n, clients/10, "window %d: at most 10 %% of the clients", i)
	}
}

func TestRetryDelays_LaterAttemptsAndOtherClosesKeepTheClampedBackoff(t *testing.T) {
	half := func() float64 { return 0.5 }
	cfg, err := Config{TenantID: testTenant, rand: half}.withDefaults()
	require.NoError(t, err)
	goingAway := protocol.Lookup(protocol.Trigger{Cause: protocol.CauseClose, Code: protocol.CloseGoingAway})
	restart := protocol.Lookup(protocol.Trigger{Cause: protocol.CauseClose, Code: protocol.CloseServiceRestart})
	r := newRetryDelays(cfg)
	assert.Equal(t, time.Second, r.next(goingAway, 0, true), "full jitter: ceiling × 0.5")
	d := r.next(goingAway, 0, false) // 2 s ± 20 %; over the ceiling it is C × 0.8
	assert.GreaterOrEqual(t, d, 1600*time.Millisecond)
	assert.LessOrEqual(t, d, 2*time.Second)
	// 1012 has a floor and no ceiling: the floor's spread, U(1.0, 1.4) × 2 s.
	assert.Equal(t, 2400*time.Millisecond, newRetryDelays(cfg).next(restart, 0, true))
}
