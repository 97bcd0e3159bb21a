package normalize

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// wantErr is the sentinel Normalize must return for raw, judged by
// encoding/json alone: ErrMalformed when json.Valid rejects it, else
// ErrNotObject, ErrMissingType or nil.
func wantErr(raw []byte) error {
	if !json.Valid(raw) {
		return ErrMalformed
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil || top == nil {
		return ErrNotObject
	}
	var typ string
	if t := top["type"]; len(t) == 0 || t[0] != '"' || json.Unmarshal(t, &typ) != nil || typ == "" {
		return ErrMissingType
	}
	return nil
}

// requireVerdict checks that Normalize accepts or rejects raw exactly as
// encoding/json judges it.
func requireVerdict(t *testing.T, raw []byte) {
	t.Helper()
	want := wantErr(raw)
	_, err := Normalize(raw, testNow)
	if want == nil {
		require.NoError(t, err, "frame %.80q", raw)
		return
	}
	require.ErrorIs(t, err, want, "frame %.80q", raw)
	var de *DecodeError
	require.True(t, errors.As(err, &de), "error %v is not a *DecodeError", err)
}

// nested is a value of depth arrays (or objects, each under the name "a")
// around a 1.
func nested(depth int, object bool) string {
	if object {
		return strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	}
	return strings.Repeat("[", depth) + "1" + strings.Repeat("]", depth)
}

// grammarValues are JSON values, valid or not, covering each corner of the
// grammar.
var grammarValues = []string{
	// numbers
	`0`, `-0`, `1`, `-1`, `10`, `1.5`, `-1.5e10`, `1E+2`, `1e-2`, `0.0`, `0e0`,
	`01`, `-01`, `00`, `-`, `--1`, `+1`, `1.`, `1.e2`, `.5`, `-.5`, `1e`, `1e+`,
	`1E-`, `1ee2`, `1.5.5`, `0x10`, `1_000`, `Infinity`, `NaN`, `1 2`,
	// literals
	`true`, `false`, `null`, `tru`, `True`, `nul`, `nulll`, `falsey`, `t`,
	// strings
	`""`, `"a"`, `"\"\\\/\b\f\n\r\t"`, `"\u00e9"`, `"\uD83D\uDE00"`, `"\ud800"`,
	`"\x41"`, `"\u12"`, `"\u12g4"`, `"\U0041"`, `"\'"`, `"\a"`, `"\`, `"a\"`,
	`"abc`, `"`, "\"a\tb\"", "\"a\nb\"", "\"\x00\"", "\"\x1f\"", "\"\x7f\"",
	"\"\xff\xfe\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"caf\xc3\xa9\"",
	`'a'`,
	// arrays
	`[]`, `[ ]`, `[1,2]`, `[1,]`, `[,1]`, `[,]`, `[1 2]`, `[1,,2]`, `[`, `[1`,
	`[1,`, `[[]`, `[]]`, `[{}]`, `[{]`, `["a",{"b":[null]}]`,
	// objects
	`{}`, `{ }`, `{"a":1}`, `{"a":1,}`, `{,"a":1}`, `{"a" 1}`, `{"a"}`, `{"a":}`,
	`{a:1}`, `{1:1}`, `{"a":1 "b":2}`, `{"a":1,"a":2}`, `{"a":1;"b":2}`, `{`,
	`{"a":1`, `{"a":[}`, `{"a":{}`, `{"":""}`, "{\"a\x01\":1}", `{"\u0061":1}`,
	`{"\x":1}`,
	// white space
	" \t\r\n1\n\r\t ", "[\t1 ,\n2\r]", "{\n\"a\"\t:\r1 }", "\f1", "\v1",
	"\u00a01", "[1\u00a0]",
	// nesting at and past the limit
	nested(9998, false), nested(9999, false), nested(10000, false), nested(10001, false),
	nested(9999, true), nested(10000, true), nested(10001, true),
	strings.Repeat("[", 20000), strings.Repeat(`{"a":`, 20000),
}

// TestNormalize_RejectsExactlyWhatJSONValidRejects puts each grammar value
// at each place the normalizer reads: the whole frame, an unused member of
// a frame, and an element nested in the payload it walks. Normalize's
// verdict must be json.Valid's (with the object and type checks after it).
func TestNormalize_RejectsExactlyWhatJSONValidRejects(t *testing.T) {
	places := []struct {
		name   string
		before string
		after  string
	}{
		{"whole frame", "", ""},
		{"unused member", `{"type":"ping","x":`, `}`},
		{"nested in the payload", `{"type":"response_chunk","data":{"content":"a","x":[`, `]}}`},
		{"message object", `{"type":"response_complete","data":{"message":{"metadata":{"sources":[`, `]}}}}`},
		{"legacy payload", `{"type":"message_chunk","payload":{"chunk":`, `}}`},
		{"before the type", `{"x":`, `,"type":"ping"}`},
	}
	for _, p := range places {
		t.Run(p.name, func(t *testing.T) {
			for _, v := range grammarValues {
				requireVerdict(t, []byte(p.before+v+p.after))
			}
		})
	}
}

// TestNormalize_FrameLevelGrammar covers the frame around the top-level
// object and the errors' precedence.
func TestNormalize_FrameLevelGrammar(t *testing.T) {
	frames := []string{
		`{"type":"ping"}`,
		" \t\r\n{\"type\":\"ping\"} \t\r\n",
		"{\n\t\"type\" :\r\n\"ping\" ,\"a\" : [ 1 , 2 ] }",
		`{"type":"ping"}x`,
		`{"type":"ping"} {}`,
		`{"type":"ping"},`,
		`{"type":"ping"}}`,
		`{"type":"ping"}` + "\x00",
		`{"type":"ping"}` + "\f",
		"\xef\xbb\xbf{\"type\":\"ping\"}",
		`{"type":"ping",}`,
		`{"type":"ping" "a":1}`,
		`{"type" "ping"}`,
		`{"type":"ping"`,
		`{"type":"ping`,
		`{"type":"ping","a":`,
		`{"type":"ping","type":"pong"}`,
		`{"type":"ping","type":5}`,
		`{"type":5,"type":"ping"}`,
		`{"type":""}`,
		`{"type":null}`,
		`{}`,
		`{"typ\u0065":"ping"}`,
		`{"type":"\u0070ing"}`,
		`{"type":"p\x"}`,
		`[1,2`, `[1]`, `[1,]`, `"type"`, `1`, `01`, `null`, `nul`,
		``, ` `, "\n", `{`, `}`, `{{}}`,
	}
	for _, f := range frames {
		requireVerdict(t, []byte(f))
	}

	// The examples of the error contract.
	_, err := Normalize([]byte(`[1,2`), testNow)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = Normalize([]byte(`[1]`), testNow)
	assert.ErrorIs(t, err, ErrNotObject)
	_, err = Normalize([]byte(`{"type":"ping","x":[1,]}`), testNow)
	assert.ErrorIs(t, err, ErrMalformed)
	_, err = Normalize([]byte(`{"type":"ping"} x`), testNow)
	assert.ErrorIs(t, err, ErrMalformed)
}

// TestCheckValue_EndsWhereTheValueEnds checks the index checkValue returns
// for valid values followed by more text.
func TestCheckValue_EndsWhereTheValueEnds(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`1,`, 1},
		{`-1.5e+3]`, 7},
		{`"a\"b" `, 6},
		{`true}`, 4},
		{`[1, [2], {"a": "]"}] x`, 20},
		{`{} {}`, 2},
		{`0123`, 1},
		{`[1,]`, -1},
		{``, -1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, checkValue([]byte(tt.in), 0, 0), "%q", tt.in)
	}
}
