package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/queue"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pgDSN is the PostgreSQL the integration tests use; each test works in a
// schema of its own.
const pgDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

var quiet = slog.New(slog.DiscardHandler)

// requireService skips a test whose service is missing, except under
// CI=true, where a missing service is a failure.
func requireService(t testing.TB, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("%s not available: %v", name, err)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// pgSchema checks that PostgreSQL answers and returns a fresh schema name,
// dropped with everything in it when the test ends.
func pgSchema(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgDSN)
	requireService(t, "PostgreSQL at 127.0.0.1:5432", err)
	conn.Close(ctx)
	schema := "ledger_t_" + randomHex(6)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pgDSN)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openDB opens a database and closes it when the test ends.
func openDB(t testing.TB, cfg Config) *DB {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

func openSQLiteDB(t testing.TB) *DB {
	return openDB(t, Config{Path: filepath.Join(t.TempDir(), "ledger.db")})
}

func openPostgresDB(t testing.TB) *DB {
	return openDB(t, Config{PostgresDSN: pgDSN, Schema: pgSchema(t)})
}

// backends are the two columns of the design's table; every test body
// that touches a database runs against both.
var backends = []struct {
	name string
	open func(testing.TB) *DB
}{
	{"sqlite", openSQLiteDB},
	{"postgres", openPostgresDB},
}

func forEachBackend(t *testing.T, fn func(t *testing.T, db *DB)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b.open(t))
		})
	}
}

// openQueue starts an embedded Q2 (a real NATS server with JetStream on
// disk) with the ledger's stream.
func openQueue(t testing.TB) *queue.Queue {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Config{DataDir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	require.NoError(t, q.EnsureStream(ctx, StreamConfig()))
	return q
}

// run starts fn (a Run method) and stops it when the test ends, requiring
// a clean return. Cleanups run last-registered first: start parts in the
// order they must stop in reverse.
func run(t testing.TB, name string, fn func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err, name)
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", name)
		}
	})
}

// testRecords returns n call records of several agents, models, tenants
// and hours, IDs prefix-0 … prefix-(n-1).
func testRecords(prefix string, n int, at time.Time) []Record {
	agents := []string{"support", "sales", ""}
	models := []string{"small", "large"}
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{
			ID: prefix + "-" + strconv.Itoa(i), Kind: KindCall, At: at.Add(time.Duration(i) * time.Millisecond),
			Tenant: fmt.Sprintf("tenant-%d", i%4), Tier: "free", UserID: "u" + strconv.Itoa(i%10),
			Agent: agents[i%len(agents)], Intent: "order_status", Model: models[i%len(models)], Endpoint: "sim",
			TokensIn: int64(100 + i%7), TokensOut: int64(20 + i%3), TokensCached: int64(i % 5),
			Cost: USD(1000 + i), Latency: time.Duration(1+i%50) * time.Millisecond, Status: StatusOK,
		}
	}
	return recs
}

// count returns how many records the ledger holds, and how many distinct
// IDs.
func count(t testing.TB, db *DB) (rows, ids int64) {
	t.Helper()
	rows, ids, err := tryCount(db)
	require.NoError(t, err)
	return rows, ids
}

func tryCount(db *DB) (rows, ids int64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = db.b.query(ctx, "SELECT COUNT(*), COUNT(DISTINCT id) FROM "+db.d.table, nil,
		func(scan func(...any) error) error { return scan(&rows, &ids) })
	return rows, ids, err
}

// waitCount waits until the ledger holds n records. Query errors are
// retried: right after an outage, a pooled connection may still be a cut
// one.
func waitCount(t testing.TB, db *DB, n int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		rows, _, err := tryCount(db)
		if err == nil && rows >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger holds %d records after %s, want %d (last error: %v)", rows, within, n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
