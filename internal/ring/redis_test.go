package ring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const redisAddr = "127.0.0.1:6379"

// redisTTL is the heartbeat TTL of the Redis tests: short, so that a dead
// member expires quickly, and long enough for -race on a shared machine.
const redisTTL = time.Second

// openRedis returns a client and a key prefix unique to the test; the
// prefix's keys are deleted when the test ends.
func openRedis(t testing.TB) (*goredis.Client, string) {
	t.Helper()
	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr, DialTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		requireService(t, "Redis at "+redisAddr, err)
	}
	prefix := "fgtest:ring:" + randomID(10) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := rdb.Scan(ctx, 0, prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		rdb.Close()
	})
	return rdb, prefix
}

func redisRing(t testing.TB, rdb goredis.UniversalClient, prefix, id string, mutate ...func(*Config)) *runningRing {
	t.Helper()
	cfg := Config{ID: id, Prefix: prefix, TTL: redisTTL}
	for _, m := range mutate {
		m(&cfg)
	}
	return startRing(t, newRedisBackend(rdb, prefix), cfg)
}

// TestRedisMembership: members meet in Redis, see each other's load, and
// a graceful leave is seen at once through pub/sub.
func TestRedisMembership(t *testing.T) {
	rdb, prefix := openRedis(t)
	// A long TTL: only the announcement can explain a prompt drop.
	const ttl = 3 * time.Second
	long := func(c *Config) { c.TTL = ttl }
	a := redisRing(t, rdb, prefix, "a", long)
	b := redisRing(t, rdb, prefix, "b", long, func(c *Config) { c.Load = func() int64 { return 9 } })
	c := redisRing(t, rdb, prefix, "c", long)
	waitMembers(t, 3, a, b, c)
	assert.Equal(t, int64(9), a.Members()[1].Load, "b's load reaches a")

	// Another prefix is another cluster.
	other := redisRing(t, rdb, prefix+"other:", "z")
	assert.Len(t, other.Members(), 1)

	start := time.Now()
	c.stop()
	waitMembers(t, 2, a, b)
	took := time.Since(start)
	assert.Less(t, took, ttl/3, "a leave is announced, not waited for")
	t.Logf("graceful leave seen by the others after %v", took)
}

// TestRedisNewRingFromConfig: New with a Redis client registers the node
// under its URL and Run's return deregisters it.
func TestRedisNewRingFromConfig(t *testing.T) {
	rdb, prefix := openRedis(t)
	r, err := New(Config{ID: "n1", URL: "http://127.0.0.1:9", Redis: rdb, Prefix: prefix, TTL: redisTTL, Logger: quietLogger})
	require.NoError(t, err)
	_, err = New(Config{Redis: rdb})
	require.ErrorIs(t, err, ErrInvalidConfig, "a URL is required with Redis")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	<-r.Joined()
	ids, err := rdb.ZRange(context.Background(), prefix+"ring:{nodes}", 0, -1).Result()
	require.NoError(t, err)
	assert.Equal(t, []string{"n1"}, ids)
	rec, err := rdb.Get(context.Background(), prefix+"ring:{nodes}:n1").Bytes()
	require.NoError(t, err)
	m, err := decodeMember(rec)
	require.NoError(t, err)
	assert.Equal(t, "http://127.0.0.1:9", m.URL)
	cancel()
	require.NoError(t, <-done)
	n, err := rdb.Exists(context.Background(), prefix+"ring:{nodes}:n1").Result()
	require.NoError(t, err)
	assert.Zero(t, n, "deregistered")
	m2, self := r.Owner(context.Background(), "t", "s")
	assert.True(t, self, "after leaving a node answers itself")
	assert.Equal(t, "n1", m2.ID)
}

// TestRedisOwnerFailover: three members; one dies without leaving. The
// others drop it within its TTL, its sessions get live owners that every
// node agrees on, and no other session moves. Logs the time from the
// crash until the dead member's sessions are owned by a live node.
func TestRedisOwnerFailover(t *testing.T) {
	rdb, prefix := openRedis(t)
	a := redisRing(t, rdb, prefix, "a")
	b := redisRing(t, rdb, prefix, "b")
	c := redisRing(t, rdb, prefix, "c")
	waitMembers(t, 3, a, b, c)
	ctx := context.Background()
	const sessions = 300
	before := make([]string, sessions)
	per := map[string]int{}
	for i := range sessions {
		m, _ := a.Owner(ctx, "t", fmt.Sprint("s", i))
		before[i] = m.ID
		per[m.ID]++
	}
	t.Logf("sessions per owner: %v", per)
	for _, id := range []string{"a", "b", "c"} {
		assert.Greater(t, per[id], sessions/6, "owner %s", id)
	}

	d := measureFailover(t, a, b, c) // adds a session of c's
	// Dropped at TTL after its last heartbeat (BenchmarkRedisFailover
	// measures it); the bound leaves room for a loaded machine.
	assert.Less(t, d.sinceBeat, 2*redisTTL, "not dropped within its TTL")

	for i := range sessions {
		s := fmt.Sprint("s", i)
		ma, _ := a.Owner(ctx, "t", s)
		mb, _ := b.Owner(ctx, "t", s)
		require.Equal(t, ma.ID, mb.ID, "a and b disagree on %s", s)
		require.NotEqual(t, "c", ma.ID)
		if before[i] != "c" {
			require.Equal(t, before[i], ma.ID, "session %s of a live owner moved", s)
		}
	}
	assert.EqualValues(t, per["c"]+1, a.Stats().Moves+b.Stats().Moves, "each of c's sessions moved once")
}

// failover is how long the cluster took to re-own a dead member's
// sessions: from the crash, and from the member's last heartbeat.
type failover struct{ sinceKill, sinceBeat time.Duration }

// measureFailover kills dead and waits until live see it gone and one of
// dead's sessions resolves to a live node on each of them.
func measureFailover(t testing.TB, live0, live1, dead *runningRing) failover {
	t.Helper()
	ctx := context.Background()
	s := sessionOwnedBy(t, live0.Ring, "t", dead.self.ID)
	killed := time.Now()
	dead.kill()
	last := time.Unix(0, dead.lastBeat.Load())
	deadline := killed.Add(3*dead.cfg.TTL + 2*time.Second)
	for _, r := range []*runningRing{live0, live1} {
		for {
			if m, _ := r.Owner(ctx, "t", s); m.ID != dead.self.ID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still owned by the dead member after %v", s, time.Since(killed))
			}
			time.Sleep(time.Millisecond)
		}
	}
	f := failover{sinceKill: time.Since(killed), sinceBeat: time.Since(last)}
	t.Logf("dead member's sessions owned by a live node %v after the crash, %v after its last heartbeat (TTL %v)",
		f.sinceKill.Round(time.Millisecond), f.sinceBeat.Round(time.Millisecond), dead.cfg.TTL)
	return f
}

// TestRedisOwnersAgree: three nodes resolving the same new sessions at the
// same time agree on every owner (the claim is a compare-and-set).
func TestRedisOwnersAgree(t *testing.T) {
	rdb, prefix := openRedis(t)
	rings := []*runningRing{
		redisRing(t, rdb, prefix, "a", func(c *Config) { c.Load = func() int64 { return 40 } }),
		redisRing(t, rdb, prefix, "b"),
		redisRing(t, rdb, prefix, "c", func(c *Config) { c.Load = func() int64 { return 20 } }),
	}
	waitMembers(t, 3, rings...)
	const n = 200
	got := make([][]string, len(rings))
	var wg sync.WaitGroup
	for i, r := range rings {
		got[i] = make([]string, n)
		wg.Go(func() {
			for k := range n {
				m, _ := r.Owner(context.Background(), "t", fmt.Sprint("race", k))
				got[i][k] = m.ID
			}
		})
	}
	wg.Wait()
	assert.Equal(t, got[0], got[1])
	assert.Equal(t, got[0], got[2])
	var placed int64
	for _, r := range rings {
		placed += r.Stats().Placements
	}
	assert.EqualValues(t, n, placed, "each session recorded once")
}

// pausable is a backend whose heartbeats can be stopped, as a long GC
// pause or a frozen VM would stop them.
type pausable struct {
	backend
	paused atomic.Bool
}

var errPaused = errors.New("paused")

func (p *pausable) heartbeat(ctx context.Context, m Member, ttl time.Duration) error {
	if p.paused.Load() {
		return errPaused
	}
	return p.backend.heartbeat(ctx, m, ttl)
}

// TestRedisPausedMemberReturns: a member whose record expired while it was
// paused is dropped, and is back with its next heartbeat.
func TestRedisPausedMemberReturns(t *testing.T) {
	rdb, prefix := openRedis(t)
	a := redisRing(t, rdb, prefix, "a")
	pb := &pausable{backend: newRedisBackend(rdb, prefix)}
	b := startRing(t, pb, Config{ID: "b", Prefix: prefix, TTL: redisTTL})
	waitMembers(t, 2, a, b)
	pb.paused.Store(true)
	waitMembers(t, 1, a)
	pb.paused.Store(false)
	waitMembers(t, 2, a)
}

// TestRedisConversationsSurviveNodeDeath is the cluster drill in one
// process: three gateways route conversations by their owners; one dies
// mid-conversation; every turn is served exactly once, the dead node's
// conversations continue on live nodes, and the others' keep their owner.
func TestRedisConversationsSurviveNodeDeath(t *testing.T) {
	rdb, prefix := openRedis(t)
	nodes := map[string]*testNode{}
	for _, id := range []string{"a", "b", "c"} {
		nodes[id] = newTestNode(t, newRedisBackend(rdb, prefix), id, ForwarderConfig{},
			func(c *Config) { c.Prefix = prefix; c.TTL = redisTTL })
	}
	waitMembers(t, 3, nodes["a"].runningRing, nodes["b"].runningRing, nodes["c"].runningRing)
	for _, n := range nodes {
		n.setLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Served-By", n.self.ID)
			io.WriteString(w, string(body))
		}))
	}
	const convs = 30
	entry := []string{"a", "b", "c"}
	turn := func(conv, k int, avoid string) string {
		t.Helper()
		at := entry[(conv+k)%3]
		if at == avoid {
			at = entry[(conv+k+1)%3]
		}
		body := fmt.Sprintf("conv %d turn %d", conv, k)
		resp := post(t, nodes[at], fmt.Sprint("conv", conv), body)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, body, readAll(t, resp), "turn answered whole")
		return resp.Header.Get("X-Served-By")
	}
	owner := make([]string, convs)
	for k := range 2 {
		for conv := range convs {
			by := turn(conv, k, "")
			if k > 0 {
				require.Equal(t, owner[conv], by, "conversation %d changed node while its owner lived", conv)
			}
			owner[conv] = by
		}
	}
	before := nodes["a"].hits.Load() + nodes["b"].hits.Load()
	nodes["c"].srv.CloseClientConnections()
	nodes["c"].srv.Close()
	nodes["c"].kill()
	var slowest time.Duration
	for conv := range convs {
		start := time.Now()
		by := turn(conv, 2, "c")
		slowest = max(slowest, time.Since(start))
		require.NotEqual(t, "c", by)
		if owner[conv] != "c" {
			require.Equal(t, owner[conv], by, "conversation %d of a live owner moved", conv)
		}
		owner[conv] = by
	}
	for conv := range convs {
		require.Equal(t, owner[conv], turn(conv, 3, "c"), "conversation %d is sticky on its new owner", conv)
	}
	served := nodes["a"].hits.Load() + nodes["b"].hits.Load() - before
	received := nodes["a"].Stats().Received + nodes["b"].Stats().Received
	assert.EqualValues(t, 2*convs, served, "turns after the crash served once each")
	t.Logf("after the crash: %d turns served, slowest first turn %v; forwarded turns received in all: %d; dial errors a=%d b=%d",
		served, slowest, received, nodes["a"].Stats().DialErrors, nodes["b"].Stats().DialErrors)
}
