package monitor

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestAttemptAndRequest(t *testing.T) {
	m := New()
	m.Attempt("primary", "large", 120*time.Millisecond, 40*time.Millisecond, &llm.Usage{PromptTokens: 10, CompletionTokens: 5}, nil)
	m.Attempt("primary", "large", 80*time.Millisecond, 0, &llm.Usage{PromptTokens: 1, CompletionTokens: 2}, nil)
	m.Attempt("primary", "large", time.Millisecond, 0, nil, &llm.Error{Kind: llm.KindConnect})
	m.Attempt("primary", "large", time.Millisecond, 0, nil, errors.New("boom"))
	m.Failover("large", "primary", llm.KindConnect)
	m.Ejected("primary", "large", time.Second)
	m.Restored("primary", "large")
	m.Request("chat", "large", "standard", 200, 130*time.Millisecond, 200*time.Microsecond)
	m.Request("chat", "large", "standard", 503, 130*time.Millisecond, 200*time.Microsecond)

	assert.Equal(t, 11.0, testutil.ToFloat64(m.upstreamTokens.WithLabelValues("primary", "large", "in")))
	assert.Equal(t, 7.0, testutil.ToFloat64(m.upstreamTokens.WithLabelValues("primary", "large", "out")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.upstreamErrors.WithLabelValues("primary", "large", "connect")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.upstreamErrors.WithLabelValues("primary", "large", "unknown")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.failovers.WithLabelValues("large", "primary", "connect")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.ejections.WithLabelValues("primary", "large")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.httpRequests.WithLabelValues("chat", "large", "standard", "503")))
	assert.Equal(t, 2, testutil.CollectAndCount(m.upstreamDuration)+testutil.CollectAndCount(m.upstreamTTFT))
	// Overhead is observed for the successful request only.
	assert.Equal(t, 1, testutil.CollectAndCount(m.overhead))
}

func TestHandlerExposesTable(t *testing.T) {
	m := New()
	m.WatchTable(func() []Row {
		return []Row{{Endpoint: "primary", Model: "large", Healthy: true, InFlight: 3, Latency: time.Second}, {Endpoint: "secondary", Model: "large"}}
	})
	m.Request("chat", "large", "standard", 200, time.Millisecond, time.Microsecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	require.Equal(t, 200, rec.Code)
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`floodgate_endpoint_up{endpoint="primary",model="large"} 1`,
		`floodgate_endpoint_up{endpoint="secondary",model="large"} 0`,
		`floodgate_endpoint_in_flight{endpoint="primary",model="large"} 3`,
		`floodgate_http_requests_total{code="200",model="large",route="chat",tier="standard"} 1`,
		`go_goroutines`,
	} {
		assert.True(t, strings.Contains(string(body), want), "missing %s", want)
	}
}

func BenchmarkAttempt(b *testing.B) {
	m := New()
	u := &llm.Usage{PromptTokens: 100, CompletionTokens: 20}
	b.ReportAllocs()
	for b.Loop() {
		m.Attempt("primary", "large", 100*time.Millisecond, 0, u, nil)
	}
}

func BenchmarkRequest(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.Request("chat", "large", "standard", 200, 100*time.Millisecond, 100*time.Microsecond)
	}
}

func TestAgentMetrics(t *testing.T) {
	m := New()
	m.RunFinished("support", "partial", time.Second)
	m.ModelCall("support", "large", time.Second, nil)
	m.ModelCall("support", "large", time.Second, &llm.Error{Kind: llm.KindUnavailable})
	m.ToolBudgetExhausted("support")
	m.Handoff("support", "after_sales")
	m.LeaseWait(time.Millisecond)
	m.Overhead("support", 200*time.Microsecond)
	m.ToolCall("get_order_status", "ok", 3*time.Millisecond)
	m.ToolCall("get_order_status", "cached", 0)
	m.BreakerState("get_order_status", "open")
	m.Feedback("support", "up")

	a := m.agents
	assert.Equal(t, 1.0, testutil.ToFloat64(a.runs.WithLabelValues("support", "partial")))
	assert.Equal(t, 1.0, testutil.ToFloat64(a.modelCalls.WithLabelValues("support", "large", "unavailable")))
	assert.Equal(t, 1.0, testutil.ToFloat64(a.budget.WithLabelValues("support")))
	assert.Equal(t, 1.0, testutil.ToFloat64(a.handoffs.WithLabelValues("support", "after_sales")))
	assert.Equal(t, 1.0, testutil.ToFloat64(a.toolCalls.WithLabelValues("get_order_status", "cached")))
	assert.Equal(t, 1, testutil.CollectAndCount(a.toolDuration), "cached calls take no duration")
	assert.Equal(t, 1.0, testutil.ToFloat64(a.breaker.WithLabelValues("get_order_status")))
	assert.Equal(t, 1.0, testutil.ToFloat64(a.feedback.WithLabelValues("support", "up")))
}
