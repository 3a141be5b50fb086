package shop

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/sim"
)

// demoTool is one of the demo agents' HTTP tools as the default config
// declares it: what the model sees, and the request the engine makes.
type demoTool struct {
	name, description, parameters string
	method, path                  string // path template: {arg} takes a path-escaped argument
	query                         []string
	body                          bool // POST the arguments as the JSON body
}

// demoTools are declared in the order the sim needs: it takes the first
// product tool whose required parameters it can fill, and it fills a "sku"
// with the search words when the message has no SKU, so search_products
// must come before get_product. The category is a plain string, not an
// enum: the sim fills an enum with any value the message contains, and
// "headphones" contains "phones".
var demoTools = []demoTool{
	{
		name:        "get_order_status",
		description: "Look up an order by its order number: status, items, total and a shipment summary. Use it for questions about an order.",
		parameters:  `{"type":"object","properties":{"order_id":{"type":"string","description":"The order number, six digits, e.g. 100123"}},"required":["order_id"]}`,
		method:      "GET", path: "/orders/{order_id}",
	},
	{
		name:        "track_shipment",
		description: "Track the shipment of an order: carrier, tracking number, delivery status, estimated delivery date and the last scan with its location.",
		parameters:  `{"type":"object","properties":{"order_id":{"type":"string","description":"The order number, six digits, e.g. 100123"}},"required":["order_id"]}`,
		method:      "GET", path: "/orders/{order_id}/shipment",
	},
	{
		name:        "search_products",
		description: "Search the product catalog by words (name, category, description) or SKU; returns matching products with price and stock.",
		parameters:  `{"type":"object","properties":{"query":{"type":"string","description":"Search words or a SKU, e.g. running shoes"},"category":{"type":"string","description":"Optional category to search in: audio, computing, phones, home, kitchen, shoes, sports, outdoor, clothing or toys"}},"required":["query"]}`,
		method:      "GET", path: "/products", query: []string{"query:q", "category:category"},
	},
	{
		name:        "get_product",
		description: "Get one product by its SKU (such as AUD-10001): name, price, stock and description.",
		parameters:  `{"type":"object","properties":{"sku":{"type":"string","description":"The SKU, e.g. AUD-10001"}},"required":["sku"]}`,
		method:      "GET", path: "/products/{sku}",
	},
	{
		name:        "create_return",
		description: "Start a return and refund for a delivered order (within 30 days of delivery). Returns the return number, status and refund amount.",
		parameters:  `{"type":"object","properties":{"order_id":{"type":"string","description":"The order number, six digits, e.g. 100123"},"reason":{"type":"string","description":"Why the customer returns it, in their words"}},"required":["order_id","reason"]}`,
		method:      "POST", path: "/returns", body: true,
	},
	{
		name:        "get_return_status",
		description: "Get the status and refund amount of a return by its return number (such as R-500001).",
		parameters:  `{"type":"object","properties":{"return_id":{"type":"string","description":"The return number, e.g. R-500001"}},"required":["return_id"]}`,
		method:      "GET", path: "/returns/{return_id}",
	},
}

func llmTools() []llm.Tool {
	out := make([]llm.Tool, len(demoTools))
	for i, d := range demoTools {
		out[i] = llm.Tool{Type: "function", Function: llm.FunctionDecl{Name: d.name, Description: d.description, Parameters: json.RawMessage(d.parameters)}}
	}
	return out
}

// call runs a tool call against the shop the way an HTTP tool does and
// returns the response body, which becomes the tool message.
func call(t *testing.T, s *Shop, c llm.ToolCall) string {
	t.Helper()
	var args map[string]string
	require.NoError(t, json.Unmarshal([]byte(c.Function.Arguments), &args))
	for _, d := range demoTools {
		if d.name != c.Function.Name {
			continue
		}
		path := d.path
		for k, v := range args {
			path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
		}
		q := url.Values{}
		for _, m := range d.query {
			arg, param, _ := strings.Cut(m, ":")
			if v := args[arg]; v != "" {
				q.Set(param, v)
			}
		}
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		body := ""
		if d.body {
			body = c.Function.Arguments
		}
		return string(do(t, s, d.method, path, body).body)
	}
	t.Fatalf("unknown tool %s", c.Function.Name)
	return ""
}

func newTestSim(t *testing.T) *sim.Sim {
	t.Helper()
	m, err := sim.New(sim.Config{
		Models:     []sim.Model{{Name: "large"}}, // accuracy 1: always the right tool
		TimeScale:  sim.NoDelay,
		WanderRate: -1,
	})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	return m
}

func complete(t *testing.T, m *sim.Sim, msgs []llm.Message) llm.Message {
	t.Helper()
	body, err := json.Marshal(llm.Request{Model: "large", Messages: msgs, Tools: llmTools()})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body)))
	require.Equal(t, http.StatusOK, rec.Code, "sim: %s", rec.Body)
	var resp llm.Response
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
	require.Len(t, resp.Choices, 1)
	return resp.Choices[0].Message
}

const system = "You are the customer-service agent of the demo shop."

// TestSimPicksShopTools checks that the simulated model, offered the demo
// tools, calls the intended one with the intended arguments.
func TestSimPicksShopTools(t *testing.T) {
	m := newTestSim(t)
	tests := []struct {
		give string
		want string // "name arguments; …"; "" means no call
	}{
		{"Where is my order 100123?", `get_order_status {"order_id":"100123"}`},
		{"What's the status of order #102950?", `get_order_status {"order_id":"102950"}`},
		{"Can you track the delivery of order 102870?", `track_shipment {"order_id":"102870"}`},
		{"When will my parcel for 102870 arrive?", `track_shipment {"order_id":"102870"}`},
		{"I want to return order 102500, the tent is too small.", `create_return {"order_id":"102500","reason":"I want to return order 102500, the tent is too small."}`},
		{"Do you have running shoes?", `search_products {"query":"running shoes"}`},
		{"Do you sell noise cancelling headphones?", `search_products {"query":"noise cancelling headphones"}`},
		{"Is AUD-10001 in stock?", `search_products {"query":"AUD-10001"}`},
		{"I'd like a refund", ""}, // asks for the order number
		// The sim has no return-number entity: it cannot fill return_id, so
		// it asks for an order number (a real model calls get_return_status).
		{"What is the status of my return R-500001?", ""},
		// ...and with an order number, "status" and "return" read as two
		// requests: the order's status and a new return (which the shop
		// refuses with 409 when the order has one already).
		{"What is the status of the return for order 102500?", `get_order_status {"order_id":"102500"}; ` +
			`create_return {"order_id":"102500","reason":"What is the status of the return for order 102500?"}`},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			msg := complete(t, m, []llm.Message{
				{Role: llm.RoleSystem, Content: llm.Text(system)},
				{Role: llm.RoleUser, Content: llm.Text(tt.give)},
			})
			var calls []string
			for _, c := range msg.ToolCalls {
				calls = append(calls, c.Function.Name+" "+c.Function.Arguments)
			}
			got := strings.Join(calls, "; ")
			assert.Equal(t, tt.want, got, "reply: %s", msg.Content.String())
			if tt.want == "" {
				assert.NotEmpty(t, msg.Content.String(), "a reply without a call says something")
			}
		})
	}
}

// TestSimAnswersFromShop runs whole turns: the sim calls a tool, the shop
// answers over its HTTP API, and the sim's answer quotes the shop's ground
// truth.
func TestSimAnswersFromShop(t *testing.T) {
	s := newShop(t, Config{})
	m := newTestSim(t)
	ctx := context.Background()
	order, err := s.Order(ctx, 100123)
	require.NoError(t, err)
	inTransit := idsWith(t, s, StatusInTransit, 1)[0]
	ship, err := s.Shipment(ctx, inTransit)
	require.NoError(t, err)
	eligible := deliveredWithin(t, s, 1, 20, 1)[0]
	elig, err := s.Order(ctx, eligible)
	require.NoError(t, err)
	shoes, err := s.Product(ctx, "SHO-15000")
	require.NoError(t, err)

	tests := []struct {
		name     string
		give     string
		wantCall string
		wantSays []string
	}{
		{"order status", "Where is my order 100123?", "get_order_status", []string{"100123", order.Status, order.Total.String() + " EUR"}},
		{"tracking", "Can you track the delivery of order " + strconv.Itoa(inTransit) + "?", "track_shipment", []string{ship.Status, ship.ETA, ship.Carrier, ship.TrackingNumber}},
		{"return", "I want to return order " + strconv.Itoa(eligible) + ", it arrived damaged.", "create_return", []string{"R-", ReturnRequested, elig.Total.String() + " EUR"}},
		{"products", "Do you have running shoes?", "search_products", []string{shoes.Name, shoes.Price.String() + " EUR"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := []llm.Message{
				{Role: llm.RoleSystem, Content: llm.Text(system)},
				{Role: llm.RoleUser, Content: llm.Text(tt.give)},
			}
			reply := complete(t, m, msgs)
			require.Len(t, reply.ToolCalls, 1, "reply: %s", reply.Content.String())
			c := reply.ToolCalls[0]
			assert.Equal(t, tt.wantCall, c.Function.Name)
			result := call(t, s, c)
			msgs = append(msgs, reply, llm.Message{Role: llm.RoleTool, ToolCallID: c.ID, Content: llm.Text(result)})
			answer := complete(t, m, msgs)
			require.Empty(t, answer.ToolCalls)
			for _, want := range tt.wantSays {
				assert.Contains(t, answer.Content.String(), want, "tool result: %s", result)
			}
		})
	}
}

// TestSimDefaultModels: the sim's default models, as floodgate serve runs
// them, make the call of the example too.
func TestSimDefaultModels(t *testing.T) {
	m, err := sim.New(sim.Config{TimeScale: sim.NoDelay})
	require.NoError(t, err)
	t.Cleanup(m.Close)
	for _, model := range []string{"large", "small"} {
		body, err := json.Marshal(llm.Request{Model: model, Tools: llmTools(), Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: llm.Text(system)},
			{Role: llm.RoleUser, Content: llm.Text("Where is my order 100123?")},
		}})
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/v1/chat/completions", bytes.NewReader(body)))
		require.Equal(t, http.StatusOK, rec.Code)
		var resp llm.Response
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &resp))
		require.Len(t, resp.Choices[0].Message.ToolCalls, 1, model)
		c := resp.Choices[0].Message.ToolCalls[0].Function
		assert.Equal(t, "get_order_status", c.Name, model)
		assert.JSONEq(t, `{"order_id":"100123"}`, c.Arguments, model)
	}
}
