package registry

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStatus_StringNamesEachStatus(t *testing.T) {
	tests := []struct {
		s    Status
		want string
	}{
		{StatusSending, "sending"},
		{StatusSent, "sent"},
		{StatusDelivered, "delivered"},
		{StatusAnswered, "answered"},
		{StatusFailed, "failed"},
		{StatusStreaming, "streaming"},
		{StatusComplete, "complete"},
		{0, "unknown"},
		{-1, "unknown"},
		{StatusComplete + 1, "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.s.String())
		})
	}
}

func TestStatus_TerminalOnlyAnsweredCompleteFailed(t *testing.T) {
	terminal := map[Status]bool{StatusAnswered: true, StatusComplete: true, StatusFailed: true}
	for s := Status(0); s <= StatusComplete+1; s++ {
		t.Run(s.String(), func(t *testing.T) {
			assert.Equal(t, terminal[s], s.Terminal())
		})
	}
}

func TestRole_StringNamesEachRole(t *testing.T) {
	tests := []struct {
		r    Role
		want string
	}{
		{RoleUser, "user"},
		{RoleAssistant, "assistant"},
		{Role(7), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.r.String())
		})
	}
}

// allStatuses includes values that are not statuses, to prove they are
// refused.
var allStatuses = []Status{0, StatusSending, StatusSent, StatusDelivered, StatusAnswered,
	StatusFailed, StatusStreaming, StatusComplete, StatusComplete + 1}

// The legal changes, written out by hand. Everything else between two
// different statuses is illegal; the same status again is a no-op.
var legalTransitions = map[Role]map[[2]Status]bool{
	RoleUser: {
		{StatusSending, StatusSent}:       true,
		{StatusSending, StatusDelivered}:  true,
		{StatusSending, StatusAnswered}:   true,
		{StatusSending, StatusFailed}:     true,
		{StatusSent, StatusDelivered}:     true,
		{StatusSent, StatusAnswered}:      true,
		{StatusSent, StatusFailed}:        true,
		{StatusDelivered, StatusAnswered}: true,
		{StatusDelivered, StatusFailed}:   true,
	},
	RoleAssistant: {
		{StatusStreaming, StatusComplete}: true,
		{StatusStreaming, StatusFailed}:   true,
	},
}

// holdable lists, by hand, the statuses each role can be in.
var holdable = map[Role][]Status{
	RoleUser:      {StatusSending, StatusSent, StatusDelivered, StatusAnswered, StatusFailed},
	RoleAssistant: {StatusStreaming, StatusComplete, StatusFailed},
}

func TestTransition_MovesOnlyForward(t *testing.T) {
	type outcome int
	const (
		changed outcome = iota
		noop
		illegal
	)
	type row struct {
		name     string
		role     Role
		from, to Status
		want     outcome
	}
	var rows []row
	for _, role := range []Role{RoleUser, RoleAssistant} {
		for _, from := range holdable[role] {
			for _, to := range allStatuses {
				want := illegal
				switch {
				case from == to:
					want = noop
				case legalTransitions[role][[2]Status{from, to}]:
					want = changed
				}
				name := fmt.Sprintf("%s/%s_to_%s(%d)", role, from, to, int(to))
				rows = append(rows, row{name, role, from, to, want})
			}
		}
	}
	require.Len(t, rows, (5+3)*len(allStatuses))

	cause := errors.New("boom")
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			r := New(Config{Now: clock.Now})
			m, err := r.Register(Message{Role: tt.role, ChatID: "c", Status: tt.from})
			require.NoError(t, err)
			require.Equal(t, tt.from, m.Status)
			clock.Advance(1)

			got, ok, err := r.Transition(m.ClientID, tt.to, cause)
			after, found := r.Get(m.ClientID)
			require.True(t, found)
			switch tt.want {
			case changed:
				require.NoError(t, err)
				assert.True(t, ok)
				assert.Equal(t, tt.to, got.Status)
				assert.Equal(t, clock.Now(), got.UpdatedAt)
				if tt.to == StatusFailed {
					assert.Same(t, cause, got.Err)
				} else {
					assert.NoError(t, got.Err)
				}
				assert.Equal(t, got, after)
			case noop:
				require.NoError(t, err)
				assert.False(t, ok)
				assert.Equal(t, m, got)
				assert.Equal(t, m, after)
			case illegal:
				require.ErrorIs(t, err, ErrIllegalTransition)
				var te *TransitionError
				require.ErrorAs(t, err, &te)
				assert.Equal(t, TransitionError{ID: m.ClientID, From: tt.from, To: tt.to}, *te)
				assert.Contains(t, te.Error(), "from "+tt.from.String()+" to "+tt.to.String())
				assert.False(t, ok)
				assert.Equal(t, m, got)
				assert.Equal(t, m, after)
			}
		})
	}
}

func TestTransition_FailedKeepsFirstCause(t *testing.T) {
	r := New(Config{})
	m, err := r.Register(Message{ChatID: "c"})
	require.NoError(t, err)
	first, second := errors.New("first"), errors.New("second")
	_, ok, err := r.Transition(m.ClientID, StatusFailed, first)
	require.NoError(t, err)
	require.True(t, ok)
	got, ok, err := r.Transition(m.ClientID, StatusFailed, second)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Same(t, first, got.Err)
}

func TestTransition_UnknownIDIsErrUnknownMessage(t *testing.T) {
	r := New(Config{})
	got, ok, err := r.Transition("nope", StatusSent, nil)
	require.ErrorIs(t, err, ErrUnknownMessage)
	assert.Contains(t, err.Error(), `"nope"`)
	assert.False(t, ok)
	assert.Equal(t, Message{}, got)
}
