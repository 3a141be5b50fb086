package sqlite

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/storetest"
)

func openAt(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func openTemp(tb testing.TB) storetest.Backend {
	return openAt(tb, Config{Path: filepath.Join(tb.TempDir(), "fg.db")})
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Backend { return openTemp(t) })
}

func TestMemory(t *testing.T) {
	t.Parallel()
	storetest.Smoke(t, openAt(t, Config{Path: ":memory:"}))
}

func TestContractExpiry(t *testing.T) {
	storetest.RunExpiry(t, func(t *testing.T, ttl time.Duration) storetest.Backend {
		return openAt(t, Config{Path: filepath.Join(t.TempDir(), "fg.db"), TTL: ttl, RunTTL: ttl})
	})
}

// Two Stores on one file are two processes sharing it.
func TestContractShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (storetest.Backend, storetest.Backend) {
		path := filepath.Join(t.TempDir(), "fg.db")
		return openAt(t, Config{Path: path}), openAt(t, Config{Path: path})
	})
}

// A conversation survives closing and reopening the file: a restart.
func TestSurvivesReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fg.db")
	ctx := t.Context()
	s, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, &store.Session{Tenant: "t1", ID: "s1", Agent: "support"}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(ctx, "t1", "s1", "before", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		if _, _, err := s.AppendTurn(ctx, "t1", "s1", l, storetest.Turn(id, "support")); err != nil {
			t.Fatal(err)
		}
	}
	// No Release: the process "dies" holding the lease.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, Config{Path: path})
	got, err := s.Load(ctx, "t1", "s1", 0)
	if err != nil || got.TurnCount != 3 || got.Turns[2].ID != "c" {
		t.Fatalf("after reopen: %+v, %v", got, err)
	}
	// The dead holder's lease still fences until it expires; a retried
	// turn is still recognised.
	seq, _, err := s.AppendTurn(ctx, "t1", "s1", l, storetest.Turn("b", "support"))
	if err != nil || seq != 2 {
		t.Fatalf("retried turn after reopen = %d, %v", seq, err)
	}
	if err := s.Renew(ctx, l, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	l2, err := s.Acquire(ctx, "t1", "s1", "after", time.Minute)
	if err != nil || l2.Token <= l.Token {
		t.Fatalf("Acquire after reopen = %+v, %v", l2, err)
	}
}

func count(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.w.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReap(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openAt(t, Config{Path: filepath.Join(t.TempDir(), "fg.db"), TTL: time.Hour, RunTTL: time.Hour})
	for _, id := range []string{"s1", "s2"} {
		if err := s.Create(ctx, &store.Session{Tenant: "t1", ID: id}); err != nil {
			t.Fatal(err)
		}
		l, err := s.Acquire(ctx, "t1", id, "w", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AppendTurn(ctx, "t1", id, l, storetest.Turn("x", "a")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.PutUser(ctx, "t1", "u1", 0, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRun(ctx, &store.Run{Tenant: "t1", ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		give      time.Time
		wantReap  int
		wantLeft  int
		wantLease int
	}{
		{give: time.Now(), wantReap: 0, wantLeft: 2, wantLease: 2},
		{give: time.Now().Add(2 * time.Hour), wantReap: 2, wantLeft: 0, wantLease: 0},
	}
	for _, tt := range tests {
		n, err := s.reap(ctx, tt.give)
		if err != nil {
			t.Fatal(err)
		}
		if n != tt.wantReap || count(t, s, "sessions") != tt.wantLeft || count(t, s, "turns") != tt.wantLeft ||
			count(t, s, "users")+count(t, s, "runs") != tt.wantLeft || count(t, s, "leases") != tt.wantLease {
			t.Fatalf("reap at %v: %d reaped; sessions %d turns %d users %d runs %d leases %d", tt.give, n,
				count(t, s, "sessions"), count(t, s, "turns"), count(t, s, "users"), count(t, s, "runs"), count(t, s, "leases"))
		}
	}
}

func TestRunStops(t *testing.T) {
	t.Parallel()
	s := openAt(t, Config{Path: filepath.Join(t.TempDir(), "fg.db"), TTL: 50 * time.Millisecond, ReapInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	if err := s.Create(ctx, &store.Session{Tenant: "t1", ID: "s1"}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for count(t, s, "sessions") != 0 {
		if time.Now().After(deadline) {
			t.Fatal("reaper did not delete the expired session")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) storetest.Backend { return openTemp(tb) })
}
