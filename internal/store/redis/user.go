package redis

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// GetUser returns a user's shared state. ErrNotFound when there is none.
func (s *Store) GetUser(ctx context.Context, tenant, userID string) (*store.UserState, error) {
	if err := backend.CheckKey("get user", tenant, userID); err != nil {
		return nil, err
	}
	v, err := s.rdb.HMGet(ctx, s.userKey(tenant, userID), "data", "version", "updated").Result()
	if err != nil {
		return nil, fmt.Errorf("get user: %w", err)
	}
	if v[1] == nil {
		return nil, fmt.Errorf("get user: %w", store.ErrNotFound)
	}
	u := &store.UserState{Tenant: tenant, UserID: userID, Version: toInt(v[1]), UpdatedAt: backend.FromMillis(toInt(v[2]))}
	if d := toStr(v[0]); d != "" {
		u.Data = json.RawMessage(d)
	}
	return u, nil
}

// PutUser writes a user's state if its version is still expectVersion (0:
// the user has no state yet) and returns the new version. ErrConflict
// otherwise. It refreshes the key's TTL.
func (s *Store) PutUser(ctx context.Context, tenant, userID string, expectVersion int64, data json.RawMessage) (int64, error) {
	if err := backend.CheckKey("put user", tenant, userID); err != nil {
		return 0, err
	}
	v, err := putUserScript.Run(ctx, s.rdb, []string{s.userKey(tenant, userID)}, expectVersion, []byte(data),
		backend.Now().UnixMilli(), s.ttl).Int64()
	if err != nil {
		return 0, fmt.Errorf("put user: %w", err)
	}
	if v < 0 {
		return 0, fmt.Errorf("put user: expected version %d: %w", expectVersion, store.ErrConflict)
	}
	return v, nil
}
