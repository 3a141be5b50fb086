package intent

import (
	"regexp"
	"slices"
	"testing"
)

// FuzzParseKeyword: a configured keyword never panics the parser, and an
// accepted one prints back to a form that parses to the same keyword.
func FuzzParseKeyword(f *testing.F) {
	for _, s := range []string{
		"where is my order", "refund*", "t-shirt*", "Rückgabe", "où est ma commande", "  spaced  ", "*", "a*",
		"ab*c", "re*fund", "x *", "", "!!!", "\xff\xfe", "one two three four five six seven eight nine",
		"e-mail-adresse", "ÆØÅ*", "İstanbul", "ß", "ﬁ", "日本語*",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeyword(s)
		if err != nil {
			return
		}
		if len(k.Words) == 0 || len(k.Words) > maxKeywordWords {
			t.Fatalf("%q: %d words accepted", s, len(k.Words))
		}
		again, err := ParseKeyword(k.String())
		if err != nil {
			t.Fatalf("%q printed as %q does not parse: %v", s, k.String(), err)
		}
		if !slices.Equal(k.Words, again.Words) || k.Prefix != again.Prefix {
			t.Fatalf("%q: %+v then %+v", s, k, again)
		}
	})
}

// FuzzConfigPatterns: any keyword, hint or pattern in a configuration is
// either rejected by Validate or compiles into a classifier that
// classifies any text without panicking.
func FuzzConfigPatterns(f *testing.F) {
	f.Add("refund*", `\bR-\d{5,7}\b`, "I want a refund for R-123456")
	f.Add("where is my order", `(?i)order\s*#?\d+`, "where is my order #5")
	f.Add("*", `(`, "x")
	f.Add("a b c d e f g h i", `[`, "")
	f.Add("é*", `\p{Greek}+`, "αβγ éé")
	f.Add("x", `a{1000}`, "aaaa")
	f.Fuzz(func(t *testing.T, keyword, pattern, text string) {
		off := false
		cfg := Config{Builtin: &off, Intents: []IntentConfig{
			{Name: "a", Keywords: []string{keyword}, Patterns: []string{pattern}},
			{Name: "b", Hints: []string{keyword}, HintPatterns: []string{pattern}, Absorbs: []string{"a"}},
			{Name: "c"},
		}, ComplexCues: []string{keyword}, Neutral: []string{keyword}}
		c, err := New(cfg, nil)
		if err != nil {
			return
		}
		res := c.Rules(text, "a")
		if !slices.Contains(c.Intents(), res.Intent) || res.Complexity.Rank() == 0 {
			t.Fatalf("result %+v", res)
		}
	})
}

// FuzzRules: the built-in rules classify any text, valid UTF-8 or not,
// into a configured intent with a confidence in [0, 1].
func FuzzRules(f *testing.F) {
	for _, s := range []string{
		"Where is my order 100123?", "wher is my ordr", "Rückgabe bitte", "¿Dónde está mi pedido?", "", " ",
		"\xff\xfe\xfd", "order order order order", "1Z999AA10123456784 R-500012 AUD-10001 a@b.co",
		"n'arrive pas", "thanks", "日本語のテキスト", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	} {
		f.Add(s, "")
		f.Add(s, ShipmentTracking)
	}
	c, err := New(Config{MaxBytes: 512}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text, previous string) {
		res := c.Rules(text, previous)
		if !slices.Contains(c.Intents(), res.Intent) {
			t.Fatalf("unknown intent %q", res.Intent)
		}
		if res.Secondary != "" && (res.Secondary == res.Intent || !slices.Contains(c.Intents(), res.Secondary)) {
			t.Fatalf("bad secondary %q of %q", res.Secondary, res.Intent)
		}
		if !(res.Confidence >= 0 && res.Confidence <= 1) {
			t.Fatalf("confidence %v", res.Confidence)
		}
		if res.Complexity.Rank() == 0 || res.Rule == "" {
			t.Fatalf("result %+v", res)
		}
	})
}

// FuzzPrefilter: a prefilter never rejects a text its pattern matches.
func FuzzPrefilter(f *testing.F) {
	for _, p := range []string{
		`[\w.+-]+@[\w-]+\.[\w.]+`, `\b1Z[0-9A-Z]{16}\b`, `(?i)hello|bye`, `(?:^|[^\w-])#?\d{5,9}\b`, `é+`,
		`[^a]`, `(?i)straße`, `a{2,}b?`, `\x{FFFD}`, `(?s).`, `[\x{80}-\x{10FFFF}]`, `(?i)k`,
	} {
		f.Add(p, "text with é, a@b.co, 1Z999AA10123456784, HELLO, 100123 and \xff")
	}
	f.Fuzz(func(t *testing.T, pattern, text string) {
		re, err := regexp.Compile(pattern)
		if err != nil || !re.MatchString(text) {
			return
		}
		present := textBytes(text)
		if !newPrefilter(pattern).admits(&present) {
			t.Fatalf("pattern %q matches %q but its prefilter rejects it", pattern, text)
		}
	})
}

// FuzzParseReply: any model reply is parsed without panicking into a
// configured intent, or rejected.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		`{"intent":"order_status","secondary":"account","complexity":"simple","confidence":0.9}`,
		"```json\n{\"intent\":\"complaint\"}\n```", `order_status`, `{"intent":null}`, `{"confidence":"x"}`,
		`}{`, `{{{`, "", "\xff", `{"intent":"small_talk","secondary":"small_talk"}`,
	} {
		f.Add(s)
	}
	c, err := New(Config{}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		res, err := c.parseReply(s)
		if err != nil {
			return
		}
		if !slices.Contains(c.Intents(), res.Intent) || res.Complexity.Rank() == 0 || res.Source != SourceModel {
			t.Fatalf("reply %q: result %+v", s, res)
		}
		if !(res.Confidence >= 0 && res.Confidence <= 1) {
			t.Fatalf("confidence %v", res.Confidence)
		}
	})
}
