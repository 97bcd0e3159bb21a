package normalize

import (
	"encoding/json"
	"hash/fnv"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testNow is the clock value the tests pass to Normalize.
var testNow = time.Date(2024, 6, 10, 6, 0, 0, 0, time.UTC)

// ms is a Unix millisecond time in UTC.
func ms(n int64) time.Time { return time.UnixMilli(n).UTC() }

// boolPtr returns a pointer to b.
func boolPtr(b bool) *bool { return &b }

// raws turns JSON texts into raw messages.
func raws(items ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(items))
	for i, s := range items {
		out[i] = json.RawMessage(s)
	}
	return out
}

// timeKey is the dedup key of an event keyed by time, computed with the
// standard library's FNV-1a.
func timeKey(typ, chatID string, t time.Time, hashed string) string {
	h := fnv.New64a()
	_, _ = h.Write([]byte(hashed))
	return typ + "|" + chatID + "|" + strconv.FormatInt(t.Unix(), 10) + "." +
		strconv.Itoa(t.Nanosecond()) + "|" + strconv.FormatUint(h.Sum64(), 16)
}

// requireEvent normalizes in and compares the result with want, field by
// field. A zero want.Time means testNow. Data is not compared here.
func requireEvent(t *testing.T, in string, want Event) Event {
	t.Helper()
	got, err := Normalize([]byte(in), testNow)
	require.NoError(t, err)
	if want.Time.IsZero() {
		want.Time = testNow
	}
	require.True(t, want.Time.Equal(got.Time), "Time: want %v, got %v", want.Time, got.Time)
	require.True(t, want.ConnectedAt.Equal(got.ConnectedAt), "ConnectedAt: want %v, got %v", want.ConnectedAt, got.ConnectedAt)
	cmp := got
	want.Time, cmp.Time = time.Time{}, time.Time{}
	want.ConnectedAt, cmp.ConnectedAt = time.Time{}, time.Time{}
	cmp.Data = nil
	require.Equal(t, want, cmp)
	return got
}
