// Package gateway is floodgate's OpenAI-compatible HTTP front door: it
// authenticates each request's API key to a tenant and tier, parses and
// normalises the body into an *llm.Request (validated as OpenAI's API
// validates it, with what the tier does not allow capped or removed), hands
// it to a Backend, and writes the answer, the server-sent event stream, or
// the error in OpenAI's shape.
//
// Normalize is the pure function at its heart. Server adds the routes
// (/v1/chat/completions, /v1/models, /healthz, /readyz and whatever is
// mounted with Handle), request ids, panic recovery, observation, and a
// graceful drain in Run.
//
// In a cluster (Config.Forwarder), a turn of a known session, on the run
// API or an agent chat, is routed right after authentication to the node
// that owns the session, which does everything else: prompt filter, rate
// limits, admission and the run, so that a turn is charged once. A turn
// that starts a session is served where it arrives, and the session is
// claimed for that node (Config.ClaimSession). Sessions and runs are read
// from the shared store wherever the request arrives.
package gateway
