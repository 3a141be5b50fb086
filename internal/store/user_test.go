package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeUsers is a one-user store whose PutUser loses the first `lose` races.
type fakeUsers struct {
	mu      sync.Mutex
	data    json.RawMessage
	version int64
	lose    int
	getErr  error
	puts    int
}

func (f *fakeUsers) GetUser(_ context.Context, tenant, userID string) (*UserState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getErr != nil {
		return nil, f.getErr
	}
	if f.version == 0 {
		return nil, ErrNotFound
	}
	return &UserState{Tenant: tenant, UserID: userID, Data: f.data, Version: f.version}, nil
}

func (f *fakeUsers) PutUser(_ context.Context, _, _ string, expect int64, data json.RawMessage) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.puts++
	if f.lose != 0 {
		f.lose--
		f.version++ // another writer got there first
		return 0, ErrConflict
	}
	if expect != f.version {
		return 0, ErrConflict
	}
	f.version++
	f.data = data
	return f.version, nil
}

func TestUpdateUser(t *testing.T) {
	old := updateUserMaxWait
	updateUserMaxWait = time.Millisecond
	t.Cleanup(func() { updateUserMaxWait = old })
	boom := errors.New("boom")
	tests := []struct {
		name        string
		give        *fakeUsers
		fn          func(json.RawMessage) (json.RawMessage, error)
		wantErr     error
		wantVersion int64
		wantPuts    int
	}{
		{
			name:        "new user",
			give:        &fakeUsers{},
			fn:          func(d json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{"n":1}`), nil },
			wantVersion: 1, wantPuts: 1,
		},
		{
			name:        "lost races retried",
			give:        &fakeUsers{version: 3, data: json.RawMessage(`{}`), lose: 5},
			fn:          func(d json.RawMessage) (json.RawMessage, error) { return d, nil },
			wantVersion: 9, wantPuts: 6,
		},
		{
			name:     "fn error ends it",
			give:     &fakeUsers{version: 1},
			fn:       func(json.RawMessage) (json.RawMessage, error) { return nil, boom },
			wantErr:  boom,
			wantPuts: 0,
		},
		{
			name:     "read error ends it",
			give:     &fakeUsers{getErr: boom},
			fn:       func(d json.RawMessage) (json.RawMessage, error) { return d, nil },
			wantErr:  boom,
			wantPuts: 0,
		},
		{
			name:     "livelock gives ErrConflict",
			give:     &fakeUsers{lose: 1 << 30},
			fn:       func(d json.RawMessage) (json.RawMessage, error) { return d, nil },
			wantErr:  ErrConflict,
			wantPuts: 64,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UpdateUser(t.Context(), tt.give, "t1", "u1", tt.fn)
			if !errors.Is(err, tt.wantErr) || tt.give.puts != tt.wantPuts {
				t.Fatalf("UpdateUser = %v after %d puts; want %v after %d", err, tt.give.puts, tt.wantErr, tt.wantPuts)
			}
			if err == nil && (got.Version != tt.wantVersion || got.Tenant != "t1" || got.UserID != "u1") {
				t.Fatalf("UpdateUser = %+v, want version %d", got, tt.wantVersion)
			}
		})
	}
}

func TestUpdateUserStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	f := &fakeUsers{lose: 1 << 30}
	calls := 0
	_, err := UpdateUser(ctx, f, "t1", "u1", func(d json.RawMessage) (json.RawMessage, error) {
		calls++
		if calls == 3 {
			cancel()
		}
		return d, nil
	})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Fatalf("UpdateUser = %v after %d calls; want context.Canceled after 3", err, calls)
	}
}
