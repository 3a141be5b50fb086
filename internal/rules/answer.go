package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// MaxAnswerBytes caps a rendered answer; a longer one is a NoAnswer
// (ReasonRender), never a truncated answer.
const MaxAnswerBytes = 4 << 10

// Input is a message to answer.
type Input struct {
	// Message is the user's message.
	Message string
	// Intent is the intent classifier's answer; "" when none ran.
	Intent string
	// Lang is the message's language as a tag ("de", "de-AT"); "" means
	// the set's DefaultLang.
	Lang string
	// Facts are the session's pinned facts by kind ("order_number" →
	// ["100123"]), oldest first. May be nil. Not modified.
	Facts map[string][]string
}

// Kind says what an Answer is.
type Kind string

// Kinds of answers.
const (
	// KindAnswer renders the tool's result (or, for a rule without a
	// tool, the rule's text).
	KindAnswer Kind = "answer"
	// KindAsk asks for a required argument that was missing.
	KindAsk Kind = "ask"
	// KindToolError renders the tool's domain error ("there is no order
	// 999999").
	KindToolError Kind = "tool_error"
)

// Answer is the rules engine's answer to a message.
type Answer struct {
	// Rule is the rule that answered.
	Rule string
	// Kind says whether the text answers, asks for an argument or
	// explains a domain error.
	Kind Kind
	// Lang is the language of the text: the message's, or the set's
	// DefaultLang when the rule has no text in it.
	Lang string
	// Text is the rendered answer, trimmed.
	Text string
	// Args are the arguments extracted (missing ones absent).
	Args map[string]string
	// Tool is the tool called; "" when the rule calls none or asked.
	Tool string
	// Result is what the tool answered (its domain error body for
	// KindToolError).
	Result json.RawMessage
}

// Answer answers in with the first rule that is chosen for it (see the
// package documentation), calling that rule's tool through tools (which
// may be nil for rule sets without tools). It returns a *NoAnswer, which
// matches ErrNoAnswer, when it has no answer; it returns no other error.
func (r *Rules) Answer(ctx context.Context, tools ToolCaller, in Input) (*Answer, error) {
	lang := normLang(in.Lang)
	if lang == "" {
		lang = r.defLang
	}
	if in.Intent != "" {
		for _, ru := range r.byIntent[in.Intent] {
			if a, err, chosen := r.try(ctx, tools, ru, in, lang); chosen {
				return a, err
			}
		}
	}
	for _, ru := range r.rules {
		if in.Intent != "" && contains(ru.intents, in.Intent) {
			continue // tried above
		}
		if !matchAny(ru.patterns, in.Message) {
			continue
		}
		if a, err, chosen := r.try(ctx, tools, ru, in, lang); chosen {
			return a, err
		}
	}
	return nil, &NoAnswer{Reason: ReasonNoMatch}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func matchAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// try runs one rule on in; chosen reports whether the rule was chosen
// (its When held), in which case a or err is the outcome.
func (r *Rules) try(ctx context.Context, tools ToolCaller, ru *rule, in Input, lang string) (a *Answer, err error, chosen bool) {
	env := Env{Message: in.Message, Intent: in.Intent, Lang: lang, Facts: in.Facts, Args: make(map[string]string, len(ru.args))}
	if env.Facts == nil {
		env.Facts = map[string][]string{}
	}
	fail := func(reason Reason, cause error) (*Answer, error, bool) {
		return nil, &NoAnswer{Reason: reason, Rule: ru.name, Args: env.Args, Err: cause}, true
	}
	var missing []string
	for i := range ru.args {
		v, err := ru.args[i].extract(&env)
		if err != nil {
			return fail(ReasonEval, err)
		}
		if v == "" {
			if !ru.args[i].optional {
				missing = append(missing, ru.args[i].name)
			}
			continue
		}
		env.Args[ru.args[i].name] = v
	}
	if ru.when != nil {
		ok, err := runBool(ru.when, &env)
		if err != nil {
			return fail(ReasonEval, fmt.Errorf("when: %w", err))
		}
		if !ok {
			return nil, nil, false
		}
	}
	if len(missing) > 0 {
		if ru.missing == nil {
			na := &NoAnswer{Reason: ReasonMissingArg, Rule: ru.name, Args: env.Args, Missing: missing}
			return nil, na, true
		}
		text, tl, err := r.render(ru.missing, lang, &env, nil, nil)
		if err != nil {
			return fail(ReasonRender, err)
		}
		return &Answer{Rule: ru.name, Kind: KindAsk, Lang: tl, Text: text, Args: env.Args}, nil, true
	}

	ans := &Answer{Rule: ru.name, Kind: KindAnswer, Args: env.Args, Tool: ru.tool}
	variants := ru.answers
	var tmplResult any // the result for templates: numbers as json.Number
	if ru.tool != "" {
		if tools == nil {
			return fail(ReasonToolFailed, errors.New("no tools to call "+ru.tool))
		}
		argsJSON, err := json.Marshal(env.Args)
		if err != nil {
			return fail(ReasonToolFailed, err)
		}
		res, err := tools.Call(ctx, ru.tool, argsJSON)
		if err != nil {
			var te *ToolError
			if !errors.As(err, &te) {
				return fail(ReasonToolFailed, err)
			}
			if len(ru.toolErr) == 0 {
				return fail(ReasonToolError, err)
			}
			ans.Kind, res, variants = KindToolError, te.Body, ru.toolErr
		}
		tmplResult, err = decodeJSON(res)
		if err != nil {
			return fail(ReasonToolFailed, fmt.Errorf("tool %s answered what is not JSON: %w", ru.tool, err))
		}
		ans.Result = res
		env.Result = exprValue(tmplResult)
	}
	var values map[string]any
	if len(ru.values) > 0 && ans.Kind == KindAnswer {
		values = make(map[string]any, len(ru.values))
		env.Values = values
		for _, v := range ru.values {
			out, err := expr.Run(v.prog, env)
			if err != nil {
				return fail(ReasonEval, fmt.Errorf("value %s: %w", v.name, err))
			}
			values[v.name] = out
		}
	}
	for _, v := range variants {
		if v.when != nil {
			ok, err := runBool(v.when, &env)
			if err != nil {
				return fail(ReasonEval, fmt.Errorf("answer when: %w", err))
			}
			if !ok {
				continue
			}
		}
		text, tl, err := r.render(v.text, lang, &env, tmplResult, values)
		if err != nil {
			return fail(ReasonRender, err)
		}
		ans.Text, ans.Lang = text, tl
		return ans, nil, true
	}
	if ans.Kind == KindToolError {
		return fail(ReasonToolError, &ToolError{Tool: ru.tool, Body: ans.Result})
	}
	return fail(ReasonNoVariant, nil)
}

// extract finds the argument's value: patterns, fact, expr, default.
func (a *arg) extract(env *Env) (string, error) {
	if v := firstMatch(a.patterns, env.Message); v != "" {
		return v, nil
	}
	if a.fact != "" {
		if vs := env.Facts[a.fact]; len(vs) > 0 {
			if v := strings.TrimSpace(vs[len(vs)-1]); v != "" {
				return v, nil
			}
		}
	}
	if a.expr != nil {
		out, err := expr.Run(a.expr, *env)
		if err != nil {
			return "", fmt.Errorf("argument %s: %w", a.name, err)
		}
		if out != nil {
			if v := strings.TrimSpace(fmt.Sprint(out)); v != "" {
				return v, nil
			}
		}
	}
	return a.def, nil
}

// firstMatch returns the value of the first pattern that matches s: its
// group "value", else its first group, else the whole match; "" if none
// matches (or the group matched nothing).
func firstMatch(res []*regexp.Regexp, s string) string {
	for _, re := range res {
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			continue
		}
		g := 0
		if i := re.SubexpIndex("value"); i > 0 {
			g = i
		} else if re.NumSubexp() > 0 {
			g = 1
		}
		if m[2*g] >= 0 {
			if v := strings.TrimSpace(s[m[2*g]:m[2*g+1]]); v != "" {
				return v
			}
		}
	}
	return ""
}

func runBool(p *vm.Program, env *Env) (bool, error) {
	out, err := expr.Run(p, *env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("the condition gave %T, not bool", out)
	}
	return b, nil
}

// render executes the template of lang (or of the default language) with
// the template data; it returns the trimmed text and its language.
func (r *Rules) render(t text, lang string, env *Env, result any, values map[string]any) (string, string, error) {
	tm, ok := t[lang]
	if !ok {
		lang = r.defLang
		tm = t[lang]
	}
	if tm == nil {
		return "", lang, fmt.Errorf("no text in %s", lang)
	}
	data := make(map[string]any, 8+len(values))
	if m, ok := result.(map[string]any); ok {
		for k, v := range m {
			data[k] = v
		}
	}
	for k, v := range values {
		data[k] = v
	}
	data["args"] = env.Args
	data["facts"] = env.Facts
	data["message"] = env.Message
	data["intent"] = env.Intent
	data["lang"] = env.Lang
	data["result"] = result
	var b bytes.Buffer
	if err := tm.Execute(&limitWriter{w: &b, n: MaxAnswerBytes}, data); err != nil {
		return "", lang, err
	}
	out := strings.TrimSpace(b.String())
	if out == "" {
		return "", lang, errors.New("the answer is empty")
	}
	return out, lang, nil
}

var errTooLong = fmt.Errorf("the answer is longer than %d bytes", MaxAnswerBytes)

// limitWriter fails a write that would take w past n bytes.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, errTooLong
	}
	return l.w.Write(p)
}

// normLang returns the primary subtag of a language tag, lower case: "de"
// for "de-AT" or "DE_at"; "" for an empty or malformed tag.
func normLang(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	tag = strings.ToLower(tag)
	if !validLang(tag) {
		return ""
	}
	return tag
}

// decodeJSON decodes a tool result keeping numbers as json.Number, so a
// template prints them as the tool wrote them ("129.90", "100123").
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// exprValue converts a decoded JSON value for expressions: json.Number
// becomes int when it is an integer that fits, float64 otherwise.
// Containers are copied.
func exprValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil && int64(int(i)) == i {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = exprValue(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = exprValue(e)
		}
		return s
	}
	return v
}
