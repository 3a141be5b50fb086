package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// Acquire takes the session's lease for owner for ttl (≤ 0:
// store.DefaultLeaseTTL), blocking while another holds it. Waiters are
// served in arrival order (the queue is in the database, so this holds
// across processes); one in this process is woken by the release at once,
// one in another process by its next poll. When ctx ends first it returns
// store.ErrLeaseTimeout wrapping ctx.Err(). The session need not exist yet.
func (s *Store) Acquire(ctx context.Context, tenant, id, owner string, ttl time.Duration) (store.Lease, error) {
	if err := backend.CheckKey("acquire", tenant, id); err != nil {
		return store.Lease{}, err
	}
	ttl = backend.LeaseTTL(ttl)
	var expires time.Time
	try := func(ctx context.Context, waiter string) (int64, bool, time.Duration, error) {
		start := time.Now()
		tok, ok, wait, err := s.tryAcquire(ctx, tenant, id, owner, waiter, start, ttl)
		expires = start.Add(ttl)
		return tok, ok, wait, err
	}
	leave := func(ctx context.Context, waiter string) error { return s.leave(ctx, tenant, id, waiter) }
	tok, err := s.waiters.Acquire(ctx, try, leave)
	if err != nil {
		return store.Lease{}, err
	}
	return store.Lease{Tenant: tenant, Session: id, Owner: owner, Token: tok, Expires: expires}, nil
}

func (s *Store) tryAcquire(ctx context.Context, tenant, id, owner, waiter string, now time.Time, ttl time.Duration) (int64, bool, time.Duration, error) {
	ms := now.UnixMilli()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, false, 0, err
	}
	defer rollback(tx)
	var fence, exp sql.NullInt64
	var head sql.NullString
	if err := tx.StmtContext(ctx, s.ws.leaseState).QueryRowContext(ctx, tenant, id, ms).Scan(&fence, &exp, &head); err != nil {
		return 0, false, 0, err
	}
	if exp.Int64 > ms || (head.Valid && head.String != waiter) {
		if _, err := tx.StmtContext(ctx, s.ws.upsertWaiter).ExecContext(ctx, tenant, id, waiter, now.Add(backend.Live).UnixMilli()); err != nil {
			return 0, false, 0, err
		}
		if err := tx.Commit(); err != nil {
			return 0, false, 0, err
		}
		return 0, false, time.Duration(exp.Int64-ms) * time.Millisecond, nil
	}
	tok := backend.NextToken(fence.Int64, now)
	if _, err := tx.StmtContext(ctx, s.ws.upsertLease).ExecContext(ctx, tenant, id, tok, owner, now.Add(ttl).UnixMilli()); err != nil {
		return 0, false, 0, err
	}
	if head.Valid {
		if _, err := tx.StmtContext(ctx, s.ws.deleteWaiter).ExecContext(ctx, tenant, id, waiter); err != nil {
			return 0, false, 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, false, 0, err
	}
	return tok, true, 0, nil
}

// leave takes a waiter that gave up out of the queue, and passes a free
// lease on to the next.
func (s *Store) leave(ctx context.Context, tenant, id, waiter string) error {
	now := time.Now().UnixMilli()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rollback(tx)
	if _, err := tx.StmtContext(ctx, s.ws.deleteWaiter).ExecContext(ctx, tenant, id, waiter); err != nil {
		return err
	}
	var fence, exp sql.NullInt64
	var head sql.NullString
	if err := tx.StmtContext(ctx, s.ws.leaseState).QueryRowContext(ctx, tenant, id, now).Scan(&fence, &exp, &head); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if exp.Int64 <= now {
		s.waiters.Wake(head.String)
	}
	return nil
}

// Renew extends a held lease to ttl from now (≤ 0: store.DefaultLeaseTTL).
// A lease that ran out is renewed too as long as nobody took it since.
// ErrLeaseLost when another holder acquired it or it was released.
func (s *Store) Renew(ctx context.Context, l store.Lease, ttl time.Duration) error {
	if err := backend.CheckKey("renew", l.Tenant, l.Session); err != nil {
		return err
	}
	ttl = backend.LeaseTTL(ttl)
	res, err := s.ws.renew.ExecContext(ctx, l.Tenant, l.Session, l.Token, time.Now().Add(ttl).UnixMilli())
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("renew: %w", store.ErrLeaseLost)
	}
	return nil
}

// Release gives the lease back and wakes the next waiter. Releasing a lease
// that is no longer held (released before, expired and taken) does nothing.
func (s *Store) Release(ctx context.Context, l store.Lease) error {
	if err := backend.CheckKey("release", l.Tenant, l.Session); err != nil {
		return err
	}
	now := time.Now().UnixMilli()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	defer rollback(tx)
	res, err := tx.StmtContext(ctx, s.ws.release).ExecContext(ctx, l.Tenant, l.Session, l.Token)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return nil
	}
	var head string
	err = tx.StmtContext(ctx, s.ws.head).QueryRowContext(ctx, l.Tenant, l.Session, now).Scan(&head)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("release: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	s.waiters.Wake(head)
	return nil
}
