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

func fn(name, desc, params string) llm.Tool {
	return llm.Tool{Type: "function", Function: llm.FunctionDecl{Name: name, Description: desc, Parameters: json.RawMessage(params)}}
}

const orderParams = `{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}`
const reasonParams = `{"type":"object","properties":{"reason":{"type":"string"}}}`

var (
	orderStatus    = fn("get_order_status", "Look up an order: status, items and total.", orderParams)
	createReturn   = fn("create_return", "Open a return and refund for a delivered order.", `{"type":"object","properties":{"order_id":{"type":"string"},"reason":{"type":"string"}},"required":["order_id","reason"]}`)
	toAfterSales   = fn("transfer_to_after_sales", "Returns, refunds, damaged or wrong items.", reasonParams)
	toRecommend    = fn("transfer_to_recommend", "Product questions, availability and recommendations.", reasonParams)
	escalate       = fn("escalate_to_human", "Hand the conversation to a human agent.", reasonParams)
	envelopeResult = `{"type":"tool_result","tool":"get_order_status","data":{"order_id":"100123","status":"shipped","carrier":"DHL","eta":"2026-12-08"},"is_error":false,"truncated":false}`
)

func TestToolChoiceFallbacks(t *testing.T) {
	s := newSim(t, Config{Seed: 1, Models: []Model{{Name: "m"}}}) // accuracy 1: no deliberate mistakes
	tests := []struct {
		name  string
		input string
		tools []llm.Tool
		want  string
	}{
		{"tracking with only the order tool uses it", "Can you track order 100456 for me?", []llm.Tool{orderStatus},
			`get_order_status {"order_id":"100456"}`},
		{"ordinary tool wins over a handoff", "Where is my order 100123?", []llm.Tool{toAfterSales, orderStatus},
			`get_order_status {"order_id":"100123"}`},
		{"refund without a return tool hands off", "I want a refund for order 100123, it arrived broken.", []llm.Tool{orderStatus, toAfterSales, toRecommend},
			"transfer_to_after_sales"},
		{"product question hands off to recommend", "Do you have wireless headphones in stock?", []llm.Tool{orderStatus, toAfterSales, toRecommend},
			"transfer_to_recommend"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := chat(t, s, &llm.Request{Model: "m", Messages: []llm.Message{user(tt.input)}, Tools: tt.tools})
			got := callsOf(resp)
			require.Len(t, got, 1, resp.Choices[0].Message.Content.String())
			assert.True(t, strings.HasPrefix(got[0], tt.want), "got %s", got[0])
		})
	}
}

// TestAfterHandoffTurnStartsAfresh: once the handoff's result is in, the
// receiving agent's tools serve the same user turn.
func TestAfterHandoffTurnStartsAfresh(t *testing.T) {
	s := newSim(t, Config{Seed: 1, Models: []Model{{Name: "m"}}})
	handoff := llm.ToolCall{ID: "call_h", Type: "function", Function: llm.FunctionCall{Name: "transfer_to_after_sales", Arguments: `{}`}}
	resp := chat(t, s, &llm.Request{Model: "m", Tools: []llm.Tool{orderStatus, createReturn}, Messages: []llm.Message{
		user("I want a refund for order 100123, it arrived broken."),
		calls(handoff),
		toolMsg("call_h", "Transferred to after_sales."),
	}})
	got := callsOf(resp)
	require.Len(t, got, 1, resp.Choices[0].Message.Content.String())
	assert.True(t, strings.HasPrefix(got[0], "create_return "), got[0])
}

func TestWanderingAvoidsHandoffsAndEscalation(t *testing.T) {
	s := newSim(t, Config{Seed: 1, WanderRate: 1, WanderContinue: 1, Models: []Model{{Name: "m"}}})
	call := llm.ToolCall{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"100123"}`}}
	msgs := []llm.Message{user("Where is my order 100123?"), calls(call), toolMsg("call_1", envelopeResult)}
	for range 20 {
		resp := chat(t, s, &llm.Request{Model: "m", Tools: []llm.Tool{escalate, orderStatus, toAfterSales}, Messages: msgs})
		c := resp.Choices[0].Message.ToolCalls
		require.Len(t, c, 1, "wandering at rate 1 always calls")
		assert.Equal(t, "get_order_status", c[0].Function.Name)
		msgs = append(msgs, calls(c[0]), toolMsg(c[0].ID, envelopeResult))
	}

	// With only side-effect tools besides the answered call's, it answers.
	resp := chat(t, s, &llm.Request{Model: "m", Tools: []llm.Tool{escalate, toAfterSales}, Messages: msgs[:3]})
	assert.Empty(t, resp.Choices[0].Message.ToolCalls)
}

func TestAnswersFromEnvelope(t *testing.T) {
	s := newSim(t, Config{Seed: 1, WanderRate: -1, Models: []Model{{Name: "m"}}})
	call := llm.ToolCall{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"100123"}`}}
	tests := []struct {
		name   string
		result string
		want   []string
	}{
		{"data", envelopeResult, []string{"100123", "shipped", "2026-12-08"}},
		{"domain error", `{"type":"tool_result","tool":"get_order_status","data":{"error":"order not found"},"is_error":true,"truncated":false}`, []string{"100123", "couldn't find"}},
		{"text error", `{"type":"tool_result","tool":"get_order_status","data":"upstream said no","is_error":true}`, []string{"100123", "couldn't find"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := chat(t, s, &llm.Request{Model: "m", Tools: []llm.Tool{orderStatus}, Messages: []llm.Message{
				user("Where is my order 100123?"), calls(call), toolMsg("call_1", tt.result),
			}})
			answer := resp.Choices[0].Message.Content.String()
			for _, w := range tt.want {
				assert.Contains(t, answer, w)
			}
			assert.NotContains(t, answer, "tool_result")
		})
	}
}

// TestMemoBound: the memo keeps bodies and answers within MemoBytes, and
// can be turned off.
func TestMemoBound(t *testing.T) {
	const limit = 256 << 10
	s := newSim(t, Config{Seed: 1, MemoBytes: limit})
	held := func() int {
		n := 0
		for i := range s.memo.shards {
			sh := &s.memo.shards[i]
			for _, m := range []map[uint64]memoEntry{sh.cur, sh.old} {
				for _, e := range m {
					n += entrySize(e)
				}
			}
		}
		return n
	}
	pad := strings.Repeat("x", 2000)
	for i := range 2000 {
		chat(t, s, &llm.Request{Model: "large", Messages: []llm.Message{user(fmt.Sprintf("Where is my order %d? %s", 100001+i, pad))}})
	}
	assert.LessOrEqual(t, held(), limit, "bodies and answers stay within MemoBytes")
	assert.Greater(t, held(), limit/4, "the memo is used")

	off := newSim(t, Config{Seed: 1, MemoBytes: -1})
	chat(t, off, &llm.Request{Model: "large", Messages: []llm.Message{user("hi")}})
	assert.True(t, off.noMemo)
}
