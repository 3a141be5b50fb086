// Package postgres is the store backend on PostgreSQL: sessions, turns,
// leases, user state and run records in one schema, through a pgx pool.
// See package store for the model.
//
// Every session write is one call of a PL/pgSQL function, so it costs one
// round trip and one transaction; lease times use the database's clock, so
// nodes with skewed clocks agree on when a lease ran out. Release wakes the
// next waiter through LISTEN/NOTIFY on one channel per schema (one
// connection per Store listens); waiters also poll, so a lost notification
// or a dead holder's expiry costs at most 250 ms.
//
// The schema is created and migrated by Open: embedded SQL files applied in
// one transaction under an advisory lock and recorded in a schema_version
// table, so several nodes may start at once. (No migration tool: goose
// would add its own dependencies and a database/sql pool next to pgx's for
// what is a handful of files applied in order.)
//
// Behind PgBouncer in transaction pooling mode, set SimpleProtocol (no
// server-side prepared statements) and NoListen (LISTEN needs a session):
// cross-node waiters then find a free lease by polling.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/floodgate-dev/floodgate/internal/pgdb"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Config configures a Store. DSN is required; the rest has defaults.
type Config struct {
	// DSN is a postgres:// URL or key=value connection string. Required.
	DSN string
	// Schema holds the store's tables, created when missing. Default
	// "floodgate".
	Schema string
	// TTL is how long a session or user state lives after its last write.
	// Default store.DefaultTTL (30 days).
	TTL time.Duration
	// RunTTL is how long a run record lives after its last update. Default
	// store.DefaultRunTTL (7 days).
	RunTTL time.Duration
	// MaxConns is the pool size. Default 16.
	MaxConns int32
	// MaxConnLifetime recycles connections, so a pool behind a load
	// balancer or PgBouncer follows failovers. Default 30 minutes (pgx adds
	// jitter).
	MaxConnLifetime time.Duration
	// MaxConnIdleTime closes idle connections before a server or proxy
	// idle time-out cuts them. Default 5 minutes.
	MaxConnIdleTime time.Duration
	// HealthCheckPeriod is how often idle connections are checked. Default
	// 30 s.
	HealthCheckPeriod time.Duration
	// SimpleProtocol sends queries without server-side prepared statements
	// (pgx's default_query_exec_mode=simple_protocol), for PgBouncer in
	// transaction mode before 1.21. Default false.
	SimpleProtocol bool
	// NoListen skips LISTEN/NOTIFY wake-ups between nodes (PgBouncer in
	// transaction mode cannot carry them); waiters then poll. Default false.
	NoListen bool
	// ReapInterval is how often Run deletes expired rows. Default 1 minute.
	ReapInterval time.Duration
	// Logger receives the reaper's and listener's errors. Default
	// slog.Default().
	Logger *slog.Logger
}

func (c *Config) normalize() error {
	if c.DSN == "" {
		return errors.New("postgres store: DSN required")
	}
	if c.Schema == "" {
		c.Schema = "floodgate"
	}
	if c.TTL <= 0 {
		c.TTL = store.DefaultTTL
	}
	if c.RunTTL <= 0 {
		c.RunTTL = store.DefaultRunTTL
	}
	if c.MaxConns <= 0 {
		c.MaxConns = 16
	}
	if c.ReapInterval <= 0 {
		c.ReapInterval = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Store is the PostgreSQL backend. Safe for concurrent use; Close it when
// done.
type Store struct {
	cfg     Config
	pool    *pgxpool.Pool
	schema  string // quoted
	channel string // NOTIFY channel, unquoted
	q       queries
	waiters backend.Waiters

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Open connects, migrates the schema and starts listening for wake-ups.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	pool, err := pgdb.Open(ctx, cfg.DSN, pgdb.Options{MaxConns: cfg.MaxConns, MaxConnLifetime: cfg.MaxConnLifetime,
		MaxConnIdleTime: cfg.MaxConnIdleTime, HealthCheckPeriod: cfg.HealthCheckPeriod, SimpleProtocol: cfg.SimpleProtocol})
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{
		cfg:     cfg,
		pool:    pool,
		schema:  pgx.Identifier{cfg.Schema}.Sanitize(),
		channel: "fg_lease_" + cfg.Schema,
	}
	if len(s.channel) > 63 {
		// Channel names are identifiers: keep them within NAMEDATALEN.
		h := fnv.New64a()
		h.Write([]byte(cfg.Schema))
		s.channel = "fg_lease_" + strconv.FormatUint(h.Sum64(), 36)
	}
	s.q = newQueries(s.schema)
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	lctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	if !cfg.NoListen {
		conn, err := s.listenConn(ctx)
		if err != nil {
			stop()
			pool.Close()
			return nil, fmt.Errorf("open postgres: listen: %w", err)
		}
		s.wg.Go(func() { s.listen(lctx, conn) })
	}
	return s, nil
}

// Close stops listening and closes the pool.
func (s *Store) Close() error {
	s.stop()
	s.wg.Wait()
	s.pool.Close()
	return nil
}

func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	slices.Sort(files)
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	// Nodes starting together migrate one after the other.
	h := fnv.New64a()
	h.Write([]byte("floodgate-store:" + s.cfg.Schema))
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(h.Sum64())); err != nil {
		return fmt.Errorf("migrate postgres: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+s.schema+
		"; CREATE TABLE IF NOT EXISTS "+s.schema+".schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+s.schema+".schema_version").Scan(&cur); err != nil {
		return fmt.Errorf("migrate postgres: read version: %w", err)
	}
	for _, f := range files {
		name := strings.TrimPrefix(f, "migrations/")
		v, err := strconv.Atoi(name[:strings.IndexByte(name, '_')])
		if err != nil {
			return fmt.Errorf("migrate postgres: bad file name %s", name)
		}
		if v <= cur {
			continue
		}
		b, err := migrations.ReadFile(f)
		if err != nil {
			return fmt.Errorf("migrate postgres: %w", err)
		}
		if _, err := tx.Exec(ctx, strings.ReplaceAll(string(b), "{schema}", s.schema)); err != nil {
			return fmt.Errorf("migrate postgres: %s: %w", name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO "+s.schema+".schema_version (version) VALUES ($1)", v); err != nil {
			return fmt.Errorf("migrate postgres: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate postgres: %w", err)
	}
	return nil
}

func (s *Store) listenConn(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return conn, nil
}

// listen routes notifications to this process's waiters until ctx ends,
// reconnecting after a failure; waiters poll meanwhile.
func (s *Store) listen(ctx context.Context, conn *pgx.Conn) {
	for {
		if conn != nil {
			err := s.receive(ctx, conn)
			conn.Close(context.Background())
			if ctx.Err() != nil {
				return
			}
			s.cfg.Logger.Warn("postgres store: lease wake-ups lost, reconnecting", "err", err)
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		var err error
		if conn, err = s.listenConn(ctx); err != nil {
			conn = nil
			if ctx.Err() == nil {
				s.cfg.Logger.Warn("postgres store: listen", "err", err)
			}
		}
	}
}

func (s *Store) receive(ctx context.Context, conn *pgx.Conn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("postgres store: listener panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("listener panicked: %v", p)
		}
	}()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		s.waiters.Wake(n.Payload)
	}
}

func (s *Store) expiry(now time.Time) time.Time { return now.Add(s.cfg.TTL) }
