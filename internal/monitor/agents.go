package monitor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// agentMetrics are the engine's and the tools' metrics: business (runs by
// status, handoffs, budget alerts) and technical (model calls, tool calls,
// breakers, lease waits, engine overhead).
type agentMetrics struct {
	runs          *prometheus.CounterVec
	runDuration   *prometheus.HistogramVec
	modelCalls    *prometheus.CounterVec
	modelDuration *prometheus.HistogramVec
	budget        *prometheus.CounterVec
	handoffs      *prometheus.CounterVec
	leaseWait     prometheus.Histogram
	engineOver    *prometheus.HistogramVec
	toolCalls     *prometheus.CounterVec
	toolDuration  *prometheus.HistogramVec
	breaker       *prometheus.GaugeVec
	feedback      *prometheus.CounterVec
}

func newAgentMetrics(reg *prometheus.Registry) *agentMetrics {
	m := &agentMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "agent_runs_total",
			Help: "Agent runs by agent and final status (completed, partial, degraded, handed_off, failed).",
		}, []string{"agent", "status"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "agent_run_duration_seconds",
			Help: "Wall-clock duration of agent runs.", Buckets: upstreamBuckets,
		}, []string{"agent"}),
		modelCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "agent_model_calls_total",
			Help: "Model calls made by agents, by outcome (ok or the error class).",
		}, []string{"agent", "model", "outcome"}),
		modelDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "agent_model_call_duration_seconds",
			Help: "Duration of agents' model calls.", Buckets: upstreamBuckets,
		}, []string{"agent", "model"}),
		budget: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "agent_tool_budget_exhausted_total",
			Help: "Runs that reached their tool-call budget and were made to answer from what they had (alert on its rate).",
		}, []string{"agent"}),
		handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "agent_handoffs_total",
			Help: "Conversations handed from one agent to another.",
		}, []string{"from", "to"}),
		leaseWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "session_lease_wait_seconds",
			Help: "Time a turn waited for its session's writer lease.", Buckets: overheadBuckets,
		}),
		engineOver: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "engine_overhead_seconds",
			Help: "The engine's own time per model call (run time minus model, tools and lease wait).", Buckets: overheadBuckets,
		}, []string{"agent"}),
		toolCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "tool_calls_total",
			Help: "Tool calls by tool and outcome (ok, error, failed, invalid, unknown, breaker_open, timeout, budget, cached).",
		}, []string{"tool", "outcome"}),
		toolDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "tool_call_duration_seconds",
			Help: "Duration of tool calls that reached the tool.", Buckets: upstreamBuckets,
		}, []string{"tool"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "floodgate", Name: "tool_breaker_open",
			Help: "1 while a tool's circuit breaker is open, 0.5 half-open, 0 closed.",
		}, []string{"tool"}),
		feedback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "agent_feedback_total",
			Help: "User feedback on conversations by the agent that owned them: rating up or down, or score_1..score_5.",
		}, []string{"agent", "rating"}),
	}
	reg.MustRegister(m.runs, m.runDuration, m.modelCalls, m.modelDuration, m.budget, m.handoffs,
		m.leaseWait, m.engineOver, m.toolCalls, m.toolDuration, m.breaker, m.feedback)
	return m
}

// RunFinished records an agent run's final status and duration.
func (m *Metrics) RunFinished(agent, status string, d time.Duration) {
	m.agents.runs.WithLabelValues(agent, status).Inc()
	m.agents.runDuration.WithLabelValues(agent).Observe(d.Seconds())
}

// ModelCall records one model call of an agent.
func (m *Metrics) ModelCall(agent, model string, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = llm.AsError(err).Kind.String()
	}
	m.agents.modelCalls.WithLabelValues(agent, model, outcome).Inc()
	if err == nil {
		m.agents.modelDuration.WithLabelValues(agent, model).Observe(d.Seconds())
	}
}

// ToolBudgetExhausted counts a run that spent its tool-call budget.
func (m *Metrics) ToolBudgetExhausted(agent string) { m.agents.budget.WithLabelValues(agent).Inc() }

// Handoff counts a conversation moving between agents.
func (m *Metrics) Handoff(from, to string) { m.agents.handoffs.WithLabelValues(from, to).Inc() }

// LeaseWait records a turn's wait for its session's writer.
func (m *Metrics) LeaseWait(d time.Duration) { m.agents.leaseWait.Observe(d.Seconds()) }

// Overhead records the engine's own time per model call of a run.
func (m *Metrics) Overhead(agent string, perModelCall time.Duration) {
	m.agents.engineOver.WithLabelValues(agent).Observe(perModelCall.Seconds())
}

// Feedback counts a user's feedback on a conversation owned by agent.
func (m *Metrics) Feedback(agent, rating string) {
	m.agents.feedback.WithLabelValues(agent, rating).Inc()
}

// ToolCall records one tool call; d is 0 when the tool was not called
// (cached, refused, budget), and then no duration is observed.
func (m *Metrics) ToolCall(tool, outcome string, d time.Duration) {
	m.agents.toolCalls.WithLabelValues(tool, outcome).Inc()
	if d > 0 {
		m.agents.toolDuration.WithLabelValues(tool).Observe(d.Seconds())
	}
}

// BreakerState records a tool's breaker moving to state ("closed",
// "half_open" or "open").
func (m *Metrics) BreakerState(tool, state string) {
	v := 0.0
	switch state {
	case "open":
		v = 1
	case "half_open":
		v = 0.5
	}
	m.agents.breaker.WithLabelValues(tool).Set(v)
}
