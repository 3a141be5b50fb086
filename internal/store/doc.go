// Package store keeps what must outlive a process: conversations (sessions
// and their turns), the shared per-user state that agents read and update,
// and the records of async runs. It declares the types and sentinel errors
// and the backend-independent UpdateUser loop; the backends live in the
// subpackages sqlite (the embedded default), redis and postgres, and all of
// them pass the one contract suite in storetest.
//
// # Sessions
//
// A Session is identified by (tenant, id). It holds its turns, oldest first,
// each turn keeping together the messages one request produced (the user
// message, assistant tool calls, their results and the final answer), so a
// window over turns never splits a tool call from its result. Seq numbers
// are 1-based, assigned by the store and contiguous. A turn's ID is an
// idempotency key: appending a turn whose ID the session already has writes
// nothing and returns the seq it got the first time, so a retried request
// does not duplicate its messages. Loads read only the turns asked for
// (the newest N, or those after a seq), never the whole history.
//
// Tenants are isolated: every method takes the tenant explicitly, and a
// session, user state or run of another tenant is reported as ErrNotFound
// (never ErrExists or ErrLeaseLost), so its existence is not revealed.
//
// # One writer per session
//
// Writes that change a conversation (AppendTurn, SetState) take a Lease,
// obtained with Acquire and given back with Release. A lease carries a
// fencing token that strictly increases per session; a write is accepted
// only while its token is the session's newest, that is, until another
// holder acquires the lease or the lease is released. A holder that dies
// loses the lease after its ttl; a holder that is slow but alive keeps the
// right to write until someone else actually takes over, and Renew extends
// the lease while nobody has. Leases are not re-entrant: Acquire blocks
// while the lease is held, whoever asks:
// waiters queue in the backend in arrival order and are served first come,
// first served (a newcomer takes a free lease at once only when nobody is
// queued); a waiter that gives up leaves the queue, and one that dies is
// dropped from it after a few seconds of silence, so nobody starves behind
// it. Release wakes the next waiter at once: directly when it waits in the
// same process, through Redis pub/sub or PostgreSQL LISTEN/NOTIFY when it
// waits in another; waiters also poll, so a lost wake-up costs at most a
// poll interval (250 ms). SQLite has no notification channel: waiters in
// other processes sharing the file find the lease free by polling.
//
// # Consistency
//
// Every method is atomic. Session writes are linearizable per session
// (fenced by the lease, versioned by Session.Version). SetSummary is a
// compare-and-set on Summary.Version so a slow summariser never overwrites
// a newer summary. User state is versioned: PutUser is a compare-and-set,
// writes to one user are linearizable, and a read may be stale by one
// concurrent write; an agent that reads then writes uses UpdateUser, which
// retries the compare-and-set with jittered backoff, so concurrent updates
// are never lost. Run records are replaced whole (PutRun) or changed by a
// read-modify-write that retries on conflict (UpdateRun).
//
// # Expiry
//
// Sessions and user state expire after a time-to-live (30 days by default)
// that slides: every write refreshes it, reads do not. An expired session
// reads as ErrNotFound and its id can be created afresh. Run records expire
// a fixed time after their last update (7 days by default). Redis expires
// keys itself (every key carries a TTL); the SQL backends filter expired
// rows on read and delete them in their reaper (Run). Deleting a session
// also drops its lease. Fencing tokens are at least the clock in
// microseconds, so they keep rising past a dropped lease or a store that
// lost its latest writes in a crash.
//
// # Memory
//
// Backends keep nothing per session in process memory: a session costs the
// process nothing between turns. What they hold is bounded by their Config
// (connection pools, SQLite's page cache) plus one small entry per Acquire
// call that is currently waiting.
package store
