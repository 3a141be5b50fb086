package ratelimit

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Observer receives what a Limiter decides. Metrics implements it; so may
// internal/monitor. Methods are called on the request path and must be
// quick and safe for concurrent use.
type Observer interface {
	// Fallback is called with down true and Redis's error when a Limiter
	// starts deciding locally, and with down false and nil when Redis
	// answers again.
	Fallback(down bool, err error)
	// Decided is called once per Allow that consulted a limit.
	Decided(mode Mode, allowed bool)
	// SpendChecked is called once per ReserveSpend.
	SpendChecked(mode Mode, state SpendState)
}

type nopObserver struct{}

func (nopObserver) Fallback(bool, error)          {}
func (nopObserver) Decided(Mode, bool)            {}
func (nopObserver) SpendChecked(Mode, SpendState) {}

// Metrics is an Observer on Prometheus metrics:
//
//	floodgate_ratelimit_decisions_total{mode="memory"|"redis"|"local",result="allowed"|"denied"}
//	floodgate_ratelimit_spend_checks_total{mode,state="ok"|"soft"|"hard"}
//	floodgate_ratelimit_fallback_active  (1 while deciding locally)
//	floodgate_ratelimit_fallbacks_total  (outages begun)
//
// Every label set is fixed, so there is no per-tenant cardinality. Safe
// for concurrent use; create it with NewMetrics.
type Metrics struct {
	decisions [3][2]prometheus.Counter // [mode][allowed]
	spend     [3][3]prometheus.Counter // [mode][state]
	active    prometheus.Gauge
	fallbacks prometheus.Counter
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floodgate", Subsystem: "ratelimit", Name: "decisions_total",
		Help: "Rate-limit decisions by where they were made (memory: no Redis; redis: cluster-wide; local: Redis unreachable) and result.",
	}, []string{"mode", "result"})
	spend := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floodgate", Subsystem: "ratelimit", Name: "spend_checks_total",
		Help: "Spend-budget checks by where they were made and state (ok, soft: downgrade, hard: refused).",
	}, []string{"mode", "state"})
	m := &Metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "floodgate", Subsystem: "ratelimit", Name: "fallback_active",
			Help: "1 while Redis is unreachable and limits and budgets are enforced per node.",
		}),
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "floodgate", Subsystem: "ratelimit", Name: "fallbacks_total",
			Help: "Times Redis became unreachable and the limiter fell back to per-node limits.",
		}),
	}
	for _, c := range []prometheus.Collector{decisions, spend, m.active, m.fallbacks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ratelimit: register metrics: %w", err)
		}
	}
	for mode := range m.decisions {
		mo := Mode(mode).String()
		m.decisions[mode][0] = decisions.WithLabelValues(mo, "denied")
		m.decisions[mode][1] = decisions.WithLabelValues(mo, "allowed")
		for st := range m.spend[mode] {
			m.spend[mode][st] = spend.WithLabelValues(mo, SpendState(st).String())
		}
	}
	return m, nil
}

// Fallback implements Observer.
func (m *Metrics) Fallback(down bool, _ error) {
	if down {
		m.fallbacks.Inc()
		m.active.Set(1)
		return
	}
	m.active.Set(0)
}

// Decided implements Observer.
func (m *Metrics) Decided(mode Mode, allowed bool) {
	i := 0
	if allowed {
		i = 1
	}
	if int(mode) < len(m.decisions) {
		m.decisions[mode][i].Inc()
	}
}

// SpendChecked implements Observer.
func (m *Metrics) SpendChecked(mode Mode, state SpendState) {
	if int(mode) < len(m.spend) && int(state) < len(m.spend[mode]) {
		m.spend[mode][state].Inc()
	}
}
