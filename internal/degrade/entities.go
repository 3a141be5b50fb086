package degrade

import (
	"regexp"
	"strings"
)

// DefaultOrderPatterns find order numbers when a configuration names
// none: runs of 6 to 12 digits (the demo shop's 100123, most shops'
// order, invoice and parcel numbers). Shops with letters in theirs add
// patterns (`\bR-\d{6}\b` for the demo shop's returns). The default is
// matched by a scanner that does what the regexp says, faster.
var DefaultOrderPatterns = []string{`\b\d{6,12}\b`}

var (
	// phoneRe finds telephone numbers in the shapes people write them:
	// international (+49 30 1234567, 0049 …), national with a trunk 0
	// (030 1234567, (030) 123-4567) and North American ((555) 123-4567,
	// 555-123-4567). Candidates with fewer than 8 or more than 15 digits,
	// and dates, are dropped afterwards (see phoneDigits).
	phoneRe = regexp.MustCompile(`(?:\+|\b00)\d{1,3}(?:[ .\-/]?\(?\d{1,5}\)?){2,6}` +
		`|\(?\b0\d{1,5}\)?[ .\-/]?\d{2,}(?:[ .\-]?\d{2,}){0,4}` +
		`|\(\d{3}\) ?\d{3}[ .\-]\d{4}\b|\b\d{3}[.\-]\d{3}[.\-]\d{4}\b`)
	// dateRe is what a phone candidate must not be: 05.11.2026,
	// 2026-11-29, 11/29/2026.
	dateRe = regexp.MustCompile(`^\d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}$`)
)

// phoneDigits returns the digits of a phone candidate, or "" when it is
// not a phone number after all (a date, too few or too many digits).
func phoneDigits(s string) string {
	s = strings.TrimSpace(s)
	if dateRe.MatchString(s) {
		return ""
	}
	d := digitsOf(s)
	if len(d) < 8 || len(d) > 15 {
		return ""
	}
	return d
}

func digitsOf(s string) string {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// entities are the e-mail addresses, phone numbers and order numbers of
// a text, in the order found.
type entities struct {
	emails []string // lower case
	phones []string // digits
	raw    []string // the phone numbers as written
	ids    []string // as written
}

func (e *entities) empty() bool { return len(e.emails)+len(e.phones)+len(e.ids) == 0 }

// idFinder finds the order numbers of a text: a compiled order pattern,
// or a scanner doing what the default pattern says without a regexp.
type idFinder struct {
	re *regexp.Regexp // nil: the default pattern's scanner
}

// find appends the [start, end) of each match in s to dst.
func (f idFinder) find(dst [][2]int, s string) [][2]int {
	if f.re != nil {
		for _, m := range f.re.FindAllStringIndex(s, -1) {
			dst = append(dst, [2]int{m[0], m[1]})
		}
		return dst
	}
	// \b\d{6,12}\b: a run of 6 to 12 digits between non-word bytes.
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		if n := j - i; n >= 6 && n <= 12 && (i == 0 || !reWordByte(s[i-1])) && (j == len(s) || !reWordByte(s[j])) {
			dst = append(dst, [2]int{i, j})
		}
		i = j
	}
	return dst
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// reWordByte is a byte of regexp's \w, which \b looks at.
func reWordByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// extract finds the entities of s. E-mail addresses are taken first and
// phone numbers next, and their text is blanked before the next kind is
// looked for, so that the digits of a phone number are not also an order
// number. The e-mail addresses are found by a scanner around each '@'
// and phone numbers by phoneRe within the runs of digits and separators
// that hold at least 8 digits, so that a text without either costs one
// pass over its bytes.
func extract(s string, ids []idFinder) entities {
	var e entities
	var masked []byte
	blank := func(lo, hi int) {
		if masked == nil {
			masked = []byte(s)
		}
		for i := lo; i < hi; i++ {
			masked[i] = ' '
		}
	}
	for _, m := range findEmails(s) {
		e.emails = append(e.emails, strings.ToLower(s[m[0]:m[1]]))
		blank(m[0], m[1])
	}
	text := s
	if masked != nil {
		text = string(masked)
	}
	found := false
	for _, sp := range digitSpans(text, 8) {
		// One byte of context either side keeps \b what it is in text.
		lo, hi := max(sp[0]-1, 0), min(sp[1]+1, len(text))
		for _, m := range phoneRe.FindAllStringIndex(text[lo:hi], -1) {
			if d := phoneDigits(text[lo+m[0] : lo+m[1]]); d != "" {
				e.phones = append(e.phones, d)
				e.raw = append(e.raw, text[lo+m[0]:lo+m[1]])
				blank(lo+m[0], lo+m[1])
				found = true
			}
		}
	}
	if found {
		text = string(masked)
	}
	var spans [][2]int
	for _, f := range ids {
		spans = f.find(spans[:0], text)
		for _, m := range spans {
			e.ids = append(e.ids, text[m[0]:m[1]])
		}
	}
	return e
}

// findEmails returns the [start, end) of each e-mail address in s, as the
// regexp emailRe of the tests would, without running a regexp on every
// byte: from each '@', the run of local-part bytes before it (not
// reaching into the previous address), and the domain's labels after it
// up to the last dot followed by two or more letters, which end it.
func findEmails(s string) [][2]int {
	var out [][2]int
	prevEnd, from := 0, 0
	for {
		at := strings.IndexByte(s[from:], '@')
		if at < 0 {
			return out
		}
		at += from
		from = at + 1
		lo := at
		for lo > prevEnd && localByte(s[lo-1]) {
			lo--
		}
		if lo == at {
			continue
		}
		// The domain: a first label, then labels each after one dot.
		hi := at + 1
		for hi < len(s) && domainByte(s[hi]) {
			hi++
		}
		if hi == at+1 {
			continue
		}
		end := -1
		for hi < len(s) && s[hi] == '.' {
			k := hi + 1
			for k < len(s) && domainByte(s[k]) {
				k++
			}
			if k == hi+1 {
				break
			}
			if letters := leadingLetters(s[hi+1 : k]); letters >= 2 {
				end = hi + 1 + letters
			}
			hi = k
		}
		if end < 0 {
			continue
		}
		out = append(out, [2]int{lo, end})
		prevEnd, from = end, end
	}
}

func leadingLetters(s string) int {
	n := 0
	for n < len(s) && (s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z') {
		n++
	}
	return n
}

func localByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func domainByte(c byte) bool {
	return isDigit(c) || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-'
}

// digitSpans returns the maximal runs of digits and the separators phone
// numbers are written with (space, +, (, ), ., -, /) that hold at least
// minDigits digits, trimmed to start and end on a digit, '+' or '('.
func digitSpans(s string, minDigits int) [][2]int {
	var out [][2]int
	for i := 0; i < len(s); {
		if !phoneByte(s[i]) {
			i++
			continue
		}
		j, digits := i, 0
		for j < len(s) && phoneByte(s[j]) {
			if isDigit(s[j]) {
				digits++
			}
			j++
		}
		if digits >= minDigits {
			lo, hi := i, j
			for lo < hi && !isDigit(s[lo]) && s[lo] != '+' && s[lo] != '(' {
				lo++
			}
			for hi > lo && !isDigit(s[hi-1]) && s[hi-1] != ')' {
				hi--
			}
			out = append(out, [2]int{lo, hi})
		}
		i = j
	}
	return out
}

func phoneByte(c byte) bool {
	return isDigit(c) || c == ' ' || c == '+' || c == '(' || c == ')' || c == '.' || c == '-' || c == '/'
}

// containsWord reports whether text holds needle with no letter, digit
// or e-mail character right before or after it: a known 100123 does not
// make 1001234 known, nor bob@x.io jimbob@x.io. Both must be in ASCII
// lower case (asciiLower) when case should not matter.
func containsWord(text, needle string) bool {
	if needle == "" {
		return false
	}
	for from := 0; from+len(needle) <= len(text); {
		i := strings.Index(text[from:], needle)
		if i < 0 {
			return false
		}
		i += from
		j := i + len(needle)
		if (i == 0 || !wordByte(text[i-1])) && (j == len(text) || !wordByte(text[j])) {
			return true
		}
		from = i + 1
	}
	return false
}

func wordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '@' || c >= 0x80
}

// asciiLower returns s with ASCII letters in lower case; s itself when it
// has no upper-case letter.
func asciiLower(s string) string {
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// sameNumber reports whether two phone numbers' digits are the same
// number written with or without a country or trunk prefix: their last
// min(len, 9) digits agree, and that is at least 7 digits.
func sameNumber(a, b string) bool {
	n := min(len(a), len(b), 9)
	return n >= 7 && a[len(a)-n:] == b[len(b)-n:]
}

// mask hides all but the end of an entity, for details that go to logs.
func mask(s string) string {
	if at := strings.IndexByte(s, '@'); at > 0 {
		return s[:1] + "***" + s[at:]
	}
	if len(s) <= 3 {
		return "***"
	}
	return "***" + s[len(s)-3:]
}
