package shop

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// The shared shop serves the tests that only read. Shops are seeded once
// into template files and tests get copies: opening a file that already
// holds the shop skips seeding, which is slow under the race detector.
var (
	sharedOnce sync.Once
	sharedShop *Shop
	sharedErr  error
	sharedDir  string

	tmplMu    sync.Mutex
	tmplDir   string
	tmplPaths = map[string]string{}
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if sharedShop != nil {
		if err := sharedShop.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close shared shop:", err)
			code = 1
		}
	}
	for _, dir := range []string{sharedDir, tmplDir} {
		if dir != "" {
			_ = os.RemoveAll(dir)
		}
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// copyOfShop returns a fresh copy of the database of the shop of cfg's
// Orders and Seed as of DefaultNow, seeding its template on first use.
func copyOfShop(cfg Config, dst string) error {
	tmplMu.Lock()
	defer tmplMu.Unlock()
	cfg, err := cfg.normalize()
	if err != nil {
		return err
	}
	key := fmt.Sprintf("orders%d-seed%d", cfg.Orders, cfg.Seed)
	src, ok := tmplPaths[key]
	if !ok {
		if tmplDir == "" {
			dir, err := os.MkdirTemp("", "floodgate-shop-test-*")
			if err != nil {
				return err
			}
			tmplDir = dir
		}
		src = filepath.Join(tmplDir, key+".db")
		s, err := Open(context.Background(), Config{Path: src, Orders: cfg.Orders, Seed: cfg.Seed})
		if err != nil {
			return err
		}
		if err := s.Close(); err != nil {
			return err
		}
		tmplPaths[key] = src
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if _, err := os.Stat(src + "-wal"); err == nil {
		return fmt.Errorf("template %s left a WAL file", src)
	}
	return os.WriteFile(dst, b, 0o600)
}

// shared returns the default shop, opened once; tests must not write to it.
func shared(t testing.TB) *Shop {
	t.Helper()
	sharedOnce.Do(func() {
		if sharedDir, sharedErr = os.MkdirTemp("", "floodgate-shop-shared-*"); sharedErr != nil {
			return
		}
		path := filepath.Join(sharedDir, "shop.db")
		if sharedErr = copyOfShop(Config{}, path); sharedErr != nil {
			return
		}
		sharedShop, sharedErr = Open(context.Background(), Config{Path: path})
	})
	require.NoError(t, sharedErr)
	return sharedShop
}

// seedShop opens a shop that seeds its own private file, for the tests of
// seeding itself.
func seedShop(t testing.TB, cfg Config) *Shop {
	t.Helper()
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// newShop opens a private copy of the shop of cfg, closed at the end of
// the test. cfg.Now, when set, must read DefaultNow at Open.
func newShop(t testing.TB, cfg Config) *Shop {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "shop.db")
		require.NoError(t, copyOfShop(cfg, cfg.Path))
	}
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// clock is a settable shop clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

type response struct {
	code   int
	header map[string][]string
	body   []byte
}

// do sends a request through the shop's handler.
func do(t testing.TB, s *Shop, method, path, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, rd))
	return response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// decode unmarshals a response body into a T.
func decode[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(b, &v), "body: %s", b)
	return v
}

// errorOf decodes an error body and checks its shape.
func errorOf(t testing.TB, r response) errorBody {
	t.Helper()
	e := decode[errorBody](t, r.body)
	require.NotEmpty(t, e.Error, "error message in %s", r.body)
	require.NotEmpty(t, e.Code, "error code in %s", r.body)
	return e
}

// idsWith returns the ids of orders with status, failing when there are
// fewer than n.
func idsWith(t testing.TB, s *Shop, status string, n int) []int {
	t.Helper()
	ids, err := s.OrderIDs(context.Background(), status)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(ids), n, "orders with status %s", status)
	return ids
}

// deliveredWithin returns delivered orders without returns whose delivery
// date is between minDays and maxDays before the shop's today, ascending,
// with at least minLines lines.
func deliveredWithin(t testing.TB, s *Shop, minDays, maxDays, minLines int) []int {
	t.Helper()
	today := s.now().Truncate(24 * time.Hour)
	rows, err := s.rdb.Query(`SELECT o.id FROM orders o JOIN shipments sh ON sh.order_id = o.id
		WHERE o.status = 'delivered' AND sh.delivered_at >= ? AND sh.delivered_at < ?
		AND (SELECT COUNT(*) FROM order_items i WHERE i.order_id = o.id) >= ? ORDER BY o.id`,
		today.AddDate(0, 0, -maxDays).Unix(), today.AddDate(0, 0, -minDays+1).Unix(), minLines)
	require.NoError(t, err)
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, ids, "delivered %d–%d days ago with %d+ lines", minDays, maxDays, minLines)
	return ids
}
