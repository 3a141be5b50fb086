package gateway

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Defaults of the request limits.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxJSONDepth = 64
	DefaultMaxMessages  = 4096
)

// Limits that OpenAI's API applies and that the gateway enforces the same
// way, so that a request accepted here is not refused upstream.
const (
	maxStopSequences = 4
	maxTools         = 128
	maxTopLogprobs   = 20
)

// Policy is what Normalize applies to one request: the limits of the body and
// the rules of the caller's tier. The zero value applies the default limits,
// accepts any model name as given, and applies the zero Tier (no token cap,
// n capped to 1, logit_bias, logprobs, service_tier and store removed), which
// is what the built-in "standard" tier is.
//
// A Policy is read-only once in use and safe for concurrent use.
type Policy struct {
	// MaxJSONDepth bounds the nesting of objects and arrays; 0 means
	// DefaultMaxJSONDepth.
	MaxJSONDepth int
	// MaxMessages bounds the length of messages; 0 means DefaultMaxMessages.
	MaxMessages int
	// Resolve maps a model name or alias to its canonical name and reports
	// whether the model exists. Nil accepts every name unchanged.
	Resolve func(model string) (canonical string, ok bool)
	// Tier is the caller's tier.
	Tier Tier
}

// Normalize parses body as a chat-completion request, validates it as
// OpenAI's API would, and applies p: the model is resolved to its canonical
// name and checked against the tier, and what the tier does not allow is
// capped or removed. It returns the request and a short note for each change
// made to it (nil when none), or an *llm.Error that is always a 4xx: 400 for
// malformed or invalid bodies with Param naming the field at fault, 403 for
// a model outside the tier, 404 for an unknown model.
//
// Normalize is pure: it depends only on its arguments, and the returned
// request shares no memory with body.
func Normalize(body []byte, p *Policy) (*llm.Request, []string, error) {
	if !utf8.Valid(body) {
		return nil, nil, llm.Errorf(llm.KindInvalidRequest, "The request body is not valid UTF-8.")
	}
	depth := p.MaxJSONDepth
	if depth <= 0 {
		depth = DefaultMaxJSONDepth
	}
	// DecodeRequest's errors are all 400s in the shape clients get.
	r, derr := llm.DecodeRequest(body, llm.DecodeOptions{MaxDepth: depth})
	if derr != nil {
		return nil, nil, derr
	}
	maxMessages := p.MaxMessages
	if maxMessages <= 0 {
		maxMessages = DefaultMaxMessages
	}
	if err := validate(r, maxMessages); err != nil {
		return nil, nil, err
	}
	notes, err := applyPolicy(r, p)
	if err != nil {
		return nil, nil, err
	}
	return r, notes, nil
}

// invalid is a 400 naming the parameter at fault.
func invalid(param, code, msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalidRequest, Param: param, Code: code, Message: msg}
}

func missing(param string) *llm.Error {
	return invalid(param, "missing_required_parameter", "Missing required parameter: '"+param+"'.")
}

func badValue(param, msg string) *llm.Error {
	return invalid(param, "invalid_value", "Invalid value for '"+param+"': "+msg)
}

func msgParam(i int, field string) string {
	return "messages[" + strconv.Itoa(i) + "]" + field
}

// validate checks what OpenAI's API checks before it looks at the model.
func validate(r *llm.Request, maxMessages int) *llm.Error {
	if r.Model == "" {
		return invalid("model", "missing_required_parameter", "You must provide a model parameter.")
	}
	switch {
	case r.Messages == nil:
		return missing("messages")
	case len(r.Messages) == 0:
		return invalid("messages", "empty_array", "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	case len(r.Messages) > maxMessages:
		return invalid("messages", "array_above_max_length", "Invalid 'messages': array too long. Expected an array with maximum length "+strconv.Itoa(maxMessages)+", but got an array with length "+strconv.Itoa(len(r.Messages))+" instead.")
	}
	for i := range r.Messages {
		if err := validateMessage(&r.Messages[i], i); err != nil {
			return err
		}
	}
	if err := validateSampling(r); err != nil {
		return err
	}
	if err := validateTools(r); err != nil {
		return err
	}
	if r.StreamOptions != nil && !r.Stream {
		return invalid("stream_options", "invalid_value", "The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	return validateResponseFormat(r)
}

func validateMessage(m *llm.Message, i int) *llm.Error {
	switch m.Role {
	case llm.RoleUser, llm.RoleSystem, llm.RoleDeveloper:
		if m.Content.IsZero() {
			return missing(msgParam(i, ".content"))
		}
	case llm.RoleAssistant:
		if m.Content.IsZero() && len(m.ToolCalls) == 0 && m.Refusal == "" {
			return invalid(msgParam(i, ".content"), "missing_required_parameter", "Missing required parameter: '"+msgParam(i, ".content")+"' (an assistant message needs content or tool_calls).")
		}
		for j := range m.ToolCalls {
			tc := &m.ToolCalls[j]
			p := msgParam(i, ".tool_calls["+strconv.Itoa(j)+"]")
			switch {
			case tc.ID == "":
				return missing(p + ".id")
			case tc.Type != "function":
				return badValue(p+".type", "'"+tc.Type+"'. Supported values are: 'function'.")
			case tc.Function.Name == "":
				return missing(p + ".function.name")
			}
		}
	case llm.RoleTool:
		if m.ToolCallID == "" {
			return missing(msgParam(i, ".tool_call_id"))
		}
	case "":
		return missing(msgParam(i, ".role"))
	default:
		return badValue(msgParam(i, ".role"), "'"+m.Role+"'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'.")
	}
	if m.Content.Parts == nil {
		return nil
	}
	if len(m.Content.Parts) == 0 && m.Role != llm.RoleAssistant && m.Role != llm.RoleTool {
		return invalid(msgParam(i, ".content"), "empty_array", "Invalid '"+msgParam(i, ".content")+"': empty array. Expected an array with minimum length 1, but got an empty array instead.")
	}
	for k := range m.Content.Parts {
		if err := validatePart(&m.Content.Parts[k], i, k); err != nil {
			return err
		}
	}
	return nil
}

func validatePart(pt *llm.ContentPart, i, k int) *llm.Error {
	p := msgParam(i, ".content["+strconv.Itoa(k)+"]")
	switch pt.Type {
	case llm.PartText:
		if pt.Text == "" {
			return missing(p + ".text")
		}
	case llm.PartImageURL:
		if pt.ImageURL == nil || pt.ImageURL.URL == "" {
			return missing(p + ".image_url.url")
		}
	case llm.PartInputAudio:
		if pt.InputAudio == nil || pt.InputAudio.Data == "" {
			return missing(p + ".input_audio.data")
		}
	case llm.PartFile:
		if pt.File == nil || pt.File.FileID == "" && pt.File.FileData == "" {
			return missing(p + ".file.file_id")
		}
	case llm.PartRefusal:
		if pt.Refusal == "" {
			return missing(p + ".refusal")
		}
	case "":
		return missing(p + ".type")
	default:
		return badValue(p+".type", "'"+pt.Type+"'. Supported values are: 'text', 'image_url', 'input_audio', 'file', and 'refusal'.")
	}
	return nil
}

func validateSampling(r *llm.Request) *llm.Error {
	type bound struct {
		param  string
		v      *float64
		lo, hi float64
		open   bool // lo excluded
	}
	for _, b := range [...]bound{
		{"temperature", r.Temperature, 0, 2, false},
		{"top_p", r.TopP, 0, 1, true},
		{"presence_penalty", r.PresencePenalty, -2, 2, false},
		{"frequency_penalty", r.FrequencyPenalty, -2, 2, false},
	} {
		if b.v == nil {
			continue
		}
		if v := *b.v; v < b.lo || v > b.hi || b.open && v == b.lo {
			lo := "minimum value"
			if b.open {
				lo = "exclusive minimum"
			}
			return badValue(b.param, "number "+strconv.FormatFloat(v, 'g', -1, 64)+" is out of range. Expected a value with "+lo+" "+strconv.FormatFloat(b.lo, 'g', -1, 64)+" and maximum "+strconv.FormatFloat(b.hi, 'g', -1, 64)+".")
		}
	}
	for _, b := range [...]struct {
		param string
		v     *int
		lo    int
	}{
		{"n", r.N, 1},
		{"max_tokens", r.MaxTokens, 1},
		{"max_completion_tokens", r.MaxCompletionTokens, 1},
		{"top_logprobs", r.TopLogprobs, 0},
	} {
		if b.v != nil && *b.v < b.lo {
			return badValue(b.param, "integer "+strconv.Itoa(*b.v)+" is below the minimum value "+strconv.Itoa(b.lo)+".")
		}
	}
	if r.TopLogprobs != nil && *r.TopLogprobs > maxTopLogprobs {
		return badValue("top_logprobs", "integer "+strconv.Itoa(*r.TopLogprobs)+" is above the maximum value "+strconv.Itoa(maxTopLogprobs)+".")
	}
	if len(r.Stop.Seqs) > maxStopSequences {
		return invalid("stop", "array_above_max_length", "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length "+strconv.Itoa(len(r.Stop.Seqs))+" instead.")
	}
	return nil
}

func validateTools(r *llm.Request) *llm.Error {
	if len(r.Tools) > maxTools {
		return invalid("tools", "array_above_max_length", "Invalid 'tools': array too long. Expected an array with maximum length 128, but got an array with length "+strconv.Itoa(len(r.Tools))+" instead.")
	}
	for i := range r.Tools {
		t := &r.Tools[i]
		p := "tools[" + strconv.Itoa(i) + "]"
		if t.Type != "function" {
			if t.Type == "" {
				return missing(p + ".type")
			}
			return badValue(p+".type", "'"+t.Type+"'. Supported values are: 'function'.")
		}
		name := t.Function.Name
		if !llm.ValidFunctionName(name) {
			if name == "" {
				return missing(p + ".function.name")
			}
			return invalid(p+".function.name", "invalid_value", "Invalid '"+p+".function.name': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'.")
		}
		for j := range i {
			if r.Tools[j].Function.Name == name {
				return invalid(p+".function.name", "duplicate_tool_name", "Invalid '"+p+".function.name': the tool name '"+name+"' is already used by tools["+strconv.Itoa(j)+"].")
			}
		}
		switch params := t.Function.Parameters; {
		case params == nil:
		case string(params) == "null":
			// Clients that build tools generically send an explicit null;
			// it means no parameters, and some upstreams reject a null.
			t.Function.Parameters = nil
		case params[0] != '{':
			return badValue(p+".function.parameters", "expected a JSON Schema object.")
		}
	}
	tc := r.ToolChoice
	if tc.IsZero() {
		return nil
	}
	if len(r.Tools) == 0 {
		return invalid("tool_choice", "invalid_value", "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
	}
	if tc.Function != "" {
		for i := range r.Tools {
			if r.Tools[i].Function.Name == tc.Function {
				return nil
			}
		}
		return badValue("tool_choice", "the function '"+tc.Function+"' is not among the tools.")
	}
	switch tc.Mode {
	case llm.ToolChoiceNone, llm.ToolChoiceAuto, llm.ToolChoiceRequired:
		return nil
	}
	return badValue("tool_choice", "'"+tc.Mode+"'. Supported values are: 'none', 'auto', and 'required'.")
}

// validateResponseFormat checks response_format's type; the rest of it (the
// schema) is the upstream's business.
func validateResponseFormat(r *llm.Request) *llm.Error {
	rf := r.ResponseFormat
	if rf == nil {
		return nil
	}
	if string(rf) == "null" {
		r.ResponseFormat = nil
		return nil
	}
	if rf[0] != '{' {
		return badValue("response_format", "expected an object.")
	}
	typ, hasSchema, bad := responseFormatType(rf)
	if bad != "" {
		return invalid("response_format."+bad, "invalid_type", "Invalid type for 'response_format."+bad+"'.")
	}
	switch typ {
	case "text", "json_object":
		return nil
	case "json_schema":
		if !hasSchema {
			return missing("response_format.json_schema")
		}
		return nil
	case "":
		return missing("response_format.type")
	}
	return badValue("response_format.type", "'"+typ+"'. Supported values are: 'text', 'json_object', and 'json_schema'.")
}

// responseFormatType reads the members of the response_format object rf
// that the gateway checks: the type, and whether a json_schema object is
// given. Member names match case-insensitively, as llm.DecodeRequest
// matches them; bad names the member that is given twice or, for type, is
// neither a string nor null. rf is a well-formed object within the depth
// limit (DecodeRequest checked it), and response_format is rare enough for
// encoding/json's tokenizer to read it.
func responseFormatType(rf []byte) (typ string, hasSchema bool, bad string) {
	dec := json.NewDecoder(bytes.NewReader(rf))
	_, _ = dec.Token() // the opening brace
	var seen [2]bool
	for dec.More() {
		tok, _ := dec.Token()
		name, _ := tok.(string)
		var raw json.RawMessage
		if dec.Decode(&raw) != nil {
			break
		}
		v := bytes.TrimLeft(raw, " \t\r\n")
		switch {
		case strings.EqualFold(name, "type"):
			if seen[0] {
				return typ, hasSchema, "type"
			}
			seen[0] = true
			switch v[0] {
			case '"':
				_ = json.Unmarshal(v, &typ)
			case 'n':
			default:
				return typ, hasSchema, "type"
			}
		case strings.EqualFold(name, "json_schema"):
			if seen[1] {
				return typ, hasSchema, "json_schema"
			}
			seen[1] = true
			hasSchema = v[0] == '{'
		}
	}
	return typ, hasSchema, ""
}

// applyPolicy resolves the model and applies the tier, returning a note per
// change.
func applyPolicy(r *llm.Request, p *Policy) ([]string, *llm.Error) {
	var notes []string
	if p.Resolve != nil {
		canonical, ok := p.Resolve(r.Model)
		if !ok {
			return nil, &llm.Error{Kind: llm.KindNotFound, Param: "model", Code: "model_not_found",
				Message: "The model '" + r.Model + "' does not exist or you do not have access to it."}
		}
		if canonical != r.Model {
			notes = append(notes, "model "+r.Model+" resolved to "+canonical)
			r.Model = canonical
		}
	}
	t := &p.Tier
	if !t.allows(r.Model) {
		return nil, &llm.Error{Kind: llm.KindAuth, Status: 403, Type: llm.TypePermission, Param: "model", Code: "model_not_allowed",
			Message: "Your tier does not include the model '" + r.Model + "'."}
	}

	if r.MaxTokens != nil && r.MaxCompletionTokens != nil {
		if *r.MaxTokens < *r.MaxCompletionTokens {
			*r.MaxCompletionTokens = *r.MaxTokens
		}
		r.MaxTokens = nil
		notes = append(notes, "max_tokens folded into max_completion_tokens")
	}
	if t.MaxOutputTokens > 0 {
		for _, f := range [...]struct {
			name string
			v    *int
		}{{"max_tokens", r.MaxTokens}, {"max_completion_tokens", r.MaxCompletionTokens}} {
			if f.v != nil && *f.v > t.MaxOutputTokens {
				*f.v = t.MaxOutputTokens
				notes = append(notes, f.name+" capped to "+strconv.Itoa(t.MaxOutputTokens))
			}
		}
	}
	if t.DefaultOutputTokens > 0 && r.MaxTokens == nil && r.MaxCompletionTokens == nil {
		n := t.DefaultOutputTokens
		if t.MaxOutputTokens > 0 && n > t.MaxOutputTokens {
			n = t.MaxOutputTokens
		}
		r.MaxCompletionTokens = &n
		notes = append(notes, "max_completion_tokens set to "+strconv.Itoa(n))
	}
	maxN := t.MaxN
	if maxN <= 0 {
		maxN = 1
	}
	if r.N != nil && *r.N > maxN {
		*r.N = maxN
		notes = append(notes, "n capped to "+strconv.Itoa(maxN))
	}

	if !t.AllowLogitBias && r.LogitBias != nil {
		if len(r.LogitBias) > 0 {
			notes = append(notes, "logit_bias removed")
		}
		r.LogitBias = nil
	}
	if !t.AllowLogprobs && (r.Logprobs != nil || r.TopLogprobs != nil) {
		if r.Logprobs != nil && *r.Logprobs || r.TopLogprobs != nil {
			notes = append(notes, "logprobs removed")
		}
		r.Logprobs, r.TopLogprobs = nil, nil
	}
	if !t.AllowServiceTier && r.ServiceTier != "" {
		notes = append(notes, "service_tier removed")
		r.ServiceTier = ""
	}
	if !t.AllowStore && r.Store != nil {
		if *r.Store {
			notes = append(notes, "store removed")
		}
		r.Store = nil
	}
	return notes, nil
}
