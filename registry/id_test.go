package registry

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewClientMessageID_IsCanonicalUUIDv4(t *testing.T) {
	seen := make(map[string]bool)
	for range 100 {
		id := NewClientMessageID()
		require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
		u, err := uuid.Parse(id)
		require.NoError(t, err)
		assert.Equal(t, uuid.Version(4), u.Version())
		assert.Equal(t, uuid.RFC4122, u.Variant())
		assert.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}

func TestFallbackID_FormatIsTempMillisHex(t *testing.T) {
	format := regexp.MustCompile(`^temp_(\d+)_([0-9a-f]{8})$`)
	tests := []struct {
		name string
		now  time.Time
	}{
		{"epoch", time.UnixMilli(0)},
		{"recent", time.Date(2025, 3, 1, 12, 0, 0, 123_456_789, time.UTC)},
		{"far future", time.Date(2999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := FallbackID(tt.now)
			m := format.FindStringSubmatch(id)
			require.NotNil(t, m, "id %q does not match %s", id, format)
			assert.Equal(t, strconv.FormatInt(tt.now.UnixMilli(), 10), m[1])
		})
	}
}

func TestFallbackID_RandomPartDiffers(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	seen := make(map[string]bool)
	for range 100 {
		id := FallbackID(now)
		assert.False(t, seen[id], "duplicate id %s", id)
		seen[id] = true
	}
}
