package redis

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/storetest"
)

const addr = "127.0.0.1:6379"

// admin is a plain client for inspecting keys; nil when Redis is absent.
func admin(tb testing.TB) *goredis.Client {
	tb.Helper()
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: time.Second})
	if err := c.Ping(tb.Context()).Err(); err != nil {
		c.Close()
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Redis at %s is required under CI: %v", addr, err)
		}
		tb.Skipf("Redis at %s is not available: %v", addr, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// keys lists the keys matching pattern.
func keys(tb testing.TB, c *goredis.Client, pattern string) []string {
	tb.Helper()
	// Not tb.Context(): clean-ups run after it is cancelled.
	ctx := context.Background()
	var out []string
	iter := c.Scan(ctx, 0, pattern, 1000).Iterator()
	for iter.Next(ctx) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		tb.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// openPrefix opens a Store under prefix and deletes the prefix's keys when
// the test ends.
func openPrefix(tb testing.TB, prefix string, cfg Config) *Store {
	tb.Helper()
	c := admin(tb)
	cfg.Addr, cfg.Prefix = addr, prefix
	s, err := Open(tb.Context(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
		ctx := context.Background()
		if ks := keys(tb, c, prefix+"*"); len(ks) > 0 {
			c.Del(ctx, ks...)
		}
	})
	return s
}

func randomPrefix() string { return storetest.RandomName("fgtest:") + ":" }

func openFresh(tb testing.TB) storetest.Backend { return openPrefix(tb, randomPrefix(), Config{}) }

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) storetest.Backend { return openFresh(t) })
}

func TestContractExpiry(t *testing.T) {
	storetest.RunExpiry(t, func(t *testing.T, ttl time.Duration) storetest.Backend {
		return openPrefix(t, randomPrefix(), Config{TTL: ttl, RunTTL: ttl})
	})
}

// Two Stores with one prefix are two processes sharing Redis.
func TestContractShared(t *testing.T) {
	t.Parallel()
	storetest.RunShared(t, func(t *testing.T) (storetest.Backend, storetest.Backend) {
		p := randomPrefix()
		return openPrefix(t, p, Config{}), openPrefix(t, p, Config{})
	})
}

// Every key the store writes carries a TTL, and Delete leaves nothing under
// the session's tag.
func TestKeysExpireAndDeleteClears(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c := admin(t)
	p := randomPrefix()
	s := openPrefix(t, p, Config{})
	if err := s.Create(ctx, &store.Session{Tenant: "t1", ID: "s1", Facts: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
	l, err := s.Acquire(ctx, "t1", "s1", "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.AppendTurn(ctx, "t1", "s1", l, storetest.Turn("a", "support")); err != nil {
		t.Fatal(err)
	}
	// A waiter that gives up leaves its queue keys behind for a while.
	wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	_, err = s.Acquire(wctx, "t1", "s1", "w2", time.Minute)
	cancel()
	if err == nil {
		t.Fatal("Acquire of a held lease succeeded")
	}
	if _, err := s.SetSummary(ctx, "t1", "s1", 0, store.Summary{Text: "x", UpToSeq: 1}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutUser(ctx, "t1", "u1", 0, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRun(ctx, &store.Run{Tenant: "t1", ID: "r1"}); err != nil {
		t.Fatal(err)
	}
	all := keys(t, c, p+"*")
	wantSome := []string{p + "{t1:s1}:meta", p + "{t1:s1}:turns", p + "{t1:s1}:ids", p + "{t1:s1}:fence", p + "{t1:s1}:lock", p + "user:{t1:u1}", p + "run:{t1:r1}"}
	for _, k := range wantSome {
		if !slices.Contains(all, k) {
			t.Errorf("key %s missing; have %v", k, all)
		}
	}
	for _, k := range all {
		ttl, err := c.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 {
			t.Errorf("key %s has no TTL (%v)", k, ttl)
		}
	}
	if err := s.Delete(ctx, "t1", "s1"); err != nil {
		t.Fatal(err)
	}
	if left := keys(t, c, p+"{t1:s1}*"); len(left) != 0 {
		t.Fatalf("keys left after Delete: %v", left)
	}
}

// Ids with the separator cannot alias another tenant's keys.
func TestKeyEscaping(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := openFresh(t).(*Store)
	tests := []struct{ tenant, id string }{
		{"a:b", "c"},
		{"a", "b:c"},
		{"a}", "{b"},
		{"a%3Ab", "c"},
	}
	for _, tt := range tests {
		if err := s.Create(ctx, &store.Session{Tenant: tt.tenant, ID: tt.id, Agent: tt.tenant + "|" + tt.id}); err != nil {
			t.Fatalf("Create(%q, %q): %v", tt.tenant, tt.id, err)
		}
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		got, err := s.Load(ctx, tt.tenant, tt.id, 0)
		if err != nil || got.Agent != tt.tenant+"|"+tt.id {
			t.Fatalf("Load(%q, %q) = %+v, %v", tt.tenant, tt.id, got, err)
		}
		k := s.sessionKeys(tt.tenant, tt.id)[0]
		if seen[k] {
			t.Fatalf("two sessions share key %s", k)
		}
		seen[k] = true
		if strings.Count(k, "{") != 1 || strings.Count(k, "}") != 1 {
			t.Fatalf("key %s has more than one hash tag brace", k)
		}
	}
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(tb testing.TB) storetest.Backend { return openFresh(tb) })
}
