package normalize

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNormalize_RejectsFramesWithoutAnEvent(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 20000) + `1` + strings.Repeat(`}`, 20000)
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty input", ``, ErrMalformed},
		{"only white space", "  \n", ErrMalformed},
		{"not JSON", `hello`, ErrMalformed},
		{"truncated object", `{"type":"ping","data":{`, ErrMalformed},
		{"trailing garbage", `{"type":"ping"} x`, ErrMalformed},
		{"single quotes", `{'type':'ping'}`, ErrMalformed},
		{"nesting deeper than encoding/json allows", deep, ErrMalformed},
		{"array", `[{"type":"ping"}]`, ErrNotObject},
		{"string", `"ping"`, ErrNotObject},
		{"number", `42`, ErrNotObject},
		{"null", `null`, ErrNotObject},
		{"no type", `{"data":{"chat_id":"c"}}`, ErrMissingType},
		{"empty type", `{"type":""}`, ErrMissingType},
		{"numeric type", `{"type":5}`, ErrMissingType},
		{"null type", `{"type":null}`, ErrMissingType},
		{"object type", `{"type":{"name":"ping"}}`, ErrMissingType},
		{"type only in data", `{"data":{"type":"ping"}}`, ErrMissingType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Normalize([]byte(tt.in), testNow)
			require.Error(t, err)
			assert.Equal(t, Event{}, ev)
			assert.ErrorIs(t, err, tt.want)
			var de *DecodeError
			require.True(t, errors.As(err, &de))
			assert.Equal(t, tt.want, de.Err)
			assert.LessOrEqual(t, len(de.Snippet), snippetLen)
			assert.True(t, strings.HasPrefix(tt.in, de.Snippet))
		})
	}
}

func TestDecodeError_MessageQuotesTheStartOfTheFrame(t *testing.T) {
	long := `{"type":` + strings.Repeat("x", 100)
	_, err := Normalize([]byte(long), testNow)
	var de *DecodeError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, long[:64], de.Snippet)
	assert.Equal(t, ErrMalformed.Error()+" (frame begins "+strconv.Quote(long[:64])+")", err.Error())
	assert.Equal(t, ErrMalformed, errors.Unwrap(err))
	assert.False(t, errors.Is(err, ErrNotObject))
}

func TestNormalize_AcceptsDeepButValidNesting(t *testing.T) {
	deep := `{"type":"x","data":{"chat_id":"c","n":` + strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000) + `}}`
	ev, err := Normalize([]byte(deep), testNow)
	require.NoError(t, err)
	assert.Equal(t, "c", ev.ChatID)
}
