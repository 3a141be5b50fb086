package degrade

import (
	"fmt"
	"slices"
	"time"

	"github.com/floodgate-dev/floodgate/internal/rules"
)

// Options are what a Ladder needs besides its Config.
type Options struct {
	// Agent names the agent in metrics.
	Agent string
	// SmallModel is the model of the default ladder's model rung; ""
	// leaves that rung out. Used only when the Config has no rungs.
	SmallModel string
	// Rules answer on rules rungs without a file. Default: rules.Default()
	// (the demo shop's rules).
	Rules *rules.Rules
	// LoadRules loads a rules rung's file. Default rules.LoadFile.
	LoadRules func(path string) (*rules.Rules, error)
	// Metrics, if set, counts the rungs tried.
	Metrics *Metrics
	// Now is the clock of the attempts' durations. Default time.Now.
	Now func() time.Time
}

// Ladder is one agent's compiled degradation ladder. It is immutable and
// safe for concurrent use; it owns no goroutine.
type Ladder struct {
	agent   string
	rungs   []rung
	final   rung // the built-in apology, when no message rung handles a trigger
	metrics *Metrics
	now     func() time.Time
}

// rung is a compiled Rung.
type rung struct {
	kind        Kind
	index       int
	triggers    uint32 // bit i: Triggers[i]
	intents     []string
	skipIntents []string
	timeout     time.Duration
	model       string
	rules       *rules.Rules
	priorities  map[string]int
	priority    int
	texts       map[string]string
}

// New validates cfg and compiles it: it loads the rules files of its
// rules rungs. A Config without rungs gets DefaultRungs(opts.SmallModel).
func New(cfg Config, opts Options) (*Ladder, error) {
	if err := cfg.Validate("degrade"); err != nil {
		return nil, err
	}
	rs := cfg.Rungs
	if len(rs) == 0 {
		rs = DefaultRungs(opts.SmallModel)
	}
	if opts.LoadRules == nil {
		opts.LoadRules = rules.LoadFile
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Ladder{agent: opts.Agent, metrics: opts.Metrics, now: opts.Now, rungs: make([]rung, len(rs))}
	for i := range rs {
		r := &rs[i]
		c := rung{kind: r.Kind, index: i, intents: slices.Clone(r.Intents), skipIntents: slices.Clone(r.SkipIntents),
			timeout: r.Timeout, model: r.Model}
		if len(r.Triggers) == 0 {
			c.triggers = 1<<len(Triggers) - 1
		}
		for _, t := range r.Triggers {
			c.triggers |= 1 << triggerIndex(t)
		}
		switch r.Kind {
		case KindRules:
			if c.timeout == 0 {
				c.timeout = DefaultRulesTimeout
			}
			var err error
			switch {
			case r.File != "":
				if c.rules, err = opts.LoadRules(r.File); err != nil {
					return nil, fmt.Errorf("degrade.rungs[%d].file: %w", i, err)
				}
			case opts.Rules != nil:
				c.rules = opts.Rules
			default:
				if c.rules, err = rules.Default(); err != nil {
					return nil, fmt.Errorf("degrade: built-in rules: %w", err)
				}
			}
		case KindHandoff:
			if c.timeout == 0 {
				c.timeout = DefaultHandoffTimeout
			}
			c.priorities = r.Priorities
			if c.priorities == nil {
				c.priorities = DefaultPriorities
			}
			c.priority = r.Priority
			if c.priority == 0 {
				c.priority = DefaultPriority
			}
		case KindMessage:
			c.texts = messageTexts(r)
		}
		l.rungs[i] = c
	}
	l.final = rung{kind: KindMessage, index: len(rs), triggers: 1<<len(Triggers) - 1,
		texts: messageTexts(&Rung{Kind: KindMessage})}
	return l, nil
}

// Situation is what the ladder decides on.
type Situation struct {
	// Trigger is why the run left the normal path. An unknown trigger
	// goes straight to the final message.
	Trigger Trigger
	// Intent is the intent classifier's answer; "" when none ran.
	Intent string
	// Message is the user's message, for DetectLang.
	Message string
	// Lang is the user's language; "" detects it from Message, falling
	// back to DefaultLang.
	Lang string
	// DefaultLang is the tenant's configured language ("" = en).
	DefaultLang string
	// Tier is the tenant's tier, for the handoff priority.
	Tier string
	// Handoff reports that a handoff service is configured; without one,
	// handoff rungs are skipped.
	Handoff bool
	// FailedModel is the model whose failure triggered the climb, if any:
	// a model rung naming it is skipped rather than asked again.
	FailedModel string
}

// Step is a rung the ladder chose.
type Step struct {
	// Index is the rung's position in the ladder; Final() for the
	// built-in apology that ends a climb no message rung ends.
	Index int
	Kind  Kind
	// Model is a model rung's model.
	Model string
	// Rules is a rules rung's rule set.
	Rules *rules.Rules
	// Timeout bounds the rung's work (0: the climb's context alone).
	Timeout time.Duration
	r       *rung
}

// Priority returns a handoff step's ticket priority for the tier.
func (s Step) Priority(tier string) int {
	if s.r == nil {
		return DefaultPriority
	}
	if p, ok := s.r.priorities[tier]; ok {
		return p
	}
	return s.r.priority
}

// Text returns a message step's text in lang (a primary subtag), falling
// back as Rung.Text says; "" for other kinds.
func (s Step) Text(lang string) string {
	if s.r == nil || s.r.texts == nil {
		return ""
	}
	if t, ok := s.r.texts[lang]; ok {
		return t
	}
	return s.r.texts[""]
}

// Final is the Index of the built-in apology: the number of rungs.
func (l *Ladder) Final() int { return len(l.rungs) }

// Rungs returns the number of configured rungs (defaults included).
func (l *Ladder) Rungs() int { return len(l.rungs) }

// Next returns the first rung after the rung at index after (-1 to
// start) that handles s: its triggers include s.Trigger, its intent
// filters admit s.Intent, a handoff rung only with s.Handoff, a model
// rung only for a model other than s.FailedModel. When none is left it
// returns the final message, so a climb that follows Next always ends on
// a message rung.
func (l *Ladder) Next(s *Situation, after int) Step {
	ti := triggerIndex(s.Trigger)
	for i := max(after+1, 0); ti >= 0 && i < len(l.rungs); i++ {
		r := &l.rungs[i]
		if r.admits(s, ti) {
			return r.step()
		}
	}
	return l.final.step()
}

// Plan returns the rungs a climb for s tries when every one fails, in
// order, ending on a message.
func (l *Ladder) Plan(s *Situation) []Step {
	var plan []Step
	for st := l.Next(s, -1); ; st = l.Next(s, st.Index) {
		plan = append(plan, st)
		if st.Kind == KindMessage {
			return plan
		}
	}
}

func (r *rung) step() Step {
	return Step{Index: r.index, Kind: r.kind, Model: r.model, Rules: r.rules, Timeout: r.timeout, r: r}
}

func (r *rung) admits(s *Situation, ti int) bool {
	if r.triggers&(1<<ti) == 0 {
		return false
	}
	if len(r.intents) > 0 && !slices.Contains(r.intents, s.Intent) {
		return false
	}
	if s.Intent != "" && slices.Contains(r.skipIntents, s.Intent) {
		return false
	}
	switch r.kind {
	case KindHandoff:
		return s.Handoff
	case KindModel:
		return r.model != s.FailedModel
	}
	return true
}

// HandoffPriority returns the ticket priority of tier on the ladder's
// first handoff rung, or the built-in priorities when it has none: the
// priority of a ticket the agent files itself (escalate_to_human).
func (l *Ladder) HandoffPriority(tier string) int {
	if l != nil {
		for i := range l.rungs {
			if r := &l.rungs[i]; r.kind == KindHandoff {
				return r.step().Priority(tier)
			}
		}
	}
	if p, ok := DefaultPriorities[tier]; ok {
		return p
	}
	return DefaultPriority
}
