package rules

import (
	"context"
	"encoding/json"
	"testing"
)

// BenchmarkAnswer measures the rules engine's own cost per message: match,
// argument extraction, expressions and rendering around a fake tool that
// answers at once with a real order of the demo shop. It reports µs/op,
// and cpu-µs/op, the process's CPU time per answer, which a loaded
// machine does not inflate (run it with -cpu 1).
func BenchmarkAnswer(b *testing.B) {
	r, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	result := json.RawMessage(`{"order_id":100123,"status":"in_transit","placed_at":"2026-11-20","customer":"Ada Lovelace",` +
		`"email":"ada@example.com","items":[{"sku":"AUD-10001","name":"Studio Headphones","quantity":1,"price":129.90}],` +
		`"total":129.90,"currency":"EUR","shipment":{"carrier":"DHL","tracking_number":"123456789012","status":"in_transit","eta":"2026-11-29"}}`)
	tools := ToolFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) { return result, nil })
	benches := []struct {
		name string
		in   Input
	}{
		{"pattern", Input{Message: "Hi, where is my order 100123? It has been a week."}},
		{"intent", Input{Message: "Hi, where is my order 100123? It has been a week.", Intent: "order_status"}},
		{"de", Input{Message: "Wo ist meine Bestellung 100123?", Lang: "de"}},
		{"no_match", Input{Message: "Can you recommend wireless headphones under 100 euros?"}},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			ctx := context.Background()
			if _, err := r.Answer(ctx, tools, bb.in); err != nil && bb.name != "no_match" {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				_, _ = r.Answer(ctx, tools, bb.in)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkCompile measures loading the built-in rules file.
func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(DefaultYAML); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
}
