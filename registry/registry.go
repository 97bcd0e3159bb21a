package registry

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Defaults of Config.
const (
	// DefaultOrphanAge is the age at which an unacknowledged user message is
	// reported by Orphans.
	DefaultOrphanAge = 5 * time.Minute
	// DefaultRetain is the number of terminal messages kept for lookups.
	DefaultRetain = 4096
)

// Config configures a Registry. The zero Config is ready to use.
type Config struct {
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
	// OrphanAge is how long after its CreatedAt a user message still
	// StatusSending or StatusSent (never acknowledged) becomes an orphan,
	// reported once by Orphans. Zero means 5 min; negative disables orphan
	// reporting.
	OrphanAge time.Duration
	// Retain is how many terminal messages (answered, complete, failed) are
	// kept so that server ids and late replies can still be looked up. Beyond
	// it the messages that became terminal first are dropped, so memory stays
	// bounded. Zero means 4096; negative keeps none (a message is dropped as
	// soon as it becomes terminal).
	Retain int
}

// withDefaults returns a copy of c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.OrphanAge == 0 {
		c.OrphanAge = DefaultOrphanAge
	}
	switch {
	case c.Retain == 0:
		c.Retain = DefaultRetain
	case c.Retain < 0:
		c.Retain = 0
	}
	return c
}

// Message is a snapshot of one message held by a Registry. Methods return
// copies: changing one changes nothing in the registry.
type Message struct {
	// ClientID is the message's primary id: the client_message_id (a UUID v4)
	// of a user message; the server id, or a FallbackID, of an assistant
	// message.
	ClientID string
	// ServerID is the platform's id for the message, once known.
	ServerID string
	// ChatID is the chat the message belongs to ("" while unknown).
	ChatID string
	// Role says who wrote the message.
	Role Role
	// Status is where the message stands.
	Status Status
	// Text is the message text.
	Text string
	// Err is the cause of the failure when Status is StatusFailed.
	Err error
	// CreatedAt is when the message was created; Register sets it to the
	// current time when zero.
	CreatedAt time.Time
	// UpdatedAt is when the registry last changed the message.
	UpdatedAt time.Time
	// Seq is the registration order: each Register gives a larger Seq.
	Seq uint64
}

// Registry holds the messages of one client: their statuses, the mapping
// from server ids to client ids, and the order in which they were sent. Its
// methods are safe for concurrent use and never block beyond a short
// critical section; it starts no goroutine.
//
// Non-terminal messages are kept until they reach a terminal status or are
// removed; terminal ones are kept up to Config.Retain.
type Registry struct {
	now       func() time.Time
	orphanAge time.Duration
	retain    int

	mu       sync.Mutex
	seq      uint64
	byClient map[string]*entry
	byServer map[string]*entry
	pending  map[string]*list // chat id → non-terminal user messages, in Seq order
	terminal list             // terminal messages, in the order they became terminal
}

// entry is a message and its place in the registry's lists. An entry is on
// at most one list: its chat's pending list (a non-terminal user message),
// the terminal list, or none (a streaming assistant message).
type entry struct {
	msg        Message
	list       *list
	prev, next *entry
	orphaned   bool
}

// list is an intrusive doubly linked list of entries.
type list struct {
	head, tail *entry
	n          int
}

func (l *list) pushBack(e *entry) {
	e.list, e.prev, e.next = l, l.tail, nil
	if l.tail != nil {
		l.tail.next = e
	} else {
		l.head = e
	}
	l.tail = e
	l.n++
}

func (l *list) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.list, e.prev, e.next = nil, nil, nil
	l.n--
}

// New returns an empty Registry configured by cfg (copied; zero fields take
// their defaults).
func New(cfg Config) *Registry {
	cfg = cfg.withDefaults()
	return &Registry{
		now:       cfg.Now,
		orphanAge: cfg.OrphanAge,
		retain:    cfg.Retain,
		byClient:  make(map[string]*entry),
		byServer:  make(map[string]*entry),
		pending:   make(map[string]*list),
	}
}

// Register adds a message and returns it as stored.
//
// A zero Status means the initial status of the role: StatusSending for a
// user message, StatusStreaming for an assistant one; any other status must
// be one the role can hold. An empty ClientID is filled in: a new
// NewClientMessageID for a user message; the ServerID, else a FallbackID, for
// an assistant message. A zero CreatedAt becomes the current time. Seq is
// assigned.
//
// Register returns an error wrapping ErrIDConflict when the client id or the
// server id already belongs to a message, and one wrapping ErrInvalidMessage
// for an unknown role or a status the role cannot hold.
func (r *Registry) Register(m Message) (Message, error) {
	switch {
	case m.Role != RoleUser && m.Role != RoleAssistant:
		return Message{}, fmt.Errorf("%w: unknown role %d", ErrInvalidMessage, int(m.Role))
	case m.Status == 0:
		m.Status = initial(m.Role)
	case !valid(m.Role, m.Status):
		return Message{}, fmt.Errorf("%w: a %s message cannot be %s", ErrInvalidMessage, m.Role, m.Status)
	}
	now := r.now()
	if m.ClientID == "" {
		switch {
		case m.Role == RoleUser:
			m.ClientID = NewClientMessageID()
		case m.ServerID != "":
			m.ClientID = m.ServerID
		default:
			m.ClientID = FallbackID(now)
		}
	}
	if m.CreatedAt.IsZero() {
		m.CreatedAt = now
	}
	m.UpdatedAt = now

	r.mu.Lock()
	defer r.mu.Unlock()
	if r.taken(m.ClientID, nil) {
		return Message{}, fmt.Errorf("%w: message id %q is registered", ErrIDConflict, m.ClientID)
	}
	if m.ServerID != "" && m.ServerID != m.ClientID && r.taken(m.ServerID, nil) {
		return Message{}, fmt.Errorf("%w: server id %q belongs to another message", ErrIDConflict, m.ServerID)
	}
	r.seq++
	m.Seq = r.seq
	e := &entry{msg: m}
	r.byClient[m.ClientID] = e
	if m.ServerID != "" {
		r.byServer[m.ServerID] = e
	}
	switch {
	case m.Status.Terminal():
		r.terminal.pushBack(e)
		r.prune()
	case m.Role == RoleUser:
		l := r.pending[m.ChatID]
		if l == nil {
			l = new(list)
			r.pending[m.ChatID] = l
		}
		l.pushBack(e)
	}
	return m, nil
}

// Transition moves the message whose client id or server id is id to status
// to, and returns the message, and whether it changed. Asking for the status
// the message already has changes nothing and is not an error. When to is
// StatusFailed, err is recorded as Message.Err; otherwise err is ignored.
//
// It returns a *TransitionError (matching ErrIllegalTransition) with the
// unchanged message when the change is not allowed: backwards, out of a
// terminal status, or to a status the role cannot hold. It returns an error
// wrapping ErrUnknownMessage when no message has the id.
func (r *Registry) Transition(id string, to Status, err error) (Message, bool, error) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.lookup(id)
	if e == nil {
		return Message{}, false, unknown(id)
	}
	from := e.msg.Status
	if to == from {
		return e.msg, false, nil
	}
	if !legal(e.msg.Role, from, to) {
		return e.msg, false, &TransitionError{ID: id, From: from, To: to}
	}
	e.msg.Status = to
	e.msg.UpdatedAt = now
	if to == StatusFailed {
		e.msg.Err = err
	}
	m := e.msg
	if to.Terminal() {
		r.unlink(e)
		r.terminal.pushBack(e)
		r.prune()
	}
	return m, true, nil
}

// MapServerID records that the platform calls the message clientID (a client
// id, or a server id already mapped) by serverID. Afterwards Get, Transition
// and Remove find it by either id. Mapping the same pair again is a no-op.
//
// It returns an error wrapping ErrUnknownMessage when no message has
// clientID, and one wrapping ErrIDConflict when serverID belongs to another
// message or the message already has a different server id.
func (r *Registry) MapServerID(clientID, serverID string) error {
	if serverID == "" {
		return fmt.Errorf("%w: empty server id for message %q", ErrInvalidMessage, clientID)
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.lookup(clientID)
	switch {
	case e == nil:
		return unknown(clientID)
	case e.msg.ServerID == serverID:
		return nil
	case e.msg.ServerID != "":
		return fmt.Errorf("%w: message %q already has server id %q, not %q", ErrIDConflict, clientID, e.msg.ServerID, serverID)
	case r.taken(serverID, e):
		return fmt.Errorf("%w: server id %q belongs to another message", ErrIDConflict, serverID)
	}
	e.msg.ServerID = serverID
	e.msg.UpdatedAt = now
	r.byServer[serverID] = e
	return nil
}

// Get returns the message whose client id or server id is id, and whether
// there is one.
func (r *Registry) Get(id string) (Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.lookup(id); e != nil {
		return e.msg, true
	}
	return Message{}, false
}

// OldestPending returns the user message of the chat chatID ("" means any
// chat) with the smallest Seq among those in one of statuses (none given
// means any non-terminal status), and whether there is one. The client uses
// it to correlate an acknowledgement or a reply that carries no id with the
// message it answers, by order.
func (r *Registry) OldestPending(chatID string, statuses ...Status) (Message, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *entry
	visit := func(l *list) {
		for e := l.head; e != nil; e = e.next {
			if len(statuses) == 0 || slices.Contains(statuses, e.msg.Status) {
				if best == nil || e.msg.Seq < best.msg.Seq {
					best = e
				}
				return
			}
		}
	}
	if chatID != "" {
		if l := r.pending[chatID]; l != nil {
			visit(l)
		}
	} else {
		for _, l := range r.pending {
			visit(l)
		}
	}
	if best == nil {
		return Message{}, false
	}
	return best.msg, true
}

// Pending returns the non-terminal user messages of the chat chatID ("" means
// all chats), in Seq order.
func (r *Registry) Pending(chatID string) []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Message
	collect := func(l *list) {
		for e := l.head; e != nil; e = e.next {
			out = append(out, e.msg)
		}
	}
	if chatID != "" {
		if l := r.pending[chatID]; l != nil {
			collect(l)
		}
		return out
	}
	for _, l := range r.pending {
		collect(l)
	}
	sortBySeq(out)
	return out
}

// Orphans returns, in Seq order, the user messages still StatusSending or
// StatusSent whose CreatedAt is at least Config.OrphanAge ago and that no
// earlier call returned: each orphan is reported once. The messages keep
// their status; the client decides what to do with them (typically
// Transition to StatusFailed).
func (r *Registry) Orphans() []Message {
	if r.orphanAge < 0 {
		return nil
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Message
	for _, l := range r.pending {
		for e := l.head; e != nil; e = e.next {
			if e.orphaned || (e.msg.Status != StatusSending && e.msg.Status != StatusSent) {
				continue
			}
			if now.Sub(e.msg.CreatedAt) >= r.orphanAge {
				e.orphaned = true
				out = append(out, e.msg)
			}
		}
	}
	sortBySeq(out)
	return out
}

// Remove forgets the message whose client id or server id is id. Removing an
// unknown id does nothing.
func (r *Registry) Remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.lookup(id); e != nil {
		r.drop(e)
	}
}

// Len returns the number of messages held.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byClient)
}

// lookup finds a message by client id, then by server id. r.mu is held.
func (r *Registry) lookup(id string) *entry {
	if e, ok := r.byClient[id]; ok {
		return e
	}
	return r.byServer[id]
}

// taken reports whether id names a message other than self. r.mu is held.
func (r *Registry) taken(id string, self *entry) bool {
	if e := r.byClient[id]; e != nil && e != self {
		return true
	}
	e := r.byServer[id]
	return e != nil && e != self
}

// unlink takes e off its list and drops an emptied pending list. r.mu is
// held.
func (r *Registry) unlink(e *entry) {
	l := e.list
	if l == nil {
		return
	}
	l.remove(e)
	if l != &r.terminal && l.n == 0 {
		delete(r.pending, e.msg.ChatID)
	}
}

// drop forgets e entirely. r.mu is held.
func (r *Registry) drop(e *entry) {
	r.unlink(e)
	delete(r.byClient, e.msg.ClientID)
	if e.msg.ServerID != "" && r.byServer[e.msg.ServerID] == e {
		delete(r.byServer, e.msg.ServerID)
	}
}

// prune drops the terminal messages beyond the retain limit, those that
// became terminal first. r.mu is held.
func (r *Registry) prune() {
	for r.terminal.n > r.retain {
		r.drop(r.terminal.head)
	}
}

func unknown(id string) error {
	return fmt.Errorf("%w: %q", ErrUnknownMessage, id)
}

func sortBySeq(ms []Message) {
	slices.SortFunc(ms, func(a, b Message) int { return cmp.Compare(a.Seq, b.Seq) })
}
