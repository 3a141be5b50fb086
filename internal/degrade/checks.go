package degrade

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Checks configures the output checks of an agent's final answers. Each
// check is optional: a nil pointer (or an absent json_schema) is off, an
// empty mapping (`foreign_data: {}`) is on with its defaults.
type Checks struct {
	// SystemPrompt fails answers that repeat the agent's instructions.
	SystemPrompt *PromptLeakCheck `yaml:"system_prompt" json:"system_prompt,omitempty"`
	// ForeignData fails answers that carry an e-mail address, phone
	// number or order number found in neither the conversation, the
	// run's tool results, the pinned facts, the instructions nor Allow:
	// another customer's data, or an invented one.
	ForeignData *ForeignDataCheck `yaml:"foreign_data" json:"foreign_data,omitempty"`
	// OrderNumber fails answers that do not mention the order number the
	// user asked about when a tool of the run returned it.
	OrderNumber *OrderNumberCheck `yaml:"order_number" json:"order_number,omitempty"`
	// JSONSchema, if set, is the JSON Schema (draft 2020-12 unless it
	// says otherwise) the answer of a structured-output agent must
	// match; the answer may be wrapped in one ```json fence.
	JSONSchema map[string]any `yaml:"json_schema" json:"json_schema,omitempty"`
	// OrderPatterns are the RE2 patterns of order numbers, for
	// ForeignData and OrderNumber. Default DefaultOrderPatterns.
	OrderPatterns []string `yaml:"order_patterns" json:"order_patterns,omitempty"`
}

// PromptLeakCheck tunes the system-prompt check. An answer leaks when it
// shares at least max(MinShared, ⌈Threshold × N⌉) of the N distinct word
// NGrams of the instructions (capped at N, so that repeating short
// instructions whole still fails; instructions of fewer than NGram words
// are not checked). Quoting one policy sentence of long
// instructions passes; reciting a fifth of them fails. Paraphrases are
// not caught.
type PromptLeakCheck struct {
	// NGram is the length, in words, of the sequences compared. Default
	// DefaultLeakNGram (5); 2 to 16.
	NGram int `yaml:"ngram" json:"ngram,omitempty"`
	// Threshold is the share of the instructions' n-grams at which an
	// answer leaks. Default DefaultLeakThreshold (0.2); (0, 1].
	Threshold float64 `yaml:"threshold" json:"threshold,omitempty"`
	// MinShared is the fewest shared n-grams that leak. Default
	// DefaultLeakMinShared (3).
	MinShared int `yaml:"min_shared" json:"min_shared,omitempty"`
}

// ForeignDataCheck tunes the foreign-data check.
type ForeignDataCheck struct {
	// Kinds are what is checked: email, phone, order_number. Default all.
	Kinds []string `yaml:"kinds" json:"kinds,omitempty"`
	// Allow lists texts whose e-mail addresses, phone numbers and order
	// numbers any answer may carry (the shop's own support address and
	// hotline).
	Allow []string `yaml:"allow" json:"allow,omitempty"`
}

// Foreign-data kinds.
const (
	DataEmail       = "email"
	DataPhone       = "phone"
	DataOrderNumber = "order_number"
)

// OrderNumberCheck tunes the order-number check.
type OrderNumberCheck struct {
	// Fact is the pinned-fact kind holding the order number of the
	// conversation, used when the message names none ("where is it?").
	// Default "order_number".
	Fact string `yaml:"fact" json:"fact,omitempty"`
}

// Enabled reports whether any check is on.
func (c *Checks) Enabled() bool {
	return c.SystemPrompt != nil || c.ForeignData != nil || c.OrderNumber != nil || c.JSONSchema != nil
}

func (c *Checks) validate(p string, v *validator) {
	if l := c.SystemPrompt; l != nil {
		if l.NGram != 0 && (l.NGram < 2 || l.NGram > 16) {
			v.bad(p+".system_prompt.ngram", "want 2 to 16 words, got %d", l.NGram)
		}
		if l.Threshold < 0 || l.Threshold > 1 || l.Threshold != l.Threshold {
			v.bad(p+".system_prompt.threshold", "want a share in (0, 1], got %v", l.Threshold)
		}
		if l.MinShared < 0 {
			v.bad(p+".system_prompt.min_shared", "must not be negative")
		}
	}
	if f := c.ForeignData; f != nil {
		for i, k := range f.Kinds {
			if k != DataEmail && k != DataPhone && k != DataOrderNumber {
				v.bad(fmt.Sprintf("%s.foreign_data.kinds[%d]", p, i), "unknown kind %q; want email, phone or order_number", k)
			}
		}
		for i, a := range f.Allow {
			if strings.TrimSpace(a) == "" {
				v.bad(fmt.Sprintf("%s.foreign_data.allow[%d]", p, i), "empty entry")
			}
		}
	}
	if o := c.OrderNumber; o != nil && o.Fact != "" && strings.TrimSpace(o.Fact) != o.Fact {
		v.bad(p+".order_number.fact", "the fact kind has leading or trailing spaces")
	}
	for i, pat := range c.OrderPatterns {
		if _, err := regexp.Compile(pat); err != nil {
			v.bad(fmt.Sprintf("%s.order_patterns[%d]", p, i), "%v", err)
		} else if regexp.MustCompile(pat).MatchString("") {
			v.bad(fmt.Sprintf("%s.order_patterns[%d]", p, i), "the pattern matches the empty text")
		}
	}
	if c.JSONSchema != nil {
		if _, err := compileSchema(c.JSONSchema); err != nil {
			v.bad(p+".json_schema", "%v", err)
		}
	}
}

// CheckName names an output check; a metric label.
type CheckName string

// Output checks, in the order they run.
const (
	CheckJSONSchema   CheckName = "json_schema"
	CheckSystemPrompt CheckName = "system_prompt"
	CheckForeignData  CheckName = "foreign_data"
	CheckOrderNumber  CheckName = "order_number"
)

// CheckReason is why an answer failed a check; a metric label.
type CheckReason string

// Reasons of failed checks.
const (
	ReasonNotJSON        CheckReason = "not_json"
	ReasonSchemaMismatch CheckReason = "schema_mismatch"
	ReasonPromptLeak     CheckReason = "system_prompt_leak"
	ReasonForeignEmail   CheckReason = "foreign_email"
	ReasonForeignPhone   CheckReason = "foreign_phone"
	ReasonForeignOrder   CheckReason = "foreign_order_number"
	ReasonOrderMissing   CheckReason = "order_number_missing"
)

// ErrCheckFailed is matched by every *CheckError.
var ErrCheckFailed = errors.New("degrade: output check failed")

// CheckError is an answer's failed check. Detail is for logs: the
// entities it names are masked.
type CheckError struct {
	Check  CheckName
	Reason CheckReason
	Detail string
}

// Error implements error.
func (e *CheckError) Error() string {
	return "output check " + string(e.Check) + " failed: " + string(e.Reason) + ": " + e.Detail
}

// Is reports whether target is ErrCheckFailed.
func (e *CheckError) Is(target error) bool { return target == ErrCheckFailed }

// Verdict is the outcome of one check.
type Verdict struct {
	Check CheckName
	Pass  bool
	// Reason and Detail say why it failed ("" when it passed).
	Reason CheckReason
	Detail string
}

// CheckInput is a final answer and what it may draw on. Nothing is
// modified.
type CheckInput struct {
	// Answer is the model's final answer.
	Answer string
	// Message is the user's message of this turn.
	Message string
	// Messages are what the model saw: the conversation (its summary, the
	// user's and assistant's turns, tool results and tool-call
	// arguments). System and developer messages count too.
	Messages []llm.Message
	// ToolResults are the results of this run's tool calls, if they are
	// not all in Messages.
	ToolResults []string
	// Facts are the session's pinned facts by kind.
	Facts map[string][]string
}

// CheckerOptions are what a Checker needs besides its Checks.
type CheckerOptions struct {
	// Instructions are the agent's system prompt: what the system-prompt
	// check protects, and known text for the foreign-data check.
	Instructions string
	// Agent and Metrics count failed checks; Metrics may be nil.
	Agent   string
	Metrics *Metrics
}

// Checker runs an agent's output checks. It is safe for concurrent use
// and must not be copied (it holds a sync.Pool); a nil *Checker checks
// nothing.
type Checker struct {
	agent        string
	metrics      *Metrics
	instructions string
	schema       *jsonschema.Schema
	leak         *leakIndex
	foreign      *ForeignDataCheck
	kinds        [3]bool // email, phone, order_number
	allow        string
	order        *OrderNumberCheck
	orderRes     []idFinder
	scratch      sync.Pool // *[]uint64 for the leak check
}

// NewChecker compiles cfg. It returns the same problems as Validate, as
// an error.
func NewChecker(cfg Checks, opts CheckerOptions) (*Checker, error) {
	v := &validator{}
	cfg.validate("checks", v)
	if len(v.problems) > 0 {
		return nil, &ValidationError{Problems: v.problems}
	}
	c := &Checker{agent: opts.Agent, metrics: opts.Metrics, instructions: opts.Instructions}
	c.scratch.New = func() any { b := make([]uint64, 0, 512); return &b }
	var err error
	if c.orderRes, err = compileOrderPatterns(cfg.OrderPatterns); err != nil {
		return nil, err
	}
	if cfg.JSONSchema != nil {
		if c.schema, err = compileSchema(cfg.JSONSchema); err != nil {
			return nil, err
		}
	}
	if l := cfg.SystemPrompt; l != nil {
		lc := *l
		if lc.NGram == 0 {
			lc.NGram = DefaultLeakNGram
		}
		if lc.Threshold == 0 {
			lc.Threshold = DefaultLeakThreshold
		}
		if lc.MinShared == 0 {
			lc.MinShared = DefaultLeakMinShared
		}
		c.leak = newLeakIndex(opts.Instructions, lc)
	}
	if f := cfg.ForeignData; f != nil {
		c.foreign = f
		kinds := f.Kinds
		if len(kinds) == 0 {
			kinds = []string{DataEmail, DataPhone, DataOrderNumber}
		}
		for _, k := range kinds {
			switch k {
			case DataEmail:
				c.kinds[0] = true
			case DataPhone:
				c.kinds[1] = true
			case DataOrderNumber:
				c.kinds[2] = true
			}
		}
		c.allow = strings.Join(f.Allow, "\n")
	}
	if o := cfg.OrderNumber; o != nil {
		oc := *o
		if oc.Fact == "" {
			oc.Fact = "order_number"
		}
		c.order = &oc
	}
	return c, nil
}

// Enabled reports whether c checks anything.
func (c *Checker) Enabled() bool {
	return c != nil && (c.schema != nil || c.leak != nil || c.foreign != nil || c.order != nil)
}

// Check runs the checks in order (json_schema, system_prompt,
// foreign_data, order_number) and returns the first failure as a
// *CheckError, or nil. A failure is counted in the metrics.
func (c *Checker) Check(in *CheckInput) error {
	if !c.Enabled() {
		return nil
	}
	var k known
	for _, run := range c.runs() {
		if v := run(c, in, &k); !v.Pass {
			c.count(v)
			return &CheckError{Check: v.Check, Reason: v.Reason, Detail: v.Detail}
		}
	}
	return nil
}

// Verdicts runs every enabled check and returns their verdicts, in
// order; failures are counted in the metrics.
func (c *Checker) Verdicts(in *CheckInput) []Verdict {
	if !c.Enabled() {
		return nil
	}
	var k known
	runs := c.runs()
	out := make([]Verdict, 0, len(runs))
	for _, run := range runs {
		v := run(c, in, &k)
		if !v.Pass {
			c.count(v)
		}
		out = append(out, v)
	}
	return out
}

func (c *Checker) count(v Verdict) {
	if c.metrics != nil {
		c.metrics.checkFailed(c.agent, v.Check, v.Reason)
	}
}

type checkFunc func(c *Checker, in *CheckInput, k *known) Verdict

func (c *Checker) runs() []checkFunc {
	var fs [4]checkFunc
	n := 0
	if c.schema != nil {
		fs[n], n = (*Checker).checkSchema, n+1
	}
	if c.leak != nil {
		fs[n], n = (*Checker).checkLeak, n+1
	}
	if c.foreign != nil {
		fs[n], n = (*Checker).checkForeign, n+1
	}
	if c.order != nil {
		fs[n], n = (*Checker).checkOrder, n+1
	}
	return fs[:n:n]
}

func (c *Checker) checkSchema(in *CheckInput, _ *known) Verdict {
	v := Verdict{Check: CheckJSONSchema, Pass: true}
	doc, err := jsonschema.UnmarshalJSON(strings.NewReader(jsonBody(in.Answer)))
	if err != nil {
		v.Pass, v.Reason, v.Detail = false, ReasonNotJSON, "the answer is not one JSON value"
		return v
	}
	if err := c.schema.Validate(doc); err != nil {
		v.Pass, v.Reason, v.Detail = false, ReasonSchemaMismatch, schemaText(err)
	}
	return v
}

func (c *Checker) checkLeak(in *CheckInput, _ *known) Verdict {
	v := Verdict{Check: CheckSystemPrompt, Pass: true}
	if c.leak.required == 0 {
		return v // instructions shorter than one n-gram
	}
	bp := c.scratch.Get().(*[]uint64)
	shared, buf := c.leak.shared(in.Answer, *bp)
	if cap(buf) <= maxScratch {
		*bp = buf
		c.scratch.Put(bp)
	}
	if shared >= c.leak.required {
		v.Pass, v.Reason = false, ReasonPromptLeak
		v.Detail = "the answer repeats " + strconv.Itoa(shared) + " of the instructions' " +
			strconv.Itoa(len(c.leak.grams)) + " " + strconv.Itoa(c.leak.n) + "-word sequences"
	}
	return v
}

// maxScratch bounds the word-hash buffers kept for reuse (64 K words), so
// that one huge answer does not pin its buffer.
const maxScratch = 1 << 16

// known is the text an answer may draw on, joined once per check run.
type known struct {
	ready  bool
	text   string   // everything known, one text, in ASCII lower case
	tools  string   // the tool results (Messages of role tool and ToolResults), in ASCII lower case
	phones []string // digits of the phone numbers in text, extracted on demand
	pDone  bool
}

func (c *Checker) knownOf(in *CheckInput, k *known) {
	if k.ready {
		return
	}
	k.ready = true
	var all, tools strings.Builder
	add := func(b *strings.Builder, s string) {
		if s != "" {
			b.WriteString(s)
			b.WriteByte('\n')
		}
	}
	add(&all, c.instructions)
	add(&all, c.allow)
	add(&all, in.Message)
	for i := range in.Messages {
		m := &in.Messages[i]
		text := m.Content.String()
		add(&all, text)
		if m.Role == llm.RoleTool {
			add(&tools, text)
		}
		for _, tc := range m.ToolCalls {
			add(&all, tc.Function.Arguments)
		}
	}
	for _, r := range in.ToolResults {
		add(&all, r)
		add(&tools, r)
	}
	for _, vs := range in.Facts {
		for _, f := range vs {
			add(&all, f)
		}
	}
	k.text, k.tools = asciiLower(all.String()), asciiLower(tools.String())
}

func (k *known) phone(d string) bool {
	if containsWord(k.text, d) {
		return true
	}
	if !k.pDone {
		k.pDone = true
		k.phones = extract(k.text, nil).phones
	}
	for _, p := range k.phones {
		if sameNumber(d, p) {
			return true
		}
	}
	return false
}

func (c *Checker) checkForeign(in *CheckInput, k *known) Verdict {
	v := Verdict{Check: CheckForeignData, Pass: true}
	e := extract(in.Answer, c.orderRes)
	if e.empty() {
		return v
	}
	c.knownOf(in, k)
	fail := func(r CheckReason, what, s string) Verdict {
		v.Pass, v.Reason, v.Detail = false, r, what+" "+mask(s)+" is in neither the conversation nor the tool results"
		return v
	}
	if c.kinds[0] {
		for _, m := range e.emails {
			if !containsWord(k.text, m) {
				return fail(ReasonForeignEmail, "e-mail address", m)
			}
		}
	}
	if c.kinds[1] {
		for i, d := range e.phones {
			// Copied as written (the usual case), or the same number
			// written another way.
			if !containsWord(k.text, asciiLower(e.raw[i])) && !k.phone(d) {
				return fail(ReasonForeignPhone, "phone number", d)
			}
		}
	}
	if c.kinds[2] {
		for _, id := range e.ids {
			if containsWord(k.text, asciiLower(id)) {
				continue
			}
			// The digits of a phone number, written without its prefix.
			if d := digitsOf(id); len(d) >= 7 && k.phone(d) {
				continue
			}
			return fail(ReasonForeignOrder, "order number", id)
		}
	}
	return v
}

func (c *Checker) checkOrder(in *CheckInput, k *known) Verdict {
	v := Verdict{Check: CheckOrderNumber, Pass: true}
	asked := extract(in.Message, c.orderRes).ids
	if len(asked) == 0 {
		if fs := in.Facts[c.order.Fact]; len(fs) > 0 {
			if f := strings.TrimSpace(fs[len(fs)-1]); f != "" {
				asked = []string{f}
			}
		}
	}
	if len(asked) == 0 {
		return v
	}
	c.knownOf(in, k)
	answer := ""
	for _, id := range asked {
		id = asciiLower(id)
		if !containsWord(k.tools, id) {
			continue
		}
		if answer == "" {
			answer = asciiLower(in.Answer)
		}
		if containsWord(answer, id) {
			continue
		}
		v.Pass, v.Reason = false, ReasonOrderMissing
		v.Detail = "a tool returned order " + mask(id) + " and the answer does not mention it"
		return v
	}
	return v
}
