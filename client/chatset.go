package client

import "sync"

// The client's open chats: the set Close fails, routing looks in, and the
// queue's per-chat share is computed from.

// chatSet is the client's open chats, in opening order, and by id once
// they have one. Its lock is taken last (see Client.lmu); under it only the
// queue's lock is taken, to set the per-chat share.
type chatSet struct {
	mu   sync.Mutex
	list []*Chat
	byID map[string]*Chat
}

// chatList returns the open chats, in opening order.
func (c *Client) chatList() []*Chat {
	c.chats.mu.Lock()
	defer c.chats.mu.Unlock()
	return append([]*Chat(nil), c.chats.list...)
}

// chatByID returns the open chat with this id, or nil.
func (c *Client) chatByID(id string) *Chat {
	c.chats.mu.Lock()
	defer c.chats.mu.Unlock()
	return c.chats.byID[id]
}

// add adds ch, whose id is id ("" for none yet): nil error and nothing done
// when it is open already, ErrChatOpen when another chat has its id. It
// sets the queue's per-chat share.
func (s *chatSet) add(ch *Chat, id string, c *Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.list {
		if x == ch {
			return nil
		}
	}
	if id != "" && s.byID[id] != nil {
		return ErrChatOpen // one *Chat per id: this one is open already
	}
	s.list = append(s.list, ch)
	if id != "" {
		if s.byID == nil {
			s.byID = map[string]*Chat{}
		}
		s.byID[id] = ch
	}
	c.q.SetChatCap(c.chatShareLocked())
	return nil
}

// chatShareLocked returns the most queued messages one chat may hold now
// (Config.QueuePerChat). Called with c.chats.mu held.
func (c *Client) chatShareLocked() int {
	size, per, n := c.cfg.QueueSize, c.cfg.QueuePerChat, len(c.chats.list)
	switch {
	case per < 0:
		return 0
	case per > 0:
		return per
	case n <= 1:
		return size
	}
	return max(size/n, size/10, 1)
}

func (c *Client) removeChat(ch *Chat) {
	s := &c.chats
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.list {
		if x == ch {
			s.list = append(s.list[:i], s.list[i+1:]...)
			break
		}
	}
	for id, x := range s.byID {
		if x == ch {
			delete(s.byID, id)
		}
	}
	c.q.SetChatCap(c.chatShareLocked())
}

// indexChat records the id a degraded chat learned.
func (c *Client) indexChat(ch *Chat, id string) {
	s := &c.chats
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.list {
		if x == ch {
			if s.byID == nil {
				s.byID = map[string]*Chat{}
			}
			s.byID[id] = ch
			return
		}
	}
}
