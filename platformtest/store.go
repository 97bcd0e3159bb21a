package platformtest

import (
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/miptechnologies/miptech-go/protocol"
)

// ChatInfo describes one chat of the in-memory store.
type ChatInfo struct {
	// ChatID is the chat's id.
	ChatID string
	// TenantID is the tenant the chat belongs to.
	TenantID string
	// Title is the title given at creation ("" when none was given).
	Title string
	// CreatedAt is when the chat was created (by REST, by join_chat with
	// {"create":true}, or by a join or message naming an unknown chat).
	CreatedAt time.Time
	// MessageCount is the number of messages of the chat, user and
	// assistant, including those Config.MaxHistory did not keep.
	MessageCount int
}

// chatKey names a chat within its tenant.
type chatKey struct {
	tenant, chat string
}

// chatRecord is a chat and its history.
type chatRecord struct {
	info     ChatInfo
	messages []protocol.HistoryMessage
}

// store holds chats and messages per tenant. It is guarded by Server.mu.
type store struct {
	chats map[chatKey]*chatRecord
	order []chatKey // creation order
	limit int       // messages kept per chat; 0: all, negative: none
}

func newStore(limit int) store {
	return store{chats: make(map[chatKey]*chatRecord), limit: limit}
}

// get returns the chat, or nil.
func (st *store) get(tenant, chatID string) *chatRecord {
	return st.chats[chatKey{tenant, chatID}]
}

// create adds a chat with a new id.
func (st *store) create(tenant, title string, now time.Time) *chatRecord {
	return st.ensure(tenant, uuid.NewString(), title, now)
}

// ensure returns the chat, creating it when unknown.
func (st *store) ensure(tenant, chatID, title string, now time.Time) *chatRecord {
	k := chatKey{tenant, chatID}
	if c, ok := st.chats[k]; ok {
		return c
	}
	c := &chatRecord{info: ChatInfo{ChatID: chatID, TenantID: tenant, Title: title, CreatedAt: now}}
	st.chats[k] = c
	st.order = append(st.order, k)
	return c
}

// add stores a message in a chat, creating the chat when unknown.
func (st *store) add(tenant, chatID string, m protocol.HistoryMessage, now time.Time) {
	c := st.ensure(tenant, chatID, "", now)
	c.info.MessageCount++
	if st.limit < 0 {
		return
	}
	c.messages = append(c.messages, m)
	if over := len(c.messages) - st.limit; st.limit > 0 && over > 0 {
		clear(c.messages[:over])
		c.messages = c.messages[over:]
	}
}

// historyMessage builds a stored message.
func historyMessage(id, role, content string, at time.Time, meta map[string]any) protocol.HistoryMessage {
	return protocol.HistoryMessage{
		ID:        id,
		Content:   content,
		Role:      role,
		Timestamp: at.UTC().Format(time.RFC3339Nano),
		Metadata:  meta,
	}
}

// Chats returns the chats of a tenant in creation order.
func (s *Server) Chats(tenant string) []ChatInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ChatInfo
	for _, k := range s.store.order {
		if k.tenant == tenant {
			out = append(out, s.store.chats[k].info)
		}
	}
	return out
}

// Messages returns the stored history of a chat, user and assistant messages
// in the order they were stored, as GET /api/v1/chat/{id}/messages serves
// it. Chat ids are looked up across tenants (the first tenant, in creation
// order, holding that id wins); it returns nil for an unknown chat.
func (s *Server) Messages(chatID string) []protocol.HistoryMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.store.order {
		if k.chat == chatID {
			return slices.Clone(s.store.chats[k].messages)
		}
	}
	return nil
}
