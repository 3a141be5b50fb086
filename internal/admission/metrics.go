package admission

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MaxTiers bounds the distinct tier label values Metrics exports; the
// tiers seen after that many are counted as OtherTier.
const MaxTiers = 32

// Tier label values Metrics uses for tickets that name no tier, and for
// tiers past MaxTiers.
const (
	NoTier    = "none"
	OtherTier = "other"
)

// Metrics is an Observer on Prometheus metrics:
//
//	floodgate_admission_requests_total{tier,outcome}    counter
//	floodgate_admission_wait_seconds{tier,outcome}      histogram
//	floodgate_admission_queue_length                    gauge
//	floodgate_admission_running                         gauge
//	floodgate_admission_max_concurrent                  gauge
//
// outcome is one of the Outcome constants; wait is the time a request spent
// in the queue, 0 for one decided on arrival. Labels are bounded: outcomes
// are constants and tiers are folded into OtherTier past MaxTiers. The
// last two gauges read the Queue the Metrics was given to (Config.Observer)
// at scrape time; a Metrics serves one Queue. Safe for concurrent use;
// create it with NewMetrics.
type Metrics struct {
	requests *prometheus.CounterVec
	wait     *prometheus.HistogramVec
	length   prometheus.Gauge

	queue atomic.Pointer[Queue]

	// tiers caches each tier's resolved children, because resolving label
	// values hashes and allocates and Admission runs on every request. It
	// is copied on write: a handful of tiers, scanned faster than a map is
	// hashed.
	tiers atomic.Pointer[[]*tierMetrics]
	mu    sync.Mutex // serialises writers of tiers
}

type tierMetrics struct {
	name     string // as Ticket.Tier gives it
	requests [len(outcomes)]prometheus.Counter
	wait     [len(outcomes)]prometheus.Observer
}

var outcomes = [...]string{OutcomeAdmitted, OutcomeShed, OutcomeExpired, OutcomeCanceled, OutcomeClosed}

func outcomeIndex(o string) (int, bool) {
	switch o {
	case OutcomeAdmitted:
		return 0, true
	case OutcomeShed:
		return 1, true
	case OutcomeExpired:
		return 2, true
	case OutcomeCanceled:
		return 3, true
	case OutcomeClosed:
		return 4, true
	}
	return 0, false
}

// waitBuckets span a quick hand-off (sub-millisecond) to the longest
// default wait (30 s).
var waitBuckets = prometheus.ExponentialBucketsRange(0.0005, 30, 17)

// NewMetrics returns a Metrics registered on reg, or the registration's
// error (a duplicate: one Metrics per registry).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Subsystem: "admission", Name: "requests_total",
			Help: "Requests through the admission queue (Q1) by tier and outcome (admitted, shed, expired, canceled, closed).",
		}, []string{"tier", "outcome"}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Subsystem: "admission", Name: "wait_seconds",
			Help:    "Time requests spent in the admission queue, 0 for those decided on arrival, by tier and outcome.",
			Buckets: waitBuckets,
		}, []string{"tier", "outcome"}),
		length: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "floodgate", Subsystem: "admission", Name: "queue_length",
			Help: "Requests waiting in the admission queue.",
		}),
	}
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "floodgate", Subsystem: "admission", Name: "running",
		Help: "Requests admitted and not yet finished.",
	}, func() float64 { return m.stat(func(s Stats) int { return s.Running }) })
	capacity := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "floodgate", Subsystem: "admission", Name: "max_concurrent",
		Help: "Requests the node runs at once; more wait in the admission queue.",
	}, func() float64 { return m.stat(func(s Stats) int { return s.MaxConcurrent }) })
	for _, c := range []prometheus.Collector{m.requests, m.wait, m.length, running, capacity} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) watch(q *Queue) { m.queue.Store(q) }

func (m *Metrics) stat(f func(Stats) int) float64 {
	q := m.queue.Load()
	if q == nil {
		return 0
	}
	return float64(f(q.Stats()))
}

// Admission implements Observer.
func (m *Metrics) Admission(tier, outcome string, wait time.Duration) {
	i, ok := outcomeIndex(outcome)
	if !ok {
		return
	}
	t := m.tier(tier)
	t.requests[i].Inc()
	t.wait[i].Observe(wait.Seconds())
}

// QueueLength implements Observer.
func (m *Metrics) QueueLength(n int) { m.length.Set(float64(n)) }

// tier returns the children of tier, folding it into OtherTier when
// MaxTiers others are known already.
func (m *Metrics) tier(tier string) *tierMetrics {
	if t := m.lookup(tier); t != nil {
		return t
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.lookup(tier); t != nil {
		return t
	}
	var known []*tierMetrics
	if p := m.tiers.Load(); p != nil {
		known = *p
	}
	label := tier
	switch {
	case tier == "":
		label = NoTier
	case len(known) >= MaxTiers:
		// Past the bound, unknown tiers share one entry, found by a scan
		// of the bounded list; they are not added to it.
		if t := m.lookup(OtherTier); t != nil {
			return t
		}
		tier, label = OtherTier, OtherTier
	}
	t := &tierMetrics{name: tier}
	for i, o := range outcomes {
		t.requests[i] = m.requests.WithLabelValues(label, o)
		t.wait[i] = m.wait.WithLabelValues(label, o)
	}
	grown := append(known[:len(known):len(known)], t)
	m.tiers.Store(&grown)
	return t
}

func (m *Metrics) lookup(tier string) *tierMetrics {
	p := m.tiers.Load()
	if p == nil {
		return nil
	}
	for _, t := range *p {
		if t.name == tier {
			return t
		}
	}
	return nil
}
