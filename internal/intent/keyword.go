package intent

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Keyword is a parsed keyword: a sequence of folded words, the last of
// which matches any word it begins when Prefix is set.
type Keyword struct {
	Words  []string
	Prefix bool
}

// String writes the keyword back in its configured form.
func (k Keyword) String() string {
	s := strings.Join(k.Words, " ")
	if k.Prefix {
		s += "*"
	}
	return s
}

// minStem is the shortest prefix keyword's last word, in bytes: shorter
// stems ("a*") would match most words.
const minStem = 3

// ParseKeyword parses a configured keyword: words separated by anything
// that is not a letter or digit, case and accents folded, with an optional
// trailing "*" directly after the last word.
func ParseKeyword(s string) (Keyword, error) {
	if !utf8.ValidString(s) {
		return Keyword{}, errors.New("keyword is not valid UTF-8")
	}
	if len(s) > maxKeywordLen {
		return Keyword{}, fmt.Errorf("keyword of %d bytes, at most %d", len(s), maxKeywordLen)
	}
	t := strings.TrimSpace(s)
	var k Keyword
	if body, ok := strings.CutSuffix(t, "*"); ok {
		r, _ := utf8.DecodeLastRuneInString(body)
		if body == "" || !isWordRune(r) {
			return Keyword{}, fmt.Errorf("keyword %q: \"*\" must directly follow a word", s)
		}
		k.Prefix = true
		t = body
	}
	if strings.ContainsRune(t, '*') {
		return Keyword{}, fmt.Errorf("keyword %q: \"*\" is allowed only at the end", s)
	}
	var buf []byte
	var spans []span
	buf, spans = tokenize(buf, spans, t, maxKeywordWords+1)
	if len(spans) == 0 {
		return Keyword{}, fmt.Errorf("keyword %q has no letters or digits", s)
	}
	if len(spans) > maxKeywordWords {
		return Keyword{}, fmt.Errorf("keyword %q has more than %d words", s, maxKeywordWords)
	}
	for _, sp := range spans {
		k.Words = append(k.Words, string(buf[sp.start:sp.end]))
	}
	if k.Prefix && len(k.Words[len(k.Words)-1]) < minStem {
		return Keyword{}, fmt.Errorf("keyword %q: a prefix needs at least %d letters before \"*\"", s, minStem)
	}
	return k, nil
}

// span is a word of a tokenized text: bytes [start, end) of the buffer.
type span struct{ start, end int32 }

// tokenize appends the folded words of s to buf, and their spans to spans,
// stopping after max words. Words are maximal runs of letters and digits;
// letters are lower-cased and stripped of Latin accents, so that "Rückgabe",
// "RUCKGABE" and "ruckgabe" are one word. Invalid UTF-8 separates words.
func tokenize(buf []byte, spans []span, s string, max int) ([]byte, []span) {
	in := false
	for i := 0; i < len(s); {
		c := s[i]
		var r rune
		size := 1
		if c < utf8.RuneSelf {
			r = rune(c)
		} else {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if !isWordRune(r) {
			if in {
				spans[len(spans)-1].end = int32(len(buf))
				in = false
				if len(spans) >= max {
					return buf, spans
				}
			}
			continue
		}
		if !in {
			spans = append(spans, span{start: int32(len(buf))})
			in = true
		}
		if r < utf8.RuneSelf {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			buf = append(buf, byte(r))
			continue
		}
		buf = appendFolded(buf, r)
	}
	if in {
		spans[len(spans)-1].end = int32(len(buf))
	}
	return buf, spans
}

func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// appendFolded appends r lower-cased, with the accents of Latin letters
// removed (ß and other letters without a base letter stay as they are).
func appendFolded(buf []byte, r rune) []byte {
	r = unicode.ToLower(r)
	if f, ok := latinFold[r]; ok {
		return append(buf, f...)
	}
	return utf8.AppendRune(buf, r)
}

var latinFold = func() map[rune]string {
	m := map[rune]string{}
	for base, accented := range map[string]string{
		"a": "àáâãäåāăą", "c": "çćĉċč", "d": "ďđ", "e": "èéêëēĕėęě", "g": "ĝğġģ", "h": "ĥħ",
		"i": "ìíîïĩīĭįı", "j": "ĵ", "k": "ķ", "l": "ĺļľŀł", "n": "ñńņňŉ", "o": "òóôõöøōŏő",
		"r": "ŕŗř", "s": "śŝşš", "t": "ţťŧ", "u": "ùúûüũūŭůűų", "w": "ŵ", "y": "ýÿŷ", "z": "źżž",
		"ae": "æ", "oe": "œ",
	} {
		for _, r := range accented {
			m[r] = base
		}
	}
	return m
}()
