package ctxwindow

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics is an Observer on Prometheus: the summaries by outcome and their
// duration, the facts found unreachable after a summary (alert on any),
// and the time context management adds to a turn. Safe for concurrent
// use.
type Metrics struct {
	summaries   *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	unreachable *prometheus.CounterVec
	overhead    *prometheus.HistogramVec
}

// NewMetrics registers the metrics on reg (monitor.Metrics.Registry() in
// floodgate serve) and returns them; it panics if they are registered
// twice, as prometheus.MustRegister does.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		summaries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "context_summaries_total",
			Help: "Summary jobs by agent and outcome (folded, shortened, truncated, up_to_date, gone, error).",
		}, []string{"agent", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "context_summary_duration_seconds",
			Help:    "Duration of summary jobs, small-model calls included.",
			Buckets: prometheus.ExponentialBucketsRange(0.001, 60, 16),
		}, []string{"agent"}),
		unreachable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "context_fact_misses_total",
			Help: "Facts of summarised turns that neither the facts block nor the window holds any more (should stay 0).",
		}, []string{"agent"}),
		overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "context_overhead_seconds",
			Help:    "Time context management (facts, windows, summary jobs' publishing excluded) added to a turn.",
			Buckets: prometheus.ExponentialBucketsRange(0.00001, 0.1, 16),
		}, []string{"agent"}),
	}
	reg.MustRegister(m.summaries, m.duration, m.unreachable, m.overhead)
	return m
}

// Overhead records the time context management added to a turn.
func (m *Metrics) Overhead(agent string, d time.Duration) {
	m.overhead.WithLabelValues(agent).Observe(d.Seconds())
}

// Summarized counts a summary job and records its duration.
func (m *Metrics) Summarized(agent, outcome string, d time.Duration) {
	m.summaries.WithLabelValues(agent, outcome).Inc()
	m.duration.WithLabelValues(agent).Observe(d.Seconds())
}

// FactsUnreachable counts facts lost to the facts bound.
func (m *Metrics) FactsUnreachable(agent string, n int) {
	m.unreachable.WithLabelValues(agent).Add(float64(n))
}
