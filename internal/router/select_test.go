package router

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// TestSelectionPrefersFaster runs sequential requests against endpoints of
// different latencies (each call advances the fake clock by its latency):
// power-of-two-choices sends most traffic to the fastest and none to the
// slowest, which loses every pairing once all have data.
func TestSelectionPrefersFaster(t *testing.T) {
	clock := newClock(time.Now())
	lat := []time.Duration{10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}
	fakes := make([]*fakeClient, len(lat))
	clients := make([]Client, len(lat))
	for i, d := range lat {
		fakes[i] = &fakeClient{complete: func(context.Context, int64, *llm.Request) (*llm.Response, error) {
			clock.Advance(d)
			return okResponse("x"), nil
		}}
		clients[i] = fakes[i]
	}
	r, _ := newTestRouter(t, Config{Endpoints: endpoints(clients...)}, clock)
	for range 200 {
		if _, err := r.Complete(t.Context(), req("m")); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range r.Snapshot() {
		if st.Latency == 0 {
			t.Fatalf("route %s got no traffic while new", st.Endpoint)
		}
	}
	before := make([]int64, len(fakes))
	for i, f := range fakes {
		before[i] = f.calls.Load()
	}
	const n = 3000
	for range n {
		if _, err := r.Complete(t.Context(), req("m")); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]float64, len(fakes))
	for i, f := range fakes {
		got[i] = float64(f.calls.Load()-before[i]) / n
	}
	// Uniform pairs of 4: the fastest wins 1/2, then 1/3, 1/6, 0.
	want := []float64{1.0 / 2, 1.0 / 3, 1.0 / 6, 0}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 0.05 {
			t.Errorf("share of the %v endpoint = %.3f, want %.3f", lat[i], got[i], want[i])
		}
	}
}

// pickRouter returns a router over n endpoints of model "m" for calling
// pick directly.
func pickRouter(t *testing.T, clients ...Client) (*Router, *model) {
	t.Helper()
	r, _ := newTestRouter(t, Config{Endpoints: endpoints(clients...)}, newClock(time.Now()))
	return r, r.models["m"]
}

func TestPickScore(t *testing.T) {
	type side struct {
		lat      time.Duration // 0: no data
		inflight int64
		weight   float64
		errRate  bool // one recent failure
	}
	tests := []struct {
		name string
		a, b side
		want string
	}{
		{"faster", side{lat: 10 * time.Millisecond}, side{lat: 30 * time.Millisecond}, "a"},
		{"less loaded", side{lat: 10 * time.Millisecond, inflight: 5}, side{lat: 10 * time.Millisecond}, "b"},
		{"slower but idle", side{lat: 10 * time.Millisecond, inflight: 5}, side{lat: 30 * time.Millisecond}, "b"},
		{"heavier", side{lat: 10 * time.Millisecond, inflight: 2, weight: 4}, side{lat: 10 * time.Millisecond, inflight: 1}, "a"},
		{"new endpoint competes on load", side{lat: 10 * time.Millisecond, inflight: 1}, side{}, "b"},
		{"recent errors", side{lat: 10 * time.Millisecond, errRate: true}, side{lat: 20 * time.Millisecond}, "b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, m := pickRouter(t, &fakeClient{}, &fakeClient{})
			for i, s := range []side{tt.a, tt.b} {
				rt := m.routes[i]
				if s.lat > 0 {
					rt.stats.observeLatency(0, r.tau, s.lat, -1)
				}
				if s.weight > 0 {
					rt.weight, rt.invWeight = s.weight, 1/s.weight
				}
				if s.errRate {
					rt.stats.observeRates(0, r.tau, true, false)
				}
				rt.inflight.Store(s.inflight)
			}
			for range 50 {
				i, _ := r.pick(m, 0, nil, false)
				if got := m.routes[i].endpoint; got != tt.want {
					t.Fatalf("picked %s, want %s", got, tt.want)
				}
			}
		})
	}
}

// TestWeightsSplitLoad holds every picked request in flight: load spreads in
// proportion to the weights.
func TestWeightsSplitLoad(t *testing.T) {
	tests := []struct {
		name string
		give []float64
	}{
		{"1:3", []float64{1, 3}},
		{"1:1:2", []float64{1, 1, 2}},
		{"8 routes", []float64{1, 1, 1, 1, 2, 2, 4, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clients := make([]Client, len(tt.give))
			for i := range clients {
				clients[i] = &fakeClient{}
			}
			r, m := pickRouter(t, clients...)
			var total float64
			for i, w := range tt.give {
				m.routes[i].weight, m.routes[i].invWeight = w, 1/w
				total += w
			}
			const n = 800
			for range n {
				i, _ := r.pick(m, 0, nil, false)
				m.routes[i].begin()
			}
			for i, w := range tt.give {
				got, want := float64(m.routes[i].inflight.Load()), n*w/total
				if math.Abs(got-want) > 0.1*want+2 {
					t.Errorf("route %d (weight %v) holds %v in flight, want about %v", i, w, got, want)
				}
			}
		})
	}
}

func TestPickSkipsTriedAndEjected(t *testing.T) {
	r, m := pickRouter(t, &fakeClient{}, &fakeClient{}, &fakeClient{})
	m.routes[0].ejectedUntil.Store(int64(time.Hour))
	for range 50 {
		if i, _ := r.pick(m, 0, []int32{1}, false); i != 2 {
			t.Fatalf("picked %d, want 2: 0 is ejected and 1 tried", i)
		}
	}
	// Nothing eligible: panic mode still answers with an untried route.
	if i, l := r.pick(m, 0, []int32{1, 2}, false); i != 0 || !l.ejected || l.probe {
		t.Fatalf("panic pick = %d %+v, want 0 as ejected", i, l)
	}
}

func TestHeadroomRaisesScore(t *testing.T) {
	tests := []struct {
		name      string
		remaining int64
		limitB    bool // b is rate-limited
		want      string
	}{
		{"no headroom", 0, false, "b"},
		{"low headroom", 4, false, "b"},
		{"plenty", 1000, false, "either"},
		{"no headroom but the only eligible", 0, true, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &headroomClient{}
			a.remaining.Store(tt.remaining)
			r, m := pickRouter(t, a, &fakeClient{})
			if tt.limitB {
				m.routes[1].rateLimitedUntil.Store(int64(time.Hour))
			}
			seen := map[string]int{}
			for range 100 {
				i, _ := r.pick(m, 0, nil, false)
				seen[m.routes[i].endpoint]++
			}
			if tt.want == "either" {
				if seen["a"] == 0 || seen["b"] == 0 {
					t.Errorf("picks %v, want both", seen)
				}
				return
			}
			if seen[tt.want] != 100 {
				t.Errorf("picks %v, want all %s", seen, tt.want)
			}
			if st := status(r, "a"); !st.HeadroomKnown || st.Headroom != tt.remaining {
				t.Errorf("snapshot headroom %d known %v", st.Headroom, st.HeadroomKnown)
			}
		})
	}
}

func TestEWMADecay(t *testing.T) {
	half := int64(10 * time.Second)
	tau := float64(half) / math.Ln2
	var s stats
	s.lat.Store(noData)
	s.ttft.Store(noData)
	tests := []struct {
		name string
		do   func()
		get  func() float64
		want float64
	}{
		{"first sample taken as is", func() { s.observeLatency(0, tau, 100*time.Millisecond, -1) }, func() float64 { return math.Float64frombits(s.lat.Load()) }, float64(100 * time.Millisecond)},
		{"half-life later, halfway", func() { s.observeLatency(half, tau, 200*time.Millisecond, -1) }, func() float64 { return math.Float64frombits(s.lat.Load()) }, float64(150 * time.Millisecond)},
		{"ttft apart from total", func() { s.observeLatency(half, tau, -1, 5*time.Millisecond) }, func() float64 { return math.Float64frombits(s.ttft.Load()) }, float64(5 * time.Millisecond)},
		{"a failure", func() { s.observeRates(0, tau, true, false) }, func() float64 { e, _ := s.rates(0, tau); return e }, 1},
		{"fades without samples", func() {}, func() float64 { e, _ := s.rates(half, tau); return e }, 0.5},
		{"a success a half-life on", func() { s.observeRates(half, tau, false, false) }, func() float64 { e, _ := s.rates(half, tau); return e }, 0.5},
		{"a 429", func() { s.observeRates(2*half, tau, false, true) }, func() float64 { _, l := s.rates(2*half, tau); return l }, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.do()
			if got := tt.get(); math.Abs(got-tt.want) > 1e-9*math.Max(1, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRetryBudgetWindow(t *testing.T) {
	var rb retryBudget
	rb.init(RetryBudget{Ratio: 0.5, MinPerSecond: 0.2, Window: 10 * time.Second}) // 2 + 0.5×requests
	sec := int64(time.Second)
	tests := []struct {
		name string
		reqs int
		at   int64
		want []bool
	}{
		{"floor alone", 0, 0, []bool{true, true, false}},
		{"ratio adds", 4, sec, []bool{true, true, false}},
		{"still in window", 0, 9 * sec, []bool{false}},
		{"first bucket slid out", 0, 10 * sec, []bool{true, true, false}},
		{"all slid out", 0, 30 * sec, []bool{true, true, false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range tt.reqs {
				rb.request(tt.at)
			}
			for i, want := range tt.want {
				if got := rb.retry(tt.at); got != want {
					t.Errorf("retry %d = %v, want %v", i, got, want)
				}
			}
		})
	}
}
