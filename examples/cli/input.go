package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"sync"

	"github.com/miptechnologies/miptech-go/client"
)

// maxLineBytes is the longest input line kept. A longer line is refused
// without being held in memory; the platform's limit is far lower anyway
// (4000 characters by default).
const maxLineBytes = 1 << 20

// inputLine is one line of standard input.
type inputLine struct {
	// n is the line number, from 1; blank lines count.
	n int
	// text is the line without its newline and one trailing carriage
	// return.
	text string
	// tooLong marks a line over maxLineBytes; text is then empty.
	tooLong bool
	// err is a read error other than end of input; the reader stops.
	err error
}

// blank reports whether the line is empty or white space only.
func (l inputLine) blank() bool { return !l.tooLong && strings.TrimSpace(l.text) == "" }

// readLines reads r line by line into out, closing out at end of input or
// after a read error (sent as the last item). It returns early when stop
// is closed; a Read under way cannot be interrupted, so the goroutine
// running it ends only when that Read returns.
func readLines(r io.Reader, out chan<- inputLine, stop <-chan struct{}) {
	defer close(out)
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		l, err := readLine(br)
		if errors.Is(err, io.EOF) {
			return
		}
		l.n = n
		if err != nil {
			l.err = err
		}
		select {
		case out <- l:
		case <-stop:
			return
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line. It returns io.EOF only when no byte is left: a
// last line without a newline is a line.
func readLine(br *bufio.Reader) (inputLine, error) {
	var buf []byte
	var l inputLine
	for {
		part, err := br.ReadSlice('\n')
		if !l.tooLong {
			if len(buf)+len(part) > maxLineBytes+len("\r\n") {
				l.tooLong = true
				buf = nil
			} else {
				buf = append(buf, part...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 && !l.tooLong {
				return l, io.EOF
			}
		case err != nil:
			return l, err
		}
		s := strings.TrimSuffix(string(buf), "\n")
		if s = strings.TrimSuffix(s, "\r"); len(s) > maxLineBytes {
			l.tooLong = true
		}
		if !l.tooLong {
			l.text = s
		}
		return l, nil
	}
}

// sentLine is a line handed to the platform, awaiting its reply.
type sentLine struct {
	n   int
	msg *client.Message
	// ctx is the message's context; cancel ends it, once its reply is
	// printed or cancelled.
	ctx    context.Context
	cancel context.CancelFunc
}

// backlog passes sent lines, in input order, from the input loop to the
// printer without ever blocking the input loop: lines are sent as they are
// read, whatever the printer waits for. One goroutine calls next.
type backlog struct {
	mu     sync.Mutex
	items  []sentLine
	closed bool
	wake   chan struct{} // a push or close happened; capacity 1
}

func newBacklog() *backlog { return &backlog{wake: make(chan struct{}, 1)} }

// push appends a sent line.
func (b *backlog) push(l sentLine) {
	b.mu.Lock()
	b.items = append(b.items, l)
	b.mu.Unlock()
	b.poke()
}

// close says that no line will follow.
func (b *backlog) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.poke()
}

func (b *backlog) poke() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// next returns the oldest line not yet returned, waiting for one. It
// returns false once the backlog is closed and empty, or when ctx ends.
func (b *backlog) next(ctx context.Context) (sentLine, bool) {
	for {
		b.mu.Lock()
		if len(b.items) > 0 {
			l := b.items[0]
			b.items[0] = sentLine{}
			b.items = b.items[1:]
			b.mu.Unlock()
			return l, true
		}
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return sentLine{}, false
		}
		select {
		case <-b.wake:
		case <-ctx.Done():
			return sentLine{}, false
		}
	}
}
