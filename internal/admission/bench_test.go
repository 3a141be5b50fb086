package admission

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func benchQueue(b *testing.B, cfg Config, metrics bool) *Queue {
	b.Helper()
	if metrics {
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			b.Fatal(err)
		}
		cfg.Observer = m
	}
	q, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// BenchmarkAdmitRelease is the cost an unsaturated node pays per request:
// one Admit that finds a free slot and its release.
func BenchmarkAdmitRelease(b *testing.B) {
	for _, metrics := range []bool{false, true} {
		name := "no observer"
		if metrics {
			name = "metrics"
		}
		b.Run(name, func(b *testing.B) {
			q := benchQueue(b, Config{MaxConcurrent: 64}, metrics)
			ctx := context.Background()
			tk := Ticket{Priority: 50, MaxWait: time.Second, Tier: "standard"}
			b.ReportAllocs()
			for b.Loop() {
				p, err := q.Admit(ctx, tk)
				if err != nil {
					b.Fatal(err)
				}
				p.Release()
			}
		})
	}
}

// BenchmarkAdmitReleaseParallel is the same with every core admitting at
// once into a node with room: the shared state word is contended, the lock
// is not taken.
func BenchmarkAdmitReleaseParallel(b *testing.B) {
	q := benchQueue(b, Config{MaxConcurrent: 1 << 20}, true)
	tk := Ticket{Priority: 50, MaxWait: time.Second, Tier: "standard"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			p, err := q.Admit(ctx, tk)
			if err != nil {
				b.Error(err)
				return
			}
			p.Release()
		}
	})
}

// BenchmarkShedFullQueue is the cost of refusing a request when the queue
// is full of waiters of its priority: what an overloaded node pays per
// request it sheds.
func BenchmarkShedFullQueue(b *testing.B) {
	q := benchQueue(b, Config{MaxConcurrent: 4, MaxQueue: 64, DisableEarlyShed: true}, true)
	ctx := context.Background()
	for range 4 {
		if _, err := q.Admit(ctx, Ticket{}); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() { _, _ = q.Admit(ctx, Ticket{Priority: 50, MaxWait: time.Hour}) })
	}
	for q.Stats().Waiting != 64 {
		time.Sleep(time.Millisecond)
	}
	tk := Ticket{Priority: 50, MaxWait: time.Second, Tier: "standard"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := q.Admit(ctx, tk); !errors.Is(err, ErrShed) {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	q.Close()
	wg.Wait()
}

// BenchmarkContended drives a small node (4 slots, 16 queued) with many
// more goroutines than it holds, of mixed priorities, each releasing its
// slot at once: every operation is a queued hand-off, a displacement or a
// refusal on a full queue. ns/op is per Admit, whatever its outcome.
func BenchmarkContended(b *testing.B) {
	q := benchQueue(b, Config{MaxConcurrent: 4, MaxQueue: 16}, true)
	var admitted, refused atomic.Int64
	var seed atomic.Uint64
	b.SetParallelism(32) // 32 × GOMAXPROCS goroutines
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		rng := rand.New(rand.NewPCG(seed.Add(1), 1))
		ctx := context.Background()
		for pb.Next() {
			tk := Ticket{Priority: []int{10, 50, 50, 100}[rng.IntN(4)], MaxWait: 10 * time.Millisecond}
			p, err := q.Admit(ctx, tk)
			if err != nil {
				refused.Add(1)
				continue
			}
			admitted.Add(1)
			p.Release()
		}
	})
	total := float64(admitted.Load() + refused.Load())
	b.ReportMetric(100*float64(admitted.Load())/total, "admitted_%")
	if s := q.Stats(); s.Running != 0 || s.Waiting != 0 {
		b.Fatalf("after the run: %+v", s)
	}
}

// BenchmarkOverloadRealTime runs the overload bar of TestOverload on the
// system clock and real goroutines, 3 s of arrivals per iteration (run it
// with -benchtime 1x). What the simulation cannot show is the latency of
// real timers and goroutine wake-ups: queue_past_deadline_us is the worst
// time from an Admit call to its return beyond the request's deadline;
// max_past_deadline_us the same from the scheduled arrival, which adds the
// generator's own lateness on a busy machine.
func BenchmarkOverloadRealTime(b *testing.B) {
	const duration = 3 * time.Second
	for _, oc := range overloadCases[:2] {
		b.Run(oc.name, func(b *testing.B) {
			cfg := oc.cfg
			for b.Loop() {
				q := benchQueue(b, Config{MaxConcurrent: cfg.slots, MaxQueue: cfg.queue, MaxWait: 10 * time.Second}, false)
				rate := cfg.load * float64(cfg.slots) / cfg.service.Seconds()
				rng := rand.New(rand.NewPCG(cfg.seed, 2))
				type outcome struct {
					tier            int
					admitted        bool
					wait, inq, held time.Duration
				}
				var (
					mu       sync.Mutex
					outcomes []outcome
					wg       sync.WaitGroup
				)
				start := time.Now()
				next := start
				for next.Sub(start) < duration {
					next = next.Add(time.Duration(rng.ExpFloat64() / rate * float64(time.Second)))
					time.Sleep(time.Until(next))
					u, tier := rng.Float64(), 0
					for tier < len(overloadTiers)-1 && u >= overloadTiers[tier].share {
						u -= overloadTiers[tier].share
						tier++
					}
					arrive := next
					wg.Go(func() {
						t := overloadTiers[tier]
						called := time.Now()
						p, err := q.Admit(context.Background(), Ticket{Priority: t.priority, MaxWait: t.deadline, Tier: t.name})
						o := outcome{tier: tier, admitted: err == nil, wait: time.Since(arrive), inq: time.Since(called)}
						if err == nil {
							time.Sleep(cfg.service)
							o.held = time.Since(arrive) - o.wait
							p.Release()
						}
						mu.Lock()
						outcomes = append(outcomes, o)
						mu.Unlock()
					})
				}
				wg.Wait()
				elapsed := time.Since(start)

				var (
					offered, admitted [3]int
					over, overQueue   = time.Duration(math.MinInt64), time.Duration(math.MinInt64)
					held              time.Duration
					freeRejects       []time.Duration
					vipWaits          []time.Duration
				)
				for _, o := range outcomes {
					offered[o.tier]++
					if o.admitted {
						admitted[o.tier]++
						held += o.held
					} else if o.tier == 2 {
						freeRejects = append(freeRejects, o.wait)
					}
					if o.tier == 0 {
						vipWaits = append(vipWaits, o.wait)
					}
					over = max(over, o.wait-overloadTiers[o.tier].deadline)
					overQueue = max(overQueue, o.inq-overloadTiers[o.tier].deadline)
				}
				slices.Sort(freeRejects)
				slices.Sort(vipWaits)
				ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 }
				b.ReportMetric(100*float64(admitted[0])/float64(offered[0]), "vip_admitted_%")
				b.ReportMetric(ms(quantile(vipWaits, 0.99)), "vip_wait_p99_ms")
				b.ReportMetric(100*float64(admitted[1])/float64(offered[1]), "standard_admitted_%")
				b.ReportMetric(100*float64(admitted[2])/float64(offered[2]), "free_admitted_%")
				b.ReportMetric(ms(quantile(freeRejects, 0.5)), "free_refusal_p50_ms")
				b.ReportMetric(ms(quantile(freeRejects, 0.99)), "free_refusal_p99_ms")
				b.ReportMetric(float64(over.Microseconds()), "max_past_deadline_us")
				b.ReportMetric(float64(overQueue.Microseconds()), "queue_past_deadline_us")
				b.ReportMetric(100*held.Seconds()/(float64(cfg.slots)*elapsed.Seconds()), "busy_%")
			}
		})
	}
}
