package store

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Defaults shared by the backends; each backend's Config documents where
// they apply.
const (
	// DefaultTTL is how long a session or user state lives after its last
	// write.
	DefaultTTL = 30 * 24 * time.Hour
	// DefaultRunTTL is how long a run record lives after its last update.
	DefaultRunTTL = 7 * 24 * time.Hour
	// DefaultLeaseTTL is the lease ttl Acquire and Renew use when given a
	// ttl ≤ 0.
	DefaultLeaseTTL = 30 * time.Second
	// MaxKeyLen is the longest tenant, session, user or run id accepted, in
	// bytes.
	MaxKeyLen = 512
)

// Sentinel errors; test with errors.Is. Backends wrap them with context.
var (
	// ErrNotFound: no such session, user state or run for this tenant (also
	// when it exists under another tenant, or has expired).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a compare-and-set saw another version than expected.
	ErrConflict = errors.New("store: version conflict")
	// ErrExists: Create found a live session with that (tenant, id).
	ErrExists = errors.New("store: already exists")
	// ErrLeaseLost: the lease's fencing token is no longer the session's
	// newest (another holder acquired it, or it was released); nothing was
	// written.
	ErrLeaseLost = errors.New("store: lease lost")
	// ErrLeaseTimeout: Acquire gave up because its context ended; the error
	// also wraps the context's error.
	ErrLeaseTimeout = errors.New("store: lease wait timed out")
	// ErrInvalid: an argument is malformed (empty or too long id, a turn
	// without an ID, a summary beyond the last turn).
	ErrInvalid = errors.New("store: invalid argument")
)

// Session is one conversation of one tenant. Load returns it with the
// window of turns asked for; the other fields are always complete.
type Session struct {
	Tenant, ID string
	// UserID is the user the conversation belongs to ("" when anonymous).
	UserID string
	// Agent is the agent that owns the conversation now; handoffs change it.
	Agent string
	// Version is bumped by every successful write; Create sets it to 1.
	Version int64
	// Turns are oldest first, only those the load asked for.
	Turns []Turn
	// TurnCount is the number of turns ever appended: the Seq of the last.
	TurnCount int64
	// Summary covers turns 1..Summary.UpToSeq; opaque to the store.
	Summary Summary
	// Facts are pinned facts that no summary may lose; opaque JSON, nil when
	// none.
	Facts json.RawMessage
	// State is "" while the conversation is active, or a word such as
	// "handed_off".
	State string
	// CreatedAt and UpdatedAt are set by the store (millisecond precision,
	// UTC); ExpiresAt is UpdatedAt plus the store's TTL.
	CreatedAt, UpdatedAt, ExpiresAt time.Time
}

// Turn is what one request added to a conversation, kept together.
type Turn struct {
	// ID is the idempotency key: appending a turn whose ID the session
	// already has writes nothing. Required.
	ID string
	// Seq is the 1-based position, assigned by the store.
	Seq int64
	// Agent is the agent that produced the turn.
	Agent string
	// Messages are the user message, assistant tool calls, tool results and
	// final answer, in order.
	Messages []llm.Message
	// At is when the turn happened; the store sets it when zero. Kept at
	// millisecond precision.
	At time.Time
}

// Summary is a summary of the turns 1..UpToSeq. Version is the
// compare-and-set counter of SetSummary: 0 before the first summary.
type Summary struct {
	Text    string
	UpToSeq int64
	Version int64
}

// UserState is the per-user record that agents share (preferences, open
// orders, what the user was told), opaque JSON to the store. Version is 1
// after the first PutUser and bumped by each write.
type UserState struct {
	Tenant, UserID string
	Data           json.RawMessage
	Version        int64
	UpdatedAt      time.Time
}

// Run statuses. A run is queued when published, running while a worker
// executes it, and ends in one of the others, which mirror the run API's
// statuses.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunCompleted = "completed"
	RunPartial   = "partial"
	RunDegraded  = "degraded"
	RunHandedOff = "handed_off"
	RunFailed    = "failed"
)

// Run is the record of an async run. Request and Result are opaque JSON.
type Run struct {
	Tenant, ID, SessionID, Agent string
	// Status is one of the Run* constants.
	Status          string
	Request, Result json.RawMessage
	// Attempts counts the deliveries a worker started.
	Attempts int
	// CreatedAt is set by the store when zero; UpdatedAt by every write.
	CreatedAt, UpdatedAt time.Time
}

// Lease is the right to write one session, returned by Acquire. Token is the
// fencing token, strictly increasing per session; Expires is when the
// lease frees itself unless renewed (by the caller's clock, taken before the
// request, so it errs early). A Lease is a value: copy it freely.
type Lease struct {
	Tenant, Session, Owner string
	Token                  int64
	Expires                time.Time
}
