package registry

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew_ZeroConfigTakesDefaults(t *testing.T) {
	tests := []struct {
		name       string
		cfg        Config
		wantOrphan time.Duration
		wantRetain int
	}{
		{"zero", Config{}, 5 * time.Minute, 4096},
		{"set", Config{OrphanAge: time.Second, Retain: 3}, time.Second, 3},
		{"negative", Config{OrphanAge: -1, Retain: -1}, -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			r := New(cfg)
			assert.Equal(t, tt.wantOrphan, r.orphanAge)
			assert.Equal(t, tt.wantRetain, r.retain)
			assert.NotNil(t, r.now)
			assert.Equal(t, tt.cfg, cfg, "caller's config changed")
		})
	}
}

func TestRegister_FillsIDsStatusAndTimes(t *testing.T) {
	clock := newFakeClock()
	created := clock.Now().Add(-time.Hour)
	fallback := regexp.MustCompile(`^temp_\d+_[0-9a-f]{8}$`)
	tests := []struct {
		name       string
		in         Message
		wantID     func(t *testing.T, id string)
		wantStatus Status
		wantCreate time.Time
	}{
		{
			name: "user without id gets a UUID v4",
			in:   Message{ChatID: "c", Text: "hi"},
			wantID: func(t *testing.T, id string) {
				u, err := uuid.Parse(id)
				require.NoError(t, err)
				assert.Equal(t, uuid.Version(4), u.Version())
			},
			wantStatus: StatusSending,
			wantCreate: clock.Now(),
		},
		{
			name:       "user id is kept",
			in:         Message{ClientID: "cm-1", ChatID: "c", CreatedAt: created},
			wantID:     func(t *testing.T, id string) { assert.Equal(t, "cm-1", id) },
			wantStatus: StatusSending,
			wantCreate: created,
		},
		{
			name:       "assistant takes its server id",
			in:         Message{Role: RoleAssistant, ServerID: "srv-9", ChatID: "c"},
			wantID:     func(t *testing.T, id string) { assert.Equal(t, "srv-9", id) },
			wantStatus: StatusStreaming,
			wantCreate: clock.Now(),
		},
		{
			name:       "assistant without ids gets a fallback id",
			in:         Message{Role: RoleAssistant, ChatID: "c"},
			wantID:     func(t *testing.T, id string) { assert.Regexp(t, fallback, id) },
			wantStatus: StatusStreaming,
			wantCreate: clock.Now(),
		},
		{
			name:       "given status is kept",
			in:         Message{Role: RoleAssistant, ClientID: "a-1", Status: StatusComplete},
			wantID:     func(t *testing.T, id string) { assert.Equal(t, "a-1", id) },
			wantStatus: StatusComplete,
			wantCreate: clock.Now(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{Now: clock.Now})
			m, err := r.Register(tt.in)
			require.NoError(t, err)
			tt.wantID(t, m.ClientID)
			assert.Equal(t, tt.wantStatus, m.Status)
			assert.Equal(t, tt.wantCreate, m.CreatedAt)
			assert.Equal(t, clock.Now(), m.UpdatedAt)
			assert.Equal(t, uint64(1), m.Seq)
			got, ok := r.Get(m.ClientID)
			require.True(t, ok)
			assert.Equal(t, m, got)
			if tt.in.ServerID != "" {
				got, ok = r.Get(tt.in.ServerID)
				require.True(t, ok)
				assert.Equal(t, m, got)
			}
		})
	}
}

func TestRegister_SeqIncreases(t *testing.T) {
	r := New(Config{})
	var last uint64
	for i := range 10 {
		role := Role(i % 2)
		m, err := r.Register(Message{Role: role, ChatID: "c"})
		require.NoError(t, err)
		assert.Greater(t, m.Seq, last)
		last = m.Seq
	}
	assert.Equal(t, 10, r.Len())
}

func TestRegister_RejectsTakenIDs(t *testing.T) {
	tests := []struct {
		name string
		in   Message
	}{
		{"same client id", Message{ClientID: "u-1"}},
		{"client id is another's server id", Message{ClientID: "s-1"}},
		{"server id is another's client id", Message{Role: RoleAssistant, ClientID: "a-2", ServerID: "u-1"}},
		{"server id is another's server id", Message{Role: RoleAssistant, ClientID: "a-2", ServerID: "s-1"}},
		{"assistant defaulting to a taken server id", Message{Role: RoleAssistant, ServerID: "s-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{})
			_, err := r.Register(Message{ClientID: "u-1", ServerID: "s-1"})
			require.NoError(t, err)
			_, err = r.Register(tt.in)
			require.ErrorIs(t, err, ErrIDConflict)
			assert.Equal(t, 1, r.Len())
		})
	}
}

func TestRegister_RejectsInvalidMessages(t *testing.T) {
	tests := []struct {
		name string
		in   Message
	}{
		{"unknown role", Message{Role: Role(5)}},
		{"negative role", Message{Role: Role(-1)}},
		{"user streaming", Message{Status: StatusStreaming}},
		{"user complete", Message{Status: StatusComplete}},
		{"assistant sending", Message{Role: RoleAssistant, Status: StatusSending}},
		{"assistant answered", Message{Role: RoleAssistant, Status: StatusAnswered}},
		{"not a status", Message{Status: StatusComplete + 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{})
			_, err := r.Register(tt.in)
			require.ErrorIs(t, err, ErrInvalidMessage)
			assert.Equal(t, 0, r.Len())
		})
	}
}

func TestMapServerID_LookupsWorkByEitherID(t *testing.T) {
	r := New(Config{})
	m, err := r.Register(Message{ChatID: "c", Text: "hi"})
	require.NoError(t, err)
	require.NoError(t, r.MapServerID(m.ClientID, "srv-1"))

	byClient, ok := r.Get(m.ClientID)
	require.True(t, ok)
	byServer, ok := r.Get("srv-1")
	require.True(t, ok)
	assert.Equal(t, byClient, byServer)
	assert.Equal(t, "srv-1", byServer.ServerID)
	assert.Equal(t, m.ClientID, byServer.ClientID)

	got, ok, err := r.Transition("srv-1", StatusDelivered, nil)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, StatusDelivered, got.Status)
	byClient, _ = r.Get(m.ClientID)
	assert.Equal(t, StatusDelivered, byClient.Status)

	// A server id already mapped finds the message too.
	require.NoError(t, r.MapServerID("srv-1", "srv-1"))

	r.Remove("srv-1")
	_, ok = r.Get(m.ClientID)
	assert.False(t, ok)
	_, ok = r.Get("srv-1")
	assert.False(t, ok)
	assert.Empty(t, r.byServer)
	assert.Equal(t, 0, r.Len())
}

func TestMapServerID_AssistantFallbackGetsServerID(t *testing.T) {
	r := New(Config{})
	a, err := r.Register(Message{Role: RoleAssistant, ChatID: "c"})
	require.NoError(t, err)
	require.NoError(t, r.MapServerID(a.ClientID, "srv-a"))
	got, ok, err := r.Transition("srv-a", StatusComplete, nil)
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, a.ClientID, got.ClientID)
	assert.Equal(t, "srv-a", got.ServerID)
}

func TestMapServerID_RefusesConflictsAndUnknownIDs(t *testing.T) {
	tests := []struct {
		name     string
		clientID string
		serverID string
		wantErr  error
	}{
		{"same pair again is a no-op", "u-1", "s-1", nil},
		{"unknown message", "nope", "s-9", ErrUnknownMessage},
		{"empty server id", "u-1", "", ErrInvalidMessage},
		{"message already has another server id", "u-1", "s-9", ErrIDConflict},
		{"server id of another message", "u-2", "s-1", ErrIDConflict},
		{"server id is another's client id", "u-2", "u-1", ErrIDConflict},
		{"new mapping", "u-2", "s-2", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{})
			_, err := r.Register(Message{ClientID: "u-1", ServerID: "s-1"})
			require.NoError(t, err)
			_, err = r.Register(Message{ClientID: "u-2"})
			require.NoError(t, err)
			before2, _ := r.Get("u-2")

			err = r.MapServerID(tt.clientID, tt.serverID)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				after2, _ := r.Get("u-2")
				assert.Equal(t, before2, after2)
				got, ok := r.Get("s-1")
				require.True(t, ok)
				assert.Equal(t, "u-1", got.ClientID)
				return
			}
			require.NoError(t, err)
			got, ok := r.Get(tt.serverID)
			require.True(t, ok)
			assert.Equal(t, tt.clientID, got.ClientID)
		})
	}
}

func TestGet_UnknownIDIsNotFound(t *testing.T) {
	r := New(Config{})
	_, err := r.Register(Message{ClientID: "u-1"})
	require.NoError(t, err)
	m, ok := r.Get("u-2")
	assert.False(t, ok)
	assert.Equal(t, Message{}, m)
}

func TestGet_ReturnsACopy(t *testing.T) {
	r := New(Config{})
	m, err := r.Register(Message{ClientID: "u-1", Text: "hi"})
	require.NoError(t, err)
	m.Text = "changed"
	got, _ := r.Get("u-1")
	got.Status = StatusFailed
	again, _ := r.Get("u-1")
	assert.Equal(t, "hi", again.Text)
	assert.Equal(t, StatusSending, again.Status)
}

func TestRetain_PrunesTerminalMessagesThatEndedFirst(t *testing.T) {
	r := New(Config{Retain: 3})
	for i := range 6 {
		id := fmt.Sprint("u", i)
		_, err := r.Register(Message{ClientID: id, ChatID: "c"})
		require.NoError(t, err)
		require.NoError(t, r.MapServerID(id, "s"+id))
	}
	// End them in the order u5, u4, ..., u0: the first to end go first.
	for i := 5; i >= 0; i-- {
		_, _, err := r.Transition(fmt.Sprint("u", i), StatusAnswered, nil)
		require.NoError(t, err)
	}
	assert.Equal(t, 3, r.Len())
	for i := range 6 {
		id := fmt.Sprint("u", i)
		_, byClient := r.Get(id)
		_, byServer := r.Get("s" + id)
		assert.Equal(t, i < 3, byClient, id)
		assert.Equal(t, i < 3, byServer, "s"+id)
	}
	assert.Len(t, r.byServer, 3)
	assert.Empty(t, r.pending)
}

func TestRetain_NeverPrunesPendingMessages(t *testing.T) {
	r := New(Config{Retain: 1})
	for range 5 {
		_, err := r.Register(Message{ChatID: "c"})
		require.NoError(t, err)
	}
	for i := range 3 {
		_, err := r.Register(Message{ClientID: fmt.Sprint("done", i), Status: StatusFailed})
		require.NoError(t, err)
	}
	assert.Equal(t, 6, r.Len())
	assert.Len(t, r.Pending("c"), 5)
	_, ok := r.Get("done2")
	assert.True(t, ok)
}

func TestRetain_NegativeDropsTerminalMessagesAtOnce(t *testing.T) {
	r := New(Config{Retain: -1})
	m, err := r.Register(Message{ServerID: "s-1"})
	require.NoError(t, err)
	got, ok, err := r.Transition("s-1", StatusAnswered, nil)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, m.ClientID, got.ClientID)
	assert.Equal(t, StatusAnswered, got.Status)
	assert.Equal(t, 0, r.Len())
	_, _, err = r.Transition("s-1", StatusAnswered, nil)
	assert.ErrorIs(t, err, ErrUnknownMessage)
}

func TestRetain_BoundsMemoryOverManyMessages(t *testing.T) {
	const retain = 64
	r := New(Config{Retain: retain})
	for i := range 20_000 {
		m, err := r.Register(Message{ChatID: fmt.Sprint("chat", i%7)})
		require.NoError(t, err)
		require.NoError(t, r.MapServerID(m.ClientID, fmt.Sprint("srv", i)))
		_, _, err = r.Transition(m.ClientID, StatusAnswered, nil)
		require.NoError(t, err)
		a, err := r.Register(Message{Role: RoleAssistant, ServerID: fmt.Sprint("reply", i)})
		require.NoError(t, err)
		_, _, err = r.Transition(a.ClientID, StatusComplete, nil)
		require.NoError(t, err)
	}
	assert.Equal(t, retain, r.Len())
	assert.Len(t, r.byClient, retain)
	assert.LessOrEqual(t, len(r.byServer), retain)
	assert.Equal(t, retain, r.terminal.n)
	assert.Empty(t, r.pending, "emptied chat lists are dropped")
}

func TestRemove_ForgetsMessageEverywhere(t *testing.T) {
	tests := []struct {
		name   string
		status Status
		by     string
	}{
		{"pending by client id", StatusSent, "u-1"},
		{"pending by server id", StatusDelivered, "s-1"},
		{"terminal by client id", StatusAnswered, "u-1"},
		{"unknown id", StatusSent, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(Config{})
			_, err := r.Register(Message{ClientID: "u-0", ChatID: "c"})
			require.NoError(t, err)
			_, err = r.Register(Message{ClientID: "u-1", ServerID: "s-1", ChatID: "c"})
			require.NoError(t, err)
			_, _, err = r.Transition("u-1", tt.status, nil)
			require.NoError(t, err)

			r.Remove(tt.by)
			if tt.by == "nope" {
				assert.Equal(t, 2, r.Len())
				return
			}
			assert.Equal(t, 1, r.Len())
			_, ok := r.Get("u-1")
			assert.False(t, ok)
			_, ok = r.Get("s-1")
			assert.False(t, ok)
			assert.Equal(t, []string{"u-0"}, ids(r.Pending("")))
			assert.Equal(t, 0, r.terminal.n)
			// The id is free again.
			_, err = r.Register(Message{ClientID: "u-1", ServerID: "s-1"})
			assert.NoError(t, err)
		})
	}
}

func TestRegistry_ConcurrentRegisterTransition(t *testing.T) {
	const (
		workers = 8
		perWork = 200
	)
	r := New(Config{Retain: workers * perWork * 2})
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, workers*3)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			chat := fmt.Sprint("chat", w%3)
			for i := range perWork {
				m, err := r.Register(Message{ChatID: chat})
				if err != nil {
					errs <- err
					return
				}
				srv := fmt.Sprintf("srv-%d-%d", w, i)
				steps := []func() error{
					func() error { _, _, err := r.Transition(m.ClientID, StatusSent, nil); return err },
					func() error { return r.MapServerID(m.ClientID, srv) },
					func() error { _, _, err := r.Transition(srv, StatusDelivered, nil); return err },
					func() error {
						a, err := r.Register(Message{Role: RoleAssistant, ChatID: chat})
						if err != nil {
							return err
						}
						_, _, err = r.Transition(a.ClientID, StatusComplete, nil)
						return err
					},
					func() error { _, _, err := r.Transition(srv, StatusAnswered, nil); return err },
				}
				for _, step := range steps {
					if err := step(); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	// Readers run alongside the writers.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for range perWork {
				r.Pending("")
				r.OldestPending("chat1", StatusSent)
				r.Orphans()
				r.Len()
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	assert.Equal(t, workers*perWork*2, r.Len())
	assert.Empty(t, r.Pending(""))
	seqs := make(map[uint64]bool)
	for w := range workers {
		for i := range perWork {
			m, ok := r.Get(fmt.Sprintf("srv-%d-%d", w, i))
			require.True(t, ok)
			assert.Equal(t, StatusAnswered, m.Status)
			assert.False(t, seqs[m.Seq], "Seq %d given twice", m.Seq)
			seqs[m.Seq] = true
		}
	}
}

func TestRegistry_ConcurrentTransitionsOfOneMessageChangeItOnce(t *testing.T) {
	r := New(Config{})
	m, err := r.Register(Message{ChatID: "c"})
	require.NoError(t, err)
	const n = 16
	var wg sync.WaitGroup
	results := make(chan bool, n)
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, changed, err := r.Transition(m.ClientID, StatusDelivered, nil)
			if err != nil {
				results <- false
				return
			}
			results <- changed
		}()
	}
	close(start)
	wg.Wait()
	close(results)
	changes := 0
	for c := range results {
		if c {
			changes++
		}
	}
	assert.Equal(t, 1, changes)
	_, _, err = r.Transition(m.ClientID, StatusSent, nil)
	assert.True(t, errors.Is(err, ErrIllegalTransition))
}
