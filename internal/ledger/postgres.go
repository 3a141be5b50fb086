package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/floodgate-dev/floodgate/internal/pgdb"
)

// pgDB is the PostgreSQL backend, on a pgx pool.
type pgDB struct {
	pool      *pgxpool.Pool
	insertSQL string
}

func openPostgres(ctx context.Context, cfg Config) (*DB, error) {
	pool, err := pgdb.Open(ctx, cfg.PostgresDSN, poolOptions(cfg))
	if err != nil {
		return nil, fmt.Errorf("ledger: open postgres: %w", err)
	}
	p := &pgDB{pool: pool, insertSQL: pgInsert(cfg.Schema)}
	if err := p.migrate(ctx, cfg); err != nil {
		pool.Close()
		return nil, err
	}
	return &DB{b: p, d: dialect{
		table: cfg.Schema + ".usage_records",
		hour:  `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24":00:00Z"')`,
		day:   `to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD')`,
		arg:   func(n int) string { return "$" + strconv.Itoa(n) },
		time:  func(t time.Time) any { return t },
	}}, nil
}

// poolOptions are the pool settings of cfg.
func poolOptions(cfg Config) pgdb.Options {
	return pgdb.Options{MaxConns: cfg.MaxConns, MaxConnLifetime: cfg.MaxConnLifetime, MaxConnIdleTime: cfg.MaxConnIdleTime,
		HealthCheckPeriod: cfg.HealthCheckPeriod, SimpleProtocol: cfg.SimpleProtocol, ConnectTimeout: cfg.ConnectTimeout}
}

// migrate creates the schema and applies the migrations, under goose's
// table lock so that nodes starting together migrate once.
func (p *pgDB) migrate(ctx context.Context, cfg Config) error {
	var db *sql.DB
	if cfg.MigrateDSN != "" {
		cc, err := pgx.ParseConfig(cfg.MigrateDSN)
		if err != nil {
			return fmt.Errorf("ledger: migrate postgres: %w", err)
		}
		poolOptions(cfg).Tune(cc)
		db = stdlib.OpenDB(*cc)
	} else {
		db = stdlib.OpenDBFromPool(p.pool)
	}
	defer db.Close()

	if _, err := db.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+cfg.Schema); err != nil {
		// Two nodes creating it at once: one of them gets a unique
		// violation on the catalogue although IF NOT EXISTS.
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23505" {
			return fmt.Errorf("ledger: create schema %s: %w", cfg.Schema, err)
		}
	}
	locker, err := lock.NewPostgresTableLocker(
		lock.WithTableName(cfg.Schema+".ledger_migration_lock"),
		lock.WithTableLockTimeout(500*time.Millisecond, 600),
		lock.WithTableLogger(cfg.Logger))
	if err != nil {
		return fmt.Errorf("ledger: migrate postgres: %w", err)
	}
	fsys, err := migrationFS("migrations/postgres", cfg.Schema)
	if err != nil {
		return fmt.Errorf("ledger: migrations: %w", err)
	}
	prov, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(cfg.Schema+".ledger_migrations"), goose.WithLocker(locker),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("ledger: migrations: %w", err)
	}
	return migrate(ctx, prov, cfg.Logger, "postgres schema "+cfg.Schema)
}

// pgInsert is the INSERT of a batch: one statement whatever the batch's
// size (one array per column), so it is prepared once per connection, and
// its parameters stay 22 however many rows.
func pgInsert(schema string) string {
	types := []string{"text", "text", "timestamptz", "text", "int4", "text", "text", "text", "text",
		"text", "text", "text", "text", "int8", "int8", "int8", "int8",
		"int8", "text", "text", "bool", "bool"}
	args := make([]string, len(types))
	for i, t := range types {
		args[i] = "$" + strconv.Itoa(i+1) + "::" + t + "[]"
	}
	return "INSERT INTO " + schema + ".usage_records (" + strings.Join(columns, ", ") + ") " +
		"SELECT * FROM unnest(" + strings.Join(args, ", ") + ") ON CONFLICT (id) DO NOTHING"
}

func (p *pgDB) insert(ctx context.Context, recs []Record) (int64, error) {
	n := len(recs)
	var (
		id, kind, runID, tenant, tier, user, session = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		agent, intent, model, endpoint, status, errs = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at                                           = make([]time.Time, n)
		call                                         = make([]int32, n)
		in, out, cached, cost, latency               = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		degraded, top                                = make([]bool, n), make([]bool, n)
	)
	for i := range recs {
		r := &recs[i]
		id[i], kind[i], at[i], runID[i], call[i] = r.ID, string(r.Kind), r.At, r.RunID, int32(min(r.Call, 1<<31-1))
		tenant[i], tier[i], user[i], session[i] = r.Tenant, r.Tier, r.UserID, r.SessionID
		agent[i], intent[i], model[i], endpoint[i] = r.Agent, r.Intent, r.Model, r.Endpoint
		in[i], out[i], cached[i], cost[i], latency[i] = r.TokensIn, r.TokensOut, r.TokensCached, int64(r.Cost), r.Latency.Microseconds()
		status[i], errs[i], degraded[i], top[i] = r.Status, r.Error, r.Degraded, r.toplevel()
	}
	// One statement is one transaction.
	tag, err := p.pool.Exec(ctx, p.insertSQL, id, kind, at, runID, call, tenant, tier, user, session,
		agent, intent, model, endpoint, in, out, cached, cost, latency, status, errs, degraded, top)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (p *pgDB) query(ctx context.Context, q string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}

// permanent: data exceptions (class 22) and integrity violations (23) are
// the data's fault; everything else (connections, time-outs, a server
// shutting down, a missing table while an operator restores it) may pass.
func (p *pgDB) permanent(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23"))
}

func (p *pgDB) close() error {
	p.pool.Close()
	return nil
}
