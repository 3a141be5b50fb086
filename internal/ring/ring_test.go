package ring

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const memTTL = 300 * time.Millisecond

func TestSingleMemberRing(t *testing.T) {
	r, err := New(Config{ID: "solo"})
	require.NoError(t, err)
	select {
	case <-r.Joined():
	default:
		t.Fatal("a single-member ring is joined at once")
	}
	m, self := r.Owner(context.Background(), "t", "s")
	assert.True(t, self)
	assert.Equal(t, "solo", m.ID)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	cancel()
	require.NoError(t, <-done)
	assert.Error(t, r.Run(context.Background()), "Run twice")
}

func TestOwnerBeforeJoinIsSelf(t *testing.T) {
	cfg := Config{ID: "a", URL: "http://a.invalid", Logger: quietLogger}
	require.NoError(t, cfg.normalize(true))
	be := newMemBackend()
	r := newRing(cfg, be)
	m, self := r.Owner(context.Background(), "t", "s")
	assert.True(t, self)
	assert.Equal(t, "a", m.ID)
	assert.Zero(t, be.lookups.Load(), "no I/O before joining")
}

func TestMembersJoinAndLeave(t *testing.T) {
	be := newMemBackend()
	var mu sync.Mutex
	var changes [][]Member
	// A long TTL: only the announcement can explain a prompt drop.
	const ttl = 3 * time.Second
	a := startRing(t, be, Config{ID: "a", TTL: ttl, OnChange: func(ms []Member) {
		mu.Lock()
		changes = append(changes, ms)
		mu.Unlock()
	}})
	b := startRing(t, be, Config{ID: "b", TTL: ttl, Load: func() int64 { return 42 }})
	waitMembers(t, 2, a, b)
	ms := a.Members()
	assert.Equal(t, []string{"a", "b"}, []string{ms[0].ID, ms[1].ID})
	assert.Equal(t, int64(42), a.Members()[1].Load, "b's load reaches a")
	assert.Equal(t, "http://b.invalid", ms[1].URL)

	start := time.Now()
	b.stop()
	waitMembers(t, 1, a)
	assert.Less(t, time.Since(start), ttl/3, "a graceful leave is seen at once")
	// OnChange runs just after the new members are installed.
	assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(changes) >= 2 && len(changes[len(changes)-1]) == 1
	}, time.Second, time.Millisecond, "OnChange saw the join and the leave")
}

func TestDeadMemberDroppedWithinTTL(t *testing.T) {
	be := newMemBackend()
	a := startRing(t, be, Config{ID: "a", TTL: memTTL})
	b := startRing(t, be, Config{ID: "b", TTL: memTTL})
	waitMembers(t, 2, a, b)
	b.kill()
	last := time.Unix(0, b.lastBeat.Load())
	waitMembers(t, 1, a)
	since := time.Since(last)
	assert.Less(t, since, 2*memTTL, "dropped long after its TTL")
	assert.Greater(t, since, memTTL/2, "dropped before its record could expire")
	t.Logf("dead member dropped %v after its last heartbeat (TTL %v)", since, memTTL)
}

// TestOwnerSticky: a session keeps its owner when members join; the
// second lookup comes from the cache.
func TestOwnerSticky(t *testing.T) {
	be := newMemBackend()
	a := startRing(t, be, Config{ID: "a", TTL: memTTL})
	ctx := context.Background()
	owners := map[string]string{}
	for i := range 50 {
		s := fmt.Sprint("s", i)
		m, self := a.Owner(ctx, "t", s)
		require.True(t, self)
		owners[s] = m.ID
	}
	assert.EqualValues(t, 50, a.Stats().Placements)
	lookups := be.lookups.Load()
	for s := range owners {
		a.Owner(ctx, "t", s)
	}
	assert.Equal(t, lookups, be.lookups.Load(), "cached")

	b := startRing(t, be, Config{ID: "b", TTL: memTTL})
	waitMembers(t, 2, a, b)
	for s, want := range owners {
		m, _ := b.Owner(ctx, "t", s)
		assert.Equal(t, want, m.ID, "a joining member takes no session")
	}
	// New sessions do go to b.
	onB := 0
	for i := range 100 {
		if m, _ := a.Owner(ctx, "t", fmt.Sprint("new", i)); m.ID == "b" {
			onB++
		}
	}
	assert.Greater(t, onB, 25)
}

// TestOwnerMovesWhenOwnerGoes: a dead or departed owner's sessions get a
// live owner, recorded once, and nobody else's move.
func TestOwnerMovesWhenOwnerGoes(t *testing.T) {
	for _, crash := range []bool{false, true} {
		t.Run(fmt.Sprintf("crash=%v", crash), func(t *testing.T) {
			be := newMemBackend()
			a := startRing(t, be, Config{ID: "a", TTL: memTTL})
			b := startRing(t, be, Config{ID: "b", TTL: memTTL})
			c := startRing(t, be, Config{ID: "c", TTL: memTTL})
			waitMembers(t, 3, a, b, c)
			ctx := context.Background()
			before := map[string]string{}
			for i := range 90 {
				s := fmt.Sprint("s", i)
				m, _ := a.Owner(ctx, "t", s)
				before[s] = m.ID
			}
			if crash {
				c.kill()
			} else {
				c.stop()
			}
			waitMembers(t, 2, a, b)
			movedC := 0
			for s, was := range before {
				ma, _ := a.Owner(ctx, "t", s)
				mb, _ := b.Owner(ctx, "t", s)
				assert.Equal(t, ma.ID, mb.ID, "a and b agree on %s", s)
				assert.NotEqual(t, "c", ma.ID)
				if was == "c" {
					movedC++
				} else {
					assert.Equal(t, was, ma.ID, "a live owner's session moved")
				}
			}
			require.Positive(t, movedC)
			assert.EqualValues(t, movedC, a.Stats().Moves+b.Stats().Moves, "each move recorded once")
		})
	}
}

// TestOwnersAgreeUnderRace: nodes resolving new sessions at once agree,
// whatever their loads make each of them prefer.
func TestOwnersAgreeUnderRace(t *testing.T) {
	be := newMemBackend()
	rings := []*runningRing{
		startRing(t, be, Config{ID: "a", TTL: memTTL, Load: func() int64 { return 100 }}),
		startRing(t, be, Config{ID: "b", TTL: memTTL}),
		startRing(t, be, Config{ID: "c", TTL: memTTL, Load: func() int64 { return 50 }}),
	}
	waitMembers(t, 3, rings...)
	got := make([][]string, len(rings))
	var wg sync.WaitGroup
	for i, r := range rings {
		got[i] = make([]string, 200)
		wg.Go(func() {
			for k := range 200 {
				m, _ := r.Owner(context.Background(), "t", fmt.Sprint("race", k))
				got[i][k] = m.ID
			}
		})
	}
	wg.Wait()
	assert.Equal(t, got[0], got[1])
	assert.Equal(t, got[0], got[2])
}

func TestClaim(t *testing.T) {
	be := newMemBackend()
	a := startRing(t, be, Config{ID: "a", TTL: memTTL})
	b := startRing(t, be, Config{ID: "b", TTL: memTTL})
	waitMembers(t, 2, a, b)
	ctx := context.Background()
	for i := range 20 {
		s := fmt.Sprint("new", i)
		m, self := b.Claim(ctx, "t", s)
		assert.True(t, self)
		assert.Equal(t, "b", m.ID)
		m, _ = a.Owner(ctx, "t", s)
		assert.Equal(t, "b", m.ID, "a sees b's claim")
	}
	s := sessionOwnedBy(t, a.Ring, "t", "a")
	m, self := b.Claim(ctx, "t", s)
	assert.False(t, self, "Claim does not take a session with a live owner")
	assert.Equal(t, "a", m.ID)
}

func TestSuspectedOwnerReplaced(t *testing.T) {
	be := newMemBackend()
	a := startRing(t, be, Config{ID: "a", TTL: memTTL})
	b := startRing(t, be, Config{ID: "b", TTL: memTTL})
	waitMembers(t, 2, a, b)
	ctx := context.Background()
	s := sessionOwnedBy(t, a.Ring, "t", "b")
	a.Suspect("b")
	a.Suspect("a") // never suspects itself
	assert.True(t, a.Suspected("b"))
	assert.False(t, a.Suspected("a"))
	m, self := a.Owner(ctx, "t", s)
	assert.True(t, self, "a suspected owner is replaced")
	assert.Equal(t, "a", be.recorded(a.Ring, "t", s), "and the replacement recorded")
	assert.EqualValues(t, 1, a.Stats().Moves)
	m2, _ := b.Owner(ctx, "t", s)
	assert.Equal(t, m.ID, m2.ID, "b follows the record")
	// Suspicion lasts a TTL.
	assert.Eventually(t, func() bool { return !a.Suspected("b") }, 2*memTTL, 5*time.Millisecond)
}

func TestOwnerFallsBackWhenBackendFails(t *testing.T) {
	be := newMemBackend()
	a := startRing(t, be, Config{ID: "a", TTL: memTTL, CacheSize: -1})
	b := startRing(t, be, Config{ID: "b", TTL: memTTL})
	waitMembers(t, 2, a, b)
	be.fail.Store(true)
	defer be.fail.Store(false)
	for i := range 50 {
		s := fmt.Sprint("s", i)
		m, self := a.Owner(context.Background(), "t", s)
		p, pself := a.Place("t", s)
		assert.Equal(t, p.ID, m.ID)
		assert.Equal(t, pself, self)
	}
	assert.EqualValues(t, 50, a.Stats().RedisErrors)
	// The members a saw stay while the backend is down.
	time.Sleep(2 * memTTL)
	assert.Len(t, a.Members(), 2)
}

func TestCacheBounded(t *testing.T) {
	c := newOwnerCache(cacheShards * 2)
	for i := range 10000 {
		tag := fmt.Sprint("k", i)
		c.put(tag, uint64(i), "o", 100)
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	assert.LessOrEqual(t, n, cacheShards*2)
	c.put("x", 7, "o", 100)
	_, ok := c.get([]byte("x"), 7, 99)
	assert.True(t, ok)
	_, ok = c.get([]byte("x"), 7, 100)
	assert.False(t, ok, "expired")
	c.drop([]byte("x"), 7)
	_, ok = c.get([]byte("x"), 7, 0)
	assert.False(t, ok)
	assert.Nil(t, newOwnerCache(-1))
}
