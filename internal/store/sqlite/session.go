package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// nullable binds nil JSON as SQL NULL.
func nullable(b json.RawMessage) any {
	if b == nil {
		return nil
	}
	return []byte(b)
}

// Create stores a new session with no turns: s.UserID, Agent, State, Facts
// and Summary.Text/Version are kept (Summary.UpToSeq must be 0). It sets
// s.Version to 1 and the timestamps. ErrExists when a live session has the
// same (tenant, id); an expired one is replaced.
func (s *Store) Create(ctx context.Context, sess *store.Session) error {
	if err := backend.CheckKey("create session", sess.Tenant, sess.ID); err != nil {
		return err
	}
	if sess.Summary.UpToSeq != 0 || len(sess.Turns) != 0 {
		return fmt.Errorf("create session: a new session has no turns: %w", store.ErrInvalid)
	}
	now := backend.Now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	defer rollback(tx)
	var exp int64
	switch err := tx.StmtContext(ctx, s.ws.sessionExpiry).QueryRowContext(ctx, sess.Tenant, sess.ID).Scan(&exp); {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("create session: %w", err)
	case exp > now.UnixMilli():
		return fmt.Errorf("create session: %w", store.ErrExists)
	default:
		// Expired, not yet reaped: its turns must not leak into the new one.
		if _, err := tx.StmtContext(ctx, s.ws.deleteTurns).ExecContext(ctx, sess.Tenant, sess.ID); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
		if _, err := tx.StmtContext(ctx, s.ws.deleteSession).ExecContext(ctx, sess.Tenant, sess.ID); err != nil {
			return fmt.Errorf("create session: %w", err)
		}
	}
	expires := s.expiry(now)
	if _, err := tx.StmtContext(ctx, s.ws.insertSession).ExecContext(ctx, sess.Tenant, sess.ID, sess.UserID, sess.Agent,
		sess.State, sess.Summary.Text, sess.Summary.Version, nullable(sess.Facts), now.UnixMilli(), expires); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	sess.Version, sess.TurnCount = 1, 0
	sess.CreatedAt, sess.UpdatedAt, sess.ExpiresAt = now, now, backend.FromMillis(expires)
	return nil
}

// Load returns the session with its last lastTurns turns (≤ 0: all).
// ErrNotFound when it does not exist for this tenant or has expired.
func (s *Store) Load(ctx context.Context, tenant, id string, lastTurns int) (*store.Session, error) {
	return s.load(ctx, tenant, id, 0, lastTurns)
}

// LoadSince returns the session with its turns after afterSeq, at most the
// maxTurns newest of them (≤ 0: all). afterSeq < 0 means after the turns its
// summary covers (Summary.UpToSeq), which is what a context window needs.
func (s *Store) LoadSince(ctx context.Context, tenant, id string, afterSeq int64, maxTurns int) (*store.Session, error) {
	return s.load(ctx, tenant, id, afterSeq, maxTurns)
}

func (s *Store) load(ctx context.Context, tenant, id string, after int64, maxTurns int) (*store.Session, error) {
	if err := backend.CheckKey("load session", tenant, id); err != nil {
		return nil, err
	}
	// One read transaction, so the turns match the session row.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: s.r != s.w})
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	defer rollback(tx)
	sess := &store.Session{Tenant: tenant, ID: id}
	var facts []byte
	var created, updated, expires int64
	err = tx.StmtContext(ctx, s.rs.loadSession).QueryRowContext(ctx, tenant, id, backend.Now().UnixMilli()).Scan(
		&sess.UserID, &sess.Agent, &sess.State, &sess.Version, &sess.TurnCount,
		&sess.Summary.Text, &sess.Summary.UpToSeq, &sess.Summary.Version, &facts, &created, &updated, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("load session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	sess.Facts = facts
	sess.CreatedAt, sess.UpdatedAt, sess.ExpiresAt = backend.FromMillis(created), backend.FromMillis(updated), backend.FromMillis(expires)
	if after < 0 {
		after = sess.Summary.UpToSeq
	}
	first, n := backend.Window(sess.TurnCount, after, maxTurns)
	if n == 0 {
		return sess, nil
	}
	rows, err := tx.StmtContext(ctx, s.rs.loadTurns).QueryContext(ctx, tenant, id, first, first+n-1)
	if err != nil {
		return nil, fmt.Errorf("load turns: %w", err)
	}
	defer rows.Close()
	sess.Turns = make([]store.Turn, 0, n)
	for rows.Next() {
		var t store.Turn
		var at int64
		var msgs []byte
		if err := rows.Scan(&t.Seq, &t.ID, &t.Agent, &at, &msgs); err != nil {
			return nil, fmt.Errorf("load turns: %w", err)
		}
		t.At = backend.FromMillis(at)
		if t.Messages, err = backend.DecodeMessages(msgs); err != nil {
			return nil, fmt.Errorf("load turn %d: %w", t.Seq, err)
		}
		sess.Turns = append(sess.Turns, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load turns: %w", err)
	}
	return sess, nil
}

// AppendTurn appends t as the session's next turn under lease l and returns
// its seq and the session's new version. It also makes t.Agent the
// session's agent (when not empty) and slides the session's expiry. When
// the session already has a turn with t.ID it writes nothing and returns
// that turn's seq and the current version, whatever the lease. ErrLeaseLost
// when l's token is no longer the session's newest; ErrNotFound when the
// session does not exist.
func (s *Store) AppendTurn(ctx context.Context, tenant, id string, l store.Lease, t store.Turn) (int64, int64, error) {
	if err := backend.CheckKey("append turn", tenant, id); err != nil {
		return 0, 0, err
	}
	if err := backend.CheckTurn(&t); err != nil {
		return 0, 0, err
	}
	msgs, err := backend.EncodeMessages(t.Messages)
	if err != nil {
		return 0, 0, err
	}
	now := backend.Now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	defer rollback(tx)
	var count, version int64
	var dup, fence sql.NullInt64
	err = tx.StmtContext(ctx, s.ws.appendCheck).QueryRowContext(ctx, tenant, id, t.ID, now.UnixMilli()).Scan(&count, &version, &dup, &fence)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, 0, fmt.Errorf("append turn: %w", store.ErrNotFound)
	case err != nil:
		return 0, 0, fmt.Errorf("append turn: %w", err)
	case dup.Valid:
		return dup.Int64, version, nil
	}
	if err := backend.CheckLease("append turn", tenant, id, l); err != nil {
		return 0, 0, err
	}
	if !fence.Valid || fence.Int64 != l.Token {
		return 0, 0, fmt.Errorf("append turn: %w", store.ErrLeaseLost)
	}
	seq := count + 1
	version++
	if _, err := tx.StmtContext(ctx, s.ws.insertTurn).ExecContext(ctx, tenant, id, seq, t.ID, t.Agent, t.At.UnixMilli(), msgs); err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	if _, err := tx.StmtContext(ctx, s.ws.updateAppend).ExecContext(ctx, tenant, id, seq, version, t.Agent, now.UnixMilli(), s.expiry(now)); err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	return seq, version, nil
}

// SetSummary replaces the session's summary if its Summary.Version is still
// expectVersion, and returns the new Summary.Version (expectVersion+1).
// facts replace the pinned facts unless nil. ErrConflict when another
// summary was written since; ErrInvalid when sum.UpToSeq is beyond the last
// turn. It needs no lease: summaries are written off the request path and
// never touch turns.
func (s *Store) SetSummary(ctx context.Context, tenant, id string, expectVersion int64, sum store.Summary, facts json.RawMessage) (int64, error) {
	if err := backend.CheckKey("set summary", tenant, id); err != nil {
		return 0, err
	}
	now := backend.Now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("set summary: %w", err)
	}
	defer rollback(tx)
	var count, version, sumVersion int64
	err = tx.StmtContext(ctx, s.ws.summaryCheck).QueryRowContext(ctx, tenant, id, now.UnixMilli()).Scan(&count, &version, &sumVersion)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("set summary: %w", store.ErrNotFound)
	case err != nil:
		return 0, fmt.Errorf("set summary: %w", err)
	case sum.UpToSeq < 0 || sum.UpToSeq > count:
		return 0, fmt.Errorf("set summary: covers turn %d of %d: %w", sum.UpToSeq, count, store.ErrInvalid)
	case sumVersion != expectVersion:
		return 0, fmt.Errorf("set summary: version %d, expected %d: %w", sumVersion, expectVersion, store.ErrConflict)
	}
	if _, err := tx.StmtContext(ctx, s.ws.updateSummary).ExecContext(ctx, tenant, id, sum.Text, sum.UpToSeq, expectVersion+1,
		nullable(facts), version+1, now.UnixMilli(), s.expiry(now)); err != nil {
		return 0, fmt.Errorf("set summary: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("set summary: %w", err)
	}
	return expectVersion + 1, nil
}

// SetState sets the session's owning agent (unless agent is "") and state
// under lease l, and returns the session's new version. ErrLeaseLost and
// ErrNotFound as AppendTurn.
func (s *Store) SetState(ctx context.Context, tenant, id string, l store.Lease, agent, state string) (int64, error) {
	if err := backend.CheckKey("set state", tenant, id); err != nil {
		return 0, err
	}
	now := backend.Now()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("set state: %w", err)
	}
	defer rollback(tx)
	var version int64
	var fence sql.NullInt64
	err = tx.StmtContext(ctx, s.ws.stateCheck).QueryRowContext(ctx, tenant, id, now.UnixMilli()).Scan(&version, &fence)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("set state: %w", store.ErrNotFound)
	case err != nil:
		return 0, fmt.Errorf("set state: %w", err)
	}
	if err := backend.CheckLease("set state", tenant, id, l); err != nil {
		return 0, err
	}
	if !fence.Valid || fence.Int64 != l.Token {
		return 0, fmt.Errorf("set state: %w", store.ErrLeaseLost)
	}
	version++
	if _, err := tx.StmtContext(ctx, s.ws.updateState).ExecContext(ctx, tenant, id, agent, state, version, now.UnixMilli(), s.expiry(now)); err != nil {
		return 0, fmt.Errorf("set state: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("set state: %w", err)
	}
	return version, nil
}

// Delete removes the session, its turns and its lease. ErrNotFound when it
// does not exist for this tenant.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	if err := backend.CheckKey("delete session", tenant, id); err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	defer rollback(tx)
	var exp int64
	err = tx.StmtContext(ctx, s.ws.sessionExpiry).QueryRowContext(ctx, tenant, id).Scan(&exp)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("delete session: %w", store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("delete session: %w", err)
	}
	for _, st := range []*sql.Stmt{s.ws.deleteTurns, s.ws.deleteSession, s.ws.deleteLease, s.ws.deleteWaiters} {
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, tenant, id); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if exp <= backend.Now().UnixMilli() {
		return fmt.Errorf("delete session: %w", store.ErrNotFound)
	}
	return nil
}
