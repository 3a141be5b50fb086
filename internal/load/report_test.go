package load

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sampleReport() *Report {
	return &Report{
		Target: "http://127.0.0.1:8080/v1", Mode: "open", Rate: 1000, Concurrency: 50, Stream: true,
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Duration: 10, Requests: 10000, OK: 9990, Degraded: 40, Dropped: 3,
		Errors:     map[string]int64{"429": 7, ClassTimeout: 3},
		Throughput: 999,
		Latency:    Percentiles{Count: 9990, P50: 0.4, P90: 0.8, P95: 1, P99: 2, P999: 5, Max: 9, Mean: 0.5, StdDev: 0.2},
		TTFT:       &Percentiles{Count: 9990, P50: 0.2},
		Labels:     map[string]LabelStats{LabelProduct: {Requests: 10000, OK: 9990, Errors: map[string]int64{}}},
		Keys: map[string]LabelStats{
			"vip": {Weight: 0.1, Requests: 1000, OK: 1000, Errors: map[string]int64{}, Latency: Percentiles{Count: 1000, P50: 0.3, Max: 4}, Wait: Percentiles{Count: 1000, P50: 0.3, Max: 4}},
			"free": {
				Weight: 0.9, Requests: 9000, OK: 8990, Degraded: 40, DegradedReasons: map[string]int64{"shed": 30, "expired": 10},
				Rejected: 7, RetryAfter: &RetryAfterStats{Count: 6, Min: 1, Max: 2, Mean: 1.5}, RetryAfterMissing: 1,
				Timeouts: 3, Errors: map[string]int64{"429": 7, ClassTimeout: 3},
				Latency: Percentiles{Count: 8990, P50: 0.4, P90: 0.8, P99: 2, Max: 9},
				Wait:    Percentiles{Count: 9000, P50: 0.4, P90: 0.8, P99: 2.5, Max: 30000},
			},
		},
		Timeline: []Second{{At: 1, OK: 999, Degraded: 4, Errors: 1, P50: 0.4, P99: 2}},
	}
}

func TestReportJSONShape(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"target", "mode", "rate", "concurrency", "stream", "started", "duration_s",
		"requests", "ok", "degraded", "dropped", "errors", "throughput", "latency_ms", "ttft_ms", "labels", "keys", "timeline"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, buf.Bytes())
		}
	}
	lat := m["latency_ms"].(map[string]any)
	for _, k := range []string{"count", "p50", "p90", "p95", "p99", "p999", "max", "mean", "stddev"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("no latency_ms.%s", k)
		}
	}
	sec := m["timeline"].([]any)[0].(map[string]any)
	for _, k := range []string{"t", "ok", "errors", "p50", "p99"} {
		if _, ok := sec[k]; !ok {
			t.Errorf("no timeline[0].%s", k)
		}
	}
	if errs := m["errors"].(map[string]any); errs["429"] != 7.0 || errs["timeout"] != 3.0 {
		t.Errorf("errors %v", errs)
	}
	free := m["keys"].(map[string]any)["free"].(map[string]any)
	for _, k := range []string{"weight", "requests", "ok", "degraded", "degraded_reasons", "rejected", "retry_after",
		"retry_after_missing", "server_errors", "timeouts", "errors", "latency_ms", "wait_ms"} {
		if _, ok := free[k]; !ok {
			t.Errorf("no keys.free.%s", k)
		}
	}
	for _, k := range []string{"count", "min_s", "max_s", "mean_s"} {
		if _, ok := free["retry_after"].(map[string]any)[k]; !ok {
			t.Errorf("no keys.free.retry_after.%s", k)
		}
	}

	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sampleReport(), &back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestReportJSONOmitsTTFTAndKeepsEmptyCollections(t *testing.T) {
	t.Parallel()
	rec := newRecorder(1, false, nil)
	rep := &Report{}
	rec.fill(rep)
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if strings.Contains(s, "ttft_ms") || !strings.Contains(s, `"errors": {}`) || !strings.Contains(s, `"timeline": []`) {
		t.Errorf("JSON of an empty report:\n%s", s)
	}
}

func TestReportSummary(t *testing.T) {
	t.Parallel()
	s := sampleReport().Summary()
	for _, want := range []string{"http://127.0.0.1:8080/v1", "open loop, 1000 req/s", "stream", "ok 9990",
		"degraded 40", "dropped 3", "429: 7  timeout: 3", "latency", "ttft", "999.0 ok/s",
		"key        requests       ok degraded      429      5xx  timeout    other | wait ms       p50       p90       p99       max\n" +
			"free           9000     8990       40        7        0        3        0 |             0.400     0.800     2.500 30000.000\n" +
			"vip            1000     1000        0        0        0        0        0 |             0.300     0.000     0.000     4.000\n" +
			"label      requests       ok degraded",
		"product       10000     9990        0"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

func TestPercentilesOf(t *testing.T) {
	t.Parallel()
	h := newHist()
	for ms := int64(1); ms <= 1000; ms++ {
		_ = h.RecordValue(ms * 1000)
	}
	p := percentilesOf(h)
	near := func(got, want float64) bool { return math.Abs(got-want) <= want*0.001+0.001 }
	if p.Count != 1000 || !near(p.P50, 500) || !near(p.P90, 900) || !near(p.P99, 990) || !near(p.P999, 999) ||
		!near(p.Max, 1000) || !near(p.Mean, 500.5) {
		t.Errorf("percentiles of 1..1000ms: %+v", p)
	}
	if got := percentilesOf(newHist()); got != (Percentiles{}) {
		t.Errorf("empty histogram: %+v", got)
	}
	if micros(2*time.Minute) != histHighest || micros(0) != histLowest {
		t.Error("micros does not clamp to the histogram's range")
	}
}

func TestDistPercentiles(t *testing.T) {
	t.Parallel()
	d := dist{h: newHist()}
	for ms := 1; ms <= 1000; ms++ {
		d.record(time.Duration(ms) * time.Millisecond)
	}
	got, want := d.percentiles(), percentilesOf(d.h)
	near := func(a, b float64) bool { return math.Abs(a-b) <= b*0.001+0.001 }
	if got.Count != want.Count || got.P50 != want.P50 || got.P90 != want.P90 || got.P95 != want.P95 ||
		got.P99 != want.P99 || got.P999 != want.P999 || got.Max != want.Max ||
		!near(got.Mean, 500.5) || !near(got.StdDev, math.Sqrt((1000*1000-1)/12.0)) {
		t.Errorf("dist %+v, histogram %+v", got, want)
	}
	if (&dist{h: newHist()}).percentiles() != (Percentiles{}) {
		t.Error("empty dist has percentiles")
	}
}
