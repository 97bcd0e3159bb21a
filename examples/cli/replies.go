package main

import (
	"context"
	"errors"
	"strings"

	"github.com/miptechnologies/miptech-go/client"
)

// This file holds the printer: it prints the replies in input order, the
// reply whose turn it is streamed on a terminal, and lets an interrupt
// cancel that reply.

// print prints the reply of each sent line, in input order, until the
// backlog is closed and drained or ctx ends. A reply that completes before
// an earlier one waits in its Message until its turn. The line whose turn
// it is can be cancelled (cancelTurn): its reply is then left.
func (s *session) print(ctx context.Context) {
	for {
		l, ok := s.backlog.next(ctx)
		if !ok {
			return
		}
		s.beginTurn(&l)
		var err error
		open := false // a reply line is open on the terminal
		if s.con.terminal {
			open, err = s.stream(l.ctx, l.msg)
		} else {
			var r client.Reply
			if r, err = l.msg.Wait(l.ctx); err == nil {
				s.con.reply(r.Text)
			}
		}
		cancelled := s.endTurn(open)
		l.cancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return
		case cancelled:
			s.con.line("cli: line %d: reply cancelled; type the next line, or Ctrl-C again to exit", l.n)
		case errors.Is(err, client.ErrFailed):
			// The connection failed for good: the state change that
			// follows reports it, and run ends the program.
			select {
			case <-s.failed:
			case <-ctx.Done():
			}
			return
		default:
			s.lineFailed(l.n, err)
		}
	}
}

// stream writes a reply chunk by chunk as it arrives (terminal mode). It
// reports whether a reply line is left open: endTurn ends it, so that the
// turn is over by the time the end of the line shows.
func (s *session) stream(ctx context.Context, m *client.Message) (open bool, err error) {
	shown := ""
	for c, err := range m.Chunks(ctx) {
		if err != nil {
			return open, err
		}
		text := c.Text
		whole := c.Replace || c.Done
		if c.Done {
			text = c.Reply.Text
		}
		if whole {
			// A Replace chunk, and the final value, carry the whole text:
			// it normally extends what was shown; a reply restarted or
			// recovered after a lost connection may carry other text, shown
			// again on a line of its own.
			rest, ok := strings.CutPrefix(text, shown)
			if !ok && open {
				s.con.endReply()
				open, rest, shown = false, text, ""
			}
			text = rest
		}
		if !open {
			s.con.beginReply()
			open = true
		}
		s.con.chunk(text)
		shown += text
	}
	return open, nil
}

// beginTurn records that l's reply is being printed.
func (s *session) beginTurn(l *sentLine) {
	s.turnMu.Lock()
	s.turn, s.turnCancelled = l, false
	s.turnMu.Unlock()
}

// endTurn records that the printing of the turn's reply ended, ends the
// reply's line when open is true, and reports whether the turn ended
// because the reply was cancelled. The line is ended in the same step, so
// that an interrupt that follows the end of the line finds no reply open.
func (s *session) endTurn(open bool) bool {
	s.turnMu.Lock()
	defer s.turnMu.Unlock()
	cancelled := s.turnCancelled
	s.turn, s.turnCancelled = nil, false
	if open {
		s.con.endReply()
	}
	return cancelled
}

// cancelTurn cancels the reply being printed: the printer stops waiting for
// it, and the message, if not written yet, is never sent. It reports false
// when no reply is being printed, or the one being printed was already
// cancelled.
func (s *session) cancelTurn() bool {
	s.turnMu.Lock()
	defer s.turnMu.Unlock()
	if s.turn == nil || s.turnCancelled {
		return false
	}
	s.turnCancelled = true
	s.turn.cancel()
	return true
}
