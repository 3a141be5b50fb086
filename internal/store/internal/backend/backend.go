// Package backend holds what the store backends share and callers must not
// see: argument checks, the turn codec, clock helpers and the lease wait
// loop with its in-process wake-ups.
package backend

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// CheckKey rejects an empty or overlong tenant or id.
func CheckKey(what, tenant, id string) error {
	switch {
	case tenant == "" || id == "":
		return fmt.Errorf("%s: empty tenant or id: %w", what, store.ErrInvalid)
	case len(tenant) > store.MaxKeyLen || len(id) > store.MaxKeyLen:
		return fmt.Errorf("%s: tenant or id longer than %d bytes: %w", what, store.MaxKeyLen, store.ErrInvalid)
	}
	return nil
}

// CheckLease rejects a lease that names another session than the write.
func CheckLease(what, tenant, id string, l store.Lease) error {
	if l.Tenant != tenant || l.Session != id {
		return fmt.Errorf("%s: lease is for another session: %w", what, store.ErrLeaseLost)
	}
	return nil
}

// Now is the store clock: UTC at millisecond precision, which every backend
// can keep exactly, so what is written reads back equal.
func Now() time.Time { return time.UnixMilli(time.Now().UnixMilli()).UTC() }

// Millis truncates t to what the store keeps.
func Millis(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

// FromMillis is the inverse of time.Time.UnixMilli; 0 is the zero time.
func FromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// LeaseTTL applies store.DefaultLeaseTTL to ttl ≤ 0 and rounds up to a
// millisecond, the unit every backend keeps.
func LeaseTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return store.DefaultLeaseTTL
	}
	return max(ttl, time.Millisecond)
}

// EncodeMessages is the stored form of a turn's messages.
func EncodeMessages(msgs []llm.Message) ([]byte, error) {
	if msgs == nil {
		msgs = []llm.Message{}
	}
	b, err := json.Marshal(msgs)
	if err != nil {
		return nil, fmt.Errorf("encode turn messages: %w", err)
	}
	return b, nil
}

// DecodeMessages reads what EncodeMessages wrote.
func DecodeMessages(b []byte) ([]llm.Message, error) {
	var msgs []llm.Message
	if err := json.Unmarshal(b, &msgs); err != nil {
		return nil, fmt.Errorf("decode turn messages: %w", err)
	}
	return msgs, nil
}

// CheckTurn rejects a turn without an ID and sets its time when zero.
func CheckTurn(t *store.Turn) error {
	if t.ID == "" {
		return fmt.Errorf("append turn: empty turn ID: %w", store.ErrInvalid)
	}
	if len(t.ID) > store.MaxKeyLen {
		return fmt.Errorf("append turn: turn ID longer than %d bytes: %w", store.MaxKeyLen, store.ErrInvalid)
	}
	if t.At.IsZero() {
		t.At = Now()
	} else {
		t.At = Millis(t.At)
	}
	return nil
}

// Window turns a Load or LoadSince request into the range of seqs to read:
// seqs in (after, count], at most max of the newest (max ≤ 0: all). It
// returns the first seq to read and how many; n is 0 when nothing is due.
func Window(count, after int64, maxTurns int) (first int64, n int64) {
	after = max(after, 0)
	if after >= count {
		return count + 1, 0
	}
	first = after + 1
	if maxTurns > 0 && count-first+1 > int64(maxTurns) {
		first = count - int64(maxTurns) + 1
	}
	return first, count - first + 1
}

// Clone copies a raw JSON value so the caller's slice can be reused.
func Clone(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}
