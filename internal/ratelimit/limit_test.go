package ratelimit

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func newMemLimiter(t testing.TB, clk *fakeClock) *Limiter {
	t.Helper()
	l, err := New(Config{Clock: clk.Now, Logger: quiet})
	require.NoError(t, err)
	return l
}

func TestDefaultBurst(t *testing.T) {
	tests := []struct {
		give, want int64
	}{
		{1, 1}, {10, 1}, {50, 1}, {51, 2}, {100, 2}, {600, 12}, {100000, 2000},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, DefaultBurst(tt.give), "rate %d", tt.give)
	}
}

func TestParamsScale(t *testing.T) {
	tests := []struct {
		name      string
		give      Limit
		scale     int64
		wantT     float64 // µs
		wantTau   float64
		wantRate  int64
		wantBurst float64 // tau / t
	}{
		{"full", Limit{Rate: 60, Burst: 6}, 1, 1e6, 6e6, 60, 6},
		{"default period and burst", Limit{Rate: 600}, 1, 1e5, 12e5, 600, 12},
		{"a third", Limit{Rate: 60, Burst: 6}, 3, 3e6, 6e6, 20, 2},
		{"burst never below one", Limit{Rate: 60, Burst: 2}, 4, 4e6, 4e6, 15, 1},
		{"rate never below one", Limit{Rate: 2, Period: time.Second}, 4, 2e6, 2e6, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.give.params(tt.scale)
			assert.InDelta(t, tt.wantT, p.t, 1e-6)
			assert.InDelta(t, tt.wantTau, p.tau, 1e-6)
			assert.Equal(t, tt.wantRate, p.rate)
			assert.InDelta(t, tt.wantBurst, p.tau/p.t, 1e-9)
		})
	}
}

func TestMemoryBurstThenRefill(t *testing.T) {
	clk := newFakeClock(t0)
	l := newMemLimiter(t, clk)
	ctx := context.Background()
	ask := Ask{Key: "tenant:a", Limit: Limit{Rate: 60, Burst: 5}, N: 1} // one per second

	for i := range 5 {
		d, err := l.Allow(ctx, ask)
		require.NoError(t, err)
		require.True(t, d.Allowed, "take %d", i)
	}
	d, _ := l.Allow(ctx, ask)
	assert.False(t, d.Allowed)
	assert.Equal(t, time.Second, d.RetryAfter)
	assert.Equal(t, "tenant:a", d.Denied)
	assert.Equal(t, Requests, d.DeniedKind)
	assert.Equal(t, Status{Limit: 60, Remaining: 55, Reset: 5 * time.Second}, d.Requests)
	assert.Zero(t, d.Tokens)

	clk.Advance(999 * time.Millisecond)
	d, _ = l.Allow(ctx, ask)
	assert.False(t, d.Allowed)
	assert.Equal(t, time.Millisecond, d.RetryAfter)

	clk.Advance(time.Millisecond)
	d, _ = l.Allow(ctx, ask)
	assert.True(t, d.Allowed)
	assert.Zero(t, d.RetryAfter)
	assert.Equal(t, Status{Limit: 60, Remaining: 55, Reset: 5 * time.Second}, d.Requests)

	clk.Advance(time.Hour)
	d, _ = l.Allow(ctx, ask)
	assert.True(t, d.Allowed)
	assert.Equal(t, Status{Limit: 60, Remaining: 59, Reset: time.Second}, d.Requests)
}

// TestMemoryWindowBound drives random arrivals through the default burst
// and checks the package's promise: no window of one Period admits more
// than 1.02 × Rate, and the long-run rate is Rate.
func TestMemoryWindowBound(t *testing.T) {
	for _, rate := range []int64{10, 100, 1000} {
		clk := newFakeClock(t0)
		l := newMemLimiter(t, clk)
		rng := rand.New(rand.NewPCG(1, uint64(rate)))
		lim := Limit{Rate: rate, Period: time.Second}
		var admitted []time.Time
		end := t0.Add(10 * time.Second)
		for clk.Now().Before(end) {
			clk.Advance(time.Duration(rng.Int64N(int64(time.Second) / rate / 3)))
			if d, _ := l.Allow(context.Background(), Ask{Key: "k", Limit: lim, N: 1}); d.Allowed {
				admitted = append(admitted, clk.Now())
			}
		}
		worst := maxInWindow(admitted, time.Second)
		assert.LessOrEqual(t, float64(worst), 1.02*float64(rate), "rate %d", rate)
		assert.GreaterOrEqual(t, worst, int(rate), "rate %d: a full window admits the rate", rate)
		assert.LessOrEqual(t, int64(len(admitted)), 10*rate+DefaultBurst(rate), "rate %d: long-run", rate)
		// A burst of one loses the time between the key filling up and the
		// next arrival; a larger one keeps it.
		assert.GreaterOrEqual(t, float64(len(admitted)), 0.85*float64(10*rate), "rate %d: long-run", rate)
	}
}

// maxInWindow is the most instants (sorted) in any half-open window of w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	worst, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		worst = max(worst, i-j+1)
	}
	return worst
}

func TestMemoryAdjust(t *testing.T) {
	clk := newFakeClock(t0)
	l := newMemLimiter(t, clk)
	ctx := context.Background()
	lim := Limit{Rate: 6000, Burst: 1000} // 100 tokens per second
	take := func(n int64) Decision {
		d, err := l.Allow(ctx, Ask{Key: "t", Kind: Tokens, Limit: lim, N: n})
		require.NoError(t, err)
		return d
	}

	require.True(t, take(1000).Allowed, "estimate")
	require.False(t, take(1).Allowed)
	l.Adjust(ctx, Ask{Key: "t", Kind: Tokens, Limit: lim, N: -600}) // used 400
	require.True(t, take(600).Allowed, "refund makes room")
	require.False(t, take(1).Allowed)

	l.Adjust(ctx, Ask{Key: "t", Kind: Tokens, Limit: lim, N: 500}) // used more
	d := take(1)
	require.False(t, d.Allowed)
	assert.Equal(t, 5010*time.Millisecond, d.RetryAfter, "debt of 500 tokens plus the one asked")
	assert.Equal(t, Status{Limit: 6000, Remaining: 4500, Reset: 15 * time.Second}, d.Tokens)

	// A refund never makes a key fuller than full.
	clk.Advance(time.Hour)
	l.Adjust(ctx, Ask{Key: "t", Kind: Tokens, Limit: lim, N: -1e6})
	require.True(t, take(1000).Allowed)
	require.False(t, take(1).Allowed)
}

func TestMemoryLargeTakeGoesIntoDebt(t *testing.T) {
	clk := newFakeClock(t0)
	l := newMemLimiter(t, clk)
	ctx := context.Background()
	ask := Ask{Key: "t", Kind: Tokens, Limit: Limit{Rate: 6000, Burst: 1000}, N: 3000}

	d, _ := l.Allow(ctx, ask)
	require.True(t, d.Allowed, "larger than the burst, admitted when full")
	clk.Advance(10 * time.Second)
	d, _ = l.Allow(ctx, ask)
	require.False(t, d.Allowed, "not full yet")
	assert.Equal(t, 20*time.Second, d.RetryAfter)
	clk.Advance(20 * time.Second)
	d, _ = l.Allow(ctx, ask)
	require.True(t, d.Allowed)
}

func TestMemoryAllOrNone(t *testing.T) {
	clk := newFakeClock(t0)
	l := newMemLimiter(t, clk)
	ctx := context.Background()
	tenant := Ask{Key: "tenant:a", Limit: Limit{Rate: 60, Burst: 10}, N: 1}
	tier := Ask{Key: "tier:free", Limit: Limit{Rate: 60, Burst: 2}, N: 1}
	tokens := Ask{Key: "tenant:a", Kind: Tokens, Limit: Limit{Rate: 60000, Burst: 5000}, N: 100}

	for range 2 {
		d, _ := l.Allow(ctx, tenant, tier, tokens)
		require.True(t, d.Allowed)
	}
	d, _ := l.Allow(ctx, tenant, tier, tokens)
	require.False(t, d.Allowed)
	assert.Equal(t, "tier:free", d.Denied)
	assert.Equal(t, Status{Limit: 60, Remaining: 58, Reset: 2 * time.Second}, d.Requests, "tightest of tenant and tier, nothing taken")
	assert.Equal(t, Status{Limit: 60000, Remaining: 59800, Reset: 200 * time.Millisecond}, d.Tokens)

	// The refused batch took nothing from the tenant: 8 more fit alone.
	for i := range 8 {
		d, _ := l.Allow(ctx, tenant)
		require.True(t, d.Allowed, "take %d", i)
	}
	d, _ = l.Allow(ctx, tenant)
	require.False(t, d.Allowed)
}

func TestMemoryUnlimitedAndEdgeAsks(t *testing.T) {
	clk := newFakeClock(t0)
	l := newMemLimiter(t, clk)
	ctx := context.Background()

	d, err := l.Allow(ctx)
	require.NoError(t, err)
	assert.Equal(t, Decision{Allowed: true}, d, "no asks")
	d, _ = l.Allow(ctx, Ask{Key: "x", N: 1e9}, Ask{Key: "y", Limit: Limit{Rate: -1}, N: 1})
	assert.Equal(t, Decision{Allowed: true}, d, "unlimited asks are not consulted")

	lim := Limit{Rate: 60, Burst: 1}
	d, _ = l.Allow(ctx, Ask{Key: "k", Limit: lim, N: -5})
	assert.True(t, d.Allowed, "negative N takes nothing")
	assert.Equal(t, int64(60), d.Requests.Remaining)
	d, _ = l.Allow(ctx, Ask{Key: "k", Limit: lim, N: 1}, Ask{Key: "k", Limit: lim, N: 1})
	assert.False(t, d.Allowed, "one key asked twice in a batch counts twice")
	d, _ = l.Allow(ctx, Ask{Key: "k", Limit: lim, N: 1})
	assert.True(t, d.Allowed, "and the refused batch took nothing")
	d, _ = l.Allow(ctx, Ask{Key: "k", Limit: lim, N: 0})
	assert.True(t, d.Allowed, "N 0 is a check: the key is not in debt")
	l.Adjust(ctx, Ask{Key: "k", Limit: lim, N: 1})
	d, _ = l.Allow(ctx, Ask{Key: "k", Limit: lim, N: 0})
	assert.False(t, d.Allowed, "N 0 is refused while in debt")
}

func TestMemorySweepsFullKeys(t *testing.T) {
	clk := newFakeClock(t0)
	l := newMemLimiter(t, clk)
	ctx := context.Background()
	lim := Limit{Rate: 60, Burst: 10}
	const n = numShards * minSweep
	for i := range n {
		l.Allow(ctx, Ask{Key: strconv.Itoa(i), Limit: lim, N: 1})
	}
	clk.Advance(2 * time.Second) // every key is full again
	for i := range 2 * n {
		l.Allow(ctx, Ask{Key: "new" + strconv.Itoa(i), Limit: lim, N: 1})
	}
	total := 0
	for i := range l.mem.rates {
		total += len(l.mem.rates[i].cells)
	}
	assert.Less(t, total, 2*n+n/4, "full keys were swept")
	assert.GreaterOrEqual(t, total, 2*n, "keys in use were kept")
}

func TestMemoryConcurrent(t *testing.T) {
	clk := newFakeClock(t0)
	l := newMemLimiter(t, clk)
	var admitted atomic.Int64
	var wg sync.WaitGroup
	lims := []Ask{
		{Key: "tenant:a", Limit: Limit{Rate: 600, Burst: 100}, N: 1},
		{Key: "tier:t", Limit: Limit{Rate: 600, Burst: 150}, N: 1},
		{Key: "tenant:a", Kind: Tokens, Limit: Limit{Rate: 600000, Burst: 100000}, N: 500},
	}
	for range 8 {
		wg.Go(func() {
			for range 200 {
				if d, _ := l.Allow(context.Background(), lims...); d.Allowed {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(100), admitted.Load(), "the tightest burst, exactly, under contention")
}

// FuzzAllow feeds arbitrary limits and amounts to the in-process
// limiter: it must not panic, and its figures must stay in range.
func FuzzAllow(f *testing.F) {
	f.Add(int64(60), int64(time.Minute), int64(0), int64(1), int64(0), uint16(0))
	f.Add(int64(1), int64(1), int64(1), int64(1<<62), int64(-1<<62), uint16(1000))
	f.Add(int64(1<<62), int64(1<<62), int64(1<<62), int64(-1), int64(1<<40), uint16(65535))
	f.Add(int64(-5), int64(-1), int64(-1), int64(0), int64(0), uint16(3))
	f.Fuzz(func(t *testing.T, rate, period, burst, n, adj int64, step uint16) {
		clk := newFakeClock(t0)
		l := newMemLimiter(t, clk)
		ctx := context.Background()
		ask := Ask{Key: "k", Kind: Tokens, Limit: Limit{Rate: rate, Period: time.Duration(period), Burst: burst}, N: n}
		for range 3 {
			d, err := l.Allow(ctx, ask)
			require.NoError(t, err)
			require.GreaterOrEqual(t, d.RetryAfter, time.Duration(0))
			require.GreaterOrEqual(t, d.Tokens.Reset, time.Duration(0))
			require.GreaterOrEqual(t, d.Tokens.Remaining, int64(0))
			require.LessOrEqual(t, d.Tokens.Remaining, max(rate, 0))
			if d.Allowed {
				require.Zero(t, d.RetryAfter)
			}
			var h = make(map[string][]string)
			d.SetHeaders(h)
			l.Adjust(ctx, Ask{Key: "k", Kind: Tokens, Limit: ask.Limit, N: adj})
			clk.Advance(time.Duration(step) * time.Millisecond)
		}
	})
}
