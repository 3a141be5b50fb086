package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.yaml.in/yaml/v3"
)

// MaxFileBytes caps a rules file; a larger one is refused rather than read
// into memory.
const MaxFileBytes = 1 << 20

// DefaultLang is the language of a RuleSet whose DefaultLang is empty.
const DefaultLang = "en"

// RuleSet is a rules file, or the rules section of a configuration. The
// zero value holds no rule and answers nothing.
type RuleSet struct {
	// DefaultLang is the language whose text every Text must have; a
	// message in a language a Text lacks is answered in it. Default
	// DefaultLang ("en").
	DefaultLang string `yaml:"default_lang" json:"default_lang,omitempty"`
	// Rules are tried in order; see the package documentation.
	Rules []Rule `yaml:"rules" json:"rules"`
}

// Rule answers one kind of message.
type Rule struct {
	// Name names the rule in answers, errors and metrics; required,
	// unique within the set.
	Name string `yaml:"name" json:"name"`
	// Intents are the classifier's intent names this rule answers.
	Intents []string `yaml:"intents" json:"intents,omitempty"`
	// Patterns are regular expressions (Go syntax; add (?i) for case
	// insensitivity) of which one must match the message when the intent
	// did not. A rule needs Intents or Patterns.
	Patterns []string `yaml:"patterns" json:"patterns,omitempty"`
	// When, if set, is a boolean expression over Env (result and values
	// still empty) that must hold for the rule to be chosen.
	When string `yaml:"when" json:"when,omitempty"`
	// Args are the tool's arguments, extracted in order.
	Args []Arg `yaml:"args" json:"args,omitempty"`
	// Tool is the tool to call with Args; empty means none (the answer is
	// rendered from the message, arguments and facts alone).
	Tool string `yaml:"tool" json:"tool,omitempty"`
	// Values are computed, in order, after the tool answered with a
	// result (not for a domain error); each sees the values before it.
	Values []Value `yaml:"values" json:"values,omitempty"`
	// Answers are the possible answers: the first whose When holds (or
	// that has none) is rendered. At least one is required.
	Answers []Variant `yaml:"answers" json:"answers"`
	// Missing, if set, is the answer when a required argument is missing,
	// typically asking for it; args holds those that were found. Without
	// it a missing argument is a NoAnswer.
	Missing Text `yaml:"missing" json:"missing,omitempty"`
	// ToolError, if set, are the answers to a domain error of the tool
	// (result is then the error body, e.g. {"error": …, "code":
	// "order_not_found"}); without one that applies, a domain error is a
	// NoAnswer.
	ToolError []Variant `yaml:"tool_error" json:"tool_error,omitempty"`
}

// Arg is one argument of a rule's tool. Its sources are tried in the
// order Patterns, Fact, Expr, Default; the first that yields a non-empty
// value gives it.
type Arg struct {
	// Name is the argument's name in the tool's JSON object; required.
	Name string `yaml:"name" json:"name"`
	// Patterns are regular expressions tried in order on the message; the
	// first match gives the value: its group named "value", else its
	// first group, else the whole match.
	Patterns []string `yaml:"patterns" json:"patterns,omitempty"`
	// Fact is the kind of pinned fact ("order_number") whose newest value
	// (the last of its list) gives the value.
	Fact string `yaml:"fact" json:"fact,omitempty"`
	// Expr is an expression over Env (args holding the arguments before
	// this one) that computes the value; a result that is nil or "" gives
	// none, any other is formatted with fmt's %v.
	Expr string `yaml:"expr" json:"expr,omitempty"`
	// Default is the value when no other source gave one.
	Default string `yaml:"default" json:"default,omitempty"`
	// Optional arguments may stay missing; the tool is then called
	// without them. Arguments are required by default.
	Optional bool `yaml:"optional" json:"optional,omitempty"`
}

// Value is a named expression computed after the tool answered, available
// to later values and to When of the answers as values.<name>, and to the
// templates as .<name>.
type Value struct {
	Name string `yaml:"name" json:"name"`
	Expr string `yaml:"expr" json:"expr"`
}

// Variant is one possible answer.
type Variant struct {
	// When, if set, is a boolean expression over Env that must hold for
	// this answer to be chosen.
	When string `yaml:"when" json:"when,omitempty"`
	// Text is the answer's template by language.
	Text Text `yaml:"text" json:"text"`
}

// Text is a template by language ("en", "de"): a language tag's primary
// subtag, lower case.
type Text map[string]string

// Parse decodes a rules file strictly (unknown keys are errors) and
// compiles it.
func Parse(b []byte) (*Rules, error) {
	set, err := Decode(b)
	if err != nil {
		return nil, err
	}
	return Compile(set)
}

// Decode decodes a rules file strictly without compiling it.
func Decode(b []byte) (RuleSet, error) {
	var set RuleSet
	if len(b) > MaxFileBytes {
		return set, fmt.Errorf("rules: the file is larger than %d bytes", MaxFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&set); err != nil {
		if errors.Is(err, io.EOF) {
			return set, errors.New("rules: empty document")
		}
		return set, fmt.Errorf("rules: %w", err)
	}
	return set, nil
}

// LoadFile reads and compiles the rules file at path.
func LoadFile(path string) (*Rules, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("rules: read %s: %w", path, err)
	}
	r, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
