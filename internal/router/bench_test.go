package router

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// nopClient answers at once with a shared response and stream.
type nopClient struct{ resp *llm.Response }

func (c *nopClient) Complete(context.Context, *llm.Request) (*llm.Response, error) {
	return c.resp, nil
}

func (c *nopClient) Stream(context.Context, *llm.Request) (llm.Stream, error) {
	return &nopStream{}, nil
}

type nopStream struct{ n int }

var nopChunk = &llm.Chunk{Choices: []llm.ChunkChoice{{Delta: llm.Delta{Content: "x"}}}}

func (s *nopStream) Recv() (*llm.Chunk, error) {
	if s.n < 3 {
		s.n++
		return nopChunk, nil
	}
	return nil, io.EOF
}

func (s *nopStream) Close() error { return nil }

func benchRouter(b *testing.B, n int) *Router {
	b.Helper()
	resp := okResponse("x")
	eps := make([]Endpoint, n)
	for i := range eps {
		eps[i] = Endpoint{Name: fmt.Sprint("ep", i), Client: &nopClient{resp: resp}, Models: []Route{{Model: "m"}}}
	}
	r, err := New(Config{Endpoints: eps, Rand: rand.New(rand.NewPCG(1, 2))})
	if err != nil {
		b.Fatal(err)
	}
	// Give every route data, as in steady state.
	now := r.mono(r.now())
	for i, rt := range r.models["m"].routes {
		rt.stats.observeLatency(now, r.tau, time.Duration(i+1)*time.Millisecond, -1)
		rt.stats.observeRates(now, r.tau, i == 0, false)
	}
	return r
}

func BenchmarkSelect(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprint("routes=", n), func(b *testing.B) {
			r := benchRouter(b, n)
			m := r.models["m"]
			now := r.mono(r.now())
			b.ReportAllocs()
			for b.Loop() {
				i, _ := r.pick(m, now, nil, false)
				_ = i
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/select")
		})
	}
}

func BenchmarkComplete(b *testing.B) {
	for _, n := range []int{2, 8} {
		b.Run(fmt.Sprint("routes=", n), func(b *testing.B) {
			r := benchRouter(b, n)
			q := req("m")
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Complete(ctx, q); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/request")
		})
	}
}

func BenchmarkCompleteParallel(b *testing.B) {
	r := benchRouter(b, 2)
	q := req("m")
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Complete(ctx, q); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/request")
}

func BenchmarkCompleteTraced(b *testing.B) {
	r := benchRouter(b, 2)
	q := req("m")
	b.ReportAllocs()
	var tr Trace
	ctx := WithTrace(context.Background(), &tr)
	for b.Loop() {
		tr.Attempts = tr.Attempts[:0]
		if _, err := r.Complete(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStream(b *testing.B) {
	r := benchRouter(b, 2)
	q := req("m")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s, err := r.Stream(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := s.Recv(); err != nil {
				break
			}
		}
		s.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/stream")
}

// BenchmarkObserveParallel measures the EWMA writers' per-route mutex
// under contention from every P on one route, its worst case.
func BenchmarkObserveParallel(b *testing.B) {
	r := benchRouter(b, 1)
	rt := r.models["m"].routes[0]
	clock := newClock(time.Now())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			clock.Advance(time.Microsecond)
			now := r.mono(clock.Now())
			rt.stats.observeLatency(now, r.tau, time.Millisecond, -1)
			rt.stats.observeRates(now, r.tau, false, false)
		}
	})
}
