package promptfilter

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/mtibben/confusables"
	"golang.org/x/text/unicode/norm"
)

// Folding turns text into the form the lexicon is written in: Unicode
// compatibility decomposition (NFKD, which is NFKC's compatibility mapping
// — fullwidth, mathematical letters, ligatures, circled letters —
// without the recomposition), combining marks dropped (accents), lower
// case, invisible characters removed, Unicode tag characters turned into
// the ASCII they hide, and look-alike letters of other scripts replaced
// by the Latin letter they imitate (Unicode TR39 confusables).
//
// Cyrillic and Greek letters are kept as they are at this stage, since
// they spell real words (Russian is in the lexicon); the tokenizer folds
// them to Latin per word, when the word mixes scripts or its Latin reading
// is a lexicon word.

// folded rune classes, from the point of view of a script.
const (
	scriptOther = iota
	scriptLatin
	scriptCyrGreek // folded per word, see above
	scriptHan
)

// foldTables are built once, on first use (a few milliseconds).
type foldTables struct {
	// latin maps a non-ASCII rune (after lower-casing) that imitates a
	// Latin letter or digit to that ASCII byte. Cyrillic and Greek
	// entries are only used per word.
	latin map[rune]byte
}

var (
	tablesOnce sync.Once
	tables     foldTables
)

// lookalikeExtras resolve the confusables data's targets that are
// themselves look-alikes (small capitals, turned letters) and add letters
// the data does not list but attackers use.
var lookalikeExtras = map[rune]byte{
	'ᴛ': 't', 'ĸ': 'k', 'ʍ': 'm', 'ʟ': 'l', 'ᴀ': 'a', 'ʙ': 'b', 'ᴄ': 'c', 'ᴅ': 'd', 'ᴇ': 'e',
	'ꜰ': 'f', 'ɢ': 'g', 'ʜ': 'h', 'ɪ': 'i', 'ᴊ': 'j', 'ᴋ': 'k', 'ᴍ': 'm', 'ɴ': 'n', 'ᴏ': 'o',
	'ᴘ': 'p', 'ʀ': 'r', 'ꜱ': 's', 'ᴜ': 'u', 'ᴠ': 'v', 'ᴡ': 'w', 'ʏ': 'y', 'ᴢ': 'z', 'ꞓ': 'e',
	'ε': 'e', 'т': 't', 'к': 'k', 'м': 'm', 'н': 'h', 'п': 'n', 'ь': 'b', 'ш': 'w', 'ԝ': 'w',
	'ɑ': 'a', 'ɩ': 'i', 'ʋ': 'u', 'ɒ': 'a', 'ɛ': 'e', 'ɔ': 'c', 'η': 'n', 'ω': 'w', 'χ': 'x',
	'κ': 'k', 'τ': 't', 'ρ': 'p', 'ι': 'i', 'ο': 'o', 'α': 'a', 'ν': 'v', 'υ': 'u', 'γ': 'y',
	'ӏ': 'l', 'ł': 'l', 'ø': 'o', 'đ': 'd', 'ħ': 'h', 'ı': 'i', 'ŀ': 'l', 'ĳ': 'i', 'ſ': 's',
}

// lookalikeRanges are where confusables of Latin letters live.
var lookalikeRanges = [][2]rune{
	{0x00C0, 0x024F}, // Latin-1 supplement, Latin extended A/B
	{0x0250, 0x02AF}, // IPA
	{0x0370, 0x03FF}, // Greek
	{0x0400, 0x052F}, // Cyrillic
	{0x0530, 0x058F}, // Armenian
	{0x13A0, 0x13FF}, // Cherokee
	{0x1D00, 0x1DBF}, // phonetic extensions (small capitals)
	{0x2100, 0x214F}, // letterlike symbols
	{0x2C60, 0x2C7F}, // Latin extended C
	{0xA720, 0xA7FF}, // Latin extended D
	{0xAB30, 0xABBF}, // Latin extended E, Cherokee supplement
}

func loadTables() {
	tablesOnce.Do(func() {
		t := foldTables{latin: make(map[rune]byte, 512)}
		for r, b := range lookalikeExtras {
			t.latin[r] = b
		}
		for _, rg := range lookalikeRanges {
			for r := rg[0]; r <= rg[1]; r++ {
				if _, ok := t.latin[r]; ok || !unicode.IsLetter(r) || unicode.ToLower(r) != r {
					continue
				}
				sk := []rune(confusables.Skeleton(string(r)))
				if len(sk) != 1 {
					continue
				}
				s := unicode.ToLower(sk[0])
				if b, ok := lookalikeExtras[s]; ok {
					t.latin[r] = b
					continue
				}
				if s < utf8.RuneSelf && (s >= 'a' && s <= 'z' || s >= '0' && s <= '9') {
					t.latin[r] = byte(s)
				}
			}
		}
		tables = t
	})
}

// scriptOf classifies a folded letter.
func scriptOf(r rune) int {
	switch {
	case r < utf8.RuneSelf:
		return scriptLatin
	case r >= 0x0370 && r <= 0x052F:
		return scriptCyrGreek
	case unicode.Is(unicode.Han, r):
		return scriptHan
	case unicode.Is(unicode.Latin, r):
		return scriptLatin
	}
	return scriptOther
}

// invisible reports characters that render as nothing and are dropped:
// format characters (zero-width space and joiners, word joiner, BOM, soft
// hyphen, bidi controls), variation selectors, the combining grapheme
// joiner and the Hangul fillers.
func invisible(r rune) bool {
	switch {
	case r == 0x034F, r == 0x115F, r == 0x1160, r == 0x3164, r == 0xFFA0, r == 0x180E:
		return true
	case r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0100 && r <= 0xE01EF:
		return true
	}
	return unicode.Is(unicode.Cf, r)
}

// isTag reports a Unicode tag character that mirrors printable ASCII, the
// carrier of "ASCII smuggling": invisible text a model still reads.
func isTag(r rune) bool { return r >= 0xE0020 && r <= 0xE007E }

// foldByte flags, per byte of folded text.
const (
	fbUpper  uint8 = 1 << iota // produced by an upper-case source letter
	fbHidden                   // produced by a tag character
)

// folder accumulates the folded form of one text, with the source offset
// of every folded byte. It is reused through a pool; the zero value is
// ready once its slices are reset.
type folder struct {
	buf   []byte  // folded text
	off   []int32 // off[i]: source offset of the rune that produced buf[i]
	flags []uint8 // fb* per byte of buf

	invisible int // invisible characters dropped
	tags      int // tag characters decoded
}

func (f *folder) reset() {
	f.buf, f.off, f.flags = f.buf[:0], f.off[:0], f.flags[:0]
	f.invisible, f.tags = 0, 0
}

func (f *folder) emit(b byte, at int, fl uint8) {
	f.buf = append(f.buf, b)
	f.off = append(f.off, int32(at))
	f.flags = append(f.flags, fl)
}

func (f *folder) emitRune(r rune, at int, fl uint8) {
	if r < utf8.RuneSelf {
		f.emit(byte(r), at, fl)
		return
	}
	n := len(f.buf)
	f.buf = utf8.AppendRune(f.buf, r)
	for i := n; i < len(f.buf); i++ {
		f.off = append(f.off, int32(at))
		f.flags = append(f.flags, fl)
	}
}

// fold folds s into f. Offsets are relative to s plus base.
func (f *folder) fold(s string, base int) {
	var enc [utf8.UTFMax]byte
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c >= 'A' && c <= 'Z':
				f.emit(c+'a'-'A', base+i, fbUpper)
			case c == '\\' && i+1 < len(s) && (s[i+1] == 'n' || s[i+1] == 'r'):
				// An escaped line break in pasted JSON or a log is a
				// line break to a model reading it.
				f.emit('\n', base+i, 0)
				i += 2
				continue
			case c == '\n':
				f.emit('\n', base+i, 0)
			case c == '\r' || c == '\t' || c == '\v' || c == '\f':
				if c == '\r' {
					c = '\n'
				} else {
					c = ' '
				}
				f.emit(c, base+i, 0)
			case c < ' ' || c == 0x7F:
				f.emit(' ', base+i, 0)
			default:
				f.emit(c, base+i, 0)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		at := base + i
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			f.emit(' ', at, 0)
			continue
		case isTag(r):
			f.tags++
			b := byte(r - 0xE0000)
			fl := fbHidden
			if b >= 'A' && b <= 'Z' {
				b += 'a' - 'A'
				fl |= fbUpper
			}
			f.emit(b, at, fl)
			continue
		case invisible(r):
			f.invisible++
			continue
		}
		if p := punct(r); p != 0 {
			f.emit(p, at, 0)
			continue
		}
		n := utf8.EncodeRune(enc[:], r)
		d := norm.NFKD.Properties(enc[:n]).Decomposition()
		if d == nil {
			f.foldRune(r, at)
			continue
		}
		for len(d) > 0 {
			q, qs := utf8.DecodeRune(d)
			d = d[qs:]
			if p := punct(q); p != 0 {
				f.emit(p, at, 0)
				continue
			}
			f.foldRune(q, at)
		}
	}
}

// foldRune folds one decomposed rune.
func (f *folder) foldRune(r rune, at int) {
	if r < utf8.RuneSelf {
		if r >= 'A' && r <= 'Z' {
			f.emit(byte(r)+'a'-'A', at, fbUpper)
		} else {
			f.emit(byte(r), at, 0)
		}
		return
	}
	if unicode.Is(unicode.Mn, r) || invisible(r) {
		return
	}
	var fl uint8
	if lr := unicode.ToLower(r); lr != r {
		r, fl = lr, fbUpper
	}
	switch r {
	case 'ß':
		f.emit('s', at, fl)
		f.emit('s', at, fl)
		return
	case 'æ':
		f.emit('a', at, fl)
		f.emit('e', at, fl)
		return
	case 'œ':
		f.emit('o', at, fl)
		f.emit('e', at, fl)
		return
	case 'þ':
		f.emit('t', at, fl)
		f.emit('h', at, fl)
		return
	}
	if unicode.IsSpace(r) {
		f.emit(' ', at, 0)
		return
	}
	if scriptOf(r) != scriptCyrGreek {
		if b, ok := tables.latin[r]; ok {
			f.emit(b, at, fl)
			return
		}
	}
	f.emitRune(r, at, fl)
}

// punct maps the non-ASCII punctuation that matters to delimiters and
// word boundaries to ASCII; 0 means none.
func punct(r rune) byte {
	switch r {
	case '\u2018', '\u2019', '\u201A', '\u201B', '\u2032', '\u02BC', '\u00B4':
		return '\''
	case '\u201C', '\u201D', '\u201E', '\u201F', '\u00AB', '\u00BB', '\u2033':
		return '"'
	case '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2015', '\u2212':
		return '-'
	case '\u2028', '\u2029', '\u0085':
		return '\n'
	case '\u3002', '\uFF61':
		return '.'
	case '\u00A0', '\u2007', '\u202F', '\u3000':
		return ' '
	}
	return 0
}

// foldString returns s folded, for building the lexicon and in tests.
func foldString(s string) string {
	loadTables()
	var f folder
	f.fold(s, 0)
	return string(f.buf)
}

// latinReading returns the Latin reading of a folded word that holds
// Cyrillic or Greek look-alikes, and whether every letter had one. It
// appends to dst.
func latinReading(dst []byte, w []byte) ([]byte, bool) {
	for len(w) > 0 {
		r, n := utf8.DecodeRune(w)
		w = w[n:]
		if r < utf8.RuneSelf {
			dst = append(dst, byte(r))
			continue
		}
		b, ok := tables.latin[r]
		if !ok {
			return dst, false
		}
		dst = append(dst, b)
	}
	return dst, true
}

// deleet appends the reading of w with leetspeak digits and symbols
// replaced by letters; one is '1' and '|' as i, or, when ell is set, as l.
func deleet(dst []byte, w []byte, ell bool) []byte {
	for _, c := range w {
		switch c {
		case '0':
			c = 'o'
		case '1', '|':
			if ell {
				c = 'l'
			} else {
				c = 'i'
			}
		case '!':
			c = 'i'
		case '3':
			c = 'e'
		case '4', '@':
			c = 'a'
		case '5', '$':
			c = 's'
		case '7', '+':
			c = 't'
		case '8':
			c = 'b'
		case '9', '6':
			c = 'g'
		}
		dst = append(dst, c)
	}
	return dst
}

// hasLeet reports whether w mixes letters with digits or symbols that
// leetspeak uses for letters.
func hasLeet(w []byte) bool {
	letters, leet := 0, 0
	for _, c := range w {
		switch {
		case c >= 'a' && c <= 'z':
			letters++
		case c == '0' || c == '1' || c == '3' || c == '4' || c == '5' || c == '7' || c == '8' || c == '9' || c == '6' ||
			c == '@' || c == '$' || c == '|' || c == '!' || c == '+':
			leet++
		}
	}
	return letters > 0 && leet > 0
}
