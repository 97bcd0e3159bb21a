package platformtest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/miptechnologies/miptech-go/protocol"
)

// Codes of the error frames the server sends about client frames.
const (
	// CodeInvalidJSON: the frame is not a JSON object.
	CodeInvalidJSON = "invalid_json"
	// CodeUnknownType: the frame's type is not one the platform handles.
	CodeUnknownType = "unknown_message_type"
	// CodeInvalidRequest: a required field is missing.
	CodeInvalidRequest = "invalid_request"
	// CodeNotJoined: a chat_message for a chat the socket has not joined
	// (with Config.StrictJoin set).
	CodeNotJoined = "not_joined"
	// CodeTenantMismatch: a chat_message names another tenant than the
	// connection's.
	CodeTenantMismatch = "tenant_mismatch"
	// CodeEmptyMessage: a chat_message whose text is empty or blank.
	CodeEmptyMessage = "empty_message"
	// CodeMessageTooLong: a chat_message longer than Config.MaxMessageLength.
	CodeMessageTooLong = "message_too_long"
	// CodeInternalError: the Responder panicked.
	CodeInternalError = "internal_error"
	// CodeInvalidChatID: a ProtocolTenantApp join_chat whose chat_id is
	// not a UUID v4.
	CodeInvalidChatID = "invalid_chat_id"
	// CodeChatCreationFailed: a join_chat that would create a chat in a
	// realtime form, while FailChatCreations is armed.
	CodeChatCreationFailed = "chat_creation_failed"
	// CodeRateLimited: a chat_message refused by RateLimit in
	// ProtocolTenantApp, which has no rate_limit_exceeded frame.
	CodeRateLimited = "rate_limit_exceeded"
)

// handleFrame records and answers one frame received from a client. It runs
// on the connection's reader.
func (s *Server) handleFrame(c *conn, msgType int, raw []byte) {
	now := time.Now()
	rf := ReceivedFrame{ConnID: c.id, Time: now, Raw: slices.Clone(raw)}
	var env map[string]any
	err := json.Unmarshal(raw, &env)
	if err == nil && env != nil {
		rf.Type, _ = env["type"].(string)
		rf.Data = payload(env)
	}
	s.record(rf)
	c.log.Debug("platformtest: frame in", "type", rf.Type, "bytes", len(raw), "binary", msgType == websocket.BinaryMessage)
	if err != nil || env == nil {
		c.sendError(CodeInvalidJSON, "frame is not a JSON object", nil)
		return
	}
	data := rf.Data
	if data == nil {
		data = map[string]any{}
	}
	f := frameFields{top: env, data: data}
	switch rf.Type {
	case protocol.TypeJoinChat:
		s.handleJoin(c, f)
	case protocol.TypeLeaveChat:
		s.handleLeave(c, f)
	case protocol.TypeChatMessage:
		s.handleChatMessage(c, f, now)
	case protocol.TypePing:
		if c.proto == ProtocolTenantApp {
			_, dup := s.wire()
			c.enqueueFrame(protocol.TypePong, []byte(`{"type":"pong"}`), dup)
			return
		}
		ts, ok := data["ts"]
		if !ok {
			ts = now.UnixMilli()
		}
		c.send(event{typ: protocol.TypePong, data: map[string]any{"ts": ts}})
	case protocol.TypePong:
		// Recorded above; nothing to answer.
	case protocol.TypeTypingStart, protocol.TypeTypingStop:
		s.handleTyping(c, rf.Type, f)
	default:
		c.sendError(CodeUnknownType, "unknown message type "+strings.TrimSpace(rf.Type), nil)
	}
}

// payload returns the frame's payload object: "data", else legacy "payload".
func payload(env map[string]any) map[string]any {
	if d, ok := env["data"].(map[string]any); ok {
		return d
	}
	if d, ok := env["payload"].(map[string]any); ok {
		return d
	}
	return nil
}

// frameFields reads fields of a client frame wherever they stand: in data
// or at the top level, snake_case or camelCase.
type frameFields struct {
	top, data map[string]any
}

func (f frameFields) str(snake string) string {
	names := []string{snake}
	if camel, ok := camelNames[snake]; ok {
		names = append(names, camel)
	}
	for _, m := range []map[string]any{f.data, f.top} {
		for _, n := range names {
			if v, ok := m[n].(string); ok && v != "" {
				return v
			}
		}
	}
	return ""
}

// handleJoin answers join_chat: chat_joined, or chat_created for
// {"create":true} without a chat id. An unknown chat id is created in the
// store, as the platform does. The realtime forms answer as joinWebsite and
// joinTenantApp say.
func (s *Server) handleJoin(c *conn, f frameFields) {
	chatID := f.str("chat_id")
	create, _ := f.data["create"].(bool)
	switch {
	case c.proto == ProtocolTenantApp:
		s.joinTenantApp(c, f, chatID)
		return
	case c.proto == ProtocolWebsite && create:
		s.joinWebsite(c, chatID)
		return
	}
	if chatID == "" && !create {
		c.sendError(CodeInvalidRequest, "join_chat needs chat_id or create:true", nil)
		return
	}
	now := time.Now()
	typ := protocol.TypeChatJoined
	s.mu.Lock()
	if chatID == "" {
		chatID = s.store.create(c.tenant, "", now).info.ChatID
		typ = protocol.TypeChatCreated
	} else {
		s.store.ensure(c.tenant, chatID, "", now)
	}
	c.joinLocked(chatID)
	s.bumpLocked()
	s.mu.Unlock()
	c.send(event{typ: typ, data: map[string]any{"chat_id": chatID, "success": true}})
}

// joinWebsite answers join_chat {"create":true} in ProtocolWebsite: a chat
// the frame names that exists is joined (chat_joined); otherwise a chat
// with an id the server chooses is created and announced by chat_created
// with the id at the top level.
func (s *Server) joinWebsite(c *conn, chatID string) {
	now := time.Now()
	s.mu.Lock()
	if chatID != "" && s.store.get(c.tenant, chatID) != nil {
		c.joinLocked(chatID)
		s.bumpLocked()
		s.mu.Unlock()
		c.send(event{typ: protocol.TypeChatJoined, data: map[string]any{"chat_id": chatID, "success": true}})
		return
	}
	if s.faults.take(&s.faults.failCreate) != 0 {
		s.mu.Unlock()
		c.sendError(CodeChatCreationFailed, "Failed to create chat (fault injected)", nil)
		return
	}
	chatID = s.store.create(c.tenant, "", now).info.ChatID
	c.joinLocked(chatID)
	s.bumpLocked()
	s.mu.Unlock()
	c.send(event{typ: protocol.TypeChatCreated, top: map[string]any{"chat_id": chatID}, data: map[string]any{"success": true}})
}

// joinTenantApp answers join_chat in ProtocolTenantApp: the chat named by
// a UUID v4 chat_id is created when unknown (with or without create) and
// joined, and the answer is chat_joined {"chat_id"}.
func (s *Server) joinTenantApp(c *conn, f frameFields, chatID string) {
	if t := f.str("tenant_id"); t != "" && t != c.tenant {
		c.sendError(CodeTenantMismatch, "tenant_id does not match the connection's tenant", nil)
		return
	}
	if !isUUIDv4(chatID) {
		c.sendError(CodeInvalidChatID, "join_chat needs chat_id, a UUID v4 the client generates", nil)
		return
	}
	now := time.Now()
	s.mu.Lock()
	if s.store.get(c.tenant, chatID) == nil && s.faults.take(&s.faults.failCreate) != 0 {
		s.mu.Unlock()
		c.sendError(CodeChatCreationFailed, "Failed to create chat (fault injected)", nil)
		return
	}
	s.store.ensure(c.tenant, chatID, "", now)
	c.joinLocked(chatID)
	s.bumpLocked()
	s.mu.Unlock()
	c.send(event{typ: protocol.TypeChatJoined, data: map[string]any{"chat_id": chatID}})
}

// isUUIDv4 reports whether id is a UUID of version 4 in its canonical
// 36-character form.
func isUUIDv4(id string) bool {
	u, err := uuid.Parse(id)
	return err == nil && len(id) == 36 && u.Version() == 4 && u.Variant() == uuid.RFC4122
}

// joinLocked adds chatID to the connection's joined chats. The caller holds
// s.mu.
func (c *conn) joinLocked(chatID string) {
	if !c.joinedToLocked(chatID) {
		c.joined = append(c.joined, chatID)
	}
}

// handleLeave answers leave_chat with chat_left (also for a chat not joined).
func (s *Server) handleLeave(c *conn, f frameFields) {
	chatID := f.str("chat_id")
	if chatID == "" {
		c.sendError(CodeInvalidRequest, "leave_chat needs chat_id", nil)
		return
	}
	s.mu.Lock()
	c.joined = slices.DeleteFunc(c.joined, func(id string) bool { return id == chatID })
	s.bumpLocked()
	s.mu.Unlock()
	c.send(event{typ: protocol.TypeChatLeft, data: map[string]any{"chat_id": chatID, "success": true}})
}

// handleTyping forwards typing_start/typing_stop to the other sockets joined
// to the chat.
func (s *Server) handleTyping(c *conn, typ string, f frameFields) {
	chatID := f.str("chat_id")
	if chatID == "" {
		return
	}
	s.broadcast(c.tenant, chatID, c, event{typ: typ, data: map[string]any{"chat_id": chatID, "client_id": c.clientID}})
}

// handleChatMessage acknowledges a user message, stores it and hands it to
// the chat's reply worker; or applies the faults that intercept it.
func (s *Server) handleChatMessage(c *conn, f frameFields, now time.Time) {
	s.mu.Lock()
	dropNow := s.faults.take(&s.faults.dropAfterMsg) != 0
	s.mu.Unlock()
	if dropNow {
		c.cut()
		return
	}
	text, _ := f.data["message"].(string)
	if text == "" {
		text, _ = f.data["content"].(string)
	}
	cmid := f.str("client_message_id")
	chatID := f.str("chat_id")
	ids := map[string]any{"client_message_id": cmid}
	if t := f.str("tenant_id"); t != "" && t != c.tenant {
		c.sendError(CodeTenantMismatch, "tenant_id does not match the connection's tenant", ids)
		return
	}
	if chatID == "" && c.proto == ProtocolTenantApp {
		c.sendError(CodeInvalidRequest, "chat_message needs chat_id", ids)
		return
	}

	s.mu.Lock()
	if chatID == "" && len(c.joined) > 0 {
		chatID = c.joined[len(c.joined)-1]
	}
	if chatID == "" {
		chatID = c.urlChat
	}
	limited := s.faults.take(&s.faults.rateLimit) != 0
	retryAfter := s.faults.retryAfter
	joined := chatID != "" && c.joinedToLocked(chatID)
	strict := s.strictJoin
	s.mu.Unlock()

	if chatID != "" {
		ids["chat_id"] = chatID
	}
	if limited && c.proto == ProtocolTenantApp {
		c.sendError(CodeRateLimited, "Rate limit exceeded", nil)
		return
	}
	if limited {
		d := map[string]any{"message": "Rate limit exceeded", "client_message_id": cmid}
		if chatID != "" {
			d["chat_id"] = chatID
		}
		if retryAfter > 0 {
			d["retry_after"] = seconds(retryAfter)
		}
		c.send(event{typ: protocol.TypeRateLimitExceeded, data: d})
		return
	}
	if !joined && strict {
		c.sendError(CodeNotJoined, "chat not joined: send join_chat first", ids)
		return
	}
	if strings.TrimSpace(text) == "" {
		c.sendError(CodeEmptyMessage, "message is empty", ids)
		return
	}
	if n := utf8.RuneCountInString(text); n > s.cfg.MaxMessageLength {
		c.sendError(CodeMessageTooLong, "message too long: "+strconv.Itoa(n)+" characters, at most "+strconv.Itoa(s.cfg.MaxMessageLength), ids)
		return
	}

	msgID := uuid.NewString()
	s.mu.Lock()
	if chatID == "" {
		// Auto-joining with no chat at all: the platform opens one.
		chatID = s.store.create(c.tenant, "", now).info.ChatID
	}
	c.joinLocked(chatID)
	var meta map[string]any
	if cmid != "" {
		meta = map[string]any{"client_message_id": cmid}
	}
	s.store.add(c.tenant, chatID, historyMessage(msgID, protocol.RoleUser, text, now, meta), now)
	dropAfter := s.faults.take(&s.faults.dropAfterRecv) != 0
	s.bumpLocked()
	s.mu.Unlock()

	if c.proto != ProtocolTenantApp {
		c.send(event{typ: protocol.TypeMessageReceived, data: map[string]any{
			"message_id":        msgID,
			"client_message_id": cmid,
			"chat_id":           chatID,
			"status":            "received",
		}})
	}
	if dropAfter {
		c.cut()
	}
	s.submit(job{
		req: Request{
			TenantID:        c.tenant,
			ChatID:          chatID,
			ClientMessageID: cmid,
			MessageID:       msgID,
			Text:            text,
		},
		received: now,
		proto:    c.proto,
	})
}

// sendError sends an error frame to this connection only. In
// ProtocolTenantApp it is {"message", "details"} with the code as details
// and no ids.
func (c *conn) sendError(code, msg string, extra map[string]any) {
	if c.proto == ProtocolTenantApp {
		c.send(tenantAppError(code, msg))
		return
	}
	d := map[string]any{"code": code, "message": msg, "type": "client_error"}
	for k, v := range extra {
		if v != "" {
			d[k] = v
		}
	}
	c.send(event{typ: protocol.TypeError, data: d})
}

// tenantAppError is an error frame of ProtocolTenantApp: data.message and
// data.details (the code), no ids.
func tenantAppError(code, msg string) event {
	return event{typ: protocol.TypeError, data: map[string]any{"message": msg, "details": code}}
}

// broadcast sends an event to every live socket of the tenant joined to
// chatID, except skip (may be nil).
func (s *Server) broadcast(tenant, chatID string, skip *conn, ev event) {
	s.mu.Lock()
	var targets []*conn
	for _, c := range s.conns {
		if c != skip && !c.dead && c.tenant == tenant && c.joinedToLocked(chatID) {
			targets = append(targets, c)
		}
	}
	v, dup := s.variant, s.dup
	s.mu.Unlock()
	if len(targets) == 0 {
		return
	}
	b := encode(ev, v, time.Now())
	for _, c := range targets {
		c.enqueueFrame(ev.typ, b, dup)
	}
}
