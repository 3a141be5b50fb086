package provider

import (
	"bytes"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// jreader reads JSON from b. Every method returns false for input it does
// not handle exactly as encoding/json does, after which the reader's state
// is meaningless.
type jreader struct {
	b []byte
	i int
}

func (r *jreader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *jreader) consume(c byte) bool {
	r.ws()
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (r *jreader) end() bool {
	r.ws()
	return r.i == len(r.b)
}

// nullOr consumes a null and calls onNull, or calls value to read a value.
func (r *jreader) nullOr(onNull, value func() bool) bool {
	r.ws()
	if bytes.HasPrefix(r.b[r.i:], []byte("null")) {
		r.i += 4
		return onNull()
	}
	return value()
}

// object reads an object, calling member for each key; member reads the
// value. Keys with escapes are declined.
func (r *jreader) object(member func(key []byte) bool) bool {
	if !r.consume('{') {
		return false
	}
	if r.consume('}') {
		return true
	}
	for {
		if !r.consume('"') {
			return false
		}
		end := bytes.IndexByte(r.b[r.i:], '"')
		if end < 0 {
			return false
		}
		key := r.b[r.i : r.i+end]
		for _, c := range key {
			if c == '\\' || c < 0x20 {
				return false
			}
		}
		r.i += end + 1
		if !r.consume(':') || !member(key) {
			return false
		}
		if r.consume(',') {
			continue
		}
		return r.consume('}')
	}
}

// array reads an array, calling elem to read each element.
func (r *jreader) array(elem func() bool) bool {
	if !r.consume('[') {
		return false
	}
	if r.consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if r.consume(',') {
			continue
		}
		return r.consume(']')
	}
}

// str reads a string into dst; null leaves dst as it is, as encoding/json
// does for strings.
func (r *jreader) str(dst *string) bool {
	s, isNull, ok := r.strBytes()
	if ok && !isNull {
		*dst = string(s)
	}
	return ok
}

// intern reads a string into dst, reusing *last when equal to it.
func (r *jreader) intern(dst, last *string) bool {
	s, isNull, ok := r.strBytes()
	if !ok || isNull {
		return ok
	}
	if string(s) != *last {
		*last = string(s)
	}
	*dst = *last
	return true
}

// object1 reads a string that is nearly always konst, without allocating.
func (r *jreader) object1(dst *string, konst string) bool {
	s, isNull, ok := r.strBytes()
	switch {
	case !ok || isNull:
	case string(s) == konst:
		*dst = konst
	default:
		*dst = string(s)
	}
	return ok
}

// strBytes reads a string or null. The bytes are the decoded string; they
// alias r.b when the string had no escapes.
func (r *jreader) strBytes() (s []byte, isNull, ok bool) {
	r.ws()
	if bytes.HasPrefix(r.b[r.i:], []byte("null")) {
		r.i += 4
		return nil, true, true
	}
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false, false
	}
	start := r.i + 1
	ascii := true
	for j := start; j < len(r.b); j++ {
		switch c := r.b[j]; {
		case c == '"':
			s = r.b[start:j]
			if !ascii && !utf8.Valid(s) { // encoding/json would replace bad bytes
				return nil, false, false
			}
			r.i = j + 1
			return s, false, true
		case c == '\\':
			return r.unescape(start)
		case c < 0x20:
			return nil, false, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false, false
}

// unescape decodes a string with escapes starting at r.b[start].
func (r *jreader) unescape(start int) ([]byte, bool, bool) {
	out := make([]byte, 0, 64)
	j := start
	for j < len(r.b) {
		c := r.b[j]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return nil, false, false
			}
			r.i = j + 1
			return out, false, true
		case c < 0x20:
			return nil, false, false
		case c != '\\':
			out = append(out, c)
			j++
			continue
		}
		if j+1 >= len(r.b) {
			return nil, false, false
		}
		switch e := r.b[j+1]; e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			ru, ok := hex4(r.b[j+2:])
			if !ok {
				return nil, false, false
			}
			j += 6
			if utf16.IsSurrogate(ru) {
				lo, ok := rune(0), false
				if j+1 < len(r.b) && r.b[j] == '\\' && r.b[j+1] == 'u' {
					lo, ok = hex4(r.b[j+2:])
				}
				ru = utf16.DecodeRune(ru, lo)
				if !ok || ru == utf8.RuneError { // a lone surrogate: left to encoding/json
					return nil, false, false
				}
				j += 6
			}
			out = utf8.AppendRune(out, ru)
			continue
		default:
			return nil, false, false
		}
		j += 2
	}
	return nil, false, false
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// int64 reads an integer; null leaves dst as it is. Fractions, exponents
// and overflow are declined: encoding/json rejects them for int fields.
func (r *jreader) int64(dst *int64) bool {
	r.ws()
	if bytes.HasPrefix(r.b[r.i:], []byte("null")) {
		r.i += 4
		return true
	}
	j, neg := r.i, false
	if j < len(r.b) && r.b[j] == '-' {
		neg = true
		j++
	}
	digits := j
	var n uint64
	for ; j < len(r.b) && r.b[j] >= '0' && r.b[j] <= '9'; j++ {
		if n > (1<<63)/10 {
			return false
		}
		n = n*10 + uint64(r.b[j]-'0')
	}
	switch {
	case j == digits, j-digits > 1 && r.b[digits] == '0', n > 1<<63, !neg && n == 1<<63:
		return false
	case j < len(r.b) && (r.b[j] == '.' || r.b[j] == 'e' || r.b[j] == 'E'):
		return false
	}
	r.i = j
	if neg {
		*dst = -int64(n)
	} else {
		*dst = int64(n)
	}
	return true
}

func (r *jreader) int(dst *int) bool {
	v := int64(*dst)
	if !r.int64(&v) || int64(int(v)) != v {
		return false
	}
	*dst = int(v)
	return true
}

// raw reads any value into dst as its exact bytes, as json.RawMessage does
// (null included).
func (r *jreader) raw(dst *json.RawMessage) bool {
	r.ws()
	start := r.i
	if !r.skip(0) {
		return false
	}
	*dst = append(json.RawMessage(nil), r.b[start:r.i]...)
	return true
}

// maxSkipDepth bounds the nesting of skipped values; deeper ones go to
// encoding/json.
const maxSkipDepth = 32

// skip reads and validates one value of any type.
func (r *jreader) skip(depth int) bool {
	if depth > maxSkipDepth {
		return false
	}
	r.ws()
	if r.i >= len(r.b) {
		return false
	}
	switch c := r.b[r.i]; {
	case c == '{':
		return r.object(func([]byte) bool { return r.skip(depth + 1) })
	case c == '[':
		return r.array(func() bool { return r.skip(depth + 1) })
	case c == '"':
		_, _, ok := r.strBytes()
		return ok
	case c == 't':
		return r.literal("true")
	case c == 'f':
		return r.literal("false")
	case c == 'n':
		return r.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return r.number()
	}
	return false
}

func (r *jreader) literal(lit string) bool {
	if !bytes.HasPrefix(r.b[r.i:], []byte(lit)) {
		return false
	}
	r.i += len(lit)
	return true
}

// number validates a JSON number: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
func (r *jreader) number() bool {
	b, j := r.b, r.i
	digits := func() bool {
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		return j > k
	}
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case !digits():
		return false
	}
	if j < len(b) && b[j] == '.' {
		j++
		if !digits() {
			return false
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if !digits() {
			return false
		}
	}
	r.i = j
	return true
}
