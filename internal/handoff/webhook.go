package handoff

import (
	"github.com/floodgate-dev/floodgate/internal/webhook"

	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/floodgate-dev/floodgate/internal/queue"
)

// Webhook headers. The signature is the one every floodgate webhook
// carries (package webhook), so one verifier serves async runs and
// tickets alike.
const (
	SignatureHeader = webhook.SignatureHeader
	// DeliveryHeader carries the event id: a receiver that has seen it
	// before has the event already (deliveries are at least once).
	DeliveryHeader = "X-Floodgate-Delivery"
	// EventHeader carries the event type.
	EventHeader = "X-Floodgate-Event"
	// AttemptHeader counts the attempts at this event, from 1.
	AttemptHeader = "X-Floodgate-Attempt"
)

// ErrBadSignature is returned by Verify.
var ErrBadSignature = webhook.ErrBadSignature

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string { return webhook.Sign(secret, t, body) }

// Verify checks a SignatureHeader value against body, as webhook.Verify
// does.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	return webhook.Verify(secret, header, body, now, tolerance)
}

// Defaults of ConsumerConfig and StreamConfig.
const (
	DefaultStream     = "HANDOFFS"
	DefaultDurable    = "handoff-webhooks"
	DefaultMaxDeliver = 12
)

// DefaultBackoff is the delay before the next attempt at a webhook after
// the first, second, … failure: doubling from 1 s to 5 min, about 14
// minutes over DefaultMaxDeliver attempts. Do not modify it.
var DefaultBackoff = []time.Duration{
	time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
	64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute,
}

// StreamConfig returns the work-queue stream that holds the events (name
// "" means DefaultStream). Give it to queue.Queue.EnsureStream at start.
func (s *Service) StreamConfig(name string) queue.StreamConfig {
	if name == "" {
		name = DefaultStream
	}
	return queue.StreamConfig{Name: name, Subjects: []string{s.cfg.Subject}, WorkQueue: true}
}

// ConsumerConfig returns the webhook worker's consumer of the stream
// (name "" means DefaultStream): durable DefaultDurable, exponential
// back-off (DefaultBackoff) over DefaultMaxDeliver attempts, and
// DeadLetter for the events given up on. Run it as
// q.Worker(svc.ConsumerConfig(""), svc.HandleMessage).
func (s *Service) ConsumerConfig(stream string) queue.ConsumerConfig {
	if stream == "" {
		stream = DefaultStream
	}
	return queue.ConsumerConfig{
		Stream:        stream,
		Durable:       DefaultDurable,
		FilterSubject: s.cfg.Subject,
		MaxDeliver:    DefaultMaxDeliver,
		Backoff:       DefaultBackoff,
		OnDeadLetter:  s.DeadLetter,
	}
}

// HandleMessage delivers the event a Q2 message carries: the queue.Handler
// of the webhook worker. It is idempotent per event: an event the store
// records as delivered (or given up on) is acknowledged without a post.
// Otherwise it posts the event, signed, with its id in DeliveryHeader,
// and records it delivered on a 2xx. A receiver's refusal (a 4xx other
// than 408 and 429) gives the event up at once; other failures return an
// error, so Q2 delivers the message again after its back-off, until its
// last attempt, which DeadLetter records.
//
// A crash between the post and the record makes the next attempt post
// again: receivers de-duplicate by DeliveryHeader, and see every event
// once in effect.
func (s *Service) HandleMessage(ctx context.Context, m queue.Msg) error {
	id := m.ID()
	ev, err := s.cfg.Store.Event(ctx, id)
	known := true
	switch {
	case errors.Is(err, ErrNotFound):
		// Published by a process with another store: deliver what the
		// message carries rather than lose it; there is nothing to
		// record it in.
		s.log.Warn("handoff event not in the store; delivering it unrecorded", "event", id)
		ev, known = Event{ID: id, Type: m.Header("Event-Type"), Body: m.Data()}, false
	case err != nil:
		return fmt.Errorf("read event %s: %w", id, err)
	case ev.DeliveredAt != nil || ev.Failed != "":
		return nil
	}
	if s.cfg.WebhookURL == "" {
		return s.mark(ctx, known, id, EventMark{Delivered: ptr(s.now())})
	}
	status, err := s.post(ctx, ev, m.Deliveries())
	switch {
	case err == nil:
		return s.mark(ctx, known, id, EventMark{Delivered: ptr(s.now())})
	case status >= 400 && status < 500 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests:
		s.log.Error("handoff webhook refused; given up", "event", id, "status", status)
		return s.mark(ctx, known, id, EventMark{Failed: err.Error()})
	}
	s.log.Warn("handoff webhook failed; it will be retried", "event", id, "attempt", m.Deliveries(), "err", err)
	return err
}

// DeadLetter records an event Q2 gave up on: its last error is kept as
// the event's failure. It is the worker's OnDeadLetter.
func (s *Service) DeadLetter(m queue.Msg, err error) {
	msg := "given up"
	if err != nil {
		msg += ": " + err.Error()
	}
	s.log.Error("handoff webhook given up", "event", m.ID(), "attempts", m.Deliveries(), "err", err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if merr := s.cfg.Store.MarkEvent(ctx, m.ID(), EventMark{Failed: msg}); merr != nil && !errors.Is(merr, ErrNotFound) {
		s.log.Error("record handoff webhook failure", "event", m.ID(), "err", merr)
	}
}

func (s *Service) mark(ctx context.Context, known bool, id string, m EventMark) error {
	if !known {
		return nil
	}
	// The delivery happened: record it even if the worker is stopping.
	if err := s.cfg.Store.MarkEvent(context.WithoutCancel(ctx), id, m); err != nil {
		return fmt.Errorf("record event %s: %w", id, err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

// post sends one attempt of ev's webhook and returns the response status
// (0 without a response) and an error unless it was a 2xx.
func (s *Service) post(ctx context.Context, ev Event, attempt int) (int, error) {
	hdr := http.Header{}
	hdr.Set(DeliveryHeader, ev.ID)
	hdr.Set(EventHeader, ev.Type)
	hdr.Set(AttemptHeader, strconv.Itoa(attempt))
	return webhook.Post(ctx, s.cfg.Client, s.cfg.WebhookURL, s.cfg.WebhookSecret, s.cfg.Now(), ev.Body, hdr)
}
