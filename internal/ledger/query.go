package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// GroupBy is what a breakdown's rows are keyed by.
type GroupBy string

// The breakdowns. Hours and days are UTC, keyed "2006-01-02T15:00:00Z"
// and "2006-01-02".
const (
	GroupAgent    GroupBy = "agent"
	GroupTenant   GroupBy = "tenant"
	GroupTier     GroupBy = "tier"
	GroupModel    GroupBy = "model"
	GroupEndpoint GroupBy = "endpoint"
	GroupIntent   GroupBy = "intent"
	GroupHour     GroupBy = "hour"
	GroupDay      GroupBy = "day"
)

// Groups lists every GroupBy, in the order help texts show them.
var Groups = []GroupBy{GroupAgent, GroupTenant, GroupTier, GroupModel, GroupEndpoint, GroupIntent, GroupHour, GroupDay}

// Valid reports whether g is one of Groups.
func (g GroupBy) Valid() bool { return slices.Contains(Groups, g) }

// perCall reports whether a breakdown's requests are model calls: a run
// may use several models and endpoints, so by model or endpoint a
// "request" is one call to it.
func (g GroupBy) perCall() bool { return g == GroupModel || g == GroupEndpoint }

// Query asks for a breakdown of the records whose At is in [From, To).
type Query struct {
	GroupBy GroupBy
	From    time.Time
	To      time.Time
}

// ErrInvalidQuery wraps why Breakdown refused a Query.
var ErrInvalidQuery = errors.New("ledger: invalid query")

// Row is one line of a breakdown.
//
// Tokens, cost and Calls count call records (a run's own record would
// count them twice). Requests, Errors, Degraded and the latencies count
// what clients saw: runs, and chat completions made outside runs; except
// by model and by endpoint, where they count model calls.
type Row struct {
	// Key is the group's value ("" when records did not say: plain chat
	// completions have no agent), or "total" for the total row.
	Key          string `json:"key"`
	Requests     int64  `json:"requests"`
	Calls        int64  `json:"calls"`
	Errors       int64  `json:"errors"`
	Degraded     int64  `json:"degraded"`
	TokensIn     int64  `json:"tokens_in"`
	TokensOut    int64  `json:"tokens_out"`
	TokensCached int64  `json:"tokens_cached"`
	Cost         USD    `json:"cost_usd"`
	// LatencyP50MS is the lower median latency of the requests, in
	// milliseconds (microsecond resolution); LatencyAvgMS their mean.
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyAvgMS float64 `json:"latency_avg_ms"`
}

// Breakdown is the answer to a Query: rows in key order, and their total.
type Breakdown struct {
	GroupBy GroupBy   `json:"group_by"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Rows    []Row     `json:"rows"`
	Total   Row       `json:"total"`
}

// Breakdown sums the records of q's range by q.GroupBy. It reads a range
// of the at index and sorts the range's latencies once per row set (for
// the medians): an admin query, not a hot path.
func (db *DB) Breakdown(ctx context.Context, q Query) (*Breakdown, error) {
	if !q.GroupBy.Valid() {
		return nil, fmt.Errorf("%w: group by %q", ErrInvalidQuery, q.GroupBy)
	}
	q.From, q.To = q.From.UTC().Truncate(time.Microsecond), q.To.UTC().Truncate(time.Microsecond)
	if !q.From.Before(q.To) {
		return nil, fmt.Errorf("%w: from %s is not before to %s", ErrInvalidQuery, q.From, q.To)
	}
	args := []any{db.d.time(q.From), db.d.time(q.To)}
	key := db.keyExpr(q.GroupBy)
	req := "toplevel"
	if q.GroupBy.perCall() {
		req = "kind = 'call'"
	}

	out := &Breakdown{GroupBy: q.GroupBy, From: q.From, To: q.To, Rows: []Row{}, Total: Row{Key: "total"}}
	type summed struct {
		Row
		latency int64 // µs, summed over requests
	}
	var rows []summed
	err := db.b.query(ctx, db.aggregateSQL(key, req), args, func(scan func(...any) error) error {
		var r summed
		var cost int64
		if err := scan(&r.Key, &r.Requests, &r.Calls, &r.Errors, &r.Degraded,
			&r.TokensIn, &r.TokensOut, &r.TokensCached, &cost, &r.latency); err != nil {
			return err
		}
		r.Cost = USD(cost)
		rows = append(rows, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: breakdown by %s: %w", q.GroupBy, err)
	}
	// Byte order, the same whatever the database's collation.
	slices.SortFunc(rows, func(a, b summed) int { return strings.Compare(a.Key, b.Key) })
	index := make(map[string]int, len(rows))
	var totalLat int64
	for i := range rows {
		r := &rows[i].Row
		index[r.Key] = i
		if r.Requests > 0 {
			r.LatencyAvgMS = float64(rows[i].latency) / float64(r.Requests) / 1000
		}
		t := &out.Total
		t.Requests += r.Requests
		t.Calls += r.Calls
		t.Errors += r.Errors
		t.Degraded += r.Degraded
		t.TokensIn += r.TokensIn
		t.TokensOut += r.TokensOut
		t.TokensCached += r.TokensCached
		t.Cost += r.Cost
		totalLat += rows[i].latency
		out.Rows = append(out.Rows, *r)
	}
	if out.Total.Requests > 0 {
		out.Total.LatencyAvgMS = float64(totalLat) / float64(out.Total.Requests) / 1000
	}
	if len(out.Rows) == 0 {
		return out, nil
	}
	err = db.b.query(ctx, db.medianSQL(key, req), args, func(scan func(...any) error) error {
		var k string
		var us int64
		if err := scan(&k, &us); err != nil {
			return err
		}
		if i, ok := index[k]; ok {
			out.Rows[i].LatencyP50MS = float64(us) / 1000
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: breakdown medians by %s: %w", q.GroupBy, err)
	}
	err = db.b.query(ctx, db.medianSQL("", req), args, func(scan func(...any) error) error {
		var k string
		var us int64
		if err := scan(&k, &us); err != nil {
			return err
		}
		out.Total.LatencyP50MS = float64(us) / 1000
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ledger: breakdown median: %w", err)
	}
	return out, nil
}

// keyExpr is the SQL expression of g's key; g is valid.
func (db *DB) keyExpr(g GroupBy) string {
	switch g {
	case GroupHour:
		return db.d.hour
	case GroupDay:
		return db.d.day
	}
	// The other groups are columns of the same name.
	return string(g)
}

// aggregateSQL sums the range by key; req selects the records that count
// as requests. Sums are cast to bigint: PostgreSQL's sum of bigint is
// numeric.
func (db *DB) aggregateSQL(key, req string) string {
	sum := func(cond, v string) string {
		return "CAST(SUM(CASE WHEN " + cond + " THEN " + v + " ELSE 0 END) AS BIGINT)"
	}
	return "SELECT " + key + " AS k, " +
		sum(req, "1") + ", " +
		sum("kind = 'call'", "1") + ", " +
		sum(req+" AND error <> ''", "1") + ", " +
		sum(req+" AND degraded", "1") + ", " +
		sum("kind = 'call'", "tokens_in") + ", " +
		sum("kind = 'call'", "tokens_out") + ", " +
		sum("kind = 'call'", "tokens_cached") + ", " +
		sum("kind = 'call'", "cost_nanos") + ", " +
		sum(req, "latency_us") +
		" FROM " + db.d.table +
		" WHERE at >= " + db.d.arg(1) + " AND at < " + db.d.arg(2) +
		" GROUP BY k"
}

// medianSQL returns the lower median latency of the requests of each key
// (of all requests, under an empty key, when key is empty): the middle row
// of each key's sorted latencies.
func (db *DB) medianSQL(key, req string) string {
	part := ""
	if key == "" {
		key = "''"
	} else {
		part = "PARTITION BY " + key
	}
	return "WITH t AS (SELECT " + key + " AS k, latency_us AS l, " +
		"ROW_NUMBER() OVER (" + part + " ORDER BY latency_us) AS rn, " +
		"COUNT(*) OVER (" + part + ") AS n " +
		"FROM " + db.d.table +
		" WHERE at >= " + db.d.arg(1) + " AND at < " + db.d.arg(2) + " AND " + req + ") " +
		"SELECT k, l FROM t WHERE rn = (n + 1) / 2"
}
