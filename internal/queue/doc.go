// Package queue is Q2: durable background work on NATS JetStream, the work
// that must not block a reply and must not be lost (async agent runs and
// usage records now; summaries and handoff tickets later).
//
// # Two modes, one code path
//
// With Config.URL empty, Open starts a NATS server inside the process with
// JetStream on local disk (Config.DataDir) and connects to it in-process,
// without a TCP port unless Config.Listen asks for one. With Config.URL set,
// Open connects to an external NATS server or cluster instead. Everything
// after the connection — streams, publishing, consumers, acks — is the same
// client code against the same protocol in both modes.
//
// # Delivery: at least once
//
// Publish returns only after JetStream has stored the message: written to
// the server's files, which survives the crash of any process; like the
// NATS server's default, the files are synced to the disk periodically
// rather than on every message, so a power loss of the machine can lose
// the last moments of a non-replicated stream. A message ID
// given to Publish is sent as Nats-Msg-Id, so a publish retried inside the
// stream's de-duplication window (StreamConfig.Duplicates) is stored once.
//
// A Worker acknowledges a message only after its Handler returned nil. A
// handler error, a panic, a crash of the process or a lost connection all
// lead to the message being delivered again — possibly to another process,
// possibly after the handler's side effects already happened. Handlers must
// therefore be idempotent, keyed on Msg.ID: record the ID together with the
// effect (in the same store transaction, or by a conditional write) and
// treat a message whose ID is already recorded as done. Example_idempotent
// shows the pattern.
//
// A message that fails MaxDeliver times is terminated (removed from a
// work-queue stream) and handed to ConsumerConfig.OnDeadLetter; it is never
// retried forever.
//
// # Concurrency
//
// A Queue is safe for concurrent use; Publish may be called from any number
// of goroutines. A Worker runs at most ConsumerConfig.Concurrency handlers at
// once and pulls no more messages than it has free handler slots, so nothing
// waits unacknowledged in a client buffer while its ack timer runs. Workers
// in several processes that share a durable name share the work.
package queue
