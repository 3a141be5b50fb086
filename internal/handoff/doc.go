// Package handoff hands conversations to people: a rung of the
// degradation ladder, and the path of the built-in escalate_to_human tool.
// It files a ticket per handed-off session, holds the session while the
// ticket is open (the user's messages go to the ticket and get an
// acknowledgement, not a model's answer), gives the session back to the
// agent when a person resolves the ticket, and tells the help desk about
// every change through an HMAC-signed webhook that survives restarts.
//
// # Tickets
//
// A Ticket carries what a person needs to take over: tenant, session,
// user, agent, reason, priority (from the caller: the tenant's tier and
// the urgency), the conversation's summary, its pinned facts, its last
// turns in compact form (CompactTurns), and the messages the user sent
// since. It moves open → claimed → resolved (or open → resolved); a
// session has at most one open or claimed ticket, which the store
// enforces with a unique index, so Open is idempotent per session even
// across nodes.
//
// The engine calls Open (file, or find the session's ticket), ActiveFor
// (is the session handed off? one indexed read per message), Append (a
// user's message while handed off; returns the acknowledgement) and Ack.
// People call the admin API (Handler): list, claim, resolve. Resolve
// calls Config.OnResolved, after which ActiveFor reports the session as
// the agent's again.
//
// # Durability: outbox, Q2, idempotent webhook
//
// Every change stores the ticket and an Event (the webhook's body, fixed
// then) in one transaction, then publishes the event on Q2 with its id as
// the message id. A process that dies after storing and before
// publishing leaves the event unpublished in the store, and Run (on any
// node) publishes it again; one that dies after publishing leaves the
// message in JetStream, which delivers it to the next worker. The
// worker's handler (HandleMessage) posts the webhook and records the
// event delivered; it skips events already recorded, so redeliveries do
// not post again. The only window left is a crash between a post and its
// record: the event is then posted again with the same DeliveryHeader,
// by which receivers de-duplicate, so each event takes effect once.
// Failures are retried with exponential back-off by JetStream
// redelivery (DefaultBackoff, DefaultMaxDeliver attempts); a receiver's
// 4xx refusal and the last failed attempt give the event up, recorded on
// the event.
//
// Webhooks are signed as the engine signs async-run webhooks
// (SignatureHeader: "t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">");
// Verify checks a signature as a receiver should.
//
// # Stores
//
// SQLStore implements Store over SQLite (OpenSQLite: the embedded
// default, pure Go) and PostgreSQL (OpenPostgres: pgx); both pass the same
// contract tests. Ticket documents are JSON with their status, priority
// and times in indexed columns.
//
// Service, SQLStore and Handler are safe for concurrent use; Run owns one
// goroutine until its context ends.
package handoff
