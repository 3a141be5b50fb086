// Package sqlitedb opens SQLite databases the way floodgate's stores use
// them (sessions, the usage ledger, handoff tickets): one writing
// connection whose transactions take the write lock up front, and a pool
// of readers that WAL lets run beside it. It owns no goroutine.
package sqlitedb

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" driver
)

// Memory is the Path of an in-memory database: one connection serves
// reads and writes, since each connection would get a database of its own.
const Memory = ":memory:"

// Defaults of Options.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultReadConns   = 4
)

// Options say how to open a database.
type Options struct {
	// Path is the database file, created with its directory if missing,
	// or Memory. Required.
	Path string
	// BusyTimeout is how long a statement waits for another connection's
	// lock (another process's included). Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// CacheKiB sets each connection's page cache; zero leaves SQLite's.
	CacheKiB int
	// ReadConns caps the read pool. Zero means DefaultReadConns.
	ReadConns int
}

// DB is an open database: W, the one writing connection, and R, the read
// pool (W itself for an in-memory database).
type DB struct {
	W, R *sql.DB
}

// Open opens the database o.Path. Files use WAL (readers never block the
// writer) and synchronous=NORMAL: a commit survives a crash of the
// process; a power loss may lose the last commits. Writes go through W,
// whose transactions begin IMMEDIATE, so that one that reads then writes
// never fails half-way on another connection's lock.
func Open(o Options) (*DB, error) {
	if o.Path == "" {
		return nil, errors.New("sqlite: no path")
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.ReadConns <= 0 {
		o.ReadConns = DefaultReadConns
	}
	memory := o.Path == Memory
	if !memory {
		if dir := filepath.Dir(o.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sqlite: %w", err)
			}
		}
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10)+")")
	if o.CacheKiB > 0 {
		q.Add("_pragma", "cache_size(-"+strconv.Itoa(o.CacheKiB)+")")
	}
	if !memory {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(NORMAL)")
	}
	read := "file:" + o.Path + "?" + q.Encode()
	q.Set("_txlock", "immediate")
	write := "file:" + o.Path + "?" + q.Encode()

	w, err := sql.Open("sqlite", write)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", o.Path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	db := &DB{W: w, R: w}
	if !memory {
		if db.R, err = sql.Open("sqlite", read); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", o.Path, err)
		}
		db.R.SetMaxOpenConns(o.ReadConns)
		db.R.SetMaxIdleConns(o.ReadConns)
	}
	return db, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	if db.R == db.W {
		return db.W.Close()
	}
	return errors.Join(db.R.Close(), db.W.Close())
}
