package ctxwindow

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Fact is one pinned fact of a session: a value the conversation must
// never lose, such as an order number.
type Fact struct {
	// Kind is what the value is: one of the built-in kinds (KindOrder, …)
	// or a kind of the agent's patterns and tool fields.
	Kind string `json:"kind"`
	// Value is the fact as first written (an order number without its
	// "#").
	Value string `json:"value"`
	// Key identifies the fact for de-duplication: Value normalised (an
	// amount's currency and cents, a phone's digits, an email in lower
	// case), so "€12.5" and "12.50 EUR" are one fact.
	Key string `json:"key"`
	// First and Last are the seqs of the turns that mentioned it first and
	// last.
	First int64 `json:"first_turn"`
	Last  int64 `json:"last_turn"`
	// Source is "user", or "tool:NAME" for a tool result's field.
	Source string `json:"source"`
}

// Facts is a session's pinned facts, in the order they were first
// mentioned, each (kind, key) once. The zero value is empty and ready to
// use; a Facts is not safe for concurrent use.
type Facts struct {
	list []Fact
	idx  map[factID]int // → index in list
}

// factID identifies a fact: its kind and key.
type factID struct{ kind, key string }

// DecodeFacts reads facts stored by Encode. Anything unreadable reads as
// no facts, with an error saying why; facts without a kind or a value are
// skipped.
func DecodeFacts(raw []byte) (*Facts, error) {
	f := &Facts{}
	if len(raw) == 0 || string(raw) == "null" {
		return f, nil
	}
	list, ok := scanFacts(raw)
	if !ok {
		if err := json.Unmarshal(raw, &list); err != nil {
			return f, fmt.Errorf("decode facts: %w", err)
		}
	}
	for _, x := range list {
		if x.Kind == "" || x.Value == "" {
			continue
		}
		if x.Key == "" {
			x.Key = x.Value
		}
		f.add(x)
	}
	return f, nil
}

// Encode returns the facts as a JSON array of Fact; nil when there are
// none.
func (f *Facts) Encode() json.RawMessage {
	if f.Len() == 0 {
		return nil
	}
	b, _ := json.Marshal(f.list) // strings and integers only: never fails
	return b
}

// Len returns the number of facts.
func (f *Facts) Len() int { return len(f.list) }

// List returns the facts, first mentioned first. The slice is the caller's.
func (f *Facts) List() []Fact { return slices.Clone(f.list) }

// Has reports whether a fact of kind with key is pinned.
func (f *Facts) Has(kind, key string) bool {
	_, ok := f.index()[factID{kind, key}]
	return ok
}

func (f *Facts) index() map[factID]int {
	if f.idx == nil {
		f.idx = make(map[factID]int, len(f.list)+8)
		for i := range f.list {
			f.idx[factID{f.list[i].Kind, f.list[i].Key}] = i
		}
	}
	return f.idx
}

// Mention records a fact found in turn seq: a new fact goes last; a known
// one keeps its first mention, value and source and moves its last
// mention forward.
func (f *Facts) Mention(x Found, seq int64) {
	f.add(Fact{Kind: x.Kind, Value: x.Value, Key: x.Key, First: seq, Last: seq, Source: x.Source})
}

func (f *Facts) add(x Fact) {
	idx := f.index()
	k := factID{x.Kind, x.Key}
	if i, ok := idx[k]; ok {
		g := &f.list[i]
		g.Last = max(g.Last, x.Last)
		g.First = min(g.First, x.First)
		return
	}
	idx[k] = len(f.list)
	f.list = append(f.list, x)
}

// Bound keeps at most n facts, dropping those mentioned least recently
// (the oldest first mention among equals), and returns how many it
// dropped.
func (f *Facts) Bound(n int) int {
	drop := len(f.list) - n
	if drop <= 0 {
		return 0
	}
	order := make([]int, len(f.list))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		x, y := &f.list[a], &f.list[b]
		switch {
		case x.Last != y.Last:
			return cmp.Compare(x.Last, y.Last)
		case x.First != y.First:
			return cmp.Compare(x.First, y.First)
		}
		return a - b
	})
	gone := make([]bool, len(f.list))
	for _, i := range order[:drop] {
		gone[i] = true
	}
	kept := f.list[:0]
	for i := range f.list {
		if !gone[i] {
			kept = append(kept, f.list[i])
		}
	}
	clear(f.list[len(kept):])
	f.list, f.idx = kept, nil
	return drop
}

// kindLabels name the built-in kinds in the facts block.
var kindLabels = map[string]string{
	KindOrder: "order numbers", KindTracking: "tracking numbers", KindAmount: "amounts",
	KindDate: "dates", KindEmail: "emails", KindPhone: "phone numbers", KindSKU: "SKUs",
	KindReturn: "return numbers",
}

// factsHeader opens the facts block.
const factsHeader = "Facts pinned from earlier turns (exact values, earliest first; quote them verbatim):"

// Render returns the facts block for the system prompt, "" when there are
// no facts: one line per kind, kinds in the order first seen, values in
// the order first mentioned, and "(latest: V)" when the most recently
// mentioned value of a kind is not the last listed. A model asked for the
// first order number given reads it first, one asked for the last finds
// it, whatever the summary kept.
func (f *Facts) Render() string {
	if f.Len() == 0 {
		return ""
	}
	var kinds []string
	for i := range f.list {
		if !slices.Contains(kinds, f.list[i].Kind) {
			kinds = append(kinds, f.list[i].Kind)
		}
	}
	var b strings.Builder
	b.Grow(len(factsHeader) + 24*len(f.list))
	b.WriteString(factsHeader)
	for _, k := range kinds {
		b.WriteString("\n- ")
		label := kindLabels[k]
		if label == "" {
			label = strings.ReplaceAll(k, "_", " ")
		}
		b.WriteString(label)
		b.WriteString(": ")
		var last, latest *Fact
		n := 0
		for i := range f.list {
			x := &f.list[i]
			if x.Kind != k {
				continue
			}
			if n > 0 {
				b.WriteString(", ")
			}
			b.WriteString(x.Value)
			n++
			last = x
			if latest == nil || x.Last > latest.Last {
				latest = x
			}
		}
		if latest != last && latest.Last > last.Last {
			b.WriteString(" (latest: ")
			b.WriteString(latest.Value)
			b.WriteByte(')')
		}
	}
	return b.String()
}

// scanFacts reads what Encode writes without reflection: an array of
// objects whose members are strings without escapes (valid UTF-8) or
// non-negative integers. It reports false for anything else (escapes, other types,
// nesting, bad syntax), and DecodeFacts then falls back to encoding/json;
// where it reports true the result is json.Unmarshal's (FuzzScanFacts
// checks it). Facts are decoded on every request, so this matters.
func scanFacts(b []byte) ([]Fact, bool) {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	str := func() (string, bool) {
		if i >= len(b) || b[i] != '"' {
			return "", false
		}
		j, ascii := i+1, true
		for j < len(b) && b[j] != '"' {
			if c := b[j]; c == '\\' || c < 0x20 {
				return "", false // escapes: encoding/json decides
			} else if c >= 0x80 {
				ascii = false
			}
			j++
		}
		if j == len(b) || (!ascii && !utf8.Valid(b[i+1:j])) {
			return "", false
		}
		s := intern(b[i+1 : j])
		i = j + 1
		return s, true
	}
	num := func() (int64, bool) {
		j, n := i, int64(0)
		for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 18 {
			n = n*10 + int64(b[j]-'0')
			j++
		}
		if j == i || (b[i] == '0' && j-i > 1) || (j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E' || (b[j] >= '0' && b[j] <= '9'))) {
			return 0, false
		}
		i = j
		return n, true
	}
	ws()
	if i >= len(b) || b[i] != '[' {
		return nil, false
	}
	i++
	list := make([]Fact, 0, bytes.Count(b, []byte("{")))
	ws()
	if i < len(b) && b[i] == ']' {
		i++
		ws()
		return list, i == len(b)
	}
	for {
		ws()
		if i >= len(b) || b[i] != '{' {
			return nil, false
		}
		i++
		var x Fact
		seen := 0
		for {
			ws()
			if seen == 0 && i < len(b) && b[i] == '}' {
				break
			}
			k, ok := str()
			if !ok {
				return nil, false
			}
			ws()
			if i >= len(b) || b[i] != ':' {
				return nil, false
			}
			i++
			ws()
			switch k {
			case "kind", "value", "key", "source":
				v, ok := str()
				if !ok {
					return nil, false
				}
				switch k {
				case "kind":
					x.Kind = v
				case "value":
					x.Value = v
				case "key":
					x.Key = v
				default:
					x.Source = v
				}
			case "first_turn", "last_turn":
				v, ok := num()
				if !ok {
					return nil, false
				}
				if k == "first_turn" {
					x.First = v
				} else {
					x.Last = v
				}
			default:
				return nil, false // unknown members: let encoding/json skip them
			}
			seen++
			ws()
			if i < len(b) && b[i] == ',' {
				i++
				continue
			}
			break
		}
		if i >= len(b) || b[i] != '}' {
			return nil, false
		}
		i++
		list = append(list, x)
		ws()
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == ']' {
			i++
			ws()
			return list, i == len(b)
		}
		return nil, false
	}
}

// interned are strings that recur in every stored fact: kinds and
// sources. Reading them costs no allocation.
var interned = func() map[string]string {
	m := map[string]string{"user": "user"}
	for _, k := range append(BuiltinKinds(), KindReturn) {
		m[k] = k
	}
	return m
}()

func intern(b []byte) string {
	if s, ok := interned[string(b)]; ok { // no allocation for the lookup
		return s
	}
	return string(b)
}
