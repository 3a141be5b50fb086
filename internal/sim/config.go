package sim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Config configures a Sim. The zero value is a usable sim with the default
// models, seed 0, real-time pacing, no API key and no faults.
type Config struct {
	// Models are the models served. Nil or empty means DefaultModels().
	Models []Model

	// Seed seeds every behaviour decision (0 is a seed like any other). The
	// fault PRNG is seeded from it too, through a different derivation.
	Seed uint64

	// APIKey, when set, is required on every request as "Authorization:
	// Bearer KEY" or "api-key: KEY" (Azure's header); otherwise 401.
	APIKey string

	// TimeScale multiplies every simulated delay (time to first token,
	// generation time, latency faults and spikes). 0 means the default, 1
	// (real time); NoDelay (any negative value) means no delays at all and
	// no timers, for overhead benchmarks. Outage durations are wall-clock
	// and not scaled.
	TimeScale float64

	// WanderRate is the probability that, after tool results, the model
	// makes one needless tool call instead of answering. 0 means the
	// default 0.07; a negative value means never.
	WanderRate float64

	// WanderContinue is the probability that a conversation already
	// wandering makes yet another needless call. 0 means the default 0.75;
	// a negative value means never.
	WanderContinue float64

	// SummaryLoss is the probability that a summary drops each entity
	// (order number, amount, email, …). 0 means the default 0.5; a negative
	// value means summaries keep every entity.
	SummaryLoss float64

	// Faults are in force from New on, as if set with SetFaults then.
	Faults Faults

	// Clock tells the time and measures delays. Nil means the real clock.
	Clock Clock

	// MaxBodyBytes caps a request body; a larger one is answered 413.
	// 0 means 8 MiB.
	MaxBodyBytes int64

	// MemoBytes bounds the memo of replies by request body (bodies and
	// answers together): load tests resend the same bodies and a hit
	// skips decoding and tokenising. 0 means DefaultMemoBytes (32 MiB); a
	// negative value turns the memo off. Traffic whose bodies never repeat
	// (agents, whose prompts carry fresh state) gains nothing from it.
	MemoBytes int64
}

// NoDelay is the TimeScale that turns all simulated delays off.
const NoDelay = -1

// Defaults of Config.
const (
	DefaultWanderRate     = 0.07
	DefaultWanderContinue = 0.75
	DefaultSummaryLoss    = 0.5
	DefaultMaxBodyBytes   = 8 << 20
	DefaultMemoBytes      = 32 << 20
)

// Clock tells the time and waits, so that tests can run rate-limit windows,
// outages and pacing on a fake time line.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Model is one simulated model. Zero values are documented per field.
type Model struct {
	// Name is what clients put in "model" and what responses echo. Required.
	Name string
	// Aliases are other names that select this model; responses echo the
	// name the client used.
	Aliases []string
	// TTFT is the time to the first token (0: none).
	TTFT time.Duration
	// TokensPerSecond is the generation speed (0: generation takes no time).
	TokensPerSecond float64
	// InputPrice, CachedInputPrice and OutputPrice are USD per 1M tokens,
	// reported by GET /v1/models.
	InputPrice       float64
	CachedInputPrice float64
	OutputPrice      float64
	// Accuracy is the probability of doing the right thing per complexity
	// class. A class left at 0 means 1 (always right).
	Accuracy Accuracy
	// RPM and TPM cap requests and tokens (prompt plus completion) per
	// sliding minute; 0 means unlimited.
	RPM int
	TPM int
	// ContextWindow is the most prompt plus requested output tokens a
	// request may carry; more is a 400 context_length_exceeded. 0 means
	// unlimited.
	ContextWindow int
}

// Accuracy is a model's probability of doing the right thing (right tool,
// right arguments, an answer faithful to tool results) per complexity class.
type Accuracy struct {
	Simple   float64 `json:"simple"`
	Standard float64 `json:"standard"`
	Complex  float64 `json:"complex"`
}

// Complexity classes of a request, from its intent (see the package doc).
type Complexity uint8

// Complexity classes.
const (
	Simple Complexity = iota
	Standard
	Complex
)

var complexityNames = [...]string{"simple", "standard", "complex"}

// String returns "simple", "standard" or "complex".
func (c Complexity) String() string {
	if int(c) < len(complexityNames) {
		return complexityNames[c]
	}
	return "complex"
}

// For returns the accuracy of class c.
func (a Accuracy) For(c Complexity) float64 {
	switch c {
	case Simple:
		return a.Simple
	case Standard:
		return a.Standard
	}
	return a.Complex
}

// DefaultModels returns the two default models: "large" (slow, expensive,
// accurate) and "small" (about 3× faster and 16× cheaper, and more often
// wrong on complex requests). Each call returns a fresh slice.
func DefaultModels() []Model {
	return []Model{
		{
			Name:             "large",
			TTFT:             450 * time.Millisecond,
			TokensPerSecond:  60,
			InputPrice:       2.50,
			CachedInputPrice: 1.25,
			OutputPrice:      10.00,
			Accuracy:         Accuracy{Simple: 0.99, Standard: 0.98, Complex: 0.96},
			ContextWindow:    128_000,
		},
		{
			Name:             "small",
			TTFT:             150 * time.Millisecond,
			TokensPerSecond:  180,
			InputPrice:       0.15,
			CachedInputPrice: 0.075,
			OutputPrice:      0.60,
			Accuracy:         Accuracy{Simple: 0.99, Standard: 0.93, Complex: 0.80},
			ContextWindow:    128_000,
		},
	}
}

// ErrConfig is wrapped by every configuration error New returns.
var ErrConfig = errors.New("sim: invalid config")

// normalize fills defaults and validates. It returns a copy.
func (c Config) normalize() (Config, error) {
	if len(c.Models) == 0 {
		c.Models = DefaultModels()
	} else {
		c.Models = append([]Model(nil), c.Models...)
	}
	seen := map[string]bool{}
	for i := range c.Models {
		m := &c.Models[i]
		if m.Name == "" {
			return c, fmt.Errorf("%w: models[%d]: empty name", ErrConfig, i)
		}
		for _, n := range append([]string{m.Name}, m.Aliases...) {
			if seen[n] {
				return c, fmt.Errorf("%w: model name %q used twice", ErrConfig, n)
			}
			seen[n] = true
		}
		if m.TTFT < 0 || m.TokensPerSecond < 0 || m.RPM < 0 || m.TPM < 0 || m.ContextWindow < 0 ||
			math.IsNaN(m.TokensPerSecond) || math.IsInf(m.TokensPerSecond, 0) {
			return c, fmt.Errorf("%w: model %q: negative or invalid timing or limit", ErrConfig, m.Name)
		}
		for _, p := range []*float64{&m.Accuracy.Simple, &m.Accuracy.Standard, &m.Accuracy.Complex} {
			if *p == 0 {
				*p = 1
			}
			if *p < 0 || *p > 1 || math.IsNaN(*p) {
				return c, fmt.Errorf("%w: model %q: accuracy must be in [0,1]", ErrConfig, m.Name)
			}
		}
	}
	switch {
	case c.TimeScale == 0:
		c.TimeScale = 1
	case c.TimeScale < 0:
		c.TimeScale = 0
	case math.IsNaN(c.TimeScale) || math.IsInf(c.TimeScale, 0):
		return c, fmt.Errorf("%w: time scale %v", ErrConfig, c.TimeScale)
	}
	var err error
	if c.WanderRate, err = probDefault("wander rate", c.WanderRate, DefaultWanderRate); err != nil {
		return c, err
	}
	if c.WanderContinue, err = probDefault("wander continue", c.WanderContinue, DefaultWanderContinue); err != nil {
		return c, err
	}
	if c.SummaryLoss, err = probDefault("summary loss", c.SummaryLoss, DefaultSummaryLoss); err != nil {
		return c, err
	}
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MemoBytes == 0 {
		c.MemoBytes = DefaultMemoBytes
	}
	return c, nil
}

func probDefault(name string, v, def float64) (float64, error) {
	switch {
	case v == 0:
		return def, nil
	case v < 0:
		return 0, nil
	case v > 1 || math.IsNaN(v):
		return 0, fmt.Errorf("%w: %s %v not in [0,1]", ErrConfig, name, v)
	}
	return v, nil
}
