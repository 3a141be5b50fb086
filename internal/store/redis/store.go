// Package redis is the store backend for many nodes sharing hot state:
// sessions, turns, leases, user state and run records in Redis, every
// multi-key change in one Lua script, every key with a TTL. See package
// store for the model.
//
// Keys are Prefix + "{" + tenant + ":" + session + "}:" + part, so all keys
// of a session hash to one Redis Cluster slot; user state is under
// Prefix + "user:{tenant:user}" and runs under Prefix + "run:{tenant:run}".
// ':', '{', '}' and '%' in ids are %-escaped, so no two (tenant, id) pairs
// share a key. A session is the hash "meta", the list "turns" (one JSON
// blob per turn, seq = index + 1), the hash "ids" (turn id → seq) and the
// lease keys "lock", "fence", "queue" and "waiters". Sessions and user state
// expire TTL after their last write (every key of the session is refreshed
// together), runs RunTTL after theirs, the lock after its lease ttl and the
// wait queue a few seconds after its last waiter polled.
//
// Release wakes the next waiter through pub/sub on Prefix+"lease-wake": the
// Store subscribes once and routes each message to the waiter in this
// process it names.
package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// Config configures a Store. The zero value talks to 127.0.0.1:6379 with
// the defaults below.
type Config struct {
	// Addr is the server's host:port. Default "127.0.0.1:6379". Ignored
	// when URL is set.
	Addr string
	// URL is a redis:// or rediss:// URL (user, password, database number
	// and options included), used instead of Addr when set.
	URL string
	// Prefix starts every key and the wake-up channel. Default "fg:".
	// Stores with different prefixes on one server do not see each other.
	Prefix string
	// TTL is how long a session or user state lives after its last write.
	// Default store.DefaultTTL (30 days).
	TTL time.Duration
	// RunTTL is how long a run record lives after its last update. Default
	// store.DefaultRunTTL (7 days).
	RunTTL time.Duration
	// PoolSize is the number of connections. Default go-redis's, 10 per
	// GOMAXPROCS.
	PoolSize int
	// DialTimeout bounds connecting. Default 5 s.
	DialTimeout time.Duration
}

func (c *Config) normalize() {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:6379"
	}
	if c.Prefix == "" {
		c.Prefix = "fg:"
	}
	if c.TTL <= 0 {
		c.TTL = store.DefaultTTL
	}
	if c.RunTTL <= 0 {
		c.RunTTL = store.DefaultRunTTL
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
}

// Store is the Redis backend. Safe for concurrent use; Close it when done.
type Store struct {
	cfg     Config
	rdb     goredis.UniversalClient
	ps      *goredis.PubSub
	channel string
	ttl     int64 // cfg.TTL in ms
	runTTL  time.Duration
	waiters backend.Waiters
	wg      sync.WaitGroup
}

// Open connects, checks the server answers and subscribes to the wake-up
// channel.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg.normalize()
	opts := &goredis.Options{Addr: cfg.Addr}
	if cfg.URL != "" {
		var err error
		if opts, err = goredis.ParseURL(cfg.URL); err != nil {
			return nil, fmt.Errorf("open redis: %w", err)
		}
	}
	opts.DialTimeout = cfg.DialTimeout
	if cfg.PoolSize > 0 {
		opts.PoolSize = cfg.PoolSize
	}
	s := &Store{
		cfg:     cfg,
		rdb:     goredis.NewClient(opts),
		channel: cfg.Prefix + "lease-wake",
		ttl:     cfg.TTL.Milliseconds(),
		runTTL:  cfg.RunTTL,
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		s.rdb.Close()
		return nil, fmt.Errorf("open redis %s: %w", opts.Addr, err)
	}
	s.ps = s.rdb.Subscribe(ctx, s.channel)
	// Wait for the confirmation so no release after Open is missed.
	if _, err := s.ps.Receive(ctx); err != nil {
		s.ps.Close()
		s.rdb.Close()
		return nil, fmt.Errorf("open redis: subscribe: %w", err)
	}
	msgs := s.ps.Channel()
	s.wg.Go(func() {
		for m := range msgs {
			s.waiters.Wake(m.Payload)
		}
	})
	return s, nil
}

// Close stops the wake-up subscription and closes the connections.
func (s *Store) Close() error {
	err := s.ps.Close()
	s.wg.Wait()
	if cerr := s.rdb.Close(); err == nil {
		err = cerr
	}
	return err
}

// escape keeps ':' '{' '}' out of ids so a key names one (tenant, id).
func escape(s string) string {
	if !strings.ContainsAny(s, "%:{}") {
		return s
	}
	return escaper.Replace(s)
}

var escaper = strings.NewReplacer("%", "%25", ":", "%3A", "{", "%7B", "}", "%7D")

func (s *Store) tag(tenant, id string) string {
	return "{" + escape(tenant) + ":" + escape(id) + "}"
}

// sessionKeys are a session's keys in the order the scripts expect:
// meta turns ids fence lock queue waiters.
func (s *Store) sessionKeys(tenant, id string) []string {
	base := s.cfg.Prefix + s.tag(tenant, id) + ":"
	return []string{base + "meta", base + "turns", base + "ids", base + "fence", base + "lock", base + "queue", base + "waiters"}
}

// leaseKeys are lock fence queue waiters.
func (s *Store) leaseKeys(tenant, id string) []string {
	base := s.cfg.Prefix + s.tag(tenant, id) + ":"
	return []string{base + "lock", base + "fence", base + "queue", base + "waiters"}
}

func (s *Store) userKey(tenant, user string) string {
	return s.cfg.Prefix + "user:" + s.tag(tenant, user)
}

func (s *Store) runKey(tenant, id string) string {
	return s.cfg.Prefix + "run:" + s.tag(tenant, id)
}

// reply helpers: scripts answer with integers and strings.

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func toStr(v any) string {
	s, _ := v.(string)
	return s
}

func ints(v any) ([]int64, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected script reply %T", v)
	}
	out := make([]int64, len(a))
	for i, x := range a {
		out[i] = toInt(x)
	}
	return out, nil
}
