package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/miptechnologies/miptech-go/client"
)

// status is the outcome of a step.
type status string

const (
	statusOK   status = "ok"
	statusFail status = "fail"
	statusSkip status = "skip"
)

// result is one step's outcome, as printed: one text line (two on failure)
// or one JSON object.
type result struct {
	// Step names the step: dns, tcp, tls, healthz, session, handshake,
	// greeting, join, round_trip.
	Step string `json:"step"`
	// Status is ok, fail or skip.
	Status status `json:"status"`
	// MS is how long the step took, in milliseconds (0 when skipped).
	MS float64 `json:"ms"`
	// Detail says what was seen, or why the step was skipped.
	Detail string `json:"detail"`
	// Cause and Fix say, on failure, the likely cause and what to do.
	Cause string `json:"cause,omitempty"`
	Fix   string `json:"fix,omitempty"`
	// Timings holds the step's own measures in milliseconds: ready for
	// the greeting; connect for the join; ack, first_chunk and complete
	// for the round trip.
	Timings map[string]float64 `json:"timings_ms,omitempty"`
}

// outcome is what a step's function returns; the runner adds the name and
// the time.
type outcome struct {
	status             status
	detail, cause, fix string
	timings            map[string]float64
}

func ok(format string, args ...any) outcome {
	return outcome{status: statusOK, detail: fmt.Sprintf(format, args...)}
}

func skip(format string, args ...any) outcome {
	return outcome{status: statusSkip, detail: fmt.Sprintf(format, args...)}
}

// fail is a failure: what was seen, the likely cause, and the fix.
func fail(detail, cause, fix string) outcome {
	return outcome{status: statusFail, detail: detail, cause: cause, fix: fix}
}

func ms(d time.Duration) float64 {
	return float64(d.Round(10*time.Microsecond)) / float64(time.Millisecond)
}

// secrets holds the credentials that must never be printed: the API key and
// the session token once issued. It is safe for concurrent use.
type secrets struct {
	mu   sync.Mutex
	list []string
}

// add remembers a secret, with its JSON- and URL-escaped forms.
func (s *secrets) add(v string) {
	if v == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	forms := []string{v, url.QueryEscape(v), url.PathEscape(v)}
	if b, err := json.Marshal(v); err == nil {
		forms = append(forms, string(b[1:len(b)-1]))
	}
	for _, f := range forms {
		if !slices.Contains(s.list, f) {
			s.list = append(s.list, f)
		}
	}
	// Longest first: a secret that contains another is replaced whole.
	slices.SortStableFunc(s.list, func(a, b string) int { return len(b) - len(a) })
}

// redact returns text with every secret replaced by client.Redacted.
func (s *secrets) redact(text string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.list {
		text = strings.ReplaceAll(text, v, client.Redacted)
	}
	return text
}

// printer writes the results as text or as JSON Lines. Every string
// written passes through the redaction of secrets.
type printer struct {
	w       io.Writer
	json    bool
	secrets *secrets
}

// note prints a line of context before the steps (text output only).
func (p *printer) note(format string, args ...any) {
	if !p.json {
		fmt.Fprintln(p.w, p.secrets.redact(fmt.Sprintf(format, args...)))
	}
}

// print writes one result.
func (p *printer) print(r result) {
	// Redact before cutting, so that a cut never leaves part of a secret.
	r.Detail = oneLine(p.secrets.redact(r.Detail))
	r.Cause, r.Fix = oneLine(p.secrets.redact(r.Cause)), oneLine(p.secrets.redact(r.Fix))
	if p.json {
		b, err := json.Marshal(r)
		if err != nil { // a result of strings and numbers always encodes
			panic(err)
		}
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	mark, took := "✓", fmt.Sprintf("%9s", formatMS(r.MS))
	switch r.Status {
	case statusFail:
		mark = "✗"
	case statusSkip:
		mark, took = "–", fmt.Sprintf("%9s", "")
	}
	fmt.Fprintf(p.w, "%s %-10s %s  %s\n", mark, strings.ReplaceAll(r.Step, "_", " "), took, r.Detail)
	if r.Status == statusFail {
		fmt.Fprintf(p.w, "  %-10s %9s  cause: %s; fix: %s\n", "", "", r.Cause, r.Fix)
	}
}

// formatMS renders a step's time for the text output.
func formatMS(v float64) string {
	switch {
	case v < 10:
		return fmt.Sprintf("%.2fms", v)
	case v < 1000:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.2fs", v/1000)
}

// maxText bounds each printed text, in bytes.
const maxText = 300

// oneLine flattens text to one line and bounds it to maxText bytes, cut at
// a character boundary.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= maxText {
		return s
	}
	cut := maxText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
