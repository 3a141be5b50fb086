package shop

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// discard is a ResponseWriter that keeps only the byte count, so the
// benchmarks measure the shop, not a recorder.
type discard struct {
	h http.Header
	n int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(int)             {}
func (d *discard) Write(b []byte) (int, error) { d.n += len(b); return len(b), nil }

func requests(paths ...string) []*http.Request {
	out := make([]*http.Request, len(paths))
	for i, p := range paths {
		out[i] = httptest.NewRequest("GET", p, nil)
	}
	return out
}

func orderPaths(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "/orders/" + strconv.Itoa(FirstOrderID+i*(DefaultOrders/n))
	}
	return out
}

func benchHandler(b *testing.B, reqs []*http.Request) {
	h := shared(b).Handler()
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
		i++
	}
	b.ReportMetric(float64(w.n)/float64(i), "B/resp")
}

// BenchmarkGetOrder: GET /orders/{id} through the handler, over 64 orders.
func BenchmarkGetOrder(b *testing.B) { benchHandler(b, requests(orderPaths(64)...)) }

// BenchmarkGetShipment: GET /orders/{id}/shipment.
func BenchmarkGetShipment(b *testing.B) {
	paths := orderPaths(64)
	for i := range paths {
		paths[i] += "/shipment"
	}
	benchHandler(b, requests(paths...))
}

// BenchmarkSearchProducts: GET /products?q=… with two words.
func BenchmarkSearchProducts(b *testing.B) {
	benchHandler(b, requests("/products?q=running+shoes", "/products?q=coffee+grinder", "/products?q=wireless+headphones"))
}

// BenchmarkGetOrderParallel: GET /orders/{id} from GOMAXPROCS goroutines
// against the read pool.
func BenchmarkGetOrderParallel(b *testing.B) {
	h := shared(b).Handler()
	paths := orderPaths(64)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		reqs := requests(paths...)
		w := &discard{h: http.Header{}}
		i := 0
		for pb.Next() {
			clear(w.h)
			h.ServeHTTP(w, reqs[i%len(reqs)])
			i++
		}
	})
}

// BenchmarkSeed: Open of the default shop (3,000 orders) in a private file,
// and Close.
func BenchmarkSeed(b *testing.B) {
	b.ReportAllocs()
	var total time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		s, err := Open(context.Background(), Config{})
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		n++
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(n), "ms/open")
}
