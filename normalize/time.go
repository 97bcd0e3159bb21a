package normalize

import (
	"math"
	"strconv"
	"time"
)

const (
	// secondsBelow splits epoch numbers: below it a number is Unix seconds,
	// from it on Unix milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
	secondsBelow = 1e11
	// maxUnixMilli is 9999-12-31T23:59:59.999Z, the last time RFC 3339 can
	// write; later numbers are rejected.
	maxUnixMilli = 253402300799999
	// maxRetryAfter bounds a server-given wait, as protocol does for REST.
	maxRetryAfter = time.Hour
	// maxDuration is the largest time.Duration.
	maxDuration = time.Duration(math.MaxInt64)
	// zonelessLayout is ISO 8601 without a zone, read as UTC.
	zonelessLayout = "2006-01-02T15:04:05"
)

// timeOf reads an event time: a number (Unix seconds below 1e11, else Unix
// milliseconds; fractions kept), a string holding such a number, or an
// RFC 3339 string (fractional seconds allowed; without a zone it is UTC).
// Negative numbers, numbers past the year 9999 and anything unparseable give
// ok false.
func timeOf(v flex) (time.Time, bool) {
	b, ok := v.number()
	if !ok {
		return time.Time{}, false
	}
	if isPlainInt(b) {
		n, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return time.Time{}, false
		}
		return timeFromInt(n)
	}
	if f, err := strconv.ParseFloat(string(b), 64); err == nil {
		return timeFromFloat(f)
	}
	if v.isNumber() {
		return time.Time{}, false
	}
	s := string(b)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(zonelessLayout, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

func timeFromInt(n int64) (time.Time, bool) {
	switch {
	case n < 0 || n > maxUnixMilli:
		return time.Time{}, false
	case n < secondsBelow:
		return time.Unix(n, 0).UTC(), true
	default:
		return time.UnixMilli(n).UTC(), true
	}
}

func timeFromFloat(f float64) (time.Time, bool) {
	switch {
	case !(f >= 0 && f <= maxUnixMilli): // also NaN
		return time.Time{}, false
	case f < secondsBelow:
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), true
	default:
		ms, frac := math.Modf(f)
		return time.UnixMilli(int64(ms)).Add(time.Duration(math.Round(frac * 1e6))).UTC(), true
	}
}

// firstTime returns the first of vs that reads as a time.
func firstTime(vs ...flex) (time.Time, bool) {
	for _, v := range vs {
		if !v.present() {
			continue
		}
		if t, ok := timeOf(v); ok {
			return t, true
		}
	}
	return time.Time{}, false
}

// durationOf converts n units to a Duration: negative values give 0, values
// above limit give limit.
func durationOf(n float64, unit, limit time.Duration) time.Duration {
	d := n * float64(unit)
	switch {
	case d <= 0:
		return 0
	case d >= float64(limit):
		return limit
	}
	return time.Duration(d)
}
