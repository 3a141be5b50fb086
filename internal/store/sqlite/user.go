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

// GetUser returns a user's shared state. ErrNotFound when there is none
// (or it expired).
func (s *Store) GetUser(ctx context.Context, tenant, userID string) (*store.UserState, error) {
	if err := backend.CheckKey("get user", tenant, userID); err != nil {
		return nil, err
	}
	u := &store.UserState{Tenant: tenant, UserID: userID}
	var data []byte
	var updated int64
	err := s.rs.getUser.QueryRowContext(ctx, tenant, userID, backend.Now().UnixMilli()).Scan(&data, &u.Version, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("get user: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	u.Data, u.UpdatedAt = data, backend.FromMillis(updated)
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
	var res sql.Result
	var err error
	if expectVersion == 0 {
		res, err = s.ws.insertUser.ExecContext(ctx, tenant, userID, nullable(data), now.UnixMilli(), s.expiry(now))
	} else {
		res, err = s.ws.updateUser.ExecContext(ctx, tenant, userID, nullable(data), now.UnixMilli(), s.expiry(now), expectVersion)
	}
	if err != nil {
		return 0, fmt.Errorf("put user: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return 0, fmt.Errorf("put user: expected version %d: %w", expectVersion, store.ErrConflict)
	}
	return expectVersion + 1, nil
}
