package normalize

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize_ReadsEveryTimeForm(t *testing.T) {
	tests := []struct {
		name     string
		envelope string // members added next to type and data
		want     time.Time
		explicit bool
	}{
		{"event_ts in ms", `"event_ts":1718000000123`, ms(tsMS), true},
		{"eventTs in ms", `"eventTs":1718000000123`, ms(tsMS), true},
		{"timestamp in ms", `"timestamp":1718000000123`, ms(tsMS), true},
		{"timestamp in seconds", `"timestamp":1718000000`, time.Unix(1718000000, 0), true},
		{"timestamp in float seconds keeps the fraction", `"timestamp":1718000000.25`, time.Unix(1718000000, 25e7), true},
		{"timestamp in float ms keeps the fraction", `"timestamp":1718000000123.5`, ms(tsMS).Add(500 * time.Microsecond), true},
		{"timestamp in RFC 3339", `"timestamp":"2024-06-10T06:13:20Z"`, time.Unix(1718000000, 0), true},
		{"timestamp in RFC 3339 with an offset", `"timestamp":"2024-06-10T08:13:20+02:00"`, time.Unix(1718000000, 0), true},
		{"timestamp in RFC 3339 with nanoseconds", `"timestamp":"2024-06-10T06:13:20.123456789Z"`, time.Unix(1718000000, 123456789), true},
		{"timestamp without a zone is UTC", `"timestamp":"2024-06-10T06:13:20.5"`, time.Unix(1718000000, 5e8), true},
		{"timestamp as a numeric string in ms", `"timestamp":"1718000000123"`, ms(tsMS), true},
		{"timestamp as a numeric string in seconds", `"timestamp":" 1718000000 "`, time.Unix(1718000000, 0), true},
		{"the 1e11 boundary is milliseconds", `"timestamp":100000000000`, time.UnixMilli(1e11), true},
		{"just below 1e11 is seconds", `"timestamp":99999999999`, time.Unix(99999999999, 0), true},
		{"event_ts wins over timestamp", `"timestamp":1,"event_ts":1718000000123`, ms(tsMS), true},
		{"unparseable event_ts falls back to timestamp", `"event_ts":"soon","timestamp":1718000000123`, ms(tsMS), true},
		{"unparseable string is now", `"timestamp":"yesterday"`, testNow, false},
		{"negative number is now", `"timestamp":-5`, testNow, false},
		{"number past the year 9999 is now", `"timestamp":253402300800000`, testNow, false},
		{"huge number is now", `"timestamp":1e300`, testNow, false},
		{"overflowing integer is now", `"timestamp":99999999999999999999999`, testNow, false},
		{"NaN string is now", `"timestamp":"NaN"`, testNow, false},
		{"bool is now", `"timestamp":true`, testNow, false},
		{"absent is now", `"x":1`, testNow, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := `{"type":"typing_start","data":{"chat_id":"c"},` + tt.envelope + `}`
			ev, err := Normalize([]byte(in), testNow)
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(ev.Time), "want %v, got %v", tt.want, ev.Time)
			assert.Equal(t, tt.explicit, ev.Key != "", "an explicit time gives a key to an event without message id")
		})
	}
}

func TestNormalize_ReadsTimeInData(t *testing.T) {
	ev, err := Normalize([]byte(`{"type":"typing_start","data":{"chat_id":"c","event_ts":1718000000123}}`), testNow)
	require.NoError(t, err)
	assert.True(t, ms(tsMS).Equal(ev.Time))

	ev, err = Normalize([]byte(`{"type":"typing_start","data":{"timestamp":"2024-06-10T06:13:20.123Z"}}`), testNow)
	require.NoError(t, err)
	assert.True(t, ms(tsMS).Equal(ev.Time))
}

func TestDurationOf_Bounds(t *testing.T) {
	assert.Equal(t, time.Duration(0), durationOf(-1, time.Second, time.Hour))
	assert.Equal(t, time.Duration(0), durationOf(0, time.Second, time.Hour))
	assert.Equal(t, 1500*time.Millisecond, durationOf(1.5, time.Second, time.Hour))
	assert.Equal(t, time.Hour, durationOf(3601, time.Second, time.Hour))
	assert.Equal(t, maxDuration, durationOf(1e300, time.Millisecond, maxDuration))
}
