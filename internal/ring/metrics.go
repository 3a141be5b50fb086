package ring

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// counters are the Ring's and its Forwarders' hot-path counts.
type counters struct {
	placements  atomic.Int64
	moves       atomic.Int64
	redisErrors atomic.Int64
	suspicions  atomic.Int64
	forwards    atomic.Int64
	dialErrors  atomic.Int64
	transErrors atomic.Int64
	fallbacks   atomic.Int64
	received    atomic.Int64
	badSig      atomic.Int64
	stale       atomic.Int64
}

// Stats is a snapshot of what a Ring and the Forwarders on it have done
// since they were created.
type Stats struct {
	// Members is the number of live members this node sees, itself
	// included.
	Members int
	// Placements counts sessions without an owner that this node recorded
	// an owner for.
	Placements int64
	// Moves counts sessions whose recorded owner this node replaced
	// because the owner had died, left or was suspected: ownership moves.
	Moves int64
	// RedisErrors counts owner lookups and claims that failed, after
	// which the session was placed by hash alone.
	RedisErrors int64
	// Suspicions counts calls to Suspect.
	Suspicions int64
	// Forwards counts requests this node proxied to their owner and the
	// owner answered (with any status).
	Forwards int64
	// DialErrors counts forward attempts whose owner could not be dialled;
	// the owner was suspected and the request went elsewhere.
	DialErrors int64
	// TransportErrors counts forward attempts that failed after the
	// connection was made but before the owner answered; the request was
	// then served here.
	TransportErrors int64
	// Fallbacks counts requests served here after forwarding failed.
	Fallbacks int64
	// Received counts forwarded requests this node verified and served.
	Received int64
	// BadSignatures counts forwarded requests refused for a malformed or
	// wrong signature (401).
	BadSignatures int64
	// Stale counts forwarded requests refused for a timestamp outside the
	// replay window or a signature already used (403).
	Stale int64
}

// Stats returns the current counts.
func (r *Ring) Stats() Stats {
	c := &r.stats
	return Stats{
		Members:         len(r.view.Load().nodes),
		Placements:      c.placements.Load(),
		Moves:           c.moves.Load(),
		RedisErrors:     c.redisErrors.Load(),
		Suspicions:      c.suspicions.Load(),
		Forwards:        c.forwards.Load(),
		DialErrors:      c.dialErrors.Load(),
		TransportErrors: c.transErrors.Load(),
		Fallbacks:       c.fallbacks.Load(),
		Received:        c.received.Load(),
		BadSignatures:   c.badSig.Load(),
		Stale:           c.stale.Load(),
	}
}

// Collector returns a Prometheus collector of the Ring's Stats, named
// floodgate_ring_*; register it once (monitor.Metrics.Registry()).
func (r *Ring) Collector() prometheus.Collector { return &collector{r: r} }

var (
	descMembers = prometheus.NewDesc("floodgate_ring_members",
		"Live members of the ring as this node sees them, itself included.", nil, nil)
	descPlacements = prometheus.NewDesc("floodgate_ring_placements_total",
		"Sessions without an owner that this node recorded an owner for.", nil, nil)
	descMoves = prometheus.NewDesc("floodgate_ring_ownership_moves_total",
		"Sessions whose recorded owner this node replaced because it died, left or was suspected.", nil, nil)
	descRedisErrors = prometheus.NewDesc("floodgate_ring_redis_errors_total",
		"Owner lookups and claims that failed; the session was placed by hash alone.", nil, nil)
	descSuspicions = prometheus.NewDesc("floodgate_ring_suspicions_total",
		"Members this node suspected after failing to reach them.", nil, nil)
	descForwards = prometheus.NewDesc("floodgate_ring_forwards_total",
		"Requests proxied to their session's owner and answered by it.", nil, nil)
	descForwardErrors = prometheus.NewDesc("floodgate_ring_forward_errors_total",
		"Forward attempts that failed before the owner answered, by reason (dial: owner unreachable; transport: connection broke).",
		[]string{"reason"}, nil)
	descFallbacks = prometheus.NewDesc("floodgate_ring_forward_fallbacks_total",
		"Requests served locally after forwarding them failed.", nil, nil)
	descReceived = prometheus.NewDesc("floodgate_ring_forwards_received_total",
		"Forwarded requests this node verified and served.", nil, nil)
	descRejected = prometheus.NewDesc("floodgate_ring_forwards_rejected_total",
		"Forwarded requests refused, by reason (signature: 401; stale: expired or replayed, 403).",
		[]string{"reason"}, nil)
)

type collector struct{ r *Ring }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range [...]*prometheus.Desc{descMembers, descPlacements, descMoves, descRedisErrors,
		descSuspicions, descForwards, descForwardErrors, descFallbacks, descReceived, descRejected} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.r.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	ch <- prometheus.MustNewConstMetric(descMembers, prometheus.GaugeValue, float64(s.Members))
	counter(descPlacements, s.Placements)
	counter(descMoves, s.Moves)
	counter(descRedisErrors, s.RedisErrors)
	counter(descSuspicions, s.Suspicions)
	counter(descForwards, s.Forwards)
	counter(descForwardErrors, s.DialErrors, "dial")
	counter(descForwardErrors, s.TransportErrors, "transport")
	counter(descFallbacks, s.Fallbacks)
	counter(descReceived, s.Received)
	counter(descRejected, s.BadSignatures, "signature")
	counter(descRejected, s.Stale, "stale")
}
