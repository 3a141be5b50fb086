package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/load"
	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
)

// BenchmarkOverload is issue 5's overload bar: agent runs of the demo
// support agent offered at twice what the sim endpoints can serve, from
// three tenants — 10 % vip, 60 % standard, 30 % free — through the whole
// serve path (rate limits, admission, engine, demo shop, router, sims with
// a requests-per-minute capacity). It reports per tier the share served
// by the agent, the share degraded (shed or past the queue deadline) or
// refused, the p99 and the longest wait of any request.
//
// Run: go test ./cmd/floodgate -run '^$' -bench Overload -benchtime 1x
// (OVERLOAD_DURATION=60s to lengthen the 30 s window).
func BenchmarkOverload(b *testing.B) {
	const (
		timeScale = 0.5
		// Each of the two sim endpoints serves 1,200 calls a minute per
		// model: 40 calls/s of the large model, which the support agent
		// uses, about 2 calls a run.
		simRPM    = 1200
		capacity  = 2 * simRPM / 60 / 2.0 // runs/s
		offered   = 2 * capacity
		slots     = 24
		vipKey    = "fg-overload-vip-0123456789"
		stdKey    = "fg-overload-std-0123456789"
		freeKey   = "fg-overload-free-0123456789"
		vipWait   = 8 * time.Second
		stdWait   = 3 * time.Second
		freeWait  = 500 * time.Millisecond
		clientCut = 30 * time.Second
	)
	window := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("OVERLOAD_DURATION")); err == nil {
		window = d
	}
	for b.Loop() {
		base, stop := demoApp(b, b.TempDir(), timeScale, func(c *config.Config) {
			for i := range c.Endpoints {
				c.Endpoints[i].Sim.RPM = simRPM
			}
			// Every turn on the large model, so that the capacity above
			// is what the agents use.
			for i := range c.Agents {
				c.Agents[i].Routing = modelpolicy.Config{SmallModel: "large", LargeModel: "large"}
			}
			c.Tiers["vip"] = config.Tier{MaxN: 1, Priority: 100, QueueDeadline: vipWait}
			c.Tiers["standard"] = config.Tier{MaxN: 1, Priority: 50, QueueDeadline: stdWait}
			c.Tiers["free"] = config.Tier{MaxN: 1, Priority: 10, QueueDeadline: freeWait, Models: []string{"small"}}
			c.Tenants = []config.Tenant{
				{ID: "vip", Tier: "vip", Keys: []string{gateway.HashKey(vipKey)}},
				{ID: "standard", Tier: "standard", Keys: []string{gateway.HashKey(stdKey)}},
				{ID: "free", Tier: "free", Keys: []string{gateway.HashKey(freeKey)}},
			}
			c.Admission.MaxConcurrent = slots
			c.Admission.MaxQueue = 4 * slots
			c.Sessions.Path = b.TempDir() + "/floodgate.db"
			c.Queue.DataDir = b.TempDir() + "/nats"
		})
		r, err := load.Run(context.Background(), load.Config{
			Target: strings.TrimSuffix(base, "/") + "/v1", Agent: "support",
			Keys: []load.Key{{Label: "vip", Key: vipKey, Weight: 0.1}, {Label: "standard", Key: stdKey, Weight: 0.6}, {Label: "free", Key: freeKey, Weight: 0.3}},
			Rate: offered, Warmup: 5 * time.Second, Duration: window, Timeout: clientCut, Seed: 1,
		})
		require.NoError(b, stop())
		require.NoError(b, err)
		deadline := map[string]time.Duration{"vip": vipWait, "standard": stdWait, "free": freeWait}
		for _, tier := range []string{"vip", "standard", "free"} {
			s := r.Keys[tier]
			if s.Requests == 0 {
				b.Fatalf("no %s requests", tier)
			}
			served := float64(s.OK-s.Degraded) / float64(s.Requests) * 100
			b.ReportMetric(served, tier+"-served-%")
			b.ReportMetric(float64(s.Degraded)/float64(s.Requests)*100, tier+"-degraded-%")
			b.ReportMetric(float64(s.Rejected+s.ServerErrors)/float64(s.Requests)*100, tier+"-refused-%")
			b.ReportMetric(float64(s.Timeouts), tier+"-timeouts")
			b.ReportMetric(s.Latency.P99, tier+"-p99-ms")
			b.ReportMetric(s.Wait.Max, tier+"-max-wait-ms")
			b.Logf("%s: %d requests, served %.2f %%, degraded %d %v, 429 %d, 5xx %d, timeouts %d, errors %v; latency p50 %.0f p99 %.0f ms; wait max %.0f ms (queue deadline %s)",
				tier, s.Requests, served, s.Degraded, s.DegradedReasons, s.Rejected, s.ServerErrors, s.Timeouts, s.Errors, s.Latency.P50, s.Latency.P99, s.Wait.Max, deadline[tier])
		}
		b.Logf("offered %.0f runs/s against a capacity of about %.0f; %d requests", offered, capacity, r.Requests)
	}
}
