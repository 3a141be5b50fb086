package ctxwindow

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// shopTurn is a realistic stored turn: a question, a get_order_status call
// with the demo shop's answer, and the agent's reply.
func shopTurn(seq int64, order int) store.Turn {
	id := fmt.Sprintf("call_%d", seq)
	data := fmt.Sprintf(`{"order_id":%d,"status":"in_transit","placed_at":"2026-11-%02d","customer":"Jane Doe","email":"jane%d@example.com",`+
		`"items":[{"sku":"AUD-1%04d","name":"Wireless Headphones Pro","quantity":1,"price":129.90},{"sku":"HOM-1%04d","name":"Desk Lamp","quantity":2,"price":24.50}],`+
		`"total":178.90,"currency":"EUR","shipment":{"carrier":"UPS","tracking_number":"1Z999AA1%010d","status":"in_transit","eta":"2026-12-0%d"}}`,
		order, 1+seq%28, seq, seq, seq, order, 1+seq%9)
	return store.Turn{ID: fmt.Sprintf("run_%d", seq), Seq: seq, Agent: "support", Messages: []llm.Message{
		user(fmt.Sprintf("Where is my order %d? I need it before the weekend.", order)),
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: id, Type: "function",
			Function: llm.FunctionCall{Name: "get_order_status", Arguments: fmt.Sprintf(`{"order_id":"%d"}`, order)}}}},
		{Role: llm.RoleTool, ToolCallID: id, Content: llm.Text(`{"type":"tool_result","tool":"get_order_status","data":` + data + `,"is_error":false,"truncated":false}`)},
		assistant(fmt.Sprintf("Your order %d is in transit with UPS (tracking 1Z999AA1%010d) and should arrive on 2026-12-0%d.", order, order, 1+seq%9)),
	}}
}

// shopTools are the tools the demo support agent offers.
var shopTools = []llm.Tool{
	{Type: "function", Function: llm.FunctionDecl{Name: "get_order_status", Description: "Look up an order by its order number: status, items, total and a shipment summary.",
		Parameters: []byte(`{"type":"object","properties":{"order_id":{"type":"string","description":"The 6-digit order number, e.g. 100123."}},"required":["order_id"]}`)}},
	{Type: "function", Function: llm.FunctionDecl{Name: "track_shipment", Description: "Track the shipment of an order: carrier, tracking number, delivery status and ETA.",
		Parameters: []byte(`{"type":"object","properties":{"order_id":{"type":"string","description":"The 6-digit order number, e.g. 100123."}},"required":["order_id"]}`)}},
	{Type: "function", Function: llm.FunctionDecl{Name: "transfer_to_after_sales", Description: "Returns, refunds, damaged or wrong items.",
		Parameters: []byte(`{"type":"object","properties":{"reason":{"type":"string"}}}`)}},
}

// BenchmarkTurnContext measures what context management adds to one turn
// of a long conversation (turn 41; 30 turns summarised, 10 in the store
// after the summary, 24 facts pinned): reading the facts and pinning the
// new message's, rendering the blocks, and the windows of the turn's two
// model calls (the question, then with a tool result), as the engine does
// them. Every iteration's question and tool result are new text, so token
// counting and extraction pay for them as a live turn does. It reports
// the p50 and p99 of one turn in wall-clock time, and in CPU time of the
// thread doing it (GC assists included), which a loaded machine's
// scheduler does not inflate.
func BenchmarkTurnContext(b *testing.B) {
	m, err := New(Config{Agent: "support", Model: "large", SummaryModel: "small"})
	if err != nil {
		b.Fatal(err)
	}
	var f Facts
	for i := range 24 {
		m.Mention(&f, shopTurn(int64(i+1), 100001+i).Messages[:1], int64(i+1))
	}
	stored := f.Encode()
	hist := make([]store.Turn, 10)
	for i := range hist {
		hist[i] = shopTurn(int64(31+i), 100001+i%7)
	}
	summary := "The customer asked about the status of several orders and their deliveries, wants to return an item and get a refund, and asked about wireless headphones. No other requests were made, and nothing else is pending."
	instr := "You are the customer service assistant of an online shop. Answer questions about orders and deliveries using the tools; never guess an order's status. Be brief and friendly."
	// Servers load the encodings at start (tokenizer.Counter.Load).
	m.Count(hist[0].Messages, shopTools)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var dst []llm.Message
	wall := make([]time.Duration, 0, 1<<16)
	cpu := make([]time.Duration, 0, 1<<16)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		next := shopTurn(41, 200000+n) // new text every turn
		c0, t0 := threadCPU(), time.Now()

		facts, _ := m.Facts(stored, 30, hist)
		cur := next.Messages[:1:1]
		m.Mention(facts, cur, 41)
		m.BoundFacts(facts)
		sys := instr + "\n\n" + Blocks(facts, summary)
		w, err := m.Build(&Input{System: sys, Tools: shopTools, History: hist, Current: cur}, dst)
		if err != nil {
			b.Fatal(err)
		}
		dst = w.Messages
		cur = next.Messages[:3]
		m.Mention(facts, cur[2:], 41) // the tool result's pinned fields
		w, err = m.Build(&Input{System: sys, Tools: shopTools, History: hist, Current: cur}, dst)
		if err != nil {
			b.Fatal(err)
		}
		dst = w.Messages
		m.Job("t1", "s1", 30, 41, w)

		wall = append(wall, time.Since(t0))
		cpu = append(cpu, threadCPU()-c0)
	}
	b.ReportMetric(pct(wall, 50), "p50-µs/turn")
	b.ReportMetric(pct(wall, 99), "p99-µs/turn")
	b.ReportMetric(pct(cpu, 50), "p50-cpu-µs/turn")
	b.ReportMetric(pct(cpu, 99), "p99-cpu-µs/turn")
}

// BenchmarkSchedulerControl measures, as BenchmarkTurnContext does, a
// plain CPU-bound step of about the same CPU time (SHA-256 over 48 KiB).
// It is the control for reading BenchmarkTurnContext's wall-clock p99 on a
// shared machine: when both p99s are close, the tail is the scheduler's,
// not context management's.
func BenchmarkSchedulerControl(b *testing.B) {
	buf := make([]byte, 48<<10)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	wall := make([]time.Duration, 0, 1<<16)
	cpu := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		c0, t0 := threadCPU(), time.Now()
		sum := sha256.Sum256(buf)
		buf[0] = sum[0]
		wall = append(wall, time.Since(t0))
		cpu = append(cpu, threadCPU()-c0)
	}
	b.ReportMetric(pct(wall, 50), "p50-µs/turn")
	b.ReportMetric(pct(wall, 99), "p99-µs/turn")
	b.ReportMetric(pct(cpu, 50), "p50-cpu-µs/turn")
	b.ReportMetric(pct(cpu, 99), "p99-cpu-µs/turn")
}

// pct returns the p-th percentile of ds in microseconds.
func pct(ds []time.Duration, p int) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return float64(s[min(len(s)-1, len(s)*p/100)].Nanoseconds()) / 1e3
}

// BenchmarkBuild measures one window over ten stored turns, all counted
// before (the steady state of a conversation's later calls).
func BenchmarkBuild(b *testing.B) {
	m, err := New(Config{Agent: "support", Model: "large"})
	if err != nil {
		b.Fatal(err)
	}
	hist := make([]store.Turn, 10)
	for i := range hist {
		hist[i] = shopTurn(int64(i+1), 100001+i)
	}
	cur := shopTurn(11, 100500).Messages[:3]
	in := &Input{System: "You are the shop's assistant.", Tools: shopTools, History: hist, Current: cur}
	var dst []llm.Message
	b.ReportAllocs()
	for b.Loop() {
		w, err := m.Build(in, dst)
		if err != nil {
			b.Fatal(err)
		}
		dst = w.Messages
	}
}
