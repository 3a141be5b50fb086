package promptfilter

import (
	"fmt"
	"time"
)

// Action is what the filter does with a text it judges to be an injection.
type Action string

// Actions. ActionBlock, ActionFlag, ActionSanitise and ActionOff are the
// choices for user input; ActionQuarantine, ActionBlock, ActionFlag and
// ActionOff for tool results. ActionAllow is a verdict only.
const (
	// ActionAllow: nothing to do (nothing found, or the filter is off).
	ActionAllow Action = "allow"
	// ActionBlock refuses: a request gets the OpenAI error code
	// "content_filter" with status 400 (Verdict.Err); a tool result is
	// withheld from the model and replaced by a notice.
	ActionBlock Action = "block"
	// ActionFlag lets the text through unchanged and reports the finding.
	ActionFlag Action = "flag"
	// ActionSanitise removes the offending spans (the sentence of a
	// matched phrase, a delimiter, an encoded payload) and lets the rest
	// through. "sanitize" is accepted as the same.
	ActionSanitise Action = "sanitise"
	// ActionQuarantine passes a tool result to the model as quoted,
	// neutralised data under a notice that it is not instructions
	// (Quarantine). Tool results only.
	ActionQuarantine Action = "quarantine"
	// ActionOff does not scan.
	ActionOff Action = "off"
)

// Defaults.
const (
	// DefaultThreshold is the score at or above which a text is treated as
	// an injection.
	DefaultThreshold = 0.5
	// DefaultGuardLow and DefaultGuardHigh bound the uncertain band in
	// which the classifier stage is asked.
	DefaultGuardLow  = 0.3
	DefaultGuardHigh = 0.8
	// DefaultGuardTimeout bounds one classifier call.
	DefaultGuardTimeout = 1500 * time.Millisecond
	// DefaultGuardMaxInFlight bounds concurrent classifier calls.
	DefaultGuardMaxInFlight = 32
	// DefaultGuardMaxInputBytes bounds the text sent to the classifier.
	DefaultGuardMaxInputBytes = 4 << 10
)

// Fail policies of the classifier stage.
const (
	// FailOpen keeps the rule verdict when the classifier fails, times out
	// or is saturated: a score in the band below the threshold passes.
	FailOpen = "open"
	// FailClosed treats a text whose classification failed as an
	// injection.
	FailClosed = "closed"
)

// Config configures a Filter. The zero value is usable: every tenant
// blocks injections in user input and quarantines them in tool results at
// DefaultThreshold, with no classifier stage.
type Config struct {
	// Default is the policy of every tenant that Tenants does not name.
	Default Policy `yaml:"default"`
	// Tenants overrides Default per tenant id; a field left zero inherits
	// Default's value.
	Tenants map[string]Policy `yaml:"tenants"`
	// MaxScanBytes caps how much of one text is scanned. A longer text is
	// scanned in its first three quarters and last quarter of that many
	// bytes (Result.Truncated is set); the bytes between are not looked
	// at. Decoded payloads count against the same budget. Default 32 KiB,
	// which keeps a scan under a few milliseconds.
	MaxScanBytes int `yaml:"max_scan_bytes"`
	// Guard configures the optional classifier stage.
	Guard GuardConfig `yaml:"guard"`
	// OnFinding, if set, is called for every text that was judged an
	// injection or sent to the classifier (metrics, logs). It runs on the
	// request's goroutine and must be quick.
	OnFinding func(Finding) `yaml:"-"`
}

// Policy is what the filter does for one tenant.
type Policy struct {
	// Action for user input: ActionBlock (default), ActionFlag,
	// ActionSanitise or ActionOff.
	Action Action `yaml:"action"`
	// ToolAction for tool results: ActionQuarantine (default),
	// ActionBlock, ActionFlag or ActionOff.
	ToolAction Action `yaml:"tool_action"`
	// Threshold is the score at or above which a text is an injection, in
	// (0, 1]. Default DefaultThreshold. Lower catches more and flags more
	// ordinary messages.
	Threshold float64 `yaml:"threshold"`
	// Guard enables the classifier stage for this tenant when one is
	// configured. Default true.
	Guard *bool `yaml:"guard"`
}

// GuardConfig configures the classifier stage: when a text's rule score
// falls in [Low, High), a model configured as a guard decides. It is off
// unless Model is set and New is given a Completer.
type GuardConfig struct {
	// Model is the model name sent to the guard endpoint (any
	// OpenAI-compatible chat model). Empty: no classifier stage.
	Model string `yaml:"model"`
	// Low and High bound the uncertain band. Defaults DefaultGuardLow and
	// DefaultGuardHigh. Every tenant's threshold must lie within them.
	Low  float64 `yaml:"low"`
	High float64 `yaml:"high"`
	// Timeout bounds one call. Default DefaultGuardTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// FailPolicy is FailOpen (default) or FailClosed: what a timeout, an
	// error, an unreadable answer or a saturated stage means.
	FailPolicy string `yaml:"fail_policy"`
	// MaxInFlight bounds concurrent calls; beyond it the fail policy
	// applies at once, so a slow guard cannot hold requests. Default
	// DefaultGuardMaxInFlight.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxInputBytes bounds the text sent (its head). Default
	// DefaultGuardMaxInputBytes.
	MaxInputBytes int `yaml:"max_input_bytes"`
	// Prompt replaces the built-in system prompt of the guard. It must ask
	// for a one-word answer, INJECTION or SAFE.
	Prompt string `yaml:"prompt"`
}

// normalise fills in defaults and validates c.
func (c *Config) normalise() error {
	if c.MaxScanBytes <= 0 {
		c.MaxScanBytes = DefaultMaxScanBytes
	}
	g := &c.Guard
	if g.Low == 0 && g.High == 0 {
		g.Low, g.High = DefaultGuardLow, DefaultGuardHigh
	}
	if g.Timeout <= 0 {
		g.Timeout = DefaultGuardTimeout
	}
	if g.FailPolicy == "" {
		g.FailPolicy = FailOpen
	}
	if g.MaxInFlight <= 0 {
		g.MaxInFlight = DefaultGuardMaxInFlight
	}
	if g.MaxInputBytes <= 0 {
		g.MaxInputBytes = DefaultGuardMaxInputBytes
	}
	if g.FailPolicy != FailOpen && g.FailPolicy != FailClosed {
		return fmt.Errorf("guard.fail_policy: %q is not %q or %q", g.FailPolicy, FailOpen, FailClosed)
	}
	if g.Low < 0 || g.High > 1 || g.Low >= g.High {
		return fmt.Errorf("guard: band [%v, %v) is not within [0, 1] or is empty", g.Low, g.High)
	}
	def, err := c.Default.merge(Policy{Action: ActionBlock, ToolAction: ActionQuarantine, Threshold: DefaultThreshold})
	if err != nil {
		return fmt.Errorf("default: %w", err)
	}
	c.Default = def
	if err := c.checkBand("default", def); err != nil {
		return err
	}
	for id, p := range c.Tenants {
		m, err := p.merge(def)
		if err != nil {
			return fmt.Errorf("tenants.%s: %w", id, err)
		}
		if err := c.checkBand("tenants."+id, m); err != nil {
			return err
		}
		c.Tenants[id] = m
	}
	return nil
}

func (c *Config) checkBand(path string, p Policy) error {
	if c.Guard.Model != "" && (p.Threshold < c.Guard.Low || p.Threshold > c.Guard.High) {
		return fmt.Errorf("%s.threshold: %v is outside the guard band [%v, %v]", path, p.Threshold, c.Guard.Low, c.Guard.High)
	}
	return nil
}

// merge fills p's zero fields from def and validates the result.
func (p Policy) merge(def Policy) (Policy, error) {
	if p.Action == "" {
		p.Action = def.Action
	}
	if p.Action == "sanitize" {
		p.Action = ActionSanitise
	}
	if p.ToolAction == "" {
		p.ToolAction = def.ToolAction
	}
	if p.Threshold == 0 {
		p.Threshold = def.Threshold
	}
	if p.Guard == nil {
		p.Guard = def.Guard
	}
	switch p.Action {
	case ActionBlock, ActionFlag, ActionSanitise, ActionOff:
	default:
		return p, fmt.Errorf("action: %q is not block, flag, sanitise or off", p.Action)
	}
	switch p.ToolAction {
	case ActionQuarantine, ActionBlock, ActionFlag, ActionOff:
	default:
		return p, fmt.Errorf("tool_action: %q is not quarantine, block, flag or off", p.ToolAction)
	}
	if p.Threshold <= 0 || p.Threshold > 1 {
		return p, fmt.Errorf("threshold: %v is not in (0, 1]", p.Threshold)
	}
	return p, nil
}

func (p Policy) guardOn() bool { return p.Guard == nil || *p.Guard }
