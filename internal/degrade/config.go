package degrade

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/floodgate-dev/floodgate/internal/intent"
)

// Config is one agent's degradation ladder and output checks: the
// agent's `degrade` section. The zero value is the default ladder
// (DefaultRungs) and no checks.
type Config struct {
	// Rungs are the ladder, in order: for a trigger, the rungs that
	// handle it are tried top to bottom until one answers, and a climb
	// always ends on a message (the built-in apology when no message rung
	// handles the trigger). Empty: DefaultRungs of the agent's small
	// model.
	Rungs []Rung `yaml:"rungs" json:"rungs,omitempty"`
	// Checks are the output checks on the model's final answer. The zero
	// value checks nothing.
	Checks Checks `yaml:"checks" json:"checks,omitzero"`
}

// Rung is one rung of a ladder. Fields that do not belong to the rung's
// Kind are errors.
type Rung struct {
	// Kind is model, rules, handoff or message. Required.
	Kind Kind `yaml:"kind" json:"kind"`
	// Triggers are the triggers the rung handles. Empty: every trigger.
	Triggers []Trigger `yaml:"triggers" json:"triggers,omitempty"`
	// Intents, if set, restrict the rung to messages the intent
	// classifier put in one of them (a message with no intent is not in
	// any).
	Intents []string `yaml:"intents" json:"intents,omitempty"`
	// SkipIntents are intents the rung is not for: the default handoff
	// rung skips order questions, which the rules engine answers.
	SkipIntents []string `yaml:"skip_intents" json:"skip_intents,omitempty"`
	// Timeout bounds the rung's work within the climb's context. 0: the
	// context alone for model rungs, DefaultRulesTimeout for rules,
	// DefaultHandoffTimeout for handoff; message rungs take no time.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`

	// Model (model rungs, required) is the model to ask, a name of the
	// configuration's models. A model rung naming the model that just
	// failed (Situation.FailedModel) is skipped.
	Model string `yaml:"model" json:"model,omitempty"`

	// File (rules rungs) is a rules file (internal/rules' format). Empty:
	// the agent's rule set (Options.Rules, by default the built-in shop
	// rules).
	File string `yaml:"file" json:"file,omitempty"`

	// Priorities (handoff rungs) give the ticket's priority by the
	// tenant's tier; higher is served first. Default DefaultPriorities.
	Priorities map[string]int `yaml:"priorities" json:"priorities,omitempty"`
	// Priority (handoff rungs) is the priority of a tier not in
	// Priorities. 0: DefaultPriority.
	Priority int `yaml:"priority" json:"priority,omitempty"`

	// Preset (message rungs) is the built-in text set the message falls
	// back to: apology (the default: something went wrong, try again
	// later) or refusal (for prompt_filter_block: we cannot help with
	// that, rephrase).
	Preset string `yaml:"preset" json:"preset,omitempty"`
	// Text (message rungs) is the message by language ("en", "de"),
	// added to or overriding the preset's. A language in neither is
	// answered in the custom English text, else the preset's English.
	Text map[string]string `yaml:"text" json:"text,omitempty"`
}

// Message presets.
const (
	PresetApology = "apology"
	PresetRefusal = "refusal"
)

// Defaults of a Rung.
const (
	DefaultRulesTimeout   = 2 * time.Second
	DefaultHandoffTimeout = 5 * time.Second
	DefaultPriority       = 50
)

// DefaultPriorities are the handoff priorities of the built-in tiers.
var DefaultPriorities = map[string]int{"vip": 100, "standard": 50, "free": 10}

// orderIntents are the intents the rules engine answers, which the default
// ladder does not hand to people.
var orderIntents = []string{intent.OrderStatus, intent.ShipmentTracking}

// DefaultRungs is the ladder of an agent that configures none.
//
//	model error, no healthy endpoint: small model → rules → handoff → message
//	deadline, budget exhausted, shed:  rules → message
//	tool breaker open:                 rules → handoff → message
//	tool budget spent:                 handoff → message
//	output check failed:               rules → message
//	prompt filter block:               message (the refusal)
//
// Handoff rungs skip order questions (the rules engine answers those)
// and are skipped when no handoff service is configured. The model rung
// is left out when smallModel is "". Rules rungs are fast and call tools,
// not models, which is why they serve the triggers that forbid a model
// call.
func DefaultRungs(smallModel string) []Rung {
	var rungs []Rung
	if smallModel != "" {
		rungs = append(rungs, Rung{Kind: KindModel, Model: smallModel, Triggers: []Trigger{NoHealthyEndpoint, ModelError}})
	}
	return append(rungs,
		Rung{Kind: KindRules, Triggers: []Trigger{
			NoHealthyEndpoint, ModelError, Deadline, BudgetExhausted, Shed, ToolBreakerOpen, OutputCheckFailed}},
		Rung{Kind: KindHandoff, Triggers: []Trigger{NoHealthyEndpoint, ModelError, ToolBreakerOpen, ToolBudgetSpent},
			SkipIntents: slices.Clone(orderIntents)},
		Rung{Kind: KindMessage, Preset: PresetRefusal, Triggers: []Trigger{PromptFilterBlock}},
		Rung{Kind: KindMessage, Preset: PresetApology},
	)
}

// Limits on a configuration.
const (
	// MaxRungs caps a ladder's length.
	MaxRungs = 32
	// MaxMessageBytes caps a message rung's text in one language.
	MaxMessageBytes = 2000
	// MaxConfigBytes caps what ParseConfig reads.
	MaxConfigBytes = 1 << 20
)

// Problem is one thing wrong with a Config: the path of the field
// ("agents[0].degrade.rungs[2].model") and what is wrong with it.
type Problem struct {
	Path    string
	Message string
}

// ValidationError lists every problem of a Config. internal/config can
// range over Problems to report each under its own path.
type ValidationError struct {
	Problems []Problem
}

// Error implements error: one problem per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Path)
		b.WriteString(": ")
		b.WriteString(p.Message)
	}
	return b.String()
}

type validator struct{ problems []Problem }

func (v *validator) bad(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// Validate checks c; prefix is the path of the section ("" or
// "agents[0].degrade"). It returns a *ValidationError listing every
// problem, or nil. It reads no file: a rules rung's file is loaded by New.
func (c *Config) Validate(prefix string) error {
	v := &validator{}
	c.validate(prefix, v)
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func (c *Config) validate(prefix string, v *validator) {
	if len(c.Rungs) > MaxRungs {
		v.bad(join(prefix, "rungs"), "%d rungs; at most %d", len(c.Rungs), MaxRungs)
	}
	// covered[t] says an earlier message rung without an intent filter
	// answers trigger t, so no later rung can be reached for it.
	var covered [16]bool
	for i := range c.Rungs {
		if i >= MaxRungs {
			break
		}
		p := fmt.Sprintf("%s[%d]", join(prefix, "rungs"), i)
		r := &c.Rungs[i]
		r.validate(p, v)
		handles := r.Triggers
		if len(handles) == 0 {
			handles = Triggers
		}
		reachable := false
		for _, t := range handles {
			if ti := triggerIndex(t); ti < 0 || !covered[ti] {
				reachable = true
			}
		}
		if !reachable {
			v.bad(p, "unreachable: earlier message rungs answer every trigger it handles")
		}
		if r.Kind == KindMessage && len(r.Intents) == 0 && len(r.SkipIntents) == 0 {
			for _, t := range handles {
				if ti := triggerIndex(t); ti >= 0 {
					covered[ti] = true
				}
			}
		}
	}
	c.Checks.validate(join(prefix, "checks"), v)
}

func (r *Rung) validate(p string, v *validator) {
	if kindIndex(r.Kind) < 0 {
		v.bad(p+".kind", "unknown kind %q; want model, rules, handoff or message", r.Kind)
	}
	seen := map[Trigger]bool{}
	for j, t := range r.Triggers {
		tp := fmt.Sprintf("%s.triggers[%d]", p, j)
		switch {
		case !t.Valid():
			v.bad(tp, "unknown trigger %q; want one of %s", t, triggerList())
		case seen[t]:
			v.bad(tp, "trigger %q listed twice", t)
		}
		seen[t] = true
	}
	checkNames := func(field string, names []string) {
		for j, n := range names {
			if strings.TrimSpace(n) == "" {
				v.bad(fmt.Sprintf("%s.%s[%d]", p, field, j), "empty intent")
			}
		}
	}
	checkNames("intents", r.Intents)
	checkNames("skip_intents", r.SkipIntents)
	for _, n := range r.Intents {
		if slices.Contains(r.SkipIntents, n) {
			v.bad(p+".skip_intents", "intent %q is both in intents and skip_intents", n)
		}
	}
	if r.Timeout < 0 {
		v.bad(p+".timeout", "must not be negative")
	}
	if r.Kind == KindMessage && r.Timeout != 0 {
		v.bad(p+".timeout", "a message rung takes no time; remove the timeout")
	}

	only := func(field string, set bool, kind Kind) {
		if set && r.Kind != kind && kindIndex(r.Kind) >= 0 {
			v.bad(p+"."+field, "only %s rungs have a %s", kind, field)
		}
	}
	only("model", r.Model != "", KindModel)
	only("file", r.File != "", KindRules)
	only("priorities", r.Priorities != nil, KindHandoff)
	only("priority", r.Priority != 0, KindHandoff)
	only("preset", r.Preset != "", KindMessage)
	only("text", r.Text != nil, KindMessage)

	switch r.Kind {
	case KindModel:
		if strings.TrimSpace(r.Model) == "" {
			v.bad(p+".model", "a model rung needs a model")
		}
	case KindRules:
		if r.File != "" && strings.TrimSpace(r.File) != r.File {
			v.bad(p+".file", "the path has leading or trailing spaces")
		}
	case KindHandoff:
		if r.Priority < 0 {
			v.bad(p+".priority", "must not be negative")
		}
		for _, tier := range sortedKeys(r.Priorities) {
			if tier == "" {
				v.bad(p+".priorities", "empty tier name")
			}
			if r.Priorities[tier] < 0 {
				v.bad(p+".priorities."+tier, "must not be negative")
			}
		}
	case KindMessage:
		if r.Preset != "" && r.Preset != PresetApology && r.Preset != PresetRefusal {
			v.bad(p+".preset", "unknown preset %q; want apology or refusal", r.Preset)
		}
		for _, lang := range sortedKeys(r.Text) {
			tp := p + ".text." + lang
			switch text := r.Text[lang]; {
			case !validLang(lang):
				v.bad(tp, "not a language code: want 2 or 3 lower-case letters (en, de)")
			case strings.TrimSpace(text) == "":
				v.bad(tp, "empty message")
			case len(text) > MaxMessageBytes:
				v.bad(tp, "the message is %d bytes; at most %d", len(text), MaxMessageBytes)
			}
		}
	}
}

func triggerList() string {
	s := make([]string, len(Triggers))
	for i, t := range Triggers {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func validLang(s string) bool {
	if len(s) < 2 || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// ParseConfig decodes a `degrade` section strictly (an unknown key is an
// error) and validates it. It is what `floodgate config check` and the
// fuzz target exercise; internal/config decodes the section as part of
// the whole file and calls Validate.
func ParseConfig(b []byte) (Config, error) {
	var c Config
	if len(b) > MaxConfigBytes {
		return c, fmt.Errorf("degrade: the configuration is larger than %d bytes", MaxConfigBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, nil // an empty section: the defaults
		}
		return Config{}, fmt.Errorf("degrade: %w", err)
	}
	if err := c.Validate(""); err != nil {
		return Config{}, err
	}
	return c, nil
}

// compileOrderPatterns compiles the order-number patterns, or the
// default's scanner when none are given.
func compileOrderPatterns(ps []string) ([]idFinder, error) {
	if len(ps) == 0 {
		return []idFinder{{}}, nil
	}
	fs := make([]idFinder, 0, len(ps))
	for i, p := range ps {
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("order_patterns[%d]: %w", i, err)
		}
		fs = append(fs, idFinder{re: re})
	}
	return fs, nil
}
