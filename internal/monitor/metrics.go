// Package monitor collects floodgate's metrics and serves them to
// Prometheus: per endpoint and model the upstream call duration and time to
// first token, tokens in and out, errors by class, failovers and ejections;
// per route the gateway's request count, duration and its own added
// overhead; per agent runs by status, model calls, tool-budget alerts,
// handoffs and the engine's overhead; per tool calls by outcome and breaker
// state; and a live view of the endpoint table.
//
// Metrics implements the small observer interfaces that the router, the
// gateway, the engine and the tools declare, so none imports this package. Label values are bounded
// (endpoints, models, routes, tiers, error kinds from config or code), never
// per user or per request.
package monitor

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Metrics is floodgate's metric set on a registry of its own. It is safe for
// concurrent use; the zero value is not usable, call New.
type Metrics struct {
	reg *prometheus.Registry

	upstreamDuration *prometheus.HistogramVec
	upstreamTTFT     *prometheus.HistogramVec
	upstreamTokens   *prometheus.CounterVec
	upstreamErrors   *prometheus.CounterVec
	failovers        *prometheus.CounterVec
	ejections        *prometheus.CounterVec
	restores         *prometheus.CounterVec

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	overhead     *prometheus.HistogramVec

	agents *agentMetrics

	// routes caches the resolved children per endpoint and model, because
	// resolving label values hashes and allocates and Attempt runs on every
	// upstream call.
	routes sync.Map // routeKey → *routeMetrics
}

type routeKey struct{ endpoint, model string }

type routeMetrics struct {
	duration, ttft prometheus.Observer
	in, out        prometheus.Counter
}

// Buckets chosen for what each histogram measures: upstream calls span
// milliseconds (a sim at time scale 0) to minutes (long generations); the
// gateway's own overhead spans microseconds to milliseconds.
var (
	upstreamBuckets = prometheus.ExponentialBucketsRange(0.001, 120, 20)
	ttftBuckets     = prometheus.ExponentialBucketsRange(0.001, 30, 16)
	overheadBuckets = prometheus.ExponentialBucketsRange(0.00001, 0.1, 16)
)

// New returns a Metrics registered on a fresh registry together with the Go
// runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		upstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "upstream_request_duration_seconds",
			Help:    "Duration of successful upstream model calls, whole answer or whole stream.",
			Buckets: upstreamBuckets,
		}, []string{"endpoint", "model"}),
		upstreamTTFT: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "upstream_time_to_first_token_seconds",
			Help:    "Time to the first streamed chunk of successful upstream calls.",
			Buckets: ttftBuckets,
		}, []string{"endpoint", "model"}),
		upstreamTokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "upstream_tokens_total",
			Help: "Tokens reported by upstream usage, by direction (in = prompt, out = completion).",
		}, []string{"endpoint", "model", "direction"}),
		upstreamErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "upstream_errors_total",
			Help: "Failed upstream attempts by error class.",
		}, []string{"endpoint", "model", "kind"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "failovers_total",
			Help: "Attempts that moved to another endpoint after a failure, by the endpoint that failed.",
		}, []string{"model", "from", "kind"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "endpoint_ejections_total",
			Help: "Times an endpoint was taken out of rotation for a model.",
		}, []string{"endpoint", "model"}),
		restores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "endpoint_restores_total",
			Help: "Times an ejected endpoint passed its probe and returned to rotation.",
		}, []string{"endpoint", "model"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "floodgate", Name: "http_requests_total",
			Help: "Requests answered by the gateway, by route, model, tier and status code.",
		}, []string{"route", "model", "tier", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "http_request_duration_seconds",
			Help:    "Gateway request duration, end to end.",
			Buckets: upstreamBuckets,
		}, []string{"route"}),
		overhead: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "floodgate", Name: "gateway_overhead_seconds",
			Help:    "Time the gateway added to a request: its duration minus the time spent in upstream calls.",
			Buckets: overheadBuckets,
		}, []string{"route"}),
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.upstreamDuration, m.upstreamTTFT, m.upstreamTokens, m.upstreamErrors,
		m.failovers, m.ejections, m.restores,
		m.httpRequests, m.httpDuration, m.overhead,
	)
	m.agents = newAgentMetrics(m.reg)
	return m
}

// Registry returns the registry, for packages that add collectors of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

func (m *Metrics) route(endpoint, model string) *routeMetrics {
	k := routeKey{endpoint, model}
	if r, ok := m.routes.Load(k); ok {
		return r.(*routeMetrics)
	}
	r := &routeMetrics{
		duration: m.upstreamDuration.WithLabelValues(endpoint, model),
		ttft:     m.upstreamTTFT.WithLabelValues(endpoint, model),
		in:       m.upstreamTokens.WithLabelValues(endpoint, model, "in"),
		out:      m.upstreamTokens.WithLabelValues(endpoint, model, "out"),
	}
	actual, _ := m.routes.LoadOrStore(k, r)
	return actual.(*routeMetrics)
}

// Attempt records one upstream call: its duration, time to first token
// (0 for non-streamed calls) and usage on success, its error class on
// failure. Calls the caller abandoned are not the endpoint's failure and are
// counted under kind "canceled".
func (m *Metrics) Attempt(endpoint, model string, d, ttft time.Duration, usage *llm.Usage, err error) {
	if err != nil {
		m.upstreamErrors.WithLabelValues(endpoint, model, llm.AsError(err).Kind.String()).Inc()
		return
	}
	r := m.route(endpoint, model)
	r.duration.Observe(d.Seconds())
	if ttft > 0 {
		r.ttft.Observe(ttft.Seconds())
	}
	if usage != nil {
		r.in.Add(float64(usage.PromptTokens))
		r.out.Add(float64(usage.CompletionTokens))
	}
}

// Failover records that a request left endpoint from after an error of kind.
func (m *Metrics) Failover(model, from string, kind llm.Kind) {
	m.failovers.WithLabelValues(model, from, kind.String()).Inc()
}

// Ejected records that an endpoint left rotation for a model.
func (m *Metrics) Ejected(endpoint, model string, _ time.Duration) {
	m.ejections.WithLabelValues(endpoint, model).Inc()
}

// Restored records that an ejected endpoint came back.
func (m *Metrics) Restored(endpoint, model string) {
	m.restores.WithLabelValues(endpoint, model).Inc()
}

// Request records one gateway request. overhead is the time the gateway
// itself added; it is recorded only for successful requests, where it is
// meaningful.
func (m *Metrics) Request(route, model, tier string, status int, d, overhead time.Duration) {
	m.httpRequests.WithLabelValues(route, model, tier, statusText(status)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(d.Seconds())
	if status < 300 && overhead > 0 {
		m.overhead.WithLabelValues(route).Observe(overhead.Seconds())
	}
}

// statusText avoids strconv's allocation for the common codes.
func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 400:
		return "400"
	case 401:
		return "401"
	case 404:
		return "404"
	case 429:
		return "429"
	case 502:
		return "502"
	case 503:
		return "503"
	}
	return strconv.Itoa(code)
}
