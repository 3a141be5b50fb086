package sim

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// fields is a tool result flattened to lower-case keys with one level of
// nesting merged in ({"order":{"status":…}} gives "status").
type fields map[string]string

// Keys looked up in tool results, in order of preference.
var (
	keyOrderID  = []string{"order_id", "order_number", "orderid", "ordernumber", "order_no", "order"}
	keyStatus   = []string{"status", "order_status", "shipment_status", "state", "delivery_status"}
	keyETA      = []string{"eta", "estimated_delivery", "estimated_delivery_date", "delivery_date", "expected_delivery", "expected_delivery_date", "estimated_arrival", "delivered_at"}
	keyCarrier  = []string{"carrier", "courier", "shipping_carrier", "shipper"}
	keyTracking = []string{"tracking_number", "tracking", "tracking_id", "tracking_no", "trackingnumber"}
	keyAmount   = []string{"refund_amount", "amount", "total", "refund", "order_total", "total_amount"}
	keyCurrency = []string{"currency", "currency_code"}
	keyName     = []string{"product_name", "name", "title", "product"}
	keyPrice    = []string{"price", "unit_price", "price_eur", "price_usd"}
	keyStock    = []string{"in_stock", "stock", "available", "availability", "quantity_available", "inventory"}
	keyReturnID = []string{"return_id", "rma", "rma_number", "return_number"}
	keyError    = []string{"error", "error_message"}
	keyMessage  = []string{"message", "detail", "details", "note"}
	keyItems    = []string{"results", "items", "products", "data", "matches"}
)

func (f fields) get(keys []string) string {
	for _, k := range keys {
		if v, ok := f[k]; ok && v != "" {
			return v
		}
	}
	return ""
}

func (f fields) set(keys []string, v string) {
	for _, k := range keys {
		if _, ok := f[k]; ok {
			f[k] = v
			return
		}
	}
}

// toolResult is one tool message with the call it answers.
type toolResult struct {
	call   llm.ToolCall
	intent intent
	text   string
	obj    fields   // nil when the result is not a JSON object
	items  []fields // list results (product searches)
	failed bool
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

func flatten(m map[string]any) fields {
	f := make(fields, len(m))
	for k, v := range m {
		if s, ok := scalar(v); ok {
			f[strings.ToLower(k)] = s
		}
	}
	for _, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for k, sv := range sub {
				k = strings.ToLower(k)
				if _, dup := f[k]; dup {
					continue
				}
				if s, ok := scalar(sv); ok {
					f[k] = s
				}
			}
		}
	}
	return f
}

func parseResult(res *toolResult) {
	dec := json.NewDecoder(strings.NewReader(res.text))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil || dec.More() {
		l := strings.ToLower(res.text)
		res.failed = strings.Contains(l, "not found") || strings.Contains(l, "error") ||
			strings.Contains(l, "no such") || strings.Contains(l, "invalid") || strings.Contains(l, "unknown")
		return
	}
	// floodgate delimits tool results as data in an envelope
	// {"type":"tool_result","tool":…,"data":…,"is_error":…}; the answer is
	// about what is inside.
	if env, ok := v.(map[string]any); ok && env["type"] == "tool_result" {
		if _, has := env["data"]; has {
			v = env["data"]
			if env["is_error"] == true {
				res.failed = true
			}
			if s, ok := v.(string); ok {
				res.text = s
				l := strings.ToLower(s)
				res.failed = res.failed || strings.Contains(l, "not found") || strings.Contains(l, "error")
				return
			}
		}
	}
	var list []any
	switch x := v.(type) {
	case map[string]any:
		res.obj = flatten(x)
		for _, k := range keyItems {
			if l, ok := x[k].([]any); ok {
				list = l
				break
			}
		}
		if e, ok := x["error"]; ok && e != nil && e != false {
			res.failed = true
		}
		if st := strings.ToLower(res.obj.get(keyStatus)); st == "not_found" || st == "not found" || st == "error" {
			res.failed = true
		}
	case []any:
		list = x
	}
	for _, it := range list {
		if m, ok := it.(map[string]any); ok {
			res.items = append(res.items, flatten(m))
		}
	}
}

// argOf returns an argument of a tool call by fill kind ("" if none).
func argOf(c llm.ToolCall, k fillKind) string {
	var args map[string]any
	if json.Unmarshal([]byte(c.Function.Arguments), &args) != nil {
		return ""
	}
	for name, v := range args {
		if fillFor(name) == k {
			if s, ok := scalar(v); ok {
				return s
			}
			if l, ok := v.([]any); ok && len(l) > 0 {
				s, _ := scalar(l[0])
				return s
			}
		}
	}
	return ""
}

// composeAnswer writes the final answer from the turn's tool results. With
// wrong set, one fact of the first result is changed in a checkable way.
func composeAnswer(t *turn, made []llm.ToolCall, msgs []llm.Message, wrong bool, r *rng) string {
	var results []toolResult
	known := false
	for i := range msgs {
		m := &msgs[i]
		res := toolResult{text: m.Content.String()}
		for _, c := range made {
			if c.ID == m.ToolCallID {
				res.call = c
				break
			}
		}
		if ti := t.tool(res.call.Function.Name); ti != nil {
			res.intent = ti.intent
		} else {
			res.intent = toolTextIntent(strings.ToLower(res.call.Function.Name))
		}
		if res.intent != intentUnknown {
			known = true
		}
		dup := false
		for j := range results {
			if results[j].text == res.text && results[j].call.Function.Name == res.call.Function.Name {
				dup = true
			}
		}
		if !dup {
			parseResult(&res)
			results = append(results, res)
		}
	}
	var b strings.Builder
	b.WriteString(r.pick(openers))
	n := 0
	for i := range results {
		res := &results[i]
		if known && res.intent == intentUnknown {
			continue // the weather tool nobody needed
		}
		if n == 0 && wrong {
			corrupt(res, r)
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(resultSentence(res, r))
		n++
		if n == 4 {
			break
		}
	}
	b.WriteString(r.pick(closings))
	return b.String()
}

// resultSentence says what one tool result means.
func resultSentence(res *toolResult, r *rng) string {
	f := res.obj
	if f == nil {
		f = fields{}
	}
	order := f.get(keyOrderID)
	if order == "" || res.intent == intentProduct {
		if a := argOf(res.call, fillOrder); a != "" {
			order = a
		}
	}
	if res.failed {
		id := order
		if id == "" {
			id = firstNonEmpty(argOf(res.call, fillTracking), argOf(res.call, fillSKU), argOf(res.call, fillQuery))
		}
		if id == "" {
			return "I'm sorry, I couldn't find that. Could you double-check the details you gave me?"
		}
		return "I'm sorry, I couldn't find anything for " + id + ". Could you double-check the number and send it again?"
	}
	if res.obj == nil && len(res.items) == 0 {
		txt := strings.TrimSpace(res.text)
		if len(txt) > 240 {
			txt = txt[:240] + "…"
		}
		return "Here is what I found: " + txt
	}
	var b strings.Builder
	switch res.intent {
	case intentProduct:
		items := res.items
		if len(items) == 0 {
			items = []fields{f}
		}
		if len(items) == 1 && items[0].get(keyName) == "" && items[0].get(keyPrice) == "" {
			return "I couldn't find any matching products. Could you describe what you're looking for in a little more detail?"
		}
		for i, it := range items[:min(len(items), 3)] {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(productSentence(it))
		}
		return b.String()
	case intentReturn:
		if rid := f.get(keyReturnID); rid != "" {
			b.WriteString("I've started the return for order " + orDefault(order, "you mentioned") + " (return number " + rid + ").")
		} else {
			b.WriteString("I've started the return for order " + orDefault(order, "you mentioned") + ".")
		}
		if st := f.get(keyStatus); st != "" {
			b.WriteString(" Its status is " + st + ".")
		}
		if amt := f.get(keyAmount); amt != "" {
			b.WriteString(" You'll receive a refund of " + money(amt, f.get(keyCurrency)) + " once we receive the item.")
		}
		return b.String()
	}
	st := f.get(keyStatus)
	switch {
	case st != "" && order != "":
		switch r.intn(3) {
		case 0:
			b.WriteString("Your order " + order + " is currently " + st + ".")
		case 1:
			b.WriteString("I've checked order " + order + ": its status is " + st + ".")
		default:
			b.WriteString("Order " + order + " is " + st + " right now.")
		}
	case st != "":
		if r.chance(0.5) {
			b.WriteString("Your parcel is currently " + st + ".")
		} else {
			b.WriteString("The shipment's status is " + st + ".")
		}
	case order != "":
		b.WriteString("I found your order " + order + ".")
	default:
		b.WriteString("Here is what I found.")
	}
	eta := f.get(keyETA)
	if eta != "" {
		b.WriteString(r.pick([]string{" It should arrive by ", " The estimated delivery date is ", " Expected delivery: "}) + eta + ".")
	}
	carrier, tn := f.get(keyCarrier), f.get(keyTracking)
	switch {
	case carrier != "" && tn != "":
		b.WriteString(" It is shipped with " + carrier + ", tracking number " + tn + ".")
	case carrier != "":
		b.WriteString(" It is shipped with " + carrier + ".")
	case tn != "":
		b.WriteString(" The tracking number is " + tn + ".")
	}
	if amt := f.get(keyAmount); amt != "" {
		b.WriteString(" The order total is " + money(amt, f.get(keyCurrency)) + ".")
	}
	if st == "" && eta == "" && carrier == "" && tn == "" {
		if msg := f.get(keyMessage); msg != "" {
			b.WriteString(" " + msg)
		}
	}
	return b.String()
}

func productSentence(it fields) string {
	name := orDefault(it.get(keyName), "This product")
	var b strings.Builder
	b.WriteString(name)
	if p := it.get(keyPrice); p != "" {
		b.WriteString(" costs " + money(p, it.get(keyCurrency)))
	}
	switch st := strings.ToLower(it.get(keyStock)); {
	case st == "":
	case st == "false" || st == "0" || st == "out_of_stock" || st == "out of stock" || st == "no":
		b.WriteString(" and is currently out of stock")
	case st == "true" || st == "in_stock" || st == "in stock" || st == "yes":
		b.WriteString(" and is in stock")
	default:
		b.WriteString(" and is in stock (" + st + " available)")
	}
	b.WriteByte('.')
	return b.String()
}

func money(amount, currency string) string {
	if currency == "" {
		return amount
	}
	return amount + " " + currency
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// wrongStatuses replace a status the model gets wrong.
var wrongStatuses = []string{"processing", "shipped", "delivered", "out for delivery", "on hold", "cancelled"}

// corrupt changes one fact of a result the way a careless model would:
// another status, a delivery date a few days off, a different amount, stock
// flipped. Failed or unparsed results are left alone.
func corrupt(res *toolResult, r *rng) {
	f := res.obj
	if len(res.items) > 0 {
		f = res.items[0]
	}
	if f == nil || res.failed {
		return
	}
	type change struct {
		keys []string
		fn   func(string) string
	}
	changes := []change{
		{keyStatus, func(s string) string {
			for {
				if w := r.pick(wrongStatuses); !strings.EqualFold(w, s) {
					return w
				}
			}
		}},
		{keyETA, func(s string) string { return shiftDate(s, 1+r.intn(3)) }},
		{keyAmount, func(s string) string { return transposeDigits(s, r) }},
		{keyPrice, func(s string) string { return transposeDigits(s, r) }},
		{keyStock, flipStock},
	}
	var present []change
	for _, c := range changes {
		if f.get(c.keys) != "" {
			present = append(present, c)
		}
	}
	if len(present) == 0 {
		return
	}
	c := present[r.intn(len(present))]
	f.set(c.keys, c.fn(f.get(c.keys)))
}

// shiftDate moves a YYYY-MM-DD date (possibly followed by a time) by days;
// other formats get a digit transposed.
func shiftDate(s string, days int) string {
	if len(s) >= 10 {
		if d, err := time.Parse(time.DateOnly, s[:10]); err == nil {
			return d.AddDate(0, 0, days).Format(time.DateOnly) + s[10:]
		}
	}
	var r rng
	return transposeDigits(s, &r)
}

func flipStock(s string) string {
	switch strings.ToLower(s) {
	case "true", "in_stock", "in stock", "yes":
		return "false"
	case "false", "0", "out_of_stock", "out of stock", "no":
		return "true"
	}
	return "0"
}
