package admission

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Fatal("a second Metrics on the same registry registered")
	}
	clock := newFakeClock()
	q, err := New(Config{MaxConcurrent: 1, MaxQueue: 1, Clock: clock, Observer: m})
	if err != nil {
		t.Fatal(err)
	}
	c := newCrowd(t, q, clock)

	release := mustAdmit(t, q, Ticket{Tier: "vip", Priority: 100})
	c.admit(t.Context(), "std", Ticket{Tier: "standard", Priority: 50, MaxWait: time.Second})
	if got := testutil.ToFloat64(m.length); got != 1 {
		t.Fatalf("queue_length = %v, want 1", got)
	}
	c.admit(t.Context(), "free", Ticket{Tier: "free", Priority: 10}) // queue full: shed
	wantReject(t, c.next().err, ErrShed)
	clock.Advance(250 * time.Millisecond)
	release()
	r := c.next()
	if r.err != nil {
		t.Fatal(r.err)
	}
	mustAdmitErr := func(tk Ticket) {
		if _, err := q.Admit(t.Context(), tk); err == nil {
			t.Fatalf("%+v admitted", tk)
		}
	}
	mustAdmitErr(Ticket{MaxWait: -1}) // no tier: "none", expired at once
	r.release()

	want := `
# HELP floodgate_admission_max_concurrent Requests the node runs at once; more wait in the admission queue.
# TYPE floodgate_admission_max_concurrent gauge
floodgate_admission_max_concurrent 1
# HELP floodgate_admission_queue_length Requests waiting in the admission queue.
# TYPE floodgate_admission_queue_length gauge
floodgate_admission_queue_length 0
# HELP floodgate_admission_running Requests admitted and not yet finished.
# TYPE floodgate_admission_running gauge
floodgate_admission_running 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"floodgate_admission_max_concurrent", "floodgate_admission_queue_length", "floodgate_admission_running"); err != nil {
		t.Fatal(err)
	}
	counts := map[[2]string]float64{
		{"vip", OutcomeAdmitted}:      1,
		{"standard", OutcomeAdmitted}: 1,
		{"free", OutcomeShed}:         1,
		{NoTier, OutcomeExpired}:      1,
		{"vip", OutcomeShed}:          0,
	}
	for k, want := range counts {
		if got := testutil.ToFloat64(m.requests.WithLabelValues(k[0], k[1])); got != want {
			t.Errorf("requests_total{tier=%q,outcome=%q} = %v, want %v", k[0], k[1], got, want)
		}
	}
	// The standard request waited 250 ms: its observation lands in the
	// bucket holding 0.25 s, the others in the first.
	if got := histogramSum(t, reg, "standard", OutcomeAdmitted); got != 0.25 {
		t.Errorf("wait of standard = %v s, want 0.25", got)
	}
	if got := histogramSum(t, reg, "vip", OutcomeAdmitted); got != 0 {
		t.Errorf("wait of vip = %v s, want 0", got)
	}
}

// histogramSum is the sum of the wait histogram of tier and outcome.
func histogramSum(t *testing.T, reg *prometheus.Registry, tier, outcome string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "floodgate_admission_wait_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["tier"] == tier && labels["outcome"] == outcome {
				return m.GetHistogram().GetSampleSum()
			}
		}
	}
	t.Fatalf("no wait histogram for %s/%s", tier, outcome)
	return 0
}

func TestMetricsBoundedTiers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// Without a queue the gauges read 0.
	if got := m.stat(func(s Stats) int { return s.MaxConcurrent }); got != 0 {
		t.Fatalf("max_concurrent without a queue = %v", got)
	}
	for i := range 3 * MaxTiers {
		m.Admission(fmt.Sprintf("tier%d", i), OutcomeAdmitted, 0)
	}
	m.Admission("tier0", OutcomeShed, time.Second)
	m.Admission("tier0", "bogus", time.Second) // not an outcome: ignored
	tiers := map[string]bool{}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "floodgate_admission_requests_total" {
			continue
		}
		for _, mm := range f.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "tier" {
					tiers[l.GetValue()] = true
				}
				if l.GetName() == "outcome" && l.GetValue() == "bogus" {
					t.Error("bogus outcome exported")
				}
			}
		}
	}
	if len(tiers) != MaxTiers+1 || !tiers[OtherTier] {
		t.Fatalf("%d tier label values (other: %v), want %d", len(tiers), tiers[OtherTier], MaxTiers+1)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues(OtherTier, OutcomeAdmitted)); got != 2*MaxTiers {
		t.Fatalf("other admitted = %v, want %d", got, 2*MaxTiers)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("tier0", OutcomeShed)); got != 1 {
		t.Fatalf("tier0 shed = %v, want 1", got)
	}
}
