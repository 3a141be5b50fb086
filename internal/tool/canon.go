package tool

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// maxArgDepth bounds the nesting of tool arguments. No schema a model
// fills nests deeper, and the canonicaliser recurses.
const maxArgDepth = 64

// maxResultDepth bounds the nesting of a result embedded as JSON in its
// envelope; a deeper result is embedded as text.
const maxResultDepth = 128

// errDuplicateKey is returned for an object that names a member twice:
// JSON leaves its meaning undefined, so it has no canonical form.
var errDuplicateKey = errors.New("an object member is given twice")

// jsonWriter re-encodes one JSON text. In canonical mode object members are
// sorted by key and duplicates refused, so that equal values have equal
// bytes (the run-local cache key); otherwise members keep their order (the
// compaction of a result). Both modes drop insignificant whitespace and
// re-escape strings minimally; numbers are kept as written.
type jsonWriter struct {
	src      []byte
	pos      int
	depth    int
	maxDepth int
	sorted   bool
	quiet    bool     // errors need no text: the caller only asks whether
	members  []member // a stack: each object uses the tail it appended
	scratch  []byte   // where an object's members are reordered
}

// member is one encoded member of an object being canonicalised: the span
// of dst holding `"key":value`, and within it the end of the key.
type member struct {
	start, keyEnd, end int
}

// canonical appends the canonical form of the JSON text src to dst: no
// insignificant whitespace, object members sorted by the bytes of their
// encoded keys, strings escaped minimally (invalid UTF-8 becomes U+FFFD as
// with encoding/json), numbers as written. It refuses malformed JSON,
// trailing data, duplicate member names and nesting deeper than
// maxArgDepth; on error dst is returned unchanged in length.
func canonical(dst, src []byte) ([]byte, error) {
	w := writerPool.Get().(*jsonWriter)
	*w = jsonWriter{src: src, maxDepth: maxArgDepth, sorted: true, members: w.members[:0], scratch: w.scratch[:0]}
	out, err := w.run(dst)
	if cap(w.scratch) > maxPooledScratch {
		w.scratch = nil
	}
	w.src = nil
	writerPool.Put(w)
	return out, err
}

// writerPool keeps the member stacks and scratch buffers of canonical
// between calls: every tool call of every run is canonicalised.
var writerPool = sync.Pool{New: func() any { return new(jsonWriter) }}

// maxPooledScratch keeps one huge argument text from pinning its buffer.
const maxPooledScratch = 64 << 10

// compact appends src to dst without insignificant whitespace, like
// json.Compact, but with strings re-escaped minimally; ok is false (and
// dst unchanged in length) when src is not one valid JSON value nested at
// most maxResultDepth deep.
func compact(dst, src []byte) ([]byte, bool) {
	w := jsonWriter{src: src, maxDepth: maxResultDepth, quiet: true}
	out, err := w.run(dst)
	return out, err == nil
}

func (w *jsonWriter) run(dst []byte) ([]byte, error) {
	n := len(dst)
	out, err := w.value(dst)
	if err == nil {
		w.ws()
		if w.pos < len(w.src) {
			err = w.errorf("unexpected %q after the JSON value", w.src[w.pos])
		}
	}
	if err != nil {
		return dst[:n], err
	}
	return out, nil
}

// errNotJSON is the error of a quiet jsonWriter, which spares the cost of
// formatting a message nobody reads (most text results fail at byte 0).
var errNotJSON = errors.New("not JSON")

func (w *jsonWriter) errorf(format string, args ...any) error {
	if w.quiet {
		return errNotJSON
	}
	return fmt.Errorf("at byte %d: "+format, append([]any{w.pos}, args...)...)
}

func (w *jsonWriter) ws() {
	for w.pos < len(w.src) {
		switch w.src[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

func (w *jsonWriter) value(dst []byte) ([]byte, error) {
	w.ws()
	if w.pos >= len(w.src) {
		return dst, w.errorf("unexpected end of JSON")
	}
	switch c := w.src[w.pos]; {
	case c == '{':
		return w.object(dst)
	case c == '[':
		return w.array(dst)
	case c == '"':
		return w.str(dst)
	case c == 't':
		return w.literal(dst, "true")
	case c == 'f':
		return w.literal(dst, "false")
	case c == 'n':
		return w.literal(dst, "null")
	case c == '-' || '0' <= c && c <= '9':
		return w.number(dst)
	default:
		return dst, w.errorf("unexpected %q looking for a value", c)
	}
}

func (w *jsonWriter) literal(dst []byte, lit string) ([]byte, error) {
	if len(w.src)-w.pos < len(lit) || string(w.src[w.pos:w.pos+len(lit)]) != lit {
		return dst, w.errorf("invalid literal, expected %s", lit)
	}
	w.pos += len(lit)
	return append(dst, lit...), nil
}

func (w *jsonWriter) number(dst []byte) ([]byte, error) {
	s, i, n := w.src, w.pos, len(w.src)
	if s[i] == '-' {
		i++
	}
	switch {
	case i < n && s[i] == '0':
		i++
	case i < n && '1' <= s[i] && s[i] <= '9':
		for i < n && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		return dst, w.errorf("invalid number")
	}
	if i < n && s[i] == '.' {
		i++
		if i >= n || s[i] < '0' || s[i] > '9' {
			return dst, w.errorf("invalid number")
		}
		for i < n && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= n || s[i] < '0' || s[i] > '9' {
			return dst, w.errorf("invalid number")
		}
		for i < n && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	}
	dst = append(dst, s[w.pos:i]...)
	w.pos = i
	return dst, nil
}

func (w *jsonWriter) enter() error {
	w.depth++
	if w.depth > w.maxDepth {
		return w.errorf("nested deeper than %d", w.maxDepth)
	}
	return nil
}

func (w *jsonWriter) array(dst []byte) ([]byte, error) {
	if err := w.enter(); err != nil {
		return dst, err
	}
	w.pos++
	dst = append(dst, '[')
	w.ws()
	if w.pos < len(w.src) && w.src[w.pos] == ']' {
		w.pos++
		w.depth--
		return append(dst, ']'), nil
	}
	for {
		var err error
		if dst, err = w.value(dst); err != nil {
			return dst, err
		}
		w.ws()
		if w.pos >= len(w.src) {
			return dst, w.errorf("unexpected end of JSON in an array")
		}
		switch w.src[w.pos] {
		case ',':
			w.pos++
			dst = append(dst, ',')
		case ']':
			w.pos++
			w.depth--
			return append(dst, ']'), nil
		default:
			return dst, w.errorf("unexpected %q in an array", w.src[w.pos])
		}
	}
}

func (w *jsonWriter) object(dst []byte) ([]byte, error) {
	if err := w.enter(); err != nil {
		return dst, err
	}
	w.pos++
	open := len(dst)
	dst = append(dst, '{')
	w.ws()
	if w.pos < len(w.src) && w.src[w.pos] == '}' {
		w.pos++
		w.depth--
		return append(dst, '}'), nil
	}
	base := len(w.members)
	defer func() { w.members = w.members[:base] }()
	for {
		w.ws()
		if w.pos >= len(w.src) || w.src[w.pos] != '"' {
			return dst, w.errorf("expected a member name")
		}
		if dst[len(dst)-1] != '{' {
			dst = append(dst, ',')
		}
		m := member{start: len(dst)}
		var err error
		if dst, err = w.str(dst); err != nil {
			return dst, err
		}
		m.keyEnd = len(dst)
		w.ws()
		if w.pos >= len(w.src) || w.src[w.pos] != ':' {
			return dst, w.errorf("expected ':' after a member name")
		}
		w.pos++
		dst = append(dst, ':')
		if dst, err = w.value(dst); err != nil {
			return dst, err
		}
		m.end = len(dst)
		if w.sorted {
			w.members = append(w.members, m)
		}
		w.ws()
		if w.pos >= len(w.src) {
			return dst, w.errorf("unexpected end of JSON in an object")
		}
		switch w.src[w.pos] {
		case ',':
			w.pos++
			continue
		case '}':
			w.pos++
		default:
			return dst, w.errorf("unexpected %q in an object", w.src[w.pos])
		}
		break
	}
	w.depth--
	dst = append(dst, '}')
	if w.sorted {
		return w.sortMembers(dst, open, w.members[base:])
	}
	return dst, nil
}

// sortMembers rewrites the members of the object at dst[open:] in key
// order; most objects arrive sorted and are left as they are.
func (w *jsonWriter) sortMembers(dst []byte, open int, ms []member) ([]byte, error) {
	key := func(m member) []byte { return dst[m.start:m.keyEnd] }
	cmp := func(a, b member) int { return bytes.Compare(key(a), key(b)) }
	if slices.IsSortedFunc(ms, cmp) {
		for i := 1; i < len(ms); i++ {
			if bytes.Equal(key(ms[i-1]), key(ms[i])) {
				return dst, errDuplicateKey
			}
		}
		return dst, nil
	}
	slices.SortStableFunc(ms, cmp)
	for i := 1; i < len(ms); i++ {
		if bytes.Equal(key(ms[i-1]), key(ms[i])) {
			return dst, errDuplicateKey
		}
	}
	w.scratch = append(w.scratch[:0], dst[open:]...)
	out := dst[:open+1]
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, w.scratch[m.start-open:m.end-open]...)
	}
	return append(out, '}'), nil
}

// str re-encodes the string at w.pos.
func (w *jsonWriter) str(dst []byte) ([]byte, error) {
	s := w.src
	start := w.pos + 1
	i := start
	clean := true
	for {
		if i >= len(s) {
			return dst, w.errorf("unterminated string")
		}
		c := s[i]
		if c == '"' {
			break
		}
		switch {
		case c == '\\':
			clean = false
			if i+1 >= len(s) {
				return dst, w.errorf("unterminated string")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					return dst, w.errorf("invalid \\u escape")
				}
				i += 6
			default:
				return dst, w.errorf("invalid escape \\%c", s[i+1])
			}
		case c < 0x20:
			return dst, w.errorf("control character in a string")
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				clean = false
			}
			i += size
		default:
			i++
		}
	}
	raw := s[start:i]
	w.pos = i + 1
	if clean {
		dst = append(dst, '"')
		dst = append(dst, raw...)
		return append(dst, '"'), nil
	}
	return appendString(dst, unescape(make([]byte, 0, len(raw)), raw)), nil
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape appends the decoded contents of a validated JSON string body,
// as encoding/json decodes it: lone surrogates and invalid UTF-8 become
// U+FFFD.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			if c < utf8.RuneSelf {
				dst = append(dst, c)
				i++
				continue
			}
			r, size := utf8.DecodeRune(raw[i:])
			dst = utf8.AppendRune(dst, r)
			i += size
			continue
		}
		switch raw[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(raw[i+2:])); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, raw[i+1])
		}
		i += 2
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control
// characters escaped, nothing else (no HTML escaping: results are read by a
// model, not a browser), invalid UTF-8 replaced by U+FFFD.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// utf8Cut returns the largest n ≤ max such that b[:n] does not end inside
// a UTF-8 sequence.
func utf8Cut(b []byte, max int) int {
	if max >= len(b) {
		return len(b)
	}
	n := max
	// A sequence is at most 4 bytes: look back at most 3 for its start.
	for back := 0; back < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(b[n]); back++ {
		n--
	}
	if !utf8.RuneStart(b[n]) {
		return max // not UTF-8 here anyway; appendString replaces the bytes
	}
	return n
}

// appendEnvelope appends the message content the model sees for a tool's
// answer: {"type":"tool_result","tool":name,"data":…,"is_error":…,
// "truncated":…}. data is content itself, compacted, when content is
// valid JSON within limit bytes; otherwise content cut to limit bytes at a
// UTF-8 boundary, as a JSON string. It returns the span of the data member.
func appendEnvelope(dst []byte, name string, content []byte, isError, truncated bool, limit int) (out []byte, dataStart, dataEnd int) {
	dst = append(dst, `{"type":"tool_result","tool":`...)
	dst = appendString(dst, name)
	dst = append(dst, `,"data":`...)
	dataStart = len(dst)
	ok := false
	if len(content) <= limit {
		dst, ok = compact(dst, content)
	} else {
		truncated = true
	}
	if !ok {
		dst = appendString(dst, content[:utf8Cut(content, limit)])
	}
	dataEnd = len(dst)
	dst = append(dst, `,"is_error":`...)
	dst = appendBool(dst, isError)
	dst = append(dst, `,"truncated":`...)
	dst = appendBool(dst, truncated)
	return append(dst, '}'), dataStart, dataEnd
}

// appendErrorEnvelope appends the envelope of a call that produced no
// result: data is {"error": msg} and is_error is true.
func appendErrorEnvelope(dst []byte, name, msg string) (out []byte, dataStart, dataEnd int) {
	dst = append(dst, `{"type":"tool_result","tool":`...)
	dst = appendString(dst, name)
	dst = append(dst, `,"data":`...)
	dataStart = len(dst)
	dst = append(dst, `{"error":`...)
	dst = appendString(dst, msg)
	dst = append(dst, '}')
	dataEnd = len(dst)
	return append(dst, `,"is_error":true,"truncated":false}`...), dataStart, dataEnd
}

func appendBool(dst []byte, b bool) []byte {
	if b {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}
