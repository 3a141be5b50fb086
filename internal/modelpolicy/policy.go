package modelpolicy

import (
	"slices"
	"time"

	"github.com/floodgate-dev/floodgate/internal/intent"
)

// Reason says why a model was chosen. The set is fixed, so it can be a
// metric label.
type Reason string

// Reasons, in the order Choose considers them.
const (
	// ReasonBudget: the tenant is past its soft budget limit.
	ReasonBudget Reason = "budget_downgrade"
	// ReasonEscalatedToolError, ReasonEscalatedLowConfidence and
	// ReasonEscalatedRepeat: a smaller model answered the previous turn
	// and a tool call failed, the answer was unsure, or the user asked
	// again.
	ReasonEscalatedToolError     Reason = "escalated_tool_error"
	ReasonEscalatedLowConfidence Reason = "escalated_low_confidence"
	ReasonEscalatedRepeat        Reason = "escalated_repeat"
	// ReasonTier: the tenant's tier is pinned to a model.
	ReasonTier Reason = "tier"
	// ReasonPeak: the node is at peak load and the tier is downgraded.
	ReasonPeak Reason = "peak_tier"
	// ReasonWindow: a time window applies (Decision.Window names it).
	ReasonWindow Reason = "time_window"
	// ReasonSimple, ReasonStandard and ReasonComplex: the message's class.
	ReasonSimple   Reason = "simple_intent"
	ReasonStandard Reason = "standard_intent"
	ReasonComplex  Reason = "complex_intent"
	// ReasonDefault: nothing else applied (the message is unclassified).
	ReasonDefault Reason = "default"
	// ReasonTierRestricted: the chosen model is not one the tier may use,
	// so another was taken.
	ReasonTierRestricted Reason = "tier_restricted"
)

// Reasons returns every reason, e.g. to initialise metric series.
func Reasons() []Reason {
	return []Reason{ReasonBudget, ReasonEscalatedToolError, ReasonEscalatedLowConfidence, ReasonEscalatedRepeat,
		ReasonTier, ReasonPeak, ReasonWindow, ReasonSimple, ReasonStandard, ReasonComplex, ReasonDefault,
		ReasonTierRestricted}
}

var complexityReasons = [4]Reason{ReasonDefault, ReasonSimple, ReasonStandard, ReasonComplex}

// Input is what a model choice depends on.
type Input struct {
	// Complexity of the turn (from internal/intent); "" when unclassified.
	Complexity intent.Complexity
	// Tier of the tenant, e.g. free, standard, vip.
	Tier string
	// Load of the node in [0, 1], e.g. admission queue utilisation.
	Load float64
	// Now is the time of the request; the zero value means time.Now().
	Now time.Time
	// BudgetDowngrade: the tenant is past its soft budget limit.
	BudgetDowngrade bool
	// Previous is how the previous turn of the conversation went.
	Previous Previous
	// UserText is the user's message of this turn; with
	// Previous.UserText it detects a repeated question.
	UserText string
	// AllowedModels are the models the tenant's tier may use; empty means
	// all.
	AllowedModels []string
}

// Previous is the outcome of the previous turn, as the checks after it
// judged it.
type Previous struct {
	// Model that answered it; "" when there was none.
	Model string
	// ToolError: a tool call of the turn failed.
	ToolError bool
	// LowConfidence: the answer was judged unsure (by whatever check the
	// caller runs, e.g. the model said it could not help).
	LowConfidence bool
	// Repeated: the user's new message repeats the previous one. Set it,
	// or give UserText and Input.UserText and the policy compares them.
	Repeated bool
	// UserText is the user's message of the previous turn.
	UserText string
}

// Decision is the chosen model and why.
type Decision struct {
	Model  string
	Reason Reason
	// Window is the name of the time window that decided, or "".
	Window string
}

// Policy chooses the model of each turn for one agent. It is immutable and
// safe for concurrent use.
type Policy struct {
	small, large string
	byComplexity [4]string // by intent.Complexity.Rank()
	tiers        map[string]string
	peakLoad     float64
	peakTiers    map[string]bool
	peakModel    string
	loc          *time.Location
	windows      []window
	escalate     bool
	escModel     string
	similarity   float64
}

// New validates cfg and returns its policy.
func New(cfg Config) (*Policy, error) {
	return cfg.compile()
}

// Models returns every model the policy may choose, sorted, so that the
// caller can check them against the models it serves.
func (p *Policy) Models() []string {
	ms := []string{p.small, p.large, p.peakModel, p.escModel}
	ms = append(ms, p.byComplexity[:]...)
	for _, m := range p.tiers {
		ms = append(ms, m)
	}
	for _, w := range p.windows {
		ms = append(ms, w.model)
	}
	slices.Sort(ms)
	return slices.Compact(ms)
}

// Choose picks the model of one turn. The first rule that applies wins:
//
//  1. past the soft budget limit: the small model (budget_downgrade);
//  2. escalation: a model other than the escalation model answered the
//     previous turn and it failed a check: the escalation model
//     (escalated_tool_error, escalated_low_confidence, escalated_repeat);
//  3. a tier pinned to a model: that model (tier);
//  4. load at or above peak.load for a peak tier: peak.model (peak_tier);
//  5. the first time window that covers the time, the tier and the
//     complexity: its model (time_window);
//  6. the complexity class: its model (simple_intent, standard_intent,
//     complex_intent), or the large model when unclassified (default).
//
// When the tier may not use the chosen model (AllowedModels), the small
// or else the large model or else the first allowed one is taken instead
// (tier_restricted).
func (p *Policy) Choose(in Input) Decision {
	d := p.choose(in)
	if len(in.AllowedModels) == 0 || slices.Contains(in.AllowedModels, d.Model) {
		return d
	}
	for _, m := range [2]string{p.small, p.large} {
		if slices.Contains(in.AllowedModels, m) {
			return Decision{Model: m, Reason: ReasonTierRestricted}
		}
	}
	return Decision{Model: in.AllowedModels[0], Reason: ReasonTierRestricted}
}

func (p *Policy) choose(in Input) Decision {
	if in.BudgetDowngrade {
		return Decision{Model: p.small, Reason: ReasonBudget}
	}
	if r, ok := p.escalation(in); ok {
		return Decision{Model: p.escModel, Reason: r}
	}
	if m, ok := p.tiers[in.Tier]; ok {
		return Decision{Model: m, Reason: ReasonTier}
	}
	if p.peakLoad > 0 && in.Load >= p.peakLoad && p.peakTiers[in.Tier] {
		return Decision{Model: p.peakModel, Reason: ReasonPeak}
	}
	rank := in.Complexity.Rank()
	if len(p.windows) > 0 {
		now := in.Now
		if now.IsZero() {
			now = time.Now()
		}
		local := now.In(p.loc)
		for i := range p.windows {
			w := &p.windows[i]
			if rank <= w.maxRank && (len(w.tiers) == 0 || w.tiers[in.Tier]) && w.active(local) {
				return Decision{Model: w.model, Reason: ReasonWindow, Window: w.name}
			}
		}
	}
	return Decision{Model: p.byComplexity[rank], Reason: complexityReasons[rank]}
}

// escalation reports whether the previous turn's failure escalates this
// one, and why.
func (p *Policy) escalation(in Input) (Reason, bool) {
	prev := in.Previous
	if !p.escalate || prev.Model == "" || prev.Model == p.escModel {
		return "", false
	}
	switch {
	case prev.ToolError:
		return ReasonEscalatedToolError, true
	case prev.LowConfidence:
		return ReasonEscalatedLowConfidence, true
	case prev.Repeated || prev.UserText != "" && p.Repeats(prev.UserText, in.UserText):
		return ReasonEscalatedRepeat, true
	}
	return "", false
}

// Repeats reports whether text repeats previous: their Similarity is at
// least the configured escalation.repeat_similarity.
func (p *Policy) Repeats(previous, text string) bool {
	return Similarity(previous, text) >= p.similarity
}
