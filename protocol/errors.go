package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultRateLimitWait is the wait after a 429 that names none.
const DefaultRateLimitWait = 5 * time.Second

// Sentinel errors matched by [APIError.Is], by HTTP status class.
var (
	// ErrValidation matches 400 and 422 answers: fix the request.
	ErrValidation = errors.New("protocol: request rejected as invalid")
	// ErrAuth matches 401 and 403 answers: check the tenant id, API key or token.
	ErrAuth = errors.New("protocol: not authorized")
	// ErrNotFound matches 404 answers.
	ErrNotFound = errors.New("protocol: not found")
	// ErrRateLimited matches 429 answers: wait APIError.RetryAfter.
	ErrRateLimited = errors.New("protocol: rate limited")
	// ErrServer matches 5xx answers: the platform failed; retry later.
	ErrServer = errors.New("protocol: platform error")
)

// FieldError is one entry of a validation error list ({"loc", "msg"}).
type FieldError struct {
	// Loc is where the error is, outermost first (for example "body",
	// "content"); list indexes are rendered in decimal.
	Loc []string
	// Msg says what is wrong.
	Msg string
}

// APIError is an error answer of the platform's REST API.
type APIError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the platform's error code ("code" or "error_code"), if any.
	Code string
	// Type is the platform's error category ("type"), if any.
	Type string
	// Message is the human-readable message ("detail" as a string, or
	// "message"), or the joined field errors.
	Message string
	// Fields holds the entries of a list-shaped "detail".
	Fields []FieldError
	// Retryable reports whether the same request may succeed later. The
	// body's "retryable" wins when given; else 429 and 5xx are retryable. 401
	// and 403 never are.
	Retryable bool
	// RetryAfter is how long to wait before retrying: the Retry-After header,
	// else the body's retry_after, else 5 s for a 429, else 0.
	RetryAfter time.Duration
}

// Error describes the failure and what to do about it.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "platform API: HTTP %d", e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		b.WriteString("; check the tenant id and API key")
	case e.Status == http.StatusTooManyRequests:
		fmt.Fprintf(&b, "; retry after %s", e.RetryAfter)
	case e.Retryable:
		b.WriteString("; retryable")
	}
	return b.String()
}

// Is matches the sentinel of the error's status class (ErrValidation,
// ErrAuth, ErrNotFound, ErrRateLimited, ErrServer).
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrValidation:
		return e.Status == http.StatusBadRequest || e.Status == http.StatusUnprocessableEntity
	case ErrAuth:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrRateLimited:
		return e.Status == http.StatusTooManyRequests
	case ErrServer:
		return e.Status >= 500
	}
	return false
}

// ParseAPIError builds an APIError from an error answer: its status, its
// Retry-After header value (seconds or an HTTP date, "" if absent), its body
// and the current time (to turn a date into a wait). Any body is accepted: a
// body that is not the platform's JSON shape becomes the message, cut to 512
// bytes.
func ParseAPIError(status int, retryAfterHeader string, body []byte, now time.Time) *APIError {
	e := &APIError{Status: status}
	var raw struct {
		Detail     json.RawMessage `json:"detail"`
		Type       json.RawMessage `json:"type"`
		Code       json.RawMessage `json:"code"`
		ErrorCode  json.RawMessage `json:"error_code"`
		Message    json.RawMessage `json:"message"`
		Error      json.RawMessage `json:"error"`
		Retryable  json.RawMessage `json:"retryable"`
		RetryAfter json.RawMessage `json:"retry_after"`
	}
	var bodyRetry time.Duration
	if err := json.Unmarshal(body, &raw); err == nil {
		e.Type = idString(raw.Type)
		e.Code = idString(raw.Code)
		if e.Code == "" {
			e.Code = idString(raw.ErrorCode)
		}
		e.Message, e.Fields = parseDetail(raw.Detail)
		if e.Message == "" {
			e.Message = idString(raw.Message)
		}
		if e.Message == "" {
			e.Message = idString(raw.Error)
		}
		if b, ok := boolValue(raw.Retryable); ok {
			e.Retryable = b
		} else {
			e.Retryable = status == http.StatusTooManyRequests || status >= 500
		}
		bodyRetry = seconds(raw.RetryAfter)
	} else {
		e.Message = strings.TrimSpace(string(body))
		e.Retryable = status == http.StatusTooManyRequests || status >= 500
	}
	e.Message = truncate(e.Message, maxMessageBytes)
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		e.Retryable = false
	}
	e.RetryAfter = ParseRetryAfter(retryAfterHeader, now)
	if e.RetryAfter == 0 {
		e.RetryAfter = bodyRetry
	}
	if e.RetryAfter == 0 && status == http.StatusTooManyRequests {
		e.RetryAfter = DefaultRateLimitWait
	}
	return e
}

// ParseRetryAfter reads a Retry-After header value: delay seconds (integer or
// decimal) or an HTTP date. It returns 0 when v is empty, malformed, negative
// or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return secondsToDuration(f)
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// parseDetail reads "detail" as a string, a list of {loc, msg}, or an object
// with a message.
func parseDetail(raw json.RawMessage) (string, []FieldError) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var list []struct {
		Loc json.RawMessage `json:"loc"`
		Msg json.RawMessage `json:"msg"`
	}
	if json.Unmarshal(raw, &list) == nil {
		fields := make([]FieldError, 0, len(list))
		msgs := make([]string, 0, len(list))
		for _, item := range list {
			fe := FieldError{Msg: idString(item.Msg), Loc: locPath(item.Loc)}
			fields = append(fields, fe)
			if len(fe.Loc) > 0 {
				msgs = append(msgs, strings.Join(fe.Loc, ".")+": "+fe.Msg)
			} else {
				msgs = append(msgs, fe.Msg)
			}
		}
		return strings.Join(msgs, "; "), fields
	}
	var obj struct {
		Message json.RawMessage `json:"message"`
		Msg     json.RawMessage `json:"msg"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		if m := idString(obj.Message); m != "" {
			return m, nil
		}
		return idString(obj.Msg), nil
	}
	return "", nil
}

// locPath reads the "loc" of a field error: a list of names and indexes, or
// a single name or index. Other kinds give nil.
func locPath(raw json.RawMessage) []string {
	var parts []json.RawMessage
	if json.Unmarshal(raw, &parts) != nil {
		if s := idString(raw); s != "" {
			return []string{s}
		}
		return nil
	}
	var loc []string
	for _, p := range parts {
		loc = append(loc, idString(p))
	}
	return loc
}

// boolValue reads a JSON true or false, or a string strconv.ParseBool
// accepts ("true", "false", "1", "0", ...); ok is false for anything else.
func boolValue(raw json.RawMessage) (value, ok bool) {
	var b bool
	if json.Unmarshal(raw, &b) == nil && len(raw) > 0 && raw[0] != 'n' {
		return b, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
			return b, true
		}
	}
	return false, false
}

// seconds reads a JSON number or numeric string of seconds.
func seconds(raw json.RawMessage) time.Duration {
	s := idString(raw)
	if s == "" {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0
	}
	return secondsToDuration(f)
}

// maxMessageBytes bounds APIError.Message, so that a huge error body cannot
// flood logs.
const maxMessageBytes = 512

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// maxRetryAfter bounds a server-given wait, so that a hostile or broken value
// cannot park a client for years.
const maxRetryAfter = time.Hour

func secondsToDuration(f float64) time.Duration {
	if f <= 0 || f != f {
		return 0
	}
	if f > maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(f * float64(time.Second))
}
