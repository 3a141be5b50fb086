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
// The generator shares the machine with what it measures, so its own cost per
// request is kept small: request bodies are encoded once before the run,
// responses are read into per-worker buffers and checked with byte scans
// rather than decoded, latencies go into sharded HDR histograms that a
// collector merges once per interval, and the open-loop scheduler waits on a
// high-resolution timer where the platform has one (Go's timers round short
// sleeps up to a millisecond, which would add that much to every latency).
package load
