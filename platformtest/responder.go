package platformtest

import (
	"context"
	"sync/atomic"
	"time"
)

// Defaults of a ResponderSpec's failed replies.
const (
	// DefaultFailCode is the error code of a question failed by a
	// ResponderSpec.
	DefaultFailCode = "ai_service_error"
	// DefaultFailMessage is the error message of a question failed by a
	// ResponderSpec.
	DefaultFailMessage = "AI service unavailable (fault injected)"
)

// ResponderSpec describes a Responder by values, so that it can be set from
// flags or over the control API as well as from Go. The zero value answers
// like DefaultResponder.
type ResponderSpec struct {
	// Text is the full text of every reply. Empty means ReplyText of the
	// user's text ("Echo: …").
	Text string
	// Chunks is the number of response_chunk frames per reply, split at
	// word boundaries by SplitChunks. Zero means DefaultChunks.
	Chunks int
	// ChunkDelay is the pause before each chunk. Zero means none.
	ChunkDelay time.Duration
	// Delay is the pause before response_start: the model's latency. Zero
	// means none.
	Delay time.Duration
	// FailPercent is the share of questions, from 0 to 100, answered with an
	// error frame instead of a reply. The failures are spread evenly and
	// deterministically: question k (counted from 1 by this Responder)
	// fails when ⌊k·FailPercent/100⌋ > ⌊(k−1)·FailPercent/100⌋, so 100 fails
	// every question, 50 every second one, 25 every fourth.
	FailPercent float64
	// FailCode is the data.code of a failed question. Empty means
	// DefaultFailCode.
	FailCode string
	// FailMessage is the data.message of a failed question. Empty means
	// DefaultFailMessage.
	FailMessage string
	// FailRetryable is the data.retryable of a failed question.
	FailRetryable bool
}

// Responder returns a Responder that answers as the spec says. Each call
// returns a Responder with its own question count.
func (sp ResponderSpec) Responder() Responder {
	chunks := sp.Chunks
	if chunks <= 0 {
		chunks = DefaultChunks
	}
	pct := min(max(sp.FailPercent, 0), 100)
	code, msg := sp.FailCode, sp.FailMessage
	if code == "" {
		code = DefaultFailCode
	}
	if msg == "" {
		msg = DefaultFailMessage
	}
	var asked atomic.Int64
	return func(_ context.Context, req Request) Reply {
		k := float64(asked.Add(1))
		if int64(k*pct/100) > int64((k-1)*pct/100) {
			return Reply{Error: &ErrorReply{Code: code, Message: msg, Category: "server_error", Retryable: sp.FailRetryable}}
		}
		text := sp.Text
		if text == "" {
			text = ReplyText(req.Text)
		}
		return Reply{Chunks: SplitChunks(text, chunks), ChunkDelay: sp.ChunkDelay, Delay: sp.Delay}
	}
}
