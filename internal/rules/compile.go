package rules

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// MaxRules bounds the rules of a set.
const MaxRules = 1000

// Env is what expressions see. Field names are the expressions' names:
// message, intent, lang, facts, args, result, values.
type Env struct {
	// Message is the user's message.
	Message string `expr:"message"`
	// Intent is the classifier's intent, "" when none ran.
	Intent string `expr:"intent"`
	// Lang is the message's language (primary subtag, lower case), the
	// set's DefaultLang when the caller gave none.
	Lang string `expr:"lang"`
	// Facts are the pinned facts by kind, oldest first.
	Facts map[string][]string `expr:"facts"`
	// Args are the arguments extracted so far.
	Args map[string]string `expr:"args"`
	// Result is the tool's result (or domain error body) as decoded JSON:
	// objects are map[string]any, integers int, other numbers float64.
	// Nil before the tool answered.
	Result any `expr:"result"`
	// Values are the values computed so far.
	Values map[string]any `expr:"values"`
}

// reserved are the template data keys the engine sets itself; a Value may
// not take their names.
var reserved = []string{"args", "facts", "message", "intent", "lang", "result"}

// Rules is a compiled RuleSet. It is immutable and safe for concurrent
// use.
type Rules struct {
	defLang  string
	rules    []*rule
	byIntent map[string][]*rule
	tools    []string
}

type rule struct {
	name     string
	intents  []string
	patterns []*regexp.Regexp
	when     *vm.Program
	args     []arg
	tool     string
	values   []value
	answers  []variant
	missing  text
	toolErr  []variant
}

type arg struct {
	name     string
	patterns []*regexp.Regexp
	fact     string
	expr     *vm.Program
	def      string
	optional bool
}

type value struct {
	name string
	prog *vm.Program
}

type variant struct {
	when *vm.Program
	text text
}

// text is a template by language.
type text map[string]*template.Template

// compiler collects the errors of a set, each with its path.
type compiler struct {
	defLang string
	errs    []error
}

func (c *compiler) errorf(path, format string, a ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, a...)))
}

// Compile checks set and compiles its patterns, expressions and
// templates. Every problem is reported, each with its path in the file
// ("rules[2] order_status: args[0] order_id: patterns[1]: …").
func Compile(set RuleSet) (*Rules, error) {
	c := &compiler{defLang: set.DefaultLang}
	if c.defLang == "" {
		c.defLang = DefaultLang
	}
	if !validLang(c.defLang) {
		c.errorf("default_lang", "%q is not a language tag's primary subtag (2 to 8 lower-case letters)", c.defLang)
	}
	if len(set.Rules) > MaxRules {
		return nil, fmt.Errorf("rules: %d rules, at most %d", len(set.Rules), MaxRules)
	}
	r := &Rules{defLang: c.defLang, byIntent: map[string][]*rule{}}
	names := map[string]bool{}
	for i, rs := range set.Rules {
		path := "rules[" + strconv.Itoa(i) + "]"
		if rs.Name != "" {
			path += " " + rs.Name
		}
		switch {
		case strings.TrimSpace(rs.Name) == "":
			c.errorf(path, "name is required")
		case names[rs.Name]:
			c.errorf(path, "a rule of that name comes earlier")
		}
		names[rs.Name] = true
		ru := c.rule(path, rs)
		r.rules = append(r.rules, ru)
		for _, in := range ru.intents {
			if !slices.Contains(r.byIntent[in], ru) {
				r.byIntent[in] = append(r.byIntent[in], ru)
			}
		}
		if ru.tool != "" && !slices.Contains(r.tools, ru.tool) {
			r.tools = append(r.tools, ru.tool)
		}
	}
	if err := errors.Join(c.errs...); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	slices.Sort(r.tools)
	return r, nil
}

func (c *compiler) rule(path string, rs Rule) *rule {
	ru := &rule{name: rs.Name, tool: rs.Tool}
	if len(rs.Intents) == 0 && len(rs.Patterns) == 0 {
		c.errorf(path, "needs intents or patterns")
	}
	for i, in := range rs.Intents {
		if strings.TrimSpace(in) == "" {
			c.errorf(path+": intents["+strconv.Itoa(i)+"]", "empty intent")
			continue
		}
		ru.intents = append(ru.intents, in)
	}
	ru.patterns = c.patterns(path, rs.Patterns)
	ru.when = c.cond(path+": when", rs.When)
	if rs.Tool != "" && !llm.ValidFunctionName(rs.Tool) {
		c.errorf(path+": tool", "%q is not a tool name (1 to 64 of [A-Za-z0-9_-])", rs.Tool)
	}
	argNames := map[string]bool{}
	for i, as := range rs.Args {
		ap := path + ": args[" + strconv.Itoa(i) + "]"
		if as.Name != "" {
			ap += " " + as.Name
		}
		switch {
		case strings.TrimSpace(as.Name) == "":
			c.errorf(ap, "name is required")
		case argNames[as.Name]:
			c.errorf(ap, "an argument of that name comes earlier")
		}
		argNames[as.Name] = true
		if len(as.Patterns) == 0 && as.Fact == "" && as.Expr == "" && as.Default == "" {
			c.errorf(ap, "needs a source: patterns, fact, expr or default")
		}
		a := arg{name: as.Name, fact: as.Fact, def: as.Default, optional: as.Optional}
		a.patterns = c.patterns(ap, as.Patterns)
		if as.Expr != "" {
			a.expr = c.compile(ap+": expr", as.Expr)
		}
		ru.args = append(ru.args, a)
	}
	valueNames := map[string]bool{}
	for i, vs := range rs.Values {
		vp := path + ": values[" + strconv.Itoa(i) + "]"
		if vs.Name != "" {
			vp += " " + vs.Name
		}
		switch {
		case !validIdent(vs.Name):
			c.errorf(vp, "name must be a letter or _ followed by letters, digits or _")
		case slices.Contains(reserved, vs.Name):
			c.errorf(vp, "%q is reserved (%s)", vs.Name, strings.Join(reserved, ", "))
		case valueNames[vs.Name]:
			c.errorf(vp, "a value of that name comes earlier")
		}
		valueNames[vs.Name] = true
		if strings.TrimSpace(vs.Expr) == "" {
			c.errorf(vp, "expr is required")
			continue
		}
		ru.values = append(ru.values, value{name: vs.Name, prog: c.compile(vp+": expr", vs.Expr)})
	}
	if len(rs.Answers) == 0 {
		c.errorf(path, "needs at least one answer")
	}
	ru.answers = c.variants(path+": answers", rs.Answers)
	ru.toolErr = c.variants(path+": tool_error", rs.ToolError)
	if len(rs.Missing) > 0 {
		ru.missing = c.text(path+": missing", rs.Missing)
	}
	return ru
}

func (c *compiler) patterns(path string, ps []string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, 0, len(ps))
	for i, p := range ps {
		pp := path + ": patterns[" + strconv.Itoa(i) + "]"
		if p == "" {
			c.errorf(pp, "empty pattern")
			continue
		}
		re, err := regexp.Compile(p)
		if err != nil {
			c.errorf(pp, "%v", err)
			continue
		}
		out = append(out, re)
	}
	return out
}

func (c *compiler) variants(path string, vs []Variant) []variant {
	out := make([]variant, 0, len(vs))
	for i, v := range vs {
		vp := path + "[" + strconv.Itoa(i) + "]"
		out = append(out, variant{when: c.cond(vp+": when", v.When), text: c.text(vp+": text", v.Text)})
	}
	return out
}

// cond compiles a boolean expression; "" means none (always true).
func (c *compiler) cond(path, code string) *vm.Program {
	if strings.TrimSpace(code) == "" {
		return nil
	}
	p, err := expr.Compile(code, expr.Env(Env{}), expr.AsBool())
	if err != nil {
		c.errorf(path, "%s", oneLine(err.Error()))
		return nil
	}
	return p
}

func (c *compiler) compile(path, code string) *vm.Program {
	p, err := expr.Compile(code, expr.Env(Env{}))
	if err != nil {
		c.errorf(path, "%s", oneLine(err.Error()))
		return nil
	}
	return p
}

func (c *compiler) text(path string, t Text) text {
	out := make(text, len(t))
	if len(t) == 0 {
		c.errorf(path, "no text")
		return out
	}
	if _, ok := t[c.defLang]; !ok {
		c.errorf(path, "no text in the default language %q", c.defLang)
	}
	for lang, src := range t {
		lp := path + "." + lang
		if !validLang(lang) {
			c.errorf(lp, "%q is not a language tag's primary subtag (2 to 8 lower-case letters)", lang)
			continue
		}
		if strings.TrimSpace(src) == "" {
			c.errorf(lp, "empty text")
			continue
		}
		tm, err := template.New(lang).Option("missingkey=error").Funcs(funcs(lang)).Parse(src)
		if err != nil {
			c.errorf(lp, "%s", oneLine(err.Error()))
			continue
		}
		out[lang] = tm
	}
	return out
}

func validLang(s string) bool {
	if len(s) < 2 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

func validIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// oneLine keeps an expression error's first line; expr adds the source
// and a caret on the next lines, which a path already locates.
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Tools returns the names of the tools the rules call, sorted: the tools
// a tool.Runner given to RunnerTools must offer. The slice is shared: do
// not modify it.
func (r *Rules) Tools() []string { return r.tools }

// Names returns the rules' names in order.
func (r *Rules) Names() []string {
	out := make([]string, len(r.rules))
	for i, ru := range r.rules {
		out[i] = ru.name
	}
	return out
}
