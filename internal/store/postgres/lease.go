package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// Acquire takes the session's lease for owner for ttl (≤ 0:
// store.DefaultLeaseTTL), blocking while another holds it. Waiters queue in
// the database in arrival order, across all nodes, and are served first
// come, first served; Release wakes the next one through NOTIFY (directly
// when it waits in this process), and waiters also poll, so a lost
// notification or a dead holder's expiry costs at most 250 ms. When ctx
// ends first it returns store.ErrLeaseTimeout wrapping ctx.Err(). The
// session need not exist yet.
func (s *Store) Acquire(ctx context.Context, tenant, id, owner string, ttl time.Duration) (store.Lease, error) {
	if err := backend.CheckKey("acquire", tenant, id); err != nil {
		return store.Lease{}, err
	}
	ttl = backend.LeaseTTL(ttl)
	var expires time.Time
	try := func(ctx context.Context, waiter string) (int64, bool, time.Duration, error) {
		start := time.Now()
		var granted bool
		var tok, wait int64
		if err := s.pool.QueryRow(ctx, s.q.acquire, tenant, id, waiter, owner, ttl.Milliseconds(), backend.Live.Milliseconds()).
			Scan(&granted, &tok, &wait); err != nil {
			return 0, false, 0, err
		}
		expires = start.Add(ttl)
		return tok, granted, time.Duration(wait) * time.Millisecond, nil
	}
	leave := func(ctx context.Context, waiter string) error {
		var woke string
		err := s.pool.QueryRow(ctx, s.q.leave, tenant, id, waiter, s.channel).Scan(&woke)
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
	tag, err := s.pool.Exec(ctx, s.q.renew, l.Tenant, l.Session, l.Token, ttl.Milliseconds())
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("renew: %w", store.ErrLeaseLost)
	}
	return nil
}

// Release gives the lease back and wakes the next waiter. Releasing a lease
// that is no longer held does nothing.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := backend.CheckKey("release", l.Tenant, l.Session); err != nil {
		return err
	}
	var woke string
	if err := s.pool.QueryRow(ctx, s.q.release, l.Tenant, l.Session, l.Token, s.channel).Scan(&woke); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	// NOTIFY reaches this process too; waking directly saves the trip.
	s.waiters.Wake(woke)
	return nil
}
