package router

import "sync/atomic"

// rng is a lock-free SplitMix64 generator: one atomic add per draw, so the
// selection path shares no lock. Its sequence is deterministic for a seed
// when used from one goroutine, which is what tests need.
type rng struct{ state atomic.Uint64 }

func (g *rng) next() uint64 {
	z := g.state.Add(0x9e3779b97f4a7c15)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// stackCandidates is the route count up to which selection does not
// allocate.
const stackCandidates = 16

// pick chooses the route for the next attempt on m among the routes not in
// tried, which must not hold all of them. It prefers, in order: a half-open
// route whose single probe slot it wins; the power-of-two-choices winner
// among healthy routes not rate-limited; and, when there is none ("panic
// mode"), the untried route whose ejection or rate limit ends soonest.
func (r *Router) pick(m *model, now int64, tried []int32, stream bool) (int, lease) {
	var buf [stackCandidates]int32
	cands := buf[:0]
	var total float64
	for i, rt := range m.routes {
		if contains(tried, int32(i)) {
			continue
		}
		if until := rt.ejectedUntil.Load(); until != 0 {
			if now >= until && !rt.probing.Load() && rt.probing.CompareAndSwap(false, true) {
				return i, lease{probe: true, ejected: true}
			}
			continue
		}
		if now < rt.rateLimitedUntil.Load() {
			continue
		}
		cands = append(cands, int32(i))
		total += rt.weight
	}
	switch len(cands) {
	case 0:
		return r.panicPick(m, now, tried)
	case 1:
		return int(cands[0]), lease{}
	}

	// Two distinct weighted draws from one 64-bit random number.
	x := r.rng.next()
	const inv32 = 1.0 / (1 << 32)
	a := draw(m, cands, float64(x>>32)*inv32*total, -1)
	b := draw(m, cands, float64(uint32(x))*inv32*(total-m.routes[a].weight), a)

	ra, rb := m.routes[a], m.routes[b]
	la, okA := ra.expected(stream)
	lb, okB := rb.expected(stream)
	// A route without data is assumed as fast as its rival (a neutral
	// prior), so a new endpoint competes on load and gets traffic.
	switch {
	case !okA && !okB:
		la, lb = 1, 1
	case !okA:
		la = lb
	case !okB:
		lb = la
	}
	if rb.score(now, r.tau, lb) < ra.score(now, r.tau, la) {
		return b, lease{}
	}
	return a, lease{}
}

// draw returns the candidate at cumulative weight u, skipping skip.
func draw(m *model, cands []int32, u float64, skip int) int {
	last := -1
	for _, c := range cands {
		i := int(c)
		if i == skip {
			continue
		}
		last = i
		if u -= m.routes[i].weight; u < 0 {
			return i
		}
	}
	return last // rounding left u at or just above 0
}

// panicPick returns the untried route whose ejection or rate limit ends
// soonest: when nothing is eligible, availability beats purity.
func (r *Router) panicPick(m *model, now int64, tried []int32) (int, lease) {
	best, bestAt := -1, int64(0)
	for i, rt := range m.routes {
		if contains(tried, int32(i)) {
			continue
		}
		at := max(rt.ejectedUntil.Load(), rt.rateLimitedUntil.Load())
		if best < 0 || at < bestAt {
			best, bestAt = i, at
		}
	}
	rt := m.routes[best]
	return best, lease{ejected: rt.ejectedUntil.Load() != 0, limited: rt.rateLimitedUntil.Load() > now}
}

func contains(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
