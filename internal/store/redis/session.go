package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/internal/backend"
)

// blob is a turn as stored in the turns list; its seq is its position.
type blob struct {
	ID       string          `json:"id"`
	Agent    string          `json:"agent,omitempty"`
	At       int64           `json:"at"`
	Messages json.RawMessage `json:"messages"`
}

// decoded is blob with its messages parsed.
type decoded struct {
	ID       string        `json:"id"`
	Agent    string        `json:"agent,omitempty"`
	At       int64         `json:"at"`
	Messages []llm.Message `json:"messages"`
}

// Create stores a new session with no turns: s.UserID, Agent, State, Facts
// and Summary.Text/Version are kept (Summary.UpToSeq must be 0). It sets
// s.Version to 1 and the timestamps. ErrExists when the session exists.
func (s *Store) Create(ctx context.Context, sess *store.Session) error {
	if err := backend.CheckKey("create session", sess.Tenant, sess.ID); err != nil {
		return err
	}
	if sess.Summary.UpToSeq != 0 || len(sess.Turns) != 0 {
		return fmt.Errorf("create session: a new session has no turns: %w", store.ErrInvalid)
	}
	now := backend.Now()
	keys := s.sessionKeys(sess.Tenant, sess.ID)[:3]
	ok, err := createScript.Run(ctx, s.rdb, keys, sess.UserID, sess.Agent, sess.State, sess.Summary.Text,
		sess.Summary.Version, []byte(sess.Facts), now.UnixMilli(), s.ttl).Int64()
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if ok == 0 {
		return fmt.Errorf("create session: %w", store.ErrExists)
	}
	sess.Version, sess.TurnCount = 1, 0
	sess.CreatedAt, sess.UpdatedAt, sess.ExpiresAt = now, now, now.Add(s.cfg.TTL)
	return nil
}

// Load returns the session with its last lastTurns turns (≤ 0: all).
// ErrNotFound when it does not exist for this tenant.
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
	keys := s.sessionKeys(tenant, id)[:2]
	res, err := loadScript.Run(ctx, s.rdb, keys, after, maxTurns).Slice()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("load session: %w", store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	if len(res) != 3 {
		return nil, fmt.Errorf("load session: unexpected reply of %d items", len(res))
	}
	m, _ := res[0].([]any)
	if len(m) != 12 {
		return nil, fmt.Errorf("load session: unexpected reply of %d fields", len(m))
	}
	sess := &store.Session{
		Tenant: tenant, ID: id,
		UserID: toStr(m[0]), Agent: toStr(m[1]), State: toStr(m[2]),
		Version: toInt(m[3]), TurnCount: toInt(m[4]),
		Summary:   store.Summary{Text: toStr(m[5]), UpToSeq: toInt(m[6]), Version: toInt(m[7])},
		CreatedAt: backend.FromMillis(toInt(m[9])), UpdatedAt: backend.FromMillis(toInt(m[10])), ExpiresAt: backend.FromMillis(toInt(m[11])),
	}
	if f := toStr(m[8]); f != "" {
		sess.Facts = json.RawMessage(f)
	}
	first := toInt(res[1])
	blobs, _ := res[2].([]any)
	if len(blobs) == 0 {
		return sess, nil
	}
	sess.Turns = make([]store.Turn, len(blobs))
	for i, b := range blobs {
		var d decoded
		if err := json.Unmarshal([]byte(toStr(b)), &d); err != nil {
			return nil, fmt.Errorf("load turn %d: %w", first+int64(i), err)
		}
		sess.Turns[i] = store.Turn{ID: d.ID, Seq: first + int64(i), Agent: d.Agent, Messages: d.Messages, At: backend.FromMillis(d.At)}
	}
	return sess, nil
}

// AppendTurn appends t as the session's next turn under lease l and returns
// its seq and the session's new version. It also makes t.Agent the
// session's agent (when not empty) and refreshes the TTL of every key of
// the session. When the session already has a turn with t.ID it writes
// nothing and returns that turn's seq and the current version, whatever the
// lease. ErrLeaseLost when l's token is no longer the session's newest;
// ErrNotFound when the session does not exist.
func (s *Store) AppendTurn(ctx context.Context, tenant, id string, l store.Lease, t store.Turn) (int64, int64, error) {
	if err := backend.CheckKey("append turn", tenant, id); err != nil {
		return 0, 0, err
	}
	if err := backend.CheckTurn(&t); err != nil {
		return 0, 0, err
	}
	if err := backend.CheckLease("append turn", tenant, id, l); err != nil {
		// Still answer a retried turn, like the other backends.
		l.Token = 0
	}
	msgs, err := backend.EncodeMessages(t.Messages)
	if err != nil {
		return 0, 0, err
	}
	b, err := json.Marshal(blob{ID: t.ID, Agent: t.Agent, At: t.At.UnixMilli(), Messages: msgs})
	if err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	now := backend.Now()
	keys := s.sessionKeys(tenant, id)[:4]
	res, err := appendScript.Run(ctx, s.rdb, keys, t.ID, l.Token, b, t.Agent, now.UnixMilli(), s.ttl).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	r, err := ints(res)
	if err != nil {
		return 0, 0, fmt.Errorf("append turn: %w", err)
	}
	switch r[0] {
	case -1:
		return 0, 0, fmt.Errorf("append turn: %w", store.ErrNotFound)
	case -2:
		return 0, 0, fmt.Errorf("append turn: %w", store.ErrLeaseLost)
	}
	return r[1], r[2], nil
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
	hasFacts := 0
	if facts != nil {
		hasFacts = 1
	}
	now := backend.Now()
	keys := s.sessionKeys(tenant, id)[:4]
	res, err := summaryScript.Run(ctx, s.rdb, keys, expectVersion, sum.Text, sum.UpToSeq, []byte(facts), hasFacts, now.UnixMilli(), s.ttl).Result()
	if err != nil {
		return 0, fmt.Errorf("set summary: %w", err)
	}
	r, err := ints(res)
	if err != nil {
		return 0, fmt.Errorf("set summary: %w", err)
	}
	switch r[0] {
	case -1:
		return 0, fmt.Errorf("set summary: %w", store.ErrNotFound)
	case -3:
		return 0, fmt.Errorf("set summary: covers turn %d, beyond the last: %w", sum.UpToSeq, store.ErrInvalid)
	case -4:
		return 0, fmt.Errorf("set summary: expected version %d: %w", expectVersion, store.ErrConflict)
	}
	return r[1], nil
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
	keys := s.sessionKeys(tenant, id)[:4]
	res, err := stateScript.Run(ctx, s.rdb, keys, l.Token, agent, state, now.UnixMilli(), s.ttl).Result()
	if err != nil {
		return 0, fmt.Errorf("set state: %w", err)
	}
	r, err := ints(res)
	if err != nil {
		return 0, fmt.Errorf("set state: %w", err)
	}
	switch r[0] {
	case -1:
		return 0, fmt.Errorf("set state: %w", store.ErrNotFound)
	case -2:
		return 0, fmt.Errorf("set state: %w", store.ErrLeaseLost)
	}
	return r[1], nil
}

// Delete removes every key of the session, its lease included, and wakes
// a waiting Acquire. ErrNotFound when it does not exist for this tenant.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	if err := backend.CheckKey("delete session", tenant, id); err != nil {
		return err
	}
	ok, err := deleteScript.Run(ctx, s.rdb, s.sessionKeys(tenant, id), s.channel).Int64()
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if ok == 0 {
		return fmt.Errorf("delete session: %w", store.ErrNotFound)
	}
	return nil
}
