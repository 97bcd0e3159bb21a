package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/miptechnologies/miptech-go/platformtest"
)

// slowWords answers "slow …" in ten chunks 200 ms apart (2 s in all), so
// that a test can interrupt the reply after its first chunk; other lines
// get the default reply.
func slowWords(ctx context.Context, req platformtest.Request) platformtest.Reply {
	if strings.HasPrefix(req.Text, "slow") {
		return platformtest.Reply{
			Chunks:     platformtest.SplitChunks("Echo: "+req.Text+" a b c d e f g h i j", 10),
			ChunkDelay: 200 * time.Millisecond,
		}
	}
	return platformtest.DefaultResponder(ctx, req)
}

func TestRun_TerminalCtrlCCancelsTheReplyAndKeepsTheSession(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{Responder: slowWords})
	p := startScreen(t, envFor(srv))
	p.write(t, "slow\n")
	p.stdout.waitFor(t, "assistant: Echo: ")
	p.interrupt(t)
	p.stdout.waitFor(t, "cli: line 1: reply cancelled")
	assert.NotContains(t, p.stdout.String(), "j\n", "the reply is not shown to its end")
	p.write(t, "next\n")
	p.stdout.waitFor(t, "assistant: Echo: next\n")
	p.closeInput()
	assert.Equal(t, 0, p.wait(t), "a cancelled reply is no failure: %s", p.stdout.String())
	assert.NotContains(t, p.stdout.String(), "interrupted")
}

func TestRun_TerminalCtrlCWithNoReplyOpenExits130(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{})
	p := startScreen(t, envFor(srv))
	p.write(t, "one\n")
	p.stdout.waitFor(t, "assistant: Echo: one\n")
	p.interrupt(t)
	assert.Equal(t, 130, p.wait(t))
	assert.Contains(t, p.stdout.String(), "cli: interrupted")
}

func TestRun_TerminalTwoCtrlCInARowExit130(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{Responder: slowWords})
	p := startScreen(t, envFor(srv))
	p.write(t, "slow 1\nslow 2\n") // a second reply waits behind the first
	p.stdout.waitFor(t, "assistant: Echo: ")
	p.interrupt(t)
	p.interrupt(t)
	assert.Equal(t, 130, p.wait(t))
	assert.Contains(t, p.stdout.String(), "cli: interrupted")
}

func TestRun_PipedCtrlCExits130AsBefore(t *testing.T) {
	t.Parallel()
	srv := platform(t, platformtest.Config{Responder: slowWords})
	p := start(t, envFor(srv), false)
	p.write(t, "one\nslow\n")
	p.stdout.waitFor(t, "assistant: Echo: one\n")
	p.interrupt(t)
	assert.Equal(t, 130, p.wait(t))
	assert.Contains(t, p.stderr.String(), "cli: interrupted")
	assert.Equal(t, "assistant: Echo: one\n", p.stdout.String())
}
