package normalize

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestType_IsNormalizesTypeAndRefusesWhatNormalizeRefuses(t *testing.T) {
	frames := []string{
		`{"type":"pong"}`,
		`{"data":{"ts":1733220000123},"timestamp":"2026-12-03T08:00:00Z","type":"pong"}`,
		`{"type": "pong", "timestamp": 1733220000123}`,
		`{"type":"response_chunk","data":{"content":"pong","message_id":"m1"}}`,
		`{"type":"message_chunk","data":{"content":"x"}}`,
		`{"type":"pong"`,
		`{"data":{}}`,
		`[]`,
		`{"type":"pong","data":{"ts":1}} trailing`,
		`{"type":7}`,
	}
	now := time.Now()
	for _, f := range frames {
		ev, nerr := Normalize([]byte(f), now)
		typ, terr := Type([]byte(f))
		if nerr != nil {
			require.Error(t, terr, "%s", f)
			assert.Equal(t, nerr.Error(), terr.Error(), "%s", f)
			continue
		}
		require.NoError(t, terr, "%s", f)
		assert.Equal(t, ev.Type, typ, "%s", f)
	}
}

func BenchmarkType_Pong(b *testing.B) {
	raw := []byte(`{"data":{"ts":1733220000123},"timestamp":"2026-12-03T08:00:00.123Z","type":"pong"}`)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Type(raw)
	}
}

func BenchmarkNormalize_Pong(b *testing.B) {
	raw := []byte(`{"data":{"ts":1733220000123},"timestamp":"2026-12-03T08:00:00.123Z","type":"pong"}`)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Normalize(raw, now)
	}
}
