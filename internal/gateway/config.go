package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/ratelimit"
)

// Defaults of the server's timing.
const (
	DefaultDrainTimeout   = 30 * time.Second
	DefaultRequestTimeout = 10 * time.Minute
)

// StandardTier is the name of the built-in tier that applies to a tenant
// naming none. Unless Config.Tiers defines it, it is the zero Tier.
const StandardTier = "standard"

// Config configures a Server. Every zero value is usable and documented;
// New normalises it and refuses what is inconsistent.
type Config struct {
	// Tenants maps API keys to tenants and their tiers. With none, every
	// authenticated route answers 401.
	Tenants []Tenant
	// Tiers are the tiers by name. StandardTier applies to tenants that
	// name none; it is the zero Tier unless defined here.
	Tiers map[string]Tier
	// Models are the canonical model names clients may ask for, with
	// their aliases. Empty means whatever Backend.Models returns, without
	// aliases.
	Models []Model
	// MaxBodyBytes bounds a request body; larger bodies get 413. Zero
	// means DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// MaxJSONDepth bounds the nesting of the body's JSON; deeper bodies
	// get 400. Zero means DefaultMaxJSONDepth (64).
	MaxJSONDepth int
	// MaxMessages bounds the messages of a request; more get 400. Zero
	// means DefaultMaxMessages (4096).
	MaxMessages int
	// DrainTimeout is how long Run lets in-flight requests and streams
	// finish after its context is done before it cuts them. Zero means
	// DefaultDrainTimeout (30 s).
	DrainTimeout time.Duration
	// RequestTimeout bounds one request, stream included. Zero means
	// DefaultRequestTimeout (10 min).
	RequestTimeout time.Duration
	// Logger receives errors, panics, drain progress and, at debug level,
	// one line per request. Nil means slog.Default().
	Logger *slog.Logger
	// Observer, if set, is told about every request once it is answered.
	Observer Observer
	// UpstreamTime, if set, is called before a request goes to the
	// Backend; the returned context is the one passed on, and the returned
	// function, called once the request is done, says how long was spent
	// upstream. The difference with the total is the overhead reported to
	// the Observer. The lead wires it to the router's trace.
	UpstreamTime func(ctx context.Context) (context.Context, func() time.Duration)
	// Agents runs agents for the run API (/v1/agents/{agent}/runs,
	// /v1/runs/{id}, /v1/sessions/{id}) and for model "agent:{name}" on
	// /v1/chat/completions. Nil: those answer 404.
	Agents Agents
	// Limiter enforces the tiers' and tenants' rate limits and spend
	// budgets. Nil: none are enforced.
	Limiter Limiter
	// AdminKeys are the hex SHA-256 digests of the keys of the operations
	// API (routes mounted with HandleAdmin). None: those routes answer 401.
	AdminKeys []string
	// Usage receives one usage record per plain chat completion (agent
	// runs record their own). Nil: none.
	Usage UsageRecorder
	// Filter is the prompt-injection filter applied to user input before
	// anything else runs. Nil: no filter.
	Filter PromptFilter
	// Admission is the node's admission queue. Nil: requests run at once.
	Admission Admitter
	// ShedAnswer is the output of an agent run that admission shed or
	// that waited past its tier's deadline (status degraded). Empty means
	// DefaultShedAnswer.
	ShedAnswer string
	// Fallback, if set, answers an agent turn refused before it ran —
	// shed by admission or past its queue deadline, over its tenant's
	// hard budget, blocked by the prompt filter — instead of an error (or
	// ShedAnswer): serve climbs the agent's degradation ladder without a
	// model (the rules engine, then a friendly message in the customer's
	// language). It must be quick; an empty text means ShedAnswer for a
	// shed turn and the error for the others. Plain completions are
	// refused with their error whatever it says.
	Fallback func(ctx context.Context, t RefusedTurn) Fallback
	// Forwarder, if set, sends each turn of a known session (the run API's
	// session_id; an agent chat's X-Session-Id or user) to the node that
	// owns the session, right after authentication: the owner filters,
	// rate limits, admits and runs it, so that a turn is charged once, on
	// the node that runs it. Nil: this node serves every session.
	Forwarder Forwarder
	// ClaimSession, if set, is called when a turn that named no session
	// created one here, before the client learns its id, so that its next
	// turns come back to this node (ring.Ring.Claim). It must be safe for
	// concurrent use and not block for long.
	ClaimSession func(ctx context.Context, tenant, session string)
	// Node names this node in the X-Floodgate-Node header of the agent
	// turns it serves. Empty: no header.
	Node string
	// Now is the clock used to time requests. Nil means time.Now.
	Now func() time.Time
}

// DefaultShedAnswer is what a shed agent run answers by default.
const DefaultShedAnswer = "We're very busy right now and couldn't get to your message in time. Please try again in a moment."

// Observer receives one call per answered request; the monitor package
// implements it. route is the matched route pattern ("unmatched" for a 404;
// "forwarded" for a turn proxied to the node that owns its session, which
// observes it under its route), model the canonical model ("" when none
// was resolved), tier the caller's tier ("" before authentication), status
// the HTTP status sent, or for a stream that failed after it started the
// status of its error (499 when the client went away). d is the whole time
// in the handler; overhead is d minus the time spent upstream (all of d for
// a request that never went upstream) when Config.UpstreamTime is set, else
// 0. Request must be cheap and safe for concurrent use.
type Observer interface {
	Request(route, model, tier string, status int, d, overhead time.Duration)
}

// Tenant is a customer of the gateway: its ID, its tier, and the SHA-256 of
// each of its API keys (the configuration never holds keys in clear).
type Tenant struct {
	// ID names the tenant in contexts, logs and metrics.
	ID string
	// Tier names the tenant's tier; empty means StandardTier.
	Tier string
	// KeyHashes are the hex SHA-256 digests of the tenant's API keys
	// (see HashKey), optionally prefixed with "sha256:".
	KeyHashes []string
	// KeyExpiry gives keys of KeyHashes (by the same hash) a time from
	// which they are refused with 401 invalid_api_key, so that keys can be
	// rotated without a restart at the moment of the change.
	KeyExpiry map[string]time.Time
	// Limits, if set, replace the tier's limits for this tenant.
	Limits *Limits
	// Budget caps the tenant's spend (micro-dollars per UTC day and
	// month); enforced by Config.Limiter.
	Budget ratelimit.Budget
	// SoftModel is the model requests move to past the budget's soft
	// limit. Empty: the cheapest model by output price.
	SoftModel string
	// Lang is the tenant's language (a tag such as "de"): what the
	// degradation ladder's messages speak when a customer's message
	// does not tell. Empty: English.
	Lang string
}

func (l Limits) negative() bool {
	return l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 || l.MaxConcurrentRuns < 0
}

// Limits are a tenant's rate limits; zero fields are unlimited.
type Limits struct {
	// RequestsPerMinute and TokensPerMinute are enforced by
	// Config.Limiter, across the cluster when it shares Redis.
	RequestsPerMinute, TokensPerMinute int
	// MaxConcurrentRuns bounds the tenant's requests in flight on a node.
	MaxConcurrentRuns int
}

// Tier is what a class of tenants may ask for. The zero Tier caps nothing
// but n (to 1) and removes logit_bias, logprobs, service_tier and store.
type Tier struct {
	// MaxOutputTokens caps max_tokens and max_completion_tokens; larger
	// asks are capped, not refused. Zero means no cap.
	MaxOutputTokens int
	// DefaultOutputTokens is set as max_completion_tokens when the client
	// sets no limit. Zero leaves it unset.
	DefaultOutputTokens int
	// MaxN caps n. Zero means 1.
	MaxN int
	// AllowLogitBias, AllowLogprobs, AllowServiceTier and AllowStore keep
	// the fields of those names; by default they are removed.
	AllowLogitBias, AllowLogprobs, AllowServiceTier, AllowStore bool
	// Models are the canonical models the tier may use; empty means all.
	// Others are refused with 403.
	Models []string
	// Limits of each tenant of the tier.
	Limits
	// Priority in the admission queue: higher is admitted first and shed
	// last.
	Priority int
	// QueueDeadline is the longest a request waits for admission; zero
	// means the admission queue's own maximum.
	QueueDeadline time.Duration
	// Peak, if set, moves the tier's chat requests to a lighter model at
	// peak.
	Peak *Peak
}

// allows reports whether the tier may use the canonical model.
func (t *Tier) allows(model string) bool {
	if len(t.Models) == 0 || strings.HasPrefix(model, agentModelPrefix) {
		return true // an agent picks its own models
	}
	for _, m := range t.Models {
		if m == model {
			return true
		}
	}
	return false
}

// Model is a canonical model name with the aliases clients may use for it
// (e.g. "large" with alias "gpt-4o").
type Model struct {
	Name    string
	Aliases []string
	// Price estimates and charges spend against budgets.
	Price Price
}

// HashKey returns the hex SHA-256 of an API key, the form Tenant.KeyHashes
// holds.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// parseKeyHash reads a hex SHA-256, with or without a "sha256:" prefix.
func parseKeyHash(s string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	h := strings.TrimPrefix(s, "sha256:")
	if len(h) != 2*sha256.Size {
		return sum, fmt.Errorf("key hash %q: want %d hex digits", s, 2*sha256.Size)
	}
	if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
		return sum, fmt.Errorf("key hash %q: %w", s, err)
	}
	return sum, nil
}

// normalize fills the defaults of c and checks its scalars.
func (c *Config) normalize() error {
	if c.MaxBodyBytes < 0 || c.MaxJSONDepth < 0 || c.MaxMessages < 0 || c.DrainTimeout < 0 || c.RequestTimeout < 0 {
		return errors.New("negative limit")
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxJSONDepth == 0 {
		c.MaxJSONDepth = DefaultMaxJSONDepth
	}
	if c.MaxMessages == 0 {
		c.MaxMessages = DefaultMaxMessages
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.ShedAnswer == "" {
		c.ShedAnswer = DefaultShedAnswer
	}
	return nil
}

// checkTier refuses a tier whose numbers contradict each other or that
// names a model the catalog does not know (when the catalog is static).
func checkTier(name string, t *Tier, known func(string) bool) error {
	if t.MaxOutputTokens < 0 || t.DefaultOutputTokens < 0 || t.MaxN < 0 || t.Limits.negative() || t.QueueDeadline < 0 {
		return fmt.Errorf("tier %q: negative limit", name)
	}
	if t.MaxOutputTokens > 0 && t.DefaultOutputTokens > t.MaxOutputTokens {
		return fmt.Errorf("tier %q: DefaultOutputTokens %d above MaxOutputTokens %d", name, t.DefaultOutputTokens, t.MaxOutputTokens)
	}
	for _, m := range t.Models {
		if known != nil && !known(m) {
			return fmt.Errorf("tier %q: model %q is not a canonical model", name, m)
		}
	}
	return nil
}
