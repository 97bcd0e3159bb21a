package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// replyPrefix starts every reply on standard output.
const replyPrefix = "assistant: "

// escaper writes a reply on one line: \ → \\, newline → \n, carriage
// return → \r.
var escaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`)

// escape returns text escaped so that it fits one line.
func escape(text string) string { return escaper.Replace(text) }

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// console owns standard output and standard error: every write of the
// program goes through it, under one lock, from whichever goroutine.
//
// Standard output receives replies only. On a terminal a reply is streamed
// chunk by chunk; while its line is open, standard error lines are held and
// written when it ends, so that a status line never splits a reply.
type console struct {
	mu       sync.Mutex
	stdout   io.Writer
	stderr   io.Writer
	terminal bool
	open     bool     // a streamed reply line is open on stdout
	held     []string // stderr lines waiting for the open reply to end
}

func newConsole(stdout, stderr io.Writer, terminal bool) *console {
	return &console{stdout: stdout, stderr: stderr, terminal: terminal}
}

// reply prints a complete reply as one escaped line.
func (c *console) reply(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.stdout, replyPrefix+escape(text)+"\n")
}

// beginReply opens a streamed reply line (terminal).
func (c *console) beginReply() {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.stdout, replyPrefix)
	c.open = true
}

// chunk writes a piece of the open reply as it arrived (terminal).
func (c *console) chunk(text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.stdout, text)
}

// endReply ends the open reply line and writes the held stderr lines.
func (c *console) endReply() {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprint(c.stdout, "\n")
	c.open = false
	for _, l := range c.held {
		fmt.Fprint(c.stderr, l)
	}
	c.held = nil
}

// line writes one line on standard error, or holds it while a reply
// streams.
func (c *console) line(format string, args ...any) {
	s := fmt.Sprintf(format, args...) + "\n"
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open {
		c.held = append(c.held, s)
		return
	}
	fmt.Fprint(c.stderr, s)
}

// errorf writes an "error: " line on standard error.
func (c *console) errorf(format string, args ...any) {
	c.line("error: "+format, args...)
}

// Write writes p to standard error under the console's lock, for the SDK's
// logger (-v). Log records are not held while a reply streams.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stderr.Write(p)
}
