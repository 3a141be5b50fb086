package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Kind says what a Record accounts for.
type Kind string

// Kinds of Record.
const (
	// KindCall is one model call: a plain chat completion, or one call
	// made inside an agent run (then RunID and Call are set).
	KindCall Kind = "call"
	// KindRun is one agent run as a whole, whatever its model calls.
	KindRun Kind = "run"
)

// Statuses a call Record commonly carries. Status is free-form (a run's
// status is the engine's: completed, partial, degraded, handed_off,
// failed); breakdowns count errors on Error, not on Status.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Record is what one model call or one agent run consumed. Every field but
// Kind may be left zero; Publish fills ID and At when they are. A Record
// is a value: Publish copies it.
type Record struct {
	// ID makes the record idempotent: a record whose ID is already stored
	// is not stored again, however often it is delivered. Empty: a run
	// record takes its RunID, a call record with RunID and Call takes
	// "<RunID>/<Call>", so that a run executed twice is counted once;
	// anything else gets a unique ID. Give plain chat completions their
	// response ID. At most 256 bytes; longer IDs are replaced by their
	// SHA-256.
	ID string `json:"id"`
	// Kind is KindCall or KindRun. Empty means KindCall.
	Kind Kind `json:"kind"`
	// At is when the call or run started. Zero: when a Publisher's sender
	// took the record, microseconds later. Stored with microsecond
	// precision, in UTC.
	At time.Time `json:"at"`
	// RunID links a call record to its run; empty for calls outside runs.
	RunID string `json:"run_id,omitempty"`
	// Call is the index of a call within its run: 1 for the first model
	// call. 0 for run records and calls outside runs.
	Call int `json:"call,omitempty"`
	// Tenant and Tier say whose API key asked; UserID and SessionID whose
	// conversation it was (stored, never used as a metric label).
	Tenant    string `json:"tenant,omitempty"`
	Tier      string `json:"tier,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	// Agent made the call or ran (empty for plain chat completions);
	// Intent is the classified intent, if any.
	Agent  string `json:"agent,omitempty"`
	Intent string `json:"intent,omitempty"`
	// Model is floodgate's name of the model that answered (for a run,
	// the model of its last call); Endpoint the endpoint that served it.
	Model    string `json:"model,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// TokensIn are the prompt tokens, cached ones included; TokensCached
	// the part of them the provider served from its cache; TokensOut the
	// completion tokens. A run record may repeat its calls' totals:
	// breakdowns sum call records only.
	TokensIn     int64 `json:"tokens_in,omitempty"`
	TokensOut    int64 `json:"tokens_out,omitempty"`
	TokensCached int64 `json:"tokens_cached,omitempty"`
	// Cost is what the call cost at the router's prices (Dollars converts
	// the router's float). Like tokens, summed over call records only.
	Cost USD `json:"cost,omitempty"`
	// Latency is the call's or the run's duration as its client saw it.
	// Stored with microsecond precision.
	Latency time.Duration `json:"latency_ns,omitempty"`
	// Status is the outcome (StatusOK, StatusError, or a run's status).
	Status string `json:"status,omitempty"`
	// Error is what failed (an llm.Kind's name, or a run's failure
	// reason); empty on success. Breakdowns count records with an Error as
	// errors.
	Error string `json:"error,omitempty"`
	// Degraded marks an answer from a lower rung of the degradation ladder.
	Degraded bool `json:"degraded,omitempty"`
}

// SetUsage copies token counts from a provider's usage report; a nil u
// leaves them as they are.
func (r *Record) SetUsage(u *llm.Usage) {
	if u == nil {
		return
	}
	r.TokensIn, r.TokensOut, r.TokensCached = int64(u.PromptTokens), int64(u.CompletionTokens), int64(u.CachedTokens())
}

// SetError marks the record failed with err's kind (see llm.AsError); a
// nil err marks it StatusOK.
func (r *Record) SetError(err error) {
	if err == nil {
		r.Status, r.Error = StatusOK, ""
		return
	}
	r.Status, r.Error = StatusError, llm.AsError(err).Kind.String()
}

// toplevel reports whether the record is what a client saw: a run, or a
// call that is not part of a run.
func (r *Record) toplevel() bool { return r.Kind == KindRun || r.RunID == "" }

// Limits of records.
const (
	// maxIDLen bounds a record ID.
	maxIDLen = 256
	// maxText bounds every other text field, in bytes: labels, not
	// payloads. It keeps a batch of MaxBatch records well inside a NATS
	// message.
	maxText = 256
	// maxTokens bounds token counts: above it a count is nonsense, and it
	// keeps sums far from overflowing a 64-bit column.
	maxTokens = 1 << 40
	// maxCost bounds one record's cost ($1M): sums stay exact and far from
	// overflow.
	maxCost = 1_000_000 * Dollar
)

// errInvalid wraps every reason a decoded record is refused.
var errInvalid = errors.New("ledger: invalid record")

// fill completes a record before it is published, so that the consumer
// accepts it: an ID, a kind, a time, bounded text, counts and cost.
// newID makes an ID when the record has no natural one.
func (r *Record) fill(newID func() string, now time.Time) {
	if r.Kind != KindRun {
		r.Kind = KindCall
	}
	switch {
	case r.ID != "":
	case r.Kind == KindRun && r.RunID != "":
		r.ID = r.RunID
	case r.RunID != "" && r.Call > 0:
		r.ID = r.RunID + "/" + strconv.Itoa(r.Call)
	default:
		r.ID = newID()
	}
	if y := r.At.Year(); y < 1970 || y > 9999 {
		r.At = now
	}
	r.At = r.At.UTC()
	r.Call = max(r.Call, 0)
	r.TokensIn = min(max(r.TokensIn, 0), maxTokens)
	r.TokensOut = min(max(r.TokensOut, 0), maxTokens)
	r.TokensCached = min(max(r.TokensCached, 0), r.TokensIn)
	r.Cost = min(max(r.Cost, 0), maxCost)
	r.Latency = max(r.Latency, 0)
	r.normalise()
}

// check validates a record read from the wire and repairs what a
// database would refuse; it is the consumer's side of fill.
func (r *Record) check() error {
	switch {
	case r.ID == "":
		return fmt.Errorf("%w: empty id", errInvalid)
	case r.Kind != KindCall && r.Kind != KindRun:
		return fmt.Errorf("%w: kind %q", errInvalid, r.Kind)
	case r.At.Year() < 1970 || r.At.Year() > 9999:
		return fmt.Errorf("%w: at %s", errInvalid, r.At)
	case r.Call < 0:
		return fmt.Errorf("%w: call %d", errInvalid, r.Call)
	case r.TokensIn < 0 || r.TokensOut < 0 || r.TokensCached < 0,
		r.TokensIn > maxTokens || r.TokensOut > maxTokens || r.TokensCached > maxTokens:
		return fmt.Errorf("%w: tokens %d/%d/%d", errInvalid, r.TokensIn, r.TokensOut, r.TokensCached)
	case r.Cost < 0 || r.Cost > maxCost:
		return fmt.Errorf("%w: cost %s", errInvalid, r.Cost)
	case r.Latency < 0:
		return fmt.Errorf("%w: latency %s", errInvalid, r.Latency)
	}
	r.At = r.At.UTC()
	r.normalise()
	return nil
}

// normalise makes every text field storable and bounded. An over-long ID
// becomes its SHA-256, which is as stable as the ID, so still idempotent.
func (r *Record) normalise() {
	r.ID = clean(r.ID)
	if len(r.ID) > maxIDLen {
		sum := sha256.Sum256([]byte(r.ID))
		r.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	for _, p := range [...]*string{&r.RunID, &r.Tenant, &r.Tier, &r.UserID, &r.SessionID,
		&r.Agent, &r.Intent, &r.Model, &r.Endpoint, &r.Status, &r.Error} {
		*p = truncate(clean(*p), maxText)
	}
}

// clean makes s storable as text in both databases: PostgreSQL refuses
// NUL bytes and invalid UTF-8.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// truncate cuts valid UTF-8 s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// batchVersion is the wire format's version; a consumer refuses others.
const batchVersion = 1

// batch is the body of one Q2 message: records published together.
type batch struct {
	V       int      `json:"v"`
	Records []Record `json:"records"`
}

// errBadBatch wraps why a message body is not a batch.
var errBadBatch = errors.New("ledger: bad batch")

// appendBatch encodes recs as one message body onto dst.
func appendBatch(dst []byte, recs []Record) ([]byte, error) {
	b, err := json.Marshal(batch{V: batchVersion, Records: recs})
	if err != nil {
		return dst, fmt.Errorf("ledger: encode batch: %w", err)
	}
	return append(dst, b...), nil
}

// decodeBatch parses a message body. Records that fail check are left out
// and counted as rejected, with the first reason; a body that is not a
// batch at all is an error.
func decodeBatch(data []byte) (recs []Record, rejected int, reason error, err error) {
	var b batch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, 0, nil, fmt.Errorf("%w: %w", errBadBatch, err)
	}
	if b.V != batchVersion {
		return nil, 0, nil, fmt.Errorf("%w: version %d", errBadBatch, b.V)
	}
	recs = b.Records[:0]
	for i := range b.Records {
		r := b.Records[i]
		if err := r.check(); err != nil {
			rejected++
			if reason == nil {
				reason = err
			}
			continue
		}
		recs = append(recs, r)
	}
	return recs, rejected, reason, nil
}
