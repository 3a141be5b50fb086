package degrade

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsCountRungs(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	again, err := NewMetrics(reg)
	require.NoError(t, err, "a second NewMetrics shares the registered counters")

	l, err := New(Config{}, Options{Agent: "support", SmallModel: "small", Metrics: m})
	require.NoError(t, err)
	fr := &fakeRungs{}
	l.Climb(context.Background(), Situation{Trigger: ModelError, Handoff: true}, fr.rungs())
	fr = &fakeRungs{answer: map[Kind]string{KindRules: "ok"}}
	l.Climb(context.Background(), Situation{Trigger: Shed}, fr.rungs())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	l.Climb(ctx, Situation{Trigger: Shed}, fr.rungs())

	want := `
# HELP floodgate_degrade_rungs_total Rungs of the degradation ladder tried, by agent, rung kind, trigger (reason) and outcome.
# TYPE floodgate_degrade_rungs_total counter
floodgate_degrade_rungs_total{agent="support",outcome="answered",reason="model_error",rung="message"} 1
floodgate_degrade_rungs_total{agent="support",outcome="answered",reason="shed",rung="message"} 1
floodgate_degrade_rungs_total{agent="support",outcome="answered",reason="shed",rung="rules"} 1
floodgate_degrade_rungs_total{agent="support",outcome="failed",reason="model_error",rung="handoff"} 1
floodgate_degrade_rungs_total{agent="support",outcome="failed",reason="model_error",rung="model"} 1
floodgate_degrade_rungs_total{agent="support",outcome="failed",reason="model_error",rung="rules"} 1
floodgate_degrade_rungs_total{agent="support",outcome="skipped",reason="shed",rung="rules"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want), "floodgate_degrade_rungs_total"))
	assert.Same(t, m.rungs, again.rungs)

	// An unknown trigger is counted under a bounded label.
	l.Climb(context.Background(), Situation{Trigger: "user-supplied-junk"}, fr.rungs())
	assert.Equal(t, 1.0, testutil.ToFloat64(m.rungs.WithLabelValues("support", "message", "unknown", "answered")))
}
