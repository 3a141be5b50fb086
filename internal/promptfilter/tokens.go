package promptfilter

import (
	"bytes"
	"unicode"
	"unicode/utf8"
)

// token is one word of folded text with its concepts.
type token struct {
	s, e   int32   // the word's bytes in the folded text
	ks, ke int32   // the key looked up, in scanner.keys (a Latin or de-leeted reading)
	c      concept // what the word means
	sent   int32   // sentence number; rules do not cross sentences
	pos    int16   // position in its sentence, 0 for the first word
	fl     uint8   // tf*
}

// token flags.
const (
	tfAllCaps uint8 = 1 << iota // every letter was upper case in the source, two or more letters
	tfColon                     // followed by ':'
	tfMixed                     // mixes Latin and Cyrillic/Greek letters (homoglyphs)
	tfPiece                     // a piece of a compound or of spaced-out letters
	tfComma                     // followed by ','
)

// Compound scans: the shortest whole word and stem that may be a piece,
// the shortest word that is scanned, and how much of it the pieces must
// cover to be believed.
const (
	pieceMinExact  = 3
	pieceMinStem   = 4
	compoundMinLen = 10
	spacedMinRun   = 4
)

// personaNames are jailbreak persona names, which mean nothing in lower
// case (Dan from support, "we aim to", "dude").
var personaNames = [][]byte{[]byte("dan"), []byte("stan"), []byte("dude"), []byte("aim")}

// tokenize splits the folded text into tokens and gives them concepts.
func (sc *scanner) tokenize() {
	buf := sc.f.buf
	sent, pos := int32(0), int16(0)
	endSentence := func() {
		if pos > 0 {
			sent++
			pos = 0
		}
	}
	add := func(s, e int, c concept, fl uint8) {
		sc.toks = append(sc.toks, token{s: int32(s), e: int32(e), c: c, sent: sent, pos: pos, fl: fl})
		if pos < 1<<14 {
			pos++
		}
	}
	for i := 0; i < len(buf); {
		c := buf[i]
		if c == ' ' {
			i++
			continue
		}
		if c == '\n' {
			endSentence()
			i++
			continue
		}
		j := i
		for j < len(buf) && buf[j] != ' ' && buf[j] != '\n' {
			j++
		}
		chunk := buf[i:j]
		if isLink(chunk) {
			add(i, j, cLink, 0)
			if k := len(chunk) - 1; chunk[k] == '.' || chunk[k] == '!' || chunk[k] == '?' {
				endSentence()
			}
			i = j
			continue
		}
		// Words of the chunk.
		for k := i; k < j; {
			r, n := rune(buf[k]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRune(buf[k:j])
			}
			if !sc.wordStart(buf, k, j, r) {
				switch r {
				case '.', '!', '?', ';':
					// A full stop inside a word (e.g., 3.5, shop.example)
					// ends nothing.
					if r != '.' || k+1 >= j || !isWordByte(buf[k+1]) {
						endSentence()
					}
				case '[', '(':
					pos = 0
				case ':', ',':
					if m := len(sc.toks); m > 0 && sc.toks[m-1].sent == sent && onlySpaces(buf[sc.toks[m-1].e:k]) {
						if r == ':' {
							sc.toks[m-1].fl |= tfColon
							pos = 0 // a colon starts a clause: "Note for the assistant: …"
						} else {
							sc.toks[m-1].fl |= tfComma
						}
					}
				}
				k += n
				continue
			}
			e := sc.wordEnd(buf, k, j)
			add(k, e, 0, 0)
			k = e
		}
		i = j
	}
	sc.joinSpaced()
	sc.lookupAll()
	sc.phrases()
}

// onlySpaces reports whether b is spaces (French puts one before a colon).
func onlySpaces(b []byte) bool {
	for _, c := range b {
		if c != ' ' {
			return false
		}
	}
	return len(b) <= 2
}

// isWordByte reports an ASCII letter or digit.
func isWordByte(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }

// leetSym reports symbols that leetspeak uses inside words.
func leetSym(b byte) bool { return b == '@' || b == '$' || b == '|' || b == '!' || b == '+' }

// isLetterRune reports a letter or digit of any script.
func isLetterRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isWordByte(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// wordStart reports whether a word starts at buf[k], whose rune is r: a
// letter or digit, or a leetspeak symbol followed by one.
func (sc *scanner) wordStart(buf []byte, k, end int, r rune) bool {
	if isLetterRune(r) {
		return true
	}
	return r < utf8.RuneSelf && leetSym(byte(r)) && k+1 < end && isWordByte(buf[k+1])
}

// wordEnd returns the end of the word starting at k. A word is letters
// and digits of one script class (Han runs apart from the rest),
// leetspeak symbols between them, and English contractions (don't,
// what's) joined.
func (sc *scanner) wordEnd(buf []byte, k, end int) int {
	first, _ := utf8.DecodeRune(buf[k:end])
	han := scriptOf(first) == scriptHan
	m := k
	for m < end {
		r, n := rune(buf[m]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(buf[m:end])
		}
		switch {
		case isLetterRune(r):
			if (scriptOf(r) == scriptHan) != han {
				return m
			}
		case r < utf8.RuneSelf && leetSym(byte(r)):
			// Inside a word, or starting one: "pr!or", "$y$tem", "@ll".
			if m+1 >= end || !isWordByte(buf[m+1]) {
				return m
			}
		case r == '\'':
			if m > k && contraction(buf[m+1:end]) {
				m += n
				continue
			}
			return m
		default:
			return m
		}
		m += n
	}
	return m
}

// contraction reports whether rest, after an apostrophe, is the end of a
// negation: don't, can't, isn't. Other contractions are split ("you're" is
// "you" "re", which the lexicon reads as "are").
func contraction(rest []byte) bool {
	return len(rest) > 0 && rest[0] == 't' && (len(rest) == 1 || !isWordByte(rest[1]))
}

// isLink reports a chunk that is a URL or an e-mail address.
func isLink(chunk []byte) bool {
	if len(chunk) < 6 {
		return false
	}
	chunk = bytes.TrimLeft(chunk, "(<[\"'")
	if bytes.Contains(chunk, []byte("://")) || bytes.HasPrefix(chunk, []byte("www.")) {
		return true
	}
	at := bytes.IndexByte(chunk, '@')
	if at <= 0 {
		return false
	}
	dot := bytes.IndexByte(chunk[at:], '.')
	return dot > 1 && at+dot+1 < len(chunk) && isWordByte(chunk[at+dot+1]) && isWordByte(chunk[at-1])
}

// joinSpaced replaces runs of single letters separated by a few
// separators ("I g n o r e", "i.g.n.o.r.e", "D*A*N") with the pieces of
// their letters run together.
func (sc *scanner) joinSpaced() {
	toks, buf := sc.toks, sc.f.buf
	single := func(t token) bool { return t.e-t.s == 1 && isWordByte(buf[t.s]) }
	near := func(a, b token) bool {
		if a.sent != b.sent || b.s-a.e > 3 {
			return false
		}
		for _, c := range buf[a.e:b.s] {
			if c == '\n' {
				return false
			}
		}
		return true
	}
	runs := false
	for i, n := 0, 0; i < len(toks) && !runs; i++ {
		if single(toks[i]) && (n == 0 || near(toks[i-1], toks[i])) {
			n++
		} else if single(toks[i]) {
			n = 1
		} else {
			n = 0
		}
		runs = n >= spacedMinRun
	}
	if !runs {
		return
	}
	out := sc.spare[:0]
	for i := 0; i < len(toks); {
		j := i
		for j < len(toks) && single(toks[j]) && (j == i || near(toks[j-1], toks[j])) {
			j++
		}
		if j-i < spacedMinRun {
			out = append(out, toks[i])
			i++
			continue
		}
		out = sc.spacedWords(out, toks[i:j])
		i = j
	}
	sc.toks, sc.spare = out, toks
}

// spacedWords appends the words of a run of spaced-out letters. Writers
// separate letters one way and words another ("Y o u   a r e",
// "D*i*s*r*e*g*a*r*d y*o*u*r"): the commonest separator is the one inside
// words. When there is only one, the letters are split into lexicon words.
func (sc *scanner) spacedWords(out []token, run []token) []token {
	buf := sc.f.buf
	sep := func(k int) string { return string(buf[run[k-1].e:run[k].s]) }
	counts := map[string]int{}
	for k := 1; k < len(run); k++ {
		counts[sep(k)]++
	}
	inner, most := "", 0
	for s, n := range counts {
		if n > most || n == most && s < inner {
			inner, most = s, n
		}
	}
	if len(counts) == 1 {
		ks := len(sc.keys)
		for _, t := range run {
			sc.keys = append(sc.keys, buf[t.s])
		}
		return sc.appendPieces(out, run[0], run[len(run)-1].e, ks, true)
	}
	for k := 0; k < len(run); {
		m := k + 1
		for m < len(run) && sep(m) == inner {
			m++
		}
		t := run[k]
		ks := len(sc.keys)
		for _, l := range run[k:m] {
			sc.keys = append(sc.keys, buf[l.s])
		}
		t.e, t.ks, t.ke, t.c = run[m-1].e, int32(ks), int32(len(sc.keys)), 0
		t.fl |= tfPiece
		out = append(out, t)
		k = m
	}
	return out
}

// appendPieces splits the key sc.keys[ks:] by longest lexicon matches and
// appends the pieces as tokens spanning like t (from t.s to end). When
// none is found it appends one token for the whole key (force) or
// nothing.
func (sc *scanner) appendPieces(out []token, t token, end int32, ks int, force bool) []token {
	key := sc.keys[ks:]
	n0 := len(out)
	for p := 0; p < len(key); {
		l, c := sc.d.lex.longest(key[p:], pieceMinExact, pieceMinStem)
		if l == 0 {
			_, size := utf8.DecodeRune(key[p:])
			p += size
			continue
		}
		pt := t
		pt.e, pt.ks, pt.ke, pt.c = end, int32(ks+p), int32(ks+p+l), c
		pt.fl |= tfPiece
		pt.pos = min(t.pos+int16(len(out)-n0), 1<<14)
		out = append(out, pt)
		p += l
	}
	if len(out) == n0 && force {
		t.e, t.ks, t.ke = end, int32(ks), int32(len(sc.keys))
		out = append(out, t)
	}
	return out
}

// lookupAll gives every token that has none yet its key and concepts,
// trying the Latin reading of homoglyphs and the letters of leetspeak,
// and splits compounds.
func (sc *scanner) lookupAll() {
	lex, buf := sc.d.lex, sc.f.buf
	in := sc.toks
	out := sc.spare[:0]
	for _, t := range in {
		if t.fl&tfPiece != 0 {
			if t.c == 0 {
				t.c = lex.lookup(sc.keys[t.ks:t.ke])
			}
			out = append(out, sc.caps(t))
			continue
		}
		ks := len(sc.keys)
		for _, c := range buf[t.s:t.e] {
			if c != '\'' {
				sc.keys = append(sc.keys, c)
			}
		}
		t.ks, t.ke = int32(ks), int32(len(sc.keys))
		w := sc.keys[t.ks:t.ke]
		t.c = lex.lookup(w)
		if t.c == 0 {
			var split bool
			if out, split = sc.camelPieces(out, t); split {
				continue
			}
		}
		script := wordScripts(w)
		if script&(1<<scriptCyrGreek) != 0 {
			if script&(1<<scriptLatin) != 0 {
				t.fl |= tfMixed
			}
			alt, ok := latinReading(sc.scratch[:0], w)
			sc.scratch = alt
			if ok {
				if c := lex.lookup(alt); c != 0 || t.fl&tfMixed != 0 {
					t.c |= c
					ks = len(sc.keys)
					sc.keys = append(sc.keys, alt...)
					t.ks, t.ke = int32(ks), int32(len(sc.keys))
					w = sc.keys[t.ks:t.ke]
				}
			}
		}
		if hasLeet(w) {
			for _, ell := range []bool{false, true} {
				alt := deleet(sc.scratch[:0], w, ell)
				sc.scratch = alt
				if c := lex.lookup(alt); c != 0 {
					t.c |= c
					ks = len(sc.keys)
					sc.keys = append(sc.keys, alt...)
					t.ks, t.ke = int32(ks), int32(len(sc.keys))
					break
				}
			}
			if t.c == 0 {
				// Keep the i-reading for compounds ("1gn0reprev10us").
				ks = len(sc.keys)
				sc.keys = deleet(sc.keys, w, false)
				t.ks, t.ke = int32(ks), int32(len(sc.keys))
			}
		}
		key := sc.keys[t.ks:t.ke]
		if script&(1<<scriptHan) != 0 || len(key) >= compoundMinLen && script == 1<<scriptLatin {
			n0 := len(out)
			out = sc.appendPieces(out, t, t.e, int(t.ks), false)
			if pieces := out[n0:]; len(pieces) >= 2 && covered(pieces) >= 3*len(key)/4 || script&(1<<scriptHan) != 0 && len(pieces) > 0 {
				for k := n0; k < len(out); k++ {
					out[k] = sc.caps(out[k])
				}
				continue
			}
			out = out[:n0]
		}
		out = append(out, sc.caps(t))
	}
	sc.toks, sc.spare = out, in
}

// camelPieces appends the words of a camelCase or PascalCase token
// ("IgnorePreviousInstructions") to out and reports whether it had any.
// Only tokens whose whole form means nothing are split, so "AntiGPT"
// stays one word.
func (sc *scanner) camelPieces(out []token, t token) ([]token, bool) {
	buf, flags := sc.f.buf, sc.f.flags
	lower := func(i int32) bool { return buf[i] >= 'a' && buf[i] <= 'z' && flags[i]&fbUpper == 0 }
	from, split := t.s, false
	for i := t.s + 1; i <= t.e; i++ {
		if i < t.e && !(flags[i]&fbUpper != 0 && lower(i-1)) {
			continue
		}
		if i == t.e && !split {
			return out, false
		}
		split = true
		p := t
		p.s, p.e = from, i
		ks := len(sc.keys)
		for _, c := range buf[from:i] {
			if c != '\'' {
				sc.keys = append(sc.keys, c)
			}
		}
		p.ks, p.ke = int32(ks), int32(len(sc.keys))
		p.c = sc.d.lex.lookup(sc.keys[p.ks:p.ke])
		p.fl |= tfPiece
		out = append(out, sc.caps(p))
		from = i
	}
	return out, split
}

// caps sets tfAllCaps and the persona-name concept.
func (sc *scanner) caps(t token) token {
	if t.e-t.s > 64 {
		// Pieces span their whole compound; no name in capitals is long.
		return t
	}
	letters := 0
	for i := t.s; i < t.e; i++ {
		c := sc.f.buf[i]
		if c >= 'a' && c <= 'z' {
			if sc.f.flags[i]&fbUpper == 0 {
				return t
			}
			letters++
		}
	}
	if letters < 2 {
		return t
	}
	t.fl |= tfAllCaps
	key := sc.keys[t.ks:t.ke]
	for _, n := range personaNames {
		if bytes.Equal(key, n) {
			t.c |= cDAN
		}
	}
	return t
}

// covered returns the bytes of key that pieces cover.
func covered(pieces []token) int {
	n := 0
	for _, p := range pieces {
		n += int(p.ke - p.ks)
	}
	return n
}

// wordScripts returns the set of script classes (1<<script*) of w's letters.
func wordScripts(w []byte) int {
	s := 0
	for len(w) > 0 {
		r, n := utf8.DecodeRune(w)
		w = w[n:]
		if r < utf8.RuneSelf {
			if r >= 'a' && r <= 'z' {
				s |= 1 << scriptLatin
			}
			continue
		}
		if unicode.IsLetter(r) {
			s |= 1 << scriptOf(r)
		}
	}
	return s
}

// phrases marks the last word of every lexicon phrase with its concepts.
func (sc *scanner) phrases() {
	lex, toks := sc.d.lex, sc.toks
	for i := range toks {
		_, n := lex.walk(0, sc.keys[toks[i].ks:toks[i].ke])
		for j := i + 1; n > 0 && j < len(toks) && j <= i+5 && toks[j].sent == toks[i].sent; j++ {
			if n = lex.child(n, ' '); n < 0 {
				break
			}
			var c concept
			c, n = lex.walk(n, sc.keys[toks[j].ks:toks[j].ke])
			if c != 0 && n > 0 {
				toks[j].c |= c
			}
		}
	}
}
