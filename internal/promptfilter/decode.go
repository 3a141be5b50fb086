package promptfilter

import (
	"encoding/base64"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Encoded payloads: segments of the text that decode (base64, hex, binary,
// \u escapes) to readable text, and whole-text transforms (percent
// escapes, HTML entities, ROT13, reversal) that the text asks for or
// uses. Each decoded text is scanned like the text itself, to a depth of
// maxDepth; what it scores, plus a little for the hiding, becomes one hit
// spanning the encoded segment. Work is bounded per top-level scan by
// maxDecodes segments and MaxScanBytes decoded bytes.

// segment is a decoded part of the text.
type segment struct {
	kind       string
	start, end int // in the scanned text
	text       string
}

// Shapes of encodings worth decoding.
const (
	minBase64Len = 16 // shorter runs are ids and words
	minHexBytes  = 8
	minEscapes   = 4
)

// decodeLayers finds encoded segments in the scanned parts of the text
// and scans what they decode to.
func (sc *scanner) decodeLayers(depth int, b *budget) {
	var segs []segment
	for _, rg := range sc.regions() {
		part := sc.src[rg[0]:rg[1]]
		segs = appendBase64(segs, part, rg[0])
		segs = appendHex(segs, part, rg[0])
		segs = appendBinary(segs, part, rg[0])
		segs = appendWhole(segs, part, rg[0], sc.asksToDecode())
	}
	for _, s := range segs {
		if b.decodes <= 0 || b.bytes < len(s.text) {
			return
		}
		b.decodes--
		b.bytes -= len(s.text)
		inner := sc.d.scan(s.text, sc.source, depth+1, b)
		if inner.Score < minInnerScore || len(inner.Hits) == 0 {
			continue
		}
		sc.addHit(Hit{
			Rule:     s.kind + ":" + inner.Hits[0].Rule,
			Category: inner.Categories | CatEncoded,
			Weight:   min(0.97, inner.Score+0.15),
			Start:    s.start, End: s.end,
		})
	}
}

// regions returns the source ranges that were scanned.
func (sc *scanner) regions() [][2]int {
	if len(sc.f.off) == 0 {
		return nil
	}
	n := len(sc.src)
	if n <= sc.d.maxScan {
		return [][2]int{{0, n}}
	}
	head := runeFloor(sc.src, sc.d.maxScan*3/4)
	tail := runeCeil(sc.src, n-sc.d.maxScan/4)
	return [][2]int{{0, head}, {tail, n}}
}

// asksToDecode reports whether the text names a decoding or an encoding
// (decode, backwards, rot13, base64), which makes whole-text transforms
// worth trying.
func (sc *scanner) asksToDecode() bool {
	for _, t := range sc.toks {
		if t.c&(cDecode|cEncoding) != 0 {
			return true
		}
	}
	return false
}

func isB64Byte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

// appendBase64 appends the base64 runs of s that decode to readable text.
func appendBase64(segs []segment, s string, base int) []segment {
	for i := 0; i < len(s); {
		if !isB64Byte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isB64Byte(s[j]) {
			j++
		}
		run := s[i:j]
		end := j
		for end < len(s) && end-j < 2 && s[end] == '=' {
			end++
		}
		if len(run) >= minBase64Len {
			if txt, ok := decodeBase64(run); ok {
				segs = append(segs, segment{kind: "base64", start: base + i, end: base + end, text: txt})
			}
		}
		i = end
	}
	return segs
}

func decodeBase64(run string) (string, bool) {
	url := strings.ContainsAny(run, "-_")
	if url && strings.ContainsAny(run, "+/") {
		return "", false
	}
	if len(run)%4 == 1 {
		run = run[:len(run)-1]
	}
	enc := base64.RawStdEncoding
	if url {
		enc = base64.RawURLEncoding
	}
	out, err := enc.DecodeString(run)
	if err != nil {
		return "", false
	}
	return readable(out)
}

// readable returns b as text when it is text a person would write: valid
// UTF-8 without control characters, mostly letters and spaces, with a few
// letters at least.
func readable(b []byte) (string, bool) {
	if !utf8.Valid(b) {
		return "", false
	}
	letters, plain, total := 0, 0, 0
	for _, r := range string(b) {
		total++
		switch {
		case unicode.IsLetter(r):
			letters++
			plain++
		case r == ' ' || r == '\n' || r == '\t' || unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r):
			plain++
		case r < ' ' || r == 0x7F || r == utf8.RuneError:
			return "", false
		}
	}
	if letters < 4 || plain*10 < total*9 || letters*2 < total {
		return "", false
	}
	return string(b), true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// appendHex appends hex-encoded segments: contiguous digits
// ("49676e6f7265…"), separated bytes ("49 67 6e", "49:67"), and prefixed
// bytes ("\x49\x67", "0x49 0x67", "%49%67").
func appendHex(segs []segment, s string, base int) []segment {
	var out []byte
	for i := 0; i < len(s); {
		if _, ok := hexVal(s[i]); !ok && s[i] != '\\' && s[i] != '%' {
			i++
			continue
		}
		if i > 0 && isWordByte(lowerByte(s[i-1])) && s[i] != '\\' && s[i] != '%' {
			// Inside a word: skip to its end.
			for i < len(s) && isWordByte(lowerByte(s[i])) {
				i++
			}
			continue
		}
		out = out[:0]
		j, seps, prefixed := i, 0, 0
		for j < len(s) {
			k := j
			switch {
			case strings.HasPrefix(s[k:], `\x`), strings.HasPrefix(s[k:], "0x"):
				k += 2
				prefixed++
			case s[k] == '%':
				k++
				prefixed++
			}
			if k+1 >= len(s) {
				break
			}
			hi, ok1 := hexVal(s[k])
			lo, ok2 := hexVal(s[k+1])
			if !ok1 || !ok2 {
				break
			}
			out = append(out, hi<<4|lo)
			j = k + 2
			if j < len(s) && (s[j] == ' ' || s[j] == ':' || s[j] == ',') && j+1 < len(s) {
				if _, ok := hexVal(s[j+1]); ok || s[j+1] == '\\' || s[j+1] == '0' {
					seps++
					j++
				}
			}
		}
		end := j
		if len(out) >= minHexBytes && (j >= len(s) || !isWordByte(lowerByte(s[j])) || prefixed > 0) {
			if txt, ok := readable(out); ok {
				segs = append(segs, segment{kind: "hex", start: base + i, end: base + end, text: txt})
			}
		}
		if end == i {
			end = i + 1
		}
		i = end
	}
	return segs
}

func lowerByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// appendBinary appends runs of eight-bit groups: "01001001 01100111 …".
func appendBinary(segs []segment, s string, base int) []segment {
	for i := 0; i+8 <= len(s); {
		if s[i] != '0' && s[i] != '1' || i > 0 && isWordByte(lowerByte(s[i-1])) {
			i++
			continue
		}
		var out []byte
		j := i
		for j+8 <= len(s) {
			var v byte
			ok := true
			for k := 0; k < 8; k++ {
				switch s[j+k] {
				case '0':
					v <<= 1
				case '1':
					v = v<<1 | 1
				default:
					ok = false
				}
			}
			if !ok {
				break
			}
			out = append(out, v)
			j += 8
			if j < len(s) && s[j] == ' ' {
				j++
			}
		}
		if len(out) >= minHexBytes {
			if txt, ok := readable(out); ok {
				segs = append(segs, segment{kind: "binary", start: base + i, end: base + j, text: txt})
			}
		}
		i = max(j, i+1)
	}
	return segs
}

// appendWhole appends transforms of the whole part: percent escapes, HTML
// entities and \u escapes when there are several, and ROT13 and reversal
// when the text names a decoding.
func appendWhole(segs []segment, s string, base int, asked bool) []segment {
	whole := func(kind, txt string) {
		if txt != s && txt != "" {
			segs = append(segs, segment{kind: kind, start: base, end: base + len(s), text: txt})
		}
	}
	if strings.Count(s, "%") >= minEscapes {
		if txt, ok := percentDecode(s); ok {
			whole("percent", txt)
		}
	}
	if strings.Count(s, "&") >= minEscapes-1 && strings.Contains(s, ";") {
		whole("html", html.UnescapeString(s))
	}
	if strings.Count(s, `\u`) >= minEscapes {
		whole("unicode-escape", unescapeU(s))
	}
	if asked {
		whole("rot13", rot13(s))
		whole("reversed", reverse(s))
	}
	return segs
}

// percentDecode decodes %hh escapes, leaving malformed ones as they are.
func percentDecode(s string) (string, bool) {
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := hexVal(s[i+1])
			lo, ok2 := hexVal(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				n++
				continue
			}
		}
		b.WriteByte(s[i])
	}
	out := b.String()
	return out, n >= minEscapes && utf8.ValidString(out)
}

// unescapeU decodes \uXXXX escapes (surrogate pairs as two runes, which
// folding turns into nothing harmful).
func unescapeU(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+5 < len(s) && s[i+1] == 'u' {
			var r rune
			ok := true
			for k := 2; k < 6; k++ {
				v, okv := hexVal(s[i+k])
				if !okv {
					ok = false
					break
				}
				r = r<<4 | rune(v)
			}
			if ok {
				if !utf8.ValidRune(r) {
					r = ' '
				}
				b.WriteRune(r)
				i += 5
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func rot13(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, s)
}

func reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}
