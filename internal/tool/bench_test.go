package tool

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

var benchCalls = []llm.ToolCall{
	toolCall("call_1", "get_order", `{"order_id":"100001"}`),
	toolCall("call_2", "track_shipment", `{"order_id":"100001","carrier":"DHL"}`),
	toolCall("call_3", "search_products", `{"query":"wireless headphones","limit":3}`),
}

const benchResult = `{"order_id":"100001","status":"shipped","carrier":"DHL","tracking_number":"1Z999AA10123456784",` +
	`"estimated_delivery":"2025-06-12","items":[{"sku":"HP-2001","name":"Wireless headphones","qty":1,"price":"89.90"}],` +
	`"total":"89.90","currency":"EUR"}`

func benchRegistry(b *testing.B, tools ...Tool) *Registry {
	b.Helper()
	return newRegistry(b, RegistryConfig{Tools: tools})
}

func instantTools(b *testing.B) []Tool {
	var out []Tool
	for _, n := range []string{"get_order", "track_shipment", "search_products"} {
		out = append(out, newFake(b, n, "", func(context.Context, json.RawMessage) (Result, error) {
			return Result{Content: []byte(benchResult)}, nil
		}))
	}
	return out
}

// BenchmarkRunnerExecuteCached: a model turn whose three calls are all
// answered from the run-local cache — the governance alone.
func BenchmarkRunnerExecuteCached(b *testing.B) {
	reg := benchRegistry(b, instantTools(b)...)
	ru := reg.NewRunner([]string{"get_order", "track_shipment", "search_products"}, Limits{MaxCalls: math.MaxInt})
	ru.Execute(context.Background(), benchCalls, nil)
	b.ReportAllocs()
	for b.Loop() {
		ru.Execute(context.Background(), benchCalls, nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(benchCalls)), "ns/call")
}

// BenchmarkRunnerExecuteInstant: a new run's first turn with three calls
// of in-process tools that answer at once: NewRunner, canonicalisation,
// breakers, parallel execution and envelopes, with no I/O.
func BenchmarkRunnerExecuteInstant(b *testing.B) {
	reg := benchRegistry(b, instantTools(b)...)
	names := []string{"get_order", "track_shipment", "search_products"}
	b.ReportAllocs()
	for b.Loop() {
		ru := reg.NewRunner(names, Limits{})
		ru.Offer()
		ru.Execute(context.Background(), benchCalls, nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(benchCalls)), "ns/call")
}

// BenchmarkRunnerExecuteHTTP: three HTTP tool calls of a new run to a
// loopback server, in parallel.
func BenchmarkRunnerExecuteHTTP(b *testing.B) {
	u := newUpstream(b, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, benchResult) })
	var cfgs []HTTPConfig
	for _, n := range []string{"get_order", "track_shipment", "search_products"} {
		cfgs = append(cfgs, HTTPConfig{Name: n, URL: u.URL + "/" + n, Parameters: json.RawMessage(`{"type":"object"}`)})
	}
	reg := newRegistry(b, RegistryConfig{HTTP: cfgs})
	names := []string{"get_order", "track_shipment", "search_products"}
	b.ReportAllocs()
	for b.Loop() {
		ru := reg.NewRunner(names, Limits{})
		ru.Execute(context.Background(), benchCalls, nil)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/turn")
}

func BenchmarkRunnerOffer(b *testing.B) {
	reg := benchRegistry(b, instantTools(b)...)
	ru := reg.NewRunner([]string{"get_order", "track_shipment", "search_products", EscalateName}, Limits{})
	b.ReportAllocs()
	for b.Loop() {
		ru.Offer()
	}
}

func BenchmarkCanonical(b *testing.B) {
	args := []byte(`{"query": "wireless headphones", "limit": 3, "filters": {"price_max": 100, "brand": "Acme"}}`)
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(args)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = canonical(buf[:0], args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelope(b *testing.B) {
	tests := []struct {
		name    string
		content string
	}{
		{"json", benchResult},
		{"text", strings.Repeat("Your order ships today. ", 20)},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			buf := make([]byte, 0, 4096)
			content := []byte(tt.content)
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _, _ = appendEnvelope(buf[:0], "get_order", content, false, false, DefaultMaxResultBytes)
			}
		})
	}
}
