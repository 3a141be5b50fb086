package load

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Request is one request a Scenario asks to send.
type Request struct {
	// Body is the complete, already encoded JSON body of a chat completion
	// request. Run sends it as is and never modifies it, so a Scenario may
	// return the same slice many times.
	Body []byte
	// Label names the kind of request (an intent, a turn), for the
	// per-label counts in Report.Labels. Empty means "default".
	Label string
}

// Scenario yields the request each start sends. worker is the closed-loop
// worker, or in the open loop the executor goroutine that will send it. seq
// numbers the starts of a run from 0, warmup included: in the closed loop in
// the order workers take them, in the open loop by schedule slot (a dropped
// start leaves its number unused). Next is called concurrently from every
// worker, on the hot path: it should return pre-encoded bodies rather than
// encode per call.
type Scenario interface {
	Next(worker int, seq uint64) Request
}

// ScenarioFunc adapts a function to a Scenario.
type ScenarioFunc func(worker int, seq uint64) Request

// Next calls f.
func (f ScenarioFunc) Next(worker int, seq uint64) Request { return f(worker, seq) }

// Labels of the default prompt set.
const (
	LabelOrderStatus = "order_status"
	LabelTracking    = "tracking"
	LabelReturns     = "returns"
	LabelProduct     = "product"
	LabelSmallTalk   = "small_talk"
)

// FirstOrderNumber is the lowest order number the default prompts mention;
// later prompts count upward from it.
const FirstOrderNumber = 100001

// DefaultPromptCount is the number of distinct prompts of a default
// PromptSet.
const DefaultPromptCount = 2000

// PromptOptions configure NewPromptSet. The zero value is usable.
type PromptOptions struct {
	Model     string // default "large"
	Stream    bool   // ask for SSE with a usage chunk
	MaxTokens int    // sent as max_tokens when > 0
	Seed      int64  // picks the prompts and their order
	Count     int    // distinct prompts; default DefaultPromptCount
	// RunAPI makes bodies for the agent run API, {"input": prompt}, instead
	// of chat completions; Model, Stream and MaxTokens are then unused.
	RunAPI bool
}

// PromptSet is the default Scenario: single-turn customer-service requests
// (order status with order numbers from FirstOrderNumber upward, tracking,
// returns, product questions, small talk) as chat completions, or as agent
// runs with PromptOptions.RunAPI, encoded once by NewPromptSet and cycled in
// a fixed order. It is immutable and safe for concurrent use.
type PromptSet struct {
	reqs []Request
}

// NewPromptSet builds and encodes the prompts. The same options always yield
// the same bodies in the same order.
func NewPromptSet(o PromptOptions) *PromptSet {
	if o.Model == "" {
		o.Model = DefaultModel
	}
	if o.Count <= 0 {
		o.Count = DefaultPromptCount
	}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x9e3779b97f4a7c15))
	var maxTokens *int
	if o.MaxTokens > 0 {
		maxTokens = &o.MaxTokens
	}
	var streamOpts *llm.StreamOptions
	if o.Stream {
		streamOpts = &llm.StreamOptions{IncludeUsage: true}
	}
	// Encode the request once around a placeholder user message and splice
	// each prompt's JSON string into it: the same bytes json.Marshal would
	// give for every prompt, at a fraction of the cost.
	var v any = &llm.Request{
		Model: o.Model,
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: llm.Text(systemPrompt)},
			{Role: llm.RoleUser, Content: llm.Text(placeholder)},
		},
		MaxTokens:     maxTokens,
		Stream:        o.Stream,
		StreamOptions: streamOpts,
	}
	if o.RunAPI {
		// The agent has its own instructions; the run API takes the
		// customer's words alone.
		v = &struct {
			Input string `json:"input"`
		}{placeholder}
	}
	tmpl, err := json.Marshal(v)
	if err != nil {
		// Only strings and numbers go in; a failure here is a bug in llm.
		panic(fmt.Sprintf("load: encode prompt: %v", err))
	}
	head, tail, ok := bytes.Cut(tmpl, []byte(`"`+placeholder+`"`))
	if !ok {
		panic("load: prompt placeholder not found in " + string(tmpl))
	}

	order := FirstOrderNumber
	p := &PromptSet{reqs: make([]Request, o.Count)}
	for i := range p.reqs {
		label, text := prompt(rng, &order)
		quoted, _ := json.Marshal(text) // a string always encodes
		body := make([]byte, 0, len(head)+len(quoted)+len(tail))
		body = append(append(append(body, head...), quoted...), tail...)
		p.reqs[i] = Request{Body: body, Label: label}
	}
	return p
}

// placeholder stands for the user's text in the encoded template; it needs no
// escaping and appears in no prompt.
const placeholder = "PROMPT_PLACEHOLDER_7f3a"

// Next returns the prompt at seq modulo the set's size.
func (p *PromptSet) Next(_ int, seq uint64) Request {
	return p.reqs[seq%uint64(len(p.reqs))]
}

// Len returns the number of distinct prompts.
func (p *PromptSet) Len() int { return len(p.reqs) }

const systemPrompt = "You are the customer-service assistant of Northwind Outfitters, an online outdoor shop. " +
	"Answer briefly and use the tools to look up orders, shipments and products."

var (
	orderTemplates = []string{
		"Where is my order #%d?",
		"What's the status of order %d?",
		"Has order %d shipped yet?",
		"I ordered a tent last week, order number %d. When will it arrive?",
		"hi, can you check order %d for me",
		"Order %d still says processing. Is something wrong?",
		"Is my order %d going to make it before the weekend?",
	}
	trackingTemplates = []string{
		"Can I get the tracking number for order %d?",
		"The tracking for order %d hasn't updated in three days.",
		"Which carrier is delivering order %d?",
		"My parcel for order %d shows delivered but I don't have it.",
	}
	returnTemplates = []string{
		"I want to return the %s from order %d, it's too small.",
		"How do I send back the %s I got in order %d?",
		"The %s in order %d arrived damaged. Can I get a refund?",
		"Can I exchange the %s from order %d for a bigger size?",
	}
	productTemplates = []string{
		"Is the %s waterproof?",
		"Does the %s come in other colours?",
		"Do you have the %s in stock in size %s?",
		"What's the difference between the %s and the %s?",
		"How heavy is the %s?",
	}
	smallTalk = []string{
		"Hi there!",
		"Thanks, that's all I needed.",
		"Good morning, how are you today?",
		"Are you a real person?",
		"You've been very helpful, thank you.",
		"hello?",
		"Can I talk to a human please?",
	}
	products = []string{
		"Ridgeline 2 tent", "Alpine down jacket", "Trailblazer hiking boots", "Summit 45L backpack",
		"Cascade rain shell", "Basecamp sleeping bag", "Nimbus trail runners", "Glacier fleece",
		"Trekker poles", "Horizon headlamp",
	}
	sizes = []string{"S", "M", "L", "XL", "42", "44", "10"}
)

// prompt draws one prompt. The mix leans on order questions, as a shop's
// traffic does; order numbers are handed out in increasing order.
func prompt(rng *rand.Rand, order *int) (label, text string) {
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	nextOrder := func() int { n := *order; *order++; return n }
	switch r := rng.IntN(100); {
	case r < 35:
		return LabelOrderStatus, fmt.Sprintf(pick(orderTemplates), nextOrder())
	case r < 55:
		return LabelTracking, fmt.Sprintf(pick(trackingTemplates), nextOrder())
	case r < 70:
		return LabelReturns, fmt.Sprintf(pick(returnTemplates), pick(products), nextOrder())
	case r < 90:
		t := pick(productTemplates)
		switch t {
		case productTemplates[2]:
			return LabelProduct, fmt.Sprintf(t, pick(products), pick(sizes))
		case productTemplates[3]:
			return LabelProduct, fmt.Sprintf(t, pick(products), pick(products))
		}
		return LabelProduct, fmt.Sprintf(t, pick(products))
	default:
		return LabelSmallTalk, pick(smallTalk)
	}
}
