package platformtest

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Reply metadata sent in response_complete and chat_response.
const (
	// Model is the llm_model of every reply.
	Model = "fake-llm-1"
	// CostPerToken is the cost_estimate of one token, in US dollars.
	CostPerToken = 0.000002
)

// DefaultChunks is the number of chunks DefaultResponder splits a reply into
// (fewer when the reply has fewer words).
const DefaultChunks = 3

// Request is a user message handed to a Responder.
type Request struct {
	// TenantID is the tenant of the chat.
	TenantID string
	// ChatID is the chat the message was sent to.
	ChatID string
	// ClientMessageID is the client's id of the message ("" when the
	// client sent none, or for a REST message without
	// metadata.client_message_id).
	ClientMessageID string
	// MessageID is the id the server assigned to the user message, as sent
	// in message_received and stored in history.
	MessageID string
	// Text is the user's text.
	Text string
}

// Reply is what a Responder answers to a Request.
type Reply struct {
	// Chunks is the reply text in pieces, one response_chunk each; the full
	// text is their concatenation.
	Chunks []string
	// ChunkDelay is the pause before each chunk (unused in
	// ShapeChatResponse, which sends no chunks).
	ChunkDelay time.Duration
	// Delay is the pause before response_start (before chat_response in
	// ShapeChatResponse).
	Delay time.Duration
	// Error, when set, makes the server send an error frame instead of a
	// reply.
	Error *ErrorReply
	// Withhold makes the server send nothing after processing: the message
	// is acknowledged and never answered (for processing-timeout tests).
	Withhold bool
}

// ErrorReply is an error frame sent in place of a reply.
type ErrorReply struct {
	// Code is data.code, for example "ai_service_error".
	Code string
	// Message is data.message.
	Message string
	// Category is data.type, for example "server_error".
	Category string
	// RetryAfter, when positive, is sent as data.retry_after in seconds.
	RetryAfter time.Duration
	// Retryable is sent as data.retryable: whether asking again may
	// succeed.
	Retryable bool
}

// Responder produces the reply to a user message. It runs on the chat's
// reply worker: the messages of one chat are answered one at a time, in the
// order they arrived; different chats are answered concurrently. ctx is
// cancelled when the server closes; a Responder that blocks must return
// when it is.
type Responder func(ctx context.Context, req Request) Reply

// ReplyText returns the exact full text DefaultResponder answers to
// userText: "Echo: " followed by the user text.
func ReplyText(userText string) string { return "Echo: " + userText }

// DefaultResponder answers ReplyText(req.Text) in DefaultChunks (3) chunks
// split at word boundaries by SplitChunks, with no delays. For "hello there
// world" it sends "Echo: hello ", "there ", "world".
func DefaultResponder(_ context.Context, req Request) Reply {
	return Reply{Chunks: SplitChunks(ReplyText(req.Text), DefaultChunks)}
}

// ChunkedResponder returns a Responder that answers ReplyText(req.Text)
// split into n chunks by SplitChunks, pausing chunkDelay before each chunk.
// n below 1 means 1.
func ChunkedResponder(n int, chunkDelay time.Duration) Responder {
	return func(_ context.Context, req Request) Reply {
		return Reply{Chunks: SplitChunks(ReplyText(req.Text), n), ChunkDelay: chunkDelay}
	}
}

// SplitChunks splits text into at most n pieces at word boundaries, whose
// concatenation is text. Each word keeps the white space that follows it;
// leading white space stays with the first word. The words are spread as
// evenly as possible, the earlier pieces taking one more word when they do
// not divide evenly. A text with fewer than n words gives one piece per
// word; an empty text gives no piece. n below 1 means 1.
func SplitChunks(text string, n int) []string {
	if n < 1 {
		n = 1
	}
	words := splitWords(text)
	if len(words) == 0 {
		return nil
	}
	if len(words) < n {
		n = len(words)
	}
	out := make([]string, 0, n)
	per, extra := len(words)/n, len(words)%n
	i := 0
	for k := range n {
		size := per
		if k < extra {
			size++
		}
		out = append(out, strings.Join(words[i:i+size], ""))
		i += size
	}
	return out
}

// splitWords cuts text after every run of white space that follows a word.
func splitWords(text string) []string {
	var words []string
	start, inSpace, seenWord := 0, false, false
	for i, r := range text {
		space := unicode.IsSpace(r)
		if !space && inSpace && seenWord {
			words = append(words, text[start:i])
			start = i
		}
		if !space {
			seenWord = true
		}
		inSpace = space
	}
	if start < len(text) {
		words = append(words, text[start:])
	}
	return words
}

// job is a user message waiting for its reply.
type job struct {
	req      Request
	received time.Time
	proto    Protocol // the form of the connection or request it came on
}

// worker answers the messages of one chat in order.
type worker struct {
	jobs    []job
	running bool
}

// submit queues a message for its chat's worker, starting the worker when
// it is idle. A closed server drops the message.
func (s *Server) submit(j job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	k := chatKey{j.req.TenantID, j.req.ChatID}
	w := s.workers[k]
	if w == nil {
		w = &worker{}
		s.workers[k] = w
	}
	w.jobs = append(w.jobs, j)
	if !w.running {
		w.running = true
		s.goLocked(func() { s.runWorker(k, w) })
	}
}

// runWorker answers the chat's messages until none is left.
func (s *Server) runWorker(k chatKey, w *worker) {
	for {
		s.mu.Lock()
		if len(w.jobs) == 0 || s.ctx.Err() != nil {
			w.running = false
			delete(s.workers, k)
			s.mu.Unlock()
			return
		}
		j := w.jobs[0]
		w.jobs = w.jobs[1:]
		s.mu.Unlock()
		if j.proto == ProtocolTenantApp {
			s.answerTenantApp(j)
			continue
		}
		s.answer(j)
	}
}

// answer produces the reply to one user message over the sockets joined to
// its chat, and stores it in history.
func (s *Server) answer(j job) {
	ctx := s.ctx
	req := j.req
	userIDs := map[string]any{
		"message_id":        req.MessageID,
		"chat_id":           req.ChatID,
		"client_message_id": req.ClientMessageID,
	}
	s.broadcast(req.TenantID, req.ChatID, nil, event{typ: protocol.TypeProcessing, data: userIDs})
	reply := s.callResponder(ctx, req)
	if ctx.Err() != nil || reply.Withhold {
		return
	}
	if e := reply.Error; e != nil {
		d := map[string]any{
			"code":              e.Code,
			"message":           e.Message,
			"type":              e.Category,
			"message_id":        req.MessageID,
			"chat_id":           req.ChatID,
			"client_message_id": req.ClientMessageID,
			"retryable":         e.Retryable,
		}
		if e.RetryAfter > 0 {
			d["retry_after"] = seconds(e.RetryAfter)
		}
		s.broadcast(req.TenantID, req.ChatID, nil, event{typ: protocol.TypeError, data: d})
		return
	}
	if !sleep(ctx, reply.Delay) {
		return
	}
	full := strings.Join(reply.Chunks, "")
	replyID := uuid.NewString()
	ids := func() map[string]any {
		return map[string]any{
			"message_id":        replyID,
			"chat_id":           req.ChatID,
			"client_message_id": req.ClientMessageID,
			"user_message_id":   req.MessageID,
			"reply_to":          req.MessageID,
		}
	}
	s.mu.Lock()
	shape := s.shape
	s.mu.Unlock()

	if shape != ShapeChatResponse {
		s.broadcast(req.TenantID, req.ChatID, nil, event{typ: protocol.TypeResponseStart, data: ids()})
		for i, chunk := range reply.Chunks {
			if !sleep(ctx, reply.ChunkDelay) {
				return
			}
			d := ids()
			d["content"] = chunk
			d["chunk_index"] = i
			s.broadcast(req.TenantID, req.ChatID, nil, event{typ: protocol.TypeResponseChunk, data: d})
		}
	}

	d := ids()
	prompt, completion := len(strings.Fields(req.Text)), len(strings.Fields(full))
	d["llm_model"] = Model
	d["prompt_tokens"] = prompt
	d["completion_tokens"] = completion
	d["total_tokens"] = prompt + completion
	d["response_time_ms"] = time.Since(j.received).Milliseconds()
	d["cost_estimate"] = float64(prompt+completion) * CostPerToken
	d["sources"] = []any{}

	now := time.Now()
	s.mu.Lock()
	s.store.add(req.TenantID, req.ChatID, historyMessage(replyID, protocol.RoleAssistant, full, now, map[string]any{
		"llm_model":       Model,
		"user_message_id": req.MessageID,
	}), now)
	s.bumpLocked()
	s.mu.Unlock()

	typ := protocol.TypeResponseComplete
	switch shape {
	case ShapeFlat:
		d["content"] = full
	case ShapeNested:
		delete(d, "message_id")
		d["message"] = map[string]any{"id": replyID, "content": full, "role": protocol.RoleAssistant}
	case ShapeFullText:
		d["full_text"] = full
	case ShapeChunksOnly:
	case ShapeChatResponse:
		typ = protocol.TypeChatResponse
		d["content"] = full
		d["role"] = protocol.RoleAssistant
	}
	s.broadcast(req.TenantID, req.ChatID, nil, event{typ: typ, data: d})
}

// answerTenantApp produces the reply to one user message in the form of
// ProtocolTenantApp: response_chunk {content, message_id, chat_id} frames,
// then response_complete {message_id, chat_id} without text; an error reply
// is an error frame {message, details} without ids. The reply shape does
// not apply.
func (s *Server) answerTenantApp(j job) {
	ctx := s.ctx
	req := j.req
	reply := s.callResponder(ctx, req)
	if ctx.Err() != nil || reply.Withhold {
		return
	}
	if e := reply.Error; e != nil {
		s.broadcast(req.TenantID, req.ChatID, nil, tenantAppError(e.Code, e.Message))
		return
	}
	if !sleep(ctx, reply.Delay) {
		return
	}
	replyID := uuid.NewString()
	for _, chunk := range reply.Chunks {
		if !sleep(ctx, reply.ChunkDelay) {
			return
		}
		s.broadcast(req.TenantID, req.ChatID, nil, event{typ: protocol.TypeResponseChunk, data: map[string]any{
			"content":    chunk,
			"message_id": replyID,
			"chat_id":    req.ChatID,
		}})
	}
	now := time.Now()
	s.mu.Lock()
	s.store.add(req.TenantID, req.ChatID, historyMessage(replyID, protocol.RoleAssistant, strings.Join(reply.Chunks, ""), now, map[string]any{
		"llm_model":       Model,
		"user_message_id": req.MessageID,
	}), now)
	s.bumpLocked()
	s.mu.Unlock()
	s.broadcast(req.TenantID, req.ChatID, nil, event{typ: protocol.TypeResponseComplete, data: map[string]any{
		"message_id": replyID,
		"chat_id":    req.ChatID,
	}})
}

// callResponder runs the Responder, turning a panic into an error reply.
func (s *Server) callResponder(ctx context.Context, req Request) (reply Reply) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("platformtest: responder panicked", "panic", r)
			reply = Reply{Error: &ErrorReply{
				Code:     CodeInternalError,
				Message:  fmt.Sprintf("responder panicked: %v", r),
				Category: "server_error",
			}}
		}
	}()
	return s.responder()(ctx, req)
}

// sleep waits d; false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
