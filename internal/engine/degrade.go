package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/degrade"
	"github.com/floodgate-dev/floodgate/internal/handoff"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/rules"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// Handoffs files human-handoff tickets and holds the sessions handed to
// people; *handoff.Service satisfies it.
type Handoffs interface {
	Open(ctx context.Context, t handoff.Ticket) (handoff.Ticket, error)
	ActiveFor(ctx context.Context, tenant, session string) (handoff.Ticket, bool, error)
	Append(ctx context.Context, ticketID, message string) (string, error)
	Ack(t handoff.Ticket) string
}

// Degradation defaults.
const (
	// MaxDegradeReserve caps the part of a run's Deadline kept for the
	// degradation ladder: the model loop stops that long before the
	// deadline, so that the rules engine or a message still answers in
	// time. The reserve is a quarter of shorter deadlines.
	MaxDegradeReserve = 2 * time.Second
	// PreRunGrace bounds Degrade's climb: it answers turns refused before
	// they ran (shed, budget, prompt filter), which must be answered
	// fast or not at all.
	PreRunGrace = 2 * time.Second
	// handoffTurns is how many of the conversation's last messages a
	// ticket carries.
	handoffTurns = 12
)

// errNoAnswer is the cause of a run whose last allowed model call wrote
// nothing (the tool budget or MaxTurns was spent).
var errNoAnswer = errors.New("engine: the model wrote no answer within the run's limits")

// errBreakerOpen is the cause of a run stopped because a tool it called
// has its circuit breaker open.
var errBreakerOpen = errors.New("engine: a tool the answer needs has its circuit breaker open")

// compileLadders builds each agent's degradation ladder and output checks.
func compileLadders(agents map[string]*agent, rs *rules.Rules, m *degrade.Metrics) error {
	for _, a := range agents {
		small := a.Routing.SmallModel
		if small == a.Model {
			small = "" // the default ladder's model rung would ask the model that failed
		}
		var err error
		if a.ladder, err = degrade.New(a.Degrade, degrade.Options{Agent: a.Name, SmallModel: small, Rules: rs, Metrics: m}); err != nil {
			return fmt.Errorf("%w: agent %q: degrade: %w", ErrInvalidConfig, a.Name, err)
		}
		if a.checker, err = degrade.NewChecker(a.Degrade.Checks, degrade.CheckerOptions{
			Instructions: a.Instructions, Agent: a.Name, Metrics: m}); err != nil {
			return fmt.Errorf("%w: agent %q: degrade.checks: %w", ErrInvalidConfig, a.Name, err)
		}
	}
	return nil
}

// degradeReserve is the part of deadline kept for the ladder.
func degradeReserve(deadline time.Duration) time.Duration {
	return min(MaxDegradeReserve, deadline/4)
}

// triggerOf names the trigger of the model loop's error err; ok is false
// when nobody is left to answer (the caller went away).
func (r *run) triggerOf(loop context.Context, err error) (degrade.Trigger, bool) {
	switch {
	case errors.Is(err, errBreakerOpen):
		return degrade.ToolBreakerOpen, true
	case errors.Is(err, errNoAnswer):
		return degrade.ToolBudgetSpent, true
	case errors.Is(err, degrade.ErrCheckFailed):
		return degrade.OutputCheckFailed, true
	case errors.Is(context.Cause(loop), errRunDeadline):
		return degrade.Deadline, true
	}
	return degrade.TriggerOf(err)
}

// climb answers the run from its agent's degradation ladder after the
// normal path failed with trigger (err is the failure, for the log), and
// finishes the run with the ladder's answer. ctx is the run's context,
// which still has the reserve the model loop left.
func (r *run) climb(ctx context.Context, trigger degrade.Trigger, cause error) (*Result, error) {
	a := r.agent
	r.e.log.Debug("run degraded", "agent", a.Name, "trigger", trigger, "err", cause)
	s := degrade.Situation{Trigger: trigger, Intent: r.choice.Intent, Message: r.req.Input, DefaultLang: r.req.Lang, Tier: r.req.Tier,
		Handoff: r.e.handoffs != nil, FailedModel: r.lastModel}
	facts := r.factsMap()
	rungs := degrade.Rungs{
		Model:   r.modelRung,
		Rules:   degrade.RulesVia(r.rulesTools(ctx), rules.Input{Message: r.req.Input, Intent: r.choice.Intent, Facts: facts}),
		Handoff: r.handoffRung(),
	}
	mark := len(r.turn)
	out := a.ladder.Climb(ctx, s, rungs)
	if out.Rung != degrade.KindModel {
		// Whatever a failed model rung left of the turn is not what the
		// user is answered with.
		r.turn = r.turn[:mark]
	}
	if r.req.Stream {
		r.emit(Event{Type: EventMessageDelta, Data: &MessageDelta{Agent: a.Name, Content: out.Text}})
	}
	r.add(llm.Message{Role: llm.RoleAssistant, Content: llm.Text(out.Text)})
	r.res.Status, r.res.Reason, r.res.DegradedReason, r.res.Rung = out.Status, string(trigger), string(trigger), string(out.Rung)
	r.res.Ticket = r.ticketID
	return r.finish(ctx, out.Text)
}

// modelRung is the ladder's model rung: the run goes on with model, and
// its answer must pass the agent's output checks.
func (r *run) modelRung(ctx context.Context, model string) (string, error) {
	r.model = model
	if r.res.ModelChoice != nil {
		c := *r.res.ModelChoice
		c.Model, c.Reason = model, "degraded"
		r.res.ModelChoice = &c
	}
	out, err := r.loop(ctx)
	if err != nil {
		return "", err
	}
	if err := r.check(out); err != nil {
		return "", err
	}
	return out, nil
}

// rulesTools calls the rules engine's tools through a runner of the
// agent's tools with the budget left, so that they count against the run's
// budget and go through the breakers; a run whose budget is spent gets a
// small budget of its own, since the rules call no model.
func (r *run) rulesTools(ctx context.Context) rules.ToolCaller {
	left := r.remaining()
	if left <= 0 || r.runner == nil {
		names := r.agent.registryTools
		ru := r.e.tools.NewRunner(names, tool.Limits{MaxCalls: 2})
		return rules.RunnerTools(ru)
	}
	return rules.RunnerTools(r.runner)
}

// handoffRung is the ladder's handoff rung, nil without a handoff service.
func (r *run) handoffRung() degrade.HandoffRung {
	if r.e.handoffs == nil {
		return nil
	}
	return func(ctx context.Context, req degrade.HandoffRequest) (string, error) {
		t, err := r.e.handoffs.Open(ctx, r.ticket(req.Reason, req.Priority, req.Lang))
		if err != nil {
			return "", fmt.Errorf("open handoff ticket: %w", err)
		}
		r.ticketID = t.ID
		return r.e.handoffs.Ack(t), nil
	}
}

// ticket is the handoff ticket of the run's session: the summary, the
// pinned facts and the last messages, this turn's included.
func (r *run) ticket(reason string, priority int, lang string) handoff.Ticket {
	var msgs []llm.Message
	for i := range r.sess.Turns {
		msgs = append(msgs, r.sess.Turns[i].Messages...)
	}
	msgs = append(msgs, r.turn...)
	return handoff.Ticket{
		Tenant: r.req.Tenant, Session: r.req.SessionID, User: r.user, Agent: r.agent.Name,
		Reason: reason, Priority: priority, Lang: lang,
		Summary: r.sess.Summary.Text, Facts: r.factsMap(), Turns: handoff.CompactTurns(msgs, handoffTurns),
	}
}

// factsMap returns the session's pinned facts by kind, values oldest
// first, as the rules engine, the output checks and tickets take them.
func (r *run) factsMap() map[string][]string {
	if r.facts == nil || r.facts.Len() == 0 {
		return nil
	}
	m := map[string][]string{}
	for _, f := range r.facts.List() {
		m[f.Kind] = append(m[f.Kind], f.Value)
	}
	return m
}

// check runs the agent's output checks on the model's answer out.
func (r *run) check(out string) error {
	c := r.agent.checker
	if !c.Enabled() {
		return nil
	}
	msgs := make([]llm.Message, 0, len(r.window)+len(r.turn))
	msgs = append(msgs, r.window...)
	msgs = append(msgs, r.turn...)
	return c.Check(&degrade.CheckInput{Answer: out, Message: r.req.Input, Messages: msgs, Facts: r.factsMap()})
}

// heldByPerson answers a turn of a session handed to a person: the
// message goes to the ticket and the user gets its acknowledgement, with
// no model call. ok is false when the session is the agent's.
func (r *run) heldByPerson(ctx context.Context) (string, bool) {
	ack, id, ok := r.e.held(ctx, r.req)
	if ok {
		r.ticketID = id
	}
	return ack, ok
}

// held hands the message of req to its session's active handoff ticket,
// if it has one, and returns the acknowledgement and the ticket's id. ok
// is false when the session is the agent's (no active ticket, or it was
// resolved meanwhile), or when the handoff service cannot say: the agent
// answers rather than nobody.
func (e *Engine) held(ctx context.Context, req *RunRequest) (ack, ticket string, ok bool) {
	h := e.handoffs
	if h == nil || req.SessionID == "" {
		return "", "", false
	}
	t, ok, err := h.ActiveFor(ctx, req.Tenant, req.SessionID)
	if err != nil {
		e.log.Warn("handoff service unavailable; the agent answers", "tenant", req.Tenant, "session", req.SessionID, "err", err)
		return "", "", false
	}
	if !ok {
		return "", "", false
	}
	ack, err = h.Append(ctx, t.ID, req.Input)
	if errors.Is(err, handoff.ErrConflict) || errors.Is(err, handoff.ErrNotFound) {
		return "", "", false // resolved since: the session is the agent's again
	}
	if err != nil {
		e.log.Warn("append to handoff ticket", "ticket", t.ID, "err", err)
		return "", "", false
	}
	return ack, t.ID, true
}

// escalated finishes a run whose model called escalate_to_human: a ticket
// is opened and the user gets its acknowledgement. Without a handoff
// service the run ends on EscalationReply, as before handoffs were
// configurable.
func (r *run) escalated(ctx context.Context) (*Result, error) {
	out := r.e.escalate
	r.res.Status, r.res.Reason = StatusHandedOff, ReasonEscalated
	if h := r.e.handoffs; h != nil {
		reason, prio := r.escalation()
		lang := degrade.DetectLang(r.req.Input, r.req.Lang)
		t, err := h.Open(ctx, r.ticket(reason, prio, lang))
		if err != nil {
			// No person will see it: say so rather than promise a call back.
			r.e.log.Error("open handoff ticket", "tenant", r.req.Tenant, "session", r.req.SessionID, "err", err)
			return r.climb(ctx, degrade.ModelError, err)
		}
		r.ticketID, r.res.Ticket = t.ID, t.ID
		out = h.Ack(t)
	}
	r.add(llm.Message{Role: llm.RoleAssistant, Content: llm.Text(out)})
	return r.finish(ctx, out)
}

// escalation reads the reason and priority of the run's escalate_to_human
// call; the priority moves the tier's by a step either way.
func (r *run) escalation() (string, int) {
	prio := r.entry.ladder.HandoffPriority(r.req.Tier)
	reason := ReasonEscalated
	for i := len(r.turn) - 1; i >= 0; i-- {
		for _, c := range r.turn[i].ToolCalls {
			if c.Function.Name != tool.EscalateName {
				continue
			}
			var a struct {
				Reason   string `json:"reason"`
				Priority string `json:"priority"`
			}
			if json.Unmarshal([]byte(c.Function.Arguments), &a) == nil {
				if a.Reason != "" {
					reason = a.Reason
				}
				switch a.Priority {
				case "high":
					prio += 10
				case "low":
					prio -= 10
				}
			}
			return reason, prio
		}
	}
	return reason, prio
}

// Degrade answers a turn that was refused before it could run — shed by
// admission, over its tenant's hard budget, blocked by the prompt filter —
// from the agent's degradation ladder, without a model (a session a person
// holds sends the message to its ticket instead, as Run does): the rules engine
// (calling the agent's tools directly), a handoff ticket when the session
// is known and a handoff service is configured, or a friendly message.
// It takes no session lease and stores nothing: the node is refusing
// work. The Result's status is degraded (or handed_off) with the trigger
// as its reason; an unknown trigger answers with the built-in apology.
// Errors are those of a malformed request (ErrUnknownAgent,
// ErrInvalidRequest).
func (e *Engine) Degrade(ctx context.Context, req RunRequest, trigger degrade.Trigger) (*Result, error) {
	start := e.now()
	a, err := e.check(&req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), PreRunGrace)
	defer cancel()
	res := &Result{RunID: req.RunID, SessionID: req.SessionID, Agent: a.Name, ToolCalls: []ToolCallRecord{}, Models: []string{}}
	if ack, id, ok := e.held(ctx, &req); ok {
		// A person holds the session: the message goes to them, refused
		// or not.
		res.Output, res.Status, res.Reason, res.Ticket, res.Rung = ack, StatusHandedOff, ReasonHeld, id, string(degrade.KindHandoff)
		e.obs.RunFinished(a.Name, res.Status, e.now().Sub(start))
		return res, nil
	}
	s := degrade.Situation{Trigger: trigger, Message: req.Input, DefaultLang: req.Lang, Tier: req.Tier}
	s.Intent = a.classifier.Rules(req.Input, "").Intent
	rs := degrade.Rungs{Rules: degrade.RulesVia(rules.RunnerTools(e.tools.NewRunner(a.registryTools, tool.Limits{MaxCalls: a.Limits.MaxToolCalls})),
		rules.Input{Message: req.Input, Intent: s.Intent})}
	if e.handoffs != nil && req.SessionID != "" {
		s.Handoff = true
		rs.Handoff = func(ctx context.Context, hr degrade.HandoffRequest) (string, error) {
			t, err := e.handoffs.Open(ctx, handoff.Ticket{Tenant: req.Tenant, Session: req.SessionID, User: req.UserID, Agent: a.Name,
				Reason: hr.Reason, Priority: hr.Priority, Lang: hr.Lang,
				Turns: []handoff.Turn{{Role: llm.RoleUser, Content: req.Input}}})
			if err != nil {
				return "", err
			}
			res.Ticket = t.ID
			return e.handoffs.Ack(t), nil
		}
	}
	out := a.ladder.Climb(ctx, s, rs)
	res.Output, res.Status, res.Reason, res.DegradedReason, res.Rung = out.Text, out.Status, string(trigger), string(trigger), string(out.Rung)
	d := e.now().Sub(start)
	res.DurationMS = d.Milliseconds()
	e.obs.RunFinished(a.Name, res.Status, d)
	return res, nil
}
