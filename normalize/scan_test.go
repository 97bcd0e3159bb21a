package normalize

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUnquote_MatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string // a JSON string literal
	}{
		{"plain ASCII", `"hello"`},
		{"empty", `""`},
		{"simple escapes", `"a\"b\\c\/d\be\ff\ng\rh\ti"`},
		{"unicode escape", `"caf\u00e9 \u00E9"`},
		{"surrogate pair", `"\ud83d\ude00"`},
		{"lone high surrogate", `"\ud83d x"`},
		{"lone low surrogate", `"\ude00"`},
		{"high surrogate then non-surrogate escape", `"\ud83d\u0041"`},
		{"two high surrogates", `"\ud83d\ud83d\ude00"`},
		{"raw UTF-8", `"ü 😀 日本"`},
		{"invalid UTF-8", "\"a\xffb\xc3\""},
		{"UTF-8 encoded surrogate", "\"\xed\xa0\x80\""},
		{"escape after invalid UTF-8", "\"\xff\\n\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want string
			require.NoError(t, json.Unmarshal([]byte(tt.in), &want))
			got, ok := flex(tt.in).str()
			require.True(t, ok)
			assert.Equal(t, want, got)
		})
	}
}

func TestValueEnd_FindsTheEndOfEachKind(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"string", `"a\"b" ,`, 6},
		{"string ending in an escaped backslash", `"a\\",`, 5},
		{"object with brackets in strings", `{"a":"}]","b":[{}]} x`, 19},
		{"array", `[1,[2],"]"],`, 11},
		{"number", `-1.5e3,`, 6},
		{"literal before a brace", `true}`, 4},
		{"number at the end", `12`, 2},
		{"unterminated string stops at the end", `"abc`, 4},
		{"unterminated object stops at the end", `{"a":[`, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, valueEnd([]byte(tt.in), 0))
		})
	}
}

func TestMembers_StopsOnBrokenInput(t *testing.T) {
	for _, in := range []string{`{`, `{"a"`, `{"a":`, `{"a" 1}`, `{1:2}`, `{"`} {
		t.Run(in, func(t *testing.T) {
			it := newMembers([]byte(in))
			n := 0
			for _, _, ok := it.next(); ok; _, _, ok = it.next() {
				n++
				require.Less(t, n, 10)
			}
			assert.Zero(t, n)
		})
	}
}

func TestElements_SplitsArrays(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", `[]`, nil},
		{"empty with space", `[ ]`, nil},
		{"mixed", `[1, "a,b", {"c":[2]}, [3], null ]`, []string{`1`, `"a,b"`, `{"c":[2]}`, `[3]`, `null`}},
		{"not an array", `{"a":1}`, nil},
		{"broken", `[1,`, []string{`1`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range elements([]byte(tt.in)) {
				got = append(got, string(e))
				assert.Equal(t, len(e), cap(e), "elements are capped")
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFlex_ReadsNumbersAndNumericStrings(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		wantI  int64
		okI    bool
		wantF  float64
		okF    bool
		wantID string
	}{
		{"integer", `42`, 42, true, 42, true, "42"},
		{"numeric string", `"42"`, 42, true, 42, true, "42"},
		{"escaped numeric string", `"\u0034\u0032"`, 42, true, 42, true, "42"},
		{"float", `2.5`, 0, false, 2.5, true, "2.5"},
		{"integral float", `2.0`, 2, true, 2, true, "2"},
		{"beyond int64", `9223372036854775808`, 0, false, 9223372036854775808, true, "9223372036854775808"},
		{"float beyond int64", `1e19`, 0, false, 1e19, true, "10000000000000000000"},
		{"NaN string", `"NaN"`, 0, false, 0, false, "NaN"},
		{"blank string", `"  "`, 0, false, 0, false, "  "},
		{"word", `"abc"`, 0, false, 0, false, "abc"},
		{"bool", `true`, 0, false, 0, false, ""},
		{"null", `null`, 0, false, 0, false, ""},
		{"absent", ``, 0, false, 0, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := flex(tt.in)
			i, okI := v.int()
			f, okF := v.float()
			assert.Equal(t, tt.okI, okI)
			assert.Equal(t, tt.wantI, i)
			assert.Equal(t, tt.okF, okF)
			assert.Equal(t, tt.wantF, f)
			assert.Equal(t, tt.wantID, v.id())
		})
	}
}

func TestClampInt_Saturates(t *testing.T) {
	assert.Equal(t, 5, clampInt(5))
	assert.Equal(t, -5, clampInt(-5))
}
