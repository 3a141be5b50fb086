package ledger

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	m.Usage("support", "small", "free", 1200, 80, 1000, 195_000)
	m.Usage("support", "small", "free", 100, 20, 0, 5_000)
	m.Usage("", "large", "vip", -1, 0, 0, -5) // a dropped record's nonsense is ignored
	m.Records(OutcomeWritten, 3)

	assert.InDelta(t, 0.0002, testutil.ToFloat64(m.cost.WithLabelValues("support", "small", "free")), 1e-12)
	assert.Equal(t, 1300.0, testutil.ToFloat64(m.tokens.WithLabelValues("support", "small", "free", "in")))
	assert.Equal(t, 100.0, testutil.ToFloat64(m.tokens.WithLabelValues("support", "small", "free", "out")))
	assert.Equal(t, 1000.0, testutil.ToFloat64(m.tokens.WithLabelValues("support", "small", "free", "cached")))
	assert.Equal(t, 3.0, testutil.ToFloat64(m.records.WithLabelValues("written")))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.records.WithLabelValues("dropped")), "present before the first drop")

	// No label takes a user's or a tenant's value.
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP floodgate_usage_cost_usd_total Cost of model calls in USD at the configured prices, by agent (empty for plain chat completions), model and tenant tier.
# TYPE floodgate_usage_cost_usd_total counter
floodgate_usage_cost_usd_total{agent="",model="large",tier="vip"} 0
floodgate_usage_cost_usd_total{agent="support",model="small",tier="free"} 0.0002
`), "floodgate_usage_cost_usd_total"))

	_, err = NewMetrics(reg)
	assert.Error(t, err, "registering twice")
}
