package ratelimit

import (
	"math"
	"time"
)

// Kind says what an Ask counts. A key's request and token counts are kept
// apart, and a Decision reports each kind's tightest status.
type Kind uint8

// The kinds of unit an Ask counts.
const (
	Requests Kind = iota
	Tokens
)

// String returns "requests" or "tokens", the word OpenAI's headers use.
func (k Kind) String() string {
	if k == Tokens {
		return "tokens"
	}
	return "requests"
}

// Limit is a rate with a burst. The zero Limit is unlimited.
type Limit struct {
	// Rate is how many units are admitted per Period in the long run. Zero
	// or negative means unlimited: such asks are not consulted.
	Rate int64
	// Period is what Rate is counted over. Default one minute.
	Period time.Duration
	// Burst is how many units an idle key admits at once. Default Rate/50
	// rounded up (at least 1), which keeps every window of one Period
	// under 1.02×Rate, the way OpenAI enforces a per-minute limit over
	// shorter slices. Any window of one Period admits fewer than
	// Rate+Burst units, except that a single take larger than Burst is
	// admitted when the key is full and leaves it in debt (see Ask.N).
	Burst int64
}

// DefaultBurst returns the burst a Limit of rate gets when its Burst is 0:
// ⌈rate/50⌉, at least 1.
func DefaultBurst(rate int64) int64 { return max(1, (rate+49)/50) }

// maxUnits bounds N and Burst, so that no product overflows and every
// expiry stays within what Redis accepts.
const maxUnits = 1 << 40

// params is a Limit in the units both backends compute in: microseconds
// as float64.
type params struct {
	t      float64 // emission interval: µs per unit
	tau    float64 // how far the TAT may run ahead of now: µs
	window float64 // the Period: µs
	rate   int64   // units per Period on this node
}

// params returns l's parameters for a node enforcing 1/scale of it (scale
// ≥ 1). Only called for Rate > 0.
func (l Limit) params(scale int64) params {
	period := l.Period
	if period <= 0 {
		period = time.Minute
	}
	burst := l.Burst
	if burst <= 0 {
		burst = DefaultBurst(l.Rate)
	}
	burst = min(burst, maxUnits)
	window := float64(period) / 1e3
	t := window / float64(l.Rate)
	p := params{t: t, tau: float64(burst) * t, window: window, rate: l.Rate}
	if scale > 1 {
		// Each of scale nodes gets 1/scale of the rate and of the burst,
		// but never a burst below one unit.
		s := float64(scale)
		p.t *= s
		p.rate = max(1, l.Rate/scale)
		p.tau = max(p.tau, p.t)
	}
	return p
}

// epsilon absorbs float rounding in the admission test: a take that fits
// exactly is admitted although (now+x)−x may land a few ulps above now.
// It cannot accumulate: an admitted take still moves the TAT its full
// amount.
const epsilon = 0.05 // µs

// Ops a backend applies to a batch.
type op uint8

const (
	opTake   op = iota // admit every ask if all fit, else change nothing
	opAdjust           // move each TAT by n units, never before now
)

// result is one ask's outcome inside a backend, in µs relative to the
// backend's clock at the decision.
type result struct {
	allowed bool    // this ask fits (the batch may still be refused)
	retry   float64 // until this ask would fit; 0 when it fits
	before  float64 // TAT − now before the batch
	after   float64 // TAT − now had the take been applied
}

// gcra applies o with n units to a key whose TAT is tat, at now (both µs
// since the backend's epoch). It returns the TAT the key would have and
// the result. The Redis script (redis.go) is the same computation in Lua.
func gcra(tat, now float64, p params, o op, n int64) (float64, result) {
	if tat < now {
		tat = now
	}
	next := tat + float64(n)*p.t
	r := result{allowed: true, before: tat - now}
	if o == opTake {
		allowAt := next - p.tau
		if allowAt > tat {
			// More than a burst at once: admitted only when the key is
			// full, leaving it in debt, so it cannot be refused forever.
			allowAt = tat
		}
		if allowAt-now > epsilon {
			r.allowed, r.retry, r.after = false, allowAt-now, r.before
			return tat, r
		}
	} else if next < now {
		next = now
	}
	r.after = next - now
	return next, r
}

// status builds a Status from a key's TAT offset (µs ahead of now).
func status(p params, rate int64, reset float64) Status {
	return Status{Limit: rate, Remaining: remaining(p, reset), Reset: micros(reset)}
}

// remaining is how many more units the key admits over the next Period at
// its rate when its TAT is reset µs ahead of now: the node's rate when the
// key is idle, less what runs ahead. That is what OpenAI's
// x-ratelimit-remaining-* report; how many fit at once is at most Burst.
// The slack of 1 % of a unit keeps float rounding from costing one.
func remaining(p params, reset float64) int64 {
	r := math.Floor((p.window-reset)/p.t + 0.01)
	switch {
	case r < 0:
		return 0
	case r >= float64(p.rate):
		return p.rate
	}
	return int64(r)
}

// micros converts µs to a Duration, rounding up so a client told to come
// back after it does not come back early.
func micros(us float64) time.Duration {
	if !(us > 0) {
		return 0
	}
	if us > float64(math.MaxInt64/1e3) {
		return math.MaxInt64
	}
	return time.Duration(math.Ceil(us * 1e3))
}

// Ask is one limit to consult: N units under Key at Limit.
type Ask struct {
	// Key names what is limited, e.g. "tenant:acme" or "tier:free". Keys
	// of different Kinds never share a count.
	Key string
	// Kind is what N counts.
	Kind Kind
	// Limit is the rate to enforce. The caller passes it on every ask, so
	// a change of configuration applies at once; a key's state carries
	// over as its TAT.
	Limit Limit
	// N is the number of units: 1 for a request, the estimate for tokens.
	// For Adjust it is the correction (actual − estimate), which may be
	// negative. An Allow with N 0 takes nothing and is refused only while
	// the key is in debt; a negative N in Allow counts as 0. N is capped
	// at 2^40.
	N int64
}

// n returns a's units as the backends take them.
func (a *Ask) n(o op) int64 {
	n := min(a.N, maxUnits)
	if o == opTake {
		return max(n, 0)
	}
	return max(n, -maxUnits)
}

// Status is where one kind of limit stands after a decision, as OpenAI's
// x-ratelimit-* headers report it.
type Status struct {
	// Limit is the Rate of the ask reported; 0 when no ask of this kind
	// was consulted.
	Limit int64
	// Remaining is how many more units the key admits over the next
	// Period at its rate (never negative); at most Burst fit at once.
	Remaining int64
	// Reset is how long until the key's allowance is full again.
	Reset time.Duration
}

// Decision is Allow's answer. The zero Decision refuses.
type Decision struct {
	// Allowed reports whether every ask was admitted. Allow admits all of
	// a call's asks or none.
	Allowed bool
	// RetryAfter is, when refused, how long until every refused ask would
	// fit (the longest wait); 0 when allowed.
	RetryAfter time.Duration
	// Requests and Tokens are the tightest statuses (fewest remaining) of
	// the asks of each kind, as of the decision.
	Requests, Tokens Status
	// Denied is the first refused ask's key and DeniedKind its kind; ""
	// when allowed.
	Denied     string
	DeniedKind Kind
	// Local reports that Redis was unreachable and the decision was made
	// in process, under 1/Nodes of each limit.
	Local bool

	at int64 // the backend's clock at the decision (µs), for tests
}

// add folds one ask's result into d. batchOK says whether the batch was
// admitted, so whether the ask's take was applied.
func (d *Decision) add(a *Ask, p params, r *result, batchOK bool) {
	reset := r.before
	if batchOK {
		reset = r.after
	}
	s := &d.Requests
	if a.Kind == Tokens {
		s = &d.Tokens
	}
	st := status(p, a.Limit.Rate, reset)
	if s.Limit == 0 || st.Remaining < s.Remaining || (st.Remaining == s.Remaining && st.Reset > s.Reset) {
		*s = st
	}
	d.RetryAfter = max(d.RetryAfter, micros(r.retry))
}

// decide builds the Decision for asks from their params and results.
func decide(asks []Ask, ps []params, rs []result, at int64, local bool) Decision {
	d := Decision{Allowed: true, Local: local, at: at}
	for i := range rs {
		if !rs[i].allowed && d.Allowed {
			d.Allowed, d.Denied, d.DeniedKind = false, asks[i].Key, asks[i].Kind
		}
	}
	for i := range rs {
		d.add(&asks[i], ps[i], &rs[i], d.Allowed)
	}
	return d
}
