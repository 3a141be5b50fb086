// Package tool provides the tools an agent calls and governs their use
// within one agent run: HTTP tools (a URL template, arguments validated
// against their JSON Schema before any request, time-outs, retries for
// idempotent methods only, a response size cap), MCP tools served by MCP
// servers over streamable HTTP or stdio through the official Go SDK, and the
// built-ins (escalate_to_human and the transfer_to_<agent> handoff
// declarations).
//
// A Registry holds every tool of the process and one circuit breaker per
// tool, shared by all runs. Each agent run gets a Runner from it, which
// enforces the run's governance: a call budget counted over the whole run
// (every call the model makes counts, answered from the cache or not, so a
// loop of identical calls ends at the budget and no run executes more than
// Limits.MaxCalls), a run-local cache of results keyed by tool and
// canonicalised arguments, bounded parallelism for the calls of one model
// turn, tools with an open breaker hidden from the model with a note saying
// why, and results capped and wrapped in a JSON envelope that marks them as
// data (see DataNotice) before they reach the model.
//
// Errors: Tool.Call returns a Result for everything the model should see
// and act on (including domain errors such as "order not found") and an
// error only when the tool itself failed; the failure counts against the
// tool's breaker. Errors matching ErrInvalidArguments (the arguments did
// not fit the schema; nothing was sent) and cancellations of the run itself
// do not.
//
// The request path takes no lock shared between runs except inside the
// breaker library when a call starts and ends: Offer reads each breaker's
// state from an atomic, and a Runner's own state is guarded by its own
// mutex.
package tool
