package registry

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// registerAll registers user messages named by id, in order, in the given
// chats, and moves each to the given status.
func registerAll(t *testing.T, r *Registry, msgs []struct {
	id, chat string
	role     Role
	status   Status
}) {
	t.Helper()
	for _, m := range msgs {
		_, err := r.Register(Message{ClientID: m.id, ChatID: m.chat, Role: m.role})
		require.NoError(t, err)
		if m.status != 0 {
			_, _, err = r.Transition(m.id, m.status, nil)
			require.NoError(t, err)
		}
	}
}

var orderFixture = []struct {
	id, chat string
	role     Role
	status   Status
}{
	{"a1", "A", RoleUser, StatusAnswered},
	{"b1", "B", RoleUser, StatusDelivered},
	{"a2", "A", RoleUser, StatusDelivered},
	{"x1", "A", RoleAssistant, 0},
	{"a3", "A", RoleUser, StatusSent},
	{"b2", "B", RoleUser, 0},
	{"a4", "A", RoleUser, StatusFailed},
	{"a5", "A", RoleUser, 0},
	{"n1", "", RoleUser, StatusSent},
}

func ids(ms []Message) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ClientID)
	}
	return out
}

func TestPending_NonTerminalUserMessagesInSeqOrder(t *testing.T) {
	tests := []struct {
		chat string
		want []string
	}{
		{"A", []string{"a2", "a3", "a5"}},
		{"B", []string{"b1", "b2"}},
		{"", []string{"b1", "a2", "a3", "b2", "a5", "n1"}},
		{"Z", []string{}},
	}
	for _, tt := range tests {
		t.Run("chat_"+tt.chat, func(t *testing.T) {
			r := New(Config{})
			registerAll(t, r, orderFixture)
			got := r.Pending(tt.chat)
			assert.Equal(t, tt.want, ids(got))
			for i := 1; i < len(got); i++ {
				assert.Less(t, got[i-1].Seq, got[i].Seq)
			}
		})
	}
}

func TestOldestPending_OldestBySeqAmongStatuses(t *testing.T) {
	tests := []struct {
		name     string
		chat     string
		statuses []Status
		want     string
	}{
		{"chat A any status", "A", nil, "a2"},
		{"chat A sent", "A", []Status{StatusSent}, "a3"},
		{"chat A sending or sent", "A", []Status{StatusSending, StatusSent}, "a3"},
		{"chat A sending", "A", []Status{StatusSending}, "a5"},
		{"chat B sending or sent", "B", []Status{StatusSending, StatusSent}, "b2"},
		{"chat B delivered", "B", []Status{StatusDelivered}, "b1"},
		{"any chat any status", "", nil, "b1"},
		{"any chat sent", "", []Status{StatusSent}, "a3"},
		{"terminal statuses never match", "A", []Status{StatusAnswered, StatusFailed}, ""},
		{"assistant statuses never match", "A", []Status{StatusStreaming}, ""},
		{"unknown chat", "Z", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{})
			registerAll(t, r, orderFixture)
			got, ok := r.OldestPending(tt.chat, tt.statuses...)
			if tt.want == "" {
				assert.False(t, ok)
				assert.Equal(t, Message{}, got)
				return
			}
			require.True(t, ok)
			assert.Equal(t, tt.want, got.ClientID)
		})
	}
}

func TestOldestPending_CorrelatesAcksInSendOrder(t *testing.T) {
	r := New(Config{})
	for i := range 3 {
		_, err := r.Register(Message{ClientID: fmt.Sprint("m", i), ChatID: "c"})
		require.NoError(t, err)
		_, _, err = r.Transition(fmt.Sprint("m", i), StatusSent, nil)
		require.NoError(t, err)
	}
	for i := range 3 {
		m, ok := r.OldestPending("c", StatusSending, StatusSent)
		require.True(t, ok)
		assert.Equal(t, fmt.Sprint("m", i), m.ClientID)
		_, _, err := r.Transition(m.ClientID, StatusDelivered, nil)
		require.NoError(t, err)
	}
	_, ok := r.OldestPending("c", StatusSending, StatusSent)
	assert.False(t, ok)
}

func TestOrphans_ReportedOnceAfterOrphanAge(t *testing.T) {
	clock := newFakeClock()
	r := New(Config{Now: clock.Now, OrphanAge: time.Minute})
	registerAll(t, r, []struct {
		id, chat string
		role     Role
		status   Status
	}{
		{"sending", "A", RoleUser, 0},
		{"sent", "B", RoleUser, StatusSent},
		{"delivered", "A", RoleUser, StatusDelivered},
		{"failed", "A", RoleUser, StatusFailed},
		{"assistant", "A", RoleAssistant, 0},
	})

	clock.Advance(time.Minute - time.Nanosecond)
	assert.Empty(t, r.Orphans(), "before the age")

	clock.Advance(time.Nanosecond)
	late, err := r.Register(Message{ClientID: "late", ChatID: "A"})
	require.NoError(t, err)
	assert.Equal(t, []string{"sending", "sent"}, ids(r.Orphans()), "at the age")
	assert.Empty(t, r.Orphans(), "reported once")

	clock.Advance(time.Minute)
	got := r.Orphans()
	assert.Equal(t, []string{"late"}, ids(got))
	assert.Equal(t, late.Seq, got[0].Seq)
	assert.Equal(t, StatusSending, got[0].Status, "an orphan keeps its status")

	clock.Advance(time.Hour)
	assert.Empty(t, r.Orphans())
}

func TestOrphans_AgeCountsFromCreatedAt(t *testing.T) {
	clock := newFakeClock()
	r := New(Config{Now: clock.Now})
	_, err := r.Register(Message{ClientID: "old", CreatedAt: clock.Now().Add(-5 * time.Minute)})
	require.NoError(t, err)
	_, err = r.Register(Message{ClientID: "new"})
	require.NoError(t, err)
	assert.Equal(t, []string{"old"}, ids(r.Orphans()), "default age is 5 min")
}

func TestOrphans_NegativeAgeDisablesReporting(t *testing.T) {
	clock := newFakeClock()
	r := New(Config{Now: clock.Now, OrphanAge: -1})
	_, err := r.Register(Message{ChatID: "c"})
	require.NoError(t, err)
	clock.Advance(24 * time.Hour)
	assert.Empty(t, r.Orphans())
}

func TestOldestPending_AnyChatPicksSmallestSeqAcrossChats(t *testing.T) {
	r := New(Config{})
	// Registered round-robin: m0-0, m1-0, ..., m9-0, m0-1, ... The first
	// message of every chat but chat 5 is answered, so the oldest pending
	// message overall is m5-0, and the oldest after it is m0-1.
	for j := range 3 {
		for i := range 10 {
			_, err := r.Register(Message{ClientID: fmt.Sprintf("m%d-%d", i, j), ChatID: fmt.Sprint("chat", i)})
			require.NoError(t, err)
		}
	}
	for i := range 10 {
		if i != 5 {
			_, _, err := r.Transition(fmt.Sprintf("m%d-0", i), StatusAnswered, nil)
			require.NoError(t, err)
		}
	}
	_, _, err := r.Transition("m5-0", StatusSent, nil)
	require.NoError(t, err)
	// Map iteration order varies between calls; the answer must not.
	for range 50 {
		got, ok := r.OldestPending("")
		require.True(t, ok)
		require.Equal(t, "m5-0", got.ClientID)
		got, ok = r.OldestPending("", StatusSending)
		require.True(t, ok)
		require.Equal(t, "m0-1", got.ClientID)
		got, ok = r.OldestPending("", StatusSent)
		require.True(t, ok)
		require.Equal(t, "m5-0", got.ClientID)
	}
}
