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
// chunk by chunk, and a standard error line (a state change, an error, a
// log record) is written at once, on a line of its own: it ends the open
// reply's line on standard output first, and the reply's next piece starts
// a new line that shows the reply from its beginning. So the user sees a
// status change when it happens, never held behind a reply that is open.
type console struct {
	mu       sync.Mutex
	stdout   io.Writer
	stderr   io.Writer
	terminal bool
	open     bool            // a streamed reply is open (terminal)
	shown    strings.Builder // the open reply's text so far
	broken   bool            // a standard error line ended the open reply's line
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
	c.open, c.broken = true, false
	c.shown.Reset()
}

// chunk writes a piece of the open reply as it arrived (terminal). After a
// status line broke the reply's line, a piece with text starts a new line
// showing the whole reply so far.
func (c *console) chunk(text string) {
	if text == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		fmt.Fprint(c.stdout, replyPrefix+c.shown.String())
		c.broken = false
	}
	fmt.Fprint(c.stdout, text)
	c.shown.WriteString(text)
}

// endReply ends the open reply line, unless a status line already did.
func (c *console) endReply() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.broken {
		fmt.Fprint(c.stdout, "\n")
	}
	c.open, c.broken = false, false
	c.shown.Reset()
}

// breakLocked ends the open reply's line so that a standard error line
// can follow on a line of its own. Called with c.mu held.
func (c *console) breakLocked() {
	if c.open && !c.broken {
		fmt.Fprint(c.stdout, "\n")
		c.broken = true
	}
}

// line writes one line on standard error at once.
func (c *console) line(format string, args ...any) {
	s := fmt.Sprintf(format, args...) + "\n"
	c.mu.Lock()
	defer c.mu.Unlock()
	c.breakLocked()
	fmt.Fprint(c.stderr, s)
}

// note writes a passing indication (someone is typing) on standard error,
// or drops it while a reply is open: the reply shows that the assistant is
// writing, and a note that came late must not break the reply's line.
func (c *console) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...) + "\n"
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.open {
		fmt.Fprint(c.stderr, s)
	}
}

// errorf writes an "error: " line on standard error.
func (c *console) errorf(format string, args ...any) {
	c.line("error: "+format, args...)
}

// Write writes p to standard error under the console's lock, for the SDK's
// logger (-v), like line.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.breakLocked()
	return c.stderr.Write(p)
}
