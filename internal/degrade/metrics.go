package degrade

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Rung outcomes, the outcome label of the rung counter.
const (
	// OutcomeAnswered: the rung answered; the climb ended on it.
	OutcomeAnswered = "answered"
	// OutcomeFailed: the rung was tried and gave no answer.
	OutcomeFailed = "failed"
	// OutcomeSkipped: the rung was not tried because the climb's context
	// had ended.
	OutcomeSkipped = "skipped"
)

// Metrics counts the ladder's rungs and the failed output checks. Every
// label is bounded: agents come from the configuration, rungs, reasons,
// outcomes, checks and check reasons from this package. It is safe for
// concurrent use; one Metrics serves every agent's Ladder and Checker.
type Metrics struct {
	rungs  *prometheus.CounterVec
	checks *prometheus.CounterVec
}

// NewMetrics registers the counters on reg:
//
//	floodgate_degrade_rungs_total{agent, rung, reason, outcome}
//	floodgate_output_check_failures_total{agent, check, reason}
//
// rung is model, rules, handoff or message; reason the Trigger; outcome
// answered, failed or skipped. Registering on a registry that already
// has them (a second NewMetrics) shares the existing counters.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	rungs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floodgate", Name: "degrade_rungs_total",
		Help: "Rungs of the degradation ladder tried, by agent, rung kind, trigger (reason) and outcome.",
	}, []string{"agent", "rung", "reason", "outcome"})
	checks := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "floodgate", Name: "output_check_failures_total",
		Help: "Final answers that failed an output check, by agent, check and reason.",
	}, []string{"agent", "check", "reason"})
	var err error
	if rungs, err = register(reg, rungs); err != nil {
		return nil, err
	}
	if checks, err = register(reg, checks); err != nil {
		return nil, err
	}
	return &Metrics{rungs: rungs, checks: checks}, nil
}

func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return c, nil
}

func (m *Metrics) rung(agent string, k Kind, t Trigger, outcome string) {
	m.rungs.WithLabelValues(agent, string(k), string(t), outcome).Inc()
}

func (m *Metrics) checkFailed(agent string, c CheckName, r CheckReason) {
	m.checks.WithLabelValues(agent, string(c), string(r)).Inc()
}
