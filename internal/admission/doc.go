// Package admission is Q1, the gate in front of execution on one node: it
// lets at most MaxConcurrent requests run at once and makes the others wait
// in a bounded priority queue, each no longer than its own deadline, shedding
// the lowest priority first when the queue is full. A request that is not
// admitted is answered at once with a reason (ErrShed, ErrExpired,
// ErrCanceled or ErrClosed) inside an *llm.Error that carries the HTTP
// status and, for shed and expired ones, a Retry-After hint, so the gateway
// can reply with a degraded answer or a 429 instead of letting the client
// hang.
//
// The gateway calls, per request:
//
//	p, err := q.Admit(ctx, admission.Ticket{
//		Priority: tier.Priority, MaxWait: tier.QueueDeadline, Tier: tierName})
//	if err != nil { /* degraded answer, or writeError(err): 429 + Retry-After */ }
//	defer p.Release()
//
// # Algorithm
//
// The counts of requests running and waiting and a closed flag share one
// atomic word. Admit takes a slot with a compare-and-swap when one is free,
// nobody waits and the queue is open; Release gives it back the same way
// when nobody waits. Neither takes a lock or allocates (Permits are pooled),
// so an unsaturated node pays two CASes per request and nothing else.
//
// Only when every slot is taken does Admit lock the queue. The waiting line
// is a list of FIFO buckets, one per priority present, ordered by priority:
// the head of the highest bucket is next in line, the tail of the lowest
// bucket (the most recent of the least important) is the first to be shed.
// A release that finds waiters hands its slot straight to the next in line,
// under the lock, without the slot ever becoming free, so a newcomer cannot
// overtake someone who waits: while anyone waits, every slot is taken and
// every arrival goes through the lock.
//
// When the queue is full, an arrival of higher priority than the lowest
// waiter takes that waiter's place and the waiter is shed (ErrShed); any
// other arrival is shed itself. A request that must wait and whose deadline
// has already passed is expired at once, without displacing anybody.
//
// Each waiter carries a timer (from the Clock) set to its deadline. The timer
// removes the waiter from the line under the same lock that hands out slots,
// so a waiter is decided exactly once: admitted, shed, expired, closed or,
// when its context ends first, canceled. Timers cost no goroutine while they
// wait; waiters, with their channel and timer, are pooled. On the system
// clock a deadline is met within the timers' latency (about a millisecond;
// a few on an overloaded machine).
//
// # Early shedding
//
// The queue measures, over time during which somebody waits, the rate at
// which slots are handed to waiters and the rate at which each priority
// joins the line. A waiter of priority p moves forward at the first rate
// less the joins of priorities above p, which queue ahead of it. A request
// whose deadline comes before the line could reach it at that pace (those
// of its priority and above ahead of it, plus itself) is shed on arrival:
// waiting would only have ended in expiry. In particular, when the higher
// tiers alone join as fast as the node serves, the lower ones are shed at
// once instead of waiting out their deadlines. Estimates older than a
// second are not used for this, and Config.DisableEarlyShed turns it off.
//
// # Fairness
//
// Priority is strict: a waiter is admitted only when nobody of higher priority
// waits, and within one priority in order of arrival. Under sustained
// overload the lowest priority can therefore starve; that is the intent (the
// free tier yields to paying ones), and deadlines bound it: a starved request
// is shed on arrival or expires at its deadline, with a Retry-After, instead
// of waiting forever, and Config.MaxWait bounds a request that brings no
// deadline. Shedding takes the most recent of the lowest priority, so the
// ones that have waited longest keep their turn.
//
// # Retry-After
//
// The hint is the time the queue needs to hand out slots to the requests that
// would be ahead of the rejected one (those of its priority or higher) plus
// one, at the hand-off rate measured while requests queue (an exponentially
// weighted average over about a second of queueing). It is at least a second
// and at most Config.MaxRetryAfter.
//
// # Close
//
// Close fails every waiter with ErrClosed (503, retry after a second:
// another node may serve it) and refuses every later Admit; admitted
// requests finish and release as usual. A Queue owns no goroutine.
//
// # Metrics
//
// Metrics is the Observer on Prometheus: requests by tier and outcome, the
// wait histogram by tier and outcome, the queue's length, the running
// requests and the limit. Tier label values are folded into "other" past
// MaxTiers.
//
// # Load
//
// Load reports running plus waiting requests over MaxConcurrent from one
// atomic load: below 1 there is a free slot, above 1 requests are queueing.
// The peak policy (free tier to the small model) reads it per request.
package admission
