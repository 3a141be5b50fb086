package handoff

import (
	"context"
	"encoding/json"
	"strconv"
	"time"
)

// Event types: the "type" of a webhook.
const (
	EventCreated  = "handoff.created"
	EventMessage  = "handoff.message"
	EventClaimed  = "handoff.claimed"
	EventResolved = "handoff.resolved"
)

// Event is one change of a ticket to deliver to the help desk: stored with
// the change (the outbox), published on Q2, delivered by the webhook
// worker.
type Event struct {
	// ID is "<ticket id>.<ticket version>": the webhook's idempotency key
	// (X-Floodgate-Delivery) and the Q2 message id.
	ID       string
	Type     string
	TicketID string
	// Body is the webhook body: a Payload as JSON, fixed when the event
	// was made, so every attempt sends the same bytes.
	Body      []byte
	CreatedAt time.Time
	// PublishedAt is when Q2 stored it; nil until then.
	PublishedAt *time.Time
	// DeliveredAt is when the receiver acknowledged it (or, without a
	// webhook, when the worker skipped it); nil until then.
	DeliveredAt *time.Time
	// Failed says why delivery was given up; "" unless it was.
	Failed string
}

// Payload is the body of a webhook.
type Payload struct {
	// ID is the event's id; a receiver that sees an id again has seen the
	// event before.
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	// Ticket is the ticket after the change: whole for handoff.created;
	// without Turns and Messages for the other types, which say what
	// changed.
	Ticket Ticket `json:"ticket"`
	// Message is the user's message of a handoff.message.
	Message *Turn `json:"message,omitempty"`
}

// EventMark records what happened to an event; zero fields change
// nothing. Published replaces the time of an earlier publish (the last
// publish counts for RepublishAfter); Delivered keeps the first.
type EventMark struct {
	Published *time.Time
	Delivered *time.Time
	Failed    string
}

// Store keeps tickets and their events. Implementations are safe for
// concurrent use and atomic per method; OpenSQLite and OpenPostgres
// return the two of this package.
type Store interface {
	// Create stores t and its first event in one transaction unless t's
	// session already has an active (open or claimed) ticket: then it
	// stores nothing and returns that ticket with created false.
	Create(ctx context.Context, t Ticket, ev Event) (stored Ticket, created bool, err error)
	// Get returns a ticket by id; ErrNotFound when there is none.
	Get(ctx context.Context, id string) (Ticket, error)
	// Active returns the session's open or claimed ticket; ErrNotFound
	// when it has none.
	Active(ctx context.Context, tenant, session string) (Ticket, error)
	// List returns the tickets f selects: active ones first, by priority
	// (highest first) then age (oldest first), then resolved ones, the
	// most recently resolved first.
	List(ctx context.Context, f Filter) ([]Ticket, error)
	// Update applies fn to the ticket under the store's write lock and
	// stores the result together with the event fn returns, if any, in
	// one transaction. An error from fn aborts and is returned as is;
	// ErrNotFound when there is no such ticket.
	Update(ctx context.Context, id string, fn func(*Ticket) (*Event, error)) (Ticket, error)
	// Event returns an event by id; ErrNotFound when there is none.
	Event(ctx context.Context, id string) (Event, error)
	// MarkEvent records m on the event.
	MarkEvent(ctx context.Context, id string, m EventMark) error
	// Pending returns, oldest first, up to limit events neither
	// delivered nor given up that were not published and were made
	// before unpublished, or were published before published.
	Pending(ctx context.Context, unpublished, published time.Time, limit int) ([]Event, error)
}

// eventID is the id of the event of a ticket's version.
func eventID(ticketID string, version int64) string {
	return ticketID + "." + strconv.FormatInt(version, 10)
}

// newEvent makes the event of t's current version.
func newEvent(typ string, t Ticket, msg *Turn) (Event, error) {
	p := Payload{ID: eventID(t.ID, t.Version), Type: typ, CreatedAt: t.UpdatedAt, Ticket: t, Message: msg}
	if typ != EventCreated {
		p.Ticket.Turns, p.Ticket.Messages = nil, nil
	}
	body, err := json.Marshal(&p)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: p.ID, Type: typ, TicketID: t.ID, Body: body, CreatedAt: t.UpdatedAt}, nil
}
