package degrade

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/handoff"
	"github.com/floodgate-dev/floodgate/internal/rules"
)

// Statuses of an Outcome; they equal internal/store's run statuses
// RunDegraded and RunHandedOff, which the engine's Result carries.
const (
	StatusDegraded  = "degraded"
	StatusHandedOff = "handed_off"
)

// ModelRung asks model for an answer to the run's conversation. The
// engine's implementation runs the model (through the router, with the
// run's tools) and the agent's output checks: an answer that fails them
// must be returned as an error (the *CheckError), so the climb goes on.
type ModelRung func(ctx context.Context, model string) (string, error)

// RulesRung answers the user's message with r in lang; RulesVia adapts
// a rules engine call.
type RulesRung func(ctx context.Context, r *rules.Rules, lang string) (string, error)

// HandoffRung files a handoff ticket and returns what to tell the user
// (the acknowledgement); HandoffVia adapts a handoff.Service.
type HandoffRung func(ctx context.Context, req HandoffRequest) (string, error)

// HandoffRequest is what the ladder decides about a ticket.
type HandoffRequest struct {
	// Reason is the trigger, as the ticket's reason.
	Reason string
	// Priority is the rung's priority for the tenant's tier.
	Priority int
	// Lang is the user's language.
	Lang string
}

// Rungs are the engine's implementations of the rung kinds for one
// climb. A nil field skips the rungs of its kind.
type Rungs struct {
	Model   ModelRung
	Rules   RulesRung
	Handoff HandoffRung
}

// Outcome is how a climb ended: always with a text.
type Outcome struct {
	// Text is the answer to give the user; never blank.
	Text string
	// Status is StatusHandedOff when a handoff rung answered, else
	// StatusDegraded: the engine's Result.Status.
	Status string
	// Reason is the trigger: the Result's degraded_reason.
	Reason Trigger
	// Rung is the kind of the rung that answered; Index its position
	// (Ladder.Final() for the built-in apology).
	Rung  Kind
	Index int
	// Model is the model that answered on a model rung.
	Model string
	// Lang is the language the climb worked in.
	Lang string
	// Attempts are the rungs tried, in order, the answering one last.
	Attempts []Attempt
}

// Attempt is one rung tried.
type Attempt struct {
	Rung  Kind
	Index int
	Model string
	// Outcome is OutcomeAnswered, OutcomeFailed or OutcomeSkipped.
	Outcome string
	// Err is why the rung gave no answer; nil for the answering rung.
	Err      error
	Duration time.Duration
}

// Errors of a rung that gave no answer, besides the rung's own.
var (
	// ErrEmptyAnswer: the rung answered blank text.
	ErrEmptyAnswer = errors.New("degrade: the rung answered nothing")
	// ErrRungPanicked: the rung's function panicked; the climb recovered.
	ErrRungPanicked = errors.New("degrade: the rung panicked")
)

// Climb climbs the ladder for s: from the first rung that handles it,
// each rung's function in rs is called (within the rung's timeout) until
// one answers non-blank text; rungs whose function is nil are passed by,
// and once ctx has ended the remaining rungs are skipped. It always
// returns an answer: the climb ends on a message rung, or on the built-in
// apology, neither of which can fail. A panicking rung function counts as
// a failed rung. Climb never blocks beyond what the rung functions do
// within their contexts. A nil *Ladder answers with the built-in apology.
func (l *Ladder) Climb(ctx context.Context, s Situation, rs Rungs) Outcome {
	lang := s.Lang
	if lang == "" {
		lang = DetectLang(s.Message, s.DefaultLang)
	} else {
		lang = primaryTag(lang)
	}
	out := Outcome{Reason: s.Trigger, Lang: lang, Attempts: make([]Attempt, 0, 4)}
	if l == nil {
		text, ok := Apologies[lang]
		if !ok {
			text = Apologies["en"]
		}
		out.Text, out.Status, out.Rung = text, StatusDegraded, KindMessage
		out.Attempts = append(out.Attempts, Attempt{Rung: KindMessage, Outcome: OutcomeAnswered})
		return out
	}
	reason := s.Trigger
	if !reason.Valid() {
		reason = "unknown" // bounded label for a trigger this package does not know
	}
	for st := l.Next(&s, -1); ; st = l.Next(&s, st.Index) {
		if st.Kind == KindMessage {
			out.Text, out.Status, out.Rung, out.Index = st.Text(lang), StatusDegraded, KindMessage, st.Index
			out.Attempts = append(out.Attempts, Attempt{Rung: KindMessage, Index: st.Index, Outcome: OutcomeAnswered})
			l.count(KindMessage, reason, OutcomeAnswered)
			return out
		}
		if !rs.has(st.Kind) {
			continue
		}
		a := Attempt{Rung: st.Kind, Index: st.Index, Model: st.Model}
		if err := ctx.Err(); err != nil {
			a.Outcome, a.Err = OutcomeSkipped, err
			out.Attempts = append(out.Attempts, a)
			l.count(st.Kind, reason, OutcomeSkipped)
			continue
		}
		start := l.now()
		text, err := rs.run(ctx, st, &s, lang)
		a.Duration = l.now().Sub(start)
		if err == nil && strings.TrimSpace(text) == "" {
			err = ErrEmptyAnswer
		}
		if err != nil {
			a.Outcome, a.Err = OutcomeFailed, err
			out.Attempts = append(out.Attempts, a)
			l.count(st.Kind, reason, OutcomeFailed)
			continue
		}
		a.Outcome = OutcomeAnswered
		out.Attempts = append(out.Attempts, a)
		l.count(st.Kind, reason, OutcomeAnswered)
		out.Text, out.Status, out.Rung, out.Index, out.Model = strings.TrimSpace(text), StatusDegraded, st.Kind, st.Index, st.Model
		if st.Kind == KindHandoff {
			out.Status = StatusHandedOff
		}
		return out
	}
}

func (rs *Rungs) has(k Kind) bool {
	switch k {
	case KindModel:
		return rs.Model != nil
	case KindRules:
		return rs.Rules != nil
	case KindHandoff:
		return rs.Handoff != nil
	}
	return false
}

// run calls the rung of st within its timeout and turns a panic into an
// error.
func (rs *Rungs) run(ctx context.Context, st Step, s *Situation, lang string) (text string, err error) {
	if st.Timeout > 0 {
		if d, ok := ctx.Deadline(); !ok || time.Until(d) > st.Timeout {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, st.Timeout)
			defer cancel()
		}
	}
	defer func() {
		if p := recover(); p != nil {
			text, err = "", fmt.Errorf("%w: %v", ErrRungPanicked, p)
		}
	}()
	switch st.Kind {
	case KindModel:
		return rs.Model(ctx, st.Model)
	case KindRules:
		return rs.Rules(ctx, st.Rules, lang)
	case KindHandoff:
		return rs.Handoff(ctx, HandoffRequest{Reason: string(s.Trigger), Priority: st.Priority(s.Tier), Lang: lang})
	}
	return "", fmt.Errorf("degrade: no function for %s rungs", st.Kind)
}

func (l *Ladder) count(k Kind, t Trigger, outcome string) {
	if l.metrics != nil {
		l.metrics.rung(l.agent, k, t, outcome)
	}
}

// RulesVia returns a RulesRung that answers in with the rules engine,
// calling tools through tools (rules.RunnerTools of the run's tool
// runner, so that the calls count against the run's budget and go
// through the breakers). in.Lang, when empty, becomes the climb's
// language. Any rules answer counts, including one that asks for a
// missing order number or explains a tool's domain error ("there is no
// order 999999"); a *rules.NoAnswer moves the climb on.
func RulesVia(tools rules.ToolCaller, in rules.Input) RulesRung {
	return func(ctx context.Context, r *rules.Rules, lang string) (string, error) {
		if r == nil {
			return "", errors.New("degrade: no rules")
		}
		q := in
		if q.Lang == "" {
			q.Lang = lang
		}
		a, err := r.Answer(ctx, tools, q)
		if err != nil {
			return "", err
		}
		return a.Text, nil
	}
}

// TicketOpener opens handoff tickets and words their acknowledgement;
// *handoff.Service satisfies it.
type TicketOpener interface {
	Open(ctx context.Context, t handoff.Ticket) (handoff.Ticket, error)
	Ack(t handoff.Ticket) string
}

// HandoffVia returns a HandoffRung that opens a ticket with svc: t
// carries the tenant, session, user, agent, summary, pinned facts and
// last turns (handoff.CompactTurns); the rung sets its reason, priority
// and language. The answer is the ticket's acknowledgement. Opening is
// idempotent per session, so a session already handed off gets its
// open ticket's acknowledgement.
func HandoffVia(svc TicketOpener, t handoff.Ticket) HandoffRung {
	return func(ctx context.Context, req HandoffRequest) (string, error) {
		tk := t
		tk.Reason, tk.Priority, tk.Lang = req.Reason, req.Priority, req.Lang
		opened, err := svc.Open(ctx, tk)
		if err != nil {
			return "", fmt.Errorf("open handoff ticket: %w", err)
		}
		return svc.Ack(opened), nil
	}
}
