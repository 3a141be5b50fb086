package tool

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// Breaker defaults.
const (
	DefaultBreakerFailures = 5
	DefaultBreakerOpenFor  = 30 * time.Second
	DefaultBreakerProbes   = 1
)

// BreakerConfig configures the circuit breaker of a tool. The zero value
// means the defaults.
type BreakerConfig struct {
	// Failures is the number of consecutive failures that opens the
	// breaker; 0 means DefaultBreakerFailures.
	Failures int
	// OpenFor is how long an open breaker refuses calls before it lets
	// probes through (half-open); 0 means DefaultBreakerOpenFor.
	OpenFor time.Duration
	// Probes is the number of calls let through while half-open; that
	// many successes close the breaker, one failure opens it again. 0
	// means DefaultBreakerProbes.
	Probes int
}

func (c BreakerConfig) normalised() BreakerConfig {
	c.Failures = cmp(c.Failures, DefaultBreakerFailures)
	c.OpenFor = cmp(c.OpenFor, DefaultBreakerOpenFor)
	c.Probes = cmp(c.Probes, DefaultBreakerProbes)
	return c
}

// errExcluded is what a call that says nothing about the tool's health
// reports to the breaker: invalid arguments (nothing was sent) or the run
// itself ending.
var errExcluded = errors.New("excluded from the breaker's counts")

// breaker is the circuit breaker of one tool, shared by every run. The
// library keeps the state machine; openUntil mirrors the open state in an
// atomic so that Offer, called on every model turn of every run, takes no
// lock.
type breaker struct {
	cb        *gobreaker.TwoStepCircuitBreaker[struct{}]
	openUntil atomic.Int64 // unix nanoseconds; 0 when not open
}

func newBreaker(name string, cfg BreakerConfig, obs Observer) *breaker {
	cfg = cfg.normalised()
	b := &breaker{}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(cfg.Probes),
		Timeout:     cfg.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= uint32(cfg.Failures)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errExcluded) },
		OnStateChange: func(name string, _, to gobreaker.State) {
			switch to {
			case gobreaker.StateOpen:
				b.openUntil.Store(time.Now().Add(cfg.OpenFor).UnixNano())
				obs.BreakerState(name, StateOpen)
			case gobreaker.StateHalfOpen:
				b.openUntil.Store(0)
				obs.BreakerState(name, StateHalfOpen)
			default:
				b.openUntil.Store(0)
				obs.BreakerState(name, StateClosed)
			}
		},
	})
	return b
}

// isOpen reports whether the breaker refuses calls at now (unix nanos).
func (b *breaker) isOpen(now int64) bool {
	u := b.openUntil.Load()
	return u != 0 && now < u
}

// allow asks to make a call; done must be called with its outcome.
func (b *breaker) allow() (done func(error), err error) {
	return b.cb.Allow()
}

// state returns the breaker's state name.
func (b *breaker) state() string {
	switch b.cb.State() {
	case gobreaker.StateOpen:
		return StateOpen
	case gobreaker.StateHalfOpen:
		return StateHalfOpen
	}
	return StateClosed
}
