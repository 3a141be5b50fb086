package promptfilter

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// typicalMessages are the ordinary user messages of the dev corpus: the
// traffic the filter sees almost all the time.
func typicalMessages(b *testing.B) []string {
	var out []string
	for _, s := range loadCorpus(b, "dev") {
		if !s.injection() && s.Source == "user" {
			out = append(out, s.Text)
		}
	}
	return out
}

// BenchmarkScan measures the rule stage's added latency on typical
// messages: ns/op is the mean per message; p50-ns and p99-ns are the
// median and 99th percentile of single scans. The bar is a median of at
// most 100 µs.
func BenchmarkScan(b *testing.B) {
	msgs := typicalMessages(b)
	d := NewDetector(0)
	for _, m := range msgs { // warm the pools
		d.Scan(m, SourceUser)
	}
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		m := msgs[i%len(msgs)]
		i++
		t0 := time.Now()
		d.Scan(m, SourceUser)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
	}
	reportPercentiles(b, lat)
}

// BenchmarkScanInjections is BenchmarkScan on the injections, which do
// more work (decoding, more hits).
func BenchmarkScanInjections(b *testing.B) {
	var msgs []string
	for _, s := range loadCorpus(b, "dev") {
		if s.injection() {
			msgs = append(msgs, s.Text)
		}
	}
	d := NewDetector(0)
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := msgs[i%len(msgs)]
		i++
		t0 := time.Now()
		d.Scan(m, SourceUser)
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	p50 := lat[len(lat)/2]
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
	if p50 > 100*time.Microsecond && len(lat) > 100 {
		b.Errorf("median scan %v, over the 100 µs bar", p50)
	}
}

// BenchmarkCheck measures Filter.Check on a typical three-turn request.
func BenchmarkCheck(b *testing.B) {
	f, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	msgs := []llm.Message{
		{Role: llm.RoleSystem, Content: llm.Text("You are the support agent of a shop.")},
		{Role: llm.RoleUser, Content: llm.Text("Hi, where is my order #48213? It was supposed to arrive yesterday.")},
		{Role: llm.RoleAssistant, Content: llm.Text("Your order shipped on Monday with DHL.")},
		{Role: llm.RoleUser, Content: llm.Text("The tracking says delivered but there is nothing at my door. Can you check with the courier?")},
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if v := f.Check(ctx, "acme", msgs); v.Blocked() {
			b.Fatal("blocked")
		}
	}
}

// BenchmarkScanMax measures a tool result at the scan limit (32 KiB).
func BenchmarkScanMax(b *testing.B) {
	page := strings.Repeat("Product review: the kettle boils fast, the lid is sturdy and the instructions are clear. ", 400)[:DefaultMaxScanBytes]
	d := NewDetector(0)
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	for b.Loop() {
		d.Scan(page, SourceTool)
	}
}
