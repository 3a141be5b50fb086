package router

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxAttempts         = 3
	DefaultBudgetRatio         = 0.2
	DefaultBudgetMinPerSecond  = 10
	DefaultBudgetWindow        = 10 * time.Second
	DefaultConsecutiveFailures = 1
	DefaultBaseCoolDown        = time.Second
	DefaultMaxCoolDown         = 60 * time.Second
	DefaultMinAttemptTime      = 20 * time.Millisecond
	DefaultEWMAHalfLife        = 10 * time.Second
	// DefaultRateLimitBackoff is how long a route that answered 429 without
	// a Retry-After is skipped.
	DefaultRateLimitBackoff = time.Second
)

// ErrInvalidConfig is wrapped by every error New returns.
var ErrInvalidConfig = errors.New("router: invalid config")

// Config configures a Router. The zero value of every field but Endpoints
// means its documented default; New normalises and validates it.
type Config struct {
	// Endpoints are the model endpoints; at least one, names unique.
	Endpoints []Endpoint

	// MaxAttempts caps the attempts per request, the first one included.
	// Zero means 3; 1 disables failover.
	MaxAttempts int

	// RetryBudget caps failover attempts across all requests so that a dead
	// endpoint cannot multiply the load on the live ones.
	RetryBudget RetryBudget

	// Ejection says when a failing route is taken out and for how long.
	Ejection Ejection

	// MinAttemptTime is the least time that must be left before the
	// request's deadline to start a failover attempt. Zero means 20ms; a
	// negative value disables the check.
	MinAttemptTime time.Duration

	// EWMAHalfLife is the half-life of the time-decayed averages (latency,
	// time to first token, error and 429 rates). Zero means 10s.
	EWMAHalfLife time.Duration

	// Now returns the current time. Nil means time.Now; tests inject a
	// fake clock.
	Now func() time.Time

	// Rand seeds the router's lock-free random generator; it is read once,
	// in New, and not retained. Nil means a seed from crypto/rand.
	Rand *rand.Rand

	// Observer, if not nil, is told about every attempt, failover,
	// ejection and restoration. It must be safe for concurrent use.
	Observer Observer
}

// RetryBudget bounds failover attempts Finagle-style: the failover attempts
// started in the last Window may not exceed MinPerSecond×Window plus
// Ratio × the requests received in that Window. The zero value means
// Ratio 0.2, MinPerSecond 10, Window 10s.
type RetryBudget struct {
	// Ratio is the share of requests that may be retried. Zero means 0.2;
	// a negative value means no ratio allowance.
	Ratio float64
	// MinPerSecond is the retry rate always allowed, so that a quiet router
	// can still fail over. Zero means 10; a negative value means none.
	MinPerSecond float64
	// Window is the sliding window the budget is counted over, in ten
	// buckets. Zero means 10s.
	Window time.Duration
}

// Ejection configures outlier ejection. The zero value means eject at the
// first failure, for 1s doubling per consecutive ejection up to 60s.
type Ejection struct {
	// ConsecutiveFailures is the number of endpoint failures in a row that
	// ejects a route. Zero means 1.
	ConsecutiveFailures int
	// BaseCoolDown is the first ejection's cool-down, and so the interval
	// at which a dead endpoint is probed. Zero means 1s.
	BaseCoolDown time.Duration
	// MaxCoolDown caps the cool-down, which doubles with each consecutive
	// ejection and resets after a successful probe. Zero means 60s (or
	// BaseCoolDown, if that is longer).
	MaxCoolDown time.Duration
}

// Endpoint is one model endpoint: an API client and the models it serves.
type Endpoint struct {
	// Name identifies the endpoint in the table, metrics and errors.
	Name string
	// Client calls the endpoint; it must be safe for concurrent use.
	Client Client
	// Weight is the endpoint's relative capacity. Zero means 1.
	Weight float64
	// Models are the routes this endpoint serves, one per model.
	Models []Route
}

// Route is one model served by an endpoint.
type Route struct {
	// Model is floodgate's model name, after the gateway resolved aliases.
	Model string
	// Upstream is the model (or Azure deployment) name sent to the
	// endpoint. Empty means Model.
	Upstream string
	// Price is what the endpoint charges for the model; it may be zero.
	Price Price
}

// Price is a model's price in USD per million tokens.
type Price struct {
	Input       float64
	CachedInput float64 // zero means the Input price
	Output      float64
}

// Cost returns the price in USD of the tokens counted by u; 0 for nil u.
func (p Price) Cost(u *llm.Usage) float64 {
	if u == nil {
		return 0
	}
	cached := u.CachedTokens()
	cachedPrice := p.CachedInput
	if cachedPrice == 0 {
		cachedPrice = p.Input
	}
	return (float64(u.PromptTokens-cached)*p.Input +
		float64(cached)*cachedPrice +
		float64(u.CompletionTokens)*p.Output) / 1e6
}

// normalize validates cfg and fills its defaults, returning the copy.
func (cfg Config) normalize() (Config, error) {
	if len(cfg.Endpoints) == 0 {
		return cfg, fmt.Errorf("%w: no endpoints", ErrInvalidConfig)
	}
	eps := make([]Endpoint, len(cfg.Endpoints))
	names := make(map[string]bool, len(eps))
	for i, ep := range cfg.Endpoints {
		switch {
		case ep.Name == "":
			return cfg, fmt.Errorf("%w: endpoint %d: empty name", ErrInvalidConfig, i)
		case names[ep.Name]:
			return cfg, fmt.Errorf("%w: endpoint %q: duplicate name", ErrInvalidConfig, ep.Name)
		case ep.Client == nil:
			return cfg, fmt.Errorf("%w: endpoint %q: no client", ErrInvalidConfig, ep.Name)
		case len(ep.Models) == 0:
			return cfg, fmt.Errorf("%w: endpoint %q: no models", ErrInvalidConfig, ep.Name)
		case ep.Weight < 0 || math.IsNaN(ep.Weight) || math.IsInf(ep.Weight, 0):
			return cfg, fmt.Errorf("%w: endpoint %q: weight %v", ErrInvalidConfig, ep.Name, ep.Weight)
		}
		names[ep.Name] = true
		if ep.Weight == 0 {
			ep.Weight = 1
		}
		models := make([]Route, len(ep.Models))
		seen := make(map[string]bool, len(models))
		for j, rt := range ep.Models {
			switch {
			case rt.Model == "":
				return cfg, fmt.Errorf("%w: endpoint %q: route %d: empty model", ErrInvalidConfig, ep.Name, j)
			case seen[rt.Model]:
				return cfg, fmt.Errorf("%w: endpoint %q: model %q listed twice", ErrInvalidConfig, ep.Name, rt.Model)
			}
			seen[rt.Model] = true
			if rt.Upstream == "" {
				rt.Upstream = rt.Model
			}
			models[j] = rt
		}
		ep.Models = models
		eps[i] = ep
	}
	cfg.Endpoints = eps

	if cfg.MaxAttempts < 0 {
		return cfg, fmt.Errorf("%w: MaxAttempts %d", ErrInvalidConfig, cfg.MaxAttempts)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}

	b := &cfg.RetryBudget
	switch {
	case b.Ratio == 0:
		b.Ratio = DefaultBudgetRatio
	case b.Ratio < 0:
		b.Ratio = 0
	}
	switch {
	case b.MinPerSecond == 0:
		b.MinPerSecond = DefaultBudgetMinPerSecond
	case b.MinPerSecond < 0:
		b.MinPerSecond = 0
	}
	if b.Window < 0 {
		return cfg, fmt.Errorf("%w: RetryBudget.Window %v", ErrInvalidConfig, b.Window)
	}
	if b.Window == 0 {
		b.Window = DefaultBudgetWindow
	}

	ej := &cfg.Ejection
	if ej.ConsecutiveFailures < 0 || ej.BaseCoolDown < 0 || ej.MaxCoolDown < 0 {
		return cfg, fmt.Errorf("%w: negative Ejection setting", ErrInvalidConfig)
	}
	if ej.ConsecutiveFailures == 0 {
		ej.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if ej.BaseCoolDown == 0 {
		ej.BaseCoolDown = DefaultBaseCoolDown
	}
	if ej.MaxCoolDown == 0 {
		ej.MaxCoolDown = max(DefaultMaxCoolDown, ej.BaseCoolDown)
	}
	if ej.MaxCoolDown < ej.BaseCoolDown {
		return cfg, fmt.Errorf("%w: Ejection.MaxCoolDown %v < BaseCoolDown %v", ErrInvalidConfig, ej.MaxCoolDown, ej.BaseCoolDown)
	}

	switch {
	case cfg.MinAttemptTime == 0:
		cfg.MinAttemptTime = DefaultMinAttemptTime
	case cfg.MinAttemptTime < 0:
		cfg.MinAttemptTime = 0
	}
	if cfg.EWMAHalfLife < 0 {
		return cfg, fmt.Errorf("%w: EWMAHalfLife %v", ErrInvalidConfig, cfg.EWMAHalfLife)
	}
	if cfg.EWMAHalfLife == 0 {
		cfg.EWMAHalfLife = DefaultEWMAHalfLife
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return cfg, nil
}

// seed returns the generator seed: one draw from cfg.Rand, or crypto/rand.
func (cfg *Config) seed() uint64 {
	if cfg.Rand != nil {
		return cfg.Rand.Uint64()
	}
	var b [8]byte
	_, _ = crand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return binary.LittleEndian.Uint64(b[:])
}

// coolDown returns the cool-down of the n-th consecutive ejection:
// min(Base×2^(n−1), Max).
func (ej *Ejection) coolDown(n int64) time.Duration {
	d := ej.BaseCoolDown
	for i := int64(1); i < n && d < ej.MaxCoolDown; i++ {
		d *= 2
	}
	return min(d, ej.MaxCoolDown)
}
