package backend

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
)

const (
	// Poll is how often a queued waiter tries again without a wake-up: the
	// most a lost wake-up or a holder's expiry in another process costs.
	Poll = 250 * time.Millisecond
	// Live is how long a queue keeps a waiter that stopped trying (its
	// process died); it must be many Polls so a slow but live waiter keeps
	// its place.
	Live = 5 * time.Second
	// leaveTimeout bounds the clean-up of a waiter that gave up.
	leaveTimeout = 2 * time.Second
)

// Try is one attempt of waiter to take a lease. It either grants (token,
// true) or leaves waiter queued and returns how long the current holder's
// lease has left (≤ 0 when unknown or free), so the loop can wake up when it
// ends.
type Try func(ctx context.Context, waiter string) (token int64, granted bool, wait time.Duration, err error)

// Leave takes a waiter that gave up out of the queue and wakes the next one
// when the lease is free.
type Leave func(ctx context.Context, waiter string) error

// Waiters routes wake-ups to the Acquire calls waiting in this process. The
// zero value is ready; safe for concurrent use. It holds one small entry per
// waiting call and nothing once they return.
type Waiters struct {
	mu   sync.Mutex
	m    map[string]chan struct{}
	poll time.Duration // 0: Poll; tests set it to prove a wake-up needs no poll
}

func (w *Waiters) add(id string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.m == nil {
		w.m = make(map[string]chan struct{})
	}
	w.m[id] = ch
	w.mu.Unlock()
	return ch
}

func (w *Waiters) remove(id string) {
	w.mu.Lock()
	delete(w.m, id)
	w.mu.Unlock()
}

// Wake tells waiter id to try again now, if it waits in this process;
// otherwise it does nothing. It never blocks.
func (w *Waiters) Wake(id string) {
	if id == "" {
		return
	}
	w.mu.Lock()
	ch := w.m[id]
	w.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Len is the number of calls waiting in this process.
func (w *Waiters) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.m)
}

// NextToken is the fencing token granted after fence: above it and at
// least the clock in microseconds. Tokens so follow the clock, and rise
// even past a lease row that was deleted with its session, or a store that
// lost its latest writes in a crash (no token handed out before the crash
// is handed out again after it).
func NextToken(fence int64, now time.Time) int64 { return max(fence+1, now.UnixMicro()) }

// NewWaiterID returns a random id, unique across processes in practice.
func NewWaiterID() string {
	var b [16]byte
	for i := range 2 {
		u := rand.Uint64()
		for j := range 8 {
			b[i*8+j] = byte(u >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:])
}

// Acquire runs the wait loop shared by the backends: one try, and when the
// lease is taken, a queued wait woken by Wake, by the holder's expiry or by
// Poll, until granted or ctx ends (then store.ErrLeaseTimeout wrapping
// ctx.Err(), after leave).
func (w *Waiters) Acquire(ctx context.Context, try Try, leave Leave) (int64, error) {
	id := NewWaiterID()
	tok, ok, wait, err := try(ctx, id)
	if ok && err == nil {
		return tok, nil
	}
	if err != nil {
		return 0, w.giveUp(ctx, leave, id, err)
	}
	// Registered only now, so an uncontended Acquire costs no map entry; the
	// immediate retry below covers a release that came before registration.
	ch := w.add(id)
	defer w.remove(id)
	timer := time.NewTimer(0)
	defer timer.Stop()
	<-timer.C
	for {
		tok, ok, wait, err = try(ctx, id)
		if err != nil {
			return 0, w.giveUp(ctx, leave, id, err)
		}
		if ok {
			return tok, nil
		}
		d := Poll
		if w.poll > 0 {
			d = w.poll
		}
		if wait > 0 && wait < d {
			d = wait + time.Millisecond
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return 0, w.giveUp(ctx, leave, id, ctx.Err())
		case <-ch:
		case <-timer.C:
		}
	}
}

func (w *Waiters) giveUp(ctx context.Context, leave Leave, id string, err error) error {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), leaveTimeout)
	defer cancel()
	// Best effort: a waiter that cannot be removed now is dropped from the
	// queue after Live anyway.
	_ = leave(lctx, id)
	// A query cut short by the caller's deadline fails with whatever the
	// driver makes of it; the caller asked for ErrLeaseTimeout.
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("acquire: %w: %w", store.ErrLeaseTimeout, cerr)
	}
	return fmt.Errorf("acquire: %w", err)
}
