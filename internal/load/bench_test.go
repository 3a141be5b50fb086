package load

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// trivialServer answers every request with a fixed completion, as cheaply as
// net/http allows, so that benchmarks measure the generator.
func trivialServer(tb testing.TB) *httptest.Server {
	body := []byte(completionJSON)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Content-Type"] = []string{"application/json"}
		_, _ = w.Write(body)
	}))
	tb.Cleanup(s.Close)
	return s
}

// BenchmarkWorkerDo is one worker's request path (send, read, check,
// record) against an in-process server: ns/op and allocs/op per request,
// server included.
func BenchmarkWorkerDo(b *testing.B) {
	s := trivialServer(b)
	r, err := newRun(Config{Target: s.URL + "/v1", Concurrency: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.transport.CloseIdleConnections()
	w := newWorker(r.client, 0, r.rec.shard(0))
	req := r.cfg.Scenario.Next(0, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		now := time.Now()
		o := w.do(ctx, 0, req.Body, now, now)
		if !o.ok {
			b.Fatalf("outcome %+v", o)
		}
		w.shard.record(req.Label, -1, &o)
		if len(w.shard.samples) >= 4096 {
			w.shard.samples = w.shard.samples[:0] // the collector's swap
		}
	}
}

// BenchmarkClosedLoop runs the whole closed loop (50 workers, 1s) against a
// trivial net/http server, in this process and in a child process, and
// reports requests per second and, per request, the CPU time and
// allocations of this process: with the server in a child process, those
// are the generator's own. The keys=3 case adds a three-tier key mix and its
// per-key breakdown.
func BenchmarkClosedLoop(b *testing.B) {
	tiers := []Key{{"vip", "k1", 0.1}, {"standard", "k2", 0.6}, {"free", "k3", 0.3}}
	servers := []struct {
		name   string
		target func(testing.TB) string
		keys   []Key
	}{
		{"server=in-process", func(tb testing.TB) string { return trivialServer(tb).URL }, nil},
		{"server=child-process", childServer, nil},
		{"server=child-process/keys=3", childServer, tiers},
	}
	for _, srv := range servers {
		b.Run(srv.name, func(b *testing.B) {
			cfg := Config{Target: srv.target(b) + "/v1", Concurrency: 50, Duration: time.Second, Keys: srv.keys}
			var ok int64
			var elapsed, cpu time.Duration
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			for b.Loop() {
				c0, t0 := cpuTime(), time.Now()
				rep, err := Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				elapsed += time.Since(t0)
				ok += rep.OK
				if rep.ErrorCount() > 0 {
					b.Fatalf("errors %v", rep.Errors)
				}
			}
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(ok)/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(ok), "cpu-µs/req")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(ok), "allocs/req")
		})
	}
}

// BenchmarkOpenLoop runs the open loop at 1,000 and 10,000 req/s for 1s
// against a trivial server in another process and reports the generator's
// CPU time per request and the median latency, which includes how late the
// scheduler started each request.
func BenchmarkOpenLoop(b *testing.B) {
	target := childServer(b) + "/v1"
	for _, rate := range []float64{1000, 10000} {
		b.Run(fmt.Sprintf("rate=%g", rate), func(b *testing.B) {
			cfg := Config{Target: target, Rate: rate, Duration: time.Second}
			var ok int64
			var cpu time.Duration
			var p50, p99 float64
			for b.Loop() {
				c0 := cpuTime()
				rep, err := Run(context.Background(), cfg)
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - c0
				ok += rep.OK
				p50, p99 = rep.Latency.P50, rep.Latency.P99
				if rep.ErrorCount() > 0 || rep.Dropped > 0 {
					b.Fatalf("errors %v dropped %d", rep.Errors, rep.Dropped)
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(ok), "cpu-µs/req")
			b.ReportMetric(p50, "p50-ms")
			b.ReportMetric(p99, "p99-ms")
		})
	}
}

// BenchmarkShardRecord is a worker's recording of one successful request;
// every 4096 the collector's swap empties the shard's samples, as it does
// once per interval.
func BenchmarkShardRecord(b *testing.B) {
	rec := newRecorder(1, true, nil)
	s := rec.shard(0)
	o := outcome{ok: true, latency: 1500 * time.Microsecond, ttft: 300 * time.Microsecond}
	b.ReportAllocs()
	for b.Loop() {
		s.record(LabelOrderStatus, -1, &o)
		if len(s.samples) == 4096 {
			s.samples = s.samples[:0]
		}
	}
}

// BenchmarkAggregate is the collector's share of recording a request: adding
// its sample to its scenario label's and its key's statistics, for a mix of
// OK, degraded, rejected and timed-out outcomes. ns/op is per request.
func BenchmarkAggregate(b *testing.B) {
	keys := []Key{{"vip", "k1", 0.1}, {"standard", "k2", 0.6}, {"free", "k3", 0.3}}
	rec := newRecorder(1, false, keys)
	labels := []string{LabelOrderStatus, LabelTracking, LabelReturns, LabelProduct, LabelSmallTalk}
	samples := make([]sample, 4096)
	for i := range samples {
		o := outcome{ok: true, latency: time.Duration(500+i) * time.Microsecond}
		switch i % 10 {
		case 7:
			o.degraded = "shed"
		case 8:
			o = outcome{status: 429, retryAfter: time.Second, latency: 200 * time.Microsecond}
		case 9:
			o = outcome{class: ClassTimeout, latency: time.Second}
		}
		samples[i] = sample{label: labels[i%len(labels)], key: i % len(keys), o: o}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		rec.aggregate(samples[n : n+1])
		n = (n + 1) % len(samples)
	}
}

// BenchmarkScanSSE reads a typical streamed answer of 40 content chunks.
func BenchmarkScanSSE(b *testing.B) {
	var stream bytes.Buffer
	stream.WriteString(`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}` + "\n\n")
	for range 40 {
		stream.WriteString(`data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" word"}}]}` + "\n\n")
	}
	stream.WriteString("data: [DONE]\n\n")
	data := stream.Bytes()
	r := bytes.NewReader(data)
	br := bufio.NewReaderSize(r, 4096)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(data)
		br.Reset(r)
		if end, _ := scanSSE(br, func() {}); end != sseDone {
			b.Fatal("stream not done")
		}
	}
}
