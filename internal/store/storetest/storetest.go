// Package storetest is the contract every store backend passes: one test
// body (Run, RunExpiry, RunShared) and one benchmark body (Bench), run by
// each backend's own tests against a fresh, isolated instance.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// Backend is the method set every store backend implements.
type Backend interface {
	Create(ctx context.Context, s *store.Session) error
	Load(ctx context.Context, tenant, id string, lastTurns int) (*store.Session, error)
	LoadSince(ctx context.Context, tenant, id string, afterSeq int64, maxTurns int) (*store.Session, error)
	AppendTurn(ctx context.Context, tenant, id string, lease store.Lease, t store.Turn) (seq int64, version int64, err error)
	SetSummary(ctx context.Context, tenant, id string, expectVersion int64, sum store.Summary, facts json.RawMessage) (int64, error)
	SetState(ctx context.Context, tenant, id string, lease store.Lease, agent, state string) (int64, error)
	Delete(ctx context.Context, tenant, id string) error

	Acquire(ctx context.Context, tenant, id, owner string, ttl time.Duration) (store.Lease, error)
	Renew(ctx context.Context, l store.Lease, ttl time.Duration) error
	Release(ctx context.Context, l store.Lease) error

	GetUser(ctx context.Context, tenant, userID string) (*store.UserState, error)
	PutUser(ctx context.Context, tenant, userID string, expectVersion int64, data json.RawMessage) (int64, error)

	PutRun(ctx context.Context, r *store.Run) error
	GetRun(ctx context.Context, tenant, id string) (*store.Run, error)
	UpdateRun(ctx context.Context, tenant, id string, fn func(*store.Run) error) (*store.Run, error)

	Close() error
}

// Run runs the contract against backends made by open, one fresh backend
// per subtest (open registers its own clean-up). Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"CreateLoad", testCreateLoad},
		{"InvalidArguments", testInvalid},
		{"TenantIsolation", testTenantIsolation},
		{"Windows", testWindows},
		{"AppendIdempotent", testAppendIdempotent},
		{"Fencing", testFencing},
		{"LeaseFIFO", testLeaseFIFO},
		{"LeaseExpiry", testLeaseExpiry},
		{"LeaseRenew", testLeaseRenew},
		{"AcquireCancel", testAcquireCancel},
		{"ConcurrentTurns", func(t *testing.T, b Backend) { concurrentTurns(t, b, b) }},
		{"Summary", testSummary},
		{"SummaryBesideWriter", testSummaryBesideWriter},
		{"SetState", testSetState},
		{"UserState", testUserState},
		{"UserConcurrent", testUserConcurrent},
		{"Runs", testRuns},
		{"RunsConcurrent", testRunsConcurrent},
		{"Delete", testDelete},
		{"LargeSession", testLargeSession},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// RunShared runs the part of the contract that needs two handles on the same
// data, as two processes sharing a store would have: a conversation started
// through one handle is continued through the other, leases hand over
// between them, and 50 concurrent turns split across both stay serialised.
func RunShared(t *testing.T, open func(t *testing.T) (a, b Backend)) {
	t.Run("Continue", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		ctx := t.Context()
		mustCreate(t, a, "t1", "s1")
		appendTurns(t, a, "t1", "s1", 1, 2)
		s := mustLoad(t, b, "t1", "s1", 0)
		if s.TurnCount != 2 || len(s.Turns) != 2 {
			t.Fatalf("second handle sees %d turns (count %d), want 2", len(s.Turns), s.TurnCount)
		}
		appendTurns(t, b, "t1", "s1", 3, 3)
		if s := mustLoad(t, a, "t1", "s1", 0); s.TurnCount != 3 || s.Turns[2].ID != "turn-3" {
			t.Fatalf("first handle sees %d turns, last %q; want 3, turn-3", s.TurnCount, s.Turns[len(s.Turns)-1].ID)
		}
		if _, err := b.GetUser(ctx, "t1", "u1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetUser = %v, want ErrNotFound", err)
		}
	})
	t.Run("LeaseHandover", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		ctx := t.Context()
		la := mustAcquire(t, a, "t1", "s1", "a", 10*time.Second)
		done := make(chan store.Lease, 1)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			l, err := b.Acquire(ctx, "t1", "s1", "b", 10*time.Second)
			if err != nil {
				t.Errorf("Acquire through the second handle: %v", err)
			}
			done <- l
		}()
		time.Sleep(100 * time.Millisecond)
		early := len(done) > 0
		start := time.Now()
		if err := a.Release(ctx, la); err != nil {
			t.Fatal(err)
		}
		lb := <-done
		if early {
			t.Fatal("second handle got a held lease")
		}
		t.Logf("handover between handles took %v", time.Since(start))
		if lb.Token <= la.Token {
			t.Fatalf("token after handover %d, want > %d", lb.Token, la.Token)
		}
		if err := b.Release(ctx, lb); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ConcurrentTurns", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		concurrentTurns(t, a, b)
	})
}

// RunExpiry runs the expiry contract against a backend opened with ttl as
// its session, user state and run time-to-live.
func RunExpiry(t *testing.T, open func(t *testing.T, ttl time.Duration) Backend) {
	t.Parallel()
	const ttl = time.Second
	b := open(t, ttl)
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	mustCreate(t, b, "t1", "s2")
	if _, err := b.PutUser(ctx, "t1", "u1", 0, json.RawMessage(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := b.PutRun(ctx, &store.Run{Tenant: "t1", ID: "r1", Status: store.RunQueued}); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, b, "t1", "s1", 0)
	if got := s.ExpiresAt.Sub(s.UpdatedAt); got != ttl {
		t.Errorf("ExpiresAt - UpdatedAt = %v, want %v", got, ttl)
	}
	time.Sleep(ttl * 6 / 10)
	appendTurns(t, b, "t1", "s1", 1, 1) // slides s1's expiry, not s2's
	slid := time.Now()
	time.Sleep(ttl * 6 / 10)
	_, err := b.Load(ctx, "t1", "s1", 0)
	switch {
	case time.Since(slid) >= ttl*9/10:
		// The machine stalled us past the new expiry: nothing to conclude.
		t.Logf("Load came %v after the sliding write; not checked", time.Since(slid))
	case err != nil:
		t.Fatalf("Load after a sliding write: %v", err)
	}
	if _, err := b.Load(ctx, "t1", "s2", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load of an expired session = %v, want ErrNotFound", err)
	}
	time.Sleep(ttl * 6 / 10)
	if _, err := b.Load(ctx, "t1", "s1", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Load of an expired session = %v, want ErrNotFound", err)
	}
	if _, err := b.GetUser(ctx, "t1", "u1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetUser of expired state = %v, want ErrNotFound", err)
	}
	if _, err := b.GetRun(ctx, "t1", "r1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetRun of an expired run = %v, want ErrNotFound", err)
	}
	// The id is free again, and the new session does not inherit turns.
	mustCreate(t, b, "t1", "s1")
	if s := mustLoad(t, b, "t1", "s1", 0); s.TurnCount != 0 || len(s.Turns) != 0 || s.Version != 1 {
		t.Fatalf("re-created session has count %d, %d turns, version %d", s.TurnCount, len(s.Turns), s.Version)
	}
	seq := appendTurns(t, b, "t1", "s1", 1, 1)
	if seq != 1 {
		t.Fatalf("first turn of a re-created session got seq %d, want 1", seq)
	}
	if _, err := b.PutUser(ctx, "t1", "u1", 0, json.RawMessage(`{"n":2}`)); err != nil {
		t.Fatalf("PutUser over expired state: %v", err)
	}
}

// Smoke runs one short conversation through every method of b: enough to
// check a second configuration of a backend that passes Run in its first.
func Smoke(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	wantErr(t, "second Create", b.Create(ctx, &store.Session{Tenant: "t1", ID: "s1"}), store.ErrExists)
	l := mustAcquire(t, b, "t1", "s1", "w", 10*time.Second)
	for i := 1; i <= 3; i++ {
		if seq, _, err := b.AppendTurn(ctx, "t1", "s1", l, Turn("turn-"+strconv.Itoa(i), "support")); err != nil || seq != int64(i) {
			t.Fatalf("AppendTurn %d = %d, %v", i, seq, err)
		}
	}
	if seq, _, err := b.AppendTurn(ctx, "t1", "s1", l, Turn("turn-2", "support")); err != nil || seq != 2 {
		t.Fatalf("retried AppendTurn = %d, %v", seq, err)
	}
	if err := b.Renew(ctx, l, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetState(ctx, "t1", "s1", l, "after_sales", "handed_off"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.SetSummary(ctx, "t1", "s1", 0, store.Summary{Text: "x", UpToSeq: 1}, json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err := b.Acquire(wctx, "t1", "s1", "other", time.Second)
	cancel()
	wantErr(t, "Acquire of a held lease", err, store.ErrLeaseTimeout)
	if err := b.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.AppendTurn(ctx, "t1", "s1", l, Turn("turn-4", "support"))
	wantErr(t, "AppendTurn after Release", err, store.ErrLeaseLost)
	s, err := b.LoadSince(ctx, "t1", "s1", -1, 1)
	if err != nil || s.TurnCount != 3 || len(s.Turns) != 1 || s.Turns[0].Seq != 3 || s.Agent != "after_sales" ||
		s.State != "handed_off" || string(s.Facts) != `{"a":1}` || s.Summary.Version != 1 {
		t.Fatalf("LoadSince = %+v, %v", s, err)
	}
	if s := mustLoad(t, b, "t1", "s1", 0); len(s.Turns) != 3 {
		t.Fatalf("Load all = %d turns", len(s.Turns))
	}
	if _, err := store.UpdateUser(ctx, b, "t1", "u1", func(json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"n":1}`), nil
	}); err != nil {
		t.Fatal(err)
	}
	if u, err := b.GetUser(ctx, "t1", "u1"); err != nil || u.Version != 1 {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	if err := b.PutRun(ctx, &store.Run{Tenant: "t1", ID: "r1", Status: store.RunQueued}); err != nil {
		t.Fatal(err)
	}
	if r, err := b.UpdateRun(ctx, "t1", "r1", func(r *store.Run) error { r.Status = store.RunCompleted; return nil }); err != nil || r.Status != store.RunCompleted {
		t.Fatalf("UpdateRun = %+v, %v", r, err)
	}
	if r, err := b.GetRun(ctx, "t1", "r1"); err != nil || r.Status != store.RunCompleted {
		t.Fatalf("GetRun = %+v, %v", r, err)
	}
	if err := b.Delete(ctx, "t1", "s1"); err != nil {
		t.Fatal(err)
	}
	_, err = b.Load(ctx, "t1", "s1", 0)
	wantErr(t, "Load after Delete", err, store.ErrNotFound)
}

// Turn returns a realistic turn: a question, a tool call, its result and
// the answer.
func Turn(id, agent string) store.Turn {
	return store.Turn{ID: id, Agent: agent, Messages: []llm.Message{
		{Role: llm.RoleUser, Content: llm.Text("where is my order 100042? " + id)},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_" + id, Type: "function",
			Function: llm.FunctionCall{Name: "get_order", Arguments: `{"order_id":"100042"}`}}}},
		{Role: llm.RoleTool, ToolCallID: "call_" + id, Content: llm.Text(`{"order_id":"100042","status":"shipped","carrier":"DHL"}`)},
		{Role: llm.RoleAssistant, Content: llm.Text("Your order 100042 has shipped with DHL.")},
	}}
}

func mustCreate(t testing.TB, b Backend, tenant, id string) *store.Session {
	t.Helper()
	s := &store.Session{Tenant: tenant, ID: id, UserID: "u-" + id, Agent: "support"}
	if err := b.Create(t.Context(), s); err != nil {
		t.Fatalf("Create(%s, %s): %v", tenant, id, err)
	}
	return s
}

func mustLoad(t testing.TB, b Backend, tenant, id string, last int) *store.Session {
	t.Helper()
	s, err := b.Load(t.Context(), tenant, id, last)
	if err != nil {
		t.Fatalf("Load(%s, %s): %v", tenant, id, err)
	}
	return s
}

func mustAcquire(t testing.TB, b Backend, tenant, id, owner string, ttl time.Duration) store.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	l, err := b.Acquire(ctx, tenant, id, owner, ttl)
	if err != nil {
		t.Fatalf("Acquire(%s, %s): %v", tenant, id, err)
	}
	if l.Tenant != tenant || l.Session != id || l.Owner != owner || l.Token == 0 || l.Expires.IsZero() {
		t.Fatalf("Acquire returned %+v", l)
	}
	return l
}

// appendTurns appends turns turn-from..turn-to under one lease and returns
// the last seq.
func appendTurns(t testing.TB, b Backend, tenant, id string, from, to int) int64 {
	t.Helper()
	l := mustAcquire(t, b, tenant, id, "writer", 10*time.Second)
	defer func() {
		if err := b.Release(context.WithoutCancel(t.Context()), l); err != nil {
			t.Errorf("Release: %v", err)
		}
	}()
	var seq int64
	for i := from; i <= to; i++ {
		var err error
		seq, _, err = b.AppendTurn(t.Context(), tenant, id, l, Turn("turn-"+strconv.Itoa(i), "support"))
		if err != nil {
			t.Fatalf("AppendTurn %d: %v", i, err)
		}
	}
	return seq
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
}

func testCreateLoad(t *testing.T, b Backend) {
	ctx := t.Context()
	before := time.Now().Add(-time.Second)
	s := &store.Session{Tenant: "t1", ID: "s1", UserID: "u1", Agent: "support",
		Facts: json.RawMessage(`{"order":"100042"}`), State: ""}
	if err := b.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	if s.Version != 1 || s.CreatedAt.Before(before) || !s.UpdatedAt.Equal(s.CreatedAt) || !s.ExpiresAt.After(s.CreatedAt) {
		t.Fatalf("Create set version %d, created %v, updated %v, expires %v", s.Version, s.CreatedAt, s.UpdatedAt, s.ExpiresAt)
	}
	wantErr(t, "second Create", b.Create(ctx, &store.Session{Tenant: "t1", ID: "s1"}), store.ErrExists)

	got := mustLoad(t, b, "t1", "s1", 0)
	want := *s
	if got.Tenant != want.Tenant || got.ID != want.ID || got.UserID != want.UserID || got.Agent != want.Agent ||
		got.Version != 1 || got.TurnCount != 0 || len(got.Turns) != 0 || got.State != "" ||
		string(got.Facts) != string(want.Facts) || got.Summary != (store.Summary{}) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}
	_, err := b.Load(ctx, "t1", "nope", 0)
	wantErr(t, "Load of a missing session", err, store.ErrNotFound)
	_, err = b.LoadSince(ctx, "t1", "nope", 0, 0)
	wantErr(t, "LoadSince of a missing session", err, store.ErrNotFound)

	// A session without facts reads back nil facts.
	mustCreate(t, b, "t1", "s2")
	if got := mustLoad(t, b, "t1", "s2", 0); got.Facts != nil {
		t.Fatalf("Facts = %q, want nil", got.Facts)
	}
}

func testInvalid(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	l := mustAcquire(t, b, "t1", "s1", "w", 10*time.Second)
	long := string(make([]byte, store.MaxKeyLen+1))
	tests := []struct {
		name string
		give func() error
	}{
		{"create empty tenant", func() error { return b.Create(ctx, &store.Session{ID: "x"}) }},
		{"create empty id", func() error { return b.Create(ctx, &store.Session{Tenant: "t1"}) }},
		{"create long id", func() error { return b.Create(ctx, &store.Session{Tenant: "t1", ID: long}) }},
		{"load empty id", func() error { _, err := b.Load(ctx, "t1", "", 0); return err }},
		{"append without turn id", func() error {
			_, _, err := b.AppendTurn(ctx, "t1", "s1", l, store.Turn{Agent: "a"})
			return err
		}},
		{"summary beyond last turn", func() error {
			_, err := b.SetSummary(ctx, "t1", "s1", 0, store.Summary{Text: "x", UpToSeq: 5}, nil)
			return err
		}},
		{"acquire empty id", func() error { _, err := b.Acquire(ctx, "t1", "", "o", time.Second); return err }},
		{"get user empty id", func() error { _, err := b.GetUser(ctx, "t1", ""); return err }},
		{"put run empty id", func() error { return b.PutRun(ctx, &store.Run{Tenant: "t1"}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, tt.name, tt.give(), store.ErrInvalid)
		})
	}
	if s := mustLoad(t, b, "t1", "s1", 0); s.Version != 1 || s.TurnCount != 0 {
		t.Fatalf("invalid calls changed the session: version %d, count %d", s.Version, s.TurnCount)
	}
}

func testTenantIsolation(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "A", "s1")
	appendTurns(t, b, "A", "s1", 1, 2)
	la := mustAcquire(t, b, "A", "s1", "a", 10*time.Second)
	defer b.Release(context.WithoutCancel(ctx), la)

	// Tenant B's lease on the same id is its own: it does not wait for A's.
	lb := mustAcquire(t, b, "B", "s1", "b", 10*time.Second)
	tests := []struct {
		name string
		give func() error
	}{
		{"Load", func() error { _, err := b.Load(ctx, "B", "s1", 0); return err }},
		{"LoadSince", func() error { _, err := b.LoadSince(ctx, "B", "s1", 0, 0); return err }},
		{"AppendTurn", func() error { _, _, err := b.AppendTurn(ctx, "B", "s1", lb, Turn("x", "b")); return err }},
		{"SetState", func() error { _, err := b.SetState(ctx, "B", "s1", lb, "b", "handed_off"); return err }},
		{"SetSummary", func() error { _, err := b.SetSummary(ctx, "B", "s1", 0, store.Summary{Text: "x"}, nil); return err }},
		{"Delete", func() error { return b.Delete(ctx, "B", "s1") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "tenant B "+tt.name, tt.give(), store.ErrNotFound)
		})
	}
	// A's lease is for A's session only.
	_, _, err := b.AppendTurn(ctx, "B", "s1", la, Turn("y", "b"))
	if err == nil {
		t.Fatal("AppendTurn to tenant B with tenant A's lease succeeded")
	}
	if err := b.Release(ctx, lb); err != nil {
		t.Fatal(err)
	}
	// B may have a session of the same id; both stay apart.
	mustCreate(t, b, "B", "s1")
	appendTurns(t, b, "B", "s1", 1, 1)
	if s := mustLoad(t, b, "A", "s1", 0); s.TurnCount != 2 || s.Version != 3 {
		t.Fatalf("tenant A's session changed: count %d, version %d", s.TurnCount, s.Version)
	}
	if s := mustLoad(t, b, "B", "s1", 0); s.TurnCount != 1 {
		t.Fatalf("tenant B's session has %d turns, want 1", s.TurnCount)
	}

	if _, err := b.PutUser(ctx, "A", "u1", 0, json.RawMessage(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetUser(ctx, "B", "u1")
	wantErr(t, "tenant B GetUser", err, store.ErrNotFound)
	_, err = b.PutUser(ctx, "B", "u1", 1, json.RawMessage(`{"b":1}`))
	wantErr(t, "tenant B PutUser expecting A's version", err, store.ErrConflict)
	if err := b.PutRun(ctx, &store.Run{Tenant: "A", ID: "r1", Status: store.RunQueued}); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetRun(ctx, "B", "r1")
	wantErr(t, "tenant B GetRun", err, store.ErrNotFound)
	_, err = b.UpdateRun(ctx, "B", "r1", func(r *store.Run) error { r.Status = store.RunFailed; return nil })
	wantErr(t, "tenant B UpdateRun", err, store.ErrNotFound)
	if r, err := b.GetRun(ctx, "A", "r1"); err != nil || r.Status != store.RunQueued {
		t.Fatalf("tenant A's run = %+v, %v", r, err)
	}
}

func seqs(ts []store.Turn) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.Seq
	}
	return out
}

func span(from, to int64) []int64 {
	out := []int64{}
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func testWindows(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	appendTurns(t, b, "t1", "s1", 1, 12)
	if _, err := b.SetSummary(ctx, "t1", "s1", 0, store.Summary{Text: "so far", UpToSeq: 7}, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give func() (*store.Session, error)
		want []int64
	}{
		{"Load all", func() (*store.Session, error) { return b.Load(ctx, "t1", "s1", 0) }, span(1, 12)},
		{"Load negative is all", func() (*store.Session, error) { return b.Load(ctx, "t1", "s1", -3) }, span(1, 12)},
		{"Load last 3", func() (*store.Session, error) { return b.Load(ctx, "t1", "s1", 3) }, span(10, 12)},
		{"Load last 1", func() (*store.Session, error) { return b.Load(ctx, "t1", "s1", 1) }, span(12, 12)},
		{"Load more than there are", func() (*store.Session, error) { return b.Load(ctx, "t1", "s1", 50) }, span(1, 12)},
		{"LoadSince 0", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", 0, 0) }, span(1, 12)},
		{"LoadSince 5", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", 5, 0) }, span(6, 12)},
		{"LoadSince 5 max 3", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", 5, 3) }, span(10, 12)},
		{"LoadSince 5 max 10", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", 5, 10) }, span(6, 12)},
		{"LoadSince 11", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", 11, 0) }, span(12, 12)},
		{"LoadSince last", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", 12, 0) }, span(1, 0)},
		{"LoadSince beyond", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", 40, 5) }, span(1, 0)},
		{"LoadSince summary", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", -1, 0) }, span(8, 12)},
		{"LoadSince summary max 2", func() (*store.Session, error) { return b.LoadSince(ctx, "t1", "s1", -1, 2) }, span(11, 12)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.give()
			if err != nil {
				t.Fatal(err)
			}
			if got := seqs(s.Turns); !slices.Equal(got, tt.want) {
				t.Fatalf("seqs = %v, want %v", got, tt.want)
			}
			if s.TurnCount != 12 || s.Summary.UpToSeq != 7 {
				t.Fatalf("TurnCount %d, Summary.UpToSeq %d; want 12, 7", s.TurnCount, s.Summary.UpToSeq)
			}
			for _, turn := range s.Turns {
				want := Turn("turn-"+strconv.FormatInt(turn.Seq, 10), "support")
				gotJSON, _ := json.Marshal(turn.Messages)
				wantJSON, _ := json.Marshal(want.Messages)
				if turn.ID != want.ID || turn.Agent != want.Agent || string(gotJSON) != string(wantJSON) || turn.At.IsZero() {
					t.Fatalf("turn %d = %s %s %s at %v, want %s %s %s", turn.Seq, turn.ID, turn.Agent, gotJSON, turn.At, want.ID, want.Agent, wantJSON)
				}
			}
		})
	}
}

func testAppendIdempotent(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	l := mustAcquire(t, b, "t1", "s1", "w", 10*time.Second)
	at := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	first := Turn("run-1", "support")
	first.At = at
	seq1, v1, err := b.AppendTurn(ctx, "t1", "s1", l, first)
	if err != nil || seq1 != 1 || v1 != 2 {
		t.Fatalf("first append = %d, %d, %v; want 1, 2, nil", seq1, v1, err)
	}
	seq, v, err := b.AppendTurn(ctx, "t1", "s1", l, first)
	if err != nil || seq != 1 || v != 2 {
		t.Fatalf("retried append = %d, %d, %v; want 1, 2, nil", seq, v, err)
	}
	seq2, v2, err := b.AppendTurn(ctx, "t1", "s1", l, Turn("run-2", "after_sales"))
	if err != nil || seq2 != 2 || v2 != 3 {
		t.Fatalf("second append = %d, %d, %v; want 2, 3, nil", seq2, v2, err)
	}
	// A late retry of the first turn still answers with its seq and changes
	// nothing, even with different content.
	late := Turn("run-1", "other")
	seq, v, err = b.AppendTurn(ctx, "t1", "s1", l, late)
	if err != nil || seq != 1 || v != 3 {
		t.Fatalf("late retry = %d, %d, %v; want 1, 3, nil", seq, v, err)
	}
	if err := b.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	// A retry whose lease has gone still learns its turn was written.
	seq, _, err = b.AppendTurn(ctx, "t1", "s1", l, first)
	if err != nil || seq != 1 {
		t.Fatalf("retry after release = %d, %v; want 1, nil", seq, err)
	}
	s := mustLoad(t, b, "t1", "s1", 0)
	if got := seqs(s.Turns); !slices.Equal(got, []int64{1, 2}) || s.TurnCount != 2 || s.Version != 3 {
		t.Fatalf("after retries: seqs %v, count %d, version %d", got, s.TurnCount, s.Version)
	}
	if s.Turns[0].Agent != "support" || !s.Turns[0].At.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("turn 1 = agent %q at %v", s.Turns[0].Agent, s.Turns[0].At)
	}
	if s.Agent != "after_sales" {
		t.Fatalf("session agent = %q, want the last turn's agent after_sales", s.Agent)
	}
}

func testFencing(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	old := mustAcquire(t, b, "t1", "s1", "old", 150*time.Millisecond)
	// old's holder stalls past its ttl; a new holder takes over.
	cur := mustAcquire(t, b, "t1", "s1", "new", 10*time.Second)
	if cur.Token <= old.Token {
		t.Fatalf("new token %d not above old %d", cur.Token, old.Token)
	}
	_, _, err := b.AppendTurn(ctx, "t1", "s1", old, Turn("stale", "support"))
	wantErr(t, "append with a superseded lease", err, store.ErrLeaseLost)
	_, err = b.SetState(ctx, "t1", "s1", old, "x", "handed_off")
	wantErr(t, "SetState with a superseded lease", err, store.ErrLeaseLost)
	wantErr(t, "Renew of a superseded lease", b.Renew(ctx, old, time.Second), store.ErrLeaseLost)
	if err := b.Release(ctx, old); err != nil {
		t.Fatalf("Release of a superseded lease: %v", err)
	}
	if s := mustLoad(t, b, "t1", "s1", 0); s.TurnCount != 0 || s.Version != 1 {
		t.Fatalf("stale writes changed the session: count %d, version %d", s.TurnCount, s.Version)
	}
	// Releasing the superseded lease did not free the current one.
	if _, _, err := b.AppendTurn(ctx, "t1", "s1", cur, Turn("fresh", "support")); err != nil {
		t.Fatalf("append with the current lease: %v", err)
	}
	if err := b.Release(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if err := b.Release(ctx, cur); err != nil {
		t.Fatalf("second Release: %v", err)
	}
	_, _, err = b.AppendTurn(ctx, "t1", "s1", cur, Turn("after-release", "support"))
	wantErr(t, "append after Release", err, store.ErrLeaseLost)
	_, _, err = b.AppendTurn(ctx, "t1", "s1", store.Lease{Tenant: "t1", Session: "s1"}, Turn("no-lease", "support"))
	wantErr(t, "append without a lease", err, store.ErrLeaseLost)
	_, _, err = b.AppendTurn(ctx, "t1", "s1", store.Lease{Tenant: "t1", Session: "s2", Token: cur.Token}, Turn("other", "support"))
	wantErr(t, "append with another session's lease", err, store.ErrLeaseLost)
	if s := mustLoad(t, b, "t1", "s1", 0); s.TurnCount != 1 {
		t.Fatalf("count %d, want 1", s.TurnCount)
	}
	// Tokens keep rising.
	next := mustAcquire(t, b, "t1", "s1", "next", time.Second)
	if next.Token <= cur.Token {
		t.Fatalf("token %d after %d", next.Token, cur.Token)
	}
}

func testLeaseFIFO(t *testing.T, b Backend) {
	ctx := t.Context()
	holder := mustAcquire(t, b, "t1", "s1", "holder", 30*time.Second)
	const waiters = 3
	var (
		mu    sync.Mutex
		order []int
		wg    sync.WaitGroup
	)
	for i := range waiters {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			l, err := b.Acquire(ctx, "t1", "s1", "w"+strconv.Itoa(i), 30*time.Second)
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			if err := b.Release(ctx, l); err != nil {
				t.Errorf("waiter %d release: %v", i, err)
			}
		})
		// Spaced so each waiter has queued before the next arrives, even
		// on a cold connection of a busy machine.
		time.Sleep(250 * time.Millisecond)
	}
	mu.Lock()
	early := len(order)
	mu.Unlock()
	if err := b.Release(ctx, holder); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if early != 0 {
		t.Fatalf("%d waiters got a held lease", early)
	}
	if want := []int{0, 1, 2}; !slices.Equal(order, want) {
		t.Fatalf("waiters served in order %v, want %v", order, want)
	}
}

func testLeaseExpiry(t *testing.T, b Backend) {
	ctx := t.Context()
	dead := mustAcquire(t, b, "t1", "s1", "dead", 200*time.Millisecond)
	// The holder "dies": it never releases. The next Acquire waits for the
	// ttl, then gets the lease.
	next := mustAcquire(t, b, "t1", "s1", "next", 10*time.Second)
	if next.Token <= dead.Token {
		t.Fatalf("token %d after %d", next.Token, dead.Token)
	}
	wantErr(t, "Renew of an expired, taken lease", b.Renew(ctx, dead, time.Second), store.ErrLeaseLost)
	if err := b.Release(ctx, next); err != nil {
		t.Fatal(err)
	}
}

func testLeaseRenew(t *testing.T, b Backend) {
	ctx := t.Context()
	// Without the renewal the waiter below would get the lease after
	// 300 ms; with it, it must give up. Timing only decides whether the
	// renewal comes before or after the ttl, and both must keep the lease
	// (nobody took it meanwhile).
	l := mustAcquire(t, b, "t1", "s1", "keeper", 300*time.Millisecond)
	time.Sleep(150 * time.Millisecond)
	if err := b.Renew(ctx, l, 10*time.Second); err != nil {
		t.Fatalf("Renew of a held lease: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	_, err := b.Acquire(wctx, "t1", "s1", "other", time.Second)
	cancel()
	wantErr(t, "Acquire of a renewed lease", err, store.ErrLeaseTimeout)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ErrLeaseTimeout does not wrap the context's error: %v", err)
	}

	// A lease that ran out but that nobody took is renewed too.
	late := mustAcquire(t, b, "t1", "s2", "late", 50*time.Millisecond)
	time.Sleep(150 * time.Millisecond)
	if err := b.Renew(ctx, late, 10*time.Second); err != nil {
		t.Fatalf("Renew of a lapsed, untaken lease: %v", err)
	}
	wctx, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = b.Acquire(wctx, "t1", "s2", "other", time.Second)
	cancel()
	wantErr(t, "Acquire of a revived lease", err, store.ErrLeaseTimeout)

	if _, _, err := b.AppendTurn(ctx, "t1", "s1", l, Turn("x", "a")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("append to a missing session with a held lease = %v, want ErrNotFound", err)
	}
	if err := b.Release(ctx, l); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Renew after Release", b.Renew(ctx, l, time.Second), store.ErrLeaseLost)
}

func testAcquireCancel(t *testing.T, b Backend) {
	ctx := t.Context()
	holder := mustAcquire(t, b, "t1", "s1", "holder", 30*time.Second)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Acquire(cctx, "t1", "s1", "quitter", time.Second)
		errc <- err
	}()
	time.Sleep(100 * time.Millisecond)
	cancel()
	err := <-errc
	wantErr(t, "cancelled Acquire", err, store.ErrLeaseTimeout)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("ErrLeaseTimeout does not wrap context.Canceled: %v", err)
	}
	// The quitter left the queue: the next waiter is not stuck behind it
	// (a dead waiter would hold the queue for seconds).
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		l, err := b.Acquire(ctx, "t1", "s1", "next", time.Second)
		if err == nil {
			err = b.Release(ctx, l)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond)
	if err := b.Release(ctx, holder); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("waiter behind a quitter: %v", err)
	}
}

// concurrentTurns runs 50 turns of one session at once, alternating between
// handles a and b: each takes the lease, loads, appends, releases. Every
// turn must land exactly once, seqs contiguous, each appended right after
// the state its writer loaded.
func concurrentTurns(t *testing.T, a, b Backend) {
	ctx := t.Context()
	const n = 50
	mustCreate(t, a, "t1", "s1")
	type result struct {
		id       string
		seen     int64 // TurnCount loaded under the lease
		lastSeen string
		seq      int64
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		h := a
		if i%2 == 1 {
			h = b
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			id := fmt.Sprintf("turn-%02d", i)
			l, err := h.Acquire(ctx, "t1", "s1", id, 30*time.Second)
			if err != nil {
				t.Errorf("%s: Acquire: %v", id, err)
				return
			}
			defer func() {
				if err := h.Release(context.WithoutCancel(ctx), l); err != nil {
					t.Errorf("%s: Release: %v", id, err)
				}
			}()
			s, err := h.Load(ctx, "t1", "s1", 1)
			if err != nil {
				t.Errorf("%s: Load: %v", id, err)
				return
			}
			r := result{id: id, seen: s.TurnCount}
			if len(s.Turns) == 1 {
				r.lastSeen = s.Turns[0].ID
			}
			r.seq, _, err = h.AppendTurn(ctx, "t1", "s1", l, Turn(id, "support"))
			if err != nil {
				t.Errorf("%s: AppendTurn: %v", id, err)
				return
			}
			results[i] = r
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	s := mustLoad(t, a, "t1", "s1", 0)
	if s.TurnCount != n || len(s.Turns) != n || s.Version != n+1 {
		t.Fatalf("count %d, %d turns, version %d; want %d, %d, %d", s.TurnCount, len(s.Turns), s.Version, n, n, n+1)
	}
	bySeq := map[int64]string{}
	for i, turn := range s.Turns {
		if turn.Seq != int64(i+1) {
			t.Fatalf("turn %d has seq %d", i, turn.Seq)
		}
		bySeq[turn.Seq] = turn.ID
	}
	ids := map[string]bool{}
	for _, r := range results {
		if ids[r.id] {
			t.Fatalf("turn %s appears twice", r.id)
		}
		ids[r.id] = true
		if r.seq != r.seen+1 {
			t.Errorf("%s loaded %d turns but got seq %d: interleaved", r.id, r.seen, r.seq)
		}
		if bySeq[r.seq] != r.id {
			t.Errorf("seq %d holds %s, but %s was told it got it", r.seq, bySeq[r.seq], r.id)
		}
		if r.seen > 0 && bySeq[r.seen] != r.lastSeen {
			t.Errorf("%s saw %s as turn %d, the store has %s", r.id, r.lastSeen, r.seen, bySeq[r.seen])
		}
	}
}

func testSummary(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	appendTurns(t, b, "t1", "s1", 1, 4)
	facts := json.RawMessage(`{"order_id":"100042"}`)
	v, err := b.SetSummary(ctx, "t1", "s1", 0, store.Summary{Text: "asked about 100042", UpToSeq: 2}, facts)
	if err != nil || v != 1 {
		t.Fatalf("first SetSummary = %d, %v; want 1, nil", v, err)
	}
	_, err = b.SetSummary(ctx, "t1", "s1", 0, store.Summary{Text: "stale", UpToSeq: 1}, nil)
	wantErr(t, "SetSummary with a stale version", err, store.ErrConflict)
	// nil facts keep the pinned facts.
	v, err = b.SetSummary(ctx, "t1", "s1", 1, store.Summary{Text: "asked twice", UpToSeq: 4}, nil)
	if err != nil || v != 2 {
		t.Fatalf("second SetSummary = %d, %v; want 2, nil", v, err)
	}
	s := mustLoad(t, b, "t1", "s1", 0)
	want := store.Summary{Text: "asked twice", UpToSeq: 4, Version: 2}
	if s.Summary != want || string(s.Facts) != string(facts) || s.Version != 7 {
		t.Fatalf("session summary %+v facts %s version %d; want %+v %s 7", s.Summary, s.Facts, s.Version, want, facts)
	}
}

// testSummaryBesideWriter is what context windows rely on: a summary
// worker writes the summary and pinned facts without the lease while a
// turn holds it, the turn's writes go on, and the facts come back byte for
// byte (they are opaque JSON with non-ASCII text). LoadSince(-1, n) then
// reads the turns after the summary.
func testSummaryBesideWriter(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	l := mustAcquire(t, b, "t1", "s1", "turn", 10*time.Second)
	for i := 1; i <= 3; i++ {
		if _, _, err := b.AppendTurn(ctx, "t1", "s1", l, Turn("turn-"+strconv.Itoa(i), "support")); err != nil {
			t.Fatalf("AppendTurn %d: %v", i, err)
		}
	}
	facts := json.RawMessage(`[{"kind":"amount","value":"€42.50","key":"EUR 42.50","first_turn":1,"last_turn":3,"source":"user"}]`)
	if v, err := b.SetSummary(ctx, "t1", "s1", 0, store.Summary{Text: "paid €42.50", UpToSeq: 2}, facts); err != nil || v != 1 {
		t.Fatalf("SetSummary while a writer holds the lease = %d, %v; want 1, nil", v, err)
	}
	seq, _, err := b.AppendTurn(ctx, "t1", "s1", l, Turn("turn-4", "support"))
	if err != nil || seq != 4 {
		t.Fatalf("AppendTurn after a summary = %d, %v; want 4, nil", seq, err)
	}
	if err := b.Release(ctx, l); err != nil {
		t.Fatalf("Release: %v", err)
	}
	s, err := b.LoadSince(ctx, "t1", "s1", -1, 10)
	if err != nil {
		t.Fatalf("LoadSince: %v", err)
	}
	if got := seqs(s.Turns); !slices.Equal(got, []int64{3, 4}) || string(s.Facts) != string(facts) ||
		s.Summary != (store.Summary{Text: "paid €42.50", UpToSeq: 2, Version: 1}) || s.TurnCount != 4 {
		t.Fatalf("LoadSince(-1) = turns %v facts %s summary %+v count %d", got, s.Facts, s.Summary, s.TurnCount)
	}
}

func testSetState(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	l := mustAcquire(t, b, "t1", "s1", "w", 10*time.Second)
	v, err := b.SetState(ctx, "t1", "s1", l, "after_sales", "handed_off")
	if err != nil || v != 2 {
		t.Fatalf("SetState = %d, %v; want 2, nil", v, err)
	}
	s := mustLoad(t, b, "t1", "s1", 0)
	if s.Agent != "after_sales" || s.State != "handed_off" {
		t.Fatalf("agent %q state %q", s.Agent, s.State)
	}
	// An empty agent keeps the owner; the state can go back to active.
	if _, err := b.SetState(ctx, "t1", "s1", l, "", ""); err != nil {
		t.Fatal(err)
	}
	s = mustLoad(t, b, "t1", "s1", 0)
	if s.Agent != "after_sales" || s.State != "" || s.Version != 3 {
		t.Fatalf("agent %q state %q version %d", s.Agent, s.State, s.Version)
	}
}

func testUserState(t *testing.T, b Backend) {
	ctx := t.Context()
	_, err := b.GetUser(ctx, "t1", "u1")
	wantErr(t, "GetUser of a new user", err, store.ErrNotFound)
	_, err = b.PutUser(ctx, "t1", "u1", 1, json.RawMessage(`{}`))
	wantErr(t, "PutUser expecting a version of a new user", err, store.ErrConflict)
	v, err := b.PutUser(ctx, "t1", "u1", 0, json.RawMessage(`{"tier":"gold"}`))
	if err != nil || v != 1 {
		t.Fatalf("first PutUser = %d, %v", v, err)
	}
	_, err = b.PutUser(ctx, "t1", "u1", 0, json.RawMessage(`{}`))
	wantErr(t, "PutUser expecting no user", err, store.ErrConflict)
	v, err = b.PutUser(ctx, "t1", "u1", 1, json.RawMessage(`{"tier":"platinum"}`))
	if err != nil || v != 2 {
		t.Fatalf("second PutUser = %d, %v", v, err)
	}
	u, err := b.GetUser(ctx, "t1", "u1")
	if err != nil || string(u.Data) != `{"tier":"platinum"}` || u.Version != 2 || u.Tenant != "t1" || u.UserID != "u1" || u.UpdatedAt.IsZero() {
		t.Fatalf("GetUser = %+v, %v", u, err)
	}
	got, err := store.UpdateUser(ctx, b, "t1", "u1", func(data json.RawMessage) (json.RawMessage, error) {
		if string(data) != `{"tier":"platinum"}` {
			return nil, fmt.Errorf("fn got %s", data)
		}
		return json.RawMessage(`{"tier":"diamond"}`), nil
	})
	if err != nil || got.Version != 3 {
		t.Fatalf("UpdateUser = %+v, %v", got, err)
	}
}

func testUserConcurrent(t *testing.T, b Backend) {
	ctx := t.Context()
	const writers = 20
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			_, err := store.UpdateUser(ctx, b, "t1", "u1", func(data json.RawMessage) (json.RawMessage, error) {
				var v struct{ N int }
				if data != nil {
					if err := json.Unmarshal(data, &v); err != nil {
						return nil, err
					}
				}
				v.N++
				return json.Marshal(v)
			})
			if err != nil {
				t.Errorf("UpdateUser: %v", err)
			}
		})
	}
	wg.Wait()
	u, err := b.GetUser(ctx, "t1", "u1")
	if err != nil {
		t.Fatal(err)
	}
	if string(u.Data) != `{"N":20}` || u.Version != writers {
		t.Fatalf("after %d concurrent increments: %s version %d", writers, u.Data, u.Version)
	}
}

func testRuns(t *testing.T, b Backend) {
	ctx := t.Context()
	_, err := b.GetRun(ctx, "t1", "r1")
	wantErr(t, "GetRun of a missing run", err, store.ErrNotFound)
	_, err = b.UpdateRun(ctx, "t1", "r1", func(*store.Run) error { return nil })
	wantErr(t, "UpdateRun of a missing run", err, store.ErrNotFound)

	r := &store.Run{Tenant: "t1", ID: "r1", SessionID: "s1", Agent: "support", Status: store.RunQueued,
		Request: json.RawMessage(`{"input":"where is 100042?"}`)}
	if err := b.PutRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if r.CreatedAt.IsZero() || r.UpdatedAt.IsZero() {
		t.Fatalf("PutRun left times zero: %+v", r)
	}
	got, err := b.GetRun(ctx, "t1", "r1")
	if err != nil || got.SessionID != "s1" || got.Agent != "support" || got.Status != store.RunQueued ||
		string(got.Request) != string(r.Request) || got.Result != nil || !got.CreatedAt.Equal(r.CreatedAt) {
		t.Fatalf("GetRun = %+v, %v; want %+v", got, err, r)
	}
	up, err := b.UpdateRun(ctx, "t1", "r1", func(r *store.Run) error {
		r.Status = store.RunCompleted
		r.Attempts++
		r.Result = json.RawMessage(`{"output":"shipped"}`)
		r.ID = "hijack" // the key cannot change
		return nil
	})
	if err != nil || up.Status != store.RunCompleted || up.Attempts != 1 || up.ID != "r1" || string(up.Result) != `{"output":"shipped"}` {
		t.Fatalf("UpdateRun = %+v, %v", up, err)
	}
	boom := errors.New("boom")
	_, err = b.UpdateRun(ctx, "t1", "r1", func(r *store.Run) error { r.Status = store.RunFailed; return boom })
	wantErr(t, "UpdateRun whose fn fails", err, boom)
	got, err = b.GetRun(ctx, "t1", "r1")
	if err != nil || got.Status != store.RunCompleted || got.Attempts != 1 || !got.CreatedAt.Equal(r.CreatedAt) {
		t.Fatalf("after failed update: %+v, %v", got, err)
	}
	// PutRun replaces.
	if err := b.PutRun(ctx, &store.Run{Tenant: "t1", ID: "r1", Status: store.RunQueued}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.GetRun(ctx, "t1", "r1"); err != nil || got.Status != store.RunQueued || got.Result != nil || got.Agent != "" {
		t.Fatalf("after replace: %+v, %v", got, err)
	}
}

func testRunsConcurrent(t *testing.T, b Backend) {
	ctx := t.Context()
	if err := b.PutRun(ctx, &store.Run{Tenant: "t1", ID: "r1", Status: store.RunQueued}); err != nil {
		t.Fatal(err)
	}
	const workers = 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			if _, err := b.UpdateRun(ctx, "t1", "r1", func(r *store.Run) error { r.Attempts++; return nil }); err != nil {
				t.Errorf("UpdateRun: %v", err)
			}
		})
	}
	wg.Wait()
	if got, err := b.GetRun(ctx, "t1", "r1"); err != nil || got.Attempts != workers {
		t.Fatalf("after %d concurrent updates: %+v, %v", workers, got, err)
	}
}

func testDelete(t *testing.T, b Backend) {
	ctx := t.Context()
	mustCreate(t, b, "t1", "s1")
	appendTurns(t, b, "t1", "s1", 1, 3)
	l := mustAcquire(t, b, "t1", "s1", "w", 30*time.Second)
	if err := b.Delete(ctx, "t1", "s1"); err != nil {
		t.Fatal(err)
	}
	_, err := b.Load(ctx, "t1", "s1", 0)
	wantErr(t, "Load after Delete", err, store.ErrNotFound)
	wantErr(t, "second Delete", b.Delete(ctx, "t1", "s1"), store.ErrNotFound)
	_, _, err = b.AppendTurn(ctx, "t1", "s1", l, Turn("turn-9", "support"))
	wantErr(t, "append to a deleted session", err, store.ErrNotFound)

	// The id starts afresh: no old turns, no old turn ids, no old lease.
	mustCreate(t, b, "t1", "s1")
	l2 := mustAcquire(t, b, "t1", "s1", "w2", time.Second)
	if l2.Token <= l.Token {
		t.Fatalf("token %d after delete, was %d", l2.Token, l.Token)
	}
	_, _, err = b.AppendTurn(ctx, "t1", "s1", l, Turn("turn-8", "support"))
	wantErr(t, "append with the lease of the deleted session", err, store.ErrLeaseLost)
	seq, _, err := b.AppendTurn(ctx, "t1", "s1", l2, Turn("turn-1", "support"))
	if err != nil || seq != 1 {
		t.Fatalf("append of an old turn id to the new session = %d, %v; want 1, nil", seq, err)
	}
	s := mustLoad(t, b, "t1", "s1", 0)
	if s.TurnCount != 1 || s.Version != 2 {
		t.Fatalf("re-created session: count %d version %d", s.TurnCount, s.Version)
	}
}

func testLargeSession(t *testing.T, b Backend) {
	const n = 120 // Bench loads windows of 1,000-turn sessions
	mustCreate(t, b, "t1", "s1")
	appendTurns(t, b, "t1", "s1", 1, n)
	s := mustLoad(t, b, "t1", "s1", 10)
	if got := seqs(s.Turns); !slices.Equal(got, span(n-9, n)) {
		t.Fatalf("last 10 of %d: %v", n, got)
	}
	s, err := b.LoadSince(t.Context(), "t1", "s1", 60, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := seqs(s.Turns); !slices.Equal(got, span(n-4, n)) {
		t.Fatalf("LoadSince(60, 5) of %d: %v", n, got)
	}
	if s := mustLoad(t, b, "t1", "s1", 0); len(s.Turns) != n || s.Turns[n-1].ID != "turn-"+strconv.Itoa(n) {
		t.Fatalf("all of %d: %d turns", n, len(s.Turns))
	}
}

// RandomName returns a short random lower-case name with prefix, for the
// key prefixes and schemas that keep concurrent test runs apart.
func RandomName(prefix string) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := []byte(prefix)
	for range 10 {
		b = append(b, letters[rand.IntN(len(letters))])
	}
	return string(b)
}
