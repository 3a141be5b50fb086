package sim

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// decodeRequest decodes a chat-completion body into req without
// reflection: the sim's hot path spends most of its time here otherwise.
// It reads the fields the sim acts on (model, messages, tools, tool_choice,
// parallel_tool_calls, max_tokens, max_completion_tokens, stop, stream,
// stream_options) as encoding/json would into an llm.Request — keys match
// case-insensitively, a repeated key's last value wins, invalid UTF-8
// becomes U+FFFD — and checks the syntax of everything else. Strings
// without escapes share body's memory.
func decodeRequest(body string, req *llm.Request) error {
	d := decoder{s: body}
	err := d.request(req)
	if err == nil {
		d.ws()
		if d.i != len(d.s) {
			return d.syntax("after top-level value")
		}
		return nil
	}
	if errors.Is(err, errType) {
		// Like encoding/json, report broken syntax anywhere in the body
		// before a wrong type.
		v := decoder{s: body}
		if serr := v.skip(); serr != nil {
			return serr
		}
		if v.ws(); v.i != len(v.s) {
			return v.syntax("after top-level value")
		}
	}
	return err
}

// errSyntax and errType are wrapped by decodeRequest's errors.
var (
	errSyntax = errors.New("invalid JSON")
	errType   = errors.New("wrong JSON type")
)

type decoder struct {
	s     string
	i     int
	depth int
}

// maxDepth bounds nesting, as encoding/json does (10000), but lower: no
// chat request nests deeply, and recursion depth is stack.
const maxDepth = 1000

// decodeError is a decoding failure: its kind (errSyntax or errType) for
// errors.Is, and where and what for the client.
type decodeError struct {
	kind error
	msg  string
}

func (e *decodeError) Error() string { return e.msg }
func (e *decodeError) Unwrap() error { return e.kind }

func (d *decoder) syntax(what string) error {
	return &decodeError{kind: errSyntax, msg: "invalid JSON at offset " + strconv.Itoa(d.i) + ": " + what}
}

func (d *decoder) typeErr(field, want string) error {
	return &decodeError{kind: errType, msg: "invalid type for '" + field + "': expected " + want}
}

func (d *decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.s) {
		return d.s[d.i]
	}
	return 0
}

func (d *decoder) null() bool {
	if strings.HasPrefix(d.s[d.i:], "null") {
		d.i += 4
		return true
	}
	return false
}

// open consumes the '{' or '[' that starts a container.
func (d *decoder) open(c byte) error {
	if d.peek() != c {
		return d.syntax("want " + string(c))
	}
	d.depth++
	if d.depth > maxDepth {
		return d.syntax("nested too deeply")
	}
	d.i++
	return nil
}

// nextKey moves to the next key of an object opened with open('{'), the
// first one when first is set; it returns false at the closing brace. The
// caller must consume the key's value before calling it again.
func (d *decoder) nextKey(first bool) (string, bool, error) {
	c := d.peek()
	switch {
	case c == '}' && first:
	case first:
	case c == ',':
		d.i++
	case c == '}':
	default:
		return "", false, d.syntax("want ',' or '}'")
	}
	if c == '}' {
		d.i++
		d.depth--
		return "", false, nil
	}
	if d.peek() != '"' {
		return "", false, d.syntax("want object key")
	}
	k, err := d.str()
	if err != nil {
		return "", false, err
	}
	if d.peek() != ':' {
		return "", false, d.syntax("want ':'")
	}
	d.i++
	d.ws()
	return k, true, nil
}

// nextElem moves to the next element of an array opened with open('['),
// and returns false at the closing bracket.
func (d *decoder) nextElem(first bool) (bool, error) {
	c := d.peek()
	switch {
	case c == ']':
		d.i++
		d.depth--
		return false, nil
	case first:
	case c == ',':
		d.i++
		d.ws()
	default:
		return false, d.syntax("want ',' or ']'")
	}
	return true, nil
}

// skip consumes and validates any value.
func (d *decoder) skip() error {
	switch c := d.peek(); {
	case c == '{':
		if err := d.open('{'); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, more, err := d.nextKey(first)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == '[':
		if err := d.open('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			more, err := d.nextElem(first)
			if err != nil || !more {
				return err
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	case c == '"':
		return d.skipStr()
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == 'n':
		return d.lit("null")
	case c == '-' || isDigit(c):
		_, err := d.number()
		return err
	}
	return d.syntax("want value")
}

func (d *decoder) lit(l string) error {
	if !strings.HasPrefix(d.s[d.i:], l) {
		return d.syntax("want " + l)
	}
	d.i += len(l)
	return nil
}

// number consumes a JSON number and returns its text.
func (d *decoder) number() (string, error) {
	start := d.i
	s := d.s
	i := d.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		d.i = i
		return "", d.syntax("bad number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			d.i = i
			return "", d.syntax("bad number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			d.i = i
			return "", d.syntax("bad number")
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	d.i = i
	return s[start:i], nil
}

func (d *decoder) skipStr() error {
	_, err := d.scanStr()
	return err
}

// scanStr consumes a string and returns the index of its closing quote;
// it validates escapes and rejects control characters.
func (d *decoder) scanStr() (bool, error) {
	s := d.s
	i := d.i + 1
	escaped := false
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(s) {
				d.i = i
				return false, d.syntax("unterminated string")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					d.i = i
					return false, d.syntax("bad \\u escape")
				}
				i += 6
			default:
				d.i = i
				return false, d.syntax("bad escape")
			}
		case c < 0x20:
			d.i = i
			return false, d.syntax("control character in string")
		case c >= utf8.RuneSelf:
			escaped = escaped || !utf8.FullRuneInString(s[i:]) || invalidRuneAt(s, i)
			i++
		default:
			i++
		}
	}
	d.i = i
	return false, d.syntax("unterminated string")
}

func invalidRuneAt(s string, i int) bool {
	r, size := utf8.DecodeRuneInString(s[i:])
	return r == utf8.RuneError && size == 1
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		c := s[i]
		if !(isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}

// str consumes a string and returns its value. Without escapes or invalid
// UTF-8 the value is a substring of the body.
func (d *decoder) str() (string, error) {
	if d.peek() != '"' {
		return "", d.syntax("want string")
	}
	start := d.i + 1
	needsWork, err := d.scanStr()
	if err != nil {
		return "", err
	}
	raw := d.s[start : d.i-1]
	if !needsWork {
		return raw, nil
	}
	return unquote(raw), nil
}

// unquote decodes a validated string body the way encoding/json does:
// escapes resolved, surrogate pairs joined, lone surrogates and invalid
// UTF-8 replaced with U+FFFD.
func unquote(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\\' {
			switch s[i+1] {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := rune(hex4(s[i+2 : i+6]))
				i += 6
				if utf16.IsSurrogate(r) {
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if r2 := utf16.DecodeRune(r, rune(hex4(s[i+2:i+6]))); r2 != utf8.RuneError {
							b = utf8.AppendRune(b, r2)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default: // '"', '\\', '/'
				b = append(b, s[i+1])
			}
			i += 2
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, "\uFFFD"...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

func hex4(s string) uint16 {
	var v uint16
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case isDigit(c):
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		v = v<<4 | uint16(c)
	}
	return v
}

// setString reads a string into *dst; null leaves *dst as it is, as
// encoding/json does for a Go string.
func (d *decoder) setString(dst *string, field string) error {
	switch d.peek() {
	case '"':
		s, err := d.str()
		if err == nil {
			*dst = s
		}
		return err
	case 'n':
		if d.null() {
			return nil
		}
	}
	return d.typeOrSyntax(field, "string")
}

// typeOrSyntax reports a wrong type when the value is valid JSON, and the
// syntax error otherwise.
func (d *decoder) typeOrSyntax(field, want string) error {
	if err := d.skip(); err != nil {
		return err
	}
	return d.typeErr(field, want)
}

func (d *decoder) optBool(field string) (*bool, error) {
	switch {
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		t := true
		return &t, nil
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		f := false
		return &f, nil
	case d.null():
		return nil, nil
	}
	return nil, d.typeOrSyntax(field, "boolean")
}

func (d *decoder) optInt(field string) (*int, error) {
	if d.null() {
		return nil, nil
	}
	c := d.peek()
	if c != '-' && !isDigit(c) {
		return nil, d.typeOrSyntax(field, "integer")
	}
	lit, err := d.number()
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(lit)
	if err != nil {
		return nil, d.typeErr(field, "integer")
	}
	return &n, nil
}

// key reports whether k names field, case-insensitively as encoding/json
// matches keys.
func key(k, field string) bool {
	if len(k) != len(field) {
		return strings.EqualFold(k, field) // non-ASCII folds (ſ, K) change lengths
	}
	for i := 0; i < len(k); i++ {
		if lowerByte(k[i]) != field[i] {
			return strings.EqualFold(k, field)
		}
	}
	return true
}

func (d *decoder) request(req *llm.Request) error {
	if d.peek() == 'n' && d.null() {
		return nil // as encoding/json: null into a struct is no error
	}
	if d.peek() != '{' {
		return d.typeOrSyntax("body", "object")
	}
	if err := d.open('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		switch {
		case key(k, "model"):
			err = d.setString(&req.Model, "model")
		case key(k, "messages"):
			req.Messages, err = d.messages()
		case key(k, "tools"):
			req.Tools, err = d.tools()
		case key(k, "tool_choice"):
			req.ToolChoice, err = d.toolChoice()
		case key(k, "parallel_tool_calls"):
			req.ParallelToolCalls, err = d.optBool(k)
		case key(k, "max_tokens"):
			req.MaxTokens, err = d.optInt(k)
		case key(k, "max_completion_tokens"):
			req.MaxCompletionTokens, err = d.optInt(k)
		case key(k, "stop"):
			req.Stop, err = d.stop()
		case key(k, "stream"):
			err = d.setBool(&req.Stream, k)
		case key(k, "stream_options"):
			req.StreamOptions, err = d.streamOptions()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

// setBool reads a boolean into *dst; null leaves it as it is.
func (d *decoder) setBool(dst *bool, field string) error {
	b, err := d.optBool(field)
	if b != nil {
		*dst = *b
	}
	return err
}

// startObj opens an object value; it returns false for null.
func (d *decoder) startObj(field string) (bool, error) {
	if d.null() {
		return false, nil
	}
	if d.peek() != '{' {
		return false, d.typeOrSyntax(field, "object")
	}
	return true, d.open('{')
}

// startArr opens an array value; it returns false for null.
func (d *decoder) startArr(field string) (bool, error) {
	if d.null() {
		return false, nil
	}
	if d.peek() != '[' {
		return false, d.typeOrSyntax(field, "array")
	}
	return true, d.open('[')
}

func (d *decoder) messages() ([]llm.Message, error) {
	ok, err := d.startArr("messages")
	if !ok || err != nil {
		return nil, err
	}
	msgs := make([]llm.Message, 0, 8)
	for first := true; ; first = false {
		more, err := d.nextElem(first)
		if err != nil || !more {
			return msgs, err
		}
		msgs = append(msgs, llm.Message{})
		if err := d.message(&msgs[len(msgs)-1]); err != nil {
			return msgs, err
		}
	}
}

func (d *decoder) message(m *llm.Message) error {
	ok, err := d.startObj("messages[]")
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		switch {
		case key(k, "role"):
			err = d.setString(&m.Role, "role")
		case key(k, "content"):
			m.Content, err = d.content()
		case key(k, "name"):
			err = d.setString(&m.Name, "name")
		case key(k, "tool_calls"):
			m.ToolCalls, err = d.toolCalls()
		case key(k, "tool_call_id"):
			err = d.setString(&m.ToolCallID, "tool_call_id")
		case key(k, "refusal"):
			err = d.setString(&m.Refusal, "refusal")
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) content() (llm.Content, error) {
	switch d.peek() {
	case 'n':
		if d.null() {
			return llm.Content{}, nil
		}
	case '"':
		s, err := d.str()
		return llm.Text(s), err
	case '[':
		if err := d.open('['); err != nil {
			return llm.Content{}, err
		}
		parts := make([]llm.ContentPart, 0, 2)
		for first := true; ; first = false {
			more, err := d.nextElem(first)
			if err != nil || !more {
				return llm.PartsContent(parts...), err
			}
			parts = append(parts, llm.ContentPart{})
			if err := d.part(&parts[len(parts)-1]); err != nil {
				return llm.Content{}, err
			}
		}
	}
	return llm.Content{}, d.typeOrSyntax("content", "string or array")
}

func (d *decoder) part(p *llm.ContentPart) error {
	ok, err := d.startObj("content[]")
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		switch {
		case key(k, "type"):
			err = d.setString(&p.Type, "type")
		case key(k, "text"):
			err = d.setString(&p.Text, "text")
		case key(k, "refusal"):
			err = d.setString(&p.Refusal, "refusal")
		case key(k, "image_url"):
			p.ImageURL, err = d.imageURL()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) imageURL() (*llm.ImageURL, error) {
	ok, err := d.startObj("image_url")
	if !ok || err != nil {
		return nil, err
	}
	u := &llm.ImageURL{}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return u, err
		}
		switch {
		case key(k, "url"):
			err = d.setString(&u.URL, "url")
		case key(k, "detail"):
			err = d.setString(&u.Detail, "detail")
		default:
			err = d.skip()
		}
		if err != nil {
			return u, err
		}
	}
}

func (d *decoder) toolCalls() ([]llm.ToolCall, error) {
	ok, err := d.startArr("tool_calls")
	if !ok || err != nil {
		return nil, err
	}
	calls := make([]llm.ToolCall, 0, 2)
	for first := true; ; first = false {
		more, err := d.nextElem(first)
		if err != nil || !more {
			return calls, err
		}
		calls = append(calls, llm.ToolCall{})
		if err := d.toolCall(&calls[len(calls)-1]); err != nil {
			return calls, err
		}
	}
}

func (d *decoder) toolCall(c *llm.ToolCall) error {
	ok, err := d.startObj("tool_calls[]")
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		switch {
		case key(k, "id"):
			err = d.setString(&c.ID, "id")
		case key(k, "type"):
			err = d.setString(&c.Type, "type")
		case key(k, "function"):
			err = d.functionCall(&c.Function)
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) functionCall(f *llm.FunctionCall) error {
	ok, err := d.startObj("function")
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		switch {
		case key(k, "name"):
			err = d.setString(&f.Name, "name")
		case key(k, "arguments"):
			err = d.setString(&f.Arguments, "arguments")
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) tools() ([]llm.Tool, error) {
	ok, err := d.startArr("tools")
	if !ok || err != nil {
		return nil, err
	}
	tools := make([]llm.Tool, 0, 8)
	for first := true; ; first = false {
		more, err := d.nextElem(first)
		if err != nil || !more {
			return tools, err
		}
		tools = append(tools, llm.Tool{})
		if err := d.tool(&tools[len(tools)-1]); err != nil {
			return tools, err
		}
	}
}

func (d *decoder) tool(t *llm.Tool) error {
	ok, err := d.startObj("tools[]")
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		switch {
		case key(k, "type"):
			err = d.setString(&t.Type, "type")
		case key(k, "function"):
			err = d.functionDecl(&t.Function)
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) functionDecl(f *llm.FunctionDecl) error {
	ok, err := d.startObj("function")
	if !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return err
		}
		switch {
		case key(k, "name"):
			err = d.setString(&f.Name, "name")
		case key(k, "description"):
			err = d.setString(&f.Description, "description")
		case key(k, "parameters"):
			start := d.i
			if err = d.skip(); err == nil {
				// As json.RawMessage: the value's bytes, null included.
				f.Parameters = []byte(d.s[start:d.i])
			}
		case key(k, "strict"):
			f.Strict, err = d.optBool("strict")
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoder) toolChoice() (llm.ToolChoice, error) {
	switch d.peek() {
	case 'n':
		if d.null() {
			return llm.ToolChoice{}, nil
		}
	case '"':
		s, err := d.str()
		return llm.ToolChoice{Mode: s}, err
	case '{':
		var tc llm.ToolChoice
		if err := d.open('{'); err != nil {
			return tc, err
		}
		for first := true; ; first = false {
			k, more, err := d.nextKey(first)
			if err != nil || !more {
				return tc, err
			}
			if key(k, "function") {
				var f llm.FunctionCall
				err = d.functionCall(&f)
				if f.Name != "" {
					tc.Function = f.Name
				}
			} else {
				err = d.skip()
			}
			if err != nil {
				return tc, err
			}
		}
	}
	return llm.ToolChoice{}, d.typeOrSyntax("tool_choice", "string or object")
}

func (d *decoder) stop() (llm.Stop, error) {
	switch d.peek() {
	case 'n':
		if d.null() {
			return llm.Stop{}, nil
		}
	case '"':
		s, err := d.str()
		// llm.Stop records the single-string shape only through its own
		// decoder; the sim only reads Seqs.
		return llm.Stop{Seqs: []string{s}}, err
	case '[':
		if err := d.open('['); err != nil {
			return llm.Stop{}, err
		}
		seqs := []string{}
		for first := true; ; first = false {
			more, err := d.nextElem(first)
			if err != nil || !more {
				return llm.Stop{Seqs: seqs}, err
			}
			var s string
			if err := d.setString(&s, "stop[]"); err != nil {
				return llm.Stop{}, err
			}
			seqs = append(seqs, s)
		}
	}
	return llm.Stop{}, d.typeOrSyntax("stop", "string or array")
}

func (d *decoder) streamOptions() (*llm.StreamOptions, error) {
	ok, err := d.startObj("stream_options")
	if !ok || err != nil {
		return nil, err
	}
	so := &llm.StreamOptions{}
	for first := true; ; first = false {
		k, more, err := d.nextKey(first)
		if err != nil || !more {
			return so, err
		}
		if key(k, "include_usage") {
			err = d.setBool(&so.IncludeUsage, k)
		} else {
			err = d.skip()
		}
		if err != nil {
			return so, err
		}
	}
}
