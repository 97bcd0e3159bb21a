package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/miptechnologies/miptech-go/platformtest"
)

func TestRun_TerminalShowsAStatusLineAtOnceWhenTheConnectionDropsMidReply(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{Responder: slowSecond})
	p := startScreen(t, envFor(srv), "-reply-timeout", "1m")
	p.write(t, "two\n")
	p.stdout.waitFor(t, "assistant: Echo: ")
	// The platform dies mid-reply and stays down: the reply cannot end
	// until the test lets the client back in.
	srv.RefuseHandshakes(1000, 503)
	srv.DropAllAbrupt()
	p.stdout.waitFor(t, "state: reconnecting")
	screen := p.stdout.String()
	assert.Contains(t, screen, "assistant: Echo: \nstate: reconnecting", "the status line shows at once, on its own line")
	assert.NotContains(t, screen, "Echo: two", "the reply is still open")
	assert.NotContains(t, screen, "state: failed")

	srv.RefuseHandshakes(0, 0)
	p.stdout.waitFor(t, "\nassistant: Echo: two\n")
	p.closeInput()
	assert.Equal(t, 0, p.wait(t), p.stdout.String())
	assert.Equal(t, 1, strings.Count(p.stdout.String(), "Echo: two"), "the reply is shown whole once, after the status lines")
}

func TestConsole_TerminalStatusLinesNeverSplitAReplyLine(t *testing.T) {
	t.Parallel()
	screen := newOutput()
	c := newConsole(screen, screen, true)
	c.beginReply()
	c.chunk("Hello, ")
	c.line("state: reconnecting")
	c.line("state: ready")
	c.chunk("")
	c.chunk("world.")
	c.note("* someone is typing…") // dropped: the reply is open
	c.line("error: something")
	c.chunk("")
	c.endReply()
	c.note("* someone is typing…")
	assert.Equal(t, "assistant: Hello, \nstate: reconnecting\nstate: ready\nassistant: Hello, world.\n"+
		"error: something\n* someone is typing…\n", screen.String())
}
