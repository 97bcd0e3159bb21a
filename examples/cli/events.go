package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/miptechnologies/miptech-go/client"
)

// This file holds the session's reactions to events: the client's
// callbacks (run on its dispatcher goroutine) and the reports of failed
// lines.

// onState reports every state change on standard error and ends the
// program when the connection failed for good.
func (s *session) onState(sc client.StateChange) {
	switch sc.Current {
	case client.StateDisconnected:
		// Only Close leads here, at exit.
	case client.StateConnecting:
		if sc.Reason != nil { // a failed attempt before the first ready
			s.con.line("state: connecting again in %s (attempt %d): %v", sc.RetryIn.Round(time.Millisecond), sc.Attempt, sc.Reason)
		} else if sc.Attempt > 1 {
			s.con.line("state: connecting (attempt %d)", sc.Attempt)
		} else {
			s.con.line("state: connecting")
		}
	case client.StateReconnecting:
		s.con.line("state: reconnecting in %s (attempt %d): %v", sc.RetryIn.Round(time.Millisecond), sc.Attempt, sc.Reason)
	case client.StateFailed:
		s.con.line("state: failed")
		s.fail(sc.Reason)
	default:
		s.con.line("state: %s", sc.Current)
	}
}

// onComplete reports a late reply, one that completed after its line timed
// out, on standard error: it never reaches standard output.
func (s *session) onComplete(e client.CompleteEvent) {
	if !e.Reply.Late {
		return
	}
	s.lineMu.Lock()
	n, ok := s.lineOf[e.Reply.ClientMessageID]
	s.lineMu.Unlock()
	where := "an earlier line"
	if ok {
		where = fmt.Sprintf("line %d", n)
	}
	s.con.line("late: %s: %s%s", where, replyPrefix, escape(e.Reply.Text))
}

// onChatError reports the platform's rate limits and protocol errors,
// which belong to no line; a line's own errors are reported by print.
func (s *session) onChatError(e client.ErrorEvent) {
	switch e.Kind {
	case client.ErrorRateLimit, client.ErrorProtocol:
		s.con.line("cli: %s: %v", e.Kind, e.Err)
	}
}

// lineFailed reports a line that will get no reply and counts it.
func (s *session) lineFailed(n int, err error) {
	msg := err.Error()
	switch {
	case errors.Is(err, client.ErrResponseTimeout):
		msg = fmt.Sprintf("no reply within %s (-reply-timeout); a late reply goes to standard error", s.set.replyTimeout)
	case errors.Is(err, client.ErrQueueFull):
		msg = fmt.Sprintf("not sent: %d lines already wait for the connection (-queue-size)", s.set.queueSize)
	}
	s.con.errorf("line %d: %s", n, msg)
	s.count()
}

// count counts a failed line.
func (s *session) count() {
	s.lineMu.Lock()
	s.failures++
	s.lineMu.Unlock()
}

// fail records that the connection failed for good; run then exits.
func (s *session) fail(err error) {
	s.failOnce.Do(func() {
		s.failErr = err
		close(s.failed)
	})
}

// connectionFailed reports the connection failure; it returns exit code 1.
func (s *session) connectionFailed() int {
	// The SDK's error is one line that already says what failed, after
	// how many attempts, and what to do.
	s.con.errorf("%v", s.failErr)
	return exitFailure
}

// interrupted reports an interrupt; it returns exit code 130.
func (s *session) interrupted() int {
	s.con.line("cli: interrupted")
	return exitInterrupted
}
