package ratelimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

const redisAddr = "127.0.0.1:6379"

// fakeClock is a clock tests move by hand. Safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// newRedisClient returns a client of its own, as a node would have, and
// closes it when the test ends. It skips the test when Redis is absent,
// except under CI=true.
func newRedisClient(tb testing.TB) *goredis.Client {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: redisAddr, DialTimeout: time.Second, ContextTimeoutEnabled: true})
	if err := c.Ping(context.Background()).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Redis at %s is required under CI=true: %v", redisAddr, err)
		}
		tb.Skipf("Redis at %s not available: %v", redisAddr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// testPrefix returns a key prefix of the test's own and deletes its keys
// when the test ends.
func testPrefix(tb testing.TB, c *goredis.Client) string {
	tb.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "fgtest:ratelimit:" + hex.EncodeToString(b[:]) + ":"
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
	})
	return prefix
}

// cluster makes Limiters that share state, one per node.
type cluster struct {
	name string
	// node returns a new node's Limiter; with Redis each has a client of
	// its own. Without Redis there is no sharing between processes, so
	// every node is the one shared Limiter.
	node func() *Limiter
}

// clusters returns a memory cluster and, when Redis is available (or
// required), a Redis cluster, both on clk (spend periods; rate limits in
// Redis follow Redis's clock).
func clusters(t *testing.T, clk *fakeClock, cfg Config) []cluster {
	t.Helper()
	cfg.Clock, cfg.Logger = clk.Now, quiet
	mem, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := []cluster{{name: "memory", node: func() *Limiter { return mem }}}
	admin := goredis.NewClient(&goredis.Options{Addr: redisAddr, DialTimeout: time.Second})
	perr := admin.Ping(context.Background()).Err()
	admin.Close()
	if perr != nil && os.Getenv("CI") != "true" {
		t.Logf("Redis at %s not available, memory only: %v", redisAddr, perr)
		return out
	}
	c := newRedisClient(t)
	prefix := testPrefix(t, c)
	out = append(out, cluster{name: "redis", node: func() *Limiter {
		rc := cfg
		rc.Redis, rc.Prefix = newRedisClient(t), prefix
		if rc.Timeout == 0 {
			rc.Timeout = 2 * time.Second // -race on two shared cores
		}
		l, err := New(rc)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}})
	return out
}

// flakyDialer connects to Redis until it is told Redis is down; then it
// cuts every connection it made and refuses new ones.
type flakyDialer struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (f *flakyDialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		return nil, fmt.Errorf("dial %s: connection refused (test)", addr)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		f.conns = append(f.conns, c)
	}
	return c, err
}

func (f *flakyDialer) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	if down {
		for _, c := range f.conns {
			c.Close()
		}
		f.conns = nil
	}
}

// recorder is an Observer that remembers what it saw.
type recorder struct {
	mu        sync.Mutex
	fallbacks []bool
	decided   map[Mode]int
	spend     map[SpendState]int
}

func (r *recorder) Fallback(down bool, _ error) {
	r.mu.Lock()
	r.fallbacks = append(r.fallbacks, down)
	r.mu.Unlock()
}

func (r *recorder) Decided(m Mode, _ bool) {
	r.mu.Lock()
	if r.decided == nil {
		r.decided = map[Mode]int{}
	}
	r.decided[m]++
	r.mu.Unlock()
}

func (r *recorder) SpendChecked(_ Mode, s SpendState) {
	r.mu.Lock()
	if r.spend == nil {
		r.spend = map[SpendState]int{}
	}
	r.spend[s]++
	r.mu.Unlock()
}

func (r *recorder) seen() ([]bool, map[Mode]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := map[Mode]int{}
	for k, v := range r.decided {
		d[k] = v
	}
	return append([]bool(nil), r.fallbacks...), d
}
