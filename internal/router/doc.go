// Package router picks the model endpoint for each call and fails over when
// it fails. It keeps a live table per endpoint and model (time-decayed EWMA
// latency and time to first token, error and 429 rates, in-flight requests,
// remaining capacity, price), chooses among the healthy routes of a model by
// power-of-two-choices on expected latency × load, retries a retryable
// failure on another route within the request's deadline and a retry budget,
// ejects a failing route for an exponentially growing cool-down and
// re-admits it through a single half-open probe.
//
// The request path takes no lock shared between routes: per-route state is
// atomics (EWMA writers serialise on a tiny per-route mutex; readers load
// atomics), the random source is a lock-free counter-based generator and
// the retry budget is a ring of atomic buckets.
package router
