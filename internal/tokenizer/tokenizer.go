package tokenizer

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/pkoukk/tiktoken-go"
	tiktoken_loader "github.com/pkoukk/tiktoken-go-loader"
)

// Encoding names.
const (
	O200kBase  = "o200k_base"
	CL100kBase = "cl100k_base"
)

// Chat framing overhead from OpenAI's documented counting recipe
// (openai-cookbook "How to count tokens with tiktoken").
const (
	tokensPerMessage = 3 // <|start|>{role}\n … <|end|>
	tokensPerName    = 1
	tokensPriming    = 3 // every reply is primed with <|start|>assistant<|message|>
	tokensPerRole    = 1 // every role name is a single token in both encodings
)

// Image estimates, after OpenAI's vision pricing: a low-detail image costs a
// flat 85 tokens; a high- or auto-detail image is counted as a 1024×1024 one
// (85 base + 4 tiles × 170). The counter never sees the pixels, so it cannot
// do better.
const (
	ImageTokensLow  = 85
	ImageTokensHigh = 765
)

// Tool declaration overhead, after the cookbook's num_tokens_for_tools for
// o200k models: 7 tokens to open each function and 12 to close the list.
const (
	tokensPerTool = 7
	tokensToolEnd = 12
)

// encoding is one tiktoken encoding, loaded on first use and shared by every
// Counter that needs it.
type encoding struct {
	name string
	once sync.Once
	tk   *tiktoken.Tiktoken
	err  error
}

var loaderOnce sync.Once

func (e *encoding) load() (*tiktoken.Tiktoken, error) {
	e.once.Do(func() {
		// SetBpeLoader writes a package global of tiktoken-go; do it once,
		// before any encoding is built, so the network loader is never used.
		loaderOnce.Do(func() { tiktoken.SetBpeLoader(tiktoken_loader.NewOfflineLoader()) })
		e.tk, e.err = tiktoken.GetEncoding(e.name)
		if e.err != nil {
			e.err = fmt.Errorf("load %s: %w", e.name, e.err)
		}
	})
	return e.tk, e.err
}

var (
	o200k  = &Counter{enc: &encoding{name: O200kBase}}
	cl100k = &Counter{enc: &encoding{name: CL100kBase}}
)

func init() {
	o200k.cache.init()
	cl100k.cache.init()
}

// Counter counts tokens with one encoding. Counters are shared process-wide
// (For returns the same *Counter for every model of a family) and are safe
// for concurrent use. The zero value is not usable and a Counter must not be
// copied; get one from For.
type Counter struct {
	enc   *encoding
	cache cache
}

// For returns the Counter for a model name. Matching is case-insensitive and
// ignores a provider prefix such as "openai/" or "meta-llama/": gpt-4 and
// gpt-3.5 models use cl100k_base; gpt-4o, gpt-4.1, gpt-4.5, gpt-5, the
// o-series, floodgate's sim models and unknown names use o200k_base;
// non-OpenAI open-weight and hosted families use cl100k_base as an
// approximation. It never loads anything itself.
func For(model string) *Counter {
	if EncodingFor(model) == CL100kBase {
		return cl100k
	}
	return o200k
}

// EncodingFor returns the name of the encoding For uses for model.
func EncodingFor(model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	switch {
	case strings.HasPrefix(m, "gpt-4o"), strings.HasPrefix(m, "chatgpt-4o"),
		strings.HasPrefix(m, "gpt-4.1"), strings.HasPrefix(m, "gpt-4.5"),
		strings.HasPrefix(m, "gpt-5"), strings.HasPrefix(m, "gpt-oss"),
		isOSeries(m):
		return O200kBase
	case strings.HasPrefix(m, "gpt-4"), strings.HasPrefix(m, "gpt-3.5"),
		strings.HasPrefix(m, "gpt-35"), strings.HasPrefix(m, "text-embedding"):
		return CL100kBase
	}
	for _, fam := range approxFamilies {
		if strings.Contains(m, fam) {
			return CL100kBase
		}
	}
	return O200kBase
}

// approxFamilies are model families with their own tokenizers, counted with
// cl100k_base as an approximation.
var approxFamilies = []string{
	"llama", "qwen", "mistral", "mixtral", "codestral", "gemma", "phi",
	"deepseek", "claude", "command", "yi-", "falcon", "granite", "olmo",
}

// isOSeries reports names like o1, o3-mini, o4-mini-high.
func isOSeries(m string) bool {
	return len(m) >= 2 && m[0] == 'o' && m[1] >= '1' && m[1] <= '9' &&
		(len(m) == 2 || m[2] == '-')
}

// Encoding returns the name of the Counter's encoding.
func (c *Counter) Encoding() string { return c.enc.name }

// Load loads the Counter's encoding now rather than on the first Count, and
// reports whether that worked. Servers call it at start so that the first
// request does not pay for the load.
func (c *Counter) Load() error {
	_, err := c.enc.load()
	return err
}

// Count returns the number of tokens of text. Special-token markers such as
// "<|endoftext|>" are counted as ordinary text, as an API counts user
// content. Text is counted piece by piece (words, and the runs between
// digits and other characters; see splitPoint) through the cache, which is
// exact; pieces of more than 128 bytes are counted in slices, which is not
// (see maxWord). If the encoding cannot be loaded (it is embedded,
// so this means a broken build) Count falls back to one token per four
// bytes.
func (c *Counter) Count(text string) int {
	if text == "" {
		return 0
	}
	h := c.cache.hash(text)
	if n, ok := c.cache.get(h); ok {
		return n
	}
	// A new text is mostly words seen before: count it piece by piece,
	// each piece from the cache. See splitPoint for why the sum is exact.
	var n int
	start := 0
	for i := 1; i < len(text); i++ {
		if splitPoint(text, i) {
			n += c.countWord(text[start:i])
			start = i
		}
	}
	if start == 0 {
		n = c.countWordHashed(text, h)
	} else {
		n += c.countWord(text[start:])
	}
	c.cache.put(h, n)
	return n
}

// splitPoint reports whether i, in text, is a point where both encodings'
// pre-tokenisers start a new chunk whatever surrounds it, and BPE never
// merges across chunks; so the token count of a text is the sum of the
// counts of the pieces between such points. Two kinds qualify:
//
//   - before a space followed by a printable ASCII character: no chunk has
//     a space inside except leading spaces and whitespace runs, and a
//     whitespace run stops before the space that leads the next word;
//   - between an ASCII digit and an ASCII letter or punctuation mark (in
//     either order): digits only ever form chunks of their own (\p{N}{1,3}),
//     and no other chunk takes a digit. Whitespace next to a digit is left
//     alone, since a whitespace run's chunks depend on what follows it.
//
// The second kind makes JSON, identifiers and numbers cheap: in a new tool
// result the keys and punctuation between numbers are pieces seen before,
// and numbers are counted without encoding (see countWord).
func splitPoint(text string, i int) bool {
	c, p := text[i], text[i-1]
	if c == ' ' {
		return i+1 < len(text) && text[i+1] > ' ' && text[i+1] < 0x7f
	}
	if c >= 0x80 || p >= 0x80 || isDigit(c) == isDigit(p) {
		return false
	}
	other := c
	if isDigit(c) {
		other = p
	}
	return other > ' ' && other < 0x7f
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// allDigits reports whether w is a non-empty run of ASCII digits.
func allDigits(w string) bool {
	for i := 0; i < len(w); i++ {
		if !isDigit(w[i]) {
			return false
		}
	}
	return w != ""
}

// maxWord bounds the bytes encoded in one go. tiktoken-go's BPE is
// quadratic in the length of a pre-tokeniser chunk (16 KB without a space
// take over 100 ms), so a longer piece is counted in maxWord-byte slices:
// exact for text made of words, an approximation (within a token or two
// per slice) for long runs without spaces such as base64 blobs.
const maxWord = 128

func (c *Counter) countWord(w string) int {
	if allDigits(w) {
		// Both encodings split digit runs into chunks of three and have a
		// token for every one to three digits (TestDigitRuns checks it).
		return (len(w) + 2) / 3
	}
	return c.countWordHashed(w, c.cache.hash(w))
}

// countWordHashed is countWord for a piece whose hash is h.
func (c *Counter) countWordHashed(w string, h uint64) int {
	if allDigits(w) {
		return (len(w) + 2) / 3
	}
	if n, ok := c.cache.get(h); ok {
		return n
	}
	var n int
	if len(w) <= maxWord {
		n = c.countUncached(w)
	} else {
		for len(w) > 0 {
			k := min(maxWord, len(w))
			for k < len(w) && !utf8.RuneStart(w[k]) {
				k++
			}
			n += c.countUncached(w[:k])
			w = w[k:]
		}
	}
	c.cache.put(h, n)
	return n
}

func (c *Counter) countUncached(text string) int {
	tk, err := c.enc.load()
	if err != nil {
		return (len(text) + 3) / 4
	}
	return len(tk.EncodeOrdinary(text))
}

// CountMessages returns the prompt tokens of a chat: each message's tokens
// (see CountMessage) plus 3 tokens that prime the reply, following OpenAI's
// documented recipe.
func (c *Counter) CountMessages(msgs []llm.Message) int {
	n := tokensPriming
	for i := range msgs {
		n += c.CountMessage(&msgs[i])
	}
	return n
}

// CountMessage returns one message's tokens without the reply priming: 3 for
// the message framing, 1 for the role, the content, 1 more plus the name's
// tokens when it has a name, and for each tool call its function name and
// arguments. Content parts count their text (and refusals); an image counts
// ImageTokensLow or ImageTokensHigh by its detail; audio and file parts are
// not counted (their cost depends on bytes the counter does not decode).
func (c *Counter) CountMessage(m *llm.Message) int {
	n := tokensPerMessage + tokensPerRole
	if m.Content.Parts == nil {
		n += c.Count(m.Content.Text)
	} else {
		for i := range m.Content.Parts {
			n += c.countPart(&m.Content.Parts[i])
		}
	}
	if m.Name != "" {
		n += tokensPerName + c.Count(m.Name)
	}
	n += c.Count(m.Refusal)
	for i := range m.ToolCalls {
		f := &m.ToolCalls[i].Function
		n += c.Count(f.Name) + c.Count(f.Arguments)
	}
	return n
}

func (c *Counter) countPart(p *llm.ContentPart) int {
	switch p.Type {
	case llm.PartText:
		return c.Count(p.Text)
	case llm.PartRefusal:
		return c.Count(p.Refusal)
	case llm.PartImageURL:
		if p.ImageURL != nil && p.ImageURL.Detail == "low" {
			return ImageTokensLow
		}
		return ImageTokensHigh
	}
	return 0
}

// CountTools returns an estimate of the prompt tokens that tool declarations
// add: per tool 7 tokens of framing plus its name, description and the JSON
// text of its parameters schema, and 12 tokens closing the list. OpenAI
// renders declarations in an undocumented TypeScript-like form; counting the
// schema's JSON text over-counts that by its punctuation, typically by 10–30 %.
func (c *Counter) CountTools(tools []llm.Tool) int {
	if len(tools) == 0 {
		return 0
	}
	n := tokensToolEnd
	for i := range tools {
		f := &tools[i].Function
		n += tokensPerTool + c.Count(f.Name) + c.Count(f.Description) + c.Count(string(f.Parameters))
	}
	return n
}
