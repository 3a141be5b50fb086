package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// bytesOrNil keeps nil JSON NULL in the database.
func bytesOrNil(b json.RawMessage) []byte {
	if b == nil {
		return nil
	}
	return b
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
	expires := s.expiry(now)
	var ok bool
	if err := s.pool.QueryRow(ctx, s.q.create, sess.Tenant, sess.ID, sess.UserID, sess.Agent, sess.State,
		sess.Summary.Text, sess.Summary.Version, bytesOrNil(sess.Facts), now, expires).Scan(&ok); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if !ok {
		return fmt.Errorf("create session: %w", store.ErrExists)
	}
	sess.Version, sess.TurnCount = 1, 0
	sess.CreatedAt, sess.UpdatedAt, sess.ExpiresAt = now, now, expires
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
	rows, err := s.pool.Query(ctx, s.q.load, tenant, id, after, int64(maxTurns), backend.Now())
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	defer rows.Close()
	var sess *store.Session
	for rows.Next() {
		var (
			seq      *int64
			turnID   *string
			agent    *string
			at       *time.Time
			messages []byte
		)
		if sess == nil {
			sess = &store.Session{Tenant: tenant, ID: id}
			var facts []byte
			if err := rows.Scan(&sess.UserID, &sess.Agent, &sess.State, &sess.Version, &sess.TurnCount,
				&sess.Summary.Text, &sess.Summary.UpToSeq, &sess.Summary.Version, &facts,
				&sess.CreatedAt, &sess.UpdatedAt, &sess.ExpiresAt, &seq, &turnID, &agent, &at, &messages); err != nil {
				return nil, fmt.Errorf("load session: %w", err)
			}
			if facts != nil {
				sess.Facts = facts
			}
			sess.CreatedAt, sess.UpdatedAt, sess.ExpiresAt = sess.CreatedAt.UTC(), sess.UpdatedAt.UTC(), sess.ExpiresAt.UTC()
		} else if err := rows.Scan(nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil,
			&seq, &turnID, &agent, &at, &messages); err != nil {
			return nil, fmt.Errorf("load session: %w", err)
		}
		if seq == nil {
			continue // the session has no turns in the window
		}
		msgs, err := backend.DecodeMessages(messages)
		if err != nil {
			return nil, fmt.Errorf("load turn %d: %w", *seq, err)
		}
		sess.Turns = append(sess.Turns, store.Turn{ID: *turnID, Seq: *seq, Agent: *agent, Messages: msgs, At: at.UTC()})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if sess == nil {
		return nil, fmt.Errorf("load session: %w", store.ErrNotFound)
	}
	return sess, nil
}

// Status codes of the session functions.
const (
	statusOK       = 0
	statusNotFound = 1
	statusLost     = 2
	statusBeyond   = 3
	statusConflict = 4
)

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
	if err := backend.CheckLease("append turn", tenant, id, l); err != nil {
		l.Token = 0 // still answers a retried turn
	}
	msgs, err := backend.EncodeMessages(t.Messages)
	if err != nil {
		return 0, 0, err
	}
	now := backend.Now()
	var status int32
	var seq, version *int64
	if err := s.pool.QueryRow(ctx, s.q.appendTurn, tenant, id, l.Token, t.ID, t.Agent, t.At, msgs, now, s.expiry(now)).
		Scan(&status, &seq, &version); err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	switch status {
	case statusNotFound:
		return 0, 0, fmt.Errorf("append turn: %w", store.ErrNotFound)
	case statusLost:
		return 0, 0, fmt.Errorf("append turn: %w", store.ErrLeaseLost)
	}
	return *seq, *version, nil
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
	var status int32
	var version *int64
	if err := s.pool.QueryRow(ctx, s.q.setSummary, tenant, id, expectVersion, sum.Text, sum.UpToSeq,
		bytesOrNil(facts), now, s.expiry(now)).Scan(&status, &version); err != nil {
		return 0, fmt.Errorf("set summary: %w", err)
	}
	switch status {
	case statusNotFound:
		return 0, fmt.Errorf("set summary: %w", store.ErrNotFound)
	case statusBeyond:
		return 0, fmt.Errorf("set summary: covers turn %d, beyond the last: %w", sum.UpToSeq, store.ErrInvalid)
	case statusConflict:
		return 0, fmt.Errorf("set summary: expected version %d: %w", expectVersion, store.ErrConflict)
	}
	return *version, nil
}

// SetState sets the session's owning agent (unless agent is "") and state
// under lease l, and returns the session's new version. ErrLeaseLost and
// ErrNotFound as AppendTurn.
func (s *Store) SetState(ctx context.Context, tenant, id string, l store.Lease, agent, state string) (int64, error) {
	if err := backend.CheckKey("set state", tenant, id); err != nil {
		return 0, err
	}
	if err := backend.CheckLease("set state", tenant, id, l); err != nil {
		l.Token = 0
	}
	now := backend.Now()
	var status int32
	var version *int64
	if err := s.pool.QueryRow(ctx, s.q.setState, tenant, id, l.Token, agent, state, now, s.expiry(now)).
		Scan(&status, &version); err != nil {
		return 0, fmt.Errorf("set state: %w", err)
	}
	switch status {
	case statusNotFound:
		return 0, fmt.Errorf("set state: %w", store.ErrNotFound)
	case statusLost:
		return 0, fmt.Errorf("set state: %w", store.ErrLeaseLost)
	}
	return *version, nil
}

// Delete removes the session, its turns and its lease, and wakes a waiting
// Acquire. ErrNotFound when it does not exist for this tenant.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	if err := backend.CheckKey("delete session", tenant, id); err != nil {
		return err
	}
	var ok bool
	if err := s.pool.QueryRow(ctx, s.q.del, tenant, id, backend.Now(), s.channel).Scan(&ok); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if !ok {
		return fmt.Errorf("delete session: %w", store.ErrNotFound)
	}
	return nil
}
