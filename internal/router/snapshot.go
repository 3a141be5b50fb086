package router

import (
	"math"
	"time"
)

// RouteState is a route's place in the ejection cycle.
type RouteState string

// Route states, in the order Snapshot checks them.
const (
	StateEjected     RouteState = "ejected"      // out until its cool-down ends
	StateHalfOpen    RouteState = "half-open"    // cool-down over; the next request probes it
	StateRateLimited RouteState = "rate-limited" // skipped until its Retry-After
	StateHealthy     RouteState = "healthy"
)

// RouteStatus is one row of the live endpoint table.
type RouteStatus struct {
	Endpoint string
	Model    string // floodgate's model name
	Upstream string // the name sent to the endpoint
	Weight   float64
	Price    Price
	State    RouteState

	// Latency is the EWMA of total latency and TTFT that of streams' time
	// to first token; 0 before the first sample.
	Latency, TTFT time.Duration
	// ErrorRate and RateLimitRate are the time-decayed shares of attempts
	// that failed and that got a 429.
	ErrorRate, RateLimitRate float64

	InFlight    int64
	Requests    uint64 // attempts started
	Failures    uint64 // endpoint failures
	RateLimited uint64 // 429s
	Ejections   uint64

	// CoolDownUntil is when an ejected route's cool-down ends; zero when
	// healthy. RateLimitedUntil is when a 429's Retry-After ends.
	CoolDownUntil, RateLimitedUntil time.Time

	// Headroom is the endpoint's last reported remaining requests, valid
	// when HeadroomKnown.
	Headroom      int64
	HeadroomKnown bool
}

// Snapshot returns the live table, sorted by model then endpoint. Rows are
// read field by field from live counters, so a row is consistent only to
// within the requests in flight while it is read.
func (r *Router) Snapshot() []RouteStatus {
	nowT := r.now()
	now := r.mono(nowT)
	out := make([]RouteStatus, 0, len(r.all))
	for _, rt := range r.all {
		st := RouteStatus{
			Endpoint:    rt.endpoint,
			Model:       rt.model,
			Upstream:    rt.upstream,
			Weight:      rt.weight,
			Price:       rt.price,
			State:       StateHealthy,
			InFlight:    rt.inflight.Load(),
			Requests:    rt.requests.Load(),
			Failures:    rt.failures.Load(),
			RateLimited: rt.limited.Load(),
			Ejections:   rt.ejects.Load(),
		}
		if b := rt.stats.lat.Load(); b != noData {
			st.Latency = time.Duration(math.Float64frombits(b))
		}
		if b := rt.stats.ttft.Load(); b != noData {
			st.TTFT = time.Duration(math.Float64frombits(b))
		}
		st.ErrorRate, st.RateLimitRate = rt.stats.rates(now, r.tau)
		rl := rt.rateLimitedUntil.Load()
		if rl > now {
			st.State = StateRateLimited
			st.RateLimitedUntil = r.base.Add(time.Duration(rl))
		}
		if u := rt.ejectedUntil.Load(); u != 0 {
			st.CoolDownUntil = r.base.Add(time.Duration(u))
			st.State = StateHalfOpen
			if now < u {
				st.State = StateEjected
			}
		}
		if rt.hr != nil {
			st.Headroom, st.HeadroomKnown = rt.hr.RemainingRequests()
		}
		out = append(out, st)
	}
	return out
}
