package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// This file is a single-pass JSON decoder specialised for llm.Request.
//
// Why not encoding/json: on a typical 1 KiB request with tools it costs about
// 13 µs and 50 allocations, most of the gateway's CPU budget, and its
// UnmarshalTypeError names fields without array indices ("messages.content"),
// while clients need "messages[2].content". This decoder accepts exactly what
// encoding/json accepts into an llm.Request (FuzzDecodeDifferential checks
// it), with three deliberate differences, all rejections of input
// encoding/json would take: nesting deeper than the configured limit,
// a member name given twice in one object (JSON leaves duplicate keys
// undefined; encoding/json merges them in surprising ways), and a body that
// is not an object (encoding/json silently accepts a bare null).
//
// Shapes with unexported state in llm (Stop keeps whether it was a single
// string, ToolChoice objects) are handed to their own UnmarshalJSON, which is
// rare enough not to matter for speed.

// syntaxError is malformed JSON at a byte offset.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return "invalid JSON at offset " + strconv.Itoa(e.off) + ": " + e.msg
}

// depthError is nesting beyond the configured maximum.
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

func (e *fieldError) Error() string { return e.message() }

func (e *fieldError) message() string {
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

// decoder reads one JSON document. It is used once, by one goroutine.
type decoder struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	scratch  []byte // unescaped member names
}

// decodeRequest decodes data into r. data must be valid UTF-8 (the caller
// checks it), since strings are taken as they are.
func decodeRequest(data []byte, maxDepth int, r *llm.Request) error {
	d := decoder{data: data, maxDepth: maxDepth}
	switch d.peek() {
	case 0:
		return llm.Errorf(llm.KindInvalidRequest, "The request body is empty; it must be a JSON object.")
	case '{':
	default:
		if err := d.skip(); err != nil {
			return err
		}
		return llm.Errorf(llm.KindInvalidRequest, "The request body must be a JSON object, not %s.", d.kindNameAt(0))
	}
	if err := d.request(r); err != nil {
		return err
	}
	d.ws()
	if d.pos != len(d.data) {
		return &syntaxError{off: d.pos, msg: "unexpected data after the top-level JSON object"}
	}
	return nil
}

// Whitespace and punctuation.

func (d *decoder) ws() {
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
func (d *decoder) peek() byte {
	d.ws()
	if d.pos == len(d.data) {
		return 0
	}
	return d.data[d.pos]
}

func (d *decoder) errAt(msg string) error {
	if d.pos >= len(d.data) {
		return &syntaxError{off: len(d.data), msg: "unexpected end of JSON input"}
	}
	return &syntaxError{off: d.pos, msg: msg}
}

func (d *decoder) badChar(context string) error {
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
func (d *decoder) open(c byte) error {
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
func (d *decoder) more(end byte, first bool) (bool, error) {
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
// input or the decoder's scratch space; it is valid until the next key.
func (d *decoder) key() ([]byte, error) {
	if d.peek() != '"' {
		return nil, d.badChar("looking for beginning of object key string")
	}
	raw, esc, err := d.scanString()
	if err != nil {
		return nil, err
	}
	k := raw
	if esc {
		d.scratch = unquote(d.scratch[:0], raw)
		k = d.scratch
	}
	if d.peek() != ':' {
		return nil, d.badChar("after object key")
	}
	d.pos++
	return k, nil
}

// Strings.

// strPlain marks bytes that need no attention inside a string.
var strPlain = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = true
	}
	t['"'], t['\\'] = false, false
	return t
}()

// scanString consumes a string and returns its contents without the quotes,
// still escaped, and whether it holds escapes.
func (d *decoder) scanString() (raw []byte, escaped bool, err error) {
	start := d.pos + 1
	i := start
	for {
		for i < len(d.data) && strPlain[d.data[i]] {
			i++
		}
		if i >= len(d.data) {
			d.pos = i
			return nil, false, d.errAt("")
		}
		switch c := d.data[i]; {
		case c == '"':
			d.pos = i + 1
			return d.data[start:i], escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(d.data) {
				d.pos = len(d.data)
				return nil, false, d.errAt("")
			}
			switch d.data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(d.data) {
						d.pos = len(d.data)
						return nil, false, d.errAt("")
					}
					if !isHex(d.data[j]) {
						d.pos = j
						return nil, false, d.badChar("in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				d.pos = i + 1
				return nil, false, d.badChar("in string escape code")
			}
		default:
			d.pos = i
			return nil, false, d.badChar("in string literal")
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// unquote appends the unescaped form of raw (validated by scanString) to
// dst, as encoding/json does: lone surrogates become U+FFFD.
func unquote(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\\')
		if j < 0 {
			return append(dst, raw[i:]...)
		}
		dst = append(dst, raw[i:i+j]...)
		i += j
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
					if dec := utf16.DecodeRune(r, hex4(raw[i+2:])); dec != unicode.ReplacementChar {
						i += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
				}
				r = unicode.ReplacementChar
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
func (d *decoder) str(s *string) error {
	switch d.peek() {
	case '"':
		raw, esc, err := d.scanString()
		if err != nil {
			return err
		}
		if esc {
			*s = string(unquote(make([]byte, 0, len(raw)), raw))
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
func (d *decoder) strIntern(s *string, common ...string) error {
	if d.peek() != '"' {
		return d.str(s)
	}
	save := d.pos
	raw, esc, err := d.scanString()
	if err != nil {
		return err
	}
	if !esc {
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

// Literals and numbers.

// null consumes a null literal.
func (d *decoder) null() error { return d.literal("null") }

func (d *decoder) literal(lit string) error {
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
func (d *decoder) isNull() (bool, error) {
	if d.peek() != 'n' {
		return false, nil
	}
	return true, d.null()
}

func (d *decoder) boolean(b *bool) error {
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

func (d *decoder) boolPtr(p **bool) error {
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
func (d *decoder) number() ([]byte, error) {
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

// integer reads an integer into an int64 within [lo, hi]. As with
// encoding/json, 1.0 and 1e2 are not integers.
func (d *decoder) integer(lo, hi int64) (int64, error) {
	if c := d.peek(); c != '-' && (c < '0' || c > '9') {
		return 0, d.mismatch("an integer")
	}
	lit, err := d.number()
	if err != nil {
		return 0, err
	}
	v, perr := strconv.ParseInt(string(lit), 10, 64)
	if perr != nil || v < lo || v > hi {
		if bytes.ContainsAny(lit, ".eE") {
			return 0, &fieldError{want: "an integer", got: "a decimal number"}
		}
		return 0, &fieldError{msg: "integer " + string(lit) + " is out of range."}
	}
	return v, nil
}

func (d *decoder) intPtr(p **int) error {
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

const (
	maxInt = int64(^uint(0) >> 1)
	minInt = -maxInt - 1
)

func (d *decoder) int64Ptr(p **int64) error {
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

func (d *decoder) float(f *float64) error {
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

func (d *decoder) floatPtr(p **float64) error {
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
func (d *decoder) kindName() string {
	d.ws()
	return d.kindNameAt(d.pos)
}

func (d *decoder) kindNameAt(off int) string {
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
// document before it reports a type error.
func (d *decoder) mismatch(want string) error {
	got := d.kindName()
	if err := d.skip(); err != nil {
		return err
	}
	return &fieldError{want: want, got: got}
}

// skip consumes one value of any type, checking its syntax and depth.
func (d *decoder) skip() error {
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

// raw consumes one value and returns a copy of its bytes, as
// json.RawMessage does.
func (d *decoder) raw(m *json.RawMessage) error {
	d.ws()
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	*m = append((*m)[:0], d.data[start:d.pos]...)
	return nil
}

// delegate consumes one value and hands its bytes to u.
func (d *decoder) delegate(u json.Unmarshaler, want string) error {
	d.ws()
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	if err := u.UnmarshalJSON(d.data[start:d.pos]); err != nil {
		return &fieldError{msg: "expected " + want + "."}
	}
	return nil
}

// field matches a member name against names: exactly, else
// case-insensitively as encoding/json does. It returns -1 for an unknown
// name.
func field(k []byte, names []string) int {
	for i, n := range names {
		if string(k) == n {
			return i
		}
	}
	ks := string(k) // unknown or oddly cased names only
	for i, n := range names {
		if strings.EqualFold(ks, n) {
			return i
		}
	}
	return -1
}

// seen records the fields of one object already decoded, to refuse
// duplicates.
type seen uint64

func (s *seen) add(f int, names []string) error {
	bit := seen(1) << uint(f)
	if *s&bit != 0 {
		return &fieldError{path: names[f], dup: true}
	}
	*s |= bit
	return nil
}

// object decodes an object member by member: a null leaves the target
// alone (it reports null=true), anything but an object is a type error.
// For each known member, fn decodes the value; unknown members are skipped.
func (d *decoder) object(names []string, want string, fn func(f int) error) (null bool, err error) {
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
		f := field(k, names)
		if f < 0 {
			if err := d.skip(); err != nil {
				return false, err
			}
			continue
		}
		if err := s.add(f, names); err != nil {
			return false, err
		}
		if err := fn(f); err != nil {
			return false, under(err, names[f])
		}
	}
}

// array decodes an array element by element with fn; it reports null=true
// for a null and a type error for anything else.
func (d *decoder) array(want string, fn func(i int) error) (null bool, err error) {
	switch d.peek() {
	case 'n':
		return true, d.null()
	case '[':
	default:
		return false, d.mismatch(want)
	}
	if err := d.open('['); err != nil {
		return false, err
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

// The request.

var requestFields = []string{
	"model", "messages", "tools", "tool_choice", "parallel_tool_calls",
	"max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
	"stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
	"top_logprobs", "seed", "response_format", "reasoning_effort",
	"service_tier", "user", "metadata", "store", "stream", "stream_options",
}

func (d *decoder) request(r *llm.Request) error {
	_, err := d.object(requestFields, "a JSON object", func(f int) error {
		switch f {
		case 0:
			return d.str(&r.Model)
		case 1:
			return d.messages(&r.Messages)
		case 2:
			return d.tools(&r.Tools)
		case 3:
			return d.toolChoice(&r.ToolChoice)
		case 4:
			return d.boolPtr(&r.ParallelToolCalls)
		case 5:
			return d.intPtr(&r.MaxTokens)
		case 6:
			return d.intPtr(&r.MaxCompletionTokens)
		case 7:
			return d.floatPtr(&r.Temperature)
		case 8:
			return d.floatPtr(&r.TopP)
		case 9:
			return d.intPtr(&r.N)
		case 10:
			return d.delegate(&r.Stop, "a string or an array of strings")
		case 11:
			return d.floatPtr(&r.PresencePenalty)
		case 12:
			return d.floatPtr(&r.FrequencyPenalty)
		case 13:
			return d.logitBias(&r.LogitBias)
		case 14:
			return d.boolPtr(&r.Logprobs)
		case 15:
			return d.intPtr(&r.TopLogprobs)
		case 16:
			return d.int64Ptr(&r.Seed)
		case 17:
			return d.raw(&r.ResponseFormat)
		case 18:
			return d.str(&r.ReasoningEffort)
		case 19:
			return d.str(&r.ServiceTier)
		case 20:
			return d.str(&r.User)
		case 21:
			return d.metadata(&r.Metadata)
		case 22:
			return d.boolPtr(&r.Store)
		case 23:
			return d.boolean(&r.Stream)
		default:
			return d.streamOptions(&r.StreamOptions)
		}
	})
	return err
}

// messages decodes the message list; most conversations are short, so the
// first allocation takes a few.
func (d *decoder) messages(ms *[]llm.Message) error {
	out := make([]llm.Message, 0, 4)
	null, err := d.array("an array of messages", func(i int) error {
		out = append(out, llm.Message{})
		return d.message(&out[i])
	})
	if null {
		out = nil
	}
	*ms = out
	return err
}

var messageFields = []string{"role", "content", "name", "tool_calls", "tool_call_id", "refusal"}

func (d *decoder) message(m *llm.Message) error {
	_, err := d.object(messageFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.strIntern(&m.Role, llm.RoleUser, llm.RoleAssistant, llm.RoleSystem, llm.RoleTool, llm.RoleDeveloper)
		case 1:
			return d.content(&m.Content)
		case 2:
			return d.str(&m.Name)
		case 3:
			return d.toolCalls(&m.ToolCalls)
		case 4:
			return d.str(&m.ToolCallID)
		default:
			return d.str(&m.Refusal)
		}
	})
	return err
}

func (d *decoder) content(c *llm.Content) error {
	switch d.peek() {
	case '"':
		var s string
		if err := d.str(&s); err != nil {
			return err
		}
		*c = llm.Text(s)
		return nil
	case '[':
		parts := make([]llm.ContentPart, 0, 1)
		_, err := d.array("", func(i int) error {
			parts = append(parts, llm.ContentPart{})
			return d.contentPart(&parts[i])
		})
		*c = llm.PartsContent(parts...)
		return err
	case 'n':
		*c = llm.Content{}
		return d.null()
	}
	return d.mismatch("a string or an array of content parts")
}

var partFields = []string{"type", "text", "image_url", "input_audio", "file", "refusal"}

func (d *decoder) contentPart(p *llm.ContentPart) error {
	_, err := d.object(partFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.strIntern(&p.Type, llm.PartText, llm.PartImageURL, llm.PartInputAudio, llm.PartFile, llm.PartRefusal)
		case 1:
			return d.str(&p.Text)
		case 2:
			return d.imageURL(&p.ImageURL)
		case 3:
			return d.inputAudio(&p.InputAudio)
		case 4:
			return d.file(&p.File)
		default:
			return d.str(&p.Refusal)
		}
	})
	return err
}

var imageFields = []string{"url", "detail"}

func (d *decoder) imageURL(p **llm.ImageURL) error {
	v := *p
	if v == nil {
		v = new(llm.ImageURL)
	}
	null, err := d.object(imageFields, "an object", func(f int) error {
		if f == 0 {
			return d.str(&v.URL)
		}
		return d.str(&v.Detail)
	})
	if null {
		v = nil
	}
	*p = v
	return err
}

var audioFields = []string{"data", "format"}

func (d *decoder) inputAudio(p **llm.InputAudio) error {
	v := *p
	if v == nil {
		v = new(llm.InputAudio)
	}
	null, err := d.object(audioFields, "an object", func(f int) error {
		if f == 0 {
			return d.str(&v.Data)
		}
		return d.str(&v.Format)
	})
	if null {
		v = nil
	}
	*p = v
	return err
}

var fileFields = []string{"file_id", "file_data", "filename"}

func (d *decoder) file(p **llm.File) error {
	v := *p
	if v == nil {
		v = new(llm.File)
	}
	null, err := d.object(fileFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.str(&v.FileID)
		case 1:
			return d.str(&v.FileData)
		default:
			return d.str(&v.Filename)
		}
	})
	if null {
		v = nil
	}
	*p = v
	return err
}

func (d *decoder) toolCalls(tcs *[]llm.ToolCall) error {
	out := make([]llm.ToolCall, 0, 1)
	null, err := d.array("an array of tool calls", func(i int) error {
		out = append(out, llm.ToolCall{})
		return d.toolCall(&out[i])
	})
	if null {
		out = nil
	}
	*tcs = out
	return err
}

var (
	toolCallFields     = []string{"id", "type", "function"}
	functionCallFields = []string{"name", "arguments"}
)

func (d *decoder) toolCall(tc *llm.ToolCall) error {
	_, err := d.object(toolCallFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.str(&tc.ID)
		case 1:
			return d.strIntern(&tc.Type, "function")
		default:
			_, err := d.object(functionCallFields, "an object", func(f int) error {
				if f == 0 {
					return d.str(&tc.Function.Name)
				}
				return d.str(&tc.Function.Arguments)
			})
			return err
		}
	})
	return err
}

func (d *decoder) tools(ts *[]llm.Tool) error {
	out := make([]llm.Tool, 0, 2)
	null, err := d.array("an array of tools", func(i int) error {
		out = append(out, llm.Tool{})
		return d.tool(&out[i])
	})
	if null {
		out = nil
	}
	*ts = out
	return err
}

var (
	toolFields         = []string{"type", "function"}
	functionDeclFields = []string{"name", "description", "parameters", "strict"}
)

func (d *decoder) tool(t *llm.Tool) error {
	_, err := d.object(toolFields, "an object", func(f int) error {
		if f == 0 {
			return d.strIntern(&t.Type, "function")
		}
		fn := &t.Function
		_, err := d.object(functionDeclFields, "an object", func(f int) error {
			switch f {
			case 0:
				return d.str(&fn.Name)
			case 1:
				return d.str(&fn.Description)
			case 2:
				return d.raw(&fn.Parameters)
			default:
				return d.boolPtr(&fn.Strict)
			}
		})
		return err
	})
	return err
}

func (d *decoder) toolChoice(tc *llm.ToolChoice) error {
	if d.peek() == '"' {
		var mode string
		if err := d.strIntern(&mode, llm.ToolChoiceAuto, llm.ToolChoiceNone, llm.ToolChoiceRequired); err != nil {
			return err
		}
		*tc = llm.ToolChoice{Mode: mode}
		return nil
	}
	return d.delegate(tc, "a string or an object")
}

var streamOptionsFields = []string{"include_usage"}

func (d *decoder) streamOptions(p **llm.StreamOptions) error {
	v := *p
	if v == nil {
		v = new(llm.StreamOptions)
	}
	null, err := d.object(streamOptionsFields, "an object", func(int) error {
		return d.boolean(&v.IncludeUsage)
	})
	if null {
		v = nil
	}
	*p = v
	return err
}

// mapMembers decodes an object with arbitrary member names, passing each
// name (a fresh string) to fn. Repeated names overwrite, as in a Go map.
func (d *decoder) mapMembers(want string, fn func(k string) error) (null bool, err error) {
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

func (d *decoder) logitBias(m *map[string]float64) error {
	out := *m
	if out == nil {
		out = make(map[string]float64)
	}
	null, err := d.mapMembers("an object", func(k string) error {
		var v float64
		if null, err := d.isNull(); null || err != nil {
			out[k] = 0
			return err
		}
		if err := d.float(&v); err != nil {
			return err
		}
		out[k] = v
		return nil
	})
	if null {
		out = nil
	}
	*m = out
	return err
}

func (d *decoder) metadata(m *map[string]string) error {
	out := *m
	if out == nil {
		out = make(map[string]string)
	}
	null, err := d.mapMembers("an object", func(k string) error {
		var v string
		if err := d.str(&v); err != nil {
			return err
		}
		out[k] = v
		return nil
	})
	if null {
		out = nil
	}
	*m = out
	return err
}
