// Package ledger is the usage ledger: it records what every model call and
// every agent run consumed (tenant, user, agent, intent, model, endpoint,
// tokens, cost, latency, outcome) without ever writing to a database on
// the request path, stores it in SQLite (the default) or PostgreSQL, and
// answers the breakdowns finance asks for: by agent, tenant, tier, model,
// endpoint, intent, hour or day.
//
// # The path of a record
//
//	request path ──Publisher.Publish──▶ bounded buffer ──senders──▶ Q2 stream FLOODGATE_LEDGER
//	             (one channel send)     (drops counted)  (batches)   (work queue, subject usage.records)
//	Q2 ──Writer (queue.Worker, durable floodgate-ledger)──▶ one transaction per batch ──▶ usage_records
//
// Publisher.Publish copies the record into a bounded in-process buffer and
// returns: it never waits for Q2 or the database. Background senders take
// records off the buffer in batches (up to 256, as many as are waiting),
// and publish one Q2 message per batch, retrying a failed publish under
// the same message ID (JetStream de-duplicates it).
//
// When JetStream itself is unreachable, the senders keep retrying (pauses
// from 50 ms to 2 s) and the buffer fills; once it is full (16384 records
// by default, about 5 MB) Publish drops records and counts them
// (PublisherStats.Dropped, floodgate_ledger_records_total{outcome="dropped"});
// their tokens and cost still reach the Prometheus counters. The request
// path never blocks, whatever the state of Q2; a long JetStream outage
// costs ledger rows, not replies.
//
// The Writer acknowledges a message only after the transaction holding
// its records committed. While the database is down or hung (a write
// attempt is bounded by WriterConfig.WriteTimeout), each of its handlers
// retries its batch in place with a capped back-off, holding the message
// and pulling nothing new: the records wait in Q2, on disk, for as long as
// the stream keeps them (7 days). A batch redelivered after a crash or a
// lost acknowledgement is harmless: every record has an ID, the ID is the
// table's primary key, and inserts skip IDs already stored (ON CONFLICT
// DO NOTHING). Records the database refuses for their content are written
// one by one around the bad ones, which are logged and counted as
// rejected.
//
// # What the records mean
//
// A plain chat completion produces one call record. An agent run produces
// one call record per model call (RunID set, Call = 1, 2, …) and one run
// record. Tokens and cost are summed over call records only, so a run's
// totals are never counted twice; requests, latency percentiles, errors
// and degraded answers are counted over what clients saw (runs, and calls
// made outside any run) — except by model and by endpoint, where a request
// is a model call. Costs are integer nano-dollars (USD), so sums are exact.
//
// # Storage
//
// SQLite: a file of its own (DefaultPath), WAL, one writing connection.
// PostgreSQL: a pgx pool with MaxConnLifetime, MaxConnIdleTime and health
// checks, so that connections cut by a pooler or an idle time-out are
// replaced, and optionally the simple protocol for PgBouncer in
// transaction mode. The schema is created and migrated with goose
// (github.com/pressly/goose) from SQL files embedded in the binary, one set
// per dialect; on PostgreSQL under goose's table lock, so nodes starting
// together migrate once, also through a pooler.
//
// # Metrics
//
// Metrics counts cost and tokens by agent, model and tier
// (floodgate_usage_cost_usd_total, floodgate_usage_tokens_total) and the
// outcomes of records (floodgate_ledger_records_total); no label takes a
// per-user or per-tenant value.
package ledger
