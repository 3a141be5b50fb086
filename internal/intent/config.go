package intent

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Complexity is how hard a message is to answer well: it picks the model
// tier (see internal/modelpolicy). The zero value "" means unknown.
type Complexity string

// Complexity classes, in increasing order.
const (
	Simple   Complexity = "simple"
	Standard Complexity = "standard"
	Complex  Complexity = "complex"
)

// Rank orders the classes: 0 unknown, 1 simple, 2 standard, 3 complex.
func (c Complexity) Rank() int {
	switch c {
	case Simple:
		return 1
	case Standard:
		return 2
	case Complex:
		return 3
	}
	return 0
}

// ParseComplexity parses "simple", "standard" or "complex".
func ParseComplexity(s string) (Complexity, error) {
	c := Complexity(s)
	if c.Rank() == 0 {
		return "", fmt.Errorf("unknown complexity %q (want simple, standard or complex)", s)
	}
	return c, nil
}

// atLeast returns the higher of c and d.
func atLeast(c, d Complexity) Complexity {
	if d.Rank() > c.Rank() {
		return d
	}
	return c
}

// Config is one agent's intent classification. The zero value classifies
// with the built-in customer-service intents, no model stage and a cache of
// DefaultCacheSize turns. It has yaml tags so that internal/config can
// embed it in an agent's configuration.
type Config struct {
	// Builtin starts from the built-in customer-service intents
	// (order_status, shipment_tracking, return_refund, product_question,
	// small_talk, account, complaint, other; see Builtin). Default true.
	Builtin *bool `yaml:"builtin"`
	// Intents are added to the built-in ones; an entry named like a
	// built-in intent extends it (its keywords, hints, patterns and absorbs
	// are appended; a description or complexity replaces the built-in one).
	// With builtin: false they are the whole set, in priority order.
	Intents []IntentConfig `yaml:"intents"`
	// Fallback is the intent of a message no rule matches. Default "other"
	// with the built-in intents, else the last intent.
	Fallback string `yaml:"fallback"`
	// Threshold is the confidence under which the rules are unsure and the
	// model stage, when configured, is asked. Default 0.55.
	Threshold float64 `yaml:"threshold"`
	// SecondaryRatio: a second intent counts (a multi-intent message) when
	// it has strong evidence of its own and at least this share of the
	// first's score. Default 0.4.
	SecondaryRatio float64 `yaml:"secondary_ratio"`
	// ComplexCues are keywords that make a message complex whatever its
	// intent: comparisons ("difference between", "compare", "versus").
	// Appended to the built-in cues when builtin is on.
	ComplexCues []string `yaml:"complex_cues"`
	// Neutral are phrases that are evidence of nothing and take their
	// words away from the keywords that contain them: French "n'arrive
	// pas à" (cannot) is no parcel's "arrive". Appended to the built-in
	// ones when builtin is on.
	Neutral []string `yaml:"neutral"`
	// KnownWords are words that typo correction never changes: real words
	// one edit away from a keyword ("whether" is no "weather"). Appended
	// to the built-in ones when builtin is on.
	KnownWords []string `yaml:"known_words"`
	// LongMessageWords: a message with more words is at least standard.
	// Default 40.
	LongMessageWords int `yaml:"long_message_words"`
	// MaxBytes of a message are classified; the rest is ignored so that a
	// huge message costs no more than this. Default 4096.
	MaxBytes int `yaml:"max_bytes"`
	// Model configures the small-model stage asked when the rules are
	// unsure.
	Model ModelStage `yaml:"model"`
	// CacheSize bounds the per-(session, turn) result cache. Default
	// DefaultCacheSize; negative disables the cache.
	CacheSize int `yaml:"cache_size"`
}

// IntentConfig is one intent and its rules. Keywords are matched on whole
// words, case- and accent-insensitively ("Rückgabe" matches "ruckgabe"); a
// keyword of several words matches them in sequence whatever punctuation or
// spacing separates them ("where's my order" matches "Where’s  my order");
// a trailing "*" matches any word ending ("refund*" matches "refunded").
// The longest keyword wins a word: in "shipping address" (an account
// keyword) the word "shipping" is not also a shipment keyword.
type IntentConfig struct {
	// Name of the intent, e.g. order_status; [a-z0-9_]{1,48}.
	Name string `yaml:"name"`
	// Description tells the model stage what the intent covers.
	Description string `yaml:"description"`
	// Complexity of a plain message of this intent: simple, standard or
	// complex. Default standard.
	Complexity Complexity `yaml:"complexity"`
	// Keywords are strong evidence (2 points each).
	Keywords []string `yaml:"keywords"`
	// Hints are weak evidence (1 point each): words that go with the
	// intent but also with others ("order", "status", product names).
	Hints []string `yaml:"hints"`
	// Patterns are RE2 regular expressions matched on the original text,
	// strong evidence (2 points each), e.g. `\b1Z[0-9A-Z]{16}\b` for a
	// tracking number. Use (?i) for case-insensitive matching.
	Patterns []string `yaml:"patterns"`
	// HintPatterns are RE2 regular expressions that are weak evidence,
	// e.g. an order number.
	HintPatterns []string `yaml:"hint_patterns"`
	// Absorbs lists intents that this one includes when it has strong
	// evidence: their evidence neither wins nor makes the message
	// multi-intent (a return is about an order; a complaint about a late
	// parcel is a complaint).
	Absorbs []string `yaml:"absorbs"`
	// Background intents (small talk) win only when no other intent has
	// evidence and are never the second intent of a message.
	Background bool `yaml:"background"`
	// Agent is the agent that serves this intent, for an agent that only
	// passes it on (a front-line agent's returns go to after-sales): a
	// sure classification names it in Result.Agent, for the engine to
	// hand the turn to it before any model call when the classifying
	// agent may hand off to it. Empty: the agent's model decides, as for
	// any other intent. [a-zA-Z0-9_-]{1,52}, like agent names.
	Agent string `yaml:"agent"`
}

// ModelStage configures the small model asked when the rules are unsure.
type ModelStage struct {
	// Model is the model asked (e.g. "small"); empty disables the stage.
	Model string `yaml:"model"`
	// Timeout bounds one classification call; on time-out the rules'
	// answer stands. Default 1.5s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxTokens caps the reply. Default 60.
	MaxTokens int `yaml:"max_tokens"`
}

// Defaults of Config.
const (
	DefaultThreshold        = 0.55
	DefaultSecondaryRatio   = 0.4
	DefaultLongMessageWords = 40
	DefaultMaxBytes         = 4096
	DefaultCacheSize        = 4096
	DefaultModelTimeout     = 1500 * time.Millisecond
	DefaultModelMaxTokens   = 60
)

// Limits of a configuration, so that a compiled rule set stays small
// enough for the per-message scratch space.
const (
	maxIntents      = 32
	maxKeywords     = 4096
	maxPatterns     = 64
	maxPatternLen   = 512
	maxKeywordWords = 8
	maxKeywordLen   = 128
)

var intentName = regexp.MustCompile(`^[a-z0-9_]{1,48}$`)

// agentName is internal/config's agent name syntax.
var agentName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,52}$`)

// Validate reports every problem of c, each naming its field, e.g.
// `intents[2].patterns[0]: error parsing regexp: …`. New calls it.
func (c Config) Validate() error {
	_, err := c.resolve()
	return err
}

// resolve merges c with the built-in intents, fills defaults and checks
// everything, returning the effective configuration.
func (c Config) resolve() (Config, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	out := c
	builtin := c.Builtin == nil || *c.Builtin
	out.Intents = nil
	var cues, neutral, known []string
	if builtin {
		b := Builtin()
		out.Intents = b.Intents
		cues, neutral, known = b.ComplexCues, b.Neutral, b.KnownWords
		if out.Fallback == "" {
			out.Fallback = b.Fallback
		}
	}
	out.ComplexCues = append(cues, c.ComplexCues...)
	out.Neutral = append(neutral, c.Neutral...)
	out.KnownWords = append(known, c.KnownWords...)
	index := map[string]int{}
	for i, in := range out.Intents {
		index[in.Name] = i
	}
	seen := map[string]bool{}
	for i, in := range c.Intents {
		p := fmt.Sprintf("intents[%d]", i)
		if !intentName.MatchString(in.Name) {
			bad(p+".name", "%q is not a valid intent name ([a-z0-9_]{1,48})", in.Name)
			continue
		}
		if seen[in.Name] {
			bad(p+".name", "duplicate intent %q", in.Name)
			continue
		}
		seen[in.Name] = true
		j, ok := index[in.Name]
		if !ok {
			index[in.Name] = len(out.Intents)
			out.Intents = append(out.Intents, cloneIntent(in))
			continue
		}
		merged := out.Intents[j]
		merged.Keywords = append(merged.Keywords[:len(merged.Keywords):len(merged.Keywords)], in.Keywords...)
		merged.Hints = append(merged.Hints[:len(merged.Hints):len(merged.Hints)], in.Hints...)
		merged.Patterns = append(merged.Patterns[:len(merged.Patterns):len(merged.Patterns)], in.Patterns...)
		merged.HintPatterns = append(merged.HintPatterns[:len(merged.HintPatterns):len(merged.HintPatterns)], in.HintPatterns...)
		merged.Absorbs = append(merged.Absorbs[:len(merged.Absorbs):len(merged.Absorbs)], in.Absorbs...)
		if in.Description != "" {
			merged.Description = in.Description
		}
		if in.Complexity != "" {
			merged.Complexity = in.Complexity
		}
		if in.Agent != "" {
			merged.Agent = in.Agent
		}
		merged.Background = merged.Background || in.Background
		out.Intents[j] = merged
	}
	if len(out.Intents) == 0 {
		bad("intents", "no intents (builtin is off and none are given)")
	}
	if len(out.Intents) > maxIntents {
		bad("intents", "%d intents, at most %d", len(out.Intents), maxIntents)
	}
	if out.Fallback == "" && len(out.Intents) > 0 {
		out.Fallback = out.Intents[len(out.Intents)-1].Name
	}
	if _, ok := index[out.Fallback]; !ok && len(out.Intents) > 0 {
		bad("fallback", "unknown intent %q", out.Fallback)
	}
	// Paths of merged intents name the user's entry when there is one.
	userPath := map[string]string{}
	for i, in := range c.Intents {
		userPath[in.Name] = fmt.Sprintf("intents[%d]", i)
	}
	keywords, patterns := 0, 0
	for i := range out.Intents {
		in := &out.Intents[i]
		p, ok := userPath[in.Name]
		if !ok {
			p = "builtin." + in.Name
		}
		if in.Complexity == "" {
			in.Complexity = Standard
		}
		if _, err := ParseComplexity(string(in.Complexity)); err != nil {
			bad(p+".complexity", "%v", err)
		}
		if in.Agent != "" && !agentName.MatchString(in.Agent) {
			bad(p+".agent", "%q is not a valid agent name ([a-zA-Z0-9_-]{1,52})", in.Agent)
		}
		for field, list := range map[string][]string{"keywords": in.Keywords, "hints": in.Hints} {
			for k, kw := range list {
				if _, err := ParseKeyword(kw); err != nil {
					bad(fmt.Sprintf("%s.%s[%d]", p, field, k), "%v", err)
				}
			}
			keywords += len(list)
		}
		for field, list := range map[string][]string{"patterns": in.Patterns, "hint_patterns": in.HintPatterns} {
			for k, pat := range list {
				if _, err := compilePattern(pat); err != nil {
					bad(fmt.Sprintf("%s.%s[%d]", p, field, k), "%v", err)
				}
			}
			patterns += len(list)
		}
		for k, a := range in.Absorbs {
			if _, ok := index[a]; !ok || a == in.Name {
				bad(fmt.Sprintf("%s.absorbs[%d]", p, k), "unknown intent %q", a)
			}
		}
	}
	for k, kw := range c.ComplexCues {
		if _, err := ParseKeyword(kw); err != nil {
			bad(fmt.Sprintf("complex_cues[%d]", k), "%v", err)
		}
	}
	for k, kw := range c.Neutral {
		if _, err := ParseKeyword(kw); err != nil {
			bad(fmt.Sprintf("neutral[%d]", k), "%v", err)
		}
	}
	for k, w := range c.KnownWords {
		if kw, err := ParseKeyword(w); err != nil || len(kw.Words) != 1 || kw.Prefix {
			bad(fmt.Sprintf("known_words[%d]", k), "%q is not one word", w)
		}
	}
	keywords += len(out.ComplexCues) + len(out.Neutral)
	if keywords > maxKeywords {
		bad("intents", "%d keywords, at most %d", keywords, maxKeywords)
	}
	if patterns > maxPatterns {
		bad("intents", "%d patterns, at most %d", patterns, maxPatterns)
	}
	if out.Threshold == 0 {
		out.Threshold = DefaultThreshold
	}
	if !(out.Threshold > 0 && out.Threshold <= 1) {
		bad("threshold", "%v is not in (0, 1]", c.Threshold)
	}
	if out.SecondaryRatio == 0 {
		out.SecondaryRatio = DefaultSecondaryRatio
	}
	if !(out.SecondaryRatio > 0 && out.SecondaryRatio <= 1) {
		bad("secondary_ratio", "%v is not in (0, 1]", c.SecondaryRatio)
	}
	if out.LongMessageWords == 0 {
		out.LongMessageWords = DefaultLongMessageWords
	}
	if out.LongMessageWords < 0 {
		bad("long_message_words", "%d is negative", c.LongMessageWords)
	}
	if out.MaxBytes == 0 {
		out.MaxBytes = DefaultMaxBytes
	}
	if out.MaxBytes < 0 || out.MaxBytes > 1<<20 {
		bad("max_bytes", "%d is not in [1, 1048576]", c.MaxBytes)
	}
	if out.CacheSize == 0 {
		out.CacheSize = DefaultCacheSize
	}
	if out.Model.Timeout == 0 {
		out.Model.Timeout = DefaultModelTimeout
	}
	if out.Model.Timeout < 0 {
		bad("model.timeout", "%v is negative", c.Model.Timeout)
	}
	if out.Model.MaxTokens == 0 {
		out.Model.MaxTokens = DefaultModelMaxTokens
	}
	if out.Model.MaxTokens < 0 {
		bad("model.max_tokens", "%d is negative", c.Model.MaxTokens)
	}
	return out, errors.Join(errs...)
}

func cloneIntent(in IntentConfig) IntentConfig {
	in.Keywords = append([]string(nil), in.Keywords...)
	in.Hints = append([]string(nil), in.Hints...)
	in.Patterns = append([]string(nil), in.Patterns...)
	in.HintPatterns = append([]string(nil), in.HintPatterns...)
	in.Absorbs = append([]string(nil), in.Absorbs...)
	return in
}

// compilePattern compiles one configured regular expression.
func compilePattern(p string) (*regexp.Regexp, error) {
	if p == "" {
		return nil, errors.New("empty pattern")
	}
	if len(p) > maxPatternLen {
		return nil, fmt.Errorf("pattern of %d bytes, at most %d", len(p), maxPatternLen)
	}
	return regexp.Compile(p)
}
