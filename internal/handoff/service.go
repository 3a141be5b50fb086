package handoff

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"
)

// Publisher is Q2 as the Service uses it; *queue.Queue implements it.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte, hdr map[string]string) error
}

// SubjectEvents is the default subject of the events on Q2; StreamConfig
// captures it.
const SubjectEvents = "handoffs.events"

// Defaults of Config.
const (
	DefaultSweepInterval  = 10 * time.Second
	DefaultRepublishAfter = time.Hour
	DefaultWebhookTimeout = 10 * time.Second
)

// Config configures a Service.
type Config struct {
	// Store keeps tickets and events; required.
	Store Store
	// Queue is Q2; required.
	Queue Publisher
	// Subject is the subject events are published on. Default
	// SubjectEvents; a stream must capture it (see StreamConfig).
	Subject string
	// WebhookURL is the help desk's endpoint. Empty: events are recorded
	// and skipped by the worker.
	WebhookURL string
	// WebhookSecret signs the webhooks (see Sign); required with
	// WebhookURL.
	WebhookSecret []byte
	// Client posts the webhooks. Default: an http.Client with a
	// DefaultWebhookTimeout time-out.
	Client *http.Client
	// Acks are the acknowledgements by language, added to or overriding
	// DefaultAcks.
	Acks map[string]Ack
	// SweepInterval is how often Run looks for events to publish again.
	// Default DefaultSweepInterval.
	SweepInterval time.Duration
	// RepublishAfter is how long a published, undelivered event is left
	// to Q2's redeliveries before Run publishes it again; it should
	// exceed the worker's whole back-off schedule. Default
	// DefaultRepublishAfter (1 h).
	RepublishAfter time.Duration
	// OnResolved, if set, is called after a ticket was resolved, with
	// the resolved ticket: the engine's cue that the session is the
	// agent's again. It runs on the resolving request's goroutine.
	OnResolved func(ctx context.Context, t Ticket)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives publish and delivery failures. Default
	// slog.Default().
	Logger *slog.Logger
}

// Ack is the acknowledgement of a user's message while the session is
// handed off. "{ticket}" in a text becomes the ticket's id.
type Ack struct {
	// Open is said while nobody has claimed the ticket.
	Open string
	// Claimed is said once a person works on it.
	Claimed string
}

// DefaultAcks are the built-in acknowledgements, English and German.
var DefaultAcks = map[string]Ack{
	"en": {
		Open:    "Thank you, your message has been passed on to our support team (ticket {ticket}). A member of the team will reply here as soon as possible.",
		Claimed: "Thank you, a member of our support team is handling your request (ticket {ticket}) and will reply here shortly.",
	},
	"de": {
		Open:    "Danke, Ihre Nachricht wurde an unser Support-Team weitergegeben (Ticket {ticket}). Jemand aus dem Team antwortet Ihnen hier so bald wie möglich.",
		Claimed: "Danke, jemand aus unserem Support-Team bearbeitet Ihr Anliegen (Ticket {ticket}) und antwortet Ihnen hier in Kürze.",
	},
}

// Service files handoff tickets, holds handed-off sessions, and delivers
// the tickets' events to the help desk through Q2. It is safe for
// concurrent use. Run, if used, owns its one goroutine.
type Service struct {
	cfg  Config
	acks map[string]Ack
	log  *slog.Logger
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Queue == nil {
		return nil, errors.New("handoff: a store and a queue are required")
	}
	if cfg.WebhookURL != "" {
		if !strings.HasPrefix(cfg.WebhookURL, "http://") && !strings.HasPrefix(cfg.WebhookURL, "https://") {
			return nil, fmt.Errorf("handoff: webhook URL %q is not http(s)", cfg.WebhookURL)
		}
		if len(cfg.WebhookSecret) == 0 {
			return nil, errors.New("handoff: a webhook needs a secret")
		}
	}
	if cfg.Subject == "" {
		cfg.Subject = SubjectEvents
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: DefaultWebhookTimeout}
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.RepublishAfter <= 0 {
		cfg.RepublishAfter = DefaultRepublishAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	acks := make(map[string]Ack, len(DefaultAcks)+len(cfg.Acks))
	for k, v := range DefaultAcks {
		acks[k] = v
	}
	for k, v := range cfg.Acks {
		acks[k] = v
	}
	if _, ok := acks["en"]; !ok || acks["en"].Open == "" || acks["en"].Claimed == "" {
		return nil, errors.New("handoff: the English acknowledgements must not be empty")
	}
	return &Service{cfg: cfg, acks: acks, log: cfg.Logger}, nil
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Millisecond) }

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "ho_" + hex.EncodeToString(b[:])
}

// Open files a ticket for t's session and publishes its handoff.created
// event; from then on ActiveFor reports the session as handed off. t
// needs Tenant and Session; ID, Status, Version and the times are set
// here, Lang defaults to "en". Open is idempotent per session: while the
// session has an open or claimed ticket, Open returns that ticket and
// files nothing.
//
// The ticket and its event are stored in one transaction before the
// event is published, so a failed publish loses nothing: Open logs it and
// Run publishes the event again. Errors are the store's (or ErrInvalid).
func (s *Service) Open(ctx context.Context, t Ticket) (Ticket, error) {
	if t.Tenant == "" || t.Session == "" {
		return Ticket{}, fmt.Errorf("%w: a ticket needs a tenant and a session", ErrInvalid)
	}
	now := s.now()
	t.ID, t.Status, t.Version = newID(), StatusOpen, 1
	t.CreatedAt, t.UpdatedAt = now, now
	t.ClaimedBy, t.ResolvedBy, t.Resolution, t.ClaimedAt, t.ResolvedAt = "", "", "", nil, nil
	t.Messages = nil
	if t.Lang == "" {
		t.Lang = "en"
	}
	t.Summary = clip(t.Summary, 4*MaxTurnChars)
	if len(t.Turns) > MaxTurns {
		t.Turns = t.Turns[len(t.Turns)-MaxTurns:]
	}
	for i := range t.Turns {
		t.Turns[i].Content = clip(t.Turns[i].Content, MaxTurnChars)
	}
	ev, err := newEvent(EventCreated, t, nil)
	if err != nil {
		return Ticket{}, fmt.Errorf("handoff: encode event: %w", err)
	}
	stored, created, err := s.cfg.Store.Create(ctx, t, ev)
	if err != nil {
		return Ticket{}, err
	}
	if created {
		s.publish(ctx, ev)
	}
	return stored, nil
}

// ActiveFor returns the session's open or claimed ticket, and whether it
// has one: whether the session is handed off. The engine asks on every
// message of a session; it is one indexed read.
func (s *Service) ActiveFor(ctx context.Context, tenant, session string) (Ticket, bool, error) {
	t, err := s.cfg.Store.Active(ctx, tenant, session)
	switch {
	case errors.Is(err, ErrNotFound):
		return Ticket{}, false, nil
	case err != nil:
		return Ticket{}, false, err
	}
	return t, true, nil
}

// Append adds a user's message to an active ticket, publishes a
// handoff.message event, and returns the acknowledgement to show the
// user instead of a model's answer. ErrConflict when the ticket was
// resolved meanwhile (the session is the agent's again), ErrNotFound
// when there is no such ticket.
func (s *Service) Append(ctx context.Context, ticketID, message string) (string, error) {
	var ev Event
	t, err := s.cfg.Store.Update(ctx, ticketID, func(t *Ticket) (*Event, error) {
		if !t.Status.Active() {
			return nil, fmt.Errorf("%w: ticket %s is %s", ErrConflict, t.ID, t.Status)
		}
		now := s.now()
		msg := Turn{Role: "user", Content: clip(message, MaxTurnChars), At: &now}
		t.Messages = append(t.Messages, msg)
		if len(t.Messages) > MaxMessages {
			t.Messages = t.Messages[len(t.Messages)-MaxMessages:]
		}
		t.Version++
		t.UpdatedAt = now
		var err error
		ev, err = newEvent(EventMessage, *t, &msg)
		return &ev, err
	})
	if err != nil {
		return "", err
	}
	s.publish(ctx, ev)
	return s.Ack(t), nil
}

// Ack returns the acknowledgement for a message sent while t holds its
// session, in t's language (English when there is none in it).
func (s *Service) Ack(t Ticket) string {
	a, ok := s.acks[t.Lang]
	if !ok {
		a = s.acks["en"]
	}
	text := a.Open
	if t.Status == StatusClaimed {
		text = a.Claimed
	}
	return strings.ReplaceAll(text, "{ticket}", t.ID)
}

// Claim marks an open ticket as taken by a person. Claiming a ticket one
// already holds returns it unchanged; ErrConflict when another person
// holds it or it is resolved, ErrNotFound when there is none,
// ErrInvalid without by.
func (s *Service) Claim(ctx context.Context, id, by string) (Ticket, error) {
	if strings.TrimSpace(by) == "" {
		return Ticket{}, fmt.Errorf("%w: who claims the ticket is required", ErrInvalid)
	}
	var ev *Event
	t, err := s.cfg.Store.Update(ctx, id, func(t *Ticket) (*Event, error) {
		switch {
		case t.Status == StatusClaimed && t.ClaimedBy == by:
			return nil, nil
		case t.Status == StatusClaimed:
			return nil, fmt.Errorf("%w: ticket %s is claimed by %s", ErrConflict, t.ID, t.ClaimedBy)
		case t.Status != StatusOpen:
			return nil, fmt.Errorf("%w: ticket %s is %s", ErrConflict, t.ID, t.Status)
		}
		now := s.now()
		t.Status, t.ClaimedBy, t.ClaimedAt = StatusClaimed, by, &now
		t.Version++
		t.UpdatedAt = now
		e, err := newEvent(EventClaimed, *t, nil)
		ev = &e
		return ev, err
	})
	if err != nil {
		return Ticket{}, err
	}
	if ev != nil {
		s.publish(ctx, *ev)
	}
	return t, nil
}

// Resolve closes an open or claimed ticket: the session goes back to the
// agent (ActiveFor reports it no longer), and OnResolved is called. note
// is kept as the ticket's Resolution. ErrConflict when it is resolved
// already, ErrNotFound when there is none.
func (s *Service) Resolve(ctx context.Context, id, by, note string) (Ticket, error) {
	var ev Event
	t, err := s.cfg.Store.Update(ctx, id, func(t *Ticket) (*Event, error) {
		if !t.Status.Active() {
			return nil, fmt.Errorf("%w: ticket %s is %s", ErrConflict, t.ID, t.Status)
		}
		now := s.now()
		t.Status, t.ResolvedBy, t.Resolution, t.ResolvedAt = StatusResolved, by, clip(note, MaxTurnChars), &now
		t.Version++
		t.UpdatedAt = now
		var err error
		ev, err = newEvent(EventResolved, *t, nil)
		return &ev, err
	})
	if err != nil {
		return Ticket{}, err
	}
	s.publish(ctx, ev)
	if s.cfg.OnResolved != nil {
		s.cfg.OnResolved(ctx, t)
	}
	return t, nil
}

// Get returns a ticket; ErrNotFound when there is none.
func (s *Service) Get(ctx context.Context, id string) (Ticket, error) {
	return s.cfg.Store.Get(ctx, id)
}

// List returns the tickets f selects (see Store.List for the order).
func (s *Service) List(ctx context.Context, f Filter) ([]Ticket, error) {
	if f.Status != "" && !f.Status.valid() {
		return nil, fmt.Errorf("%w: status %q is not open, claimed or resolved", ErrInvalid, f.Status)
	}
	return s.cfg.Store.List(ctx, f)
}

// publish publishes ev and records that Q2 stored it. A failure is
// logged: the event stays unpublished in the store, and Run publishes it
// again.
func (s *Service) publish(ctx context.Context, ev Event) {
	ctx = context.WithoutCancel(ctx)
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.cfg.Queue.Publish(pctx, s.cfg.Subject, ev.ID, ev.Body, map[string]string{"Event-Type": ev.Type}); err != nil {
		s.log.Warn("handoff event not published; it will be retried", "event", ev.ID, "err", err)
		return
	}
	now := s.now()
	if err := s.cfg.Store.MarkEvent(ctx, ev.ID, EventMark{Published: &now}); err != nil {
		s.log.Warn("record handoff event as published", "event", ev.ID, "err", err)
	}
}

// Run publishes again, every SweepInterval until ctx ends, the events
// that were stored but not published (a publish that failed, a process
// that died between storing and publishing), and those published more
// than RepublishAfter ago and still undelivered (a queue that lost them).
// Q2 de-duplicates by event id and the worker skips delivered events, so
// a second publish is harmless. It returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		s.sweepSafe(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Service) sweepSafe(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("handoff sweep panicked", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("handoff sweep", "err", err)
	}
}

// Sweep is one pass of Run: it publishes the pending events and returns
// how many it published.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	now := s.now()
	// An event younger than a sweep interval may be in the middle of its
	// first publish.
	evs, err := s.cfg.Store.Pending(ctx, now.Add(-s.cfg.SweepInterval), now.Add(-s.cfg.RepublishAfter), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ev := range evs {
		if ctx.Err() != nil {
			break
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.cfg.Queue.Publish(pctx, s.cfg.Subject, ev.ID, ev.Body, map[string]string{"Event-Type": ev.Type})
		cancel()
		if err != nil {
			return n, fmt.Errorf("publish %s: %w", ev.ID, err)
		}
		n++
		at := s.now()
		if err := s.cfg.Store.MarkEvent(ctx, ev.ID, EventMark{Published: &at}); err != nil {
			return n, err
		}
	}
	return n, nil
}
