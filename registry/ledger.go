package registry

import (
	"errors"
	"hash/maphash"
	"time"
)

// ChatKey names a chat in a Ledger. The client gives every chat a key of its
// own when it opens it, before the chat may even have an id.
type ChatKey uint64

// Errors the Ledger gives messages it fails on its own. Match them with
// errors.Is.
var (
	// ErrTimeout fails a message whose reply did not come within
	// LedgerConfig.ResponseTimeout of its last activity.
	ErrTimeout = errors.New("registry: no reply within the response timeout")
	// ErrReplyTooLarge fails a message whose reply grew past
	// LedgerConfig.MaxReplyBytes.
	ErrReplyTooLarge = errors.New("registry: reply larger than the limit")
	// ErrTextLost fails a message whose reply went on over a new connection
	// with chunks that cannot be placed after the ones before, and whose
	// complete frame carries no text: the reply's text is not known whole.
	ErrTextLost = errors.New("registry: part of the reply's text was lost with a connection")
	// ErrLostWithConnection fails a message of a platform whose replies
	// name no message (SetUnnamedReplies) that was on the wire when its
	// connection was lost: it is not sent again, since the platform may
	// have it, and its reply, if one comes, may lack what was sent while
	// no connection was up.
	ErrLostWithConnection = errors.New("registry: no reply came after the connection the message was sent on was lost")
)

// Defaults of LedgerConfig.
const (
	// DefaultResponseTimeout is LedgerConfig.ResponseTimeout's default.
	DefaultResponseTimeout = 30 * time.Second
	// DefaultLateWindow is LedgerConfig.LateWindow's default.
	DefaultLateWindow = 5 * time.Minute
	// DefaultMaxReplyBytes is LedgerConfig.MaxReplyBytes's default.
	DefaultMaxReplyBytes = 16 << 20
	// DefaultOrphanAge is LedgerConfig.OrphanAge's default.
	DefaultOrphanAge = 5 * time.Minute
	// DefaultFinished is LedgerConfig.Finished's default.
	DefaultFinished = 4096
)

// LedgerConfig configures a Ledger. Zero fields take their defaults.
type LedgerConfig struct {
	// ResponseTimeout is how long after its last activity (written, or a
	// reply chunk) a message waits for its reply before it fails with
	// ErrTimeout. Zero means 30 s.
	ResponseTimeout time.Duration
	// LateWindow is how long a timed-out message is kept after its timeout
	// so that a late reply is still recognised (delivered marked late);
	// after it, the message is forgotten. Zero means 5 min.
	LateWindow time.Duration
	// MaxReplyBytes bounds a reply's text. Zero means 16 MiB.
	MaxReplyBytes int
	// OrphanAge is how long after it was added a message never acknowledged
	// is reported once as an orphan. Zero means 5 min; negative disables.
	OrphanAge time.Duration
	// Finished is how many ids of forgotten messages are remembered, so that
	// a later frame naming one is known for a duplicate instead of being
	// matched to another message. Zero means 4096, the dedup window of
	// SPEC §5: a frame older than that is not recognized either way.
	Finished int
	// MaxRetries is how many times a message the platform failed with a
	// retryable error is sent again on its own (Decision DecideRetry) before
	// its failure is given to its sender. Zero means none.
	MaxRetries int
}

func (c LedgerConfig) withDefaults() LedgerConfig {
	if c.ResponseTimeout <= 0 {
		c.ResponseTimeout = DefaultResponseTimeout
	}
	if c.LateWindow <= 0 {
		c.LateWindow = DefaultLateWindow
	}
	if c.MaxReplyBytes <= 0 {
		c.MaxReplyBytes = DefaultMaxReplyBytes
	}
	if c.OrphanAge == 0 {
		c.OrphanAge = DefaultOrphanAge
	}
	if c.Finished <= 0 {
		c.Finished = DefaultFinished
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	return c
}

// Ledger holds every outbound user message of one client, once: its ids
// (the client id, the id of the attempt on the wire, the platform's ids),
// its chat, its status, the reply text received so far and its outcome. It
// is fed the events that concern messages, with the time, and returns
// decisions for the caller to carry out: report a status, deliver a chunk,
// complete a reply, fail a message, count a duplicate. It owns the rules:
// which message a frame is about, when a reply may be delivered (a chat's
// replies go out in send order), how the history answers messages a lost
// connection took, and when a message times out.
//
// A Ledger does no I/O, starts no goroutine and reads no clock. It is not
// safe for concurrent use: its owner serializes the calls.
type Ledger struct {
	cfg      LedgerConfig
	seq      uint64
	byClient map[string]*entry // live messages by client id (the sender's name for them)
	byID     map[string]*entry // live messages by the ids frames carry: wire ids and platform ids
	chats    map[ChatKey]*line
	finished finishedSet
	refused  finishedSet // platform ids of messages the platform failed with an error frame
	unnamed  bool        // the platform's replies name no message (SetUnnamedReplies)
	// seenUnnamed: a reply that named no message of ours was seen, and
	// matched by its place; it stays set for the ledger's life.
	seenUnnamed bool
	// seqBase is the index a reply's first chunk carries (0 or 1) on a
	// platform that numbers its chunks, -1 until learned (see chunk).
	seqBase int
}

// SetUnnamedReplies says whether the platform's replies and errors name no
// message, and it answers a chat's messages one at a time in the order it
// got them (the realtime form's tenant-app variant, SPEC §2.4), or, once a
// reply that names no message of ours was matched by its place, whatever
// was set: the platform has shown its replies name none. A reply is
// then known to be a message's only by its place, which holds only while a
// chat has at most one message on the wire: the caller writes a message
// only when Writable says so. A message on the wire when its connection
// is lost fails with ErrLostWithConnection and is never sent again (see
// ConnectionLost).
func (l *Ledger) SetUnnamedReplies(on bool) { l.unnamed = on }

// UnnamedReplies reports whether the ledger takes the platform's replies to
// name no message: SetUnnamedReplies said so, or such a reply was seen.
func (l *Ledger) UnnamedReplies() bool { return l.unnamed || l.seenUnnamed }

// Writable reports whether a message of chat may be written now: always,
// unless the platform's replies name no message (SetUnnamedReplies) and
// another message of chat is on the wire without its reply, or failed with
// a lost connection and its reply may still come (ConnectionLost).
func (l *Ledger) Writable(chat ChatKey) bool {
	if !l.UnnamedReplies() {
		return true
	}
	ln := l.chats[chat]
	if ln == nil {
		return true
	}
	for _, e := range ln.order {
		if onWire(e) || e.sink {
			return false
		}
	}
	return true
}

// onWire reports whether e was written and waits for its reply.
func onWire(e *entry) bool {
	return !e.done && !e.answered && !e.retrying && e.status >= StatusSent
}

// line is one chat's messages in send order, from Add until forgotten.
type line struct {
	order    []*entry
	current  *entry // the message whose reply streams now, for id-less frames
	awaiting int    // messages with awaiting set
	held     int    // messages with a parked reply
}

// setAwaiting sets e.awaiting, keeping its line's count.
func (l *Ledger) setAwaiting(e *entry, on bool) {
	if e.awaiting == on {
		return
	}
	e.awaiting = on
	if ln := l.chats[e.chat]; ln != nil {
		if on {
			ln.awaiting++
		} else {
			ln.awaiting--
		}
	}
}

// setParked sets e's held reply (nil: none), keeping its line's count.
func (l *Ledger) setParked(e *entry, in *Input) {
	if (e.parked != nil) != (in != nil) {
		if ln := l.chats[e.chat]; ln != nil {
			if in != nil {
				ln.held++
			} else {
				ln.held--
			}
		}
	}
	e.parked = in
}

// entry is one message. Its fields change only through the Ledger.
type entry struct {
	id       string // client id: the message's name for its whole life
	wire     string // client_message_id of the current attempt
	chat     ChatKey
	seq      uint64
	text     string
	tag      any
	status   Status
	attempt  int
	serverID string // the platform's id of the user message
	replyID  string // the platform's id of the assistant message
	ids      []string

	created  time.Time
	activity time.Time // written, acknowledged or a chunk: the timeout counts from here
	lateEnd  time.Time // a timed-out message is forgotten then

	done     bool // the sender has its outcome (a failed message may still take a late reply)
	answered bool
	resend   bool // written on a lost connection, never acknowledged: send again
	handed   bool // its re-send was handed out and is not written yet
	awaiting bool // acknowledged on a lost connection: its reply is sought in the history
	sink     bool // failed with its lost connection, replies naming no message: takes and drops its reply (sinkStep)
	retrying bool // waits to be sent again after a retryable failure
	orphaned bool

	chunks    int
	wroteOn   uint64 // the connection its current attempt went out on
	nextSeq   int    // the chunk index the next chunk should carry, when the platform numbers them
	text0     []byte // the reply text received so far
	chunkConn uint64 // connection its chunks came on
	restart   bool   // the next chunk starts the text again (Replace)
	broken    bool   // chunks were lost between two connections: only a complete text is trusted
	parked    *Input // its complete reply, held behind an earlier message
	parkedRec bool
}

// New entries and lookups.

// NewLedger returns an empty Ledger configured by cfg (zero fields take
// their defaults).
func NewLedger(cfg LedgerConfig) *Ledger {
	cfg = cfg.withDefaults()
	return &Ledger{
		cfg:      cfg,
		byClient: map[string]*entry{},
		byID:     map[string]*entry{},
		chats:    map[ChatKey]*line{},
		finished: newFinishedSet(cfg.Finished),
		refused:  newFinishedSet(cfg.Finished),
		seqBase:  -1,
	}
}

// Add records a new user message of chat, in StatusSending, under its client
// id (which is also the wire id of its first attempt). tag is the caller's
// handle, returned in every decision about the message. It returns false
// when the id is taken.
func (l *Ledger) Add(chat ChatKey, clientID, text string, tag any, now time.Time) bool {
	if clientID == "" || l.byClient[clientID] != nil || l.byID[clientID] != nil || l.finished.has(clientID) {
		return false
	}
	l.insert(chat, clientID, clientID, text, tag, StatusSending, 1, now)
	return true
}

// insert adds a message at the end of its chat's line.
func (l *Ledger) insert(chat ChatKey, clientID, wire, text string, tag any, status Status, attempt int, now time.Time) *entry {
	l.seq++
	e := &entry{id: clientID, wire: wire, chat: chat, seq: l.seq, text: text, tag: tag,
		status: status, attempt: attempt, created: now, activity: now}
	e.ids = append(e.ids, wire)
	l.byID[wire] = e
	l.byClient[clientID] = e
	ln := l.chats[chat]
	if ln == nil {
		ln = &line{}
		l.chats[chat] = ln
	}
	ln.order = append(ln.order, e)
	return e
}

// Len returns the number of messages held.
func (l *Ledger) Len() int {
	n := 0
	for _, ln := range l.chats {
		n += len(ln.order)
	}
	return n
}

// Info is a snapshot of a message held by a Ledger.
type Info struct {
	// ClientID is the message's client id.
	ClientID string
	// Wire is the client_message_id of the current attempt.
	Wire string
	// ServerID is the platform's id of the message, once known.
	ServerID string
	// Chat is the chat's key.
	Chat ChatKey
	// Status is the message's status.
	Status Status
	// Attempt counts the attempts (1 for the first).
	Attempt int
	// Text is the message text.
	Text string
	// Done is true once its sender has an outcome.
	Done bool
	// Tag is the caller's handle.
	Tag any
}

// Get returns the message that id names (a client, wire or platform id).
func (l *Ledger) Get(id string) (Info, bool) {
	e := l.byClient[id]
	if e == nil {
		e = l.byID[id]
	}
	if e == nil {
		return Info{}, false
	}
	return e.info(), true
}

func (e *entry) info() Info {
	return Info{ClientID: e.id, Wire: e.wire, ServerID: e.serverID, Chat: e.chat, Status: e.status,
		Attempt: e.attempt, Text: e.text, Done: e.done, Tag: e.tag}
}

// Owner returns the chat of the live message that id names.
func (l *Ledger) Owner(id string) (ChatKey, bool) {
	if e := l.byID[id]; e != nil && id != "" {
		return e.chat, true
	}
	if e := l.byClient[id]; e != nil && id != "" {
		return e.chat, true
	}
	return 0, false
}

// Known reports whether id names a message of the ledger, live or forgotten.
func (l *Ledger) Known(id string) bool {
	return id != "" && (l.byID[id] != nil || l.finished.has(id))
}

// Settled reports whether the message's frame must not be written any more:
// it has its outcome, or is not held. A frame of an earlier attempt (wire no
// longer current) is settled too.
func (l *Ledger) Settled(wire string) bool {
	e := l.byID[wire]
	return e == nil || e.done || e.retrying || e.wire != wire
}

// Awaiting reports whether chat has messages whose replies are sought in the
// history.
func (l *Ledger) Awaiting(chat ChatKey) bool {
	ln := l.chats[chat]
	return ln != nil && ln.awaiting > 0
}

// Pending returns the messages of chat without an outcome, in send order.
func (l *Ledger) Pending(chat ChatKey) []Info {
	var out []Info
	if ln := l.chats[chat]; ln != nil {
		for _, e := range ln.order {
			if !e.done {
				out = append(out, e.info())
			}
		}
	}
	return out
}

// Chats returns the keys of the chats that have messages held.
func (l *Ledger) Chats() []ChatKey {
	out := make([]ChatKey, 0, len(l.chats))
	for k := range l.chats {
		out = append(out, k)
	}
	return out
}

// mapID records that the platform names e by id.
func (l *Ledger) mapID(e *entry, id string) {
	if id == "" || l.byID[id] != nil {
		return
	}
	l.byID[id] = e
	e.ids = append(e.ids, id)
}

// forget drops e: its ids go to the finished set, so that a later frame
// naming it is a duplicate.
func (l *Ledger) forget(e *entry) {
	for _, id := range e.ids {
		if l.byID[id] == e {
			delete(l.byID, id)
		}
		l.finished.add(id)
	}
	e.ids = nil
	l.setAwaiting(e, false)
	l.setParked(e, nil)
	if l.byClient[e.id] == e {
		delete(l.byClient, e.id)
	}
	ln := l.chats[e.chat]
	if ln == nil {
		return
	}
	// From the end: a message refused at once is the newest, an answered
	// one usually the oldest.
	if len(ln.order) > 0 && ln.order[0] == e {
		clear(ln.order[:1])
		ln.order = ln.order[1:]
	} else {
		for i := len(ln.order) - 1; i >= 0; i-- {
			if ln.order[i] == e {
				ln.order = append(ln.order[:i], ln.order[i+1:]...)
				ln.order[len(ln.order):cap(ln.order)][0] = nil
				break
			}
		}
	}
	if ln.current == e {
		ln.current = nil
	}
	if len(ln.order) == 0 {
		delete(l.chats, e.chat)
	}
}

// finishedSet is a bounded set of ids, oldest dropped first. It keeps a
// 64-bit hash of each id, not the id: 8 bytes an id in the ring and one map
// slot, however long the ids are. Two ids of one set colliding is a chance
// of about n²/2⁶⁵ (negligible at any limit), and costs a frame dropped as a
// duplicate.
type finishedSet struct {
	limit int
	seed  maphash.Seed
	ids   map[uint64]struct{}
	q     []uint64 // in the order added; the oldest is q[0]
}

func newFinishedSet(limit int) finishedSet {
	return finishedSet{limit: limit, seed: maphash.MakeSeed()}
}

func (f *finishedSet) add(id string) {
	if id == "" {
		return
	}
	h := maphash.String(f.seed, id)
	if _, ok := f.ids[h]; ok {
		return
	}
	if f.ids == nil {
		f.ids = map[uint64]struct{}{}
	}
	f.ids[h] = struct{}{}
	f.q = append(f.q, h)
	if over := len(f.q) - f.limit; over > 0 {
		for _, old := range f.q[:over] {
			delete(f.ids, old)
		}
		f.q = f.q[over:]
	}
}

func (f *finishedSet) has(id string) bool {
	if id == "" || len(f.ids) == 0 {
		return false
	}
	_, ok := f.ids[maphash.String(f.seed, id)]
	return ok
}
