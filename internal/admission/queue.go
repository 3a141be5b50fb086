package admission

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Ticket describes a request asking to be admitted. The zero Ticket is a
// request of priority 0 that may wait Config.MaxWait.
type Ticket struct {
	// Priority orders waiters: higher first; equal priorities in order of
	// arrival. The gateway passes the tier's priority.
	Priority int
	// MaxWait is the longest the request may wait, from its arrival by the
	// Queue's clock; the gateway passes the tier's queue deadline. Zero
	// means Config.MaxWait; a negative value means the request must not
	// wait at all (it expires at once when no slot is free).
	MaxWait time.Duration
	// Deadline is an absolute time by which the request must have left
	// the queue; the zero value means none. The earliest of Deadline,
	// arrival + MaxWait and arrival + Config.MaxWait applies.
	Deadline time.Time
	// Tier names the request's class in what the Observer is told (a
	// metric label); it must come from a bounded set such as the
	// configured tiers. Metrics folds values past its bound into "other".
	Tier string
}

// The state word holds the running count in bits 0-31, the waiting count in
// bits 32-62 and the closed flag in bit 63, so that "a slot is free, nobody
// waits and the queue is open" is one test of the word (s>>32 == 0 and the
// running count below the limit) and taking the slot one compare-and-swap.
const (
	oneWaiting  = 1 << 32
	closedBit   = 1 << 63
	countMask   = 1<<31 - 1
	lessWaiting = ^uint64(oneWaiting - 1) // adding it subtracts oneWaiting
	lessRunning = ^uint64(0)              // adding it subtracts 1
)

func running(s uint64) uint64 { return s & (oneWaiting - 1) }
func waiting(s uint64) uint64 { return s >> 32 & countMask }

// Queue is Q1: it admits up to MaxConcurrent requests at once and queues the
// others by priority, each until its deadline. It is safe for concurrent
// use and must not be copied; the zero value is not usable, call New. A
// Queue owns no goroutine: a waiter's deadline is a timer, and Close fails
// whoever still waits.
type Queue struct {
	// state is the running and waiting counts and the closed flag (see
	// oneWaiting). The waiting half and the flag change only under mu,
	// and while either is set the running half changes only under mu too.
	state atomic.Uint64

	max        uint64
	maxQueue   uint64
	maxWait    time.Duration
	maxRetry   time.Duration
	earlyShed  bool
	clock      Clock
	obs        Observer
	waiterPool sync.Pool // *waiter
	slotPool   sync.Pool // *slot

	mu   sync.Mutex
	line line
	rate lineRate
}

// waiter is one request in the line. Its fields other than ready are
// guarded by q.mu while it is queued and owned by its Admit call otherwise.
// Waiters are pooled: a waiter, its channel and its timer serve many
// requests in turn.
type waiter struct {
	q          *Queue
	prev, next *waiter
	b          *bucket
	pri        int
	deadline   time.Time
	since      time.Time
	state      waitState
	retryAfter time.Duration
	// ready receives one value, sent under q.mu, when someone else
	// decides the waiter: admitted, shed, expired or closed.
	ready  chan struct{}
	timer  Timer
	expire func()
}

type waitState uint8

const (
	stateQueued waitState = iota
	stateAdmitted
	stateShed
	stateExpired
	stateCanceled
	stateClosed
)

// New returns a Queue configured by cfg, or an error wrapping
// ErrInvalidConfig.
func New(cfg Config) (*Queue, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	q := &Queue{
		max:       uint64(cfg.MaxConcurrent),
		maxQueue:  uint64(cfg.MaxQueue),
		maxWait:   cfg.MaxWait,
		maxRetry:  cfg.MaxRetryAfter,
		earlyShed: !cfg.DisableEarlyShed,
		clock:     cfg.Clock,
		obs:       cfg.Observer,
	}
	q.slotPool.New = func() any { return &slot{q: q} }
	q.waiterPool.New = func() any {
		w := &waiter{q: q, ready: make(chan struct{}, 1)}
		w.expire = w.onDeadline
		return w
	}
	if qw, ok := cfg.Observer.(queueWatcher); ok {
		qw.watch(q)
	}
	return q, nil
}

// queueWatcher is an Observer that also reads the Queue (Metrics, for its
// gauges of running requests and capacity).
type queueWatcher interface{ watch(q *Queue) }

// Admit waits for a slot for the request t describes and returns the Permit
// that holds it; the caller must Release it once the request has finished.
// A request is admitted at once
// when a slot is free and nobody waits; otherwise it queues by priority
// until a slot is handed to it, its deadline passes, one of higher priority
// displaces it, ctx ends or the queue is closed. A request the queue
// expects to expire (see Config.DisableEarlyShed) is shed at once.
//
// A request not admitted gets an *llm.Error wrapping the reason: ErrShed or
// ErrExpired (KindRateLimited, 429, with a RetryAfter hint), ErrCanceled
// (KindCanceled) when ctx was canceled, ErrClosed (KindUnavailable, 503)
// once Close has been called. ctx's deadline passing counts as expiry. Admit
// never returns later than the request's deadline, give or take the
// latency of the Clock's timers.
func (q *Queue) Admit(ctx context.Context, t Ticket) (Permit, error) {
	if ctx.Err() != nil {
		return Permit{}, q.ctxDone(ctx, t.Tier, 0)
	}
	for {
		s := q.state.Load()
		if s>>32 != 0 || running(s) >= q.max {
			return q.wait(ctx, t)
		}
		if q.state.CompareAndSwap(s, s+1) {
			q.observe(t.Tier, OutcomeAdmitted, 0)
			return q.permit(), nil
		}
	}
}

// deadline is when a request arriving at now with ticket t must leave the
// queue.
func (q *Queue) deadline(t Ticket, now time.Time) time.Time {
	d := now.Add(q.maxWait)
	if t.MaxWait != 0 && t.MaxWait < q.maxWait {
		d = now.Add(t.MaxWait)
	}
	if !t.Deadline.IsZero() && t.Deadline.Before(d) {
		d = t.Deadline
	}
	return d
}

// wait is Admit's slow path, taken when every slot seemed taken, somebody
// waited or the queue was closed.
func (q *Queue) wait(ctx context.Context, t Ticket) (Permit, error) {
	now := q.clock.Now()
	deadline := q.deadline(t, now)
	var w *waiter
	q.mu.Lock()
	for {
		s := q.state.Load()
		if s&closedBit != 0 {
			q.mu.Unlock()
			q.observe(t.Tier, OutcomeClosed, 0)
			return Permit{}, closedError()
		}
		n := waiting(s)
		if n == 0 && running(s) < q.max {
			if q.state.CompareAndSwap(s, s+1) {
				q.mu.Unlock()
				q.observe(t.Tier, OutcomeAdmitted, 0)
				return q.permit(), nil
			}
			continue // a release or an admission raced us; look again
		}
		if !now.Before(deadline) {
			ra := q.retryAfterLocked(t.Priority)
			q.mu.Unlock()
			q.observe(t.Tier, OutcomeExpired, 0)
			return Permit{}, rejected(ErrExpired, ra, nil)
		}
		ahead := q.line.atLeast(t.Priority)
		if q.earlyShed {
			if d, ok := q.rate.drainTime(ahead+1, t.Priority, now); ok && d > deadline.Sub(now) {
				ra := q.rate.retryAfter(ahead, q.maxRetry)
				q.mu.Unlock()
				q.observe(t.Tier, OutcomeShed, 0)
				return Permit{}, rejected(ErrShed, ra, nil)
			}
		}
		if n < q.maxQueue {
			// While nobody waits, a release may free a slot without the
			// lock: joining the line must see the slot still taken.
			if n == 0 && !q.state.CompareAndSwap(s, s+oneWaiting) {
				continue
			}
			if n != 0 {
				q.state.Add(oneWaiting)
			}
			q.rate.tick(now, n != 0)
			q.rate.join(t.Priority)
			w = q.enqueueLocked(t.Priority, now, deadline)
			break
		}
		low := q.line.last()
		if low == nil || low.pri >= t.Priority {
			ra := q.rate.retryAfter(ahead, q.maxRetry)
			q.mu.Unlock()
			q.observe(t.Tier, OutcomeShed, 0)
			return Permit{}, rejected(ErrShed, ra, nil)
		}
		// The newcomer takes the place of the lowest waiter: the waiting
		// count stays as it is.
		q.rate.tick(now, true)
		q.rate.join(t.Priority)
		q.line.remove(low)
		q.decideLocked(low, stateShed)
		w = q.enqueueLocked(t.Priority, now, deadline)
		break
	}
	q.mu.Unlock()

	select {
	case <-w.ready:
	case <-ctx.Done():
		now := q.clock.Now()
		q.mu.Lock()
		if w.state == stateQueued {
			q.rate.tick(now, true)
			q.line.remove(w)
			q.state.Add(lessWaiting)
			w.state = stateCanceled
			q.lengthLocked()
		} else {
			<-w.ready // decided meanwhile; the value was sent under the lock
		}
		q.mu.Unlock()
	}
	w.timer.Stop()
	state, ra := w.state, w.retryAfter
	wait := q.clock.Now().Sub(w.since)
	q.waiterPool.Put(w)

	switch state {
	case stateAdmitted:
		if ctx.Err() == nil {
			q.observe(t.Tier, OutcomeAdmitted, wait)
			return q.permit(), nil
		}
		// Admitted as ctx ended: the caller is gone, pass the slot on.
		q.release()
		return Permit{}, q.ctxDone(ctx, t.Tier, wait)
	case stateShed:
		q.observe(t.Tier, OutcomeShed, wait)
		return Permit{}, rejected(ErrShed, ra, nil)
	case stateExpired:
		q.observe(t.Tier, OutcomeExpired, wait)
		return Permit{}, rejected(ErrExpired, ra, nil)
	case stateClosed:
		q.observe(t.Tier, OutcomeClosed, wait)
		return Permit{}, closedError()
	default:
		return Permit{}, q.ctxDone(ctx, t.Tier, wait)
	}
}

// enqueueLocked puts a pooled waiter in the line and arms its timer. The
// waiting count must already include it.
func (q *Queue) enqueueLocked(pri int, now, deadline time.Time) *waiter {
	w := q.waiterPool.Get().(*waiter)
	w.pri, w.deadline, w.since = pri, deadline, now
	w.state, w.retryAfter = stateQueued, 0
	q.line.push(w)
	q.lengthLocked()
	// Armed under the lock, like a stale firing re-arms it (onDeadline),
	// so the two cannot interleave.
	if d := deadline.Sub(now); w.timer == nil {
		w.timer = q.clock.AfterFunc(d, w.expire)
	} else {
		w.timer.Reset(d)
	}
	return w
}

// onDeadline runs when w's timer fires. A pooled waiter's timer may fire
// late for an earlier request (Stop does not wait for a firing already
// under way), so it expires w only if w waits and is past its deadline,
// and otherwise re-arms for the rest.
func (w *waiter) onDeadline() {
	q := w.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if w.state != stateQueued {
		return
	}
	now := q.clock.Now()
	if now.Before(w.deadline) {
		w.timer.Reset(w.deadline.Sub(now))
		return
	}
	q.rate.tick(now, true)
	q.line.remove(w)
	q.state.Add(lessWaiting)
	q.decideLocked(w, stateExpired)
	q.lengthLocked()
}

// decideLocked settles w, already out of the line, as shed or expired, and
// wakes it.
func (q *Queue) decideLocked(w *waiter, st waitState) {
	w.state = st
	w.retryAfter = q.retryAfterLocked(w.pri)
	w.ready <- struct{}{}
}

// retryAfterLocked is the hint for a request of priority pri not admitted
// now: the time to drain those that would be ahead of it.
func (q *Queue) retryAfterLocked(pri int) time.Duration {
	return q.rate.retryAfter(q.line.atLeast(pri), q.maxRetry)
}

func (q *Queue) lengthLocked() {
	if q.obs != nil {
		q.obs.QueueLength(q.line.n)
	}
}

// Permit is an admitted request's hold on one of the queue's slots. The
// zero Permit holds nothing.
type Permit struct {
	s   *slot
	gen uint64
}

// slot backs Permits. Slots are pooled; gen tells the Permit that holds one
// now from those that held it before, so a Permit released twice, even
// after its slot went to another request, releases nothing the second time.
type slot struct {
	q   *Queue
	gen atomic.Uint64
}

// Release gives the slot back, to the next waiter if anyone waits. Calling
// it again, or on the zero Permit, does nothing. It is safe for concurrent
// use and never blocks for long (a hand-off takes the queue's lock).
func (p Permit) Release() {
	if p.s == nil || !p.s.gen.CompareAndSwap(p.gen, p.gen+1) {
		return
	}
	q := p.s.q
	q.slotPool.Put(p.s)
	q.release()
}

// Held reports whether p holds a slot it has not released yet.
func (p Permit) Held() bool { return p.s != nil && p.s.gen.Load() == p.gen }

// permit returns a Permit for a slot just taken.
func (q *Queue) permit() Permit {
	s := q.slotPool.Get().(*slot)
	return Permit{s: s, gen: s.gen.Load()}
}

// release gives a slot back: to the next waiter if there is one, else to
// the pool of free slots.
func (q *Queue) release() {
	for {
		s := q.state.Load()
		if s>>32 != 0 {
			break
		}
		if q.state.CompareAndSwap(s, s+lessRunning) {
			return
		}
	}
	now := q.clock.Now()
	q.mu.Lock()
	w := q.line.next()
	if w != nil {
		q.rate.handoff()
	}
	q.rate.tick(now, w != nil)
	if w == nil {
		// The waiters left (canceled, expired, failed by Close) before we
		// got the lock, or the queue is closed.
		q.state.Add(lessRunning)
		q.mu.Unlock()
		return
	}
	q.line.remove(w)
	q.state.Add(lessWaiting) // the slot passes to w: running stays
	w.state = stateAdmitted
	w.ready <- struct{}{}
	q.lengthLocked()
	q.mu.Unlock()
}

// Close fails every waiting request with ErrClosed and makes every later
// Admit fail with it too. Requests already admitted keep their slots and
// release them as usual. Close returns at once, is idempotent and safe for
// concurrent use; it always returns nil.
func (q *Queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.state.Load()&closedBit != 0 {
		return nil
	}
	q.state.Add(closedBit)
	for w := q.line.next(); w != nil; w = q.line.next() {
		q.line.remove(w)
		q.state.Add(lessWaiting)
		w.state = stateClosed
		w.ready <- struct{}{}
	}
	q.lengthLocked()
	return nil
}

// ctxDone reports and returns the error for a request whose ctx ended after
// it waited wait.
func (q *Queue) ctxDone(ctx context.Context, tier string, wait time.Duration) error {
	outcome := ctxOutcome(ctx)
	q.observe(tier, outcome, wait)
	if outcome == OutcomeExpired {
		return rejected(ErrExpired, q.retryAfter(), ctx.Err())
	}
	return canceled(ctx.Err())
}

// retryAfter is the hint for a request of no particular priority.
func (q *Queue) retryAfter() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.rate.retryAfter(q.line.n, q.maxRetry)
}

func (q *Queue) observe(tier, outcome string, wait time.Duration) {
	if q.obs != nil {
		q.obs.Admission(tier, outcome, wait)
	}
}

// Stats is a snapshot of a Queue.
type Stats struct {
	// Running is the number of requests admitted and not yet released.
	Running int
	// Waiting is the number of requests in the queue.
	Waiting int
	// MaxConcurrent and MaxQueue are the limits in force.
	MaxConcurrent, MaxQueue int
	// Closed is true once Close has been called.
	Closed bool
}

// Stats returns the queue's counts from one atomic load. It is safe for
// concurrent use.
func (q *Queue) Stats() Stats {
	s := q.state.Load()
	return Stats{
		Running:       int(running(s)),
		Waiting:       int(waiting(s)),
		MaxConcurrent: int(q.max),
		MaxQueue:      int(q.maxQueue),
		Closed:        s&closedBit != 0,
	}
}

// Load is the demand on the node: requests running plus waiting, over
// MaxConcurrent. Below 1 a slot is free (it is then running/capacity, the
// utilisation a tier's peak policy compares with load_above); above 1
// requests queue; it cannot exceed 1 + MaxQueue/MaxConcurrent. It costs one
// atomic load and is safe for concurrent use.
func (q *Queue) Load() float64 {
	s := q.state.Load()
	return float64(running(s)+waiting(s)) / float64(q.max)
}
