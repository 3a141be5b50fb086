package intent

import (
	"context"
	"slices"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user plus system CPU time: on a shared box,
// CPU per operation is steadier than wall time per operation.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRules classifies the labelled messages in turn with the rule
// stage and reports, besides the mean ns/op, the median and 99th
// percentile of single classifications (each timed on its own, so they
// include ~20-40 ns of clock reads).
func BenchmarkRules(b *testing.B) {
	c, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	samples := loadSamples(b, "labelled.tsv")
	texts := make([]string, len(samples))
	for i, s := range samples {
		texts[i] = s.text
	}
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		t0 := time.Now()
		_ = c.Rules(texts[i%len(texts)], "")
		if len(lat) < cap(lat) {
			lat = append(lat, time.Since(t0))
		}
		i++
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkRulesOrder is the post-mortem's most common message.
func BenchmarkRulesOrder(b *testing.B) {
	c, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Rules("Where is my order 100123?", "")
	}
}

// BenchmarkClassifyCached is a turn classified again (a tool loop's later
// steps): a cache hit.
func BenchmarkClassifyCached(b *testing.B) {
	c, err := New(Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	in := Input{SessionID: "s-1", Turn: 3, Text: "Where is my order 100123?"}
	c.Classify(context.Background(), in)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Classify(context.Background(), in)
	}
}
