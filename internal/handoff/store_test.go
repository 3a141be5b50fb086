package handoff

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// backends are the stores every contract test runs against.
var backends = []struct {
	name string
	open func(testing.TB) *SQLStore
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// ticketAt returns an open ticket of session made at t0+d, with its event.
func ticketAt(id, tenant, session string, priority int, d time.Duration) (Ticket, Event) {
	at := t0.Add(d)
	t := Ticket{ID: id, Tenant: tenant, Session: session, Priority: priority, Status: StatusOpen, Version: 1,
		CreatedAt: at, UpdatedAt: at, Facts: map[string][]string{"order_number": {"100123"}},
		Turns: []Turn{{Role: "user", Content: "where is my order 100123"}}}
	ev, err := newEvent(EventCreated, t, nil)
	if err != nil {
		panic(err)
	}
	return t, ev
}

func TestStoreContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Run("create, get, active", func(t *testing.T) { testCreate(t, b.open(t)) })
			t.Run("one active ticket per session", func(t *testing.T) { testOneActive(t, b.open(t)) })
			t.Run("update", func(t *testing.T) { testUpdate(t, b.open(t)) })
			t.Run("list", func(t *testing.T) { testList(t, b.open(t)) })
			t.Run("events", func(t *testing.T) { testEvents(t, b.open(t)) })
		})
	}
}

func testCreate(t *testing.T, s Store) {
	ctx := context.Background()
	tk, ev := ticketAt("ho_1", "acme", "s1", 5, 0)
	got, created, err := s.Create(ctx, tk, ev)
	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, tk, got)

	got, err = s.Get(ctx, "ho_1")
	require.NoError(t, err)
	assert.Equal(t, tk, got)
	got, err = s.Active(ctx, "acme", "s1")
	require.NoError(t, err)
	assert.Equal(t, tk, got)

	_, err = s.Get(ctx, "ho_nosuch")
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Active(ctx, "other", "s1")
	assert.ErrorIs(t, err, ErrNotFound, "tenants are separate")
	_, err = s.Active(ctx, "acme", "s2")
	assert.ErrorIs(t, err, ErrNotFound)

	stored, err := s.Event(ctx, ev.ID)
	require.NoError(t, err)
	assert.Equal(t, ev.Body, stored.Body)
	assert.Equal(t, EventCreated, stored.Type)
	assert.Equal(t, "ho_1", stored.TicketID)
	assert.Nil(t, stored.PublishedAt)
}

func testOneActive(t *testing.T, s Store) {
	ctx := context.Background()
	first, ev := ticketAt("ho_a", "acme", "s1", 1, 0)
	_, _, err := s.Create(ctx, first, ev)
	require.NoError(t, err)

	second, ev2 := ticketAt("ho_b", "acme", "s1", 9, time.Second)
	got, created, err := s.Create(ctx, second, ev2)
	require.NoError(t, err)
	assert.False(t, created)
	assert.Equal(t, "ho_a", got.ID)
	_, err = s.Event(ctx, ev2.ID)
	assert.ErrorIs(t, err, ErrNotFound, "nothing of the second ticket is stored")

	// Claimed still holds the session; resolved frees it.
	for _, st := range []Status{StatusClaimed, StatusResolved} {
		_, err = s.Update(ctx, "ho_a", func(tk *Ticket) (*Event, error) { tk.Status = st; return nil, nil })
		require.NoError(t, err)
		_, created, err = s.Create(ctx, second, ev2)
		require.NoError(t, err)
		assert.Equal(t, st == StatusResolved, created, "after %s", st)
	}

	// Concurrent opens of one session: exactly one ticket.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			tk, ev := ticketAt("ho_c"+string(rune('0'+i)), "acme", "s9", 1, 0)
			got, created, err := s.Create(ctx, tk, ev)
			if !assert.NoError(t, err) {
				return
			}
			if created {
				wins.Add(1)
			}
			assert.Equal(t, "s9", got.Session)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(1), wins.Load())
}

func testUpdate(t *testing.T, s Store) {
	ctx := context.Background()
	tk, ev := ticketAt("ho_u", "acme", "s1", 1, 0)
	_, _, err := s.Create(ctx, tk, ev)
	require.NoError(t, err)

	boom := errors.New("boom")
	_, err = s.Update(ctx, "ho_u", func(tk *Ticket) (*Event, error) { tk.Priority = 99; return nil, boom })
	assert.ErrorIs(t, err, boom)
	got, err := s.Get(ctx, "ho_u")
	require.NoError(t, err)
	assert.Equal(t, 1, got.Priority, "a failed update changes nothing")

	got, err = s.Update(ctx, "ho_u", func(tk *Ticket) (*Event, error) {
		tk.Priority, tk.Version, tk.UpdatedAt = 7, 2, t0.Add(time.Minute)
		tk.Messages = append(tk.Messages, Turn{Role: "user", Content: "hello?"})
		ev, err := newEvent(EventMessage, *tk, &tk.Messages[0])
		return &ev, err
	})
	require.NoError(t, err)
	assert.Equal(t, 7, got.Priority)
	stored, err := s.Get(ctx, "ho_u")
	require.NoError(t, err)
	assert.Equal(t, got, stored)
	ev2, err := s.Event(ctx, "ho_u.2")
	require.NoError(t, err)
	assert.Equal(t, EventMessage, ev2.Type)

	_, err = s.Update(ctx, "ho_nosuch", func(*Ticket) (*Event, error) { return nil, nil })
	assert.ErrorIs(t, err, ErrNotFound)

	// Concurrent updates are serialised: none is lost.
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			_, err := s.Update(ctx, "ho_u", func(tk *Ticket) (*Event, error) {
				tk.Messages = append(tk.Messages, Turn{Role: "user", Content: "x"})
				return nil, nil
			})
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	stored, err = s.Get(ctx, "ho_u")
	require.NoError(t, err)
	assert.Len(t, stored.Messages, 11)
}

func testList(t *testing.T, s Store) {
	ctx := context.Background()
	add := func(id, tenant string, prio int, d time.Duration, st Status) {
		tk, ev := ticketAt(id, tenant, "sess_"+id, prio, d)
		_, _, err := s.Create(ctx, tk, ev)
		require.NoError(t, err)
		if st != StatusOpen {
			_, err = s.Update(ctx, id, func(tk *Ticket) (*Event, error) {
				tk.Status, tk.UpdatedAt = st, t0.Add(time.Hour+d)
				return nil, nil
			})
			require.NoError(t, err)
		}
	}
	add("ho_low_old", "acme", 1, 0, StatusOpen)
	add("ho_high", "acme", 9, 2*time.Second, StatusOpen)
	add("ho_low_new", "acme", 1, 3*time.Second, StatusClaimed)
	add("ho_other", "globex", 5, time.Second, StatusOpen)
	add("ho_done_old", "acme", 9, 4*time.Second, StatusResolved)
	add("ho_done_new", "acme", 1, 5*time.Second, StatusResolved)

	ids := func(f Filter) []string {
		ts, err := s.List(ctx, f)
		require.NoError(t, err)
		out := []string{}
		for _, tk := range ts {
			out = append(out, tk.ID)
		}
		return out
	}
	tests := []struct {
		name string
		give Filter
		want []string
	}{
		{"all", Filter{}, []string{"ho_high", "ho_other", "ho_low_old", "ho_low_new", "ho_done_new", "ho_done_old"}},
		{"open", Filter{Status: StatusOpen}, []string{"ho_high", "ho_other", "ho_low_old"}},
		{"claimed", Filter{Status: StatusClaimed}, []string{"ho_low_new"}},
		{"resolved", Filter{Status: StatusResolved}, []string{"ho_done_new", "ho_done_old"}},
		{"tenant", Filter{Tenant: "globex"}, []string{"ho_other"}},
		{"tenant and status", Filter{Tenant: "acme", Status: StatusOpen}, []string{"ho_high", "ho_low_old"}},
		{"limit", Filter{Limit: 2}, []string{"ho_high", "ho_other"}},
		{"none", Filter{Tenant: "nobody"}, []string{}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ids(tt.give), tt.name)
	}
}

func testEvents(t *testing.T, s Store) {
	ctx := context.Background()
	for i, id := range []string{"ho_e1", "ho_e2", "ho_e3"} {
		tk, ev := ticketAt(id, "acme", id, 1, time.Duration(i)*time.Second)
		_, _, err := s.Create(ctx, tk, ev)
		require.NoError(t, err)
	}
	pending := func(unpub, pub time.Time) []string {
		evs, err := s.Pending(ctx, unpub, pub, 10)
		require.NoError(t, err)
		out := []string{}
		for _, ev := range evs {
			out = append(out, ev.ID)
		}
		return out
	}
	assert.Equal(t, []string{"ho_e1.1", "ho_e2.1", "ho_e3.1"}, pending(t0.Add(time.Hour), t0))
	assert.Equal(t, []string{"ho_e1.1"}, pending(t0.Add(time.Second), t0), "only those made before the cut")

	pubAt, delAt := t0.Add(10*time.Second), t0.Add(20*time.Second)
	require.NoError(t, s.MarkEvent(ctx, "ho_e1.1", EventMark{Published: &pubAt}))
	require.NoError(t, s.MarkEvent(ctx, "ho_e2.1", EventMark{Published: &pubAt}))
	require.NoError(t, s.MarkEvent(ctx, "ho_e2.1", EventMark{Delivered: &delAt}))
	require.NoError(t, s.MarkEvent(ctx, "ho_e3.1", EventMark{Failed: "given up: 410"}))
	assert.ErrorIs(t, s.MarkEvent(ctx, "ho_nosuch.1", EventMark{Failed: "x"}), ErrNotFound)

	assert.Equal(t, []string{}, pending(t0.Add(time.Hour), t0), "published recently, delivered or failed")
	assert.Equal(t, []string{"ho_e1.1"}, pending(t0.Add(time.Hour), t0.Add(time.Minute)), "published long ago, undelivered")

	ev, err := s.Event(ctx, "ho_e2.1")
	require.NoError(t, err)
	assert.Equal(t, pubAt, *ev.PublishedAt)
	assert.Equal(t, delAt, *ev.DeliveredAt)
	later := delAt.Add(time.Hour)
	require.NoError(t, s.MarkEvent(ctx, "ho_e2.1", EventMark{Published: &later, Delivered: &later}))
	ev, err = s.Event(ctx, "ho_e2.1")
	require.NoError(t, err)
	assert.Equal(t, later, *ev.PublishedAt, "the last publish counts")
	assert.Equal(t, delAt, *ev.DeliveredAt, "the first delivery counts")
	ev, err = s.Event(ctx, "ho_e3.1")
	require.NoError(t, err)
	assert.Equal(t, "given up: 410", ev.Failed)
}
