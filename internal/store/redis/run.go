package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// runRecord is a run as stored: one JSON string per run.
type runRecord struct {
	SessionID string          `json:"session_id,omitempty"`
	Agent     string          `json:"agent,omitempty"`
	Status    string          `json:"status,omitempty"`
	Request   json.RawMessage `json:"request,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Attempts  int             `json:"attempts,omitempty"`
	Created   int64           `json:"created"`
	Updated   int64           `json:"updated"`
}

func encodeRun(r *store.Run) ([]byte, error) {
	return json.Marshal(runRecord{SessionID: r.SessionID, Agent: r.Agent, Status: r.Status, Request: r.Request,
		Result: r.Result, Attempts: r.Attempts, Created: r.CreatedAt.UnixMilli(), Updated: r.UpdatedAt.UnixMilli()})
}

func decodeRun(tenant, id string, b []byte) (*store.Run, error) {
	var rec runRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return nil, fmt.Errorf("decode run: %w", err)
	}
	return &store.Run{Tenant: tenant, ID: id, SessionID: rec.SessionID, Agent: rec.Agent, Status: rec.Status,
		Request: rec.Request, Result: rec.Result, Attempts: rec.Attempts,
		CreatedAt: backend.FromMillis(rec.Created), UpdatedAt: backend.FromMillis(rec.Updated)}, nil
}

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
	b, err := encodeRun(r)
	if err != nil {
		return fmt.Errorf("put run: %w", err)
	}
	if err := s.rdb.Set(ctx, s.runKey(r.Tenant, r.ID), b, s.runTTL).Err(); err != nil {
		return fmt.Errorf("put run: %w", err)
	}
	return nil
}

// GetRun returns a run record. ErrNotFound when there is none.
func (s *Store) GetRun(ctx context.Context, tenant, id string) (*store.Run, error) {
	if err := backend.CheckKey("get run", tenant, id); err != nil {
		return nil, err
	}
	b, err := s.rdb.Get(ctx, s.runKey(tenant, id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("get run: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get run: %w", err)
	}
	return decodeRun(tenant, id, b)
}

// updateRunAttempts bounds UpdateRun's optimistic retries.
const updateRunAttempts = 64

// UpdateRun reads a run record, lets fn change it and writes it back if
// nobody else wrote it meanwhile (WATCH/MULTI), retrying from a fresh read
// otherwise (fn may run several times). fn must not change Tenant or ID
// (they are kept). An error from fn is returned as is and nothing is
// written. ErrNotFound when the run does not exist.
func (s *Store) UpdateRun(ctx context.Context, tenant, id string, fn func(*store.Run) error) (*store.Run, error) {
	if err := backend.CheckKey("update run", tenant, id); err != nil {
		return nil, err
	}
	key := s.runKey(tenant, id)
	var out *store.Run
	txf := func(tx *goredis.Tx) error {
		b, err := tx.Get(ctx, key).Bytes()
		if errors.Is(err, goredis.Nil) {
			return fmt.Errorf("update run: %w", store.ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("update run: %w", err)
		}
		r, err := decodeRun(tenant, id, b)
		if err != nil {
			return err
		}
		created := r.CreatedAt
		if err := fn(r); err != nil {
			return userError{err}
		}
		r.Tenant, r.ID, r.CreatedAt, r.UpdatedAt = tenant, id, created, backend.Now()
		if b, err = encodeRun(r); err != nil {
			return fmt.Errorf("update run: %w", err)
		}
		_, err = tx.TxPipelined(ctx, func(p goredis.Pipeliner) error {
			p.Set(ctx, key, b, s.runTTL)
			return nil
		})
		out = r
		return err
	}
	for range updateRunAttempts {
		err := s.rdb.Watch(ctx, txf, key)
		var ue userError
		switch {
		case err == nil:
			return out, nil
		case errors.As(err, &ue):
			return nil, ue.err
		case !errors.Is(err, goredis.TxFailedErr):
			return nil, err
		}
	}
	return nil, fmt.Errorf("update run: %w", store.ErrConflict)
}

// userError carries fn's error through Watch untouched.
type userError struct{ err error }

func (e userError) Error() string { return e.err.Error() }
