package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
)

// renewer keeps a session lease alive while a turn runs: it renews it
// every ttl/3 from a timer callback, so that an idle in-flight run holds
// no goroutine (thousands of runs wait on the model at once). stop joins
// a renewal in progress. A renewal that finds the lease taken over calls
// lost and stops; other errors are retried at the next tick, while the
// lease still has two thirds of its ttl to run.
type renewer struct {
	leases Leases
	lease  store.Lease
	ttl    time.Duration
	every  time.Duration
	lost   func(error)

	mu      sync.Mutex
	t       *time.Timer
	armed   bool          // t is set and its callback has not yet begun
	stopped bool          // stop was called
	exited  chan struct{} // a callback that fired after stop signals here
}

func startRenewer(leases Leases, lease store.Lease, ttl time.Duration, lost func(error)) *renewer {
	r := &renewer{leases: leases, lease: lease, ttl: ttl, every: max(ttl/3, time.Millisecond), lost: lost,
		exited: make(chan struct{}, 1)}
	r.mu.Lock()
	r.t = time.AfterFunc(r.every, r.fire)
	r.armed = true
	r.mu.Unlock()
	return r
}

// fire renews the lease and sets the timer again. It holds mu throughout,
// so that stop waits for it.
func (r *renewer) fire() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.armed = false
	if r.stopped {
		r.exited <- struct{}{}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.every)
	err := r.leases.Renew(ctx, r.lease, r.ttl)
	cancel()
	if errors.Is(err, store.ErrLeaseLost) {
		r.lost(err)
		return
	}
	r.t.Reset(r.every)
	r.armed = true
}

// stop ends the renewals and returns once no callback runs or will run.
// It must be called once.
func (r *renewer) stop() {
	r.mu.Lock()
	r.stopped = true
	// Stop fails when the callback has begun: it is blocked on mu and will
	// see stopped.
	wait := r.armed && !r.t.Stop()
	r.mu.Unlock()
	if wait {
		<-r.exited
	}
}
