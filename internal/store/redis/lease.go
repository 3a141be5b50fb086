package redis

import (
	"context"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// Acquire takes the session's lease for owner for ttl (≤ 0:
// store.DefaultLeaseTTL), blocking while another holds it. Waiters queue in
// Redis in arrival order, across all processes, and are served first come,
// first served; Release wakes the next one through pub/sub, and waiters
// also poll so a lost message or a dead holder's expiry costs at most
// 250 ms. When ctx ends first it returns store.ErrLeaseTimeout wrapping
// ctx.Err(). The session need not exist yet.
func (s *Store) Acquire(ctx context.Context, tenant, id, owner string, ttl time.Duration) (store.Lease, error) {
	if err := backend.CheckKey("acquire", tenant, id); err != nil {
		return store.Lease{}, err
	}
	ttl = backend.LeaseTTL(ttl)
	keys := s.leaseKeys(tenant, id)
	var expires time.Time
	try := func(ctx context.Context, waiter string) (int64, bool, time.Duration, error) {
		start := time.Now()
		res, err := acquireScript.Run(ctx, s.rdb, keys, waiter, ttl.Milliseconds(), backend.Live.Milliseconds(), s.ttl).Result()
		if err != nil {
			return 0, false, 0, err
		}
		r, err := ints(res)
		if err != nil {
			return 0, false, 0, err
		}
		if r[0] == 1 {
			expires = start.Add(ttl)
			return r[1], true, 0, nil
		}
		return 0, false, time.Duration(r[1]) * time.Millisecond, nil
	}
	leave := func(ctx context.Context, waiter string) error {
		woke, err := leaveScript.Run(ctx, s.rdb, keys, waiter, s.channel).Text()
		s.waiters.Wake(woke)
		return err
	}
	tok, err := s.waiters.Acquire(ctx, try, leave)
	if err != nil {
		return store.Lease{}, err
	}
	return store.Lease{Tenant: tenant, Session: id, Owner: owner, Token: tok, Expires: expires}, nil
}

// Renew extends a held lease to ttl from now (≤ 0: store.DefaultLeaseTTL).
// A lease that ran out is renewed too as long as nobody took it since.
// ErrLeaseLost when another holder acquired it or it was released.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) error {
	if err := backend.CheckKey("renew", l.Tenant, l.Session); err != nil {
		return err
	}
	ttl = backend.LeaseTTL(ttl)
	ok, err := renewScript.Run(ctx, s.rdb, s.leaseKeys(l.Tenant, l.Session)[:2], l.Token, ttl.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if ok == 0 {
		return fmt.Errorf("renew: %w", store.ErrLeaseLost)
	}
	return nil
}

// Release gives the lease back and wakes the next waiter, in this process
// directly and in others through pub/sub. Releasing a lease that is no
// longer held does nothing.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := backend.CheckKey("release", l.Tenant, l.Session); err != nil {
		return err
	}
	woke, err := releaseScript.Run(ctx, s.rdb, s.leaseKeys(l.Tenant, l.Session), l.Token, s.channel).Text()
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	// The pub/sub message reaches this process too; waking directly saves
	// its round trip.
	s.waiters.Wake(woke)
	return nil
}
