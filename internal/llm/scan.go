package llm

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file is the one JSON reader under the codec: whitespace, strings,
// numbers, literals and the object and array walks the type decoders in
// decode.go are written with. It accepts exactly the JSON grammar that
// encoding/json accepts, produces the same strings (escapes resolved,
// invalid UTF-8 and lone surrogates turned into U+FFFD) and, where it
// refuses a document, says why with encoding/json's wording and the byte
// offset.

// syntaxError is malformed JSON at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.off) + ": " + e.msg
}

// depthError is nesting beyond the scanner's maximum.
type depthError struct {
	off, max int
}

func (e *depthError) Error() string {
	return "JSON nesting deeper than " + strconv.Itoa(e.max) + " levels at offset " + strconv.Itoa(e.off)
}

// fieldError is a well-formed value that does not fit the field at path: a
// wrong type, a number out of range, or a duplicate member name. The path
// is built on the way up the call chain, so a successful decode never pays
// for it.
type fieldError struct {
	path string
	msg  string // for value errors: what is wrong with the value
	want string // for type errors: what the field takes
	got  string // for type errors: what the body had
	dup  bool
}

func (e *fieldError) Error() string {
	switch {
	case e.dup:
		return "Duplicate key '" + e.path + "' in the JSON body."
	case e.msg != "":
		return "Invalid value for '" + e.path + "': " + e.msg
	}
	return "Invalid type for '" + e.path + "': expected " + e.want + ", but got " + e.got + " instead."
}

// under prefixes err's path with seg (a member name or "[i]").
func under(err error, seg string) error {
	fe, ok := err.(*fieldError)
	if !ok {
		return err
	}
	switch {
	case fe.path == "":
		fe.path = seg
	case fe.path[0] == '[':
		fe.path = seg + fe.path
	default:
		fe.path = seg + "." + fe.path
	}
	return err
}

func underIndex(err error, i int) error {
	if _, ok := err.(*fieldError); !ok {
		return err
	}
	return under(err, "["+strconv.Itoa(i)+"]")
}

// scanner reads one JSON document. It is used once, by one goroutine.
type scanner struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	lastWins bool   // a member given twice takes its last value, rather than failing
	scratch  []byte // unescaped member names
}

// Whitespace and punctuation.

// ws skips whitespace. Compact JSON has none, so the check that there is
// none is kept small enough to inline.
func (d *scanner) ws() {
	if d.pos < len(d.data) && d.data[d.pos] > ' ' {
		return
	}
	d.skipSpace()
}

func (d *scanner) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (d *scanner) peek() byte {
	d.ws()
	if d.pos == len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

// end checks that only whitespace is left.
func (d *scanner) end() error {
	d.ws()
	if d.pos != len(d.data) {
		return &syntaxError{off: d.pos, msg: "unexpected data after the top-level JSON object"}
	}
	return nil
}

func (d *scanner) errAt(msg string) error {
	if d.pos >= len(d.data) {
		return &syntaxError{off: len(d.data), msg: "unexpected end of JSON input"}
	}
	return &syntaxError{off: d.pos, msg: msg}
}

func (d *scanner) badChar(context string) error {
	if d.pos >= len(d.data) {
		return d.errAt("")
	}
	return d.errAt("invalid character " + quoteChar(d.data[d.pos]) + " " + context)
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c < 0x20 || c >= 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return "'" + string(c) + "'"
}

// open consumes c ('{' or '[') and enters one nesting level.
func (d *scanner) open(c byte) error {
	if d.peek() != c {
		return d.badChar("looking for beginning of value")
	}
	d.depth++
	if d.depth > d.maxDepth {
		return &depthError{off: d.pos, max: d.maxDepth}
	}
	d.pos++
	return nil
}

// more reports whether another member or element follows in the object or
// array closed by end, consuming the separator or the closing byte.
func (d *scanner) more(end byte, first bool) (bool, error) {
	c := d.peek()
	if c == end {
		d.pos++
		d.depth--
		return false, nil
	}
	if first {
		return true, nil
	}
	if c != ',' {
		if end == '}' {
			return false, d.badChar("after object key:value pair")
		}
		return false, d.badChar("after array element")
	}
	d.pos++
	if end == '}' && d.peek() != '"' {
		return false, d.badChar("looking for beginning of object key string")
	}
	return true, nil
}

// key reads a member name and the colon after it. The result aliases the
// input or the scanner's scratch space; it is valid until the next key.
func (d *scanner) key() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.badChar("looking for beginning of object key string")
	}
	raw, flags, err := d.scanString()
	if err != nil {
		return nil, err
	}
	k := raw
	if flags != 0 {
		d.scratch = unquote(d.scratch[:0], raw, flags)
		k = d.scratch
	}
	if d.peek() != ':' {
		return nil, d.badChar("after object key")
	}
	d.pos++
	return k, nil
}

// Strings.

// strPlain marks the bytes a string holds as they are: printable ASCII but
// the quote and the backslash. Control bytes are errors, and bytes from
// 0x80 on start runes that must be checked for validity.
var strPlain = func() (t [256]bool) {
	for i := 0x20; i < utf8.RuneSelf; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// strFlags say what a scanned string holds that unquote must deal with.
type strFlags uint8

const (
	strEscaped strFlags = 1 << iota // backslash escapes
	strInvalid                      // bytes that are not valid UTF-8
)

// scanString consumes a string and returns its contents without the quotes,
// still escaped, and what unquote must deal with: nothing (0) for most.
func (d *scanner) scanString() (raw []byte, flags strFlags, err error) {
	start := d.pos + 1
	i := start
	for {
		// A byte loop over strPlain measured faster than testing eight
		// bytes at a time, even on long prompts.
		for i < len(d.data) && strPlain[d.data[i]] {
			i++
		}
		if i >= len(d.data) {
			d.pos = i
			return nil, 0, d.errAt("")
		}
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return d.data[start:i], flags, nil
		case c == '\\':
			flags |= strEscaped
			if i+1 >= len(d.data) {
				d.pos = len(d.data)
				return nil, 0, d.errAt("")
			}
			switch d.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(d.data) {
						d.pos = len(d.data)
						return nil, 0, d.errAt("")
					}
					if !isHex(d.data[j]) {
						d.pos = j
						return nil, 0, d.badChar("in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				d.pos = i + 1
				return nil, 0, d.badChar("in string escape code")
			}
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(d.data[i:])
			if r == utf8.RuneError && size == 1 {
				flags |= strInvalid
			}
			i += size
		default:
			d.pos = i
			return nil, 0, d.badChar("in string literal")
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unquote appends the unescaped form of raw, scanned by scanString with
// flags, to dst, as encoding/json does: lone surrogates and bytes that are
// not UTF-8 become U+FFFD.
func unquote(dst, raw []byte, flags strFlags) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c < utf8.RuneSelf && c != '\\':
			j := i + 1
			for j < len(raw) && raw[j] < utf8.RuneSelf && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 && flags&strInvalid != 0 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
			continue
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			dst = append(dst, raw[i+1])
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
						i += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		}
		i += 2
	}
	return dst
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

// str reads a string value, or a null (leaving *s as it is, as
// encoding/json does for strings).
func (d *scanner) str(s *string) error {
	switch d.peek() {
	case '"':
		raw, flags, err := d.scanString()
		if err != nil {
			return err
		}
		if flags != 0 {
			*s = string(unquote(make([]byte, 0, len(raw)), raw, flags))
		} else {
			*s = string(raw)
		}
		return nil
	case 'n':
		return d.null()
	}
	return d.mismatch("a string")
}

// strIntern is str for fields whose values are usually one of a few
// constants (roles, part types), which then cost no allocation.
func (d *scanner) strIntern(s *string, common ...string) error {
	if d.peek() != '"' {
		return d.str(s)
	}
	save := d.pos
	raw, flags, err := d.scanString()
	if err != nil {
		return err
	}
	if flags == 0 {
		for _, c := range common {
			if string(raw) == c {
				*s = c
				return nil
			}
		}
	}
	d.pos = save
	return d.str(s)
}

// strLast is str for a field that repeats the same value message after
// message (a stream's id and model): *last keeps the previous value, and an
// equal one is shared rather than allocated again.
func (d *scanner) strLast(s, last *string) error {
	if d.peek() != '"' {
		return d.str(s)
	}
	save := d.pos
	raw, flags, err := d.scanString()
	if err != nil {
		return err
	}
	if flags != 0 || string(raw) != *last {
		d.pos = save
		if err := d.str(last); err != nil {
			return err
		}
	}
	*s = *last
	return nil
}

// Literals and numbers.

// null consumes a null literal.
func (d *scanner) null() error { return d.literal("null") }

func (d *scanner) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.data) {
			return d.errAt("")
		}
		if d.data[d.pos] != lit[i] {
			return d.badChar("in literal " + lit + " (expecting " + quoteChar(lit[i]) + ")")
		}
		d.pos++
	}
	return nil
}

// isNull consumes a null if one is next.
func (d *scanner) isNull() (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	return true, d.null()
}

func (d *scanner) boolean(b *bool) error {
	switch d.peek() {
	case 't':
		*b = true
		return d.literal("true")
	case 'f':
		*b = false
		return d.literal("false")
	case 'n':
		return d.null()
	}
	return d.mismatch("a boolean")
}

func (d *scanner) boolPtr(p **bool) error {
	if null, err := d.isNull(); null || err != nil {
		*p = nil
		return err
	}
	var b bool
	if err := d.boolean(&b); err != nil {
		return err
	}
	*p = &b
	return nil
}

// number consumes a number literal and returns it.
func (d *scanner) number() ([]byte, error) {
	start := d.pos
	i := d.pos
	n := len(d.data)
	if i < n && d.data[i] == '-' {
		i++
	}
	switch {
	case i < n && d.data[i] == '0':
		i++
	case i < n && '1' <= d.data[i] && d.data[i] <= '9':
		for i < n && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
	default:
		d.pos = i
		return nil, d.badChar("in numeric literal")
	}
	if i < n && d.data[i] == '.' {
		i++
		if i >= n || d.data[i] < '0' || d.data[i] > '9' {
			d.pos = i
			return nil, d.badChar("after decimal point in numeric literal")
		}
		for i < n && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
	}
	if i < n && (d.data[i] == 'e' || d.data[i] == 'E') {
		i++
		if i < n && (d.data[i] == '+' || d.data[i] == '-') {
			i++
		}
		if i >= n || d.data[i] < '0' || d.data[i] > '9' {
			d.pos = i
			return nil, d.badChar("in exponent of numeric literal")
		}
		for i < n && '0' <= d.data[i] && d.data[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return d.data[start:i], nil
}

// parseInt parses a number literal as an integer as strconv.ParseInt does.
// Token counts and indices are short, and a plain loop over up to 18
// digits, which cannot overflow, is faster than ParseInt.
func parseInt(lit []byte) (int64, bool) {
	s := lit
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 18 {
		v, err := strconv.ParseInt(string(lit), 10, 64)
		return v, err == nil
	}
	var v int64
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

// integer reads an integer into an int64 within [lo, hi]. As with
// encoding/json, 1.0 and 1e2 are not integers.
func (d *scanner) integer(lo, hi int64) (int64, error) {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, d.mismatch("an integer")
	}
	lit, err := d.number()
	if err != nil {
		return 0, err
	}
	v, ok := parseInt(lit)
	if !ok || v < lo || v > hi {
		if strings.ContainsAny(string(lit), ".eE") {
			return 0, &fieldError{want: "an integer", got: "a decimal number"}
		}
		return 0, &fieldError{msg: "integer " + string(lit) + " is out of range."}
	}
	return v, nil
}

const (
	maxInt = int64(^uint(0) >> 1)
	minInt = -maxInt - 1
)

// int reads an int; null leaves *p as it is.
func (d *scanner) int(p *int) error {
	if null, err := d.isNull(); null || err != nil {
		return err
	}
	v, err := d.integer(minInt, maxInt)
	if err != nil {
		return err
	}
	*p = int(v)
	return nil
}

// int64 reads an int64; null leaves *p as it is.
func (d *scanner) int64(p *int64) error {
	if null, err := d.isNull(); null || err != nil {
		return err
	}
	v, err := d.integer(-1<<63, 1<<63-1)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

func (d *scanner) intPtr(p **int) error {
	if null, err := d.isNull(); null || err != nil {
		*p = nil
		return err
	}
	v, err := d.integer(minInt, maxInt)
	if err != nil {
		return err
	}
	n := int(v)
	*p = &n
	return nil
}

func (d *scanner) int64Ptr(p **int64) error {
	if null, err := d.isNull(); null || err != nil {
		*p = nil
		return err
	}
	v, err := d.integer(-1<<63, 1<<63-1)
	if err != nil {
		return err
	}
	*p = &v
	return nil
}

func (d *scanner) float(f *float64) error {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return d.mismatch("a number")
	}
	lit, err := d.number()
	if err != nil {
		return err
	}
	v, perr := strconv.ParseFloat(string(lit), 64)
	if perr != nil {
		return &fieldError{msg: "number " + string(lit) + " is out of range."}
	}
	*f = v
	return nil
}

func (d *scanner) floatPtr(p **float64) error {
	if null, err := d.isNull(); null || err != nil {
		*p = nil
		return err
	}
	var v float64
	if err := d.float(&v); err != nil {
		return err
	}
	*p = &v
	return nil
}

// Generic values.

// kindName names the JSON type of the next value for error messages.
func (d *scanner) kindName() string {
	d.ws()
	return d.kindNameAt(d.pos)
}

func (d *scanner) kindNameAt(off int) string {
	for off < len(d.data) && (d.data[off] == ' ' || d.data[off] == '\t' || d.data[off] == '\n' || d.data[off] == '\r') {
		off++
	}
	if off >= len(d.data) {
		return "nothing"
	}
	switch d.data[off] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// mismatch reports that the next value is not what the field takes. The
// value must still be well-formed JSON, as encoding/json checks the whole
// value before it reports a type error.
func (d *scanner) mismatch(want string) error {
	got := d.kindName()
	if err := d.skip(); err != nil {
		return err
	}
	return &fieldError{want: want, got: got}
}

// skip consumes one value of any type, checking its syntax and depth.
func (d *scanner) skip() error {
	switch d.peek() {
	case '"':
		_, _, err := d.scanString()
		return err
	case '{':
		if err := d.open('{'); err != nil {
			return err
		}
		for first := true; ; first = false {
			ok, err := d.more('}', first)
			if err != nil || !ok {
				return err
			}
			if _, err := d.key(); err != nil {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case '[':
		if err := d.open('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			ok, err := d.more(']', first)
			if err != nil || !ok {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.null()
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		_, err := d.number()
		return err
	}
	return d.badChar("looking for beginning of value")
}

// raw consumes one value and stores a copy of its bytes, as
// json.RawMessage does (null included), in *m's memory when it fits.
func (d *scanner) raw(m *[]byte) error {
	d.ws()
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	*m = append((*m)[:0], d.data[start:d.pos]...)
	return nil
}

// fields are the member names of one object type, in the order the type
// decoder numbers them, indexed by length so that matching a name compares
// it with the few names of its length rather than all of them.
type fields struct {
	names []string
	byLen [][]uint8
}

func newFields(names ...string) *fields {
	fs := &fields{names: names}
	for i, n := range names {
		for len(fs.byLen) <= len(n) {
			fs.byLen = append(fs.byLen, nil)
		}
		fs.byLen[len(n)] = append(fs.byLen[len(n)], uint8(i))
	}
	return fs
}

// find matches a member name: exactly, else case-insensitively as
// encoding/json does. It returns -1 for an unknown name. Every name is
// ASCII, so an ASCII member name can only match one of its own length;
// only other names take the Unicode path (encoding/json folds "ſ" to "s"
// and "K" to "k").
func (fs *fields) find(k []byte) int {
	var same []uint8
	if len(k) < len(fs.byLen) {
		same = fs.byLen[len(k)]
	}
	for _, i := range same {
		if string(k) == fs.names[i] {
			return int(i)
		}
	}
	for _, c := range k {
		if c >= utf8.RuneSelf {
			for i, n := range fs.names {
				if strings.EqualFold(string(k), n) {
					return i
				}
			}
			return -1
		}
	}
	for _, i := range same {
		if asciiEqualFold(k, fs.names[i]) {
			return int(i)
		}
	}
	return -1
}

// asciiEqualFold reports whether the ASCII strings k and n, of one length,
// are equal but for case.
func asciiEqualFold(k []byte, n string) bool {
	for i := range len(k) {
		a, b := k[i], n[i]
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		if a != b {
			return false
		}
	}
	return true
}

// seen records the fields of one object already decoded, to refuse
// duplicates.
type seen uint64

func (s *seen) add(f int, fs *fields) error {
	bit := seen(1) << uint(f)
	if *s&bit != 0 {
		return &fieldError{path: fs.names[f], dup: true}
	}
	*s |= bit
	return nil
}

// enter opens an object or array, c being its opening byte: a null is
// consumed and reported (null=true), anything else is a type error.
func (d *scanner) enter(c byte, want string) (null bool, err error) {
	switch d.peek() {
	case 'n':
		return true, d.null()
	case c:
		return false, d.open(c)
	}
	return false, d.mismatch(want)
}

// object decodes an object member by member: a null leaves the target
// alone (it reports null=true), anything but an object is a type error.
// For each known member, fn decodes the value; unknown members are skipped;
// a member given twice is an error unless the last value wins.
func (d *scanner) object(fs *fields, want string, fn func(f int) error) (null bool, err error) {
	// enter, written out: objects are the most frequent container.
	switch d.peek() {
	case 'n':
		return true, d.null()
	case '{':
	default:
		return false, d.mismatch(want)
	}
	if err := d.open('{'); err != nil {
		return false, err
	}
	var s seen
	for first := true; ; first = false {
		ok, err := d.more('}', first)
		if err != nil || !ok {
			return false, err
		}
		k, err := d.key()
		if err != nil {
			return false, err
		}
		f := fs.find(k)
		if f < 0 {
			if err := d.skip(); err != nil {
				return false, err
			}
			continue
		}
		if err := s.add(f, fs); err != nil && !d.lastWins {
			return false, err
		}
		if err := fn(f); err != nil {
			return false, under(err, fs.names[f])
		}
	}
}

// array decodes an array element by element with fn; it reports null=true
// for a null and a type error for anything else.
func (d *scanner) array(want string, fn func(i int) error) (null bool, err error) {
	if null, err := d.enter('[', want); null || err != nil {
		return null, err
	}
	for i := 0; ; i++ {
		ok, err := d.more(']', i == 0)
		if err != nil || !ok {
			return false, err
		}
		if err := fn(i); err != nil {
			return false, underIndex(err, i)
		}
	}
}

// mapMembers decodes an object with arbitrary member names, passing each
// name (a fresh string) to fn. Repeated names overwrite, as in a Go map.
func (d *scanner) mapMembers(want string, fn func(k string) error) (null bool, err error) {
	if null, err := d.enter('{', want); null || err != nil {
		return null, err
	}
	for first := true; ; first = false {
		ok, err := d.more('}', first)
		if err != nil || !ok {
			return false, err
		}
		k, err := d.key()
		if err != nil {
			return false, err
		}
		ks := string(k)
		if err := fn(ks); err != nil {
			return false, under(err, ks)
		}
	}
}
