package handoff

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/floodgate-dev/floodgate/internal/sqlitedb"
)

// SQLStore is the Store over SQLite or PostgreSQL: tickets as JSON
// documents with their status, priority and times in columns, a partial
// unique index that allows one active ticket per session, and the events
// (the outbox) in a second table. Safe for concurrent use; Close it when
// done.
type SQLStore struct {
	w, r     *sql.DB // writes, reads (the same pool on PostgreSQL)
	postgres bool
	tickets  string // table names, schema-qualified on PostgreSQL
	events   string
}

// SQLiteConfig configures OpenSQLite.
type SQLiteConfig struct {
	// Path is the database file, created when missing; it may be the
	// session store's file (the tables do not collide). Default
	// "floodgate-handoffs.db". ":memory:" keeps everything in memory.
	Path string
	// BusyTimeout is how long a write waits for another process holding
	// the file's write lock. Default 5 s.
	BusyTimeout time.Duration
}

// OpenSQLite opens (creating) the tickets' tables in a SQLite file. One
// connection writes, so this process's writes never contend; reads use a
// pool of their own. Commits survive a crash of the process (WAL,
// synchronous=NORMAL).
func OpenSQLite(ctx context.Context, cfg SQLiteConfig) (*SQLStore, error) {
	if cfg.Path == "" {
		cfg.Path = "floodgate-handoffs.db"
	}
	if cfg.BusyTimeout <= 0 {
		cfg.BusyTimeout = 5 * time.Second
	}
	db, err := sqlitedb.Open(sqlitedb.Options{Path: cfg.Path, BusyTimeout: cfg.BusyTimeout})
	if err != nil {
		return nil, fmt.Errorf("handoff store: %w", err)
	}
	s := &SQLStore{w: db.W, r: db.R, tickets: "handoff_tickets", events: "handoff_events"}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// PostgresConfig configures OpenPostgres.
type PostgresConfig struct {
	// DSN is a postgres:// URL or key=value connection string. Required.
	DSN string
	// Schema holds the tables, created when missing. Default "floodgate".
	Schema string
	// MaxConns is the pool size. Default 8.
	MaxConns int
}

// OpenPostgres opens a pool (pgx through database/sql) and creates the
// tickets' tables in cfg.Schema when missing, under an advisory lock so
// that several nodes may start at once.
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*SQLStore, error) {
	if cfg.DSN == "" {
		return nil, errors.New("handoff store: postgres DSN required")
	}
	if cfg.Schema == "" {
		cfg.Schema = "floodgate"
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 8
	}
	cc, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("handoff store: %w", err)
	}
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(cfg.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	schema := pgx.Identifier{cfg.Schema}.Sanitize()
	s := &SQLStore{w: db, r: db, postgres: true, tickets: schema + ".handoff_tickets", events: schema + ".handoff_events"}
	if err := s.migrateLocked(ctx, schema, cfg.Schema); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database handles.
func (s *SQLStore) Close() error {
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

func (s *SQLStore) ddl() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + s.tickets + ` (
			id TEXT PRIMARY KEY,
			tenant TEXT NOT NULL,
			session TEXT NOT NULL,
			status TEXT NOT NULL,
			priority BIGINT NOT NULL,
			created_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL,
			doc TEXT NOT NULL)`,
		`CREATE UNIQUE INDEX IF NOT EXISTS handoff_tickets_active ON ` + s.tickets +
			` (tenant, session) WHERE status IN ('open', 'claimed')`,
		`CREATE INDEX IF NOT EXISTS handoff_tickets_queue ON ` + s.tickets + ` (status, priority, created_at)`,
		`CREATE TABLE IF NOT EXISTS ` + s.events + ` (
			id TEXT PRIMARY KEY,
			ticket_id TEXT NOT NULL,
			type TEXT NOT NULL,
			body TEXT NOT NULL,
			created_at BIGINT NOT NULL,
			published_at BIGINT,
			delivered_at BIGINT,
			failed TEXT NOT NULL DEFAULT '')`,
		`CREATE INDEX IF NOT EXISTS handoff_events_pending ON ` + s.events +
			` (created_at) WHERE delivered_at IS NULL AND failed = ''`,
	}
}

func (s *SQLStore) migrate(ctx context.Context) error {
	for _, q := range s.ddl() {
		if _, err := s.w.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("handoff store: migrate: %w", err)
		}
	}
	return nil
}

func (s *SQLStore) migrateLocked(ctx context.Context, quoted, schema string) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("handoff store: migrate: %w", err)
	}
	defer tx.Rollback()
	stmts := append([]string{
		`SELECT pg_advisory_xact_lock(hashtext('floodgate_handoff_' || $1))`,
		`CREATE SCHEMA IF NOT EXISTS ` + quoted,
	}, s.ddl()...)
	for i, q := range stmts {
		var args []any
		if i == 0 {
			args = []any{schema}
		}
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("handoff store: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("handoff store: migrate: %w", err)
	}
	return nil
}

// bind rewrites ? placeholders as $1, $2, … for PostgreSQL. The queries
// of this file hold no ? inside literals.
func (s *SQLStore) bind(q string) string {
	if !s.postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func msPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := time.UnixMilli(v.Int64).UTC()
	return &t
}

// Create implements Store.
func (s *SQLStore) Create(ctx context.Context, t Ticket, ev Event) (Ticket, bool, error) {
	doc, err := json.Marshal(&t)
	if err != nil {
		return Ticket{}, false, fmt.Errorf("handoff store: encode ticket: %w", err)
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Ticket{}, false, fmt.Errorf("handoff store: create: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.bind(`INSERT INTO `+s.tickets+
		` (id, tenant, session, status, priority, created_at, updated_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
		t.ID, t.Tenant, t.Session, string(t.Status), t.Priority, ms(t.CreatedAt), ms(t.UpdatedAt), string(doc))
	if err != nil {
		return Ticket{}, false, fmt.Errorf("handoff store: create: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return Ticket{}, false, fmt.Errorf("handoff store: create: %w", err)
		}
		old, err := s.active(ctx, tx, t.Tenant, t.Session)
		if err != nil {
			return Ticket{}, false, fmt.Errorf("handoff store: create: %w", err)
		}
		return old, false, tx.Commit()
	}
	if err := s.insertEvent(ctx, tx, ev); err != nil {
		return Ticket{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Ticket{}, false, fmt.Errorf("handoff store: create: %w", err)
	}
	return t, true, nil
}

func (s *SQLStore) insertEvent(ctx context.Context, tx *sql.Tx, ev Event) error {
	_, err := tx.ExecContext(ctx, s.bind(`INSERT INTO `+s.events+
		` (id, ticket_id, type, body, created_at, published_at, delivered_at, failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		ev.ID, ev.TicketID, ev.Type, string(ev.Body), ms(ev.CreatedAt), msPtr(ev.PublishedAt), msPtr(ev.DeliveredAt), ev.Failed)
	if err != nil {
		return fmt.Errorf("handoff store: store event %s: %w", ev.ID, err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func scanTicket(row *sql.Row) (Ticket, error) {
	var doc string
	if err := row.Scan(&doc); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Ticket{}, ErrNotFound
		}
		return Ticket{}, err
	}
	var t Ticket
	if err := json.Unmarshal([]byte(doc), &t); err != nil {
		return Ticket{}, fmt.Errorf("decode ticket: %w", err)
	}
	return t, nil
}

func (s *SQLStore) active(ctx context.Context, q querier, tenant, session string) (Ticket, error) {
	return scanTicket(q.QueryRowContext(ctx, s.bind(`SELECT doc FROM `+s.tickets+
		` WHERE tenant = ? AND session = ? AND status IN ('open', 'claimed')`), tenant, session))
}

// Get implements Store.
func (s *SQLStore) Get(ctx context.Context, id string) (Ticket, error) {
	t, err := scanTicket(s.r.QueryRowContext(ctx, s.bind(`SELECT doc FROM `+s.tickets+` WHERE id = ?`), id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Ticket{}, fmt.Errorf("handoff store: get %s: %w", id, err)
	}
	return t, err
}

// Active implements Store.
func (s *SQLStore) Active(ctx context.Context, tenant, session string) (Ticket, error) {
	t, err := s.active(ctx, s.r, tenant, session)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Ticket{}, fmt.Errorf("handoff store: active ticket: %w", err)
	}
	return t, err
}

// List implements Store.
func (s *SQLStore) List(ctx context.Context, f Filter) ([]Ticket, error) {
	f.normalise()
	rows, err := s.r.QueryContext(ctx, s.bind(`SELECT doc FROM `+s.tickets+
		` WHERE (? = '' OR status = ?) AND (? = '' OR tenant = ?)`+
		` ORDER BY CASE WHEN status = 'resolved' THEN 1 ELSE 0 END,`+
		` CASE WHEN status = 'resolved' THEN -updated_at ELSE -priority END, created_at, id LIMIT ?`),
		string(f.Status), string(f.Status), f.Tenant, f.Tenant, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("handoff store: list: %w", err)
	}
	defer rows.Close()
	out := []Ticket{}
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("handoff store: list: %w", err)
		}
		var t Ticket
		if err := json.Unmarshal([]byte(doc), &t); err != nil {
			return nil, fmt.Errorf("handoff store: list: decode ticket: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("handoff store: list: %w", err)
	}
	return out, nil
}

// Update implements Store.
func (s *SQLStore) Update(ctx context.Context, id string, fn func(*Ticket) (*Event, error)) (Ticket, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return Ticket{}, fmt.Errorf("handoff store: update: %w", err)
	}
	defer tx.Rollback()
	q := `SELECT doc FROM ` + s.tickets + ` WHERE id = ?`
	if s.postgres {
		q += ` FOR UPDATE`
	}
	t, err := scanTicket(tx.QueryRowContext(ctx, s.bind(q), id))
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Ticket{}, err
		}
		return Ticket{}, fmt.Errorf("handoff store: update %s: %w", id, err)
	}
	ev, err := fn(&t)
	if err != nil {
		return Ticket{}, err
	}
	doc, err := json.Marshal(&t)
	if err != nil {
		return Ticket{}, fmt.Errorf("handoff store: encode ticket: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.bind(`UPDATE `+s.tickets+
		` SET status = ?, priority = ?, updated_at = ?, doc = ? WHERE id = ?`),
		string(t.Status), t.Priority, ms(t.UpdatedAt), string(doc), id); err != nil {
		return Ticket{}, fmt.Errorf("handoff store: update %s: %w", id, err)
	}
	if ev != nil {
		if err := s.insertEvent(ctx, tx, *ev); err != nil {
			return Ticket{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Ticket{}, fmt.Errorf("handoff store: update %s: %w", id, err)
	}
	return t, nil
}

const eventCols = `id, ticket_id, type, body, created_at, published_at, delivered_at, failed`

type scanner interface{ Scan(dest ...any) error }

func scanEvent(sc scanner) (Event, error) {
	var (
		ev                   Event
		body                 string
		created              int64
		published, delivered sql.NullInt64
	)
	if err := sc.Scan(&ev.ID, &ev.TicketID, &ev.Type, &body, &created, &published, &delivered, &ev.Failed); err != nil {
		return Event{}, err
	}
	ev.Body = []byte(body)
	ev.CreatedAt = time.UnixMilli(created).UTC()
	ev.PublishedAt, ev.DeliveredAt = fromMS(published), fromMS(delivered)
	return ev, nil
}

// Event implements Store.
func (s *SQLStore) Event(ctx context.Context, id string) (Event, error) {
	ev, err := scanEvent(s.r.QueryRowContext(ctx, s.bind(`SELECT `+eventCols+` FROM `+s.events+` WHERE id = ?`), id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Event{}, ErrNotFound
	case err != nil:
		return Event{}, fmt.Errorf("handoff store: event %s: %w", id, err)
	}
	return ev, nil
}

// MarkEvent implements Store.
func (s *SQLStore) MarkEvent(ctx context.Context, id string, m EventMark) error {
	res, err := s.w.ExecContext(ctx, s.bind(`UPDATE `+s.events+` SET`+
		` published_at = COALESCE(?, published_at),`+
		` delivered_at = COALESCE(delivered_at, ?),`+
		` failed = CASE WHEN ? = '' THEN failed ELSE ? END WHERE id = ?`),
		msPtr(m.Published), msPtr(m.Delivered), m.Failed, m.Failed, id)
	if err != nil {
		return fmt.Errorf("handoff store: mark event %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return ErrNotFound
	}
	return nil
}

// Pending implements Store.
func (s *SQLStore) Pending(ctx context.Context, unpublished, published time.Time, limit int) ([]Event, error) {
	rows, err := s.r.QueryContext(ctx, s.bind(`SELECT `+eventCols+` FROM `+s.events+
		` WHERE delivered_at IS NULL AND failed = ''`+
		` AND ((published_at IS NULL AND created_at < ?) OR published_at < ?)`+
		` ORDER BY created_at, id LIMIT ?`), ms(unpublished), ms(published), limit)
	if err != nil {
		return nil, fmt.Errorf("handoff store: pending events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		ev, err := scanEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("handoff store: pending events: %w", err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("handoff store: pending events: %w", err)
	}
	return out, nil
}
