// Package ratelimit decides whether a request may proceed under its rate
// limits and spend budgets, in one process or across every node sharing a
// Redis.
//
// # Rate limits
//
// A Limiter admits units (requests or tokens) under keys the caller names
// ("tenant:acme", "tier:free") by GCRA, the generic cell rate algorithm: a
// key's whole state is its theoretical arrival time (TAT), the moment its
// allowance will be full again. Taking n units moves the TAT n emission
// intervals (Period/Rate) later; a take is refused while that would put
// the TAT more than Burst intervals ahead of now. Any window of one Period
// admits fewer than Rate+Burst units, and at most Rate per Period in the
// long run. The default Burst, ⌈Rate/50⌉, keeps every window of one Period under
// 1.02 × Rate; OpenAI likewise enforces per-minute limits over shorter
// slices. A single take larger than Burst (a big token estimate) is
// admitted when its key is full and leaves the key in debt, so it is never
// refused forever.
//
// Tokens are not known before a model call, so the gateway takes the
// estimate with Allow and corrects it with Adjust once the usage is known:
// a refund never makes a key fuller than full, a charge may put it into
// debt that delays its next request.
//
// Allow consults several asks at once (requests and tokens, of the tenant
// and of its tier) and admits all or none, atomically: a batch refused by
// one ask takes nothing from the others.
//
// A Decision carries what OpenAI's x-ratelimit-* headers report; its
// SetHeaders writes them, and Retry-After when refused.
//
// # Backends
//
// Without Redis, state lives in process, in sharded maps behind per-shard
// mutexes: no lock is shared by all keys. With Redis every Allow or Adjust
// is one Lua script run over all its keys (one round trip, atomic), on
// Redis's clock (TIME), so all nodes enforce one limit and no node's clock
// matters. A rate key is Prefix+"rl:r:"+key (requests) or Prefix+"rl:t:"+
// key (tokens) and expires when its allowance is full again. On Redis
// Cluster a script's keys must share a slot, so New requires a Prefix with
// a hash tag ("{fg}:"), which puts all of the limiter's keys on one shard.
//
// # When Redis is unreachable
//
// Any Redis error or a call slower than Config.Timeout makes the Limiter
// fail open with a local limit: it decides in process, each node enforcing
// 1/N of every limit and budget, where N is the last number of nodes it
// was told (SetNodes, fed from the ring's live members; Config.Nodes until
// then, default 1). Dividing by N keeps the cluster as a whole near its
// limit while the load is spread evenly, as the sticky ring spreads it; a
// node that receives more than its share refuses early rather than letting
// the cluster through N times over, which is what the full limit per node
// would allow. Local limits start full at each outage. Such decisions are
// marked Local, counted by the Observer (Metrics: fallback_active,
// fallbacks_total, decisions_total{mode="local"}) and logged once per
// outage. After Config.RetryInterval one call tries Redis again; the first
// success ends the outage and every node is back on the shared state,
// which local decisions did not touch.
//
// # Spend budgets
//
// ReserveSpend judges a call against a key's budget per UTC day and per UTC
// month in micro-dollars (MicroUSD converts) and answers WithinBudget,
// SoftLimit (the gateway downgrades to the small model) or HardLimit
// (refused, nothing held). Unless refused it holds the call's estimated
// cost; SettleSpend replaces the hold by the actual cost afterwards. With
// Redis the counters are Prefix+"spend:"+key+":d:YYYY-MM-DD" and
// ":m:YYYY-MM", INCRBY'd in a Lua script and expiring an hour after their
// period ends; holds are counted in buckets of Config.ReservationTTL, so a
// hold never settled (its node died) lapses one to two TTLs after it was
// made. Periods follow the node's clock.
//
// A call is refused when spent + held + max(estimate, 1µ$) would exceed the
// hard limit, so once spend reaches the cap every later check refuses. The
// bound, across any number of nodes: every call admitted was checked
// before the cap was reached and is in flight then or already counted, so
// spend beyond the cap is at most the cost of the calls in flight when it
// was reached; with holds it is at most what those calls cost beyond
// their estimates (zero when estimates are upper bounds, as when priced
// from max_tokens).
//
// While Redis is unreachable a node checks budgets locally: the last
// cluster-wide figures Redis returned for the key plus N × what the node
// charged since, against the same limits. Charges made meanwhile, and the
// releases of holds made in Redis before the outage, are sent to Redis with
// the key's next successful check or charge (if their period or hold is
// still current), so the cluster-wide counters do not lose the outage's
// spend. The Limiter remembers those figures per key for as long as it
// lives: memory grows with the number of budget keys, not of requests. A
// script that ran although its reply timed out is counted twice, once in
// Redis and once locally: an outage errs towards refusing, never towards
// spending.
//
// Nothing here parses outside input: keys come from the gateway's
// configuration, numbers from the caller, replies from our own scripts.
package ratelimit
