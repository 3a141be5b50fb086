package admission

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxConcurrent = 256
	// DefaultQueueFactor sizes the queue when Config.MaxQueue is 0: this
	// many waiters per slot.
	DefaultQueueFactor   = 4
	DefaultMaxWait       = 30 * time.Second
	DefaultMaxRetryAfter = 30 * time.Second
)

// maxCount bounds MaxConcurrent and MaxQueue: each count has 32 bits of the
// queue's state word.
const maxCount = 1<<31 - 1

// ErrInvalidConfig is wrapped by every error New returns.
var ErrInvalidConfig = errors.New("admission: invalid config")

// Config configures a Queue. The zero value of every field means its
// documented default; New normalises and validates it.
type Config struct {
	// MaxConcurrent is how many requests may run at once. Zero means
	// DefaultMaxConcurrent (256).
	MaxConcurrent int

	// MaxQueue is how many requests may wait for a slot. Zero means
	// DefaultQueueFactor × MaxConcurrent; a negative value means no queue:
	// a request that finds every slot taken is shed at once.
	MaxQueue int

	// MaxWait is the longest any request waits, whatever its Ticket says: a
	// ticket without a deadline, or with a later one, expires after MaxWait.
	// Zero means DefaultMaxWait (30s).
	MaxWait time.Duration

	// MaxRetryAfter caps the Retry-After hint of a shed or expired request.
	// Zero means DefaultMaxRetryAfter (30s); less than a second means one.
	MaxRetryAfter time.Duration

	// DisableEarlyShed makes every request that finds room in the queue
	// wait until its deadline if need be. By default a request whose
	// deadline comes before the queue can hand out the slots of those
	// ahead of it and its own is shed at once instead, the pace being the
	// rate slots were handed to waiters less the rate at which higher
	// priorities joined the line, both measured over the last second or
	// so of queueing: it would expire anyway, so its client gets the
	// answer now rather than at the deadline and its place stays free.
	// Without a recent measurement nobody is shed early.
	DisableEarlyShed bool

	// Clock tells the time and runs the deadline timers. Nil means the
	// system clock; tests inject a fake one.
	Clock Clock

	// Observer, if not nil, is told the outcome of every Admit and every
	// change of the queue's length.
	Observer Observer
}

// Clock is the time source of a Queue: the current time, and timers that
// call a function when they fire. It must be safe for concurrent use.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has passed, as
	// time.AfterFunc does.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a timer made by Clock.AfterFunc; *time.Timer is one. Stop and
// Reset behave as time.Timer's do for a timer made by time.AfterFunc.
type Timer interface {
	Stop() bool
	Reset(d time.Duration) bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

// Outcomes of Admit, as reported to Observer.Admission. They are bounded
// metric label values.
const (
	OutcomeAdmitted = "admitted"
	OutcomeShed     = "shed"
	OutcomeExpired  = "expired"
	OutcomeCanceled = "canceled"
	OutcomeClosed   = "closed"
)

// Observer is told what the queue does; Metrics implements it on
// Prometheus. It must be safe for concurrent use.
type Observer interface {
	// Admission reports how one Admit ended: the ticket's tier, the
	// outcome (one of the Outcome constants) and how long the request
	// waited in the queue (0 when it was decided on arrival). It is called
	// once per Admit, without the queue's lock.
	Admission(tier, outcome string, wait time.Duration)
	// QueueLength reports the number of waiting requests each time it
	// changes. It is called with the queue's lock held, in order, so a
	// gauge set from it is never stale; it must be quick and must not call
	// the Queue.
	QueueLength(n int)
}

// normalize applies the defaults and validates c.
func (c Config) normalize() (Config, error) {
	switch {
	case c.MaxConcurrent < 0 || c.MaxConcurrent > maxCount:
		return c, fmt.Errorf("%w: MaxConcurrent %d out of range [0, %d]", ErrInvalidConfig, c.MaxConcurrent, maxCount)
	case c.MaxQueue > maxCount:
		return c, fmt.Errorf("%w: MaxQueue %d above %d", ErrInvalidConfig, c.MaxQueue, maxCount)
	case c.MaxWait < 0:
		return c, fmt.Errorf("%w: negative MaxWait %v", ErrInvalidConfig, c.MaxWait)
	case c.MaxRetryAfter < 0:
		return c, fmt.Errorf("%w: negative MaxRetryAfter %v", ErrInvalidConfig, c.MaxRetryAfter)
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	switch {
	case c.MaxQueue < 0:
		c.MaxQueue = 0
	case c.MaxQueue == 0:
		c.MaxQueue = min(DefaultQueueFactor*c.MaxConcurrent, maxCount)
	}
	if c.MaxWait == 0 {
		c.MaxWait = DefaultMaxWait
	}
	if c.MaxRetryAfter == 0 {
		c.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.MaxRetryAfter < minRetryAfter {
		c.MaxRetryAfter = minRetryAfter
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	return c, nil
}
