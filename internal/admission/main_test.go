package admission

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// settleTimeout bounds, in wall time, how long a test waits for goroutines
// to reach a state the queue's logic guarantees; hitting it is a failure
// (a lost wake-up), never a slow machine's excuse for passing.
const settleTimeout = 10 * time.Second

// result is what one Admit call returned, and the fake time it returned at.
type result struct {
	name    string
	release func()
	err     error
	at      time.Time
}

// crowd runs Admit calls in goroutines and knows when all of them are
// either finished or waiting in the queue.
type crowd struct {
	t       testing.TB
	q       *Queue
	clock   *fakeClock
	started atomic.Int64
	done    atomic.Int64
	results chan result
	wg      sync.WaitGroup
}

func newCrowd(t testing.TB, q *Queue, clock *fakeClock) *crowd {
	c := &crowd{t: t, q: q, clock: clock, results: make(chan result, 1024)}
	t.Cleanup(c.wg.Wait)
	return c
}

// admit starts Admit(ctx, tk) in a goroutine named name and returns once
// the call has finished or joined the queue.
func (c *crowd) admit(ctx context.Context, name string, tk Ticket) {
	c.started.Add(1)
	c.wg.Go(func() {
		p, err := c.q.Admit(ctx, tk)
		var release func()
		if p.Held() {
			release = p.Release
		}
		if (err == nil) != (release != nil) {
			c.t.Errorf("%s: Admit returned a permit held %v and err %v", name, p.Held(), err)
		}
		c.results <- result{name: name, release: release, err: err, at: c.clock.Now()}
		c.done.Add(1)
	})
	c.settle()
}

// settle waits until every started call has finished or waits in the queue
// with its timer armed.
func (c *crowd) settle() {
	c.t.Helper()
	limit := time.Now().Add(settleTimeout)
	for {
		if c.started.Load() == c.done.Load()+int64(c.q.Stats().Waiting) {
			// A call counts as waiting from inside the critical section
			// that queues it and arms its timer: let it leave first.
			c.q.mu.Lock()
			c.q.mu.Unlock() //nolint:staticcheck // an empty critical section is the point
			if c.started.Load() == c.done.Load()+int64(c.q.Stats().Waiting) {
				return
			}
		}
		if time.Now().After(limit) {
			c.t.Fatalf("calls did not settle: started %d, done %d, waiting %d",
				c.started.Load(), c.done.Load(), c.q.Stats().Waiting)
		}
		runtime.Gosched()
	}
}

// next returns the next finished call's result.
func (c *crowd) next() result {
	c.t.Helper()
	select {
	case r := <-c.results:
		return r
	case <-time.After(settleTimeout):
		c.t.Fatal("no call finished")
		return result{}
	}
}

// drain returns the results of the calls finished so far, without waiting.
func (c *crowd) drain(into []result) []result {
	for {
		select {
		case r := <-c.results:
			into = append(into, r)
		default:
			return into
		}
	}
}

// none checks that no call has finished.
func (c *crowd) none() {
	c.t.Helper()
	c.settle()
	select {
	case r := <-c.results:
		c.t.Fatalf("call %q finished (err %v), want it still waiting", r.name, r.err)
	default:
	}
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu      sync.Mutex
	events  []event
	lengths []int
}

type event struct {
	tier, outcome string
	wait          time.Duration
}

func (r *recorder) Admission(tier, outcome string, wait time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{tier, outcome, wait})
}

func (r *recorder) QueueLength(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lengths = append(r.lengths, n)
}

func (r *recorder) snapshot() ([]event, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...), append([]int(nil), r.lengths...)
}
