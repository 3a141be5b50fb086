package postgres

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/storetest"
)

const dsn = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// available skips (or, under CI, fails) the test when PostgreSQL is absent.
func available(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL at %s is required under CI: %v", dsn, err)
		}
		tb.Skipf("PostgreSQL at %s is not available: %v", dsn, err)
	}
	conn.Close(ctx)
}

// openSchema opens a Store in schema and drops the schema when the test
// ends.
func openSchema(tb testing.TB, schema string, cfg Config) *Store {
	tb.Helper()
	available(tb)
	cfg.DSN, cfg.Schema = dsn, schema
	s, err := Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return s
}

func randomSchema() string { return storetest.RandomName("fg_test_") }

func openFresh(tb testing.TB) storetest.Backend { return openSchema(tb, randomSchema(), Config{}) }

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Backend { return openFresh(t) })
}

func TestContractExpiry(t *testing.T) {
	storetest.RunExpiry(t, func(t *testing.T, ttl time.Duration) storetest.Backend {
		return openSchema(t, randomSchema(), Config{TTL: ttl, RunTTL: ttl})
	})
}

// Two Stores on one schema are two nodes sharing the database.
func TestContractShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (storetest.Backend, storetest.Backend) {
		schema := randomSchema()
		a := openSchema(t, schema, Config{})
		b, err := Open(t.Context(), Config{DSN: dsn, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return a, b
	})
}

// Every statement also works through the simple protocol without LISTEN,
// as behind PgBouncer in transaction mode.
func TestSimpleProtocol(t *testing.T) {
	t.Parallel()
	storetest.Smoke(t, openSchema(t, randomSchema(), Config{SimpleProtocol: true, NoListen: true}))
}

// Opening a migrated schema again changes nothing.
func TestMigrateTwice(t *testing.T) {
	t.Parallel()
	schema := randomSchema()
	s := openSchema(t, schema, Config{})
	if err := s.Create(t.Context(), &store.Session{Tenant: "t1", ID: "s1"}); err != nil {
		t.Fatal(err)
	}
	again, err := Open(t.Context(), Config{DSN: dsn, Schema: schema, NoListen: true})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if _, err := again.Load(t.Context(), "t1", "s1", 0); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := again.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+again.schema+".schema_version").Scan(&n); err != nil || n != 1 {
		t.Fatalf("schema_version rows = %d, %v", n, err)
	}
}

func count(t *testing.T, s *Store, table string) int {
	t.Helper()
	var n int
	if err := s.pool.QueryRow(t.Context(), "SELECT count(*) FROM "+s.schema+"."+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestReap(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openSchema(t, randomSchema(), Config{TTL: time.Hour, RunTTL: time.Hour})
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
		wantReap  int64
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

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) storetest.Backend { return openFresh(tb) })
}

// With synchronous_commit off for the store's connections (as an operator
// would set it for the store's role), appends skip the WAL flush too.
func BenchmarkStoreAsyncCommit(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) storetest.Backend {
		available(tb)
		s, err := Open(tb.Context(), Config{DSN: dsn + "&synchronous_commit=off", Schema: randomSchema()})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			ctx := context.Background()
			if _, err := s.pool.Exec(ctx, "DROP SCHEMA "+s.schema+" CASCADE"); err != nil {
				tb.Error(err)
			}
			s.Close()
		})
		return s
	})
}
