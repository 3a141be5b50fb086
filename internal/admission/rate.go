package admission

import (
	"math"
	"time"
)

// Parameters of the line's rate estimates behind Retry-After and early
// shedding.
const (
	// rateSample is how much queueing time one measurement spans: shorter
	// ones hold too few events to mean anything.
	rateSample = 50 * time.Millisecond
	// rateTau is the time constant of the averages, in queueing time.
	rateTau = time.Second
	// rateFresh is how long an estimate stays fit for shedding early: one
	// from an earlier overload is a fine Retry-After hint but too old to
	// refuse a request on.
	rateFresh = time.Second
	// maxJoinPriorities bounds the priorities whose join rates are kept;
	// tiers give a handful. Joins of others are not counted, which only
	// makes early shedding less eager.
	maxJoinPriorities = 64
	// minJoinRate is the rate, per second, below which a priority's join
	// rate is forgotten.
	minJoinRate = 0.01
	// minRetryAfter is the least hint: Retry-After counts whole seconds,
	// and a client told to come back at once would.
	minRetryAfter = time.Second
)

// lineRate measures how the line moves while requests queue: the rate at
// which slots are handed to waiters, and the rate at which requests of each
// priority join the line. A waiter of priority p advances at the first rate
// less the joins of priorities above p, which are queued ahead of it.
//
// Only time during which somebody waited is measured, so calm periods, when
// releases go to the free pool, do not dilute the rates. They are updated
// on the queue's slow paths (joining, leaving and hand-offs, all under the
// queue's lock), so the fast paths pay nothing for them. The zero value has
// no estimate.
type lineRate struct {
	last    time.Time     // time of the last event; zero: none yet
	span    time.Duration // queueing time in the current measurement
	n       int           // hand-offs in the current measurement
	perSec  float64       // hand-offs per second; 0: no estimate
	updated time.Time     // when the rates were last updated
	joins   []joinRate    // ascending priority
}

// joinRate is the rate at which requests of one priority join the line.
type joinRate struct {
	pri    int
	n      int     // joins in the current measurement
	perSec float64 // the estimate
	seen   bool    // perSec holds a measurement
}

// tick accounts for the time up to now, an event that is about to change
// the line; queued tells whether anybody waited since the last event.
// Events may arrive with times slightly out of order (each read the clock
// before the lock); time never runs backwards here.
func (r *lineRate) tick(now time.Time, queued bool) {
	if !now.After(r.last) {
		return
	}
	if queued && !r.last.IsZero() {
		r.span += now.Sub(r.last)
	} else if now.Sub(r.last) > rateFresh {
		// The line has been empty a while: whatever the unfinished
		// measurement held belongs to an overload that is over.
		r.span, r.n = 0, 0
		for i := range r.joins {
			r.joins[i].n = 0
		}
	}
	r.last = now
	if r.span < rateSample {
		return
	}
	sec := r.span.Seconds()
	alpha := 1 - math.Exp(-float64(r.span)/float64(rateTau))
	inst := float64(r.n) / sec
	if r.perSec == 0 {
		r.perSec = inst
	} else {
		r.perSec += alpha * (inst - r.perSec)
	}
	kept := r.joins[:0]
	for _, j := range r.joins {
		if inst := float64(j.n) / sec; j.seen {
			j.perSec += alpha * (inst - j.perSec)
		} else {
			// Like the hand-off rate's first measurement, taken whole:
			// averaging from zero would make the priority look slower to
			// join than the line is to move for seconds.
			j.perSec, j.seen = inst, true
		}
		j.n = 0
		if j.perSec >= minJoinRate {
			kept = append(kept, j)
		}
	}
	clear(r.joins[len(kept):])
	r.joins = kept
	r.updated, r.span, r.n = now, 0, 0
}

// handoff counts a slot handed to a waiter; tick(now, true) must follow for
// the same event, so the hand-off counts in the interval it ends.
func (r *lineRate) handoff() { r.n++ }

// join counts a request of priority pri joining the line; tick must have
// been called for the event already.
func (r *lineRate) join(pri int) {
	i := len(r.joins)
	for i > 0 && r.joins[i-1].pri >= pri {
		if r.joins[i-1].pri == pri {
			r.joins[i-1].n++
			return
		}
		i--
	}
	if len(r.joins) == maxJoinPriorities {
		return
	}
	r.joins = append(r.joins, joinRate{})
	copy(r.joins[i+1:], r.joins[i:])
	r.joins[i] = joinRate{pri: pri, n: 1}
}

// drainTime is how long the line needs to hand out n slots to waiters of
// priority pri and above, given that those above pri keep joining ahead:
// n over the hand-off rate less their join rate, or math.MaxInt64 when
// they join as fast as slots are handed out. ok is false when there is no
// recent, positive estimate.
func (r *lineRate) drainTime(n, pri int, now time.Time) (d time.Duration, ok bool) {
	if r.perSec <= 0 || now.Sub(r.updated) > rateFresh {
		return 0, false
	}
	rate := r.perSec
	for i := len(r.joins) - 1; i >= 0 && r.joins[i].pri > pri; i-- {
		rate -= r.joins[i].perSec
	}
	if rate <= 0 {
		return math.MaxInt64, true
	}
	s := float64(n) / rate
	if s >= math.MaxInt64/float64(time.Second) {
		return math.MaxInt64, true
	}
	return time.Duration(s * float64(time.Second)), true
}

// retryAfter is the time to hand out slots to ahead waiters and then one
// more at the estimated hand-off rate, however old, within
// [minRetryAfter, ceiling]. Without an estimate it is minRetryAfter.
func (r *lineRate) retryAfter(ahead int, ceiling time.Duration) time.Duration {
	if r.perSec <= 0 {
		return minRetryAfter
	}
	s := float64(ahead+1) / r.perSec
	if s >= ceiling.Seconds() {
		return ceiling
	}
	return max(time.Duration(s*float64(time.Second)), minRetryAfter)
}
