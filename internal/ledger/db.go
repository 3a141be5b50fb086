package ledger

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"strings"
	"testing/fstest"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/floodgate-dev/floodgate/internal/pgdb"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Defaults for Config.
const (
	DefaultPath              = "floodgate-data/ledger.db"
	DefaultSchema            = "floodgate"
	DefaultMaxConns          = 8
	DefaultMaxConnLifetime   = pgdb.DefaultMaxConnLifetime
	DefaultMaxConnIdleTime   = pgdb.DefaultMaxConnIdleTime
	DefaultHealthCheckPeriod = pgdb.DefaultHealthCheckPeriod
	DefaultConnectTimeout    = 5 * time.Second
	DefaultBusyTimeout       = 5 * time.Second
)

// Config says where the ledger is stored: SQLite by default, PostgreSQL
// when PostgresDSN is set. The zero value is a SQLite file at
// DefaultPath.
type Config struct {
	// Path is the SQLite file, created with its directory when missing.
	// ":memory:" keeps the ledger in memory (tests). Default DefaultPath;
	// ignored with PostgresDSN. Give the ledger its own file rather than
	// the session store's, so that the two never wait for each other's
	// write lock.
	Path string
	// BusyTimeout is how long a SQLite write waits for another process
	// holding the file's write lock. Default DefaultBusyTimeout (5 s).
	BusyTimeout time.Duration

	// PostgresDSN, when set, stores the ledger in PostgreSQL: a
	// postgres:// URL or key=value string, which may carry pgx's own
	// settings (e.g. default_query_exec_mode=simple_protocol).
	PostgresDSN string
	// MigrateDSN, when set, is used instead of PostgresDSN to create and
	// migrate the schema at Open; point it at the database directly when
	// PostgresDSN goes through a pooler and DDL should not. Migrations
	// hold a table-based lock (not a session advisory lock), so they are
	// safe through PgBouncer in transaction mode as well.
	MigrateDSN string
	// Schema holds the ledger's tables (usage_records, and goose's
	// ledger_migrations and ledger_migration_lock), created when missing.
	// Lower-case letters, digits and '_', not starting with a digit.
	// Default DefaultSchema ("floodgate").
	Schema string
	// MaxConns is the pool size. Default DefaultMaxConns (8): the Writer
	// needs one per concurrent handler, breakdowns one each.
	MaxConns int32
	// MaxConnLifetime recycles connections, so a pool behind a load
	// balancer or PgBouncer follows failovers. Default 30 minutes (pgx
	// adds jitter).
	MaxConnLifetime time.Duration
	// MaxConnIdleTime closes idle connections before a server's or a
	// proxy's idle time-out cuts them. Default 5 minutes. Connections idle
	// for more than a second are also pinged before use (pgx).
	MaxConnIdleTime time.Duration
	// HealthCheckPeriod is how often idle connections are checked.
	// Default 30 s.
	HealthCheckPeriod time.Duration
	// SimpleProtocol sends queries without server-side prepared
	// statements (pgx's QueryExecModeSimpleProtocol), for PgBouncer in
	// transaction mode before 1.21. Default false.
	SimpleProtocol bool
	// ConnectTimeout bounds establishing one connection when the DSN does
	// not say (connect_timeout). Default DefaultConnectTimeout (5 s).
	ConnectTimeout time.Duration

	// Logger receives migration notices. Default slog.Default().
	Logger *slog.Logger
}

// schemaName is what Config.Schema may be: goose and its lock interpolate
// it into SQL unquoted.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func (c *Config) normalise() error {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = DefaultBusyTimeout
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.MaxConns == 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case !schemaName.MatchString(c.Schema):
		return fmt.Errorf("%w: schema %q: want lower-case letters, digits and _", ErrInvalidConfig, c.Schema)
	case c.MaxConns < 0 || c.BusyTimeout < 0 || c.MaxConnLifetime < 0 || c.MaxConnIdleTime < 0 ||
		c.HealthCheckPeriod < 0 || c.ConnectTimeout < 0:
		return fmt.Errorf("%w: negative database setting", ErrInvalidConfig)
	}
	return nil
}

// DB is the ledger's database: SQLite or PostgreSQL behind one API. It is
// safe for concurrent use; Close it when done.
type DB struct {
	b backend
	d dialect
}

// backend is one database's driver-specific part.
type backend interface {
	// insert stores recs (already checked), skipping IDs already stored,
	// in one transaction; it returns how many were new.
	insert(ctx context.Context, recs []Record) (int64, error)
	// query runs a read-only query, calling row for each result row with
	// a function that scans it.
	query(ctx context.Context, sql string, args []any, row func(scan func(dest ...any) error) error) error
	// permanent reports whether err is the database refusing the data
	// (which no retry fixes) rather than being unavailable.
	permanent(err error) bool
	close() error
}

// dialect is what the shared SQL needs to know of a database.
type dialect struct {
	// table is the ledger table's (qualified) name.
	table string
	// hour and day turn the at column into "2006-01-02T15:00:00Z" and
	// "2006-01-02" in UTC.
	hour, day string
	// arg is the n-th (1-based) placeholder.
	arg func(n int) string
	// time converts a time to the at column's type.
	time func(time.Time) any
}

// Open opens the configured database, creating or migrating its schema
// (goose, from SQL files embedded in the binary). It fails when the
// database cannot be reached: a node starts with its ledger or not at
// all; outages after that are the Writer's to ride out.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	if cfg.PostgresDSN != "" {
		return openPostgres(ctx, cfg)
	}
	return openSQLite(ctx, cfg)
}

// Close closes the database; calls in flight fail.
func (db *DB) Close() error { return db.b.close() }

// Insert stores recs in one transaction, skipping records whose ID is
// already stored, and returns how many were new. Records are validated
// and normalised in place (text made storable); an invalid one fails the
// whole call with an error wrapping ErrInvalidRecord. The Writer calls
// it; it is exported for tools and tests.
func (db *DB) Insert(ctx context.Context, recs []Record) (int, error) {
	for i := range recs {
		if err := recs[i].check(); err != nil {
			return 0, fmt.Errorf("%w: record %d: %w", ErrInvalidRecord, i, err)
		}
	}
	if len(recs) == 0 {
		return 0, nil
	}
	n, err := db.b.insert(ctx, recs)
	if err != nil {
		return 0, fmt.Errorf("ledger: insert %d records: %w", len(recs), err)
	}
	return int(n), nil
}

// ErrInvalidRecord wraps the reason Insert refused a record.
var ErrInvalidRecord = errors.New("ledger: invalid record")

// columns are usage_records' columns in the order inserts give them.
var columns = []string{"id", "kind", "at", "run_id", "call_index", "tenant", "tier", "user_id", "session_id",
	"agent", "intent", "model", "endpoint", "tokens_in", "tokens_out", "tokens_cached", "cost_nanos",
	"latency_us", "status", "error", "degraded", "toplevel"}

// migrate applies the embedded migrations of dir through goose.
func migrate(ctx context.Context, p *goose.Provider, log *slog.Logger, what string) error {
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("ledger: migrate %s: %w", what, err)
	}
	for _, r := range res {
		log.LogAttrs(ctx, slog.LevelInfo, "ledger: migrated", slog.String("db", what),
			slog.String("migration", r.Source.Path), slog.Duration("took", r.Duration))
	}
	return nil
}

// migrationFS returns the migrations under dir with {schema} replaced by
// schema (PostgreSQL's files name their schema; goose has no templating
// of its own except from environment variables). fstest.MapFS is a plain
// in-memory fs.FS; it does not import package testing.
func migrationFS(dir, schema string) (fs.FS, error) {
	sub, err := fs.Sub(migrations, dir)
	if err != nil {
		return nil, err
	}
	files, err := fs.Glob(sub, "*.sql")
	if err != nil {
		return nil, err
	}
	out := make(fstest.MapFS, len(files))
	for _, f := range files {
		b, err := fs.ReadFile(sub, f)
		if err != nil {
			return nil, err
		}
		out[f] = &fstest.MapFile{Data: []byte(strings.ReplaceAll(string(b), "{schema}", schema)), Mode: 0o444}
	}
	return out, nil
}
