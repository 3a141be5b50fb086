package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/floodgate-dev/floodgate/internal/sqlitedb"
)

// sqliteChunk is how many rows one INSERT statement carries: a whole
// Publisher batch (22 columns × 256 rows stays well under SQLite's 32766
// bound variables), whose statement is prepared once.
const sqliteChunk = DefaultMaxBatch

// sqliteDB is the SQLite backend. Like the session store it writes through
// one connection (no contention for the file's write lock inside the
// process) and reads through a small pool of its own.
type sqliteDB struct {
	w, r *sql.DB
	// full inserts a whole chunk, prepared on the writing connection:
	// parsing 5632 placeholders costs more than executing them.
	full *sql.Stmt
}

func openSQLite(ctx context.Context, cfg Config) (*DB, error) {
	// synchronous=NORMAL may lose the last commits to a power loss; Q2
	// then still holds them unless already acknowledged.
	db, err := sqlitedb.Open(sqlitedb.Options{Path: cfg.Path, BusyTimeout: cfg.BusyTimeout})
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	s := &sqliteDB{w: db.W, r: db.R}
	if err := s.migrate(ctx, cfg); err != nil {
		s.close()
		return nil, err
	}
	if s.full, err = s.w.PrepareContext(ctx, sqliteInsert(sqliteChunk)); err != nil {
		s.close()
		return nil, fmt.Errorf("ledger: prepare insert: %w", err)
	}
	return &DB{b: s, d: dialect{
		table: "usage_records",
		hour:  `strftime('%Y-%m-%dT%H:00:00Z', at / 1000000, 'unixepoch')`,
		day:   `strftime('%Y-%m-%d', at / 1000000, 'unixepoch')`,
		arg:   func(int) string { return "?" },
		time:  func(t time.Time) any { return t.UnixMicro() },
	}}, nil
}

func (s *sqliteDB) migrate(ctx context.Context, cfg Config) error {
	fsys, err := migrationFS("migrations/sqlite", "")
	if err != nil {
		return fmt.Errorf("ledger: migrations: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, fsys,
		goose.WithTableName("ledger_migrations"), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("ledger: migrations: %w", err)
	}
	return migrate(ctx, p, cfg.Logger, "sqlite "+cfg.Path)
}

// sqliteInsert is the INSERT statement of n rows.
func sqliteInsert(n int) string {
	var b strings.Builder
	b.WriteString("INSERT INTO usage_records (" + strings.Join(columns, ", ") + ") VALUES ")
	row := "(" + strings.Repeat("?, ", len(columns)-1) + "?)"
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (id) DO NOTHING")
	return b.String()
}

func (s *sqliteDB) insert(ctx context.Context, recs []Record) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _ = tx.Rollback() }()
	args := make([]any, 0, min(len(recs), sqliteChunk)*len(columns))
	var n int64
	for len(recs) > 0 {
		chunk := recs[:min(len(recs), sqliteChunk)]
		recs = recs[len(chunk):]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			args = append(args, r.ID, string(r.Kind), r.At.UnixMicro(), r.RunID, r.Call, r.Tenant, r.Tier,
				r.UserID, r.SessionID, r.Agent, r.Intent, r.Model, r.Endpoint, r.TokensIn, r.TokensOut,
				r.TokensCached, int64(r.Cost), r.Latency.Microseconds(), r.Status, r.Error,
				r.Degraded, r.toplevel())
		}
		var res sql.Result
		if len(chunk) == sqliteChunk {
			res, err = tx.StmtContext(ctx, s.full).ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, sqliteInsert(len(chunk)), args...)
		}
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += k
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *sqliteDB) query(ctx context.Context, q string, args []any, row func(scan func(dest ...any) error) error) error {
	rows, err := s.r.QueryContext(ctx, q, args...)
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

// SQLite's primary result codes that mean the data, not the database, is
// at fault.
const (
	sqliteTooBig     = 18
	sqliteConstraint = 19
	sqliteMismatch   = 20
	sqliteRange      = 25
)

func (s *sqliteDB) permanent(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqliteTooBig, sqliteConstraint, sqliteMismatch, sqliteRange:
		return true
	}
	return false
}

func (s *sqliteDB) close() error {
	var err error
	if s.full != nil {
		err = s.full.Close()
	}
	err = errors.Join(err, s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}
