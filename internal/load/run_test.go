package load

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// quick is the base of most tests: short, with a timeline entry every 50ms.
func quick(target string) Config {
	return Config{Target: target, Duration: 200 * time.Millisecond, Interval: 50 * time.Millisecond, Concurrency: 4}
}

func TestClosedLoopCountsMatchServer(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	rep, err := Run(context.Background(), quick(up.target()))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	if rep.Requests == 0 || rep.Requests != up.count.Load() || rep.OK != rep.Requests {
		t.Fatalf("requests %d ok %d, server saw %d", rep.Requests, rep.OK, up.count.Load())
	}
	if rep.Mode != "closed" || rep.Concurrency != 4 || rep.Duration != 0.2 {
		t.Errorf("mode %q concurrency %d duration %v", rep.Mode, rep.Concurrency, rep.Duration)
	}
	if len(rep.Timeline) == 0 {
		t.Error("timeline is empty")
	}
	if want := float64(rep.OK) / 0.2; math.Abs(rep.Throughput-want) > 1e-6 {
		t.Errorf("throughput %v, want %v", rep.Throughput, want)
	}
}

func TestOpenLoopIssuesRateTimesDuration(t *testing.T) {
	t.Parallel()
	// fast is a clock running ten times faster than the real one: the same
	// schedule in a tenth of the time.
	base := time.Now()
	fast := func() time.Time { return base.Add(10 * time.Since(base)) }
	tests := []struct {
		name       string
		give       Config
		wantServer int64
		wantReport int64
	}{
		{"real clock", Config{Rate: 200, Duration: 300 * time.Millisecond}, 60, 60},
		{"fast clock", Config{Rate: 100, Duration: 5 * time.Second, Now: fast}, 500, 500},
		{"warmup not recorded", Config{Rate: 200, Warmup: 100 * time.Millisecond, Duration: 200 * time.Millisecond}, 60, 40},
		{"fractional rate", Config{Rate: 33.3, Duration: 300 * time.Millisecond}, 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up := newUpstream(t, nil)
			cfg := tt.give
			cfg.Target = up.target()
			cfg.Interval = 50 * time.Millisecond
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, rep)
			if up.count.Load() != tt.wantServer || rep.Requests != tt.wantReport || rep.OK != tt.wantReport {
				t.Errorf("server %d, report requests %d ok %d; want %d, %d", up.count.Load(), rep.Requests, rep.OK, tt.wantServer, tt.wantReport)
			}
			if rep.Mode != "open" || rep.Duration.Duration() != cfg.Duration || rep.Dropped != 0 {
				t.Errorf("mode %q duration %v dropped %d", rep.Mode, rep.Duration, rep.Dropped)
			}
		})
	}
}

// TestOpenLoopLatencyFromSchedule makes the clock jump: the starts it skips
// over are sent late, at once, and their latency must include the delay,
// although the server answers at once.
func TestOpenLoopLatencyFromSchedule(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	base := time.Now()
	var calls atomic.Int64
	jumpy := func() time.Time {
		d := time.Since(base)
		if calls.Add(1) > 10 {
			d += 200 * time.Millisecond
		}
		return base.Add(d)
	}
	cfg := Config{Target: up.target(), Rate: 100, Duration: 400 * time.Millisecond, Now: jumpy, Interval: 50 * time.Millisecond}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	if rep.OK != 40 {
		t.Fatalf("ok %d, want 40", rep.OK)
	}
	// A busy machine can make every start late, so only the skipped ones
	// are sure to be.
	if rep.Latency.Max < 150 {
		t.Errorf("max latency %.3fms, want ≥ 150ms: starts the clock skipped were sent late", rep.Latency.Max)
	}
}

func TestErrorsByStatus(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		switch {
		case n%5 == 0:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"error":{"message":"down","type":"service_unavailable"}}`))
		case n%7 == 0:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			answerOK(w, r, n)
		}
	})
	cfg := quick(up.target())
	cfg.Rate, cfg.Duration = 200, 250*time.Millisecond
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	// Of requests 1..50, 10 are multiples of 5 and 6 others multiples of 7.
	want := map[string]int64{"503": 10, "429": 6}
	if rep.Requests != 50 || rep.OK != 34 || !equalCounts(rep.Errors, want) {
		t.Errorf("requests %d ok %d errors %v; want 50, 34, %v", rep.Requests, rep.OK, rep.Errors, want)
	}
}

func equalCounts(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestErrorsByClass(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    func(http.ResponseWriter, *http.Request, int64)
		target  string // overrides the server when set
		timeout time.Duration
		want    string
	}{
		{
			name: "connection closed without answer",
			give: hijack(func(net.Conn, *bufio.ReadWriter) {}),
			want: ClassReset,
		},
		{
			name: "connection closed mid body",
			give: hijack(func(c net.Conn, rw *bufio.ReadWriter) {
				_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{\"choices\":")
				_ = rw.Flush()
			}),
			want: ClassReset,
		},
		{name: "nothing listening", target: "http://" + closedPort(t) + "/v1", want: ClassConnect},
		{name: "too slow", give: sleepThenOK(300 * time.Millisecond), timeout: 20 * time.Millisecond, want: ClassTimeout},
		{
			name: "not a completion",
			give: func(w http.ResponseWriter, _ *http.Request, _ int64) {
				_, _ = w.Write([]byte(`{"object":"list","data":[]}`))
			},
			want: ClassBadResponse,
		},
		{
			name: "endless body",
			give: func(w http.ResponseWriter, r *http.Request, _ int64) {
				chunk := bytes.Repeat([]byte(`"choices"`), 4096)
				for i := 0; i < 1000 && r.Context().Err() == nil; i++ {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			},
			want: ClassBadResponse,
		},
		{
			name: "not HTTP",
			give: hijack(func(c net.Conn, rw *bufio.ReadWriter) {
				_, _ = rw.WriteString("SSH-2.0-OpenSSH_9.6\r\n\r\n")
				_ = rw.Flush()
			}),
			want: ClassBadResponse,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			target := tt.target
			if target == "" {
				target = newUpstream(t, tt.give).target()
			}
			cfg := quick(target)
			cfg.Rate, cfg.Duration, cfg.Timeout = 100, 50*time.Millisecond, tt.timeout
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, rep)
			if want := map[string]int64{tt.want: 5}; rep.OK != 0 || !equalCounts(rep.Errors, want) {
				t.Errorf("ok %d errors %v, want 0, %v", rep.OK, rep.Errors, want)
			}
		})
	}
}

func TestStreams(t *testing.T) {
	t.Parallel()
	const done = "data: [DONE]\n\n"
	tests := []struct {
		name     string
		give     func(http.ResponseWriter, *http.Request, int64)
		wantOK   bool
		wantTTFT float64 // ms, lower bound when wantOK
	}{
		{name: "complete", give: sse(5*time.Millisecond, done), wantOK: true, wantTTFT: 5},
		{name: "no done", give: sse(0, ""), wantOK: false},
		{name: "error event", give: sse(0, `data: {"error":{"message":"upstream died","type":"server_error"}}`+"\n\n"+done), wantOK: false},
		{name: "named error event", give: sse(0, "event: error\ndata: {\"message\":\"x\"}\n\n"), wantOK: false},
		{name: "cut mid stream", give: hijack(func(c net.Conn, rw *bufio.ReadWriter) {
			_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
			_, _ = rw.WriteString("1f\r\ndata: {\"delta\":{\"content\":\"Hi\"}}\n\n\r\n")
			_ = rw.Flush()
		}), wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var streamed atomic.Int64
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
				var req llm.Request
				if json.NewDecoder(r.Body).Decode(&req) == nil && req.Stream && req.WantsUsageChunk() {
					streamed.Add(1)
				}
				tt.give(w, r, n)
			})
			cfg := quick(up.target())
			cfg.Rate, cfg.Duration, cfg.Stream = 100, 50*time.Millisecond, true
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkInvariants(t, rep)
			if streamed.Load() != 5 {
				t.Errorf("server saw %d stream requests asking for usage, want 5", streamed.Load())
			}
			if rep.TTFT == nil {
				t.Fatal("TTFT is nil for a stream run")
			}
			if !tt.wantOK {
				if want := map[string]int64{ClassStreamError: 5}; rep.OK != 0 || !equalCounts(rep.Errors, want) {
					t.Errorf("ok %d errors %v, want 0, %v", rep.OK, rep.Errors, want)
				}
				return
			}
			if rep.OK != 5 || rep.TTFT.Count != 5 {
				t.Fatalf("ok %d ttft count %d, want 5, 5 (errors %v)", rep.OK, rep.TTFT.Count, rep.Errors)
			}
			if rep.TTFT.P50 < tt.wantTTFT || rep.TTFT.Max > rep.Latency.Max {
				t.Errorf("ttft p50 %.3fms max %.3fms, latency max %.3fms; want ttft ≥ %vms and ≤ latency",
					rep.TTFT.P50, rep.TTFT.Max, rep.Latency.Max, tt.wantTTFT)
			}
		})
	}
}

// TestMaxInFlightDrops holds every answer until the scheduler has decided
// all 40 starts: 5 are sent, 35 dropped, however slowly the machine runs.
func TestMaxInFlightDrops(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		<-release
		answerOK(w, r, n)
	})
	cfg := quick(up.target())
	cfg.Rate, cfg.Duration, cfg.MaxInFlight = 200, 200*time.Millisecond, 5
	r, err := newRun(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.transport.CloseIdleConnections()
	var wg sync.WaitGroup
	wg.Go(func() {
		for r.rec.sent.Load()+r.rec.dropped.Load() < 40 {
			time.Sleep(time.Millisecond)
		}
		close(release)
	})
	rep := r.run(context.Background())
	wg.Wait()
	checkInvariants(t, rep)
	if rep.Requests != 5 || rep.OK != 5 || rep.Dropped != 35 || up.count.Load() != 5 {
		t.Errorf("requests %d ok %d dropped %d server %d; want 5, 5, 35, 5", rep.Requests, rep.OK, rep.Dropped, up.count.Load())
	}
}

func TestPercentilesSane(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, sleepThenOK(2*time.Millisecond))
	rep, err := Run(context.Background(), quick(up.target()))
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	p := rep.Latency
	if p.P50 < 2 || p.Mean < 2 || p.StdDev < 0 {
		t.Errorf("latency %+v, want p50 and mean ≥ 2ms", p)
	}
	if rep.TTFT != nil {
		t.Error("TTFT set for a non-stream run")
	}
	for _, s := range rep.Timeline[:len(rep.Timeline)-1] {
		if s.OK > 0 && s.P50 < 2 {
			t.Errorf("timeline entry %+v has p50 < 2ms", s)
		}
	}
}

// TestCancelReturnsPartialReport cancels the run once the server holds a
// request, which it then never answers.
func TestCancelReturnsPartialReport(t *testing.T) {
	t.Parallel()
	for _, rate := range []float64{0, 50} {
		ctx, cancel := context.WithCancel(context.Background())
		var once sync.Once
		var canceledAt atomic.Int64
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
			once.Do(func() {
				canceledAt.Store(time.Now().UnixNano())
				cancel()
			})
			<-r.Context().Done()
		})
		cfg := quick(up.target())
		cfg.Rate, cfg.Duration = rate, 10*time.Second
		rep, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(time.Unix(0, canceledAt.Load())); took > 3*time.Second {
			t.Errorf("rate %v: Run returned %v after the cancel", rate, took)
		}
		checkInvariants(t, rep)
		if !rep.Interrupted || rep.Canceled == 0 || rep.Canceled != rep.Requests || rep.Duration >= 10 {
			t.Errorf("rate %v: interrupted %v canceled %d requests %d duration %v", rate, rep.Interrupted, rep.Canceled, rep.Requests, rep.Duration)
		}
		cancel()
	}
}

// TestCompare runs on a clock that moves only when read, 1ms a reading,
// and that the slow target moves 200ms further on each request: the added
// latency is then the same however busy the machine is.
func TestCompare(t *testing.T) {
	t.Parallel()
	base := time.Now()
	var ticks, skew atomic.Int64
	clock := func() time.Time {
		return base.Add(time.Duration(ticks.Add(1))*time.Millisecond + time.Duration(skew.Load()))
	}
	direct := newUpstream(t, nil)
	slow := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		skew.Add(int64(200 * time.Millisecond))
		answerOK(w, r, n)
	})
	cfg := quick(slow.target())
	cfg.Concurrency, cfg.Duration, cfg.Now = 1, 500*time.Millisecond, clock
	c, err := Compare(context.Background(), cfg, direct.target())
	if err != nil {
		t.Fatal(err)
	}
	if c.Baseline == nil || c.Target == nil {
		t.Fatalf("baseline %v target %v", c.Baseline, c.Target)
	}
	checkInvariants(t, c.Baseline)
	checkInvariants(t, c.Target)
	if c.Baseline.Target != direct.target() || c.Target.Target != slow.target() {
		t.Errorf("targets %q, %q", c.Baseline.Target, c.Target.Target)
	}
	if c.Baseline.Requests != direct.count.Load() || c.Target.Requests != slow.count.Load() || c.Target.OK == 0 {
		t.Errorf("reports count %d and %d, servers saw %d and %d",
			c.Baseline.Requests, c.Target.Requests, direct.count.Load(), slow.count.Load())
	}
	if c.Added.P50 < 150 || c.Added.P90 < 0 || c.Added.P99 < 0 || c.Added.P999 < 0 {
		t.Errorf("added %+v, want about 200ms at p50 and non-negative", c.Added)
	}
	if s := c.Summary(); !strings.Contains(s, "added latency") {
		t.Errorf("summary lacks the added latency:\n%s", s)
	}
}

func TestCompareBadBaseline(t *testing.T) {
	t.Parallel()
	_, err := Compare(context.Background(), Config{Target: "http://127.0.0.1:1/v1"}, "ftp://x")
	if !errors.Is(err, ErrConfig) {
		t.Errorf("err = %v, want ErrConfig", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give Config
	}{
		{"no target", Config{}},
		{"not http", Config{Target: "ftp://example/v1"}},
		{"no host", Config{Target: "http:///v1"}},
		{"negative rate", Config{Target: "http://127.0.0.1:1/v1", Rate: -1}},
		{"NaN rate", Config{Target: "http://127.0.0.1:1/v1", Rate: math.NaN()}},
		{"negative duration", Config{Target: "http://127.0.0.1:1/v1", Duration: -time.Second}},
		{"negative concurrency", Config{Target: "http://127.0.0.1:1/v1", Concurrency: -1}},
		{"negative max in flight", Config{Target: "http://127.0.0.1:1/v1", MaxInFlight: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rep, err := Run(context.Background(), tt.give)
			if !errors.Is(err, ErrConfig) || rep != nil {
				t.Errorf("Run = %v, %v; want nil, ErrConfig", rep, err)
			}
		})
	}
}

func TestCustomScenario(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]int{}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		mu.Unlock()
		answerOK(w, r, n)
	})
	bodies := []Request{
		{Body: []byte(`{"model":"small","messages":[{"role":"user","content":"a"}]}`), Label: "a"},
		{Body: []byte(`{"model":"small","messages":[{"role":"user","content":"b"}]}`), Label: "b"},
	}
	cfg := quick(up.target())
	cfg.Rate, cfg.Duration = 100, 100*time.Millisecond
	cfg.Scenario = ScenarioFunc(func(_ int, seq uint64) Request { return bodies[seq%2] })
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	if seen[string(bodies[0].Body)] != 5 || seen[string(bodies[1].Body)] != 5 || len(seen) != 2 {
		t.Errorf("server saw %v", seen)
	}
	for _, l := range []string{"a", "b"} {
		if got := rep.Labels[l]; got.Requests != 5 || got.OK != 5 || got.Latency.Count != 5 || got.Wait.Count != 5 {
			t.Errorf("label %s: %+v, want 5 requests, 5 ok", l, got)
		}
	}
	if len(rep.Labels) != 2 {
		t.Errorf("labels %v, want a and b", rep.Labels)
	}
}

func TestHeadersAndProgress(t *testing.T) {
	t.Parallel()
	var bad atomic.Int64
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if r.Header.Get("Authorization") != "Bearer sk-test" || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("Accept-Encoding") != "" || r.ContentLength <= 0 {
			bad.Add(1)
		}
		answerOK(w, r, n)
	})
	var progress strings.Builder
	cfg := quick(up.target())
	cfg.APIKey, cfg.Progress = "sk-test", &progress
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if bad.Load() != 0 || rep.OK == 0 {
		t.Errorf("%d of %d requests had wrong headers", bad.Load(), rep.OK)
	}
	out := progress.String()
	if strings.Count(out, "\r") < 3 || !strings.HasSuffix(out, "\n") || !strings.Contains(out, "p99") {
		t.Errorf("progress output %q", out)
	}
}

func TestCompareInterruptedBaseline(t *testing.T) {
	t.Parallel()
	up := newUpstream(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := Compare(ctx, quick(up.target()), up.target())
	if err != nil {
		t.Fatal(err)
	}
	if c.Baseline == nil || !c.Baseline.Interrupted || c.Target != nil {
		t.Fatalf("baseline %+v target %+v", c.Baseline, c.Target)
	}
	var buf strings.Builder
	if err := c.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"target": null`) || !strings.Contains(c.Summary(), "target not run") {
		t.Errorf("JSON:\n%s\nsummary:\n%s", buf.String(), c.Summary())
	}
}

func TestPacerWaitUntil(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		give    time.Duration // from now
		ctx     context.Context
		wantErr bool
	}{
		{"past", -time.Second, context.Background(), false},
		{"fine", time.Millisecond, context.Background(), false},
		{"coarse then fine", 5 * time.Millisecond, context.Background(), false},
		{"canceled", time.Hour, canceled, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer()
			defer p.close()
			at := time.Now().Add(tt.give)
			err := p.waitUntil(tt.ctx, time.Now, at)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && time.Now().Before(at) {
				t.Errorf("returned %v early", time.Until(at))
			}
		})
	}
}
