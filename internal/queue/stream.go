package queue

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults for StreamConfig.
const (
	DefaultMaxAge     = 7 * 24 * time.Hour
	DefaultDuplicates = 2 * time.Minute
)

// StreamConfig describes a stream: the subjects it stores and how long.
// Streams are always kept on disk.
type StreamConfig struct {
	// Name names the stream; required, without '.', '*', '>' or spaces.
	Name string
	// Subjects are the subjects (wildcards allowed) the stream stores; at
	// least one, not overlapping another stream's.
	Subjects []string
	// WorkQueue makes each message go to one consumer and be deleted once
	// acknowledged (work-queue retention); only one durable consumer may
	// then read a given subject. False keeps messages until MaxAge (limits
	// retention), each durable consumer getting every message.
	WorkQueue bool
	// MaxAge is how long a message is kept at most, acknowledged or not.
	// Default DefaultMaxAge (7 days).
	MaxAge time.Duration
	// Duplicates is the window within which a message ID seen before is
	// not stored again. Default DefaultDuplicates (2 minutes); at most
	// MaxAge.
	Duplicates time.Duration
}

func (c *StreamConfig) normalise() error {
	if err := checkName("stream name", c.Name); err != nil {
		return err
	}
	if len(c.Subjects) == 0 {
		return fmt.Errorf("%w: stream %s has no subjects", ErrInvalidConfig, c.Name)
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.Duplicates == 0 {
		c.Duplicates = min(DefaultDuplicates, c.MaxAge)
	}
	if c.MaxAge < 0 || c.Duplicates < 0 || c.Duplicates > c.MaxAge {
		return fmt.Errorf("%w: stream %s: need 0 < duplicates (%s) <= max age (%s)", ErrInvalidConfig, c.Name, c.Duplicates, c.MaxAge)
	}
	return nil
}

// checkName rejects names JetStream would refuse or misroute (they become
// tokens of API subjects).
func checkName(what, name string) error {
	if name == "" || strings.ContainsAny(name, ".*> \t\r\n") {
		return fmt.Errorf("%w: %s %q", ErrInvalidConfig, what, name)
	}
	return nil
}

// EnsureStream creates the stream or updates it to cfg; calling it again
// with the same cfg changes nothing, so every process may call it at start.
// Changing WorkQueue on an existing stream is refused by the server.
func (q *Queue) EnsureStream(ctx context.Context, cfg StreamConfig) error {
	if q.closed.Load() {
		return ErrClosed
	}
	if err := cfg.normalise(); err != nil {
		return err
	}
	sc := jetstream.StreamConfig{
		Name:       cfg.Name,
		Subjects:   cfg.Subjects,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     cfg.MaxAge,
		Duplicates: cfg.Duplicates,
		Storage:    jetstream.FileStorage,
		Replicas:   q.cfg.Replicas,
	}
	if cfg.WorkQueue {
		sc.Retention = jetstream.WorkQueuePolicy
	}
	if _, err := q.js.CreateOrUpdateStream(ctx, sc); err != nil {
		return fmt.Errorf("queue: ensure stream %s: %w", cfg.Name, err)
	}
	return nil
}
