package protocol

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendPing_IsTheEncodedFrame(t *testing.T) {
	ids := []string{"", "c-1", "client 7", `q"uote`, `back\slash`, "<tag>&", "tab\there", "é", "\u2028", "\x7f", "\xff"}
	stamps := []int64{0, 1, -1, 1733220000123, math.MaxInt64, math.MinInt64}
	for _, typ := range []string{TypePing, TypePong} {
		for _, id := range ids {
			for _, ts := range stamps {
				f, err := NewFrame(typ, Ping{TS: ts}, ts/2, id)
				require.NoError(t, err)
				want, err := f.Encode()
				require.NoError(t, err)
				assert.Equal(t, string(want), string(AppendPing(nil, typ, ts, ts/2, id)), "type %s id %q ts %d", typ, id, ts)
			}
		}
	}
}

func TestAppendPing_AllocatesNothingIntoRoom(t *testing.T) {
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendPing(buf[:0], TypePing, 1733220000123, 1733220000123, "client-1")
	})
	assert.Zero(t, allocs)
}
