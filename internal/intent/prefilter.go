package intent

import (
	"regexp/syntax"
	"unicode"
	"unicode/utf8"
)

// Go's regexp engines cost 50–100 ns per byte of text and pattern, which
// for a handful of patterns on a long message would be most of the rule
// stage's budget. Most patterns cannot match most messages, though: an
// e-mail needs an "@", a tracking number "1Z", a SKU a "-". A prefilter is
// derived from each pattern: sets of bytes of which a matching text must
// contain at least one each. The text's bytes are collected once, and a
// pattern whose prefilter fails is not run.

// byteSet is a set of bytes.
type byteSet [4]uint64

func (b *byteSet) add(c byte)            { b[c/64] |= 1 << (c % 64) }
func (b *byteSet) meets(o *byteSet) bool { return b[0]&o[0]|b[1]&o[1]|b[2]&o[2]|b[3]&o[3] != 0 }
func (b *byteSet) union(o *byteSet) {
	b[0], b[1], b[2], b[3] = b[0]|o[0], b[1]|o[1], b[2]|o[2], b[3]|o[3]
}
func (b *byteSet) full() bool { return b[0]&b[1]&b[2]&b[3] == ^uint64(0) }
func textBytes(s string) (b byteSet) {
	for i := range len(s) {
		b.add(s[i])
	}
	return b
}

// maxRequired bounds the sets kept per pattern.
const maxRequired = 8

// prefilter is the byte sets a text must meet, each at least once, for a
// pattern to match. No sets means no prefilter: always run.
type prefilter []byteSet

func (p prefilter) admits(text *byteSet) bool {
	for i := range p {
		if !p[i].meets(text) {
			return false
		}
	}
	return true
}

// newPrefilter derives the prefilter of a pattern. It is conservative:
// when in doubt a set is left out, which only costs a regexp run.
func newPrefilter(pattern string) prefilter {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil
	}
	var out prefilter
	for _, s := range required(re.Simplify()) {
		if !s.full() && len(out) < maxRequired {
			out = append(out, s)
		}
	}
	return out
}

// required returns byte sets that every match of re contains a byte of.
func required(re *syntax.Regexp) []byteSet {
	switch re.Op {
	case syntax.OpLiteral:
		out := make([]byteSet, 0, len(re.Rune))
		for _, r := range re.Rune {
			var s byteSet
			addRune(&s, r, re.Flags&syntax.FoldCase != 0)
			out = append(out, s)
		}
		return out
	case syntax.OpCharClass:
		var s byteSet
		for i := 0; i+1 < len(re.Rune); i += 2 {
			addRange(&s, re.Rune[i], re.Rune[i+1])
		}
		return []byteSet{s}
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		var out []byteSet
		for _, sub := range re.Sub {
			out = append(out, required(sub)...)
		}
		return out
	case syntax.OpAlternate:
		// One set from each alternative, joined: a match contains a byte of
		// the set of whichever alternative matched.
		var s byteSet
		for _, sub := range re.Sub {
			r := required(sub)
			if len(r) == 0 {
				return nil
			}
			s.union(&r[0])
		}
		return []byteSet{s}
	}
	return nil
}

// addRune adds the first byte of r's UTF-8 encoding, and of its other
// cases when fold is set.
func addRune(s *byteSet, r rune, fold bool) {
	var b [utf8.UTFMax]byte
	add := func(r rune) {
		if r == utf8.RuneError {
			addRange(s, r, r) // an invalid byte reads as U+FFFD
			return
		}
		utf8.EncodeRune(b[:], r)
		s.add(b[0])
	}
	add(r)
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			add(f)
		}
	}
}

// addRange adds the first bytes of the encodings of runes lo..hi.
func addRange(s *byteSet, lo, hi rune) {
	for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
		s.add(byte(r))
	}
	if hi >= utf8.RuneSelf {
		// Every non-ASCII byte: exact sets of lead bytes are not worth it,
		// and the engine reads an invalid byte as U+FFFD.
		for c := 0x80; c <= 0xFF; c++ {
			s.add(byte(c))
		}
	}
}
