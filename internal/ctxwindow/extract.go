package ctxwindow

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Found is a fact an Extractor found in one message.
type Found struct {
	Kind, Value, Key string
	// Source is "user" or "tool:NAME".
	Source string
}

// maxFactLen caps a fact's value; longer matches are not facts.
const maxFactLen = 128

// Extractor finds the facts of messages: the built-in kinds and the
// agent's patterns in user messages, the configured fields in tool
// results. Assistant messages are not read (what they say comes from the
// customer or the tools). Results are cached per message text, so a
// message costs its scan once per process, however many turns resend it.
// Safe for concurrent use.
type Extractor struct {
	patterns []compiledPattern
	builtins []builtin
	fields   map[string]string // field → kind
	cache    foundCache
}

type compiledPattern struct {
	kind string
	re   *regexp.Regexp
}

// builtin is one built-in extractor: its expression and a check of each
// match, which returns the value and key or ok false.
type builtin struct {
	kind  string
	re    *regexp.Regexp
	check func(s string, m []int) (value, key string, ok bool)
}

// NewExtractor compiles p (normalised by Policy.Normalize).
func NewExtractor(p FactsPolicy) (*Extractor, error) {
	x := &Extractor{fields: make(map[string]string, len(p.ToolFields))}
	for _, pt := range p.Patterns {
		re, err := regexp.Compile(pt.Regexp)
		if err != nil {
			return nil, err
		}
		x.patterns = append(x.patterns, compiledPattern{kind: pt.Kind, re: re})
	}
	for _, b := range builtins {
		if p.Builtins == nil || slices.Contains(p.Builtins, b.kind) {
			x.builtins = append(x.builtins, b)
		}
	}
	for _, f := range p.ToolFields {
		x.fields[f.Field] = f.Kind
	}
	x.cache.init()
	return x, nil
}

// Message returns the facts of one message, in the order they appear.
// The slice is shared: do not modify it.
func (x *Extractor) Message(m *llm.Message) []Found {
	var role byte
	switch m.Role {
	case llm.RoleUser:
		role = 'u'
	case llm.RoleTool:
		if len(x.fields) == 0 {
			return nil
		}
		role = 't'
	default:
		return nil
	}
	text := m.Content.String()
	if text == "" {
		return nil
	}
	h := x.cache.hash(role, text)
	if f, ok := x.cache.get(h); ok {
		return f
	}
	var f []Found
	if role == 'u' {
		f = x.text(text)
	} else {
		f = x.toolResult(text)
	}
	x.cache.put(h, f)
	return f
}

// span is a claimed part of a text.
type span struct{ from, to int }

type hit struct {
	pos int
	f   Found
}

// text runs the patterns, then the built-ins, each taking the spans it
// matches so that later ones do not match inside them.
func (x *Extractor) text(s string) []Found {
	var claimed []span
	var hits []hit
	free := func(from, to int) bool {
		for _, c := range claimed {
			if from < c.to && c.from < to {
				return false
			}
		}
		return true
	}
	for _, p := range x.patterns {
		for _, m := range p.re.FindAllStringSubmatchIndex(s, 32) {
			from, to := m[0], m[1]
			if len(m) >= 4 && m[2] >= 0 {
				from, to = m[2], m[3]
			}
			if to <= from || !free(m[0], m[1]) {
				continue
			}
			v := cleanValue(s[from:to])
			if v == "" {
				continue
			}
			claimed = append(claimed, span{m[0], m[1]})
			hits = append(hits, hit{pos: from, f: Found{Kind: p.kind, Value: v, Key: strings.ToLower(v), Source: "user"}})
		}
	}
	digits, at := hasDigitAt(s)
	for _, b := range x.builtins {
		// Every built-in but email needs a digit, email an "@": most
		// messages skip most expressions.
		if (b.kind == KindEmail && !at) || (b.kind != KindEmail && !digits) {
			continue
		}
		for _, m := range b.re.FindAllStringSubmatchIndex(s, 64) {
			if !free(m[0], m[1]) {
				continue
			}
			v, k, ok := b.check(s, m)
			if !ok {
				continue
			}
			claimed = append(claimed, span{m[0], m[1]})
			hits = append(hits, hit{pos: m[0], f: Found{Kind: b.kind, Value: v, Key: k, Source: "user"}})
		}
	}
	if len(hits) == 0 {
		return nil
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return a.pos - b.pos })
	out := make([]Found, len(hits))
	for i := range hits {
		out[i] = hits[i].f
	}
	return out
}

// hasDigitAt reports whether s has an ASCII digit and an "@".
func hasDigitAt(s string) (digit, at bool) {
	for i := 0; i < len(s) && !(digit && at); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c == '@':
			at = true
		}
	}
	return digit, at
}

// cleanValue collapses whitespace and refuses over-long values.
func cleanValue(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxFactLen {
		return ""
	}
	return s
}

// toolResult pins the configured fields of a tool result: its data, when
// it is floodgate's envelope {"type":"tool_result","tool":…,"data":…},
// else the whole JSON value. Error results pin nothing.
func (x *Extractor) toolResult(s string) []Found {
	b := []byte(s)
	var env struct {
		Type    string          `json:"type"`
		Tool    string          `json:"tool"`
		Data    json.RawMessage `json:"data"`
		IsError bool            `json:"is_error"`
	}
	source := "tool"
	data := b
	if t := bytes.TrimSpace(b); len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return nil // text, or a lone value: no fields
	}
	if json.Unmarshal(b, &env) == nil && env.Type == "tool_result" {
		if env.IsError {
			return nil
		}
		data, source = env.Data, "tool:"+env.Tool
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil {
		return nil
	}
	var out []Found
	x.walk(v, source, &out, 0)
	return out
}

// maxDepth bounds the walk through a tool result.
const maxDepth = 16

func (x *Extractor) walk(v any, source string, out *[]Found, depth int) {
	if depth > maxDepth || len(*out) >= 64 {
		return
	}
	switch v := v.(type) {
	case map[string]any:
		// Sorted keys: the facts of one object come in a stable order.
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if kind, ok := x.fields[k]; ok {
				if f, ok := fieldFact(kind, v[k], v["currency"], source); ok {
					*out = append(*out, f)
					continue
				}
			}
			x.walk(v[k], source, out, depth+1)
		}
	case []any:
		for _, e := range v {
			x.walk(e, source, out, depth+1)
		}
	}
}

// fieldFact turns a pinned field's value into a fact.
func fieldFact(kind string, v, currency any, source string) (Found, bool) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case json.Number:
		s = v.String()
		if c, ok := currency.(string); ok && c != "" && len(c) <= 8 && isAmountKind(kind) {
			s += " " + c
		}
	default:
		return Found{}, false
	}
	s = cleanValue(s)
	if s == "" {
		return Found{}, false
	}
	key := strings.ToLower(s)
	switch kind {
	case KindOrder:
		s = strings.TrimPrefix(s, "#")
		key = s
	case KindAmount:
		if k, ok := amountKey(s); ok {
			key = k
		}
	case KindPhone:
		if k, ok := phoneKey(s); ok {
			key = k
		}
	case KindTracking, KindSKU:
		key = strings.ToUpper(s)
	}
	return Found{Kind: kind, Value: s, Key: key, Source: source}, true
}

// isAmountKind reports kinds whose numbers take their object's currency.
func isAmountKind(kind string) bool { return kind == KindAmount || strings.HasSuffix(kind, "_amount") }

// Built-in expressions. Go's regexp has no look-behind: the checks look
// at the bytes around a match instead.
var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	months  = `(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`
	reDate  = regexp.MustCompile(`(?i)\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?` + months +
		`(?:,?\s+\d{4})?|` + months + `\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?)\b`)
	reAmount   = regexp.MustCompile(`(?i)(?:[€$£]\s?\d{1,9}(?:[.,]\d{3})*(?:[.,]\d{1,2})?|\b(?:eur|usd|gbp|chf)\s?\d{1,9}(?:[.,]\d{1,2})?\b|\b\d{1,9}(?:[.,]\d{1,2})?\s?(?:€|\$|£|eur\b|euros?\b|usd\b|dollars?\b|gbp\b|pounds?\b|chf\b))`)
	reSKU      = regexp.MustCompile(`\b[A-Z]{2,5}-\d{2,6}\b`)
	reTracking = regexp.MustCompile(`\b(?:1[Zz][0-9A-Za-z]{16}|[0-9A-Z]{10,22})\b`)
	rePhone    = regexp.MustCompile(`(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\b\d{2,10}(?:[ .-]\d{2,10}){0,4}\b`)
	reOrder    = regexp.MustCompile(`#?\b\d{5,9}\b`)
)

// builtins in the order they claim text (BuiltinKinds).
var builtins = []builtin{
	{kind: KindEmail, re: reEmail, check: checkEmail},
	{kind: KindDate, re: reDate, check: checkDate},
	{kind: KindAmount, re: reAmount, check: checkAmount},
	{kind: KindSKU, re: reSKU, check: checkSKU},
	{kind: KindTracking, re: reTracking, check: checkTracking},
	{kind: KindPhone, re: rePhone, check: checkPhone},
	{kind: KindOrder, re: reOrder, check: checkOrder},
}

func checkEmail(s string, m []int) (string, string, bool) {
	v := s[m[0]:m[1]]
	if len(v) > maxFactLen {
		return "", "", false
	}
	return v, strings.ToLower(v), true
}

func checkDate(s string, m []int) (string, string, bool) {
	v := cleanValue(s[m[0]:m[1]])
	return v, strings.ToLower(v), v != ""
}

func checkAmount(s string, m []int) (string, string, bool) {
	v := strings.TrimSpace(s[m[0]:m[1]])
	symbol := strings.HasPrefix(v, "€") || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "£")
	if m[0] > 0 && isWordByte(s[m[0]-1]) && !symbol {
		return "", "", false
	}
	k, ok := amountKey(v)
	return v, k, ok
}

func checkSKU(s string, m []int) (string, string, bool) {
	if m[0] > 0 && s[m[0]-1] == '-' || m[1] < len(s) && s[m[1]] == '-' {
		return "", "", false
	}
	v := s[m[0]:m[1]]
	return v, v, true
}

func checkTracking(s string, m []int) (string, string, bool) {
	v := s[m[0]:m[1]]
	if m[0] > 0 && (s[m[0]-1] == '-' || s[m[0]-1] == '.' || s[m[0]-1] == '@') {
		return "", "", false
	}
	letters, digits := 0, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c >= '0' && c <= '9':
			digits++
		default:
			letters++
		}
	}
	if letters == 0 || digits == 0 {
		return "", "", false
	}
	return v, strings.ToUpper(v), true
}

// phoneContext are words after which a lone 7–9 digit number is a phone
// number rather than an order number.
var phoneContext = []string{"phone", "tel", "mobile", "cell", "call me", "whatsapp", "sms", "text me"}

func checkPhone(s string, m []int) (string, string, bool) {
	v := s[m[0]:m[1]]
	if m[0] > 0 {
		if c := s[m[0]-1]; c == '.' || c == ',' || c == '-' || c == '#' || isWordByte(c) {
			return "", "", false
		}
	}
	if m[1] < len(s) && (s[m[1]] == '-' || (s[m[1]] == '.' || s[m[1]] == ',') && m[1]+1 < len(s) && isDigit(s[m[1]+1])) {
		return "", "", false
	}
	var groups []int
	n, digits := 0, 0
	for i := 0; i < len(v); i++ {
		if isDigit(v[i]) {
			n++
			digits++
			continue
		}
		if n > 0 {
			groups = append(groups, n)
		}
		n = 0
	}
	if n > 0 {
		groups = append(groups, n)
	}
	if digits < 7 || digits > 15 {
		return "", "", false
	}
	plus := v[0] == '+' || v[0] == '('
	ok := false
	switch {
	case plus:
		ok = true
	case len(groups) >= 2 && groups[0] <= 4:
		ok = true
	case len(groups) == 1 && digits >= 10:
		ok = true
	case len(groups) == 1 && hasContext(s[:m[0]]):
		ok = true
	}
	if !ok {
		return "", "", false
	}
	key, _ := phoneKey(v)
	return v, key, true
}

// phoneKey is a phone number's digits, with its leading "+".
func phoneKey(v string) (string, bool) {
	key := make([]byte, 0, len(v))
	if strings.HasPrefix(v, "+") {
		key = append(key, '+')
	}
	for i := 0; i < len(v); i++ {
		if isDigit(v[i]) {
			key = append(key, v[i])
		}
	}
	return string(key), len(key) > 0
}

func hasContext(before string) bool {
	if len(before) > 30 {
		before = before[len(before)-30:]
	}
	before = strings.ToLower(before)
	for _, w := range phoneContext {
		if strings.Contains(before, w) {
			return true
		}
	}
	return false
}

func checkOrder(s string, m []int) (string, string, bool) {
	from := m[0]
	if s[from] == '#' {
		from++
	} else if from > 0 {
		if c := s[from-1]; c == '.' || c == ',' || c == '-' || c == '+' || c == '/' || isWordByte(c) {
			return "", "", false
		}
	}
	if to := m[1]; to < len(s) && (s[to] == '-' || (s[to] == '.' || s[to] == ',') && to+1 < len(s) && isDigit(s[to+1])) {
		return "", "", false
	}
	v := s[from:m[1]]
	return v, v, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWordByte reports bytes that continue a word, non-ASCII letters
// included.
func isWordByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

// currencyCodes maps currency symbols and words to ISO codes.
var currencyCodes = map[string]string{
	"€": "EUR", "$": "USD", "£": "GBP", "eur": "EUR", "euro": "EUR", "euros": "EUR",
	"usd": "USD", "dollar": "USD", "dollars": "USD", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "chf": "CHF",
}

// amountKey normalises an amount to "CODE units.cents": "€12.5", "12,50
// EUR" and "EUR 12.50" all give "EUR 12.50".
func amountKey(v string) (string, bool) {
	var num strings.Builder
	var cur strings.Builder
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9' || r == '.' || r == ',':
			num.WriteRune(r)
		case r == ' ':
		default:
			cur.WriteRune(r)
		}
	}
	code := currencyCodes[strings.ToLower(cur.String())]
	if code == "" {
		if c := strings.ToUpper(cur.String()); len(c) == 3 {
			code = c
		} else {
			return "", false
		}
	}
	n := num.String()
	if n == "" {
		return "", false
	}
	units, cents := n, ""
	// The last separator followed by one or two digits is the decimal
	// point; the others group thousands.
	if i := strings.LastIndexAny(n, ".,"); i >= 0 && len(n)-i-1 <= 2 && len(n)-i-1 > 0 {
		units, cents = n[:i], n[i+1:]
	}
	units = strings.NewReplacer(".", "", ",", "").Replace(units)
	units = strings.TrimLeft(units, "0")
	if units == "" {
		units = "0"
	}
	for len(cents) < 2 {
		cents += "0"
	}
	if _, err := strconv.ParseUint(units+cents, 10, 64); err != nil {
		return "", false
	}
	return code + " " + units + "." + cents, true
}

// foundCache maps the hash of a message's role and text to its facts: two
// generations of up to foundCacheCap entries, the tokenizer's scheme.
type foundCache struct {
	seed     maphash.Seed
	mu       sync.RWMutex
	cur, old map[uint64][]Found
}

const foundCacheCap = 4096

func (c *foundCache) init() {
	c.seed = maphash.MakeSeed()
	c.cur = make(map[uint64][]Found, 64)
}

func (c *foundCache) hash(role byte, s string) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteByte(role)
	h.WriteString(s)
	return h.Sum64()
}

func (c *foundCache) get(h uint64) ([]Found, bool) {
	c.mu.RLock()
	f, ok := c.cur[h]
	if !ok {
		f, ok = c.old[h]
		c.mu.RUnlock()
		if ok {
			c.put(h, f)
		}
		return f, ok
	}
	c.mu.RUnlock()
	return f, true
}

func (c *foundCache) put(h uint64, f []Found) {
	c.mu.Lock()
	if len(c.cur) >= foundCacheCap {
		c.old, c.cur = c.cur, make(map[uint64][]Found, foundCacheCap)
	}
	c.cur[h] = f
	c.mu.Unlock()
}
