package tokenizer

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEncodingFor(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{"gpt-4o", O200kBase},
		{"gpt-4o-mini-2024-07-18", O200kBase},
		{"GPT-4.1-nano", O200kBase},
		{"gpt-5", O200kBase},
		{"o3-mini", O200kBase},
		{"o1", O200kBase},
		{"openai/gpt-oss-20b", O200kBase},
		{"large", O200kBase},
		{"small", O200kBase},
		{"", O200kBase},
		{"something-new", O200kBase},
		{"gpt-4", CL100kBase},
		{"gpt-4-turbo", CL100kBase},
		{"gpt-3.5-turbo-0125", CL100kBase},
		{"meta-llama/Llama-3.1-70B-Instruct", CL100kBase},
		{"Qwen/Qwen2.5-72B-Instruct", CL100kBase},
		{"mistral-large-latest", CL100kBase},
		{"omni", O200kBase},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, EncodingFor(tt.give))
			assert.Equal(t, tt.want, For(tt.give).Encoding())
		})
	}
}

func TestCount(t *testing.T) {
	tests := []struct {
		model string
		give  string
		want  int
	}{
		{"gpt-4", "", 0},
		{"gpt-4", "hello world", 2},
		{"gpt-4", "tiktoken is great!", 6},
		{"gpt-4o", "hello world", 2},
		// Special-token text is counted as ordinary text, never rejected.
		{"gpt-4o", "<|endoftext|>", 7},
	}
	for _, tt := range tests {
		t.Run(tt.model+"/"+tt.give, func(t *testing.T) {
			c := For(tt.model)
			require.NoError(t, c.Load())
			assert.Equal(t, tt.want, c.Count(tt.give))
			assert.Equal(t, tt.want, c.Count(tt.give), "cached")
		})
	}
}

// cookbookMessages is the example of OpenAI's "How to count tokens with
// tiktoken" notebook, which reports 129 prompt tokens for gpt-3.5/gpt-4 and
// 124 for gpt-4o.
var cookbookMessages = []llm.Message{
	{Role: "system", Content: llm.Text("You are a helpful, pattern-following assistant that translates corporate jargon into plain English.")},
	{Role: "system", Name: "example_user", Content: llm.Text("New synergies will help drive top-line growth.")},
	{Role: "system", Name: "example_assistant", Content: llm.Text("Things working well together will increase revenue.")},
	{Role: "system", Name: "example_user", Content: llm.Text("Let's circle back when we have more bandwidth to touch base on opportunities for increased leverage.")},
	{Role: "system", Name: "example_assistant", Content: llm.Text("Let's talk later when we're less busy about how to do better.")},
	{Role: "user", Content: llm.Text("This late pivot means we don't have time to boil the ocean for the client deliverable.")},
}

func TestCountMessages(t *testing.T) {
	tests := []struct {
		name  string
		model string
		give  []llm.Message
		want  int
	}{
		{"cookbook cl100k", "gpt-4", cookbookMessages, 129},
		{"cookbook o200k", "gpt-4o", cookbookMessages, 124},
		{"empty", "gpt-4o", nil, 3},
		{
			name:  "tool call counts name and arguments",
			model: "gpt-4o",
			give: []llm.Message{{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "c", Type: "function",
				Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"100123"}`}}}}},
			want: 3 + 4 + For("gpt-4o").Count("get_order_status") + For("gpt-4o").Count(`{"order_id":"100123"}`),
		},
		{
			name:  "parts: text counted, images estimated",
			model: "gpt-4o",
			give: []llm.Message{{Role: "user", Content: llm.PartsContent(
				llm.ContentPart{Type: llm.PartText, Text: "hello world"},
				llm.ContentPart{Type: llm.PartImageURL, ImageURL: &llm.ImageURL{URL: "data:", Detail: "low"}},
				llm.ContentPart{Type: llm.PartImageURL, ImageURL: &llm.ImageURL{URL: "data:"}},
				llm.ContentPart{Type: llm.PartInputAudio, InputAudio: &llm.InputAudio{Data: "AAAA", Format: "wav"}},
			)}},
			want: 3 + 4 + 2 + ImageTokensLow + ImageTokensHigh,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, For(tt.model).CountMessages(tt.give))
		})
	}
}

func TestCountTools(t *testing.T) {
	c := For("gpt-4o")
	assert.Equal(t, 0, c.CountTools(nil))
	tools := []llm.Tool{{Type: "function", Function: llm.FunctionDecl{
		Name: "get_weather", Description: "Weather for a city",
		Parameters: []byte(`{"type":"object","properties":{"city":{"type":"string"}}}`),
	}}}
	want := tokensToolEnd + tokensPerTool + c.Count("get_weather") + c.Count("Weather for a city") +
		c.Count(`{"type":"object","properties":{"city":{"type":"string"}}}`)
	assert.Equal(t, want, c.CountTools(tools))
}

func TestCacheBounded(t *testing.T) {
	var c cache
	c.init()
	for h := range uint64(5 * cacheShards * cacheShardCap) {
		c.put(h, int(h%1000))
	}
	assert.LessOrEqual(t, c.len(), 2*cacheShards*cacheShardCap)
	// The most recent generation is still there, the oldest entries are gone.
	last := uint64(5*cacheShards*cacheShardCap - 1)
	n, ok := c.get(last)
	assert.True(t, ok)
	assert.Equal(t, int(last%1000), n)
	_, ok = c.get(0)
	assert.False(t, ok)
}

func TestCacheOldGenerationPromoted(t *testing.T) {
	var c cache
	c.init()
	s := &c.shards[0]
	c.put(0, 7)
	// Fill shard 0 until entry 0 sits in the old generation.
	for i := uint64(1); i <= cacheShardCap; i++ {
		c.put(i*cacheShards, 1)
	}
	_, inCur := s.cur[0]
	require.False(t, inCur)
	n, ok := c.get(0)
	require.True(t, ok)
	assert.Equal(t, 7, n)
	_, inCur = s.cur[0]
	assert.True(t, inCur, "a hit in the old generation moves the entry to the current one")
}

func TestCountConcurrent(t *testing.T) {
	c := For("gpt-4o")
	require.NoError(t, c.Load())
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				s := fmt.Sprintf("order %d of worker %d", i%50, g)
				if got, want := c.Count(s), c.countUncached(s); got != want {
					t.Errorf("Count(%q) = %d, want %d", s, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCountLongAndOdd(t *testing.T) {
	c := For("gpt-4o")
	long := strings.Repeat("where is my order 100123? ", 400)
	assert.Equal(t, c.countUncached(long), c.Count(long))
	assert.Positive(t, c.Count("\xff\xfe invalid utf-8 \x00"))
	mixed := "Line one.\n\nLine  two\twith tabs, “quotes” and ÄÖÜ — then   spaces 12345678 and emoji 😀 done."
	assert.Equal(t, c.countUncached(mixed), c.Count(mixed))
	// A long run without spaces is counted in slices: bounded time, close count.
	blob := strings.Repeat("QUJDREVGR0g", 2000)
	assert.InEpsilon(t, c.countUncached(blob[:2000])*len(blob)/2000, c.Count(blob), 0.1)
}

func FuzzCount(f *testing.F) {
	for _, s := range []string{"hello world", "<|endoftext|>", "\xff\xfe", "ÄÖÜ €12.50", strings.Repeat(" ", 100)} {
		f.Add(s)
	}
	c := For("gpt-4o")
	c100 := For("gpt-4")
	f.Fuzz(func(t *testing.T, s string) {
		// Exact unless a piece between split points is sliced.
		exact, start := true, 0
		for i := 1; i <= len(s); i++ {
			if i == len(s) || splitPoint(s, i) {
				exact = exact && i-start <= maxWord
				start = i
			}
		}
		for _, c := range []*Counter{c, c100} {
			n := c.Count(s)
			if want := c.countUncached(s); exact && n != want {
				t.Fatalf("%s: Count(%q) = %d, whole text encodes to %d", c.Encoding(), s, n, want)
			}
			if n < 0 || (s != "" && n == 0) || n > len(s) {
				t.Fatalf("Count(%q) = %d", s, n)
			}
		}
	})
}

// sentence50 is about 50 tokens of customer-service English.
const sentence50 = "Hello, I ordered a pair of blue running shoes last Tuesday with order number 100123 " +
	"and the tracking page still says the parcel is waiting at the depot. Could you please tell me " +
	"when it will be delivered?"

func BenchmarkCount(b *testing.B) {
	c := For("gpt-4o")
	if err := c.Load(); err != nil {
		b.Fatal(err)
	}
	b.Run("cold", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.countUncached(sentence50)
		}
		b.ReportMetric(float64(c.countUncached(sentence50)), "tokens")
	})
	b.Run("new-text-known-words", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			c.Count(sentence50 + strconv.Itoa(i))
		}
	})
	b.Run("cached", func(b *testing.B) {
		c.Count(sentence50)
		b.ReportAllocs()
		for b.Loop() {
			c.Count(sentence50)
		}
	})
	b.Run("cached-parallel", func(b *testing.B) {
		c.Count(sentence50)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Count(sentence50)
			}
		})
	})
}

func BenchmarkCountMessages(b *testing.B) {
	c := For("gpt-4o")
	c.CountMessages(cookbookMessages)
	b.ReportAllocs()
	for b.Loop() {
		c.CountMessages(cookbookMessages)
	}
}

// TestCountWordwiseExact checks word-by-word counting against encoding the
// whole text, on real prose and code: this package's own sources.
func TestCountWordwiseExact(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, c := range []*Counter{For("gpt-4o"), For("gpt-4")} {
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			for _, para := range strings.Split(string(b), "\n\n") {
				if len(para) > 2000 {
					continue
				}
				assert.Equal(t, c.countUncached(para), c.Count(para), "%s: %q", c.Encoding(), para)
			}
		}
	}
}

// TestDigitRuns checks what countWord's digit fast path rests on: both
// encodings have one token for every string of one to three digits, and
// split longer runs into threes.
func TestDigitRuns(t *testing.T) {
	for _, c := range []*Counter{For("gpt-4o"), For("gpt-4")} {
		for n := range 1000 {
			for _, s := range []string{strconv.Itoa(n), fmt.Sprintf("%02d", n%100), fmt.Sprintf("%03d", n)} {
				require.Equal(t, 1, c.countUncached(s), "%s: %q", c.Encoding(), s)
			}
		}
		for _, s := range []string{"100123", "1234567", "12345678901234567890", "0000"} {
			assert.Equal(t, c.countUncached(s), c.Count(s), "%s: %q", c.Encoding(), s)
		}
	}
}

// TestCountJSONExact checks piecewise counting against encoding the whole
// text on tool results and arguments, where digits split the pieces.
func TestCountJSONExact(t *testing.T) {
	texts := []string{
		`{"order_id":"100123"}`,
		`{"type":"tool_result","tool":"get_order_status","data":{"order_id":100123,"status":"in_transit","placed_at":"2026-11-02",` +
			`"items":[{"sku":"AUD-10001","name":"Wireless Headphones Pro","quantity":1,"price":129.90}],"total":129.90,"currency":"EUR",` +
			`"shipment":{"carrier":"UPS","tracking_number":"1Z999AA10123456784","eta":"2026-12-01"}},"is_error":false,"truncated":false}`,
		"abc123def 45,6.7e8 x9 9x ''12's 3rd v1.2.3 +49 30 1234567 (555) 123-4567 €42.50 42,50€ 1Z999AA1\n12\t34  56",
		"  12   34\n\n56\r\n78 ",
	}
	for _, c := range []*Counter{For("gpt-4o"), For("gpt-4")} {
		for _, s := range texts {
			assert.Equal(t, c.countUncached(s), c.Count(s), "%s: %q", c.Encoding(), s)
		}
	}
}
