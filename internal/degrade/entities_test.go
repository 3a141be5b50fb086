package degrade

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// emailRe is the e-mail pattern findEmails stands for.
var emailRe = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}`)

// extractByRegexp is what extract does, the slow way: every regexp over
// the whole text. The scanners must agree with it.
func extractByRegexp(s string, orderRes []*regexp.Regexp) entities {
	var e entities
	masked := []byte(s)
	for _, m := range emailRe.FindAllStringIndex(s, -1) {
		e.emails = append(e.emails, strings.ToLower(s[m[0]:m[1]]))
		for i := m[0]; i < m[1]; i++ {
			masked[i] = ' '
		}
	}
	text := string(masked)
	for _, m := range phoneRe.FindAllStringIndex(text, -1) {
		if d := phoneDigits(text[m[0]:m[1]]); d != "" {
			e.phones = append(e.phones, d)
			e.raw = append(e.raw, text[m[0]:m[1]])
			for i := m[0]; i < m[1]; i++ {
				masked[i] = ' '
			}
		}
	}
	text = string(masked)
	for _, re := range orderRes {
		for _, m := range re.FindAllStringIndex(text, -1) {
			e.ids = append(e.ids, text[m[0]:m[1]])
		}
	}
	return e
}

var entitySeeds = []string{
	answer1KB, orderResult, shopInstructions,
	"Mail Anna.Schmidt@Example.DE or call +49 170 5550123.",
	"a@b.cc.d@e.ff x@y.co2 u@v..w.xx p@q.r.st-1 .a@b.cd @x.yy z@.ab m@n.o",
	"Call 0049 (0)30 1234567 or (030) 123-4567 or (555) 123-4567 or 555-123-4567; id ID0301234567 x12345678",
	"Delivered on 05.11.2026 and 2026-11-29; 1,299.00 EUR; user12345678@x.io; 100123 1001234567890 _123456 123456_",
	"+1 (415) 555-0100 ext. 12, fax +44.20.7946.0958 / 0800 123 4567 - 99 88 77 66",
}

func requireSameEntities(t *testing.T, s string) {
	t.Helper()
	fast, err := compileOrderPatterns(nil)
	require.NoError(t, err)
	want := extractByRegexp(s, []*regexp.Regexp{regexp.MustCompile(DefaultOrderPatterns[0])})
	got := extract(s, fast)
	require.Equal(t, want, got, "%q", s)
}

func TestExtractMatchesRegexps(t *testing.T) {
	for _, s := range entitySeeds {
		requireSameEntities(t, s)
	}
}

// FuzzExtract checks the scanners against the regexps they stand for.
func FuzzExtract(f *testing.F) {
	for _, s := range entitySeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		requireSameEntities(t, s)
	})
}
