package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// GetUser returns a user's shared state. ErrNotFound when there is none
// (or it expired).
func (s *Store) GetUser(ctx context.Context, tenant, userID string) (*store.UserState, error) {
	if err := backend.CheckKey("get user", tenant, userID); err != nil {
		return nil, err
	}
	u := &store.UserState{Tenant: tenant, UserID: userID}
	var data []byte
	err := s.pool.QueryRow(ctx, s.q.getUser, tenant, userID, backend.Now()).Scan(&data, &u.Version, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("get user: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	if data != nil {
		u.Data = data
	}
	u.UpdatedAt = u.UpdatedAt.UTC()
	return u, nil
}

// PutUser writes a user's state if its version is still expectVersion (0:
// the user has no state yet) and returns the new version. ErrConflict
// otherwise. It slides the state's expiry.
func (s *Store) PutUser(ctx context.Context, tenant, userID string, expectVersion int64, data json.RawMessage) (int64, error) {
	if err := backend.CheckKey("put user", tenant, userID); err != nil {
		return 0, err
	}
	now := backend.Now()
	var tag pgconn.CommandTag
	var err error
	if expectVersion == 0 {
		tag, err = s.pool.Exec(ctx, s.q.insertUser, tenant, userID, bytesOrNil(data), now, s.expiry(now))
	} else {
		tag, err = s.pool.Exec(ctx, s.q.updateUser, tenant, userID, bytesOrNil(data), now, s.expiry(now), expectVersion)
	}
	if err != nil {
		return 0, fmt.Errorf("put user: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, fmt.Errorf("put user: expected version %d: %w", expectVersion, store.ErrConflict)
	}
	return expectVersion + 1, nil
}
