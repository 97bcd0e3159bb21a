package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miptechnologies/miptech-go/normalize"
	"github.com/miptechnologies/miptech-go/protocol"
)

// Redacted replaces a credential in every string the platform sends that
// reaches an error, an event or a log line.
const Redacted = "[REDACTED]"

// MaxRememberedTokens is the number of distinct bearer tokens a Client
// remembers for redaction: the API key and the last MaxRememberedTokens
// distinct values its TokenSource returned are redacted; an older token is
// no longer looked for.
const MaxRememberedTokens = 16

// redactor is the one place where the client's credentials are taken out
// of the strings that come from the platform (REST error bodies, error
// frames, close reasons, redirect targets) and out of every log attribute.
// It knows the API key and the tokens the TokenSource returned; each secret
// is looked for as is and in its JSON-, query- and path-escaped forms. A nil
// *redactor redacts nothing. It is safe for concurrent use.
type redactor struct {
	key string

	mu     sync.Mutex
	tokens []string // distinct tokens, oldest first, at most MaxRememberedTokens

	forms atomic.Pointer[[]string] // every form of every secret, longest first
	last  atomic.Pointer[string]   // the latest token, for a cheap repeat check
}

func newRedactor(apiKey string) *redactor {
	r := &redactor{key: apiKey}
	r.rebuild()
	return r
}

// rebuild recomputes the forms to look for. Called with r.mu held, or
// before r is shared.
func (r *redactor) rebuild() {
	var forms []string
	add := func(s string) {
		if s != "" && !slices.Contains(forms, s) {
			forms = append(forms, s)
		}
	}
	for _, s := range append([]string{r.key}, r.tokens...) {
		if s == "" {
			continue
		}
		add(s)
		if b, err := json.Marshal(s); err == nil {
			add(string(b[1 : len(b)-1]))
		}
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
	}
	// Longest first: a token that contains the key is replaced whole.
	slices.SortStableFunc(forms, func(a, b string) int { return len(b) - len(a) })
	r.forms.Store(&forms)
}

// noteToken remembers a token the TokenSource returned.
func (r *redactor) noteToken(tok string) {
	if r == nil || tok == "" {
		return
	}
	if last := r.last.Load(); last != nil && *last == tok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if i := slices.Index(r.tokens, tok); i >= 0 {
		r.tokens = slices.Delete(r.tokens, i, i+1)
	}
	r.tokens = append(r.tokens, tok)
	if n := len(r.tokens) - MaxRememberedTokens; n > 0 {
		r.tokens = slices.Delete(r.tokens, 0, n)
	}
	r.last.Store(&tok)
	r.rebuild()
}

// tokenSource wraps ts so that every token it returns is remembered for
// redaction before it is used.
func (r *redactor) tokenSource(ts TokenSource) TokenSource {
	if ts == nil {
		return nil
	}
	return func(ctx context.Context) (string, error) {
		tok, err := ts(ctx)
		r.noteToken(tok)
		return tok, err
	}
}

func (r *redactor) secrets() []string {
	if r == nil {
		return nil
	}
	if p := r.forms.Load(); p != nil {
		return *p
	}
	return nil
}

// string returns s with every secret replaced by Redacted.
func (r *redactor) string(s string) string {
	for _, f := range r.secrets() {
		if strings.Contains(s, f) {
			s = strings.ReplaceAll(s, f, Redacted)
		}
	}
	return s
}

// bytes returns b with every secret replaced by Redacted; b itself is not
// changed.
func (r *redactor) bytes(b []byte) []byte {
	for _, f := range r.secrets() {
		if bytes.Contains(b, []byte(f)) {
			b = bytes.ReplaceAll(b, []byte(f), []byte(Redacted))
		}
	}
	return b
}

// has reports whether s holds a secret.
func (r *redactor) has(s string) bool {
	for _, f := range r.secrets() {
		if strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// cutTail removes a secret's start left at the end of s by a truncation (at
// least 4 bytes of it), so that a cut never leaves a secret's prefix.
func (r *redactor) cutTail(s string) string {
	for _, f := range r.secrets() {
		for n := min(len(f)-1, len(s)); n >= 4; n-- {
			if strings.HasSuffix(s, f[:n]) {
				return s[:len(s)-n] + Redacted
			}
		}
	}
	return s
}

// apiError redacts the platform-given strings of a REST error in place.
func (r *redactor) apiError(e *protocol.APIError) *protocol.APIError {
	if len(r.secrets()) == 0 {
		return e
	}
	e.Code, e.Type, e.Message = r.string(e.Code), r.string(e.Type), r.string(e.Message)
	for i := range e.Fields {
		e.Fields[i].Msg = r.string(e.Fields[i].Msg)
		for j := range e.Fields[i].Loc {
			e.Fields[i].Loc[j] = r.string(e.Fields[i].Loc[j])
		}
	}
	return e
}

// event redacts the platform's prose in an inbound event: the text, code,
// category and raw data of error, rate_limit_exceeded and
// initialization_progress frames, which become errors and events. Types,
// ids and dedup keys are left as they are (the SDK routes by them), and so
// is every other frame: reply and message text is the conversation,
// delivered as sent. Log lines are redacted whole by redactHandler. Strings
// are replaced, never changed in place.
func (r *redactor) event(ev normalize.Event) normalize.Event {
	switch ev.Type {
	case protocol.TypeError, protocol.TypeRateLimitExceeded, protocol.TypeInitializationProgress:
	default:
		return ev
	}
	if len(r.secrets()) == 0 {
		return ev
	}
	ev.Text, ev.Code, ev.Category = r.string(ev.Text), r.string(ev.Code), r.string(ev.Category)
	ev.Data = r.json(ev.Data)
	return ev
}

// json redacts the strings (keys and values) of a raw JSON value. Raw bytes
// without a secret are returned as they are; raw bytes that are not JSON are
// redacted as bytes.
func (r *redactor) json(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || !r.has(string(raw)) {
		return raw
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return r.bytes(raw)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.value(v)); err != nil {
		return r.bytes(raw)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func (r *redactor) value(v any) any {
	switch x := v.(type) {
	case string:
		return r.string(x)
	case []any:
		for i := range x {
			x[i] = r.value(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.string(k)] = r.value(e)
		}
		return out
	}
	return v
}

// errorText returns err's text with the secrets redacted, for a log line. A
// frame snippet cut in the middle of a secret loses the secret's start too.
func (r *redactor) errorText(err error) string {
	var de *normalize.DecodeError
	if errors.As(err, &de) && len(r.secrets()) > 0 {
		cut := &normalize.DecodeError{Err: de.Err, Snippet: r.cutTail(r.string(de.Snippet))}
		return r.string(strings.Replace(err.Error(), de.Error(), cut.Error(), 1))
	}
	return r.string(err.Error())
}

// Log attributes.

// logURL is a URL as a log attribute: scheme, host and path, never the user
// info, query or fragment, with the secrets redacted. Use it for every URL
// that is logged.
type logURL struct {
	s string
	r *redactor
}

// LogValue renders the URL.
func (u logURL) LogValue() slog.Value {
	p, err := url.Parse(u.s)
	if err != nil {
		return slog.StringValue("[unparsable URL]")
	}
	return slog.StringValue(u.r.string(originAndPath(p)))
}

// originAndPath renders scheme://host/path of u, without its user info,
// query and fragment.
func originAndPath(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return v.String()
}

// credentialHeaders are the headers that carry a credential: logged as
// Redacted whatever their value.
var credentialHeaders = map[string]bool{
	http.CanonicalHeaderKey(protocol.HeaderAPIKey): true,
	"Authorization":          true,
	"Proxy-Authorization":    true,
	"Cookie":                 true,
	"Set-Cookie":             true,
	"Sec-Websocket-Protocol": true, // carries the bearer token on the handshake
}

// logHeader is an HTTP header as a log attribute: a group of its fields, in
// name order, with the credential headers shown as Redacted and the secrets
// redacted from the others. Use it for every header that is logged.
type logHeader struct {
	h http.Header
	r *redactor
}

// LogValue renders the header.
func (h logHeader) LogValue() slog.Value {
	names := make([]string, 0, len(h.h))
	for k := range h.h {
		names = append(names, k)
	}
	slices.Sort(names)
	attrs := make([]slog.Attr, 0, len(names))
	for _, k := range names {
		v := Redacted
		if !credentialHeaders[http.CanonicalHeaderKey(k)] {
			v = h.r.string(strings.Join(h.h[k], ", "))
		}
		attrs = append(attrs, slog.String(k, v))
	}
	return slog.GroupValue(attrs...)
}

// redactHandler is the slog.Handler of the client's logger: it redacts the
// secrets from the message and from every attribute (resolved, in groups,
// errors and other values by their text) before the user's handler sees
// them, so that no log line of the SDK can carry a credential, whoever
// wrote the call.
type redactHandler struct {
	inner slog.Handler
	r     *redactor
}

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h redactHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.string(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.r.attr(a))
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		red[i] = h.r.attr(a)
	}
	return redactHandler{h.inner.WithAttrs(red), h.r}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	return redactHandler{h.inner.WithGroup(h.r.string(name)), h.r}
}

// attr redacts one log attribute.
func (r *redactor) attr(a slog.Attr) slog.Attr {
	a.Key = r.string(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(r.string(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]slog.Attr, len(g))
		for i, x := range g {
			red[i] = r.attr(x)
		}
		a.Value = slog.GroupValue(red...)
	case slog.KindAny:
		a.Value = v
		if len(r.secrets()) == 0 {
			break
		}
		switch x := v.Any().(type) {
		case error:
			if s := r.errorText(x); s != x.Error() {
				a.Value = slog.StringValue(s)
			}
		default:
			if s := fmt.Sprintf("%+v", x); r.has(s) {
				a.Value = slog.StringValue(r.string(s))
			}
		}
	default:
		a.Value = v
	}
	return a
}

// quoteID renders an id for a message, quoted, cut to 64 bytes.
func quoteID(id string) string {
	if len(id) > 64 {
		id = id[:64]
	}
	return strconv.Quote(id)
}
