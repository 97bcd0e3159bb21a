package main

import (
	"context"
	"os"
	"time"
)

// doubleInterrupt is the time within which a second interrupt after one
// that cancelled a reply ends the program, even while another reply is
// being printed.
const doubleInterrupt = time.Second

// watchInterrupts handles the interrupts (SIGINT, Ctrl-C) until ctx ends.
// On a terminal, an interrupt while a reply is being printed cancels that
// reply and the session goes on; any other interrupt, and one that comes
// within doubleInterrupt of a cancelling one, ends the program by calling
// quit (exit 130). When standard output is not a terminal every interrupt
// ends the program: the one line per reply on standard output stays whole.
func (s *session) watchInterrupts(ctx context.Context, interrupts <-chan os.Signal, quit context.CancelFunc) {
	var last time.Time // when an interrupt last cancelled a reply
	for {
		select {
		case <-ctx.Done():
			return
		case <-interrupts:
		}
		now := time.Now()
		if s.con.terminal && (last.IsZero() || now.Sub(last) >= doubleInterrupt) && s.cancelTurn() {
			last = now
			continue
		}
		quit()
		return
	}
}
