package llm

import (
	"encoding/json"
	"errors"
)

// DefaultMaxDepth is the nesting of objects and arrays DecodeRequest
// accepts when DecodeOptions.MaxDepth is 0. No chat request nests deeper
// than a JSON Schema of a tool does, and recursion depth is stack.
const DefaultMaxDepth = 64

// DecodeOptions are the limits of DecodeRequest. The zero value applies
// the defaults.
type DecodeOptions struct {
	// MaxDepth bounds the nesting of objects and arrays anywhere in the
	// body, unknown members included; 0 means DefaultMaxDepth.
	MaxDepth int
	// AllowDuplicateKeys takes the last value of a member given twice in
	// one object, as most JSON parsers (OpenAI's among them) do, instead of
	// refusing the body. The default, false, refuses it.
	AllowDuplicateKeys bool
}

// DecodeRequest decodes a chat-completion request body. It decodes what
// encoding/json decodes into a Request, to the same value (FuzzDecodeRequest
// checks it), with three deliberate refusals of input encoding/json would
// take: nesting deeper than opt.MaxDepth, a member name given twice in one
// object (JSON leaves duplicates undefined and encoding/json merges them in
// surprising ways; opt.AllowDuplicateKeys takes the last one instead), and a
// body that is not an object (encoding/json takes a bare null). Invalid
// UTF-8 inside strings becomes U+FFFD, as with encoding/json.
//
// Every error is an *Error of KindInvalidRequest, safe to show a client:
// malformed JSON (Code "invalid_json", with the byte offset), a value of
// the wrong type or out of range (Code "invalid_type" or "invalid_value",
// Param the indexed path such as "messages[2].content"), or a duplicate key
// (Code "duplicate_key"). The request shares no memory with b. It is safe
// for concurrent use.
func DecodeRequest(b []byte, opt DecodeOptions) (*Request, error) {
	depth := opt.MaxDepth
	if depth <= 0 {
		depth = DefaultMaxDepth
	}
	d := scanner{data: b, maxDepth: depth, lastWins: opt.AllowDuplicateKeys}
	switch d.peek() {
	case 0:
		return nil, Errorf(KindInvalidRequest, "The request body is empty; it must be a JSON object.")
	case '{':
	default:
		if err := d.skip(); err != nil {
			return nil, requestError(err)
		}
		return nil, Errorf(KindInvalidRequest, "The request body must be a JSON object, not %s.", d.kindNameAt(0))
	}
	r := new(Request)
	if err := d.request(r); err != nil {
		return nil, requestError(err)
	}
	if err := d.end(); err != nil {
		return nil, requestError(err)
	}
	return r, nil
}

// requestError turns a scanner error into the 400 a client sees.
func requestError(err error) *Error {
	switch e := err.(type) {
	case *syntaxError:
		return &Error{Kind: KindInvalidRequest, Code: "invalid_json",
			Message: "We could not parse the JSON body of your request: " + e.Error() + "."}
	case *depthError:
		return &Error{Kind: KindInvalidRequest, Code: "invalid_json",
			Message: "The JSON body of your request is nested too deeply: " + e.Error() + "."}
	case *fieldError:
		code := "invalid_type"
		if e.dup {
			code = "duplicate_key"
		} else if e.msg != "" {
			code = "invalid_value"
		}
		return &Error{Kind: KindInvalidRequest, Param: e.path, Code: code, Message: e.Error()}
	}
	return &Error{Kind: KindInvalidRequest, Code: "invalid_json", Message: "We could not parse the JSON body of your request.", Err: err}
}

// ErrErrorObject is returned by DecodeChunk and DecodeResponse for an
// object whose "error" member is present and not null: an error report
// that some servers send in place of a chunk or with status 200.
var ErrErrorObject = errors.New("llm: the JSON object is an error report")

// maxFastDepth bounds the nesting the chunk and response decoders follow
// themselves; deeper documents go to encoding/json.
const maxFastDepth = 256

// ChunkDecoder decodes the chunks of one stream. It keeps the last id,
// model, system fingerprint and service tier, so that the copies every
// chunk repeats share one string. The zero value is ready; a ChunkDecoder is not safe for
// concurrent use.
type ChunkDecoder struct {
	id, model, fingerprint, serviceTier string
}

// DecodeChunk decodes one stream chunk; it is ChunkDecoder.Decode without
// the sharing of strings repeated across chunks, and safe for concurrent
// use.
func DecodeChunk(b []byte) (*Chunk, error) {
	var d ChunkDecoder
	return d.Decode(b)
}

// Decode decodes one stream chunk, a JSON object, exactly as encoding/json
// decodes it into a Chunk: same value, and an error exactly when
// encoding/json fails (FuzzDecodeChunk checks it). An object with an
// "error" member that is not null yields ErrErrorObject. The common shapes
// are read in one pass without reflection; what that pass does not take —
// a member given twice, nesting deeper than 256, anything malformed or of a
// wrong type — is decoded by encoding/json, whose error is returned. The
// chunk shares no memory with b.
func (cd *ChunkDecoder) Decode(b []byte) (*Chunk, error) {
	c, errObj, ok := cd.fast(b)
	switch {
	case ok && errObj:
		return nil, ErrErrorObject
	case ok:
		return c, nil
	}
	w := new(chunkWire)
	if err := json.Unmarshal(b, w); err != nil {
		return nil, err
	}
	if present(w.Error) {
		return nil, ErrErrorObject
	}
	return &w.Chunk, nil
}

// fast is the one-pass decode; ok is false for what it leaves to
// encoding/json.
func (cd *ChunkDecoder) fast(b []byte) (c *Chunk, errObj, ok bool) {
	d := scanner{data: b, maxDepth: maxFastDepth}
	if d.peek() != '{' {
		return nil, false, false
	}
	a := new(chunkAlloc)
	errObj, err := d.chunk(a, cd)
	if err != nil || d.end() != nil {
		return nil, false, false
	}
	return &a.c, errObj, true
}

// DecodeResponse decodes a complete (non-streamed) answer, a JSON object,
// exactly as encoding/json decodes it into a Response, with the same
// "error" member handling and the same fallback as ChunkDecoder.Decode
// (FuzzDecodeResponse checks it). The response shares no memory with b. It
// is safe for concurrent use.
func DecodeResponse(b []byte) (*Response, error) {
	r, errObj, ok := fastResponse(b)
	switch {
	case ok && errObj:
		return nil, ErrErrorObject
	case ok:
		return r, nil
	}
	w := new(responseWire)
	if err := json.Unmarshal(b, w); err != nil {
		return nil, err
	}
	if present(w.Error) {
		return nil, ErrErrorObject
	}
	return &w.Response, nil
}

// fastResponse is the one-pass decode; ok is false for what it leaves to
// encoding/json.
func fastResponse(b []byte) (r *Response, errObj, ok bool) {
	d := scanner{data: b, maxDepth: maxFastDepth}
	if d.peek() != '{' {
		return nil, false, false
	}
	a := new(responseAlloc)
	errObj, err := d.response(a)
	if err != nil || d.end() != nil {
		return nil, false, false
	}
	return &a.r, errObj, true
}

// chunkWire and responseWire are what encoding/json decodes into on the
// slow path: the value and, in the same pass, the "error" member.
type chunkWire struct {
	Chunk
	Error json.RawMessage `json:"error"`
}

type responseWire struct {
	Response
	Error json.RawMessage `json:"error"`
}

// present reports whether a decoded raw value was given and not null.
func present(raw json.RawMessage) bool {
	return len(raw) > 0 && string(raw) != "null"
}

// Shapes shared by the type decoders.

// list decodes an array into *s, element by element with elem, appending to
// out, whose capacity is a guess at the common length (or room the caller
// already has); null sets *s to nil, anything else is a type error.
func list[T any](d *scanner, s *[]T, out []T, want string, elem func(*T) error) error {
	null, err := d.array(want, func(i int) error {
		var zero T
		out = append(out, zero)
		return elem(&out[i])
	})
	if null {
		out = nil
	}
	*s = out
	return err
}

// optional reads a value into a new T with read and points *p at it; null
// sets *p to nil.
func optional[T any](d *scanner, p **T, read func(*T) error) error {
	return optionalIn(d, p, nil, read)
}

// optionalIn is optional reading into v, memory the caller has, when v is
// not nil.
func optionalIn[T any](d *scanner, p **T, v *T, read func(*T) error) error {
	if null, err := d.isNull(); null || err != nil {
		*p = nil
		return err
	}
	if v == nil {
		v = new(T)
	}
	if err := read(v); err != nil {
		return err
	}
	*p = v
	return nil
}

// members returns the reader of an object into a T: its members named
// names, each decoded with fn.
func members[T any](d *scanner, names *fields, fn func(v *T, f int) error) func(*T) error {
	return func(v *T) error {
		_, err := d.object(names, "an object", func(f int) error { return fn(v, f) })
		return err
	}
}

// pick returns the field of index f among fields, for the objects whose
// members all have one type.
func pick[T any](f int, fields ...*T) *T { return fields[f] }

// The request.

var requestFields = newFields("model", "messages", "tools", "tool_choice", "parallel_tool_calls",
	"max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
	"stop", "presence_penalty", "frequency_penalty", "logit_bias", "logprobs",
	"top_logprobs", "seed", "response_format", "reasoning_effort",
	"service_tier", "user", "metadata", "store", "stream", "stream_options")

func (d *scanner) request(r *Request) error {
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
			return d.stop(&r.Stop)
		case 11:
			return d.floatPtr(&r.PresencePenalty)
		case 12:
			return d.floatPtr(&r.FrequencyPenalty)
		case 13:
			return mapOf(d, &r.LogitBias, func(v *float64) error {
				if null, err := d.isNull(); null || err != nil {
					return err
				}
				return d.float(v)
			})
		case 14:
			return d.boolPtr(&r.Logprobs)
		case 15:
			return d.intPtr(&r.TopLogprobs)
		case 16:
			return d.int64Ptr(&r.Seed)
		case 17:
			return d.raw((*[]byte)(&r.ResponseFormat))
		case 18:
			return d.str(&r.ReasoningEffort)
		case 19:
			return d.str(&r.ServiceTier)
		case 20:
			return d.str(&r.User)
		case 21:
			return mapOf(d, &r.Metadata, d.str)
		case 22:
			return d.boolPtr(&r.Store)
		case 23:
			return d.boolean(&r.Stream)
		default:
			return optional(d, &r.StreamOptions, members(d, streamOptionsFields, func(v *StreamOptions, _ int) error {
				return d.boolean(&v.IncludeUsage)
			}))
		}
	})
	return err
}

var streamOptionsFields = newFields("include_usage")

// The hot shapes (messages, tools, tool calls, choices) are written out
// rather than built from list and members: their extra indirect calls per
// element and member cost 4-5 % of a request's decode.

// messages decodes the message list; most conversations are short, so the
// first allocation takes a few.
func (d *scanner) messages(ms *[]Message) error {
	out := make([]Message, 0, 4)
	null, err := d.array("an array of messages", func(i int) error {
		out = append(out, Message{})
		return d.message(&out[i])
	})
	if null {
		out = nil
	}
	*ms = out
	return err
}

func (d *scanner) tools(ts *[]Tool) error {
	out := make([]Tool, 0, 2)
	null, err := d.array("an array of tools", func(i int) error {
		out = append(out, Tool{})
		return d.tool(&out[i])
	})
	if null {
		out = nil
	}
	*ts = out
	return err
}

// mapOf decodes an object with any member names into a map, each value with
// value: a repeated name overwrites, as in a Go map.
func mapOf[V any](d *scanner, m *map[string]V, value func(*V) error) error {
	out := make(map[string]V)
	null, err := d.mapMembers("an object", func(k string) error {
		var v V
		err := value(&v)
		out[k] = v
		return err
	})
	if null {
		out = nil
	}
	*m = out
	return err
}

var messageFields = newFields("role", "content", "name", "tool_calls", "tool_call_id", "refusal")

func (d *scanner) message(m *Message) error {
	_, err := d.object(messageFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.strIntern(&m.Role, RoleUser, RoleAssistant, RoleSystem, RoleTool, RoleDeveloper)
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

func (d *scanner) content(c *Content) error {
	switch d.peek() {
	case '"':
		var s string
		if err := d.str(&s); err != nil {
			return err
		}
		*c = Content{Text: s, present: true}
		return nil
	case '[':
		var parts []ContentPart
		err := list(d, &parts, make([]ContentPart, 0, 1), "", d.contentPart)
		*c = Content{Parts: parts, present: true}
		return err
	case 'n':
		*c = Content{}
		return d.null()
	}
	return d.mismatch("a string or an array of content parts")
}

var (
	partFields  = newFields("type", "text", "image_url", "input_audio", "file", "refusal")
	imageFields = newFields("url", "detail")
	audioFields = newFields("data", "format")
	fileFields  = newFields("file_id", "file_data", "filename")
)

func (d *scanner) contentPart(p *ContentPart) error {
	_, err := d.object(partFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.strIntern(&p.Type, PartText, PartImageURL, PartInputAudio, PartFile, PartRefusal)
		case 1:
			return d.str(&p.Text)
		case 2:
			return optional(d, &p.ImageURL, members(d, imageFields, func(v *ImageURL, f int) error {
				return d.str(pick(f, &v.URL, &v.Detail))
			}))
		case 3:
			return optional(d, &p.InputAudio, members(d, audioFields, func(v *InputAudio, f int) error {
				return d.str(pick(f, &v.Data, &v.Format))
			}))
		case 4:
			return optional(d, &p.File, members(d, fileFields, func(v *File, f int) error {
				return d.str(pick(f, &v.FileID, &v.FileData, &v.Filename))
			}))
		default:
			return d.str(&p.Refusal)
		}
	})
	return err
}

var (
	toolCallFields     = newFields("id", "type", "function")
	functionCallFields = newFields("name", "arguments")
)

func (d *scanner) toolCalls(tcs *[]ToolCall) error {
	out := make([]ToolCall, 0, 1)
	null, err := d.array("an array of tool calls", func(i int) error {
		out = append(out, ToolCall{})
		return d.toolCall(&out[i])
	})
	if null {
		out = nil
	}
	*tcs = out
	return err
}

func (d *scanner) toolCall(tc *ToolCall) error {
	_, err := d.object(toolCallFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.str(&tc.ID)
		case 1:
			return d.strIntern(&tc.Type, "function")
		default:
			return d.functionCall(&tc.Function.Name, &tc.Function.Arguments)
		}
	})
	return err
}

// functionCall decodes the function of a tool call or of its delta.
func (d *scanner) functionCall(name, args *string) error {
	_, err := d.object(functionCallFields, "an object", func(f int) error {
		if f == 0 {
			return d.str(name)
		}
		return d.str(args)
	})
	return err
}

var (
	toolFields         = newFields("type", "function")
	functionDeclFields = newFields("name", "description", "parameters", "strict")
)

func (d *scanner) tool(t *Tool) error {
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
				return d.raw((*[]byte)(&fn.Parameters))
			default:
				return d.boolPtr(&fn.Strict)
			}
		})
		return err
	})
	return err
}

// toolChoice reads the common mode string itself and hands the rare
// named-function object to ToolChoice.UnmarshalJSON, so that the object's
// odd cases (extra members, a repeated "function") are decoded exactly as
// encoding/json decodes them.
func (d *scanner) toolChoice(tc *ToolChoice) error {
	if d.peek() == '"' {
		var mode string
		if err := d.strIntern(&mode, ToolChoiceAuto, ToolChoiceNone, ToolChoiceRequired); err != nil {
			return err
		}
		*tc = ToolChoice{Mode: mode}
		return nil
	}
	d.ws()
	start := d.pos
	if err := d.skip(); err != nil {
		return err
	}
	if err := tc.UnmarshalJSON(d.data[start:d.pos]); err != nil {
		return &fieldError{msg: "expected a string or an object."}
	}
	return nil
}

// stop reads the stop sequences, recording whether they were one string.
// A wrong type anywhere in the value is one error about the whole value,
// reported only once the value is known to be well-formed.
func (d *scanner) stop(s *Stop) error {
	d.ws()
	start, depth := d.pos, d.depth
	var err error
	switch d.peek() {
	case 'n':
		*s = Stop{}
		return d.null()
	case '"':
		var one string
		if err = d.str(&one); err == nil {
			*s = Stop{Seqs: []string{one}, single: true}
			return nil
		}
	case '[':
		var seqs []string
		if err = list(d, &seqs, []string{}, "", d.str); err == nil {
			*s = Stop{Seqs: seqs}
			return nil
		}
	default:
		err = &fieldError{}
	}
	if _, ok := err.(*fieldError); !ok {
		return err
	}
	d.pos, d.depth = start, depth
	if err := d.skip(); err != nil {
		return err
	}
	return &fieldError{msg: "expected a string or an array of strings."}
}

// Chunks and responses.

// chunkAlloc and responseAlloc hold a value and its first choice in one
// allocation: nearly every chunk and answer has exactly one. The first
// choice's logprobs, null in nearly every chunk OpenAI sends, fit in null.
type chunkAlloc struct {
	c     Chunk
	first [1]ChunkChoice
	null  [4]byte
}

type responseAlloc struct {
	r     Response
	first [1]Choice
	null  [4]byte
}

var chunkFields = newFields("id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "error")

// chunk decodes a chunk into a.c, reporting whether it had a non-null
// "error" member.
func (d *scanner) chunk(a *chunkAlloc, cd *ChunkDecoder) (errObj bool, err error) {
	c := &a.c
	_, err = d.object(chunkFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.strLast(&c.ID, &cd.id)
		case 1:
			return d.strIntern(&c.Object, ObjectChatCompletionChunk)
		case 2:
			return d.int64(&c.Created)
		case 3:
			return d.strLast(&c.Model, &cd.model)
		case 4:
			return d.chunkChoices(&c.Choices, a)
		case 5:
			return d.usage(&c.Usage)
		case 6:
			return d.strLast(&c.SystemFingerprint, &cd.fingerprint)
		case 7:
			return d.strLast(&c.ServiceTier, &cd.serviceTier)
		default:
			return d.errorMember(&errObj)
		}
	})
	return errObj, err
}

// chunkChoices decodes the choices into a's room for the first one, and
// the first one's logprobs into a.null when they fit.
func (d *scanner) chunkChoices(cs *[]ChunkChoice, a *chunkAlloc) error {
	out := a.first[:0:1]
	null, err := d.array("an array", func(i int) error {
		out = append(out, ChunkChoice{})
		return d.chunkChoice(&out[i], spareFor(i, a.null[:0]))
	})
	if null {
		out = nil
	}
	*cs = out
	return err
}

// errorMember reads the "error" member of a chunk or answer, recording
// whether it is present and not null.
func (d *scanner) errorMember(present *bool) error {
	null, err := d.isNull()
	if null || err != nil {
		return err
	}
	*present = true
	return d.skip()
}

var chunkChoiceFields = newFields("index", "delta", "finish_reason", "logprobs")

// spareFor returns spare for the first choice and nil for the others.
func spareFor(i int, spare []byte) []byte {
	if i == 0 {
		return spare
	}
	return nil
}

// chunkChoice decodes one choice of a chunk, its logprobs into spare when
// they fit.
func (d *scanner) chunkChoice(ch *ChunkChoice, spare []byte) error {
	_, err := d.object(chunkChoiceFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.int(&ch.Index)
		case 1:
			return d.delta(&ch.Delta)
		case 2:
			return d.finishReason(&ch.FinishReason)
		default:
			ch.Logprobs = spare
			return d.raw((*[]byte)(&ch.Logprobs))
		}
	})
	return err
}

// finishReason reads a FinishReason as its UnmarshalJSON does: null is "".
func (d *scanner) finishReason(fr *FinishReason) error {
	if null, err := d.isNull(); null || err != nil {
		*fr = ""
		return err
	}
	var s string
	err := d.strIntern(&s, FinishStop, FinishToolCalls, FinishLength, FinishContentFilter)
	*fr = FinishReason(s)
	return err
}

var (
	deltaFields         = newFields("role", "content", "refusal", "tool_calls")
	toolCallDeltaFields = newFields("index", "id", "type", "function")
)

func (d *scanner) delta(dl *Delta) error {
	_, err := d.object(deltaFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.strIntern(&dl.Role, RoleAssistant)
		case 1:
			return d.str(&dl.Content)
		case 2:
			return d.str(&dl.Refusal)
		default:
			out := make([]ToolCallDelta, 0, 1)
			null, err := d.array("an array", func(i int) error {
				out = append(out, ToolCallDelta{})
				return d.toolCallDelta(&out[i])
			})
			if null {
				out = nil
			}
			dl.ToolCalls = out
			return err
		}
	})
	return err
}

func (d *scanner) toolCallDelta(tc *ToolCallDelta) error {
	_, err := d.object(toolCallDeltaFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.int(&tc.Index)
		case 1:
			return d.str(&tc.ID)
		case 2:
			return d.strIntern(&tc.Type, "function")
		default:
			return d.functionCall(&tc.Function.Name, &tc.Function.Arguments)
		}
	})
	return err
}

var (
	usageFields             = newFields("prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details")
	promptDetailsFields     = newFields("cached_tokens", "audio_tokens")
	completionDetailsFields = newFields("reasoning_tokens", "audio_tokens")
)

// usageAlloc holds a Usage and its details in one allocation.
type usageAlloc struct {
	u Usage
	p PromptTokensDetails
	c CompletionTokensDetails
}

// usage reads a Usage; "usage": null comes with every chunk but the last
// of a stream that asked for usage, so null allocates nothing.
func (d *scanner) usage(p **Usage) error {
	if null, err := d.isNull(); null || err != nil {
		*p = nil
		return err
	}
	a := new(usageAlloc)
	*p = &a.u
	return members(d, usageFields, func(u *Usage, f int) error {
		switch f {
		case 3:
			return optionalIn(d, &u.PromptTokensDetails, &a.p, members(d, promptDetailsFields, func(v *PromptTokensDetails, f int) error {
				return d.int(pick(f, &v.CachedTokens, &v.AudioTokens))
			}))
		case 4:
			return optionalIn(d, &u.CompletionTokensDetails, &a.c, members(d, completionDetailsFields, func(v *CompletionTokensDetails, f int) error {
				return d.int(pick(f, &v.ReasoningTokens, &v.AudioTokens))
			}))
		}
		return d.int(pick(f, &u.PromptTokens, &u.CompletionTokens, &u.TotalTokens))
	})(&a.u)
}

var responseFields = newFields("id", "object", "created", "model", "choices", "usage", "system_fingerprint", "service_tier", "error")

// response decodes an answer into a.r, reporting whether it had a non-null
// "error" member.
func (d *scanner) response(a *responseAlloc) (errObj bool, err error) {
	r := &a.r
	_, err = d.object(responseFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.str(&r.ID)
		case 1:
			return d.strIntern(&r.Object, ObjectChatCompletion)
		case 2:
			return d.int64(&r.Created)
		case 3:
			return d.str(&r.Model)
		case 4:
			out := a.first[:0:1]
			null, err := d.array("an array", func(i int) error {
				out = append(out, Choice{})
				return d.choice(&out[i], spareFor(i, a.null[:0]))
			})
			if null {
				out = nil
			}
			r.Choices = out
			return err
		case 5:
			return d.usage(&r.Usage)
		case 6:
			return d.str(&r.SystemFingerprint)
		case 7:
			return d.strIntern(&r.ServiceTier, "default")
		default:
			return d.errorMember(&errObj)
		}
	})
	return errObj, err
}

var choiceFields = newFields("index", "message", "finish_reason", "logprobs")

// choice decodes one choice of an answer, its logprobs into spare when they
// fit.
func (d *scanner) choice(ch *Choice, spare []byte) error {
	_, err := d.object(choiceFields, "an object", func(f int) error {
		switch f {
		case 0:
			return d.int(&ch.Index)
		case 1:
			return d.message(&ch.Message)
		case 2:
			return d.strIntern(&ch.FinishReason, FinishStop, FinishToolCalls, FinishLength, FinishContentFilter)
		default:
			ch.Logprobs = spare
			return d.raw((*[]byte)(&ch.Logprobs))
		}
	})
	return err
}
