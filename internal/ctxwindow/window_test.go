package ctxwindow

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/tokenizer"
)

var counter = tokenizer.For("large")

// propScale multiplies the inputs TestBuildProperties tries.
var propScale = flag.Int("ctxwindow.props", 1, "multiply the random inputs of TestBuildProperties")

func policy(t testing.TB, p Policy) *Policy {
	t.Helper()
	n, err := p.Normalize()
	require.NoError(t, err)
	return &n
}

func user(s string) llm.Message { return llm.Message{Role: llm.RoleUser, Content: llm.Text(s)} }
func assistant(s string) llm.Message {
	return llm.Message{Role: llm.RoleAssistant, Content: llm.Text(s)}
}
func calls(ids ...string) llm.Message {
	m := llm.Message{Role: llm.RoleAssistant}
	for _, id := range ids {
		m.ToolCalls = append(m.ToolCalls, llm.ToolCall{ID: id, Type: "function",
			Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"100123"}`}})
	}
	return m
}
func result(id, data string) llm.Message {
	return llm.Message{Role: llm.RoleTool, ToolCallID: id,
		Content: llm.Text(`{"type":"tool_result","tool":"get_order_status","data":` + data + `,"is_error":false,"truncated":false}`)}
}

// turn is a stored turn: a question, a tool call with its result and an
// answer, the result padded to about pad words.
func turn(seq int64, pad int) store.Turn {
	id := fmt.Sprintf("c%d", seq)
	data := fmt.Sprintf(`{"order_id":%d,"status":"shipped","note":"%s"}`, 100000+seq, strings.Repeat("lorem ", pad))
	return store.Turn{ID: fmt.Sprintf("t%d", seq), Seq: seq, Messages: []llm.Message{
		user(fmt.Sprintf("[#%d] Where is my order %d?", seq, 100000+seq)),
		calls(id), result(id, data),
		assistant(fmt.Sprintf("[#%d] Order %d has shipped.", seq, 100000+seq)),
	}}
}

func history(n, pad int) []store.Turn {
	h := make([]store.Turn, n)
	for i := range h {
		h[i] = turn(int64(i+1), pad)
	}
	return h
}

// markers returns the "[#n]" markers of the user messages of msgs.
func markers(msgs []llm.Message) []string {
	var out []string
	for _, m := range msgs {
		if m.Role == llm.RoleUser {
			s := m.Content.String()
			out = append(out, s[:strings.IndexByte(s, ']')+1])
		}
	}
	return out
}

func countTools(msgs []llm.Message) int {
	n := 0
	for _, m := range msgs {
		if m.Role == llm.RoleTool {
			n++
		}
	}
	return n
}

func TestBuildWindow(t *testing.T) {
	tests := []struct {
		name        string
		give        Policy
		turns, pad  int
		wantUsers   []string // markers of the user messages, current turn's "[#now]" last
		wantCompact int
		wantTools   int // tool results in the window, the current turn's included
	}{
		{name: "all in full", give: Policy{}, turns: 3, pad: 5,
			wantUsers: []string{"[#1]", "[#2]", "[#3]", "[#now]"}, wantTools: 3},
		{name: "newest RecentTurns", give: Policy{RecentTurns: 2}, turns: 5, pad: 5,
			wantUsers: []string{"[#4]", "[#5]", "[#now]"}, wantTools: 2},
		// A turn is 147 tokens, 29 without its tool call; the system prompt
		// and the question 26.
		{name: "oldest lose their tool calls first", give: Policy{MaxTokens: 400, SummaryTokens: 100}, turns: 4, pad: 60,
			wantUsers: []string{"[#1]", "[#2]", "[#3]", "[#4]", "[#now]"}, wantCompact: 2, wantTools: 2},
		{name: "then the oldest go", give: Policy{MaxTokens: 120, SummaryTokens: 50}, turns: 6, pad: 60,
			wantUsers: []string{"[#4]", "[#5]", "[#6]", "[#now]"}, wantCompact: 3, wantTools: 0},
		{name: "nothing fits but the turn", give: Policy{MaxTokens: 40, SummaryTokens: 10}, turns: 3, pad: 60,
			wantUsers: []string{"[#now]"}, wantTools: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy(t, tt.give)
			in := &Input{System: "You are the shop's assistant.", History: history(tt.turns, tt.pad),
				Current: []llm.Message{user("[#now] And my other order?")}}
			w, err := build(counter, p, in, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.wantUsers, markers(w.Messages))
			assert.Equal(t, tt.wantCompact, w.Compact)
			assert.Equal(t, tt.wantTools, countTools(w.Messages))
			assert.Equal(t, len(tt.wantUsers)-1, w.Turns)
			assert.Equal(t, counter.CountMessages(w.Messages), w.Tokens, "the window's count is the model's")
			assert.LessOrEqual(t, w.Tokens, max(p.MaxTokens, counter.CountMessages(append(w.Messages[:1:1], in.Current...))))
			assert.Equal(t, 1, w.Current)
		})
	}
}

func TestBuildTrimsTheTurnToTheContextLimit(t *testing.T) {
	p := policy(t, Policy{ContextLimit: 2000, ReplyTokens: 200, MaxTokens: 1000, SummaryTokens: 100})
	big := `{"items":"` + strings.Repeat("widget ", 1000) + `"}`
	cur := []llm.Message{user("[#now] Check all three orders."),
		calls("a"), result("a", big), calls("b"), result("b", big), calls("c"), result("c", `{"ok":true}`)}
	w, err := build(counter, p, &Input{System: "sys", History: history(3, 5), Current: cur}, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, w.Trimmed, "the oldest tool group went")
	assert.LessOrEqual(t, w.Tokens, p.hardLimit())
	assert.Equal(t, []string{"[#now]"}, markers(w.Messages), "no history within the budget")
	assertNoOrphans(t, w.Messages)

	// The newest group alone is over the limit: nothing is sent.
	huge := `{"items":"` + strings.Repeat("widget ", 3000) + `"}`
	_, err = build(counter, p, &Input{System: "sys", Current: []llm.Message{user("hi"), calls("x"), result("x", huge)}}, nil)
	assert.ErrorIs(t, err, ErrTooLarge)
}

func TestBuildDropsOrphans(t *testing.T) {
	h := []store.Turn{{Seq: 1, Messages: []llm.Message{
		user("[#1] hi"),
		result("lost", `{}`),              // a result without its call
		calls("a", "b"), result("a", `1`), // a call without one of its results
		calls("c"), result("c", `2`), // fine
		{Role: llm.RoleSystem, Content: llm.Text("injected")},
		calls("d"), result("d", `3`), result("d", `4`), // answered twice
		assistant("[#1] done"),
	}}}
	w, err := build(counter, policy(t, Policy{}), &Input{System: "s", History: h, Current: []llm.Message{user("[#now] ok")}}, nil)
	require.NoError(t, err)
	assertNoOrphans(t, w.Messages)
	var got []string
	for _, m := range w.Messages {
		switch {
		case m.Role == llm.RoleTool:
			got = append(got, "tool:"+m.ToolCallID)
		case len(m.ToolCalls) > 0:
			got = append(got, "call:"+m.ToolCalls[0].ID)
		default:
			got = append(got, m.Role)
		}
	}
	assert.Equal(t, []string{"system", "user", "call:c", "tool:c", "assistant", "user"}, got)
	assert.Len(t, Sanitize(h[0].Messages), 5, "Sanitize drops the same messages, keeping system ones")
}

// assertNoOrphans checks what providers check: every tool message answers
// a call of the assistant message that opens its group, and every call of
// an assistant message is answered once, right after it.
func assertNoOrphans(t testing.TB, msgs []llm.Message) {
	t.Helper()
	if err := orphans(msgs); err != nil {
		t.Fatal(err)
	}
}

func orphans(msgs []llm.Message) error {
	for i := 0; i < len(msgs); i++ {
		m := &msgs[i]
		if m.Role == llm.RoleTool {
			return fmt.Errorf("message %d: tool result %q without its call", i, m.ToolCallID)
		}
		if m.Role != llm.RoleAssistant || len(m.ToolCalls) == 0 {
			continue
		}
		want := map[string]bool{}
		for _, c := range m.ToolCalls {
			if c.ID == "" || want[c.ID] {
				return fmt.Errorf("message %d: call id %q empty or twice", i, c.ID)
			}
			want[c.ID] = true
		}
		j := i + 1
		for ; j < len(msgs) && msgs[j].Role == llm.RoleTool; j++ {
			if !want[msgs[j].ToolCallID] {
				return fmt.Errorf("message %d: result %q answers no open call", j, msgs[j].ToolCallID)
			}
			delete(want, msgs[j].ToolCallID)
		}
		if len(want) > 0 {
			return fmt.Errorf("message %d: calls without results: %v", i, want)
		}
		i = j - 1
	}
	return nil
}

// words is the vocabulary of random histories: a few hundred distinct
// tokens, so that counting stays in the tokenizer's cache.
var words = strings.Fields(`order 100123 100456 where is my parcel shipped delivered refund €42.50 49.90 EUR
	tracking 1Z999AA10123456784 status the a of to and please thanks return damaged headphones
	jane@example.com +49 30 1234567 AUD-10001 2026-11-27 customer agent tool result data json`)

func randText(r *rand.Rand, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

// randGroup returns an assistant tool-call message and its results, made
// wrong (a result missing, one extra, an id twice, a stray result) now
// and then.
func randGroup(r *rand.Rand, id *int, maxWords int) []llm.Message {
	n := 1 + r.IntN(3)
	call := llm.Message{Role: llm.RoleAssistant}
	if r.IntN(4) == 0 {
		call.Content = llm.Text(randText(r, 5))
	}
	var res []llm.Message
	for range n {
		*id++
		cid := fmt.Sprintf("call_%d", *id)
		call.ToolCalls = append(call.ToolCalls, llm.ToolCall{ID: cid, Type: "function",
			Function: llm.FunctionCall{Name: "lookup", Arguments: `{"q":"` + randText(r, 3) + `"}`}})
		res = append(res, llm.Message{Role: llm.RoleTool, ToolCallID: cid, Content: llm.Text(randText(r, r.IntN(maxWords+1)))})
	}
	r.Shuffle(len(res), func(i, j int) { res[i], res[j] = res[j], res[i] })
	switch r.IntN(12) {
	case 0:
		res = res[1:]
	case 1:
		res = append(res, res[0])
	case 2:
		call.ToolCalls = append(call.ToolCalls, call.ToolCalls[0])
	case 3:
		return res // results without their call
	}
	return append([]llm.Message{call}, res...)
}

// randInput returns a random history and turn so far.
func randInput(r *rand.Rand) *Input {
	id := 0
	in := &Input{System: randText(r, r.IntN(200))}
	if r.IntN(2) == 0 {
		in.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDecl{Name: "lookup", Description: randText(r, 20),
			Parameters: []byte(`{"type":"object"}`)}}}
	}
	maxWords := []int{10, 60, 400}[r.IntN(3)]
	for seq := range r.IntN(24) {
		t := store.Turn{Seq: int64(seq + 1), Messages: []llm.Message{user(randText(r, 1+r.IntN(40)))}}
		for range r.IntN(4) {
			t.Messages = append(t.Messages, randGroup(r, &id, maxWords)...)
		}
		if r.IntN(6) > 0 {
			t.Messages = append(t.Messages, assistant(randText(r, r.IntN(80))))
		}
		in.History = append(in.History, t)
	}
	in.Current = []llm.Message{user(randText(r, 1+r.IntN(60)))}
	for range r.IntN(5) {
		g := randGroup(r, &id, maxWords)
		if g[0].Role == llm.RoleAssistant && orphans(g) == nil {
			in.Current = append(in.Current, g...) // the engine never builds a broken turn
		}
	}
	return in
}

func randPolicy(r *rand.Rand) Policy {
	limit := 500 + r.IntN(20000)
	return Policy{RecentTurns: 1 + r.IntN(12), ContextLimit: limit, ReplyTokens: 1 + r.IntN(limit/4),
		MaxTokens: 50 + r.IntN(6000), SummaryTokens: 1 + r.IntN(40)}
}

// wordCounter counts a token per space-separated word and four per
// message: cheap, so that property tests can try many inputs.
type wordCounter struct{}

func (wordCounter) Count(s string) int { return len(strings.Fields(s)) }
func (c wordCounter) CountMessage(m *llm.Message) int {
	n := 4 + c.Count(m.Content.String())
	for _, tc := range m.ToolCalls {
		n += 1 + c.Count(tc.Function.Arguments)
	}
	return n
}
func (c wordCounter) CountTools(tools []llm.Tool) int { return 12 + 7*len(tools) }

// messagesCounter is what CountMessages does for any Counter.
func countAll(c Counter, msgs []llm.Message, tools []llm.Tool) int {
	n := primingTokens
	for i := range msgs {
		n += c.CountMessage(&msgs[i])
	}
	if len(tools) > 0 {
		n += c.CountTools(tools)
	}
	return n
}

// checkBuild checks Build's guarantees on one input.
func checkBuild(t testing.TB, counter Counter, p *Policy, in *Input) {
	t.Helper()
	w, err := build(counter, p, in, nil)
	if errors.Is(err, ErrTooLarge) {
		// Only when the system prompt, the tools, the user message and the
		// newest tool group are over the hard limit on their own.
		us := splitUnits(counter, in.Current, nil)
		must := []llm.Message{{Role: llm.RoleSystem, Content: llm.Text(in.System)}}
		for _, u := range us {
			if u.user {
				must = append(must, in.Current[u.from:u.to]...)
			}
		}
		for i := len(us) - 1; i >= 0; i-- {
			if us[i].tools {
				must = append(must, in.Current[us[i].from:us[i].to]...)
				break
			}
		}
		if n := countAll(counter, must, in.Tools); n <= p.hardLimit() {
			t.Fatalf("ErrTooLarge although the turn's core is %d ≤ %d tokens", n, p.hardLimit())
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	msgs := w.Messages
	if msgs[0].Role != llm.RoleSystem || msgs[0].Content.String() != in.System {
		t.Fatal("the system prompt is not first and whole")
	}
	if err := orphans(msgs); err != nil {
		t.Fatal(err)
	}
	n := countAll(counter, msgs, in.Tools)
	if n != w.Tokens {
		t.Fatalf("Tokens = %d, the model bills %d", w.Tokens, n)
	}
	if n > p.hardLimit() {
		t.Fatalf("%d tokens over the hard limit %d", n, p.hardLimit())
	}
	if w.Turns > p.RecentTurns {
		t.Fatalf("%d history turns, more than %d", w.Turns, p.RecentTurns)
	}
	if w.Turns > 0 && n > p.MaxTokens {
		t.Fatalf("history kept although the prompt is %d > %d tokens", n, p.MaxTokens)
	}
	if m := msgs[len(msgs)-w.Current]; w.Current == 0 || m.Role != llm.RoleUser || m.Content.String() != in.Current[0].Content.String() {
		t.Fatal("the user's message is not in the window")
	}
	// What is sent is a subsequence of the history and the turn.
	all := []llm.Message{}
	for _, h := range in.History {
		all = append(all, h.Messages...)
	}
	all = append(all, in.Current...)
	j := 0
	for _, m := range msgs[1:] {
		for j < len(all) && !sameMessage(&all[j], &m) {
			j++
		}
		if j == len(all) {
			t.Fatalf("message %+v is not from the input, or out of order", m)
		}
		j++
	}
}

func sameMessage(a, b *llm.Message) bool {
	return a.Role == b.Role && a.Content.String() == b.Content.String() && a.ToolCallID == b.ToolCallID &&
		len(a.ToolCalls) == len(b.ToolCalls) && (len(a.ToolCalls) == 0 || a.ToolCalls[0].ID == b.ToolCalls[0].ID)
}

// TestBuildProperties checks Build's guarantees over random histories
// and policies: many with a cheap counter, some with the tokenizer the
// sim bills with.
func TestBuildProperties(t *testing.T) {
	tests := []struct {
		name string
		c    Counter
		n    int
	}{
		{name: "words", c: wordCounter{}, n: 400},
		{name: "o200k", c: counter, n: 40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tt.n)))
			for range tt.n * *propScale {
				p := policy(t, randPolicy(r))
				checkBuild(t, tt.c, p, randInput(r))
			}
		})
	}
}

// FuzzBuild derives a history, a turn and a policy from the fuzzer's
// seed and checks Build's guarantees on them.
func FuzzBuild(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(7), uint64(0))
	f.Fuzz(func(t *testing.T, a, b uint64) {
		r := rand.New(rand.NewPCG(a, b))
		p, err := randPolicy(r).Normalize()
		if err != nil {
			return
		}
		checkBuild(t, wordCounter{}, &p, randInput(r))
	})
}
