package intent

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func newBuiltin(t testing.TB) *Classifier {
	t.Helper()
	c, err := New(Config{}, nil)
	require.NoError(t, err)
	return c
}

func TestRulesBuiltin(t *testing.T) {
	c := newBuiltin(t)
	long := "I am writing because I placed an order two weeks ago for a tent, a sleeping bag and two pairs of " +
		"socks and since then I have not received a single update about it, so could you please check order " +
		"100123 for me and tell me what is going on with it"
	tests := []struct {
		name           string
		give, previous string
		want           string // intent[+secondary]
		wantComplexity Complexity
		wantRule       string // prefix
	}{
		{name: "plain order question is simple", give: "where is my order 123456",
			want: OrderStatus, wantComplexity: Simple, wantRule: "order_status/keyword:where is my order"},
		{name: "tracking", give: "Track 1Z999AA10123456784 please",
			want: ShipmentTracking, wantComplexity: Simple},
		{name: "tracking number pattern alone", give: "1Z999AA10123456784",
			want: ShipmentTracking, wantComplexity: Simple, wantRule: "shipment_tracking/pattern:"},
		{name: "return is complex", give: "I want to return the jacket from order 100574",
			want: ReturnRefund, wantComplexity: Complex},
		{name: "a return absorbs order words", give: "Where is my order 100123? I want to return it.",
			want: ReturnRefund, wantComplexity: Complex},
		{name: "order and shipment are one request, the stronger wins", give: "Has order 100686 shipped yet?",
			want: ShipmentTracking, wantComplexity: Simple},
		{name: "product question is standard", give: "Do you have the Alpine jacket in size M?",
			want: ProductQuestion, wantComplexity: Standard},
		{name: "comparison is complex", give: "What's the difference between the Nimbus and the Cascade?",
			want: ProductQuestion, wantComplexity: Complex},
		{name: "multi-intent is complex", give: "Where is my order 100574 and do you have the Alpine jacket in blue?",
			want: OrderStatus + "+" + ProductQuestion, wantComplexity: Complex},
		{name: "complaint with several issues is complex", give: "This is unacceptable, my parcel is a week late and nobody answers my emails!",
			want: Complaint, wantComplexity: Complex},
		{name: "an angry return request is a return", give: "This is ridiculous, the boots are broken, I want my money back!",
			want: ReturnRefund, wantComplexity: Complex},
		{name: "small talk", give: "hello", want: SmallTalk, wantComplexity: Simple},
		{name: "small talk yields to a request", give: "Hi, thanks, where is my order 100123?", want: OrderStatus, wantComplexity: Simple},
		{name: "no evidence falls back", give: "asdfghjkl", want: Other, wantComplexity: Standard, wantRule: "fallback"},
		{name: "empty text falls back", give: "", want: Other, wantComplexity: Standard, wantRule: "fallback"},
		{name: "long message is at least standard", give: long, want: OrderStatus, wantComplexity: Standard},
		{name: "longest keyword takes the word", give: "Can I change my shipping address?",
			want: Account, wantComplexity: Standard, wantRule: "account/keyword:shipping address"},
		{name: "neutral phrase takes the word", give: "Je n'arrive pas à me connecter à mon compte.",
			want: Account, wantComplexity: Standard},
		{name: "typos are corrected when the rules are unsure", give: "i want a refnd for my order 100807",
			want: ReturnRefund, wantComplexity: Complex},
		{name: "accents and case are folded", give: "DONDE ESTA MI PEDIDO 100353", want: OrderStatus, wantComplexity: Simple},
		{name: "curly apostrophes", give: "Where’s my order?", want: OrderStatus, wantComplexity: Simple},
		{name: "follow-up inherits the previous intent", give: "It's 100123", previous: ShipmentTracking,
			want: ShipmentTracking, wantComplexity: Simple, wantRule: "inherit:previous"},
		{name: "follow-up with its own request does not inherit", give: "thanks!", previous: ShipmentTracking,
			want: SmallTalk, wantComplexity: Simple},
		{name: "unknown previous intent is ignored", give: "It's 100123", previous: "nope",
			want: OrderStatus, wantComplexity: Simple},
		{name: "known word is no typo", give: "I wonder whether it will be here",
			want: Other, wantComplexity: Standard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.Rules(tt.give, tt.previous)
			got := res.Intent
			if res.Secondary != "" {
				got += "+" + res.Secondary
			}
			assert.Equal(t, tt.want, got, "rule %s", res.Rule)
			assert.Equal(t, tt.wantComplexity, res.Complexity)
			assert.True(t, strings.HasPrefix(res.Rule, tt.wantRule), "rule %q", res.Rule)
			assert.Equal(t, SourceRules, res.Source)
			assert.GreaterOrEqual(t, res.Confidence, 0.0)
			assert.LessOrEqual(t, res.Confidence, 1.0)
		})
	}
}

func TestConfidence(t *testing.T) {
	c := newBuiltin(t)
	tests := []struct {
		name     string
		give     string
		wantSure bool // at or above the threshold
	}{
		{name: "strong keyword", give: "Where is my order 100123?", wantSure: true},
		{name: "several strong keywords", give: "The headphones arrived damaged, can I get a refund?", wantSure: true},
		{name: "an order number alone", give: "100123", wantSure: false},
		{name: "only hints", give: "jacket", wantSure: false},
		{name: "nothing", give: "hmm", wantSure: false},
		{name: "rival evidence", give: "jacket delivery", wantSure: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := c.Rules(tt.give, "")
			assert.Equal(t, tt.wantSure, res.Confidence >= DefaultThreshold, "confidence %.2f (%s)", res.Confidence, res.Rule)
		})
	}
}

// TestRulesCustom is an agent with its own intents, no built-ins.
func TestRulesCustom(t *testing.T) {
	off := false
	c, err := New(Config{
		Builtin: &off,
		Intents: []IntentConfig{
			{Name: "booking", Complexity: "simple", Keywords: []string{"book*", "reserve", "table for"},
				Patterns: []string{`(?i)\bfor \d{1,2} (people|persons)\b`}},
			{Name: "cancel", Complexity: "complex", Keywords: []string{"cancel*"}, Absorbs: []string{"booking"}},
			{Name: "menu", Keywords: []string{"menu", "vegan", "gluten free"}, Hints: []string{"dish*"}},
			{Name: "chat", Complexity: "simple", Keywords: []string{"hi", "thanks"}, Background: true},
			{Name: "unknown"},
		},
		ComplexCues: []string{"compare"},
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"booking", "cancel", "menu", "chat", "unknown"}, c.Intents())
	tests := []struct {
		give           string
		want           string
		wantComplexity Complexity
	}{
		{give: "I'd like to book a table for 4 people", want: "booking", wantComplexity: Simple},
		{give: "Please cancel my booking", want: "cancel", wantComplexity: Complex},
		{give: "Do you have vegan dishes?", want: "menu", wantComplexity: Standard},
		{give: "Compare your vegan and gluten free menus", want: "menu", wantComplexity: Complex},
		{give: "hi", want: "chat", wantComplexity: Simple},
		{give: "what?", want: "unknown", wantComplexity: Standard},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			res := c.Rules(tt.give, "")
			assert.Equal(t, tt.want, res.Intent, "rule %s", res.Rule)
			assert.Equal(t, tt.wantComplexity, res.Complexity)
		})
	}
}

// TestRulesExtendBuiltin adds words to a built-in intent and a new intent.
func TestRulesExtendBuiltin(t *testing.T) {
	c, err := New(Config{
		Intents: []IntentConfig{
			{Name: OrderStatus, Keywords: []string{"wo bleibt"}},
			{Name: "warranty", Complexity: "complex", Keywords: []string{"warranty claim", "garantie*"}},
		},
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, OrderStatus, c.Rules("wo bleibt meine Lieferung 100123", "").Intent)
	assert.Equal(t, "warranty", c.Rules("I have a warranty claim for my tent", "").Intent)
	assert.Contains(t, c.Intents(), SmallTalk)
}

func TestMaxBytes(t *testing.T) {
	c, err := New(Config{MaxBytes: 40}, nil)
	require.NoError(t, err)
	text := "hello there, hello there, hello there, é where is my order 100123"
	assert.Equal(t, SmallTalk, c.Rules(text, "").Intent, "words after MaxBytes are not read")
	// A cut inside a multi-byte rune backs off to its start.
	assert.Equal(t, "hello there, hello there, hello there, ", truncate(text, 40))
}

func TestEdit1(t *testing.T) {
	tests := []struct {
		a, b        string
		ok, isSubst bool
	}{
		{a: "order", b: "order", ok: true},
		{a: "ordr", b: "order", ok: true},
		{a: "orderr", b: "order", ok: true},
		{a: "oder", b: "order", ok: true},
		{a: "roder", b: "order", ok: true},
		{a: "ordre", b: "order", ok: true},
		{a: "ordar", b: "order", ok: true, isSubst: true},
		{a: "odrer", b: "order", ok: true},
		{a: "odr", b: "order"},
		{a: "schon", b: "shown"},
		{a: "", b: "a", ok: true},
		{a: "ab", b: "ba", ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			ok, subst := edit1(tt.a, tt.b)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.isSubst, subst)
		})
	}
}

func TestPrefilter(t *testing.T) {
	tests := []struct {
		pattern string
		text    string
		want    bool // admitted
	}{
		{pattern: `[\w.+-]+@[\w-]+\.[\w.]+`, text: "mail me at a@b.co", want: true},
		{pattern: `[\w.+-]+@[\w-]+\.[\w.]+`, text: "no at sign here.", want: false},
		{pattern: `\b1Z[0-9A-Z]{16}\b`, text: "track 1Z999", want: true},
		{pattern: `\b1Z[0-9A-Z]{16}\b`, text: "order 100123", want: false},
		{pattern: `(?i)\bhello\b`, text: "HELLO", want: true},
		{pattern: `(?i)\bhello\b`, text: "bye", want: false},
		{pattern: `(?:^|[^\w-])#?\d{5,9}\b`, text: "no digits", want: false},
		{pattern: `a|b*`, text: "zzz", want: true},
		{pattern: `é`, text: "café", want: true},
		{pattern: `é`, text: "cafe", want: false},
		{pattern: `[^a]`, text: "\xff", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.text, func(t *testing.T) {
			present := textBytes(tt.text)
			assert.Equal(t, tt.want, newPrefilter(tt.pattern).admits(&present))
		})
	}
}
