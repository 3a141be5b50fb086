package load

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// tally is what a test server did, per label, in a report's terms: the
// expected LabelStats counts and the latencies it imposed.
type tally struct {
	stats LabelStats
	ok    []time.Duration // imposed on OK answers
	wait  []time.Duration // imposed on every request
	retry []time.Duration // Retry-After sent with 429s
}

func (t *tally) add(kind string, d time.Duration, retry time.Duration) {
	s := &t.stats
	s.Requests++
	t.wait = append(t.wait, d)
	count := func(k string) { s.Errors[k]++ }
	switch kind {
	case "ok":
		s.OK++
		t.ok = append(t.ok, d)
	case "shed", "expired", ReasonRunStatus:
		s.OK++
		s.Degraded++
		if s.DegradedReasons == nil {
			s.DegradedReasons = map[string]int64{}
		}
		s.DegradedReasons[kind]++
		t.ok = append(t.ok, d)
	case "429":
		s.Rejected++
		count("429")
		if retry >= 0 {
			t.retry = append(t.retry, retry)
		} else {
			s.RetryAfterMissing++
		}
	case "503":
		s.ServerErrors++
		count("503")
	case ClassTimeout:
		s.Timeouts++
		count(ClassTimeout)
	case ClassRunFailed, ClassBadResponse:
		count(kind)
	default:
		panic(kind)
	}
}

// tallies are kept per key label and per scenario label.
type tallies struct {
	mu     sync.Mutex
	keys   map[string]*tally
	labels map[string]*tally
}

func newTallies() *tallies {
	return &tallies{keys: map[string]*tally{}, labels: map[string]*tally{}}
}

func (ts *tallies) add(key, label, kind string, d, retry time.Duration) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, x := range []struct {
		m    map[string]*tally
		name string
	}{{ts.keys, key}, {ts.labels, label}} {
		t := x.m[x.name]
		if t == nil {
			t = &tally{stats: LabelStats{Errors: map[string]int64{}}}
			x.m[x.name] = t
		}
		t.add(kind, d, retry)
	}
}

// exactPercentile is the percentile of ds, in ms, at the rank the HDR
// histogram takes: p/100 × n rounded half up, within 1..n.
func exactPercentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := min(max(int(p/100*float64(len(s))+0.5), 1), len(s))
	return float64(s[rank-1]) / float64(time.Millisecond)
}

// checkPercentiles compares a report's percentiles with those of the
// latencies the server imposed, which the client measured plus a few
// clock readings of 1µs each: within the histogram's 0.1 % and 0.1ms.
func checkPercentiles(t *testing.T, what string, got Percentiles, want []time.Duration) {
	t.Helper()
	if got.Count != int64(len(want)) {
		t.Errorf("%s: count %d, want %d", what, got.Count, len(want))
		return
	}
	for _, q := range []struct {
		name string
		p    float64
		got  float64
	}{{"p50", 50, got.P50}, {"p90", 90, got.P90}, {"p99", 99, got.P99}, {"max", 100, got.Max}} {
		w := exactPercentile(want, q.p)
		if math.Abs(q.got-w) > w*0.001+0.1 {
			t.Errorf("%s: %s %.3fms, want %.3fms", what, q.name, q.got, w)
		}
	}
}

// checkTally compares a report's LabelStats with what the server did.
func checkTally(t *testing.T, what string, got LabelStats, want *tally) {
	t.Helper()
	if want == nil {
		t.Errorf("%s: in the report, never seen by the server: %+v", what, got)
		return
	}
	counts := got
	counts.Weight, counts.Latency, counts.Wait, counts.RetryAfter = 0, Percentiles{}, Percentiles{}, nil
	if d := cmp.Diff(want.stats, counts); d != "" {
		t.Errorf("%s counts (-server +report):\n%s", what, d)
	}
	checkPercentiles(t, what+" latency", got.Latency, want.ok)
	checkPercentiles(t, what+" wait", got.Wait, want.wait)
	if len(want.retry) == 0 {
		if got.RetryAfter != nil {
			t.Errorf("%s: retry after %+v, want none", what, got.RetryAfter)
		}
		return
	}
	lo, hi := slices.Min(want.retry), slices.Max(want.retry)
	if got.RetryAfter == nil || got.RetryAfter.Count != int64(len(want.retry)) ||
		got.RetryAfter.Min.Duration() != lo || got.RetryAfter.Max.Duration() != hi {
		t.Errorf("%s: retry after %+v, want %d between %v and %v", what, got.RetryAfter, len(want.retry), lo, hi)
	}
}

// stepClock is a clock that moves 1µs each time it is read, plus whatever
// a test server adds: with one worker, the latency of each request is what
// the server imposed, however slowly the machine runs.
type stepClock struct {
	base        time.Time
	ticks, skew atomic.Int64
}

func newStepClock() *stepClock { return &stepClock{base: time.Now()} }

func (c *stepClock) now() time.Time {
	return c.base.Add(time.Duration(c.ticks.Add(1))*time.Microsecond + time.Duration(c.skew.Load()))
}

func (c *stepClock) advance(d time.Duration) { c.skew.Add(int64(d)) }

// seqScenario sends the sequence number as the user message, labelled a, b
// or c by its remainder.
var seqScenario = ScenarioFunc(func(_ int, seq uint64) Request {
	return Request{
		Body:  fmt.Appendf(nil, `{"model":"m","messages":[{"role":"user","content":"%d"}]}`, seq),
		Label: string(rune('a' + seq%3)),
	}
})

// seqOf reads the sequence number back from a seqScenario body.
func seqOf(t testing.TB, r *http.Request) uint64 {
	var req struct {
		Messages []struct{ Content string } `json:"messages"`
	}
	var seq uint64
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 1 {
		t.Errorf("body: %v", err)
		return 0
	}
	if _, err := fmt.Sscan(req.Messages[0].Content, &seq); err != nil {
		t.Errorf("seq: %v", err)
	}
	return seq
}

// TestTierBreakdown runs a tier mix against a server that answers each tier
// as an overloaded gateway would — VIP served, standard partly shed or
// rejected, free degraded, failing or timing out — and checks each key's
// and each scenario label's counts and percentiles against what the server
// did.
func TestTierBreakdown(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTallies()
	keyLabel := map[string]string{"Bearer fg-vip": "vip", "Bearer fg-std": "standard", "Bearer fg-free": "free"}
	const timeout = 2 * time.Second
	var timeouts atomic.Int64
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ int64) {
		seq := seqOf(t, r)
		key, ok := keyLabel[r.Header.Get("Authorization")]
		if !ok {
			t.Errorf("authorization %q", r.Header.Get("Authorization"))
			return
		}
		label := string(rune('a' + seq%3))
		answer := func(kind string, d, retry time.Duration) {
			clock.advance(d)
			ts.add(key, label, kind, d, retry)
		}
		switch {
		case key == "vip":
			answer("ok", time.Duration(10+seq%7)*time.Millisecond, 0)
			answerOK(w, r, 0)
		case key == "standard" && seq%4 == 0:
			answer("shed", 50*time.Millisecond, 0)
			w.Header().Set(HeaderDegraded, "shed")
			answerOK(w, r, 0)
		case key == "standard" && seq%4 == 1:
			answer("429", time.Duration(1+seq%3)*time.Millisecond, time.Duration(1+seq%2)*time.Second)
			w.Header().Set("Retry-After", fmt.Sprint(1+seq%2))
			w.WriteHeader(http.StatusTooManyRequests)
		case key == "standard":
			answer("ok", time.Duration(20+seq%11)*time.Millisecond, 0)
			answerOK(w, r, 0)
		case seq%5 == 0:
			answer("503", 5*time.Millisecond, 0)
			w.WriteHeader(http.StatusServiceUnavailable)
		case seq%5 == 1 && timeouts.Add(1) <= 3:
			// Past the timeout on the client's clock; the client's
			// watchdog then cuts the request.
			answer(ClassTimeout, timeout+time.Millisecond, 0)
			<-r.Context().Done()
		case seq%5 == 2:
			answer("429", time.Millisecond, -1)
			w.WriteHeader(http.StatusTooManyRequests)
		case seq%5 == 3:
			answer(ReasonRunStatus, 300*time.Millisecond, 0)
			w.Header().Set(HeaderRunStatus, "degraded")
			answerOK(w, r, 0)
		default:
			answer("expired", time.Duration(100+seq%13)*time.Millisecond, 0)
			w.Header().Set(HeaderDegraded, "expired")
			answerOK(w, r, 0)
		}
	})
	cfg := Config{
		Target: up.target(), Concurrency: 1, Duration: 20 * time.Second, Timeout: timeout,
		Now: clock.now, Scenario: seqScenario, Seed: 7, Interval: 50 * time.Millisecond,
		Keys: []Key{{"vip", "fg-vip", 0.1}, {"standard", "fg-std", 0.6}, {"free", "fg-free", 0.3}},
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	if rep.Requests < 200 || len(rep.Keys) != 3 || len(rep.Labels) != 3 {
		t.Fatalf("requests %d, keys %v, labels %v", rep.Requests, rep.Keys, rep.Labels)
	}
	for name, want := range ts.keys {
		checkTally(t, "key "+name, rep.Keys[name], want)
	}
	for name, want := range ts.labels {
		checkTally(t, "label "+name, rep.Labels[name], want)
	}
	for name, w := range map[string]float64{"vip": 0.1, "standard": 0.6, "free": 0.3} {
		if got := rep.Keys[name].Weight; math.Abs(got-w) > 1e-12 {
			t.Errorf("key %s weight %v, want %v", name, got, w)
		}
	}
	if got := rep.Keys["free"].Wait.Max; got < float64(timeout/time.Millisecond) {
		t.Errorf("free wait max %.3fms, want the timeouts' ≥ %v", got, timeout)
	}
	if rep.Errors[ClassTimeout] != 3 || rep.Keys["free"].Timeouts != 3 {
		t.Errorf("timeouts: report %d, free %d; want 3", rep.Errors[ClassTimeout], rep.Keys["free"].Timeouts)
	}

	var json strings.Builder
	if err := rep.WriteJSON(&json); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"keys"`, `"degraded_reasons"`, `"shed"`, `"retry_after"`, `"retry_after_missing"`,
		`"wait_ms"`, `"timeouts": 3`, `"rejected"`, `"server_errors"`} {
		if !strings.Contains(json.String(), want) {
			t.Errorf("JSON lacks %s", want)
		}
	}
	summary := rep.Summary()
	for _, want := range []string{"key ", "vip ", "standard ", "free ", "label ", "wait ms", "degraded", "timeout"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
}

// TestKeysSameSeedSameMix checks that two runs with one seed give each start
// the same key, and that the keys reach the server as Bearer tokens.
func TestKeysSameSeedSameMix(t *testing.T) {
	t.Parallel()
	run := func(seed int64) map[uint64]string {
		var mu sync.Mutex
		seen := map[uint64]string{}
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
			seq := seqOf(t, r)
			mu.Lock()
			seen[seq] = r.Header.Get("Authorization")
			mu.Unlock()
			answerOK(w, r, n)
		})
		cfg := quick(up.target())
		cfg.Rate, cfg.Duration, cfg.Seed, cfg.Scenario = 400, 100*time.Millisecond, seed, seqScenario
		cfg.Keys = []Key{{"a", "ka", 1}, {"b", "kb", 1}}
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, rep)
		if rep.Keys["a"].Requests+rep.Keys["b"].Requests != 40 || rep.Keys["a"].Requests == 0 || rep.Keys["b"].Requests == 0 {
			t.Errorf("keys %+v", rep.Keys)
		}
		return seen
	}
	first, again, other := run(3), run(3), run(4)
	if len(first) != 40 || !cmp.Equal(first, again) {
		t.Errorf("seed 3 twice: %v and %v", first, again)
	}
	if cmp.Equal(first, other) {
		t.Error("seeds 3 and 4 give the same keys")
	}
	for _, auth := range first {
		if auth != "Bearer ka" && auth != "Bearer kb" {
			t.Errorf("authorization %q", auth)
		}
	}
}

// TestAgentRunAPI drives the run API: the run status in the body tells a
// full, a degraded and a failed run apart.
func TestAgentRunAPI(t *testing.T) {
	t.Parallel()
	clock := newStepClock()
	ts := newTallies()
	var inputs atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.EscapedPath() != "/v1/agents/shop%20bot/runs" {
			t.Errorf("%s %q", r.Method, r.URL.EscapedPath())
		}
		var body struct {
			Input string `json:"input"`
		}
		b, _ := io.ReadAll(r.Body)
		if json.Unmarshal(b, &body) == nil && body.Input != "" && !strings.Contains(string(b), "messages") {
			inputs.Add(1)
		}
		n := inputs.Load()
		w.Header().Set("Content-Type", "application/json")
		switch n % 4 {
		case 0:
			clock.advance(30 * time.Millisecond)
			ts.add("", "", ReasonRunStatus, 30*time.Millisecond, 0)
			_, _ = io.WriteString(w, `{"run_id":"r","session_id":"s","output":"Sorry, busy.","status":"degraded","tool_calls":[]}`)
		case 1:
			clock.advance(10 * time.Millisecond)
			ts.add("", "", ClassRunFailed, 10*time.Millisecond, 0)
			_, _ = io.WriteString(w, `{"run_id":"r","status":"failed","error":{"message":"m","type":"server_error"}}`)
		case 2:
			clock.advance(time.Millisecond)
			ts.add("", "", ClassBadResponse, time.Millisecond, 0)
			_, _ = io.WriteString(w, `{"status":"completed"}`)
		default:
			clock.advance(80 * time.Millisecond)
			ts.add("", "", "ok", 80*time.Millisecond, 0)
			_, _ = io.WriteString(w, `{"run_id":"r","output":"Shipped.","status":"completed","tool_calls":[{"id":"c","name":"n","outcome":"ok"}]}`)
		}
	}))
	t.Cleanup(srv.Close)
	// One key gathers every run under one label, whatever the prompts'.
	cfg := Config{
		Target: srv.URL + "/v1", Agent: "shop bot", Concurrency: 1, Duration: 5 * time.Second, Now: clock.now,
		Interval: 50 * time.Millisecond, Keys: []Key{{"all", "k", 1}},
	}
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	if inputs.Load() != rep.Requests || rep.Requests < 40 {
		t.Errorf("server saw %d run bodies, report %d requests", inputs.Load(), rep.Requests)
	}
	want := ts.labels[""]
	checkTally(t, "runs", rep.Keys["all"], want)
	if rep.Degraded != want.stats.Degraded || len(rep.Labels) < 3 {
		t.Errorf("degraded %d, want %d; labels %v", rep.Degraded, want.stats.Degraded, rep.Labels)
	}
}

func TestLabelsCapped(t *testing.T) {
	t.Parallel()
	rec := newRecorder(1, false, nil)
	s := rec.shard(0)
	for i := range maxLabels + 10 {
		o := outcome{ok: true, latency: time.Millisecond, degraded: fmt.Sprint("reason-", i)}
		s.record(fmt.Sprint("label-", i), -1, &o)
		s.record("many-reasons", -1, &o)
	}
	rep := &Report{}
	rec.fill(rep)
	if len(rep.Labels) != maxLabels+1 || rep.Labels[LabelOther].Requests != 11 {
		t.Errorf("%d labels, other %+v; want %d, 11 requests", len(rep.Labels), rep.Labels[LabelOther], maxLabels+1)
	}
	r := rep.Labels["many-reasons"].DegradedReasons
	if len(r) != maxReasons+1 || r[LabelOther] != int64(maxLabels+10-maxReasons) {
		t.Errorf("%d reasons, other %d", len(r), r[LabelOther])
	}
	if rep.Degraded != 2*(maxLabels+10) {
		t.Errorf("degraded %d", rep.Degraded)
	}
}

// TestStreamDegraded marks streamed answers degraded by their header alone:
// a stream's body is not searched for a run status.
func TestStreamDegraded(t *testing.T) {
	t.Parallel()
	stream := sse(0, "data: [DONE]\n\n")
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n%2 == 0 {
			w.Header().Set(HeaderDegraded, "budget")
		}
		stream(w, r, n)
	})
	cfg := quick(up.target())
	cfg.Rate, cfg.Duration, cfg.Stream = 100, 100*time.Millisecond, true
	cfg.Scenario = ScenarioFunc(func(_ int, _ uint64) Request {
		return Request{Body: []byte(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`), Label: "s"}
	})
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, rep)
	s := rep.Labels["s"]
	if rep.OK != 10 || rep.Degraded != 5 || s.Degraded != 5 || s.DegradedReasons["budget"] != 5 {
		t.Errorf("ok %d degraded %d, label %+v; want 10 ok, 5 degraded for budget", rep.OK, rep.Degraded, s)
	}
}
