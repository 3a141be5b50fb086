package sim

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// fillKind is what a tool parameter is filled with, judged by its name.
type fillKind uint8

const (
	fillNone     fillKind = iota
	fillOrder             // order_id, order_number, order, orderId, …
	fillTracking          // tracking_number, tracking, …
	fillEmail
	fillPhone
	fillSKU      // sku, product_id, item_id
	fillQuery    // query, q, search, keywords, term
	fillReason   // reason, comment, description, message, note
	fillCity     // city, location
	fillQuantity // quantity, qty
	fillAmount
	fillCurrency
)

// param is one property of a tool's JSON-Schema parameters.
type param struct {
	name     string
	typ      string // "string", "integer", "number", "boolean", "array", "object" or ""
	itemType string // for arrays
	required bool
	enum     []string
	fill     fillKind
}

// toolInfo is what the sim understood of one offered tool.
type toolInfo struct {
	name   string
	intent intent // the intent it serves, or intentUnknown
	params []param
	// handoff marks a transfer_to_<agent> tool (the OpenAI Agents SDK's
	// convention): it serves its intent only when no ordinary tool does.
	handoff bool
	// sideEffect marks tools a model would not call on a whim: handoffs
	// and escalations to a human are never wandered into.
	sideEffect bool
}

// handoffPrefix starts the name of a tool that hands the conversation to
// another agent.
const handoffPrefix = "transfer_to_"

// requiredFillable reports whether every required parameter can be filled
// from ents (or has an enum or a default).
func (t *toolInfo) requiredFillable(ents []entity, query string) bool {
	for i := range t.params {
		p := &t.params[i]
		if p.required && !canFill(p, ents, query) {
			return false
		}
	}
	return true
}

// missing returns the first required parameter that cannot be filled.
func (t *toolInfo) missing(ents []entity, query string) *param {
	for i := range t.params {
		p := &t.params[i]
		if p.required && !canFill(p, ents, query) {
			return p
		}
	}
	return nil
}

func canFill(p *param, ents []entity, query string) bool {
	if len(p.enum) > 0 {
		return true
	}
	switch p.fill {
	case fillOrder:
		return firstOf(ents, entOrder) != ""
	case fillTracking:
		return firstOf(ents, entTracking) != "" || firstOf(ents, entOrder) != ""
	case fillEmail:
		return firstOf(ents, entEmail) != ""
	case fillPhone:
		return firstOf(ents, entPhone) != ""
	case fillSKU:
		return firstOf(ents, entSKU) != "" || query != ""
	case fillQuery, fillReason:
		return query != ""
	case fillCity, fillQuantity, fillCurrency:
		return true
	case fillAmount:
		return firstOf(ents, entAmount) != ""
	}
	return p.typ == "boolean"
}

// toolCache holds parsed tool declarations: agents send the same tools on
// every call, and parsing schemas is the costly part of understanding them.
// It is cleared wholesale when it grows past toolCacheCap.
type toolCache struct {
	m sync.Map // uint64 → *toolInfo
	n atomic.Int64
}

const toolCacheCap = 4096

func (c *toolCache) get(t *llm.Tool) *toolInfo {
	d := xxhash.New()
	_, _ = d.WriteString(t.Function.Name)
	_, _ = d.Write(sep)
	_, _ = d.WriteString(t.Function.Description)
	_, _ = d.Write(sep)
	_, _ = d.Write(t.Function.Parameters)
	h := d.Sum64()
	if v, ok := c.m.Load(h); ok {
		return v.(*toolInfo)
	}
	ti := parseTool(t)
	if c.n.Add(1) > toolCacheCap {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(h, ti)
	return ti
}

func parseTool(t *llm.Tool) *toolInfo {
	ti := &toolInfo{name: t.Function.Name}
	lower := strings.ToLower(ti.name)
	ti.handoff = strings.HasPrefix(lower, handoffPrefix)
	ti.sideEffect = ti.handoff || strings.Contains(lower, "escalat") || strings.Contains(lower, "human")
	ti.intent = toolTextIntent(strings.ToLower(t.Function.Name))
	if ti.intent == intentUnknown {
		ti.intent = toolTextIntent(strings.ToLower(t.Function.Description))
	}
	ti.params = parseParams(t.Function.Parameters)
	return ti
}

// toolTextIntent classifies a tool by words of its name or description.
func toolTextIntent(s string) intent {
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("return", "refund"):
		return intentReturn
	case has("track", "shipment", "shipping", "delivery", "deliver"):
		return intentShipment
	case has("order"):
		return intentOrderStatus
	case has("product", "search", "catalog", "stock", "recommend", "inventory"):
		return intentProduct
	}
	return intentUnknown
}

type schemaProp struct {
	Type  json.RawMessage `json:"type"`
	Enum  []any           `json:"enum"`
	Items *struct {
		Type json.RawMessage `json:"type"`
	} `json:"items"`
}

// parseParams reads a JSON-Schema object's properties in declaration order
// (the order a model writes arguments in) and its required list. A schema
// it cannot read yields no parameters.
func parseParams(raw json.RawMessage) []param {
	if len(raw) == 0 {
		return nil
	}
	var schema struct {
		Properties json.RawMessage `json:"properties"`
		Required   []string        `json:"required"`
	}
	if json.Unmarshal(raw, &schema) != nil || len(schema.Properties) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(schema.Properties))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var params []param
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return params
		}
		name, _ := tok.(string)
		var sp schemaProp
		if dec.Decode(&sp) != nil {
			return params
		}
		p := param{name: name, typ: schemaType(sp.Type), required: contains(schema.Required, name)}
		if sp.Items != nil {
			p.itemType = schemaType(sp.Items.Type)
		}
		for _, e := range sp.Enum {
			if s, ok := e.(string); ok {
				p.enum = append(p.enum, s)
			}
		}
		p.fill = fillFor(name)
		params = append(params, p)
	}
	return params
}

// schemaType reads "type": a string, or the first non-null of a list.
func schemaType(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		for _, t := range list {
			if t != "null" {
				return t
			}
		}
	}
	return ""
}

// fillFor judges what a parameter takes by its name.
func fillFor(name string) fillKind {
	n := strings.Map(func(r rune) rune {
		if r == '_' || r == '-' || r == ' ' {
			return -1
		}
		return toLowerRune(r)
	}, name)
	switch {
	case strings.Contains(n, "tracking"):
		return fillTracking
	case strings.Contains(n, "order"):
		return fillOrder
	case strings.Contains(n, "email") || n == "mail":
		return fillEmail
	case strings.Contains(n, "phone") || n == "tel" || n == "mobile":
		return fillPhone
	case n == "sku" || n == "productid" || n == "itemid" || n == "productcode" || n == "articlenumber" || n == "skus":
		return fillSKU
	case n == "query" || n == "q" || n == "search" || n == "searchterm" || n == "searchquery" ||
		n == "keywords" || n == "keyword" || n == "term" || n == "productname" || n == "text":
		return fillQuery
	case n == "reason" || n == "comment" || n == "comments" || n == "description" || n == "message" ||
		n == "note" || n == "notes" || n == "details" || n == "issue" || n == "problem":
		return fillReason
	case n == "city" || n == "location" || n == "place" || n == "town":
		return fillCity
	case n == "quantity" || n == "qty" || n == "count":
		return fillQuantity
	case strings.Contains(n, "amount"):
		return fillAmount
	case n == "currency":
		return fillCurrency
	}
	return fillNone
}

func toLowerRune(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// cities fill "city" parameters of tools nobody needed (the weather tool
// of the post-mortem's loops).
var cities = []string{"London", "Berlin", "Paris", "Madrid", "New York", "Chicago", "Amsterdam", "Vienna"}

// argFiller writes a tool call's arguments as compact JSON.
type argFiller struct {
	ents  []entity
	query string // the user's text stripped of filler
	text  string // the user's text
	r     *rng
}

// fill writes the arguments of t. Parameters it cannot fill are omitted
// unless required, in which case they get an empty value of their type:
// arguments are always valid JSON.
func (f *argFiller) fill(t *toolInfo, orderOverride string) string {
	b := make([]byte, 0, 64)
	b = append(b, '{')
	first := true
	for i := range t.params {
		p := &t.params[i]
		v, ok := f.value(p, orderOverride)
		if !ok && !p.required {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = llm.AppendString(b, p.name)
		b = append(b, ':')
		if !ok {
			v = emptyValue(p)
		}
		b = append(b, v...)
	}
	b = append(b, '}')
	return string(b)
}

// value returns a parameter's JSON value.
func (f *argFiller) value(p *param, orderOverride string) ([]byte, bool) {
	str := func(s string) ([]byte, bool) {
		if s == "" {
			return nil, false
		}
		switch p.typ {
		case "integer", "number":
			if _, err := strconv.ParseInt(s, 10, 64); err == nil {
				return []byte(s), true
			}
			return nil, false
		case "array":
			return append(llm.AppendString([]byte{'['}, s), ']'), true
		}
		return llm.AppendString(nil, s), true
	}
	if len(p.enum) > 0 {
		for _, e := range p.enum {
			if e != "" && containsFold(f.text, strings.ToLower(e)) {
				return llm.AppendString(nil, e), true
			}
		}
		if p.required {
			return llm.AppendString(nil, p.enum[0]), true
		}
		return nil, false
	}
	switch p.fill {
	case fillOrder:
		if orderOverride != "" {
			return str(orderOverride)
		}
		if p.typ == "array" {
			return jsonStringArray(allOf(f.ents, entOrder))
		}
		return str(firstOf(f.ents, entOrder))
	case fillTracking:
		if v := firstOf(f.ents, entTracking); v != "" {
			return str(v)
		}
		if p.required {
			// Carriers' APIs usually accept the shop's order number too.
			return str(firstOrOverride(f.ents, orderOverride))
		}
	case fillEmail:
		return str(firstOf(f.ents, entEmail))
	case fillPhone:
		return str(firstOf(f.ents, entPhone))
	case fillSKU:
		if p.typ == "array" {
			return jsonStringArray(allOf(f.ents, entSKU))
		}
		if v := firstOf(f.ents, entSKU); v != "" {
			return str(v)
		}
		if p.required {
			return str(f.query)
		}
	case fillQuery:
		return str(f.query)
	case fillReason:
		return str(strings.TrimSpace(f.text))
	case fillCity:
		return str(f.r.pick(cities))
	case fillQuantity:
		if p.typ == "integer" || p.typ == "number" {
			return []byte("1"), true
		}
		return str("1")
	case fillAmount:
		return amountValue(p, firstOf(f.ents, entAmount))
	case fillCurrency:
		if c := currencyOf(firstOf(f.ents, entAmount)); c != "" {
			return str(c)
		}
	}
	return nil, false
}

func firstOrOverride(ents []entity, override string) string {
	if override != "" {
		return override
	}
	return firstOf(ents, entOrder)
}

func jsonStringArray(vals []string) ([]byte, bool) {
	if len(vals) == 0 {
		return nil, false
	}
	b := []byte{'['}
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = llm.AppendString(b, v)
	}
	return append(b, ']'), true
}

func amountValue(p *param, amount string) ([]byte, bool) {
	num := amountNumber(amount)
	if num == "" {
		return nil, false
	}
	if p.typ == "number" || p.typ == "integer" {
		return []byte(num), true
	}
	return llm.AppendString(nil, num), true
}

// amountNumber returns the number of an amount entity with a "." decimal
// point: "€12,50" → "12.50".
func amountNumber(a string) string {
	i := strings.IndexFunc(a, func(r rune) bool { return r >= '0' && r <= '9' })
	if i < 0 {
		return ""
	}
	j := i
	for j < len(a) && (isDigit(a[j]) || a[j] == '.' || a[j] == ',') {
		j++
	}
	return strings.ReplaceAll(a[i:j], ",", ".")
}

// currencyOf returns the ISO code of an amount entity's currency.
func currencyOf(a string) string {
	l := strings.ToLower(a)
	switch {
	case a == "":
		return ""
	case strings.Contains(l, "€") || strings.Contains(l, "eur"):
		return "EUR"
	case strings.Contains(l, "£") || strings.Contains(l, "gbp") || strings.Contains(l, "pound"):
		return "GBP"
	case strings.Contains(l, "chf"):
		return "CHF"
	}
	return "USD"
}

func emptyValue(p *param) []byte {
	switch p.typ {
	case "integer", "number":
		return []byte("0")
	case "boolean":
		return []byte("false")
	case "array":
		return []byte("[]")
	case "object":
		return []byte("{}")
	}
	return []byte(`""`)
}

// fillerWords are dropped from a search query.
var fillerWords = map[string]bool{
	"a": true, "an": true, "the": true, "any": true, "some": true, "do": true, "does": true, "you": true,
	"have": true, "sell": true, "carry": true, "in": true, "stock": true, "please": true, "can": true,
	"could": true, "would": true, "i": true, "i'm": true, "im": true, "am": true, "is": true, "are": true,
	"there": true, "looking": true, "for": true, "want": true, "need": true, "buy": true, "me": true,
	"my": true, "what": true, "what's": true, "whats": true, "price": true, "of": true, "how": true,
	"much": true, "recommend": true, "hi": true, "hello": true, "hey": true, "to": true, "like": true,
	"it": true, "available": true, "still": true, "and": true, "also": true, "your": true, "cost": true,
	"costs": true, "with": true, "tell": true, "about": true, "get": true, "find": true, "show": true,
	"search": true, "that": true, "this": true, "thanks": true, "thank": true, "where": true, "order": true,
	"haben": true, "sie": true, "habt": true, "ihr": true, "auf": true, "lager": true, "avez-vous": true,
	"vous": true, "en": true, "tienen": true, "tienes": true, "el": true, "la": true, "le": true, "les": true,
	"sku": true, "number": true, "#": true, "der": true, "die": true, "das": true, "un": true, "une": true, "ein": true, "eine": true,
}

// queryOf is the search query of a user's text: without its entities
// (order numbers, emails, …), filler words and punctuation.
// SKUs stay when keepSKU is set: a catalogue search finds them.
func queryOf(text string, ents []entity, keepSKU bool) string {
	for _, e := range ents {
		if e.kind != entSKU || !keepSKU {
			text = strings.ReplaceAll(text, e.value, " ")
		}
	}
	return searchQuery(text)
}

// searchQuery strips filler words and punctuation from a user's text.
func searchQuery(text string) string {
	var b strings.Builder
	for _, w := range strings.Fields(text) {
		w = strings.TrimFunc(w, func(r rune) bool { return strings.ContainsRune(".,!?;:\"'()", r) })
		if w == "" || fillerWords[strings.ToLower(w)] {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

// transposeDigits swaps two adjacent different digits of s (chosen by r),
// or changes its last digit when all are equal: a plausible typo.
func transposeDigits(s string, r *rng) string {
	b := []byte(s)
	var cands []int
	for i := 0; i+1 < len(b); i++ {
		if isDigit(b[i]) && isDigit(b[i+1]) && b[i] != b[i+1] {
			cands = append(cands, i)
		}
	}
	if len(cands) > 0 {
		i := cands[r.intn(len(cands))]
		b[i], b[i+1] = b[i+1], b[i]
		return string(b)
	}
	for i := len(b) - 1; i >= 0; i-- {
		if isDigit(b[i]) {
			b[i] = '0' + (b[i]-'0'+1)%10
			return string(b)
		}
	}
	return s + "1"
}
