package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// PutRun creates or replaces a run record. It sets r.CreatedAt when zero
// and r.UpdatedAt.
func (s *Store) PutRun(ctx context.Context, r *store.Run) error {
	if err := backend.CheckKey("put run", r.Tenant, r.ID); err != nil {
		return err
	}
	now := backend.Now()
	if r.CreatedAt.IsZero() {
		r.CreatedAt = now
	}
	r.CreatedAt, r.UpdatedAt = backend.Millis(r.CreatedAt), now
	if _, err := s.pool.Exec(ctx, s.q.putRun, r.Tenant, r.ID, r.SessionID, r.Agent, r.Status, bytesOrNil(r.Request),
		bytesOrNil(r.Result), r.Attempts, r.CreatedAt, now, now.Add(s.cfg.RunTTL)); err != nil {
		return fmt.Errorf("put run: %w", err)
	}
	return nil
}

// GetRun returns a run record. ErrNotFound when there is none (or it
// expired).
func (s *Store) GetRun(ctx context.Context, tenant, id string) (*store.Run, error) {
	if err := backend.CheckKey("get run", tenant, id); err != nil {
		return nil, err
	}
	r, _, err := s.getRun(ctx, tenant, id)
	return r, err
}

func (s *Store) getRun(ctx context.Context, tenant, id string) (*store.Run, int64, error) {
	r := &store.Run{Tenant: tenant, ID: id}
	var req, res []byte
	var rev int64
	err := s.pool.QueryRow(ctx, s.q.getRun, tenant, id, backend.Now()).Scan(
		&r.SessionID, &r.Agent, &r.Status, &req, &res, &r.Attempts, &r.CreatedAt, &r.UpdatedAt, &rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, fmt.Errorf("get run: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("get run: %w", err)
	}
	if req != nil {
		r.Request = req
	}
	if res != nil {
		r.Result = res
	}
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	return r, rev, nil
}

// updateRunAttempts bounds UpdateRun's compare-and-set retries.
const updateRunAttempts = 64

// UpdateRun reads a run record, lets fn change it and writes it back if
// nobody else wrote it meanwhile, retrying from a fresh read otherwise (fn
// may run several times; no row lock is held while it runs). fn must not
// change Tenant or ID (they are kept). An error from fn is returned as is
// and nothing is written. ErrNotFound when the run does not exist.
func (s *Store) UpdateRun(ctx context.Context, tenant, id string, fn func(*store.Run) error) (*store.Run, error) {
	if err := backend.CheckKey("update run", tenant, id); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		r, rev, err := s.getRun(ctx, tenant, id)
		if err != nil {
			return nil, err
		}
		created := r.CreatedAt
		if err := fn(r); err != nil {
			return nil, err
		}
		now := backend.Now()
		r.Tenant, r.ID, r.CreatedAt, r.UpdatedAt = tenant, id, created, now
		tag, err := s.pool.Exec(ctx, s.q.updateRun, tenant, id, r.SessionID, r.Agent, r.Status, bytesOrNil(r.Request),
			bytesOrNil(r.Result), r.Attempts, now, now.Add(s.cfg.RunTTL), rev)
		if err != nil {
			return nil, fmt.Errorf("update run: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return r, nil
		}
		if attempt+1 >= updateRunAttempts {
			return nil, fmt.Errorf("update run: %w", store.ErrConflict)
		}
		t := time.NewTimer(time.Duration(rand.N(1+attempt)) * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("update run: %w", ctx.Err())
		case <-t.C:
		}
	}
}
