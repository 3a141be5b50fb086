package engine

import (
	"context"
	"fmt"
	"github.com/floodgate-dev/floodgate/internal/degrade"
	"math"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/floodgate-dev/floodgate/internal/intent"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// EventModelChosen is the event of a model choice: after run.started for
// the agent the run starts with, and after each handoff for the agent
// taking over. Its data is a *ModelChoice.
const EventModelChosen = "model.chosen"

// ModelChoice is how the model of a turn was chosen for one agent: the
// classification of the user's message and the policy's decision.
type ModelChoice struct {
	// Agent whose policy chose.
	Agent string `json:"agent"`
	// Model is the model every call of the agent makes in this turn.
	Model string `json:"model"`
	// Reason is one of modelpolicy's reasons (simple_intent,
	// escalated_tool_error, budget_downgrade, …).
	Reason string `json:"reason"`
	// Window names the time window that decided, if one did.
	Window string `json:"window,omitempty"`
	// Intent, Secondary and Complexity classify the user's message, with
	// the classifier's Confidence and the stage that decided (Source:
	// rules or model).
	Intent     string  `json:"intent"`
	Secondary  string  `json:"secondary_intent,omitempty"`
	Complexity string  `json:"complexity"`
	Confidence float64 `json:"confidence"`
	Source     string  `json:"source"`
}

// ChoiceObserver is told about each model choice, for metrics. Its labels
// are agents, models and modelpolicy reasons: bounded by configuration
// and code. It is called on the request path and must not block.
type ChoiceObserver interface {
	ModelChosen(agent, model, reason string)
}

// RoutingMetrics counts model choices in floodgate_model_choices_total
// {agent, model, reason}. It implements ChoiceObserver and is safe for
// concurrent use.
type RoutingMetrics struct {
	choices *prometheus.CounterVec
}

// NewRoutingMetrics registers the routing metrics on reg.
func NewRoutingMetrics(reg prometheus.Registerer) (*RoutingMetrics, error) {
	m := &RoutingMetrics{choices: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "floodgate_model_choices_total",
		Help: "Agent turns by the model their agent's policy chose and why (modelpolicy reasons).",
	}, []string{"agent", "model", "reason"})}
	if err := reg.Register(m.choices); err != nil {
		return nil, fmt.Errorf("engine metrics: %w", err)
	}
	return m, nil
}

// ModelChosen counts one choice.
func (m *RoutingMetrics) ModelChosen(agent, model, reason string) {
	m.choices.WithLabelValues(agent, model, reason).Inc()
}

// unsurePhrases mark an answer that says it could not help or did not
// understand: one of the checks after which the next turn escalates.
var unsurePhrases = []string{
	"not sure", "don't have that information", "do not have that information",
	"couldn't find", "could not find", "i can't look", "i can't check", "i can't start",
	"i'm afraid i can't", "unable to",
}

// errorEnvelopeTails end the content of a tool message whose call failed
// (the Runner's and the engine's envelope).
var errorEnvelopeTails = [...]string{`"is_error":true,"truncated":false}`, `"is_error":true,"truncated":true}`}

// route classifies the turn's message for the agent answering now and
// chooses its model, records the choice on the result and reports it.
// prevDone tells that the previous turn's outcome is already known.
func (r *run) route(ctx context.Context) {
	a, q := r.agent, r.req
	if !r.prevDone {
		r.prev, r.prevIntent = r.previous()
		r.prevDone = true
	}
	cls := r.classify(ctx, a, r.sess.TurnCount+1, q.Input, r.prevIntent)
	if to := cls.Agent; to != "" && to != a.Name && a.canHandoff(to) && !r.passed(a.Name, to) {
		// The rules made the triage decision a model call would make
		// (intent.IntentConfig.Agent): the agent that serves the intent
		// takes the turn without a call of this agent's model.
		r.handoff(ctx, to, "intent "+cls.Intent)
		return
	}
	d := a.policy.Choose(modelpolicy.Input{
		Complexity: cls.Complexity, Tier: q.Tier, Load: q.Load, Now: r.start,
		BudgetDowngrade: q.BudgetSoft, Previous: r.prev, UserText: q.Input, AllowedModels: q.Models,
	})
	r.model = d.Model
	r.choice = ModelChoice{
		Agent: a.Name, Model: d.Model, Reason: string(d.Reason), Window: d.Window,
		Intent: cls.Intent, Secondary: cls.Secondary, Complexity: string(cls.Complexity),
		Confidence: math.Round(cls.Confidence*1000) / 1000, Source: string(cls.Source),
	}
	c := r.choice
	r.res.ModelChoice = &c
	r.e.choices.ModelChosen(a.Name, d.Model, string(d.Reason))
	ev := c
	r.emit(Event{Type: EventModelChosen, Data: &ev})
}

// passed reports whether this turn was already handed from agent from to
// agent to.
func (r *run) passed(from, to string) bool {
	for _, h := range r.res.Handoffs {
		if h.From == from && h.To == to {
			return true
		}
	}
	return false
}

// classify classifies text, turn seq of the run's session, with a's
// classifier; its model stage, if any, is metered as the run's.
func (r *run) classify(ctx context.Context, a *agent, seq int64, text, previous string) intent.Result {
	q := r.req
	ctx = withCallInfo(ctx, &callInfo{tenant: q.Tenant, tier: q.Tier, user: r.user, session: q.SessionID,
		agent: a.Name, intent: IntentClassify, runID: q.RunID})
	return a.classifier.Classify(ctx, intent.Input{
		SessionID: q.Tenant + "\x00" + q.SessionID, Turn: int(seq), Text: text, Previous: previous,
	})
}

// previous works out how the session's previous turn went, from the
// stored turn (the process keeps nothing per session): its user message,
// whether a tool call failed, whether its answer was unsure (the
// engine's fallback, a limit reached, or an answer saying it could not
// help) and its intent, by the classifier's rules alone (no model call
// for a turn already answered). Turns do not store their model, so the
// model of the previous turn is what its agent's policy gives its message
// by itself (class, tier, time window, load, no escalation): a turn that
// was itself escalated counts as its class's model, so a conversation
// whose answers keep failing stays on the escalation model.
func (r *run) previous() (modelpolicy.Previous, string) {
	n := len(r.sess.Turns)
	if n == 0 {
		return modelpolicy.Previous{}, ""
	}
	t := &r.sess.Turns[n-1]
	if t.Seq != r.sess.TurnCount {
		return modelpolicy.Previous{}, "" // the newest turn was not loaded
	}
	a := r.e.agents[t.Agent]
	if a == nil {
		a = r.entry
	}
	before := ""
	if n >= 2 && r.sess.Turns[n-2].Seq == t.Seq-1 {
		pt := &r.sess.Turns[n-2]
		pa := r.e.agents[pt.Agent]
		if pa == nil {
			pa = a
		}
		before = pa.classifier.Rules(userText(pt), "").Intent
	}
	text := userText(t)
	cls := a.classifier.Rules(text, before)
	d := a.policy.Choose(modelpolicy.Input{
		Complexity: cls.Complexity, Tier: r.req.Tier, Load: r.req.Load, Now: t.At, AllowedModels: r.req.Models,
	})
	p := modelpolicy.Previous{Model: d.Model, UserText: text}
	tools, calls := 0, 0
	for i := range t.Messages {
		m := &t.Messages[i]
		switch m.Role {
		case llm.RoleTool:
			tools++
			c := m.Content.String()
			for _, tail := range errorEnvelopeTails {
				if strings.HasSuffix(c, tail) {
					p.ToolError = true
				}
			}
		case llm.RoleAssistant:
			if len(m.ToolCalls) > 0 {
				calls++
			}
		}
	}
	answer := outputOf(t.Messages)
	p.LowConfidence = apology(answer) || unsure(answer) ||
		tools >= r.entry.Limits.MaxToolCalls || calls+1 >= r.entry.Limits.MaxTurns
	return p, cls.Intent
}

// apology reports whether answer is the ladder's built-in apology: the
// turn was not answered.
func apology(answer string) bool {
	for _, a := range degrade.Apologies {
		if answer == a {
			return true
		}
	}
	return false
}

// userText returns the user's message of a stored turn.
func userText(t *store.Turn) string {
	for i := range t.Messages {
		if t.Messages[i].Role == llm.RoleUser {
			return t.Messages[i].Content.String()
		}
	}
	return ""
}

// outputOf returns the answer of a turn: its last assistant text.
func outputOf(msgs []llm.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == llm.RoleAssistant && len(msgs[i].ToolCalls) == 0 {
			return msgs[i].Content.String()
		}
	}
	return ""
}

// unsure reports whether an answer says it could not help.
func unsure(answer string) bool {
	if answer == "" {
		return false
	}
	low := strings.ToLower(answer)
	low = strings.ReplaceAll(low, "’", "'")
	for _, p := range unsurePhrases {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}
