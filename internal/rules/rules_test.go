package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeTools answers each tool from a table and records the calls.
type fakeTools struct {
	mu      sync.Mutex
	results map[string]string // tool → JSON result
	domain  map[string]string // tool → JSON domain error body
	fail    map[string]error  // tool → failure
	calls   []string          // "tool args"
}

func (f *fakeTools) Call(_ context.Context, name string, args json.RawMessage) (json.RawMessage, error) {
	f.mu.Lock()
	f.calls = append(f.calls, name+" "+string(args))
	f.mu.Unlock()
	if err := f.fail[name]; err != nil {
		return nil, err
	}
	if b, ok := f.domain[name]; ok {
		return nil, &ToolError{Tool: name, Body: json.RawMessage(b)}
	}
	if r, ok := f.results[name]; ok {
		return json.RawMessage(r), nil
	}
	return nil, fmt.Errorf("tool %s: not found", name)
}

func mustParse(t testing.TB, src string) *Rules {
	t.Helper()
	r, err := Parse([]byte(src))
	require.NoError(t, err)
	return r
}

const orderRules = `
rules:
  - name: tracking
    intents: [shipment_tracking]
    patterns: ['(?i)\bparcel\b']
    args:
      - name: order_id
        patterns: ['\b(\d{6})\b']
        fact: order_number
    tool: track_shipment
    answers:
      - text: {en: "Parcel {{.args.order_id}}: {{.status}}"}
  - name: order
    intents: [order_status]
    patterns: ['(?i)\border\b']
    when: 'not (message matches "(?i)cancel")'
    args:
      - name: order_id
        patterns: ['#(?P<value>\d{6})', '\b(\d{6})\b']
        fact: order_number
      - name: verbose
        expr: 'len(message) > 40 ? "yes" : ""'
        optional: true
    tool: get_order_status
    values:
      - name: late
        expr: '(result?.days_late ?? 0) > 0'
    answers:
      - when: result.status == "delivered"
        text:
          en: "Order {{.order_id}} was delivered on {{date .delivered_at}}."
          de: "Bestellung {{.order_id}} wurde am {{date .delivered_at}} zugestellt."
      - when: values.late
        text: {en: "Order {{.args.order_id}} is {{human .status}}, {{.days_late}} days late."}
      - when: result.status != "lost"
        text: {en: "Order {{.order_id}} is {{human .status}}, expected {{.eta}}, total {{money .total}}."}
    missing:
      en: "What is your order number?"
      de: "Wie lautet Ihre Bestellnummer?"
    tool_error:
      - when: result.code == "order_not_found"
        text: {en: "No order {{.args.order_id}}."}
`

const inTransit = `{"order_id":100123,"status":"in_transit","eta":"2026-11-29","total":129.90,"days_late":0}`

func TestAnswer(t *testing.T) {
	r := mustParse(t, orderRules)
	tests := []struct {
		name      string
		give      Input
		results   map[string]string
		domain    map[string]string
		fail      map[string]error
		want      *Answer // Result not compared
		wantCalls []string
		wantErr   Reason
	}{
		{
			name:      "pattern match renders the result",
			give:      Input{Message: "where is my order 100123"},
			results:   map[string]string{"get_order_status": inTransit},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "en", Text: "Order 100123 is in transit, expected 2026-11-29, total 129.90.", Args: map[string]string{"order_id": "100123"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "named group wins, optional expr arg set",
			give:      Input{Message: "order #100124, not 100999, what is happening with it?"},
			results:   map[string]string{"get_order_status": inTransit},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "en", Text: "Order 100123 is in transit, expected 2026-11-29, total 129.90.", Args: map[string]string{"order_id": "100124", "verbose": "yes"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100124","verbose":"yes"}`},
		},
		{
			name:      "the argument comes from the newest pinned fact",
			give:      Input{Message: "and my order?", Facts: map[string][]string{"order_number": {"100001", "100002"}}},
			results:   map[string]string{"get_order_status": `{"order_id":100002,"status":"delivered","delivered_at":"2026-11-02"}`},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "en", Text: "Order 100002 was delivered on Nov 2, 2026.", Args: map[string]string{"order_id": "100002"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100002"}`},
		},
		{
			name:      "German text, tag with region",
			give:      Input{Message: "Bestellung 100002? order", Lang: "de-AT"},
			results:   map[string]string{"get_order_status": `{"order_id":100002,"status":"delivered","delivered_at":"2026-11-02"}`},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "de", Text: "Bestellung 100002 wurde am 02.11.2026 zugestellt.", Args: map[string]string{"order_id": "100002"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100002"}`},
		},
		{
			name:      "a language without text falls back to the default",
			give:      Input{Message: "order 100123", Lang: "fr"},
			results:   map[string]string{"get_order_status": inTransit},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "en", Text: "Order 100123 is in transit, expected 2026-11-29, total 129.90.", Args: map[string]string{"order_id": "100123"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "computed value chooses the answer",
			give:      Input{Message: "order 100123"},
			results:   map[string]string{"get_order_status": `{"status":"in_transit","days_late":3}`},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "en", Text: "Order 100123 is in transit, 3 days late.", Args: map[string]string{"order_id": "100123"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "the intent is authoritative over an earlier rule's pattern",
			give:      Input{Message: "parcel of order 100123", Intent: "order_status"},
			results:   map[string]string{"get_order_status": inTransit, "track_shipment": `{"status":"x"}`},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "en", Text: "Order 100123 is in transit, expected 2026-11-29, total 129.90.", Args: map[string]string{"order_id": "100123"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "without intent the first matching rule answers",
			give:      Input{Message: "parcel of order 100123"},
			results:   map[string]string{"get_order_status": inTransit, "track_shipment": `{"status":"in_transit"}`},
			want:      &Answer{Rule: "tracking", Kind: KindAnswer, Lang: "en", Text: "Parcel 100123: in_transit", Args: map[string]string{"order_id": "100123"}, Tool: "track_shipment"},
			wantCalls: []string{`track_shipment {"order_id":"100123"}`},
		},
		{
			name:      "an intent no rule names falls back to patterns",
			give:      Input{Message: "order 100123", Intent: "complaint"},
			results:   map[string]string{"get_order_status": inTransit},
			want:      &Answer{Rule: "order", Kind: KindAnswer, Lang: "en", Text: "Order 100123 is in transit, expected 2026-11-29, total 129.90.", Args: map[string]string{"order_id": "100123"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:    "missing argument asks",
			give:    Input{Message: "Wo ist meine order?", Lang: "de"},
			want:    &Answer{Rule: "order", Kind: KindAsk, Lang: "de", Text: "Wie lautet Ihre Bestellnummer?", Args: map[string]string{}},
			wantErr: "",
		},
		{
			name:    "missing argument without a missing text",
			give:    Input{Message: "my parcel?"},
			wantErr: ReasonMissingArg,
		},
		{
			name:    "when false: no other rule, no match",
			give:    Input{Message: "cancel order 100123"},
			wantErr: ReasonNoMatch,
		},
		{
			name:    "nothing matches",
			give:    Input{Message: "hello there"},
			wantErr: ReasonNoMatch,
		},
		{
			name:      "tool failure",
			give:      Input{Message: "order 100123"},
			fail:      map[string]error{"get_order_status": errors.New("connection refused")},
			wantErr:   ReasonToolFailed,
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "result that is not JSON",
			give:      Input{Message: "order 100123"},
			results:   map[string]string{"get_order_status": `not json`},
			wantErr:   ReasonToolFailed,
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "domain error with an answer",
			give:      Input{Message: "order 999999"},
			domain:    map[string]string{"get_order_status": `{"error":"order 999999 not found","code":"order_not_found"}`},
			want:      &Answer{Rule: "order", Kind: KindToolError, Lang: "en", Text: "No order 999999.", Args: map[string]string{"order_id": "999999"}, Tool: "get_order_status"},
			wantCalls: []string{`get_order_status {"order_id":"999999"}`},
		},
		{
			name:      "domain error without an answer that applies",
			give:      Input{Message: "order 100123"},
			domain:    map[string]string{"get_order_status": `{"error":"bad","code":"invalid_order_id"}`},
			wantErr:   ReasonToolError,
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "no answer variant holds",
			give:      Input{Message: "order 100123"},
			results:   map[string]string{"get_order_status": `{"status":"lost","days_late":0}`},
			wantErr:   ReasonNoVariant,
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "a field the template needs is missing",
			give:      Input{Message: "order 100123"},
			results:   map[string]string{"get_order_status": `{"status":"in_transit","days_late":0}`},
			wantErr:   ReasonRender,
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
		{
			name:      "an expression failing at run time",
			give:      Input{Message: "order 100123"},
			results:   map[string]string{"get_order_status": `{"status":"in_transit","days_late":"three"}`},
			wantErr:   ReasonEval,
			wantCalls: []string{`get_order_status {"order_id":"100123"}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTools{results: tt.results, domain: tt.domain, fail: tt.fail}
			got, err := r.Answer(context.Background(), ft, tt.give)
			assert.Equal(t, tt.wantCalls, ft.calls)
			if tt.wantErr != "" {
				require.ErrorIs(t, err, ErrNoAnswer)
				assert.Equal(t, tt.wantErr, ReasonOf(err), "error: %v", err)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			got.Result = nil
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAnswerWithoutTools(t *testing.T) {
	r := mustParse(t, `
rules:
  - name: hello
    patterns: ['(?i)^(hi|hello)\b']
    answers:
      - text: {en: 'Hello! You wrote {{printf "%q" .message}} in {{.lang}}.'}
  - name: needs_tool
    patterns: ['tool']
    tool: some_tool
    answers: [{text: {en: "x"}}]
`)
	got, err := r.Answer(context.Background(), nil, Input{Message: "hello there"})
	require.NoError(t, err)
	assert.Equal(t, `Hello! You wrote "hello there" in en.`, got.Text)
	assert.Empty(t, got.Tool)
	assert.Equal(t, []string{"some_tool"}, r.Tools())
	assert.Equal(t, []string{"hello", "needs_tool"}, r.Names())

	_, err = r.Answer(context.Background(), nil, Input{Message: "tool"})
	assert.Equal(t, ReasonToolFailed, ReasonOf(err))
}

func TestAnswerTooLong(t *testing.T) {
	r := mustParse(t, `
rules:
  - name: long
    patterns: ['.']
    tool: t
    answers:
      - text: {en: "{{range .items}}{{.}}{{end}}"}
`)
	items := make([]string, 0, 2000)
	for range 2000 {
		items = append(items, `"abcdefgh"`)
	}
	ft := &fakeTools{results: map[string]string{"t": `{"items":[` + strings.Join(items, ",") + `]}`}}
	_, err := r.Answer(context.Background(), ft, Input{Message: "x"})
	assert.Equal(t, ReasonRender, ReasonOf(err))
	assert.ErrorContains(t, err, "longer than")
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []string // substrings of the error
	}{
		{"empty", ``, []string{"empty document"}},
		{"unknown key", "rules:\n  - name: a\n    pattern: [x]\n", []string{"field pattern not found"}},
		{"no name, no match, no answers", "rules:\n  - tool: t\n", []string{"rules[0]: name is required", "needs intents or patterns", "needs at least one answer"}},
		{"duplicate rule", "rules:\n  - {name: a, patterns: [x], answers: [{text: {en: x}}]}\n  - {name: a, patterns: [x], answers: [{text: {en: x}}]}\n", []string{"rules[1] a: a rule of that name comes earlier"}},
		{"bad regexp", "rules:\n  - {name: a, patterns: ['(x'], answers: [{text: {en: x}}]}\n", []string{"rules[0] a: patterns[0]: error parsing regexp"}},
		{"bad when", "rules:\n  - {name: a, patterns: [x], when: 'nosuch > 1', answers: [{text: {en: x}}]}\n", []string{"rules[0] a: when: unknown name nosuch"}},
		{"when not bool", "rules:\n  - {name: a, patterns: [x], when: '1 + 1', answers: [{text: {en: x}}]}\n", []string{"rules[0] a: when: expected bool"}},
		{"bad template", "rules:\n  - {name: a, patterns: [x], answers: [{text: {en: '{{.x'}}]}\n", []string{"answers[0]: text.en: template"}},
		{"unknown template func", "rules:\n  - {name: a, patterns: [x], answers: [{text: {en: '{{nosuch .x}}'}}]}\n", []string{`function "nosuch" not defined`}},
		{"no default language", "rules:\n  - {name: a, patterns: [x], answers: [{text: {de: x}}]}\n", []string{`no text in the default language "en"`}},
		{"bad language", "default_lang: EN\nrules:\n  - {name: a, patterns: [x], answers: [{text: {EN: x}}]}\n", []string{`default_lang: "EN" is not`, `text.EN: "EN" is not`}},
		{"arg without source", "rules:\n  - {name: a, patterns: [x], args: [{name: id}], answers: [{text: {en: x}}]}\n", []string{"args[0] id: needs a source"}},
		{"duplicate arg", "rules:\n  - {name: a, patterns: [x], args: [{name: id, default: '1'}, {name: id, default: '2'}], answers: [{text: {en: x}}]}\n", []string{"args[1] id: an argument of that name comes earlier"}},
		{"reserved value", "rules:\n  - {name: a, patterns: [x], values: [{name: args, expr: '1'}], answers: [{text: {en: x}}]}\n", []string{`values[0] args: "args" is reserved`}},
		{"bad value name", "rules:\n  - {name: a, patterns: [x], values: [{name: 1x, expr: '1'}], answers: [{text: {en: x}}]}\n", []string{"values[0] 1x: name must be"}},
		{"bad tool name", "rules:\n  - {name: a, patterns: [x], tool: 'a b', answers: [{text: {en: x}}]}\n", []string{`tool: "a b" is not a tool name`}},
		{"empty text", "rules:\n  - {name: a, patterns: [x], answers: [{text: {en: ' '}}]}\n", []string{"text.en: empty text"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.give))
			require.Error(t, err)
			for _, w := range tt.want {
				assert.ErrorContains(t, err, w)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	_, err := Parse(make([]byte, MaxFileBytes+1))
	assert.ErrorContains(t, err, "larger than")
}

func TestLoadFile(t *testing.T) {
	r, err := LoadFile("default.yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{"return_status", "return_policy", "shipment_tracking", "order_status"}, r.Names())
	assert.Equal(t, []string{"get_order_status", "get_return_status", "track_shipment"}, r.Tools())
	_, err = LoadFile("testdata/nosuch.yaml")
	assert.ErrorContains(t, err, "no such file")
}

func TestNormLang(t *testing.T) {
	tests := []struct{ give, want string }{
		{"", ""}, {"de", "de"}, {"de-AT", "de"}, {"EN_gb", "en"}, {" fr ", "fr"}, {"x", ""}, {"d3", ""},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, normLang(tt.give), "normLang(%q)", tt.give)
	}
}

func TestFuncs(t *testing.T) {
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"human", human("out_for_delivery"), "out for delivery"},
		{"date en", formatDate("en", "2026-11-29"), "Nov 29, 2026"},
		{"date de", formatDate("de", json.Number("x")), "x"},
		{"date de rfc3339", formatDate("de", "2026-01-02T10:00:00Z"), "02.01.2026"},
		{"date other", formatDate("it", "2026-11-29"), "2026-11-29"},
		{"money number", money(json.Number("129.9")), "129.90"},
		{"money float", money(3.0), "3.00"},
		{"money text", money("n/a"), "n/a"},
		{"join", join(", ", []any{"a", json.Number("2")}), "a, 2"},
		{"str float", str(100123.0), "100123"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, tt.name)
	}
}

func TestRunnerToolErrors(t *testing.T) {
	err := &NoAnswer{Reason: ReasonToolFailed, Rule: "r", Missing: []string{"a"}, Err: errors.New("boom")}
	assert.Equal(t, "rules: no answer: tool_failed (rule r): missing a: boom", err.Error())
	assert.ErrorIs(t, err, ErrNoAnswer)
	assert.Equal(t, Reason(""), ReasonOf(errors.New("x")))
}
