package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// UserStore is what UpdateUser needs: every backend satisfies it.
type UserStore interface {
	GetUser(ctx context.Context, tenant, userID string) (*UserState, error)
	PutUser(ctx context.Context, tenant, userID string, expectVersion int64, data json.RawMessage) (int64, error)
}

// UpdateUser's retry budget: enough for dozens of writers racing on one
// user, bounded so a livelock surfaces as ErrConflict. Variables so tests
// can shorten the waits.
var (
	updateUserAttempts = 64
	updateUserBackoff  = time.Millisecond
	updateUserMaxWait  = 64 * time.Millisecond
)

// UpdateUser changes a user's state with fn and writes it back with a
// compare-and-set, retrying from a fresh read when another writer got there
// first, so concurrent updates are never lost. fn gets the current data
// (nil when the user has none yet) and returns the new data; it may be
// called several times and must not have side effects. An error from fn
// ends the update and is returned as is. After 64 lost races (with full
// jittered exponential backoff between them, at most 64 ms each) it returns
// ErrConflict; it also stops when ctx ends. The returned UpdatedAt is this
// process's clock, not the store's. Safe for concurrent use.
func UpdateUser(ctx context.Context, s UserStore, tenant, userID string, fn func(data json.RawMessage) (json.RawMessage, error)) (*UserState, error) {
	wait := updateUserBackoff
	for attempt := 0; ; attempt++ {
		cur, err := s.GetUser(ctx, tenant, userID)
		var data json.RawMessage
		var version int64
		switch {
		case err == nil:
			data, version = cur.Data, cur.Version
		case errors.Is(err, ErrNotFound):
		default:
			return nil, err
		}
		next, err := fn(data)
		if err != nil {
			return nil, err
		}
		v, err := s.PutUser(ctx, tenant, userID, version, next)
		if err == nil {
			return &UserState{Tenant: tenant, UserID: userID, Data: next, Version: v, UpdatedAt: time.Now().UTC()}, nil
		}
		if !errors.Is(err, ErrConflict) {
			return nil, err
		}
		if attempt+1 >= updateUserAttempts {
			return nil, fmt.Errorf("update user after %d attempts: %w", attempt+1, err)
		}
		// Full jitter spreads the losers of a race so the next round has
		// one winner instead of the same pile-up.
		t := time.NewTimer(rand.N(wait) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("update user: %w", ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, updateUserMaxWait)
	}
}
