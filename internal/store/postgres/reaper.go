package postgres

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// reapBatch bounds how many sessions one reaper statement deletes (their
// turns go with them), so no transaction holds many locks for long.
const reapBatch = 500

// Run deletes expired sessions (with their turns), user state, run records,
// dead lease waiters and long-expired leases every Config.ReapInterval until
// ctx ends; then it returns nil. Expired rows are invisible before they are
// reaped, so Run only reclaims space; running it on several nodes at once
// is harmless. A failed or panicking round is logged and the next one tries
// again.
func (s *Store) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.reapLogged(ctx)
		}
	}
}

func (s *Store) reapLogged(ctx context.Context) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("postgres store reaper panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if _, err := s.reap(ctx, time.Now()); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Error("postgres store reaper", "err", err)
	}
}

// reap deletes what expired before now and returns how many sessions went.
func (s *Store) reap(ctx context.Context, now time.Time) (int64, error) {
	r := strings.NewReplacer("{s}", s.schema)
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, r.Replace(`DELETE FROM {s}.sessions WHERE ctid = ANY (ARRAY(
			SELECT ctid FROM {s}.sessions WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED))`), now, reapBatch)
		if err != nil {
			return total, fmt.Errorf("reap sessions: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < reapBatch {
			break
		}
	}
	for _, q := range []string{
		`DELETE FROM {s}.users WHERE expires_at <= $1`,
		`DELETE FROM {s}.runs WHERE expires_at <= $1`,
		`DELETE FROM {s}.lease_waiters WHERE deadline < $1`,
		// A lease row long expired is only a fencing counter; a new row
		// starts above it (tokens begin at the clock), so it can go.
		`DELETE FROM {s}.leases WHERE expires_at <= $1::timestamptz - interval '1 hour'`,
	} {
		if _, err := s.pool.Exec(ctx, r.Replace(q), now); err != nil {
			return total, fmt.Errorf("reap: %w", err)
		}
	}
	return total, nil
}
