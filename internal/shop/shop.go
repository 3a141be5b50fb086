package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the pure-Go "sqlite" driver
)

// DefaultNow is the shop's "today" unless Config.Now says otherwise:
// 2026-11-27 12:00 UTC. A fixed date keeps the seeded data, the order
// statuses and the 30-day return window the same on every run, so docs and
// tests can name real orders.
var DefaultNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// Defaults of Config.
const (
	DefaultOrders       = 3000
	DefaultSeed         = 1
	DefaultApproveAfter = 24 * time.Hour
	DefaultReturnDays   = 30
	// MaxOrders bounds Config.Orders: order ids stay six digits.
	MaxOrders = 899_999
)

// FirstOrderID is the id of the oldest order; ids count up from it.
const FirstOrderID = 100001

// Config configures a Shop. Its zero value is the demo shop: 3,000 orders
// from seed 1 in a private database, as of DefaultNow.
type Config struct {
	// Path is the SQLite file. Empty means a private file in a new
	// temporary directory, removed by Close. A file that already holds a
	// shop of the same Seed, Orders and day of Now is used as it is, so
	// returns created through the API survive a restart; any other file
	// is reseeded (its tables dropped and written anew).
	Path string

	// Orders is how many orders to seed, numbered from FirstOrderID
	// upward. 0 means DefaultOrders; at most MaxOrders.
	Orders int

	// Seed seeds the data: the same Seed, Orders and Now give the same
	// shop, byte for byte. 0 means DefaultSeed.
	Seed int64

	// Now is the shop's clock: the data is seeded as of its value at Open
	// (orders placed over the 180 days before it), and the return window,
	// return approval and new returns' dates read it on every call. Nil
	// means a clock stopped at DefaultNow.
	Now func() time.Time

	// ApproveAfter is how long a requested return waits, on the shop's
	// clock, before it shows as approved. 0 means DefaultApproveAfter.
	ApproveAfter time.Duration

	// ReturnDays is the return window: a delivered order can be returned
	// until this many days after its delivery date. 0 means
	// DefaultReturnDays.
	ReturnDays int
}

// ErrConfig is wrapped by every configuration error Open returns.
var ErrConfig = errors.New("shop: invalid config")

func (c Config) normalize() (Config, error) {
	switch {
	case c.Orders == 0:
		c.Orders = DefaultOrders
	case c.Orders < 0 || c.Orders > MaxOrders:
		return c, fmt.Errorf("%w: orders %d not in [1, %d]", ErrConfig, c.Orders, MaxOrders)
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Now == nil {
		c.Now = func() time.Time { return DefaultNow }
	}
	switch {
	case c.ApproveAfter == 0:
		c.ApproveAfter = DefaultApproveAfter
	case c.ApproveAfter < 0:
		return c, fmt.Errorf("%w: negative approve-after %v", ErrConfig, c.ApproveAfter)
	}
	switch {
	case c.ReturnDays == 0:
		c.ReturnDays = DefaultReturnDays
	case c.ReturnDays < 0:
		return c, fmt.Errorf("%w: negative return window %d", ErrConfig, c.ReturnDays)
	}
	return c, nil
}

// Shop is the demo shop: its data in SQLite and its HTTP API. It is safe
// for concurrent use. Reads run on a pool of read-only connections in
// parallel (WAL); writes (returns) go through one connection, which
// serialises them, so two concurrent returns of one order cannot both
// succeed. It owns no goroutine beyond database/sql's, which Close stops.
// A Shop must not be copied.
type Shop struct {
	cfg     Config
	rdb     *sql.DB // read-only pool
	wdb     *sql.DB // the one writer connection
	tempDir string  // removed by Close when the shop made it
	handler http.Handler
	q       queries

	closeOnce sync.Once
	closeErr  error
}

// Open opens (and seeds when needed, see Config.Path) a shop. Seeding the
// default 3,000 orders takes one transaction of prepared inserts, about
// 130 ms. Configuration errors wrap ErrConfig.
func Open(ctx context.Context, cfg Config) (*Shop, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Shop{cfg: cfg}
	path := cfg.Path
	if path == "" {
		if s.tempDir, err = os.MkdirTemp("", "floodgate-shop-*"); err != nil {
			return nil, fmt.Errorf("shop: temp dir: %w", err)
		}
		path = filepath.Join(s.tempDir, "shop.db")
	}
	if err := s.open(ctx, path); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func dsn(path string, readOnly bool) string {
	v := url.Values{}
	v.Add("_pragma", "journal_mode(WAL)")
	v.Add("_pragma", "busy_timeout(5000)")
	v.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		v.Add("_pragma", "query_only(1)")
	}
	return "file:" + path + "?" + v.Encode()
}

func (s *Shop) open(ctx context.Context, path string) error {
	var err error
	if s.wdb, err = sql.Open("sqlite", dsn(path, false)); err != nil {
		return fmt.Errorf("shop: open %s: %w", path, err)
	}
	// One writer connection: SQLite allows one writer anyway, and queuing
	// in database/sql beats SQLITE_BUSY retries.
	s.wdb.SetMaxOpenConns(1)
	if err := s.ensureSeeded(ctx); err != nil {
		return err
	}
	if s.rdb, err = sql.Open("sqlite", dsn(path, true)); err != nil {
		return fmt.Errorf("shop: open %s: %w", path, err)
	}
	n := max(2, runtime.GOMAXPROCS(0))
	s.rdb.SetMaxOpenConns(n)
	s.rdb.SetMaxIdleConns(n)
	return s.q.prepare(ctx, s.rdb)
}

// schemaVersion changes whenever the schema or the seeding changes, so an
// old file is reseeded rather than misread.
const schemaVersion = 1

func (s *Shop) fingerprint() string {
	return fmt.Sprintf("v%d seed=%d orders=%d day=%s", schemaVersion, s.cfg.Seed, s.cfg.Orders,
		s.cfg.Now().UTC().Format(time.DateOnly))
}

// ensureSeeded seeds the database unless it already holds this shop.
func (s *Shop) ensureSeeded(ctx context.Context) error {
	var have string
	err := s.wdb.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'fingerprint'`).Scan(&have)
	if err == nil && have == s.fingerprint() {
		return nil
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !isNoTable(err) {
		return fmt.Errorf("shop: read meta: %w", err)
	}
	if err := s.seed(ctx); err != nil {
		return fmt.Errorf("shop: seed: %w", err)
	}
	return nil
}

func isNoTable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such table")
}

// Handler returns the shop's HTTP API (see the package doc). It is safe
// for concurrent use.
func (s *Shop) Handler() http.Handler { return s.handler }

// Today returns the shop's current date (YYYY-MM-DD, UTC) by its clock.
func (s *Shop) Today() string { return s.now().Format(time.DateOnly) }

func (s *Shop) now() time.Time { return s.cfg.Now().UTC() }

// Close closes the database and removes the private file, if any; requests
// still in flight then fail. It is idempotent: later calls return the first
// one's error.
func (s *Shop) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		errs = append(errs, s.q.close())
		if s.rdb != nil {
			errs = append(errs, s.rdb.Close())
		}
		if s.wdb != nil {
			errs = append(errs, s.wdb.Close())
		}
		if s.tempDir != "" {
			errs = append(errs, os.RemoveAll(s.tempDir))
		}
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("shop: close: %w", err)
		}
	})
	return s.closeErr
}
