// Package load generates HTTP load against an OpenAI-compatible chat
// completions endpoint and reports what it measured: it is the engine behind
// `floodgate load` (and, later, the chaos runner).
//
// Two ways to drive the target:
//
//   - Open loop (Config.Rate > 0): a single scheduler starts requests at fixed
//     intervals of 1/Rate, whatever the target does. Latency is measured from
//     each request's scheduled start, not from the moment it was actually
//     sent, so a generator or target that falls behind shows up as latency
//     instead of silently sending fewer requests (the coordinated-omission
//     correction). Requests beyond Config.MaxInFlight outstanding are counted
//     as dropped rather than queued.
//   - Closed loop (Config.Rate == 0): Config.Concurrency workers each send a
//     request, read the answer, record it and send the next.
//
// What the report breaks down, for an overload test of a tiered gateway:
//
//   - Per key: Config.Keys is a mix of API keys (tenants or tiers) with
//     weights; each start gets one, picked from Config.Seed and its
//     sequence number alone, so a seed always yields the same mix.
//     Report.Keys has one LabelStats per key label, beside Report.Labels
//     per scenario label.
//   - Per label: requests, OK, degraded, rejected (429, with the
//     Retry-After observed), 5xx, timeouts and every error by status or
//     class; latency percentiles of the OK answers and "wait" percentiles of
//     every request however it ended, whose max is what to hold against a
//     tier's deadline.
//   - Degraded answers: an OK answer is degraded when it carries a
//     non-empty X-Floodgate-Degraded header (its value is the reason:
//     shed, expired, budget...), an X-Floodgate-Run-Status of "degraded",
//     or, not streamed, a JSON body whose run "status" is "degraded".
//   - Timeouts: a request the client cut at Config.Timeout is
//     ClassTimeout, never confused with an HTTP error such as a 504.
//
// Config.Agent sends the default prompts to the agent run API instead of
// chat completions.
//
// The generator shares the machine with what it measures, so its own cost per
// request is kept small: request bodies are encoded once before the run,
// responses are read into per-worker buffers and checked with byte scans
// rather than decoded, latencies go into sharded HDR histograms that a
// collector merges once per interval (the per-label breakdown is the
// collector's work too: a worker only appends its outcome to its shard's
// list), and the open-loop scheduler waits on a high-resolution timer where
// the platform has one (Go's timers round short sleeps up to a millisecond,
// which would add that much to every latency).
package load
