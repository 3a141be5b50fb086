package router

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// headroomer is the optional capability of a Client that knows how many
// requests the endpoint still accepts (x-ratelimit-remaining-requests).
type headroomer interface {
	RemainingRequests() (n int64, ok bool)
}

// lowHeadroom is the remaining-request count below which a route's score
// rises, up to 1+headroomPenalty times at 0. A low count only penalises:
// a stale 0 must not starve a route forever; 429s do the excluding.
const (
	lowHeadroom     = 16
	headroomPenalty = 3.0
)

// maxPenaltyRate caps the failure share used in the score's 1/(1−p)
// penalty (the expected number of tries), so a failing route costs at most
// ten times its latency and still gets a probe's worth of traffic.
const maxPenaltyRate = 0.9

// minLatency floors expected latency so that load still counts when the
// clock does not advance between samples.
const minLatency = float64(time.Microsecond)

// noData marks an EWMA without a sample yet.
var noData = math.Float64bits(-1)

// model is the routes serving one floodgate model; immutable after New.
type model struct {
	name   string
	routes []*route
}

// route is one endpoint serving one model, with its live state. All times
// are nanoseconds since the Router's base time. It must not be copied.
type route struct {
	endpoint  string
	upstream  string
	model     string
	client    Client
	hr        headroomer // nil when the client lacks the capability
	weight    float64
	invWeight float64
	price     Price

	inflight atomic.Int64
	requests atomic.Uint64
	failures atomic.Uint64
	limited  atomic.Uint64 // 429s
	ejects   atomic.Uint64

	consecFail  atomic.Int64
	consecEject atomic.Int64
	// ejectedUntil is 0 while the route is healthy, else the end of its
	// cool-down; once passed, the route is half-open.
	ejectedUntil atomic.Int64
	// probing is held by the single probe request of a half-open route.
	probing          atomic.Bool
	rateLimitedUntil atomic.Int64

	stats stats
}

// stats holds a route's time-decayed averages. Writers serialise on mu
// (one short critical section per attempt); readers on the selection path
// load the published bits without locking.
type stats struct {
	mu       sync.Mutex
	latLast  int64
	ttftLast int64
	latN     int64 // samples so far, up to warmSamples
	ttftN    int64
	rateLast int64
	rateInit bool

	lat, ttft     atomic.Uint64 // float64 bits, ns; noData before a sample
	errs, limited atomic.Uint64 // float64 bits, rate in [0,1]
	rateAt        atomic.Int64  // time of the last rate sample, for decay on read
}

func newRoute(ep *Endpoint, rt *Route) *route {
	r := &route{
		endpoint:  ep.Name,
		upstream:  rt.Upstream,
		model:     rt.Model,
		client:    ep.Client,
		weight:    ep.Weight,
		invWeight: 1 / ep.Weight,
		price:     rt.Price,
	}
	r.hr, _ = ep.Client.(headroomer)
	r.stats.lat.Store(noData)
	r.stats.ttft.Store(noData)
	return r
}

// warmSamples is how many first samples are averaged by count: under load
// the time-based weight of one sample is tiny, and a route must not be
// judged for a whole half-life by its first (often cold-connection) call.
const warmSamples = 8

// ewma folds sample into the average stored in v, last sampled at *last,
// with a weight that grows with the time since: 1−e^(−dt/τ), and at least
// 1/(n+1) for the first warmSamples samples (n counted in *count).
func ewma(v *atomic.Uint64, last, count *int64, now int64, tau, sample float64) {
	old := v.Load()
	if old == noData {
		v.Store(math.Float64bits(sample))
		*last, *count = now, 1
		return
	}
	var w float64
	if dt := now - *last; dt > 0 {
		w = 1 - math.Exp(-float64(dt)/tau)
		*last = now
	}
	if *count < warmSamples {
		w = max(w, 1/float64(*count+1))
		*count++
	}
	if w == 0 {
		return
	}
	cur := math.Float64frombits(old)
	v.Store(math.Float64bits(cur + w*(sample-cur)))
}

// observeLatency records a successful attempt's total latency and, for a
// stream, its time to first token; a negative duration is not recorded.
func (s *stats) observeLatency(now int64, tau float64, total, ttft time.Duration) {
	s.mu.Lock()
	s.latencyLocked(now, tau, total, ttft)
	s.mu.Unlock()
}

// observeRates records one attempt outcome in the error and 429 rates.
func (s *stats) observeRates(now int64, tau float64, failed, limited bool) {
	s.mu.Lock()
	s.ratesLocked(now, tau, failed, limited)
	s.mu.Unlock()
}

// observeSuccess records a successful attempt in one critical section.
func (s *stats) observeSuccess(now int64, tau float64, total, ttft time.Duration) {
	s.mu.Lock()
	s.latencyLocked(now, tau, total, ttft)
	s.ratesLocked(now, tau, false, false)
	s.mu.Unlock()
}

func (s *stats) latencyLocked(now int64, tau float64, total, ttft time.Duration) {
	if total >= 0 {
		ewma(&s.lat, &s.latLast, &s.latN, now, tau, float64(total))
	}
	if ttft >= 0 {
		ewma(&s.ttft, &s.ttftLast, &s.ttftN, now, tau, float64(ttft))
	}
}

func (s *stats) ratesLocked(now int64, tau float64, failed, limited bool) {
	var e, l float64
	if failed {
		e = 1
	}
	if limited {
		l = 1
	}
	ce := math.Float64frombits(s.errs.Load())
	cl := math.Float64frombits(s.limited.Load())
	switch {
	case !s.rateInit:
		// First sample: take it as is rather than blending with a 0 prior.
		s.rateInit = true
		s.errs.Store(math.Float64bits(e))
		s.limited.Store(math.Float64bits(l))
	case ce == 0 && cl == 0 && e == 0 && l == 0:
		// A healthy route's usual case: nothing moves, skip the exp.
	default:
		if dt := now - s.rateLast; dt > 0 {
			w := 1 - math.Exp(-float64(dt)/tau)
			s.errs.Store(math.Float64bits(ce + w*(e-ce)))
			s.limited.Store(math.Float64bits(cl + w*(l-cl)))
		}
	}
	s.rateLast = now
	s.rateAt.Store(now)
}

// rates returns the error and 429 rates decayed to now: with no samples
// since, a route's bad record fades with the half-life.
func (s *stats) rates(now int64, tau float64) (errs, limited float64) {
	errs = math.Float64frombits(s.errs.Load())
	limited = math.Float64frombits(s.limited.Load())
	if errs == 0 && limited == 0 {
		return 0, 0
	}
	if dt := now - s.rateAt.Load(); dt > 0 {
		d := math.Exp(-float64(dt) / tau)
		errs, limited = errs*d, limited*d
	}
	return errs, limited
}

// expected returns the route's expected latency for a call (TTFT for a
// stream when known), or ok false without data.
func (rt *route) expected(stream bool) (float64, bool) {
	if stream {
		if b := rt.stats.ttft.Load(); b != noData {
			return math.Float64frombits(b), true
		}
	}
	if b := rt.stats.lat.Load(); b != noData {
		return math.Float64frombits(b), true
	}
	return 0, false
}

// score is expected latency × (in-flight+1) / weight, raised by the recent
// failure share and by low capacity headroom. Lower is better.
func (rt *route) score(now int64, tau, lat float64) float64 {
	s := max(lat, minLatency) * float64(rt.inflight.Load()+1) * rt.invWeight
	if e, l := rt.stats.rates(now, tau); e+l > 0 {
		s /= 1 - min(e+l, maxPenaltyRate)
	}
	if rt.hr != nil {
		if n, ok := rt.hr.RemainingRequests(); ok && n < lowHeadroom {
			s *= 1 + headroomPenalty*float64(lowHeadroom-max(n, 0))/lowHeadroom
		}
	}
	return s
}

// lease is how an attempt got its route, which decides what its outcome
// does to the route's health.
type lease struct {
	probe   bool // holds the half-open probe token
	ejected bool // the route was ejected when chosen (probe or panic mode)
	limited bool // the route was rate-limited when chosen (panic mode)
}

// outcome classifies an attempt's result for health accounting.
type outcome uint8

const (
	outSuccess     outcome = iota
	outFailure             // the endpoint failed
	outRateLimited         // the endpoint is at capacity
	outNeutral             // the request's fault or the caller left
)

func classify(e *llm.Error) outcome {
	switch e.Kind {
	case llm.KindConnect, llm.KindTimeout, llm.KindServer, llm.KindAuth, llm.KindNotFound, llm.KindStreamCut:
		return outFailure
	case llm.KindRateLimited:
		return outRateLimited
	}
	return outNeutral
}

// begin counts an attempt starting on the route.
func (rt *route) begin() {
	rt.inflight.Add(1)
	rt.requests.Add(1)
}

// alive records that the endpoint answered: consecutive failures reset,
// and an ejected or rate-limited route chosen as probe or in panic mode is
// restored. Answers to attempts begun before the ejection or the 429 are
// stale evidence and restore nothing.
func (rt *route) alive(r *Router, l lease) {
	if rt.consecFail.Load() != 0 {
		rt.consecFail.Store(0)
	}
	if l.limited {
		rt.rateLimitedUntil.Store(0)
	}
	if l.ejected && rt.ejectedUntil.Swap(0) != 0 {
		rt.consecEject.Store(0)
		if r.obs != nil {
			r.obs.Restored(rt.endpoint, rt.model)
		}
	}
	if l.probe {
		rt.probing.Store(false)
	}
}

// failed records an endpoint failure, ejecting the route at the threshold
// or after a failed probe. Failures of attempts that were already in flight
// when the route was ejected do not eject it again, so the cool-down grows
// once per probe interval, not once per concurrent failure.
func (rt *route) failed(r *Router, l lease, now int64) {
	rt.failures.Add(1)
	n := rt.consecFail.Add(1)
	switch {
	case l.probe:
		k := rt.consecEject.Add(1)
		cd := r.cfg.Ejection.coolDown(k)
		rt.ejectedUntil.Store(now + int64(cd))
		rt.ejects.Add(1)
		rt.probing.Store(false)
		if r.obs != nil {
			r.obs.Ejected(rt.endpoint, rt.model, cd)
		}
	case n >= int64(r.cfg.Ejection.ConsecutiveFailures) && rt.ejectedUntil.Load() == 0:
		k := rt.consecEject.Load() + 1
		cd := r.cfg.Ejection.coolDown(k)
		if rt.ejectedUntil.CompareAndSwap(0, now+int64(cd)) {
			rt.consecEject.Store(k)
			rt.ejects.Add(1)
			if r.obs != nil {
				r.obs.Ejected(rt.endpoint, rt.model, cd)
			}
		}
	}
}

// rateLimited skips the route until retryAfter (default 1s) has passed.
func (rt *route) rateLimited(now int64, retryAfter time.Duration) {
	rt.limited.Add(1)
	if retryAfter <= 0 {
		retryAfter = DefaultRateLimitBackoff
	}
	rt.rateLimitedUntil.Store(now + int64(retryAfter))
}

// release gives back the probe token of an attempt whose outcome says
// nothing about the endpoint, so that the next request probes instead.
func (rt *route) release(l lease) {
	if l.probe {
		rt.probing.Store(false)
	}
}
