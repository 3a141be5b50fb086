package ledger

import (
	"fmt"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcome is what became of records, for Observer.Records.
type Outcome string

// Outcomes of records.
const (
	// OutcomePublished: stored in Q2 by a Publisher.
	OutcomePublished Outcome = "published"
	// OutcomeDropped: lost before Q2 (buffer full, stopped, drain over).
	OutcomeDropped Outcome = "dropped"
	// OutcomeWritten: inserted into the database by a Consumer.
	OutcomeWritten Outcome = "written"
	// OutcomeDuplicate: delivered again and already in the database.
	OutcomeDuplicate Outcome = "duplicate"
	// OutcomeRejected: not a valid record, or refused by the database for
	// its content (not for its being down); logged with its ID and
	// message ID, never written.
	OutcomeRejected Outcome = "rejected"
	// OutcomeRetried: a write attempt failed (database down or slow); the
	// Writer tries again, counting the records once per failed attempt.
	OutcomeRetried Outcome = "retried"
)

// Observer receives what the ledger counts. Metrics implements it; so may
// internal/monitor. Methods are called from background goroutines, never
// from Publish's caller except when a record is dropped, and must be safe
// for concurrent use.
type Observer interface {
	// Usage is called once per call record published or dropped (run
	// records repeat their calls' counts and are not observed). Label
	// values come from config (agent, model, tier), never from users.
	Usage(agent, model, tier string, tokensIn, tokensOut, tokensCached int64, cost USD)
	// Records counts n records reaching outcome.
	Records(outcome Outcome, n int)
}

type nopObserver struct{}

func (nopObserver) Usage(string, string, string, int64, int64, int64, USD) {}
func (nopObserver) Records(Outcome, int)                                   {}

// observeUsage reports a call record's tokens and cost.
func observeUsage(o Observer, r *Record) {
	if r.Kind == KindRun {
		return
	}
	o.Usage(r.Agent, r.Model, r.Tier, r.TokensIn, r.TokensOut, r.TokensCached, r.Cost)
}

// Metrics is an Observer on Prometheus counters:
//
//	floodgate_usage_cost_usd_total{agent,model,tier}
//	floodgate_usage_tokens_total{agent,model,tier,type="in"|"out"|"cached"}
//	floodgate_ledger_records_total{outcome}
//
// Labels are bounded: agents, models and tiers come from the
// configuration, and there is no per-user or per-tenant label (the ledger
// has those). Safe for concurrent use; create it with NewMetrics.
type Metrics struct {
	cost    *prometheus.CounterVec
	tokens  *prometheus.CounterVec
	records *prometheus.CounterVec

	// children caches resolved label sets: resolving hashes and allocates,
	// and Usage runs for every record.
	children sync.Map // usageKey → *usageChildren
}

type usageKey struct{ agent, model, tier string }

type usageChildren struct {
	cost, in, out, cached prometheus.Counter
}

// NewMetrics creates the ledger's counters and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "usage_cost_usd_total",
			Help: "Cost of model calls in USD at the configured prices, by agent (empty for plain chat completions), model and tenant tier.",
		}, []string{"agent", "model", "tier"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "usage_tokens_total",
			Help: "Tokens of model calls by agent, model, tenant tier and type (in = prompt, cached = the cached part of in, out = completion).",
		}, []string{"agent", "model", "tier", "type"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "ledger_records_total",
			Help: "Usage records by what became of them: published to Q2, dropped before it, written to the database, duplicate, rejected, retried.",
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.cost, m.tokens, m.records} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("ledger: register metrics: %w", err)
		}
	}
	for _, o := range []Outcome{OutcomePublished, OutcomeDropped, OutcomeWritten, OutcomeDuplicate, OutcomeRejected, OutcomeRetried} {
		// Present from the start, so that rate() sees the first drop.
		m.records.WithLabelValues(string(o))
	}
	return m, nil
}

// Usage implements Observer.
func (m *Metrics) Usage(agent, model, tier string, tokensIn, tokensOut, tokensCached int64, cost USD) {
	c := m.usage(agent, model, tier)
	add(c.in, float64(tokensIn))
	add(c.out, float64(tokensOut))
	add(c.cached, float64(tokensCached))
	add(c.cost, cost.Float())
}

// add adds v when it is a count a counter may take: Add panics on a
// negative value, and a dropped record reaches here unchecked.
func add(c prometheus.Counter, v float64) {
	if v > 0 && !math.IsInf(v, 1) {
		c.Add(v)
	}
}

// Records implements Observer.
func (m *Metrics) Records(outcome Outcome, n int) {
	m.records.WithLabelValues(string(outcome)).Add(float64(n))
}

func (m *Metrics) usage(agent, model, tier string) *usageChildren {
	k := usageKey{agent, model, tier}
	if c, ok := m.children.Load(k); ok {
		return c.(*usageChildren)
	}
	c := &usageChildren{
		cost:   m.cost.WithLabelValues(agent, model, tier),
		in:     m.tokens.WithLabelValues(agent, model, tier, "in"),
		out:    m.tokens.WithLabelValues(agent, model, tier, "out"),
		cached: m.tokens.WithLabelValues(agent, model, tier, "cached"),
	}
	actual, _ := m.children.LoadOrStore(k, c)
	return actual.(*usageChildren)
}
