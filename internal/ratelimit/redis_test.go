package ratelimit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRedisAccuracyThreeNodes is issue 5's bar: three nodes, each with a
// client of its own, hammer one key of a small limit for about two
// windows; no window of one Period admits more than 1.02 × the limit.
// Admission instants are Redis's clock at each decision, so windows are
// measured on the one clock that decided.
func TestRedisAccuracyThreeNodes(t *testing.T) {
	c := newRedisClient(t)
	prefix := testPrefix(t, c)
	const rate = 200
	lim := Limit{Rate: rate, Period: time.Second} // default burst: 4
	rec := &recorder{}
	var nodes []*Limiter
	for range 3 {
		l, err := New(Config{Redis: newRedisClient(t), Prefix: prefix, Timeout: 2 * time.Second, Observer: rec, Logger: quiet})
		require.NoError(t, err)
		nodes = append(nodes, l)
	}

	var (
		mu       sync.Mutex
		admitted []int64 // µs on Redis's clock
		calls    int
	)
	stop := time.Now().Add(2200 * time.Millisecond)
	var wg sync.WaitGroup
	for w := range 24 {
		n := nodes[w%3]
		wg.Go(func() {
			var mine []int64
			k := 0
			for ; time.Now().Before(stop); k++ {
				d, err := n.Allow(context.Background(), Ask{Key: "tenant:hot", Limit: lim, N: 1})
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					mine = append(mine, d.at)
				}
			}
			mu.Lock()
			admitted = append(admitted, mine...)
			calls += k
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(admitted)
	require.NotEmpty(t, admitted)

	ts := make([]time.Time, len(admitted))
	for i, us := range admitted {
		ts[i] = time.UnixMicro(us)
	}
	worst := maxInWindow(ts, time.Second)
	span := ts[len(ts)-1].Sub(ts[0])
	var fixed []int
	for i := 0; ; i++ {
		from := ts[0].Add(time.Duration(i) * time.Second)
		if from.After(ts[len(ts)-1]) {
			break
		}
		fixed = append(fixed, maxInWindow(windowOf(ts, from, time.Second), time.Second))
	}
	t.Logf("3 nodes, %d calls, %d admitted over %v; per 1 s window from the first: %v; worst sliding window %d (limit %d, bar %.0f)",
		calls, len(admitted), span.Round(time.Millisecond), fixed, worst, rate, 1.02*rate)

	_, modes := rec.seen()
	require.Zero(t, modes[ModeLocal], "every decision was made in Redis")
	require.Greater(t, calls, 3*len(admitted), "the key was saturated")
	assert.LessOrEqual(t, float64(worst), 1.02*rate, "worst window of one second")
	for i, n := range fixed {
		assert.LessOrEqual(t, float64(n), 1.02*rate, "window %d", i)
	}
	// And the limit is used, not just respected (how fully depends on how
	// fast this machine turns the callers around, so the check is loose).
	assert.Greater(t, len(admitted), rate)
}

// windowOf returns the instants of ts in [from, from+w).
func windowOf(ts []time.Time, from time.Time, w time.Duration) []time.Time {
	i, _ := slices.BinarySearchFunc(ts, from, time.Time.Compare)
	j, _ := slices.BinarySearchFunc(ts, from.Add(w), time.Time.Compare)
	return ts[i:j]
}

func TestRedisFailOpenOnClosedPort(t *testing.T) {
	clk := newFakeClock(time.Now())
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	reg := prometheus.NewRegistry()
	met, err := NewMetrics(reg)
	require.NoError(t, err)
	rec := &recorder{}
	l, err := New(Config{Redis: rdb, Nodes: 4, Clock: clk.Now, Logger: quiet, Observer: multiObserver{met, rec}})
	require.NoError(t, err)
	ctx := context.Background()

	// A caller that gave up gets its own error, not a fallback.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.Allow(cancelled, Ask{Key: "k", Limit: Limit{Rate: 1}, N: 1})
	require.ErrorIs(t, err, context.Canceled)
	downs, _ := rec.seen()
	require.Empty(t, downs)

	// 400 an hour, a burst of 40: each of 4 nodes gets 100 and 10.
	ask := Ask{Key: "tenant:a", Limit: Limit{Rate: 400, Period: time.Hour, Burst: 40}, N: 1}
	for i := range 10 {
		d, err := l.Allow(ctx, ask)
		require.NoError(t, err)
		require.True(t, d.Allowed, "take %d", i)
		require.True(t, d.Local)
		assert.Equal(t, int64(400), d.Requests.Limit)
	}
	d, err := l.Allow(ctx, ask)
	require.NoError(t, err)
	assert.False(t, d.Allowed, "a quarter of the burst")
	assert.True(t, d.Local)
	assert.Equal(t, 36*time.Second, d.RetryAfter, "at a quarter of the rate: one per 36 s")
	assert.Equal(t, int64(90), d.Requests.Remaining)

	downs, modes := rec.seen()
	assert.Equal(t, []bool{true}, downs, "one outage, reported once")
	assert.Equal(t, 11, modes[ModeLocal])
	assert.Equal(t, 1.0, testutil.ToFloat64(met.active))
	assert.Equal(t, 1.0, testutil.ToFloat64(met.fallbacks))
	assert.Equal(t, 10.0, testutil.ToFloat64(met.decisions[ModeLocal][1]))
	assert.Equal(t, 1.0, testutil.ToFloat64(met.decisions[ModeLocal][0]))

	// Budgets: this node's spend counts 4 times, as its share.
	b := Budget{Day: Cap{Soft: 500, Hard: 1000}}
	l.ChargeSpend(ctx, "tenant:a", 200)
	sp, err := l.ReserveSpend(ctx, "tenant:a", b, 0)
	require.NoError(t, err)
	assert.True(t, sp.Local)
	assert.Equal(t, SoftLimit, sp.State)
	assert.Equal(t, int64(800), sp.Day.Spent)
	l.SetNodes(2)
	sp, err = l.ReserveSpend(ctx, "tenant:a", b, 99)
	require.NoError(t, err)
	assert.Equal(t, int64(400), sp.Day.Spent)
	assert.Equal(t, SoftLimit, sp.State, "400 + 2×99")
	sp, err = l.ReserveSpend(ctx, "tenant:a", b, 202)
	require.NoError(t, err)
	assert.Equal(t, HardLimit, sp.State, "400 + 2×(99 held + 202)")
	assert.Equal(t, 2.0, testutil.ToFloat64(met.spend[ModeLocal][SoftLimit]))
	assert.Equal(t, 1.0, testutil.ToFloat64(met.spend[ModeLocal][HardLimit]))
}

func TestRedisRecovers(t *testing.T) {
	base := newRedisClient(t)
	prefix := testPrefix(t, base)
	clk := newFakeClock(time.Now())
	fd := &flakyDialer{}
	rdb := goredis.NewClient(&goredis.Options{Addr: redisAddr, Dialer: fd.dial, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	rec := &recorder{}
	l, err := New(Config{Redis: rdb, Prefix: prefix, Nodes: 3, RetryInterval: 5 * time.Second, Clock: clk.Now, Logger: quiet, Observer: rec})
	require.NoError(t, err)
	other, err := New(Config{Redis: newRedisClient(t), Prefix: prefix, Clock: clk.Now, Logger: quiet})
	require.NoError(t, err)
	ctx := context.Background()
	ask := Ask{Key: "tenant:a", Limit: Limit{Rate: 60, Period: time.Hour, Burst: 6}, N: 1}
	b := Budget{Month: Cap{Hard: 1e6}}

	for range 2 {
		d, err := l.Allow(ctx, ask)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.False(t, d.Local)
	}
	l.ChargeSpend(ctx, "tenant:a", 1000)
	sp, err := l.ReserveSpend(ctx, "tenant:a", b, 100) // held in Redis across the outage
	require.NoError(t, err)
	require.False(t, sp.Local)
	held := sp.Reservation

	fd.setDown(true)
	for i := range 2 { // a third of the burst
		d, err := l.Allow(ctx, ask)
		require.NoError(t, err)
		require.True(t, d.Allowed, "take %d", i)
		require.True(t, d.Local)
	}
	d, _ := l.Allow(ctx, ask)
	require.False(t, d.Allowed)
	l.SettleSpend(ctx, held, 100) // a cluster-wide call: counted once, not 3 times
	l.ChargeSpend(ctx, "tenant:a", 10)
	sp, err = l.ReserveSpend(ctx, "tenant:a", b, 0)
	require.NoError(t, err)
	require.True(t, sp.Local)
	assert.Equal(t, int64(1000+100+3*10), sp.Month.Spent, "last figure seen in Redis, plus the settled call, plus 3 × this node's charge")

	fd.setDown(false)
	d, _ = l.Allow(ctx, ask)
	assert.True(t, d.Local, "no retry before RetryInterval")
	clk.Advance(5 * time.Second)
	for i := range 4 { // Redis's state went on where it was: 4 of 6 left
		d, err := l.Allow(ctx, ask)
		require.NoError(t, err)
		require.False(t, d.Local, "take %d", i)
		require.True(t, d.Allowed, "take %d", i)
	}
	d, _ = l.Allow(ctx, ask)
	require.False(t, d.Allowed)
	downs, _ := rec.seen()
	assert.Equal(t, []bool{true, false}, downs)

	// The outage's charges reach Redis with the key's next check.
	sp, err = l.ReserveSpend(ctx, "tenant:a", b, 0)
	require.NoError(t, err)
	require.False(t, sp.Local)
	assert.Equal(t, int64(1110), sp.Month.Spent)
	sp, err = other.ReserveSpend(ctx, "tenant:a", b, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(1110), sp.Month.Spent, "another node sees them")
	assert.Zero(t, sp.Held, "the hold was released")
}

// multiObserver tells several observers.
type multiObserver []Observer

func (m multiObserver) Fallback(down bool, err error) {
	for _, o := range m {
		o.Fallback(down, err)
	}
}

func (m multiObserver) Decided(mode Mode, allowed bool) {
	for _, o := range m {
		o.Decided(mode, allowed)
	}
}

func (m multiObserver) SpendChecked(mode Mode, s SpendState) {
	for _, o := range m {
		o.SpendChecked(mode, s)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		give Config
	}{
		{"negative nodes", Config{Nodes: -1}},
		{"negative timeout", Config{Timeout: -time.Second}},
		{"negative retry", Config{RetryInterval: -1}},
		{"tiny reservation ttl", Config{ReservationTTL: time.Microsecond}},
		{"cluster without hash tag", Config{Redis: goredis.NewClusterClient(&goredis.ClusterOptions{})}},
		{"cluster with empty hash tag", Config{Redis: goredis.NewClusterClient(&goredis.ClusterOptions{}), Prefix: "fg{}:"}},
	}
	for _, tt := range tests {
		_, err := New(tt.give)
		assert.True(t, errors.Is(err, ErrInvalidConfig), "%s: %v", tt.name, err)
		if tt.give.Redis != nil {
			tt.give.Redis.Close()
		}
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{})
	defer cc.Close()
	_, err := New(Config{Redis: cc, Prefix: "{fg}:"})
	assert.NoError(t, err)
}
