package sqlite

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

// reapBatch bounds how many sessions one reaper transaction deletes, so the
// write lock is never held for long.
const reapBatch = 256

// Run deletes expired sessions (with their turns and leases), user state,
// run records and dead lease waiters every Config.ReapInterval until ctx
// ends; then it returns nil. Expired rows are invisible before they are
// reaped, so Run only reclaims space. A failed or panicking round is logged
// and the next one tries again.
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
			s.cfg.Logger.Error("sqlite store reaper panicked", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	if _, err := s.reap(ctx, time.Now()); err != nil && ctx.Err() == nil {
		s.cfg.Logger.Error("sqlite store reaper", "err", err)
	}
}

// reap deletes what expired before now and returns how many sessions went.
func (s *Store) reap(ctx context.Context, now time.Time) (int, error) {
	ms := now.UnixMilli()
	total := 0
	for {
		n, err := s.reapSessions(ctx, ms)
		total += n
		if err != nil {
			return total, err
		}
		if n < reapBatch {
			break
		}
	}
	for _, q := range []string{
		`DELETE FROM users WHERE expires_at <= ?1`,
		`DELETE FROM runs WHERE expires_at <= ?1`,
		`DELETE FROM lease_waiters WHERE deadline < ?1`,
		// A lease row long expired is only a fencing counter; a new row
		// starts above it (tokens begin at the clock), so it can go.
		`DELETE FROM leases WHERE expires_at <= ?1 - 3600000`,
	} {
		if _, err := s.w.ExecContext(ctx, q, ms); err != nil {
			return total, fmt.Errorf("reap: %w", err)
		}
	}
	return total, nil
}

func (s *Store) reapSessions(ctx context.Context, ms int64) (int, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("reap sessions: %w", err)
	}
	defer rollback(tx)
	rows, err := tx.QueryContext(ctx, `DELETE FROM sessions WHERE rowid IN
		(SELECT rowid FROM sessions WHERE expires_at <= ?1 LIMIT ?2) RETURNING tenant, id`, ms, reapBatch)
	if err != nil {
		return 0, fmt.Errorf("reap sessions: %w", err)
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return 0, fmt.Errorf("reap sessions: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reap sessions: %w", err)
	}
	del := tx.StmtContext(ctx, s.ws.deleteTurns)
	for _, k := range keys {
		if _, err := del.ExecContext(ctx, k[0], k[1]); err != nil {
			return 0, fmt.Errorf("reap sessions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("reap sessions: %w", err)
	}
	return len(keys), nil
}
