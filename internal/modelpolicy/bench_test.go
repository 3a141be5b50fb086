package modelpolicy

import (
	"syscall"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/intent"
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

// BenchmarkChoose is one choice with a window to check and a repeat to
// measure: the most work Choose does.
func BenchmarkChoose(b *testing.B) {
	p, err := New(postMortem())
	if err != nil {
		b.Fatal(err)
	}
	in := Input{
		Complexity: intent.Standard, Tier: "standard", Load: 0.3, Now: time.Date(2025, 11, 28, 12, 0, 0, 0, time.UTC),
		UserText: "Where is my order 100123??", Previous: Previous{Model: "small", UserText: "where is my order 100124"},
	}
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		_ = p.Choose(in)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

func BenchmarkSimilarity(b *testing.B) {
	b.ReportAllocs()
	cpu := cpuTime()
	for b.Loop() {
		_ = Similarity("where is my order 100123", "Hello? Where is my order 100123???")
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
