package clock

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func fired(c <-chan time.Time) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestFake_TimerFiresOnceWhenItsTimeComes(t *testing.T) {
	f := NewFake(start)
	tm := f.NewTimer(time.Second)
	f.Advance(999 * time.Millisecond)
	assert.False(t, fired(tm.C()))
	f.Advance(time.Millisecond)
	assert.True(t, fired(tm.C()))
	f.Advance(time.Hour)
	assert.False(t, fired(tm.C()), "a timer fires once")
	assert.False(t, tm.Stop(), "stopping a fired timer reports false")
	assert.Equal(t, start.Add(time.Hour+time.Second), f.Now())
}

func TestFake_StoppedTimerNeverFires(t *testing.T) {
	f := NewFake(start)
	tm := f.NewTimer(time.Second)
	assert.True(t, tm.Stop())
	f.Advance(time.Minute)
	assert.False(t, fired(tm.C()))
	assert.Zero(t, f.Waiters())
}

func TestFake_ZeroTimerFiresAtOnce(t *testing.T) {
	f := NewFake(start)
	assert.True(t, fired(f.NewTimer(0).C()))
}

func TestFake_TickerFiresEveryPeriodAtMostOncePerAdvance(t *testing.T) {
	f := NewFake(start)
	tk := f.NewTicker(100 * time.Millisecond)
	f.Advance(50 * time.Millisecond)
	assert.False(t, fired(tk.C()))
	f.Advance(50 * time.Millisecond)
	assert.True(t, fired(tk.C()))
	f.Advance(time.Second)
	assert.True(t, fired(tk.C()))
	assert.False(t, fired(tk.C()), "a slow reader sees one tick")
	f.Advance(100 * time.Millisecond)
	assert.True(t, fired(tk.C()))
	tk.Stop()
	f.Advance(time.Second)
	assert.False(t, fired(tk.C()))
	assert.Panics(t, func() { f.NewTicker(0) })
}

func TestFake_WaitForWaiters(t *testing.T) {
	f := NewFake(start)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.WaitForWaiters(ctx, 2) }()
	f.NewTimer(time.Second)
	f.NewTicker(time.Second)
	require.NoError(t, <-done)
	short, cancel2 := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel2()
	assert.ErrorIs(t, f.WaitForWaiters(short, 3), context.DeadlineExceeded)
}

func TestReal_WrapsTheTimePackage(t *testing.T) {
	var c Clock = Real{}
	before := time.Now()
	assert.False(t, c.Now().Before(before))
	tm := c.NewTimer(time.Millisecond)
	<-tm.C()
	assert.False(t, tm.Stop())
	tk := c.NewTicker(time.Millisecond)
	<-tk.C()
	tk.Stop()
}

func TestFake_AfterFuncCallsOnceWhenItsTimeComesAndCanBeReset(t *testing.T) {
	f := NewFake(time.Unix(0, 0))
	calls := make(chan time.Time, 4)
	fn := f.AfterFunc(time.Second, func() { calls <- f.Now() })
	assert.Equal(t, 1, f.Waiters())
	f.Advance(999 * time.Millisecond)
	assert.Never(t, func() bool { return len(calls) > 0 }, 20*time.Millisecond, time.Millisecond)
	f.Advance(time.Millisecond)
	assert.Equal(t, time.Unix(1, 0), <-calls)
	assert.Equal(t, 0, f.Waiters())

	assert.False(t, fn.Reset(2*time.Second), "it had run")
	assert.True(t, fn.Stop())
	assert.False(t, fn.Stop())
	f.Advance(3 * time.Second)
	assert.True(t, fn.Reset(-time.Second) == false)
	assert.Equal(t, time.Unix(4, 0), <-calls, "a non-positive Reset calls at once")
	assert.True(t, !fn.Reset(time.Second))
	assert.True(t, fn.Reset(5*time.Second), "pending")
	f.Advance(time.Second)
	assert.Empty(t, calls, "the Reset moved the call")
	f.Advance(4 * time.Second)
	assert.Equal(t, time.Unix(9, 0), <-calls)
}

func TestReal_AfterFuncWrapsTheTimePackage(t *testing.T) {
	done := make(chan struct{})
	fn := Real{}.AfterFunc(time.Millisecond, func() { close(done) })
	<-done
	assert.False(t, fn.Stop())
}
