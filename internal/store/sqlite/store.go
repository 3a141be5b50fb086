// Package sqlite is the embedded store backend, floodgate's default: one
// SQLite file (pure Go driver, no cgo) in WAL mode holding sessions, turns,
// leases, user state and run records. See package store for the model.
//
// One process writes through a single connection, so its writes never
// contend for SQLite's lock; reads run in parallel on a small pool of their
// own. Several processes may share the file: their writes wait for each
// other up to Config.BusyTimeout. Lease waiters in the same process are woken
// at once by a release; those in other processes find the lease free by
// polling (every 250 ms), since SQLite has no notification channel.
//
// Commits use synchronous=NORMAL: a commit survives a crash of the process,
// and the last commits before a power loss may be lost, never corrupted.
// Expired rows are invisible at once and deleted by Run.
package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/floodgate-dev/floodgate/internal/sqlitedb"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

//go:embed schema.sql
var schemaSQL string

const schemaVersion = 1

// Config configures a Store. The zero value is usable: a file floodgate.db
// in the working directory with the defaults below.
type Config struct {
	// Path is the database file, created when missing. Default
	// "floodgate.db". ":memory:" keeps everything in memory on a single
	// connection (tests, throwaway demos).
	Path string
	// TTL is how long a session or user state lives after its last write.
	// Default store.DefaultTTL (30 days).
	TTL time.Duration
	// RunTTL is how long a run record lives after its last update. Default
	// store.DefaultRunTTL (7 days).
	RunTTL time.Duration
	// BusyTimeout is how long a write waits for another process holding the
	// file's write lock before failing. Default 5 s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read pool. Default 4.
	ReadConns int
	// CacheKiB is SQLite's page cache per connection in KiB; the process
	// holds at most (ReadConns+1)×CacheKiB of it. Default 2048 (2 MiB, so
	// 10 MiB with the default pool).
	CacheKiB int
	// ReapInterval is how often Run deletes expired rows. Default 1 minute.
	ReapInterval time.Duration
	// Logger receives the reaper's errors. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) normalize() {
	if c.Path == "" {
		c.Path = "floodgate.db"
	}
	if c.TTL <= 0 {
		c.TTL = store.DefaultTTL
	}
	if c.RunTTL <= 0 {
		c.RunTTL = store.DefaultRunTTL
	}
	if c.BusyTimeout <= 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.ReadConns <= 0 {
		c.ReadConns = 4
	}
	if c.CacheKiB <= 0 {
		c.CacheKiB = 2048
	}
	if c.ReapInterval <= 0 {
		c.ReapInterval = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Store is the SQLite backend. Safe for concurrent use; Close it when done.
type Store struct {
	cfg     Config
	w       *sql.DB // the one writing connection
	r       *sql.DB // the read pool (== w for ":memory:")
	ws      wstmts
	rs      rstmts
	waiters backend.Waiters
}

// Open opens (creating or migrating) the database at cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.normalize()
	s := &Store{cfg: cfg}
	db, err := sqlitedb.Open(sqlitedb.Options{Path: cfg.Path, BusyTimeout: cfg.BusyTimeout, CacheKiB: cfg.CacheKiB, ReadConns: cfg.ReadConns})
	if err != nil {
		return nil, err
	}
	s.w, s.r = db.W, db.R
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	defer tx.Rollback()
	var v int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("migrate sqlite: read version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("migrate sqlite: database schema %d is newer than this binary's %d", v, schemaVersion)
	}
	if _, err := tx.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(schemaVersion)); err != nil {
		return fmt.Errorf("migrate sqlite: set version: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate sqlite: %w", err)
	}
	return nil
}

// Close closes the database. Calls in flight fail; Acquire calls waiting
// return an error at their next try.
func (s *Store) Close() error {
	s.ws.close()
	s.rs.close()
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

func (s *Store) expiry(now time.Time) int64 { return now.Add(s.cfg.TTL).UnixMilli() }

// rollback ends a transaction whose outcome is already decided; its error
// (the transaction is gone anyway) adds nothing.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
