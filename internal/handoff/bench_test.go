package handoff

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// BenchmarkActiveFor measures the engine's per-message question "is this
// session handed off?" against each backend, with 1,000 tickets stored
// and the asked session not handed off (the common case). It reports
// µs/op.
func BenchmarkActiveFor(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			s, _ := newService(b, be.open(b), &recorder{}, nil)
			for i := range 1000 {
				if _, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "s" + strconv.Itoa(i)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, _, err := s.ActiveFor(ctx, "acme", "free"+strconv.Itoa(i%1000)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
		})
	}
}

// BenchmarkOpen measures filing a ticket (store and publish to a recorder)
// on each backend. It reports µs/op.
func BenchmarkOpen(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			ctx := context.Background()
			s, _ := newService(b, be.open(b), &recorder{}, func(c *Config) { c.Now = time.Now })
			turns := []Turn{{Role: "user", Content: "where is my order 100123"}, {Role: "assistant", Content: "Let me check."}}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := s.Open(ctx, Ticket{Tenant: "acme", Session: "b" + strconv.Itoa(i), Priority: 2, Turns: turns}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/op")
		})
	}
}
