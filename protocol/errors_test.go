package protocol

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// now is the fixed clock of the Retry-After date tests.
var now = time.Date(2025, 1, 2, 15, 4, 5, 0, time.UTC)

func httpDate(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

func TestParseAPIError(t *testing.T) {
	huge := strings.Repeat("x", 600<<10)
	tests := []struct {
		name   string
		status int
		header string
		body   string
		want   APIError // Status is filled from status
	}{
		{
			name:   "detail as a string is the message",
			status: 404, body: `{"detail":"Chat not found"}`,
			want: APIError{Message: "Chat not found"},
		},
		{
			name:   "detail as a list of loc and msg becomes field errors",
			status: 422,
			body:   `{"detail":[{"loc":["body","content"],"msg":"field required","type":"value_error.missing"},{"loc":["query",0],"msg":"not a number"}]}`,
			want: APIError{
				Message: "body.content: field required; query.0: not a number",
				Fields: []FieldError{
					{Loc: []string{"body", "content"}, Msg: "field required"},
					{Loc: []string{"query", "0"}, Msg: "not a number"},
				},
			},
		},
		{
			name:   "a field error without loc is its msg",
			status: 422, body: `{"detail":[{"msg":"body is empty"}]}`,
			want: APIError{Message: "body is empty", Fields: []FieldError{{Msg: "body is empty"}}},
		},
		{
			name:   "a field error with a single loc and a numeric msg is still read",
			status: 422, body: `{"detail":[{"loc":"content","msg":"too long"},{"loc":["body"],"msg":42}],"code":"VALIDATION"}`,
			want: APIError{
				Code:    "VALIDATION",
				Message: "content: too long; body: 42",
				Fields: []FieldError{
					{Loc: []string{"content"}, Msg: "too long"},
					{Loc: []string{"body"}, Msg: "42"},
				},
			},
		},
		{
			name:   "detail as an object with message",
			status: 400, body: `{"detail":{"message":"tenant suspended","code":"x"}}`,
			want: APIError{Message: "tenant suspended"},
		},
		{
			name:   "detail as an object with msg",
			status: 400, body: `{"detail":{"msg":"bad title"}}`,
			want: APIError{Message: "bad title"},
		},
		{
			name:   "detail of another shape is ignored for message",
			status: 400, body: `{"detail":42,"message":"fallback"}`,
			want: APIError{Message: "fallback"},
		},
		{
			name:   "code is read",
			status: 400, body: `{"code":"INVALID_TENANT","message":"unknown tenant"}`,
			want: APIError{Code: "INVALID_TENANT", Message: "unknown tenant"},
		},
		{
			name:   "error_code is read when code is absent",
			status: 400, body: `{"error_code":"MESSAGE_TOO_LONG","detail":"too long"}`,
			want: APIError{Code: "MESSAGE_TOO_LONG", Message: "too long"},
		},
		{
			name:   "code wins over error_code",
			status: 400, body: `{"code":"A","error_code":"B"}`,
			want: APIError{Code: "A"},
		},
		{
			name:   "a numeric code is kept as text",
			status: 400, body: `{"code":4003}`,
			want: APIError{Code: "4003"},
		},
		{
			name:   "type is the category",
			status: 400, body: `{"type":"validation_error","message":"bad"}`,
			want: APIError{Type: "validation_error", Message: "bad"},
		},
		{
			name:   "message is used without detail",
			status: 400, body: `{"message":"content must not be empty"}`,
			want: APIError{Message: "content must not be empty"},
		},
		{
			name:   "detail wins over message",
			status: 400, body: `{"detail":"from detail","message":"from message"}`,
			want: APIError{Message: "from detail"},
		},
		{
			name:   "error is used without detail or message",
			status: 400, body: `{"error":"bad request"}`,
			want: APIError{Message: "bad request"},
		},
		{
			name:   "retryable true overrides a 4xx status",
			status: 409, body: `{"detail":"busy","retryable":true}`,
			want: APIError{Message: "busy", Retryable: true},
		},
		{
			name:   "retryable false overrides a 5xx status",
			status: 500, body: `{"detail":"bad prompt","retryable":false}`,
			want: APIError{Message: "bad prompt"},
		},
		{
			name:   "retryable as a string is read",
			status: 400, body: `{"detail":"busy","retryable":"true"}`,
			want: APIError{Message: "busy", Retryable: true},
		},
		{
			name:   "retryable of another kind keeps the rest of the body",
			status: 503, body: `{"detail":"AI store initializing","code":"AI_INIT","retryable":"soon","retry_after":3}`,
			want: APIError{Code: "AI_INIT", Message: "AI store initializing", Retryable: true, RetryAfter: 3 * time.Second},
		},
		{
			name:   "retryable null falls back to the status",
			status: 400, body: `{"detail":"bad","retryable":null}`,
			want: APIError{Message: "bad"},
		},
		{
			name:   "5xx is retryable by default",
			status: 503, body: `{}`,
			want: APIError{Retryable: true},
		},
		{
			name:   "4xx is not retryable by default",
			status: 400, body: `{}`,
			want: APIError{},
		},
		{
			name:   "retry_after as a number of seconds",
			status: 503, body: `{"retry_after":12}`,
			want: APIError{Retryable: true, RetryAfter: 12 * time.Second},
		},
		{
			name:   "retry_after as a string of seconds",
			status: 503, body: `{"retry_after":"7.5"}`,
			want: APIError{Retryable: true, RetryAfter: 7500 * time.Millisecond},
		},
		{
			name:   "retry_after that is not a number is ignored",
			status: 503, body: `{"retry_after":"soon"}`,
			want: APIError{Retryable: true},
		},
		{
			name:   "negative retry_after is ignored",
			status: 503, body: `{"retry_after":-3}`,
			want: APIError{Retryable: true},
		},
		{
			name:   "retry_after is capped at one hour",
			status: 503, body: `{"retry_after":1e9}`,
			want: APIError{Retryable: true, RetryAfter: time.Hour},
		},
		{
			name:   "Retry-After header seconds win over retry_after",
			status: 429, header: "30", body: `{"retry_after":12}`,
			want: APIError{Retryable: true, RetryAfter: 30 * time.Second},
		},
		{
			name:   "Retry-After header as an HTTP date",
			status: 429, header: httpDate(now.Add(90 * time.Second)),
			want: APIError{Retryable: true, RetryAfter: 90 * time.Second},
		},
		{
			name:   "Retry-After header date in the past falls back to retry_after",
			status: 429, header: httpDate(now.Add(-time.Minute)), body: `{"retry_after":12}`,
			want: APIError{Retryable: true, RetryAfter: 12 * time.Second},
		},
		{
			name:   "malformed Retry-After header falls back to the 429 default",
			status: 429, header: "tomorrow",
			want: APIError{Retryable: true, RetryAfter: 5 * time.Second},
		},
		{
			name:   "429 without a hint waits 5s",
			status: 429, body: `{"detail":"Too many requests"}`,
			want: APIError{Message: "Too many requests", Retryable: true, RetryAfter: 5 * time.Second},
		},
		{
			name:   "429 with an empty body waits 5s",
			status: 429,
			want:   APIError{Retryable: true, RetryAfter: 5 * time.Second},
		},
		{
			name:   "401 is never retryable even if the body says so",
			status: 401, body: `{"detail":"Invalid API key","retryable":true}`,
			want: APIError{Message: "Invalid API key"},
		},
		{
			name:   "403 is never retryable even if the body says so",
			status: 403, body: `{"detail":"Tenant disabled","retryable":true}`,
			want: APIError{Message: "Tenant disabled"},
		},
		{
			name:   "a non-JSON body is the message, trimmed",
			status: 502, body: "  <html><body>Bad Gateway</body></html>\n",
			want: APIError{Message: "<html><body>Bad Gateway</body></html>", Retryable: true},
		},
		{
			name:   "a non-JSON 401 body is never retryable",
			status: 401, body: "Unauthorized",
			want: APIError{Message: "Unauthorized"},
		},
		{
			name:   "an empty body gives an empty message",
			status: 500,
			want:   APIError{Retryable: true},
		},
		{
			name:   "a huge non-JSON body is cut to 512 bytes",
			status: 500, body: huge,
			want: APIError{Message: huge[:512] + "…", Retryable: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			want.Status = tt.status
			got := ParseAPIError(tt.status, tt.header, []byte(tt.body), now)
			require.NotNil(t, got)
			assert.Equal(t, &want, got)
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
	}{
		{"empty is none", "", 0},
		{"integer seconds", "30", 30 * time.Second},
		{"spaces are trimmed", "  5 ", 5 * time.Second},
		{"decimal seconds", "1.5", 1500 * time.Millisecond},
		{"zero is none", "0", 0},
		{"negative is none", "-5", 0},
		{"not a number is none", "NaN", 0},
		{"seconds are capped at one hour", "86400", time.Hour},
		{"infinity is capped at one hour", "Inf", time.Hour},
		{"HTTP date in the future", httpDate(now.Add(2 * time.Minute)), 2 * time.Minute},
		{"HTTP date now is none", httpDate(now), 0},
		{"HTTP date in the past is none", httpDate(now.Add(-time.Hour)), 0},
		{"HTTP date beyond an hour is capped", httpDate(now.Add(48 * time.Hour)), time.Hour},
		{"RFC 850 date", now.Add(time.Minute).Format(time.RFC850), time.Minute},
		{"garbage is none", "in a while", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ParseRetryAfter(tt.in, now))
		})
	}
}

func TestAPIError_IsMatchesTheSentinelOfItsStatusClass(t *testing.T) {
	sentinels := []error{ErrValidation, ErrAuth, ErrNotFound, ErrRateLimited, ErrServer}
	tests := []struct {
		status int
		want   error // nil: matches none
	}{
		{400, ErrValidation},
		{422, ErrValidation},
		{401, ErrAuth},
		{403, ErrAuth},
		{404, ErrNotFound},
		{429, ErrRateLimited},
		{500, ErrServer},
		{502, ErrServer},
		{503, ErrServer},
		{409, nil},
		{418, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			err := fmt.Errorf("create chat: %w", ParseAPIError(tt.status, "", nil, now))
			for _, s := range sentinels {
				assert.Equal(t, s == tt.want, errors.Is(err, s), "errors.Is(%d, %v)", tt.status, s)
			}
			assert.False(t, errors.Is(err, errors.New("other")))

			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.Status)
		})
	}
}

func TestAPIError_ErrorSaysWhatToDo(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"401 says to check the credentials", 401, `{"detail":"Invalid API key"}`, []string{"HTTP 401", "Invalid API key", "check the tenant id and API key"}},
		{"403 says to check the credentials", 403, ``, []string{"HTTP 403", "check the tenant id and API key"}},
		{"429 says how long to wait", 429, `{"retry_after":12}`, []string{"HTTP 429", "retry after 12s"}},
		{"429 without a hint says 5s", 429, ``, []string{"retry after 5s"}},
		{"5xx says it is retryable", 503, `{"code":"AI_UNAVAILABLE","message":"AI store initializing"}`, []string{"HTTP 503 (AI_UNAVAILABLE): AI store initializing", "retryable"}},
		{"an empty 4xx still names the status", 400, ``, []string{"platform API: HTTP 400"}},
		{"a zero status is not empty", 0, ``, []string{"HTTP 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg := ParseAPIError(tt.status, "", []byte(tt.body), now).Error()
			require.NotEmpty(t, msg)
			for _, w := range tt.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}

func FuzzParseAPIError(f *testing.F) {
	seeds := []struct {
		status int
		header string
		body   string
	}{
		{422, "", `{"detail":[{"loc":["body","content"],"msg":"field required","type":"value_error.missing"}]}`},
		{422, "", `{"detail":[{"loc":["body",0,"role"],"msg":"unexpected value; permitted: 'user'","type":"value_error.const","ctx":{"given":"bot"}}]}`},
		{401, "", `{"detail":"Invalid or missing API key"}`},
		{403, "", `{"detail":{"message":"Tenant not active","code":"TENANT_INACTIVE"},"retryable":true}`},
		{404, "", `{"detail":"Chat 7f0c not found","type":"not_found"}`},
		{429, "17", `{"detail":"Rate limit exceeded","retry_after":30,"error_code":"RATE_LIMIT"}`},
		{429, "Thu, 02 Jan 2025 15:05:05 GMT", `{"message":"slow down","retry_after":"2.5"}`},
		{429, "", ``},
		{500, "", `{"error":"Internal Server Error","code":500,"retryable":false}`},
		{502, "", "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center></body></html>\r\n"},
		{503, "120", `{"type":"service_unavailable","message":"AI services loading","retryable":true}`},
		{400, "", `[1,2,3]`},
		{400, "", `null`},
		{400, "", `{"detail":`},
		{0, "-1", `{"retry_after":-1e308}`},
		{503, "", `{"detail":"AI store initializing","code":"AI_INIT","retryable":"yes","retry_after":"3"}`},
		{422, "", `{"detail":[{"loc":"content","msg":null},{"loc":[{"x":1}],"msg":{"m":1}}]}`},
		{599, "NaN", `{"retry_after":"Inf"}`},
	}
	for _, s := range seeds {
		f.Add(s.status, s.header, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, status int, header string, body []byte) {
		e := ParseAPIError(status, header, body, now)
		if e == nil {
			t.Fatal("nil error")
		}
		if e.Status != status {
			t.Fatalf("Status %d, want %d", e.Status, status)
		}
		if e.RetryAfter < 0 || e.RetryAfter > time.Hour {
			t.Fatalf("RetryAfter %v out of [0, 1h]", e.RetryAfter)
		}
		if status == http.StatusTooManyRequests && e.RetryAfter == 0 {
			t.Fatal("a 429 must name a wait")
		}
		if (status == http.StatusUnauthorized || status == http.StatusForbidden) && e.Retryable {
			t.Fatal("401 and 403 are never retryable")
		}
		if e.Error() == "" {
			t.Fatal("empty Error()")
		}
	})
}
