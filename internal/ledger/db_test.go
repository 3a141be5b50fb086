package ledger

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readRecord reads one stored record back, whatever the dialect's types.
func readRecord(t testing.TB, db *DB, id string) Record {
	t.Helper()
	var r Record
	var kind string
	var at, call, cost, latency, degraded any
	err := db.b.query(context.Background(),
		"SELECT id, kind, at, run_id, call_index, tenant, tier, user_id, session_id, agent, intent, model, endpoint, "+
			"tokens_in, tokens_out, tokens_cached, cost_nanos, latency_us, status, error, degraded FROM "+db.d.table+
			" WHERE id = "+db.d.arg(1), []any{id},
		func(scan func(...any) error) error {
			return scan(&r.ID, &kind, &at, &r.RunID, &call, &r.Tenant, &r.Tier, &r.UserID, &r.SessionID,
				&r.Agent, &r.Intent, &r.Model, &r.Endpoint, &r.TokensIn, &r.TokensOut, &r.TokensCached,
				&cost, &latency, &r.Status, &r.Error, &degraded)
		})
	require.NoError(t, err)
	r.Kind = Kind(kind)
	switch v := at.(type) {
	case int64:
		r.At = time.UnixMicro(v).UTC()
	case time.Time:
		r.At = v.UTC()
	default:
		t.Fatalf("at of type %T", at)
	}
	r.Call = int(asInt(t, call))
	r.Cost = USD(asInt(t, cost))
	r.Latency = time.Duration(asInt(t, latency)) * time.Microsecond
	switch v := degraded.(type) {
	case bool:
		r.Degraded = v
	default:
		r.Degraded = asInt(t, v) != 0
	}
	return r
}

func asInt(t testing.TB, v any) int64 {
	switch v := v.(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	}
	t.Fatalf("integer of type %T", v)
	return 0
}

func TestInsertRoundTrip(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		at := time.Date(2025, 11, 28, 3, 15, 42, 123456789, time.UTC)
		recs := []Record{
			{ID: "run_1/1", Kind: KindCall, At: at, RunID: "run_1", Call: 1, Tenant: "acme", Tier: "vip", UserID: "u1",
				SessionID: "s1", Agent: "support", Intent: "order_status", Model: "small", Endpoint: "sim-a",
				TokensIn: 1200, TokensOut: 80, TokensCached: 1024, Cost: 345_678, Latency: 812345 * time.Microsecond,
				Status: StatusOK},
			{ID: "run_1", Kind: KindRun, At: at, RunID: "run_1", Tenant: "acme", Agent: "support", Model: "small",
				Latency: time.Second, Status: "degraded", Error: "timeout", Degraded: true},
			{ID: "chatcmpl-é\x00", Kind: KindCall, At: at, Model: "large"},
		}
		n, err := db.Insert(context.Background(), recs)
		require.NoError(t, err)
		assert.Equal(t, 3, n)

		want := recs[0]
		want.At = at.Truncate(time.Microsecond)
		assert.Equal(t, want, readRecord(t, db, "run_1/1"))
		want = recs[1]
		want.At = at.Truncate(time.Microsecond)
		assert.Equal(t, want, readRecord(t, db, "run_1"))
		// Insert made the NUL storable, in the caller's slice too.
		assert.Equal(t, "chatcmpl-é\uFFFD", recs[2].ID)
		assert.Equal(t, "large", readRecord(t, db, recs[2].ID).Model)
	})
}

func TestInsertIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		at := time.Now()
		recs := testRecords("r", 600, at) // more than one SQLite chunk
		n, err := db.Insert(ctx, recs)
		require.NoError(t, err)
		assert.Equal(t, 600, n)

		// The same records again, some new ones, and a duplicate within
		// the batch.
		again := append(testRecords("r", 600, at), testRecords("s", 10, at)...)
		again = append(again, again[0])
		n, err = db.Insert(ctx, again)
		require.NoError(t, err)
		assert.Equal(t, 10, n)
		rows, ids := count(t, db)
		assert.Equal(t, int64(610), rows)
		assert.Equal(t, rows, ids)
	})
}

func TestInsertRefusesInvalidRecords(t *testing.T) {
	db := openDB(t, Config{Path: ":memory:"})
	_, err := db.Insert(context.Background(), []Record{{ID: "a", Kind: KindCall, At: time.Now()}, {ID: "", Kind: KindCall}})
	assert.ErrorIs(t, err, ErrInvalidRecord)
	rows, _ := count(t, db)
	assert.Zero(t, rows)
}

// breakdownRecords is a small ledger whose breakdowns are worked out by
// hand: two runs of support (3 calls) and one plain chat completion, over
// two hours.
func breakdownRecords(h time.Time) []Record {
	return []Record{
		// Run 1, tenant acme, hour h: two calls (small, then large).
		{ID: "r1/1", RunID: "r1", Call: 1, At: h.Add(time.Minute), Tenant: "acme", Tier: "free", Agent: "support",
			Intent: "order_status", Model: "small", Endpoint: "a", TokensIn: 100, TokensOut: 10, TokensCached: 50,
			Cost: 1_000, Latency: 200 * time.Millisecond},
		{ID: "r1/2", RunID: "r1", Call: 2, At: h.Add(2 * time.Minute), Tenant: "acme", Tier: "free", Agent: "support",
			Intent: "order_status", Model: "large", Endpoint: "a", TokensIn: 300, TokensOut: 30, Cost: 20_000,
			Latency: 400 * time.Millisecond, Error: "timeout"},
		{ID: "r1", Kind: KindRun, RunID: "r1", At: h.Add(time.Minute), Tenant: "acme", Tier: "free", Agent: "support",
			Intent: "order_status", Model: "large", TokensIn: 400, TokensOut: 40, Cost: 21_000,
			Latency: 700 * time.Millisecond, Status: "completed"},
		// Run 2, tenant globex, hour h+1: one call, degraded.
		{ID: "r2/1", RunID: "r2", Call: 1, At: h.Add(61 * time.Minute), Tenant: "globex", Tier: "vip", Agent: "support",
			Intent: "refund", Model: "large", Endpoint: "b", TokensIn: 500, TokensOut: 50, Cost: 30_000,
			Latency: 900 * time.Millisecond},
		{ID: "r2", Kind: KindRun, RunID: "r2", At: h.Add(61 * time.Minute), Tenant: "globex", Tier: "vip", Agent: "support",
			Intent: "refund", Model: "large", Latency: 1000 * time.Millisecond, Status: "degraded", Degraded: true},
		// A chat completion outside any run, hour h+1, failed.
		{ID: "c1", At: h.Add(90 * time.Minute), Tenant: "acme", Tier: "free", Model: "small", Endpoint: "b",
			TokensIn: 20, Cost: 7, Latency: 100 * time.Millisecond, Error: "server_error"},
		// Outside the range.
		{ID: "old", At: h.Add(-time.Minute), Tenant: "acme", Model: "small", TokensIn: 1 << 30, Cost: Dollar},
	}
}

func TestBreakdown(t *testing.T) {
	h := time.Date(2025, 11, 28, 3, 0, 0, 0, time.UTC)
	q := func(g GroupBy) Query { return Query{GroupBy: g, From: h, To: h.Add(2 * time.Hour)} }
	forEachBackend(t, func(t *testing.T, db *DB) {
		recs := breakdownRecords(h)
		for i := range recs {
			recs[i].fill(func() string { return "x" }, h)
		}
		_, err := db.Insert(context.Background(), recs)
		require.NoError(t, err)

		tests := []struct {
			give Query
			want []Row
		}{
			{q(GroupAgent), []Row{
				{Key: "", Requests: 1, Calls: 1, Errors: 1, TokensIn: 20, Cost: 7, LatencyP50MS: 100, LatencyAvgMS: 100},
				{Key: "support", Requests: 2, Calls: 3, Degraded: 1, TokensIn: 900, TokensOut: 90, TokensCached: 50,
					Cost: 51_000, LatencyP50MS: 700, LatencyAvgMS: 850},
			}},
			{q(GroupTenant), []Row{
				{Key: "acme", Requests: 2, Calls: 3, Errors: 1, TokensIn: 420, TokensOut: 40, TokensCached: 50,
					Cost: 21_007, LatencyP50MS: 100, LatencyAvgMS: 400},
				{Key: "globex", Requests: 1, Calls: 1, Degraded: 1, TokensIn: 500, TokensOut: 50, Cost: 30_000,
					LatencyP50MS: 1000, LatencyAvgMS: 1000},
			}},
			{q(GroupModel), []Row{ // by model, a request is a call
				{Key: "large", Requests: 2, Calls: 2, Errors: 1, TokensIn: 800, TokensOut: 80, Cost: 50_000,
					LatencyP50MS: 400, LatencyAvgMS: 650},
				{Key: "small", Requests: 2, Calls: 2, Errors: 1, TokensIn: 120, TokensOut: 10, TokensCached: 50,
					Cost: 1_007, LatencyP50MS: 100, LatencyAvgMS: 150},
			}},
			{q(GroupHour), []Row{
				{Key: "2025-11-28T03:00:00Z", Requests: 1, Calls: 2, TokensIn: 400, TokensOut: 40, TokensCached: 50,
					Cost: 21_000, LatencyP50MS: 700, LatencyAvgMS: 700},
				{Key: "2025-11-28T04:00:00Z", Requests: 2, Calls: 2, Errors: 1, Degraded: 1, TokensIn: 520, TokensOut: 50,
					Cost: 30_007, LatencyP50MS: 100, LatencyAvgMS: 550},
			}},
			{q(GroupDay), []Row{
				{Key: "2025-11-28", Requests: 3, Calls: 4, Errors: 1, Degraded: 1, TokensIn: 920, TokensOut: 90,
					TokensCached: 50, Cost: 51_007, LatencyP50MS: 700, LatencyAvgMS: 600},
			}},
			{Query{GroupBy: GroupIntent, From: h.Add(time.Hour), To: h.Add(2 * time.Hour)}, []Row{
				{Key: "", Requests: 1, Calls: 1, Errors: 1, TokensIn: 20, Cost: 7, LatencyP50MS: 100, LatencyAvgMS: 100},
				{Key: "refund", Requests: 1, Calls: 1, Degraded: 1, TokensIn: 500, TokensOut: 50, Cost: 30_000,
					LatencyP50MS: 1000, LatencyAvgMS: 1000},
			}},
		}
		for _, tt := range tests {
			got, err := db.Breakdown(context.Background(), tt.give)
			require.NoError(t, err, tt.give.GroupBy)
			assert.Equal(t, tt.want, got.Rows, tt.give.GroupBy)
			var total Row
			for _, r := range tt.want {
				total.Requests += r.Requests
				total.Calls += r.Calls
				total.Cost += r.Cost
				total.TokensIn += r.TokensIn
			}
			assert.Equal(t, [4]int64{total.Requests, total.Calls, int64(total.Cost), total.TokensIn},
				[4]int64{got.Total.Requests, got.Total.Calls, int64(got.Total.Cost), got.Total.TokensIn}, tt.give.GroupBy)
			assert.Equal(t, "total", got.Total.Key)
		}
		day, err := db.Breakdown(context.Background(), q(GroupDay))
		require.NoError(t, err)
		assert.Equal(t, 700.0, day.Total.LatencyP50MS)

		empty, err := db.Breakdown(context.Background(), Query{GroupBy: GroupAgent, From: h.Add(-48 * time.Hour), To: h.Add(-47 * time.Hour)})
		require.NoError(t, err)
		assert.Equal(t, []Row{}, empty.Rows)
		assert.Equal(t, Row{Key: "total"}, empty.Total)

		for _, bad := range []Query{{GroupBy: "user", From: h, To: h.Add(time.Hour)}, {GroupBy: GroupAgent, From: h, To: h}} {
			_, err := db.Breakdown(context.Background(), bad)
			assert.ErrorIs(t, err, ErrInvalidQuery)
		}
	})
}

// TestOpenMigratesOnce: opening an existing ledger again, or from several
// nodes at once, migrates once and keeps the records.
func TestOpenMigratesOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "sub", "ledger.db")
		db := openDB(t, Config{Path: path})
		_, err := db.Insert(context.Background(), testRecords("a", 3, time.Now()))
		require.NoError(t, err)
		again := openDB(t, Config{Path: path})
		rows, _ := count(t, again)
		assert.Equal(t, int64(3), rows)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		schema := pgSchema(t)
		var wg sync.WaitGroup
		dbs := make([]*DB, 3)
		errs := make([]error, 3)
		for i := range dbs {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				dbs[i], errs[i] = Open(ctx, Config{PostgresDSN: pgDSN, Schema: schema, Logger: quiet})
			})
		}
		wg.Wait()
		for i, db := range dbs {
			require.NoError(t, errs[i], "node %d", i)
			t.Cleanup(func() { _ = db.Close() })
		}
		_, err := dbs[0].Insert(context.Background(), testRecords("a", 3, time.Now()))
		require.NoError(t, err)
		rows, _ := count(t, dbs[2])
		assert.Equal(t, int64(3), rows)
		var versions int64
		require.NoError(t, dbs[1].b.query(context.Background(),
			"SELECT COUNT(*) FROM "+schema+".ledger_migrations WHERE version_id > 0", nil,
			func(scan func(...any) error) error { return scan(&versions) }))
		assert.Equal(t, int64(1), versions)
	})
}

func TestConfigRefusesBadSchema(t *testing.T) {
	for _, s := range []string{"Floodgate", "a;drop", "1abc", "a.b"} {
		_, err := Open(context.Background(), Config{PostgresDSN: pgDSN, Schema: s})
		assert.ErrorIs(t, err, ErrInvalidConfig, s)
	}
}

func ExampleUSD() {
	var total USD
	for range 3 {
		total += Dollars(0.15 * 100 / 1e6) // 100 input tokens at $0.15 per million
	}
	fmt.Println(total)
	// Output: 0.000045
}
