package monitor

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Row is one endpoint×model line of the router's live table, as the monitor
// exports it.
type Row struct {
	Endpoint, Model string
	Healthy         bool // in rotation (not ejected)
	InFlight        int64
	Latency         time.Duration // EWMA of call duration
	TTFT            time.Duration // EWMA of time to first token
	ErrorRate       float64       // EWMA of the failure ratio, 0..1
}

var (
	upDesc       = prometheus.NewDesc("floodgate_endpoint_up", "1 while the endpoint is in rotation for the model, 0 while ejected.", []string{"endpoint", "model"}, nil)
	inFlightDesc = prometheus.NewDesc("floodgate_endpoint_in_flight", "Calls in flight to the endpoint for the model.", []string{"endpoint", "model"}, nil)
	latencyDesc  = prometheus.NewDesc("floodgate_endpoint_latency_ewma_seconds", "Router's moving average of call duration.", []string{"endpoint", "model"}, nil)
	ttftDesc     = prometheus.NewDesc("floodgate_endpoint_ttft_ewma_seconds", "Router's moving average of time to first token.", []string{"endpoint", "model"}, nil)
	errRateDesc  = prometheus.NewDesc("floodgate_endpoint_error_rate", "Router's moving average of the failure ratio.", []string{"endpoint", "model"}, nil)
)

// tableCollector reads the table at scrape time, so the gauges are never
// stale and the request path never updates them.
type tableCollector struct{ read func() []Row }

func (c tableCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{upDesc, inFlightDesc, latencyDesc, ttftDesc, errRateDesc} {
		ch <- d
	}
}

func (c tableCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range c.read() {
		up := 0.0
		if r.Healthy {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, r.Endpoint, r.Model)
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(r.InFlight), r.Endpoint, r.Model)
		ch <- prometheus.MustNewConstMetric(latencyDesc, prometheus.GaugeValue, r.Latency.Seconds(), r.Endpoint, r.Model)
		ch <- prometheus.MustNewConstMetric(ttftDesc, prometheus.GaugeValue, r.TTFT.Seconds(), r.Endpoint, r.Model)
		ch <- prometheus.MustNewConstMetric(errRateDesc, prometheus.GaugeValue, r.ErrorRate, r.Endpoint, r.Model)
	}
}

// WatchTable exports the rows read returns at every scrape. read must be
// safe for concurrent use. Call it once.
func (m *Metrics) WatchTable(read func() []Row) {
	m.reg.MustRegister(tableCollector{read: read})
}
