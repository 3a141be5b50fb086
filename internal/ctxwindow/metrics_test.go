package ctxwindow

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	var _ Observer = m
	m.Summarized("support", OutcomeFolded, 20*time.Millisecond)
	m.Summarized("support", OutcomeFolded, 30*time.Millisecond)
	m.Summarized("support", OutcomeError, time.Millisecond)
	m.FactsUnreachable("support", 3)
	m.Overhead("support", 150*time.Microsecond)

	assert.InDelta(t, 2, testutil.ToFloat64(m.summaries.WithLabelValues("support", OutcomeFolded)), 0)
	assert.InDelta(t, 3, testutil.ToFloat64(m.unreachable.WithLabelValues("support")), 0)
	err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP floodgate_context_fact_misses_total Facts of summarised turns that neither the facts block nor the window holds any more (should stay 0).
# TYPE floodgate_context_fact_misses_total counter
floodgate_context_fact_misses_total{agent="support"} 3
`), "floodgate_context_fact_misses_total")
	require.NoError(t, err)
	n, err := testutil.GatherAndCount(reg, "floodgate_context_overhead_seconds", "floodgate_context_summary_duration_seconds")
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Panics(t, func() { NewMetrics(reg) }, "registered twice")
}
