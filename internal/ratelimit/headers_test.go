package ratelimit

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormatReset(t *testing.T) {
	tests := []struct {
		give time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{time.Nanosecond, "1ms"},
		{20 * time.Millisecond, "20ms"},
		{time.Second, "1s"},
		{6 * time.Minute, "6m0s"},
		{2*time.Minute + 59560*time.Millisecond + 1, "2m59.561s"},
		{math.MaxInt64, "2562047h47m16.854775807s"},
	}
	for _, tt := range tests {
		got := FormatReset(tt.give)
		assert.Equal(t, tt.want, got, "%d", tt.give)
		back, err := time.ParseDuration(got)
		require.NoError(t, err, "what OpenAI clients parse")
		assert.GreaterOrEqual(t, back, min(tt.give, math.MaxInt64), "never earlier than the reset")
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	tests := []struct {
		give time.Duration
		want int64
	}{
		{0, 1}, {time.Nanosecond, 1}, {time.Second, 1}, {time.Second + 1, 2}, {90 * time.Second, 90},
		{math.MaxInt64, math.MaxInt64/int64(time.Second) + 1},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, RetryAfterSeconds(tt.give), "%v", tt.give)
	}
}

func TestDecisionSetHeaders(t *testing.T) {
	tests := []struct {
		name string
		give Decision
		want http.Header
	}{
		{
			name: "allowed, both kinds",
			give: Decision{
				Allowed:  true,
				Requests: Status{Limit: 600, Remaining: 599, Reset: 100 * time.Millisecond},
				Tokens:   Status{Limit: 150000, Remaining: 149000, Reset: 400*time.Millisecond + 1},
			},
			want: http.Header{
				"X-Ratelimit-Limit-Requests":     {"600"},
				"X-Ratelimit-Remaining-Requests": {"599"},
				"X-Ratelimit-Reset-Requests":     {"100ms"},
				"X-Ratelimit-Limit-Tokens":       {"150000"},
				"X-Ratelimit-Remaining-Tokens":   {"149000"},
				"X-Ratelimit-Reset-Tokens":       {"401ms"},
			},
		},
		{
			name: "refused on requests only",
			give: Decision{
				RetryAfter: 1500 * time.Millisecond,
				Requests:   Status{Limit: 60, Remaining: 0, Reset: 6 * time.Minute},
			},
			want: http.Header{
				"X-Ratelimit-Limit-Requests":     {"60"},
				"X-Ratelimit-Remaining-Requests": {"0"},
				"X-Ratelimit-Reset-Requests":     {"6m0s"},
				"Retry-After":                    {"2"},
				"Retry-After-Ms":                 {"1500"},
			},
		},
		{name: "nothing consulted", give: Decision{Allowed: true}, want: http.Header{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			tt.give.SetHeaders(h)
			assert.Equal(t, tt.want, h)
		})
	}
}

func TestSpendSetHeaders(t *testing.T) {
	h := http.Header{}
	sp := Spend{State: SoftLimit, Day: SpendStatus{Spent: 1234567, Cap: Cap{Hard: 5e6}}, Month: SpendStatus{Spent: 5}}
	sp.SetHeaders(h)
	assert.Equal(t, http.Header{
		"X-Spend-Day":       {"1.234567"},
		"X-Spend-Day-Limit": {"5.000000"},
		"X-Spend-Month":     {"0.000005"},
		"X-Spend-State":     {"soft"},
	}, h)
}

func TestMicroUSD(t *testing.T) {
	tests := []struct {
		give float64
		want int64
	}{
		{0, 0}, {1, 1e6}, {0.0000015, 2}, {0.00000049, 0}, {12.345678, 12345678},
		{-1, 0}, {math.NaN(), 0}, {math.Inf(1), 9e18}, {1e13, 9e18},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, MicroUSD(tt.give), "%v", tt.give)
	}
}

func TestFormatUSD(t *testing.T) {
	tests := []struct {
		give int64
		want string
	}{
		{0, "0.000000"}, {5, "0.000005"}, {1e6, "1.000000"}, {1234567, "1.234567"}, {-1500000, "-1.500000"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, formatUSD(tt.give))
	}
}

func TestPeriodsAt(t *testing.T) {
	tests := []struct {
		give               time.Time
		wantDayEnd, wantMo time.Time
	}{
		{time.Date(2026, 3, 14, 23, 59, 59, 0, time.UTC), time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 12, 31, 12, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		// UTC periods whatever the caller's zone: 01:00 in UTC+2 is the day before.
		{time.Date(2026, 3, 1, 1, 0, 0, 0, time.FixedZone("x", 2*3600)), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		pd := periodsAt(tt.give, time.Minute)
		assert.Equal(t, tt.wantDayEnd, pd.dayEnd(), "%v", tt.give)
		assert.Equal(t, tt.wantMo, pd.monthEnd(), "%v", tt.give)
	}
}

func TestMetricsInMemory(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	require.NoError(t, err)
	_, err = NewMetrics(reg)
	require.Error(t, err, "registered twice")
	l, err := New(Config{Observer: m})
	require.NoError(t, err)
	ctx := context.Background()
	ask := Ask{Key: "k", Limit: Limit{Rate: 60, Burst: 1}, N: 1}
	l.Allow(ctx, ask)
	l.Allow(ctx, ask)
	l.Adjust(ctx, Ask{Key: "k", Limit: ask.Limit, N: -1})
	l.ReserveSpend(ctx, "k", Budget{Day: Cap{Hard: 1}}, 5)

	assert.Equal(t, 1.0, testutil.ToFloat64(m.decisions[ModeMemory][1]))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.decisions[ModeMemory][0]), "Adjust is not a decision")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.spend[ModeMemory][HardLimit]))
	assert.Equal(t, 0.0, testutil.ToFloat64(m.active))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Equal(t, 3*2+3*3+2, n, "every label set exists from the start")
}
