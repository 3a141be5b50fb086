package storetest

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
)

// Bench measures what a model turn costs the engine in the store: an
// AppendTurn under a held lease, a Load of the last 10 turns of a 200- and
// a 1,000-turn session, and an uncontended Acquire+Release. Besides ns/op it
// reports each operation's p50 and p99 latency (the engine's budget is a
// p50). open returns a fresh backend per sub-benchmark.
func Bench(b *testing.B, open func(tb testing.TB) Backend) {
	b.Run("AppendTurn", func(b *testing.B) {
		s := open(b)
		ctx := b.Context()
		mustCreate(b, s, "t1", "s1")
		l := mustAcquire(b, s, "t1", "s1", "bench", time.Hour)
		turn := Turn("", "support")
		i := 0
		b.ReportAllocs()
		lat := latencies{}
		for b.Loop() {
			i++
			turn.ID = "turn-" + strconv.Itoa(i)
			start := time.Now()
			if _, _, err := s.AppendTurn(ctx, "t1", "s1", l, turn); err != nil {
				b.Fatal(err)
			}
			lat.add(time.Since(start))
		}
		lat.report(b)
	})
	for _, n := range []int{200, 1000} {
		b.Run("Load10of"+strconv.Itoa(n), func(b *testing.B) {
			s := open(b)
			ctx := b.Context()
			mustCreate(b, s, "t1", "s1")
			appendTurns(b, s, "t1", "s1", 1, n)
			b.ReportAllocs()
			lat := latencies{}
			for b.Loop() {
				start := time.Now()
				got, err := s.Load(ctx, "t1", "s1", 10)
				if err != nil || len(got.Turns) != 10 {
					b.Fatalf("Load: %d turns, %v", len(got.Turns), err)
				}
				lat.add(time.Since(start))
			}
			lat.report(b)
		})
	}
	b.Run("AcquireRelease", func(b *testing.B) {
		s := open(b)
		ctx := b.Context()
		b.ReportAllocs()
		lat := latencies{}
		for b.Loop() {
			start := time.Now()
			l, err := s.Acquire(ctx, "t1", "s1", "bench", time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Release(ctx, l); err != nil {
				b.Fatal(err)
			}
			lat.add(time.Since(start))
		}
		lat.report(b)
	})
	b.Run("IdleSessions", func(b *testing.B) {
		// What a session costs this process between turns: nothing, it
		// lives in the store. Each iteration is a new session with one turn;
		// run with -benchtime=100000x for the figure.
		s := open(b)
		ctx := b.Context()
		turn := Turn("turn-1", "support")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		n := 0
		for b.Loop() {
			n++
			id := "s" + strconv.Itoa(n)
			if err := s.Create(ctx, &store.Session{Tenant: "t1", ID: id, Agent: "support"}); err != nil {
				b.Fatal(err)
			}
			l, err := s.Acquire(ctx, "t1", id, "bench", time.Minute)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := s.AppendTurn(ctx, "t1", id, l, turn); err != nil {
				b.Fatal(err)
			}
			if err := s.Release(ctx, l); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heap-B/session")
	})
	b.Run("Turn", func(b *testing.B) {
		// One model turn's whole store cost: lease, load the window,
		// append, release.
		s := open(b)
		ctx := b.Context()
		mustCreate(b, s, "t1", "s1")
		appendTurns(b, s, "t1", "s1", 1, 20)
		turn := Turn("", "support")
		i := 0
		b.ReportAllocs()
		lat := latencies{}
		for b.Loop() {
			i++
			turn.ID = "bench-" + strconv.Itoa(i)
			start := time.Now()
			if err := oneTurn(ctx, s, turn); err != nil {
				b.Fatal(err)
			}
			lat.add(time.Since(start))
		}
		lat.report(b)
	})
}

func oneTurn(ctx context.Context, s Backend, turn store.Turn) error {
	l, err := s.Acquire(ctx, "t1", "s1", "bench", time.Minute)
	if err != nil {
		return err
	}
	defer func() { _ = s.Release(ctx, l) }()
	if _, err := s.LoadSince(ctx, "t1", "s1", -1, 10); err != nil {
		return err
	}
	_, _, err = s.AppendTurn(ctx, "t1", "s1", l, turn)
	return err
}

type latencies []time.Duration

func (l *latencies) add(d time.Duration) { *l = append(*l, d) }

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	b.ReportMetric(float64(l[len(l)/2])/1e3, "p50-µs")
	b.ReportMetric(float64(l[len(l)*99/100])/1e3, "p99-µs")
}
