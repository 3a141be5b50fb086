package ratelimit

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// The gateway's ask: requests and tokens of the tenant and of its tier.
func gatewayAsks(tenant string) []Ask {
	return []Ask{
		{Key: "tenant:" + tenant, Limit: Limit{Rate: 1e9}, N: 1},
		{Key: "tenant:" + tenant, Kind: Tokens, Limit: Limit{Rate: 1e12}, N: 800},
		{Key: "tier:standard", Limit: Limit{Rate: 1e9}, N: 1},
		{Key: "tier:standard", Kind: Tokens, Limit: Limit{Rate: 1e12}, N: 800},
	}
}

func BenchmarkAllowMemory(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run("asks="+strconv.Itoa(n), func(b *testing.B) {
			l, err := New(Config{})
			if err != nil {
				b.Fatal(err)
			}
			asks := gatewayAsks("a")[:n]
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if d, _ := l.Allow(ctx, asks...); !d.Allowed {
					b.Fatal("refused")
				}
			}
		})
	}
}

// BenchmarkAllowMemoryParallel spreads 1,000 tenants over every P.
func BenchmarkAllowMemoryParallel(b *testing.B) {
	l, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	var sets [1000][]Ask
	for i := range sets {
		sets[i] = gatewayAsks(strconv.Itoa(i))
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			l.Allow(ctx, sets[i%len(sets)]...)
			i += 7
		}
	})
}

func BenchmarkReserveSpendMemory(b *testing.B) {
	l, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	budget := Budget{Day: Cap{Soft: 1e15, Hard: 2e15}}
	b.ReportAllocs()
	for b.Loop() {
		sp, _ := l.ReserveSpend(ctx, "tenant:a", budget, 2000)
		l.SettleSpend(ctx, sp.Reservation, 1500)
	}
}

// latencies collects per-op durations and reports their mean, p50 and
// p99 in µs.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B) {
	if len(l.d) == 0 {
		return
	}
	slices.Sort(l.d)
	q := func(p float64) float64 {
		return float64(l.d[min(len(l.d)-1, int(p*float64(len(l.d))))]) / 1e3
	}
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

func benchRedis(b *testing.B, parallel bool, op func(l *Limiter)) {
	c := newRedisClient(b)
	// A generous Timeout: a stall of the machine should show in p99, not
	// end the benchmark in a fallback.
	l, err := New(Config{Redis: c, Prefix: testPrefix(b, c), Timeout: 2 * time.Second, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	var lat latencies
	b.ReportAllocs()
	if !parallel {
		d := make([]time.Duration, 0, 1<<16)
		for b.Loop() {
			start := time.Now()
			op(l)
			d = append(d, time.Since(start))
		}
		lat.add(d)
	} else {
		b.RunParallel(func(pb *testing.PB) {
			d := make([]time.Duration, 0, 1<<14)
			for pb.Next() {
				start := time.Now()
				op(l)
				d = append(d, time.Since(start))
			}
			lat.add(d)
		})
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
	lat.report(b)
}

// BenchmarkAllowRedis is one gateway decision (four asks, one script run)
// against the Redis on this machine.
func BenchmarkAllowRedis(b *testing.B) {
	asks := gatewayAsks("a")
	ctx := context.Background()
	allow := func(l *Limiter) {
		if d, err := l.Allow(ctx, asks...); err != nil || d.Local {
			b.Fatal("Redis failed:", err)
		}
	}
	b.Run("serial", func(b *testing.B) { benchRedis(b, false, allow) })
	b.Run("parallel", func(b *testing.B) { benchRedis(b, true, allow) })
}

// BenchmarkSpendRedis is a reservation and its settle: two script runs.
func BenchmarkSpendRedis(b *testing.B) {
	ctx := context.Background()
	budget := Budget{Day: Cap{Soft: 1e15, Hard: 2e15}}
	benchRedis(b, false, func(l *Limiter) {
		sp, err := l.ReserveSpend(ctx, "tenant:a", budget, 2000)
		if err != nil || sp.Local {
			b.Fatal("Redis failed:", err)
		}
		l.SettleSpend(ctx, sp.Reservation, 1500)
	})
}
