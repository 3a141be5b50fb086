package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// exact is a model that never errs, so that tests see the intended
// behaviour; sloppy almost always errs.
var (
	exact  = Model{Name: "exact", Accuracy: Accuracy{1, 1, 1}}
	sloppy = Model{Name: "sloppy", Accuracy: Accuracy{1e-9, 1e-9, 1e-9}}
)

func boolPtr(b bool) *bool { return &b }
func intPtr(n int) *int    { return &n }

func TestToolCalls(t *testing.T) {
	s := newSim(t, Config{Models: []Model{exact}})
	tools := shopTools(t)
	tests := []struct {
		name        string
		give        []llm.Message
		choice      llm.ToolChoice
		parallel    *bool
		want        []string // "name args"
		wantContent string   // substring of the content when there are no calls
	}{
		{name: "order status", give: []llm.Message{user("Where is my order 100123?")},
			want: []string{`get_order_status {"order_id":"100123"}`}},
		{name: "tracking", give: []llm.Message{user("When will order #100123 arrive?")},
			want: []string{`track_shipment {"order_id":"100123"}`}},
		{name: "return with reason", give: []llm.Message{user("I want to return order 100123, it arrived damaged")},
			want: []string{`create_return {"order_id":"100123","reason":"I want to return order 100123, it arrived damaged"}`}},
		{name: "product search", give: []llm.Message{user("Do you have blue running shoes in stock?")},
			want: []string{`search_products {"query":"blue running shoes"}`}},
		{name: "two orders in parallel", give: []llm.Message{user("Where are my orders 100123 and 100456?")},
			want: []string{`get_order_status {"order_id":"100123"}`, `get_order_status {"order_id":"100456"}`}},
		{name: "parallel calls off", give: []llm.Message{user("Where are my orders 100123 and 100456?")}, parallel: boolPtr(false),
			want: []string{`get_order_status {"order_id":"100123"}`}},
		{name: "order and product", give: []llm.Message{user("Where is my order 100123 and do you have the blue jacket in stock?")},
			want: []string{`get_order_status {"order_id":"100123"}`, `search_products {"query":"blue jacket"}`}},
		{name: "missing order number asks", give: []llm.Message{user("Where is my order?")},
			wantContent: "order number"},
		{name: "answer to the clarifying question", give: []llm.Message{
			user("Where is my order?"), assistant("Could you tell me your order number?"), user("Sure, it's 100123")},
			want: []string{`get_order_status {"order_id":"100123"}`}},
		{name: "order number from an earlier turn", give: []llm.Message{
			user("Where is my order 100123?"), assistant("It is shipped."), user("When will it arrive?")},
			want: []string{`track_shipment {"order_id":"100123"}`}},
		{name: "tool_choice none", give: []llm.Message{user("Where is my order 100123?")}, choice: llm.ToolChoice{Mode: "none"},
			wantContent: "100123"},
		{name: "named tool", give: []llm.Message{user("Where is my order 100123?")}, choice: llm.ToolChoice{Function: "track_shipment"},
			want: []string{`track_shipment {"order_id":"100123"}`}},
		{name: "required with small talk", give: []llm.Message{user("hello there")}, choice: llm.ToolChoice{Mode: "required"},
			want: []string{`get_weather {"city":"`}},
		{name: "small talk needs no tool", give: []llm.Message{user("Thanks, bye!")}, wantContent: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := chat(t, s, &llm.Request{Model: "exact", Messages: tt.give, Tools: tools, ToolChoice: tt.choice, ParallelToolCalls: tt.parallel})
			got := callsOf(resp)
			if tt.want == nil {
				assert.Empty(t, got)
				assert.Contains(t, resp.Choices[0].Message.Content.Text, tt.wantContent)
				assert.Equal(t, llm.FinishStop, resp.Choices[0].FinishReason)
				return
			}
			require.Len(t, got, len(tt.want))
			for i := range got {
				assert.True(t, strings.HasPrefix(got[i], tt.want[i]), "got %s, want %s", got[i], tt.want[i])
				assert.True(t, json.Valid([]byte(resp.Choices[0].Message.ToolCalls[i].Function.Arguments)))
				assert.True(t, strings.HasPrefix(resp.Choices[0].Message.ToolCalls[i].ID, "call_"))
			}
			assert.Equal(t, llm.FinishToolCalls, resp.Choices[0].FinishReason)
		})
	}
}

func TestNoToolsAnswerNamesOrder(t *testing.T) {
	s := newSim(t, Config{})
	resp := chat(t, s, &llm.Request{Model: "large", Messages: []llm.Message{user("Where is my order 100123?")}})
	assert.Contains(t, resp.Choices[0].Message.Content.Text, "can't look that up")
	assert.Contains(t, resp.Choices[0].Message.Content.Text, "100123")
}

// runTools plays the client side of a tool loop: it answers every call
// with results(call) until the model answers, and returns the answer and
// the calls made.
func runTools(t testing.TB, s *Sim, model string, msgs []llm.Message, results func(llm.ToolCall) string, maxSteps int) (string, []llm.ToolCall) {
	t.Helper()
	var made []llm.ToolCall
	for range maxSteps {
		resp := chat(t, s, &llm.Request{Model: model, Messages: msgs, Tools: shopTools(t)})
		m := resp.Choices[0].Message
		if len(m.ToolCalls) == 0 {
			return m.Content.Text, made
		}
		made = append(made, m.ToolCalls...)
		msgs = append(msgs, calls(m.ToolCalls...))
		for _, c := range m.ToolCalls {
			msgs = append(msgs, toolMsg(c.ID, results(c)))
		}
	}
	return "", made
}

func shopResult(c llm.ToolCall) string {
	var args map[string]any
	_ = json.Unmarshal([]byte(c.Function.Arguments), &args)
	switch c.Function.Name {
	case "get_order_status":
		return fmt.Sprintf(`{"order_id":%q,"status":"shipped","eta":"2025-05-02"}`, args["order_id"])
	case "track_shipment":
		return fmt.Sprintf(`{"order_id":%q,"carrier":"DHL","tracking_number":"JD014600003828","estimated_delivery":"2025-05-03"}`, args["order_id"])
	case "create_return":
		return fmt.Sprintf(`{"order_id":%q,"return_id":"R-7781","refund_amount":49.9,"currency":"EUR"}`, args["order_id"])
	case "search_products":
		return `{"results":[{"name":"Trail Runner 2","price":89.5,"currency":"EUR","in_stock":true},{"name":"Road Runner","price":120,"currency":"EUR","in_stock":false}]}`
	}
	return `{"temperature_c":18,"conditions":"cloudy"}`
}

func TestToolRoundTrip(t *testing.T) {
	s := newSim(t, Config{Models: []Model{exact}, WanderRate: -1})
	tests := []struct {
		give string
		want []string
	}{
		{"Where is my order 100123?", []string{"100123", "shipped", "2025-05-02"}},
		{"When will order 100123 arrive?", []string{"DHL", "JD014600003828", "2025-05-03"}},
		{"I want to return order 100123, it is broken", []string{"100123", "R-7781", "49.9 EUR"}},
		{"Do you have running shoes?", []string{"Trail Runner 2", "89.5 EUR", "in stock", "Road Runner", "out of stock"}},
		{"Where are orders 100123 and 100456?", []string{"100123", "100456", "shipped"}},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			answer, made := runTools(t, s, "exact", []llm.Message{user(tt.give)}, shopResult, 5)
			require.NotEmpty(t, made)
			for _, w := range tt.want {
				assert.Contains(t, answer, w)
			}
		})
	}
}

func TestToolErrorResultApologises(t *testing.T) {
	s := newSim(t, Config{Models: []Model{exact}, WanderRate: -1})
	answer, _ := runTools(t, s, "exact", []llm.Message{user("Where is my order 100999?")},
		func(llm.ToolCall) string { return `{"error":"order not found"}` }, 3)
	assert.Contains(t, answer, "sorry")
	assert.Contains(t, answer, "100999")
}

func TestSequentialCallsWhenParallelOff(t *testing.T) {
	s := newSim(t, Config{Models: []Model{exact}, WanderRate: -1})
	msgs := []llm.Message{user("Where are orders 100123 and 100456?")}
	off := boolPtr(false)
	var names []string
	for range 4 {
		resp := chat(t, s, &llm.Request{Model: "exact", Messages: msgs, Tools: shopTools(t), ParallelToolCalls: off})
		m := resp.Choices[0].Message
		if len(m.ToolCalls) == 0 {
			assert.Contains(t, m.Content.Text, "100456")
			break
		}
		require.Len(t, m.ToolCalls, 1)
		names = append(names, m.ToolCalls[0].Function.Arguments)
		msgs = append(msgs, calls(m.ToolCalls...), toolMsg(m.ToolCalls[0].ID, shopResult(m.ToolCalls[0])))
	}
	assert.Equal(t, []string{`{"order_id":"100123"}`, `{"order_id":"100456"}`}, names)
}

func TestInaccurateModelErs(t *testing.T) {
	s := newSim(t, Config{Models: []Model{sloppy}, WanderRate: -1})
	for i := range 20 {
		order := fmt.Sprint(100120 + i)
		resp := chat(t, s, &llm.Request{Model: "sloppy", Messages: []llm.Message{user("Where is my order " + order + "?")}, Tools: shopTools(t)})
		got := callsOf(resp)
		require.Len(t, got, 1)
		assert.NotEqual(t, `get_order_status {"order_id":"`+order+`"}`, got[0], "a sloppy model gets tool or argument wrong")
	}
	// Answers from tool results are wrong in a checkable way.
	for i := range 20 {
		order := fmt.Sprint(100120 + i)
		msgs := []llm.Message{user("Where is my order " + order + "?"),
			calls(llm.ToolCall{ID: "c1", Type: "function", Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"` + order + `"}`}}),
			toolMsg("c1", `{"order_id":"`+order+`","status":"processing","eta":"2025-05-02"}`)}
		resp := chat(t, s, &llm.Request{Model: "sloppy", Messages: msgs, Tools: shopTools(t)})
		text := resp.Choices[0].Message.Content.Text
		assert.False(t, strings.Contains(text, "processing") && strings.Contains(text, "2025-05-02"), text)
	}
}

func TestDeterminism(t *testing.T) {
	reqs := []*llm.Request{
		{Model: "small", Messages: []llm.Message{user("Where is my order 100123 and do you have AB-1234?")}, Tools: shopTools(t)},
		{Model: "small", Messages: []llm.Message{user("hello")}},
		{Model: "large", Messages: []llm.Message{user("My order 100123 cost €12.50"), user("summarize the conversation")}},
	}
	a, b := newSim(t, Config{Seed: 7}), newSim(t, Config{Seed: 7})
	for _, r := range reqs {
		ra, rb := chat(t, a, r), chat(t, b, r)
		assert.Equal(t, ra.Choices, rb.Choices)
		assert.Equal(t, ra.Usage, rb.Usage)
		assert.NotEqual(t, ra.ID, rb.ID, "ids are unique, not behaviour")
	}
}

// wanderReq is the n-th of a set of distinct conversations that have
// their tool results.
func wanderReq(tools []llm.Tool, i int) *llm.Request {
	order := fmt.Sprint(200000 + i)
	c := llm.ToolCall{ID: "c1", Type: "function", Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"` + order + `"}`}}
	msgs := []llm.Message{user("Where is my order " + order + "?"), calls(c), toolMsg("c1", shopResult(c))}
	return &llm.Request{Model: "exact", Messages: msgs, Tools: tools}
}

// wanderSet returns which of n conversations the model wanders on; it asks
// the behaviour directly, as the wire adds nothing to this decision.
func wanderSet(t *testing.T, s *Sim, n int) []bool {
	tools := shopTools(t)
	out := make([]bool, n)
	for i := range n {
		out[i] = s.generate(s.byName["exact"], wanderReq(tools, i)).wanders > 0
	}
	return out
}

func TestWanderRate(t *testing.T) {
	const n = 2000
	a := newSim(t, Config{Models: []Model{exact}, Seed: 1})
	setA := wanderSet(t, a, n)
	wanders := 0
	for _, w := range setA {
		if w {
			wanders++
		}
	}
	assert.InDelta(t, DefaultWanderRate, float64(wanders)/n, 0.02, "wander rate")

	// Over the wire: a wander is a tool call, and the stats count it.
	tools, wire := shopTools(t), 0
	for i := range 100 {
		resp := chat(t, a, wanderReq(tools, i))
		if len(resp.Choices[0].Message.ToolCalls) > 0 {
			wire++
			assert.True(t, setA[i])
		}
	}
	assert.Equal(t, int64(wire), a.Stats().Wanders)

	b := newSim(t, Config{Models: []Model{exact}, Seed: 2})
	assert.NotEqual(t, setA, wanderSet(t, b, n), "another seed wanders on other conversations")
	again := newSim(t, Config{Models: []Model{exact}, Seed: 1})
	assert.Equal(t, setA, wanderSet(t, again, n), "the same seed wanders on the same ones")

	never := newSim(t, Config{Models: []Model{exact}, Seed: 1, WanderRate: -1})
	assert.NotContains(t, wanderSet(t, never, 200), true)
}

func TestWanderLoopsLengths(t *testing.T) {
	s := newSim(t, Config{Models: []Model{exact}, Seed: 3, WanderRate: 0.5})
	long, maxCalls := 0, 0
	for i := range 300 {
		_, made := runTools(t, s, "exact", []llm.Message{user(fmt.Sprintf("Where is my order %d?", 300000+i))}, shopResult, 60)
		if len(made) > 8 {
			long++
		}
		maxCalls = max(maxCalls, len(made))
	}
	// With WanderRate 0.5 and WanderContinue 0.75, P(more than 8 calls) =
	// 0.5 × 0.75^7 ≈ 6.7 %.
	assert.InDelta(t, 0.067, float64(long)/300, 0.04)
	assert.LessOrEqual(t, maxCalls, 1+maxNeedless)
}

func TestSummaryLoss(t *testing.T) {
	msgs := []llm.Message{
		user("Where is my order 100123?"), assistant("It is shipped."),
		user("I also want to return order 100456 and get €12.50 back, my email is jane@example.com"),
		assistant("Done."),
		user("Do you have AB-1234 in stock? My phone is +49 170 1234567"),
		user("Please summarize our conversation."),
	}
	facts := []string{"100123", "100456", "€12.50", "jane@example.com", "AB-1234", "+49 170 1234567"}
	tests := []struct {
		name     string
		loss     float64
		min, max float64 // fraction of facts kept over all seeds
	}{
		{"default loses about half", 0, 0.35, 0.65},
		{"no loss keeps everything", -1, 1, 1},
		{"full loss keeps nothing", 1, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, total := 0, 0
			for seed := range uint64(40) {
				s := newSim(t, Config{Seed: seed, SummaryLoss: tt.loss})
				text := chat(t, s, &llm.Request{Model: "small", Messages: msgs}).Choices[0].Message.Content.Text
				assert.Contains(t, text, "Summary")
				for _, f := range facts {
					total++
					if strings.Contains(text, f) {
						kept++
					}
				}
			}
			frac := float64(kept) / float64(total)
			assert.GreaterOrEqual(t, frac, tt.min)
			assert.LessOrEqual(t, frac, tt.max)
		})
	}
}

func TestSummaryFromSystemPrompt(t *testing.T) {
	s := newSim(t, Config{SummaryLoss: -1})
	resp := chat(t, s, &llm.Request{Model: "small", Messages: []llm.Message{
		system("Summarise the following conversation in a few sentences."),
		user("Customer: where is order 100123?\nAgent: it is on its way\nCustomer: and my refund of $20?"),
	}})
	text := resp.Choices[0].Message.Content.Text
	assert.Contains(t, text, "100123")
	assert.Contains(t, text, "$20")
	assert.NotContains(t, text, "on its way")
}

func TestMaxTokensTruncates(t *testing.T) {
	s := newSim(t, Config{SummaryLoss: -1})
	resp := chat(t, s, &llm.Request{Model: "small", MaxTokens: intPtr(8), Messages: []llm.Message{
		user("Where is my order 100123?"), user("Please summarize the conversation"),
	}})
	assert.Equal(t, llm.FinishLength, resp.Choices[0].FinishReason)
	assert.LessOrEqual(t, resp.Usage.CompletionTokens, 8)
	assert.Positive(t, resp.Usage.CompletionTokens)
}

func TestStopSequence(t *testing.T) {
	s := newSim(t, Config{})
	resp := chat(t, s, &llm.Request{Model: "small", Stop: llm.Stop{Seqs: []string{"100123"}},
		Messages: []llm.Message{user("Where is my order 100123?")}})
	assert.NotContains(t, resp.Choices[0].Message.Content.Text, "100123")
	assert.Equal(t, llm.FinishStop, resp.Choices[0].FinishReason)
}

func TestRecallProbe(t *testing.T) {
	s := newSim(t, Config{})
	history := []llm.Message{
		system("Known facts: customer email jane@example.com."),
		user("Where is my order 100123?"), assistant("It is shipped."),
		user("And order 100456? The refund was €12.50."), assistant("Also shipped."),
	}
	tests := []struct {
		give string
		want string
	}{
		{"What was the order number I gave you first?", "100123"},
		{"Which order did I mention last?", "100456"},
		{"How much was the refund?", "€12.50"},
		{"What is my email?", "jane@example.com"},
		{"What's my phone number?", "I'm sorry, I don't have that information."},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			msgs := append(append([]llm.Message(nil), history...), user(tt.give))
			text := chat(t, s, &llm.Request{Model: "small", Messages: msgs}).Choices[0].Message.Content.Text
			assert.Contains(t, text, tt.want)
		})
	}
}

func TestRealisticLengths(t *testing.T) {
	s := newSim(t, Config{})
	for _, give := range []string{"hi", "what?", "Where is my order 100123?", "Where is my order?", "Do you have shoes?", "refund please"} {
		resp := chat(t, s, &llm.Request{Model: "small", Messages: []llm.Message{user(give)}})
		n := resp.Usage.CompletionTokens
		assert.True(t, n >= 20 && n <= 120, "%q: %d completion tokens", give, n)
	}
}
