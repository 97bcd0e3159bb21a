package main

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscape_FitsEveryReplyOnOneLine(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello", "hello"},
		{"newline", "a\nb", `a\nb`},
		{"carriage return", "a\rb", `a\rb`},
		{"CRLF", "a\r\nb", `a\r\nb`},
		{"backslash", `a\b`, `a\\b`},
		{"backslash before n stays distinct from a newline", `a\nb`, `a\\nb`},
		{"empty", "", ""},
		{"unicode kept", "héllo ✓", "héllo ✓"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := escape(tt.in)
			assert.Equal(t, tt.want, got)
			assert.NotContains(t, got, "\n")
			assert.NotContains(t, got, "\r")
		})
	}
}

// readAll runs readLines over input and collects its lines.
func readAll(t *testing.T, input string) []inputLine {
	t.Helper()
	out := make(chan inputLine)
	go readLines(strings.NewReader(input), out, make(chan struct{}))
	var lines []inputLine
	for l := range out {
		lines = append(lines, l)
	}
	return lines
}

func TestReadLines_SplitsLinesByTheInputRules(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		texts []string
	}{
		{"empty input has no line", "", nil},
		{"one newline is one empty line", "\n", []string{""}},
		{"last line without newline", "a\nb", []string{"a", "b"}},
		{"CRLF", "a\r\nb\r\n", []string{"a", "b"}},
		{"one trailing CR stripped", "a\r\r\n", []string{"a\r"}},
		{"CR inside kept", "a\rb\n", []string{"a\rb"}},
		{"trailing CR without newline", "a\r", []string{"a"}},
		{"spaces kept", "  a b  \n", []string{"  a b  "}},
		{"line longer than the read buffer", strings.Repeat("y", 200_000) + "\nz", []string{strings.Repeat("y", 200_000), "z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines := readAll(t, tt.in)
			var texts []string
			for i, l := range lines {
				assert.Equal(t, i+1, l.n)
				assert.False(t, l.tooLong)
				texts = append(texts, l.text)
			}
			assert.Equal(t, tt.texts, texts)
		})
	}
}

func TestReadLines_RefusesLinesOverTheLimitAndGoesOn(t *testing.T) {
	huge := strings.Repeat("x", maxLineBytes+1)
	lines := readAll(t, "a\n"+huge+"\nb\n"+huge)
	require.Len(t, lines, 4)
	assert.Equal(t, "a", lines[0].text)
	assert.True(t, lines[1].tooLong)
	assert.Zero(t, len(lines[1].text), "a refused line is not kept")
	assert.False(t, lines[1].blank(), "a refused line counts as a line")
	assert.Equal(t, "b", lines[2].text)
	assert.True(t, lines[3].tooLong, "also as the last line without newline")

	exact := readAll(t, strings.Repeat("x", maxLineBytes)+"\r\n")
	require.Len(t, exact, 1)
	assert.False(t, exact[0].tooLong, "exactly the limit, plus CRLF, passes")
}

func TestReadLines_ReportsAReadErrorAndStops(t *testing.T) {
	boom := errors.New("boom")
	out := make(chan inputLine)
	go readLines(iotest.TimeoutReader(strings.NewReader("a\nb\n")), out, make(chan struct{}))
	var lines []inputLine
	for l := range out {
		lines = append(lines, l)
	}
	require.NotEmpty(t, lines)
	last := lines[len(lines)-1]
	require.Error(t, last.err)
	assert.NotErrorIs(t, last.err, boom)

	out = make(chan inputLine)
	go readLines(iotest.ErrReader(boom), out, make(chan struct{}))
	l, ok := <-out
	require.True(t, ok)
	assert.ErrorIs(t, l.err, boom)
	_, ok = <-out
	assert.False(t, ok, "the reader stops after an error")
}

func TestReadLines_StopsWhenAskedToStop(t *testing.T) {
	out := make(chan inputLine)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		readLines(strings.NewReader("a\nb\nc\n"), out, stop)
	}()
	<-out
	close(stop)
	<-done
}

func TestBacklog_HandsLinesOverInOrderWithoutBlocking(t *testing.T) {
	b := newBacklog()
	for i := 1; i <= 1000; i++ {
		b.push(sentLine{n: i}) // never blocks, whatever the consumer does
	}
	b.close()
	ctx := t.Context()
	for i := 1; i <= 1000; i++ {
		l, ok := b.next(ctx)
		require.True(t, ok)
		require.Equal(t, i, l.n)
	}
	_, ok := b.next(ctx)
	assert.False(t, ok, "closed and drained")

	open := newBacklog()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, ok = open.next(cctx)
	assert.False(t, ok, "an ended context stops the wait")
}
