// Package ring keeps each conversation on one node while that node lives:
// it tracks the live members of a cluster in Redis, assigns every session
// an owner among them, and forwards a turn that reaches another node to its
// owner over authenticated HTTP.
//
// # Membership
//
// A Ring registers its node under Prefix+"ring:{nodes}:<id>" (a JSON
// record: id, advertised URL, start time, in-flight load) with a TTL
// (default 3 s) and lists it in the sorted set Prefix+"ring:{nodes}".
// Run heartbeats every TTL/3 and re-reads the members after each heartbeat,
// on every join or leave announced on the pub/sub channel
// Prefix+"ring:events", and at the moment the earliest silent member's
// record is due to expire, so that a dead member is dropped within a few
// milliseconds of its TTL running out: between 2/3 TTL and TTL after it
// died, depending on where in its heartbeat cycle it stopped. A graceful
// leave deletes the record and announces it, and the others drop the node
// at once. A node whose record expired while it was paused comes back with
// its next heartbeat. Node ids are unique per process start, so a restarted
// node is a new member.
//
// # Placement: rendezvous hashing with a load bound
//
// A session is placed by rendezvous (highest random weight) hashing: every
// member scores the session by a 64-bit mix of the session's hash and the
// member's, and the highest score wins. Among the members whose load is
// below the bound ⌈c·(L+1)/n⌉ — L the members' total in-flight load as
// last reported (plus the placements this node made since), n the number
// of candidates, c the LoadFactor (default 1.25) — the highest score wins;
// this is the bound of Mirrokni, Thorup and Zadimoghaddam's consistent
// hashing with bounded loads. So no member is given a new session while
// its load is at or over c times the mean (plus one), and the least loaded
// member is always under the bound. The bound is as good as the loads it
// sees: reported loads are up to TTL/3 old, and each node counts only its
// own placements since; a burst spread over many entry nodes can overshoot
// it by what the others placed in the meantime. Rendezvous hashing rather than a ring of
// virtual nodes because: placement is one hash and n multiplications, with
// no table to build when members change; the spread is even without
// virtual nodes; when a member leaves only its own sessions move, and a
// joining member takes a fair share from every other; and a session that
// overflows a hot member goes to its own second choice, which differs from
// session to session, rather than piling onto the hot member's ring
// successor.
//
// # Stickiness beats balance
//
// The load bound decides only where a session without a live owner lands.
// Once placed, ownership is recorded in Redis (Prefix+"ring:owner:{tenant:
// session}", TTL OwnerTTL, default 30 min, extended by every lookup) and a
// session keeps its owner for as long as the owner is a live member,
// however loaded it becomes and whoever joins. It moves only when its owner
// dies or leaves, or cannot be reached from the node a turn arrives at
// (the next turn places it anew and claims the record with a
// compare-and-set, so that racing nodes agree), or after OwnerTTL without
// a turn. Every node
// caches the owners it has looked up for at most OwnerTTL/2 and never past
// the record's expiry, and a cached owner that has left the ring is ignored,
// so a turn usually costs no Redis round trip at all.
//
// # Forwarding
//
// A Forwarder wraps the gateway's handler: Route (or Handler, given a
// function that finds a request's tenant and session) serves a turn
// locally when this node owns its session, and otherwise proxies it to the
// owner with httputil.ReverseProxy: FlushInterval -1, so that server-sent
// events reach the client as the owner writes them, and a client that goes
// away cancels the owner's request. Each forwarded request carries
// HeaderForward (X-Floodgate-Forward): the sender's id, a timestamp and an
// HMAC-SHA256, under the secret the nodes share, over the sender, the
// receiver, the timestamp, the method, the request URI, the tenant, the
// session and the body's SHA-256. It is also the hop header: the receiver
// serves a request bearing a good one itself, whoever it thinks owns the
// session, so a request is forwarded at most once, even while two nodes
// disagree about an owner. A bad signature is refused with 401, one
// outside the replay window (default ±10 s) or already used with 403, in
// OpenAI's error shape; a request without the header is routed as usual.
//
// # When the owner is gone
//
// When the owner cannot be dialled (connection refused, dial timeout),
// Route suspects it: for one TTL this node neither dials it nor gives it
// sessions, and the session's record is replaced (compare-and-set) by its
// next placement, so the turn goes to the next owner or is served here,
// and so do the next turns, without waiting for the dead node's record to
// expire. When the connection breaks after it was made but before the
// owner answered, the turn is served here. Either way the client gets one
// answer: every forwarded request carries an Idempotency-Key (added when
// the client gave none), which the engine takes as the turn's RunID, so a
// turn the owner stored before it died is answered from the store rather
// than run again; and the session's writer lease in the store keeps a
// single writer whatever the ring believes. Ownership is an optimisation
// for locality and the first line of single-writer, never the only one. A
// connection that breaks after the owner began answering aborts the
// client's connection, as any reverse proxy must; the client retries.
//
// # Metrics
//
// Ring.Stats and Ring.Collector (floodgate_ring_*) count members, forwards,
// forward errors by reason, local fallbacks, forwards received and
// refused, owner placements, ownership moves, suspicions and Redis errors.
package ring
