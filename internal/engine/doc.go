// Package engine runs agents: for each turn of a conversation it calls the
// model, runs the tools the model asks for under a budget, follows
// handoffs between agents, and stores the turn in the session store.
//
// # A run
//
// Run takes one user message for a session. It takes the session's writer
// lease (a second turn of the same session waits for the first; it never
// aborts it), renews it while the turn runs, loads the session's summary,
// pinned facts and the turns stored after the summary, and builds each
// model call's prompt with the agent's ctxwindow.Manager (see "Context"
// below): the agent's instructions, the notice that tool results are data
// (tool.DataNotice), the facts block and the summary, the user's shared
// state, and notes about tools that are unavailable or a budget that is
// spent; then the newest turns that fit and the turn so far. It
// calls the model (streaming when asked, emitting message.delta events)
// until the model answers without tool calls. Tool calls go to a
// tool.Runner, which enforces the per-request budget, the run-local cache,
// circuit breakers, parallelism and result caps; transfer_to_AGENT calls
// switch the agent (its instructions and tools from the next call on, the
// history kept, the budget carried over), escalate_to_human ends the run
// as handed off, and update_user_state writes the shared user state.
//
// Limits never produce an error page. When the tool budget is spent, or
// the last model call that MaxTurns allows comes, the model is called once
// more without tools and told to answer from what it has; the run is
// partial (Reason tool_budget_exhausted or max_turns) and the budget alert
// is counted. No run executes more than MaxToolCalls tool calls. A model
// failure (after the router's failover) is a failed Result and stores
// nothing, so a client may retry with the same RunID.
//
// The turn is stored as one unit: the user message, every assistant
// message with tool calls, every tool result and the answer. Its ID is the
// RunID, so a retried run is never stored twice, and a RunID the session
// already has is answered from the stored turn without running.
//
// # Model choice
//
// Each turn's model is chosen per agent. The agent's intent classifier
// (internal/intent; Agent.Intent) classifies the user's message, cached
// per (tenant, session, turn), and the agent's model policy
// (internal/modelpolicy; Agent.Routing, whose small and large models
// default to SimpleModel and Model) chooses from its complexity, the
// request's Tier, Load, BudgetSoft and Models, the time, and how the
// previous turn went: a turn after a smaller model's answer that had a
// failed tool call, was unsure (the engine's fallback reply, a tool-budget
// or max-turns limit reached, or an answer saying it could not help or
// did not understand) or that the user repeats, goes to the large model.
// The process keeps nothing per session for this: the previous turn's
// outcome is read from the stored turn, and its model, which turns do not
// store, is taken to be the one its agent's policy gives its message by
// itself (so a conversation whose answers keep failing stays on the large
// model). Every model call of the agent in the turn uses the chosen model;
// after a handoff the receiving agent's policy chooses again. Each choice
// is a model.chosen event, the answering agent's is Result.ModelChoice,
// and a ChoiceObserver (RoutingMetrics) counts them by agent, model and
// reason.
//
// # Usage
//
// With Config.Usage (the usage ledger's Publisher) a run hands it, without
// waiting on anything, one ledger.KindCall record per model call (tenant,
// tier, user, session, agent, intent, model, endpoint, tokens, cost,
// latency, outcome), one for its classifier's model stage if that was
// asked, and one ledger.KindRun record when it produced a Result
// (status, latency, the calls' totals). The summary calls of Q2's
// summary worker are recorded with intent "summary". Nothing is written
// to a database or a queue on the request path for usage.
//
// # Tool results
//
// Config.ToolResultFilter, when set, rewrites every tool result before a
// model sees it (the prompt filter's quarantine of indirect injections);
// the session stores the rewritten result, so later turns never carry the
// original.
//
// # Context
//
// Each agent's Context policy (ctxwindow.Policy) bounds every model call:
// at most RecentTurns stored turns within MaxTokens (older turns lose
// their tool calls, then go), never a tool result without its call, never
// more than ContextLimit-ReplyTokens (a turn that cannot fit fails with a
// context_length_exceeded error before anything is sent). Once a turn is
// stored, the turns that left the window are due for the running summary:
// the run publishes a summary job on SummarySubject(tenant) and returns;
// HandleSummaryMessage, run by any node's Q2 worker, has the agent's
// SimpleModel fold them into the summary (capped at SummaryTokens) and
// pins their facts. A run never waits for a summary: it uses the latest
// one and every turn stored after it. The session's pinned facts (order
// numbers, amounts, emails, … from user messages and configured tool
// result fields) go into every call ahead of the summary, so that no
// summary can lose them; Session shows them. Without a Publisher, or with
// a store that keeps no summaries, windows hold the newest turns within
// the budget and facts are still pinned from the turns loaded.
//
// # Which agent answers
//
// A session records the agent that answered its last turn. When a handoff
// gave the conversation to an agent reachable (through handoffs) from the
// one the client addresses, that agent keeps answering: a client that
// talks to "support" keeps talking to the after-sales agent support handed
// it to. Addressing an agent that could not have handed off to the owner
// starts with the addressed agent.
//
// # Shared user state
//
// A user's state is one JSON object per (tenant, user), shared by every
// agent: it goes into the system prompt ("What we know about this user"),
// agents write facts into it with update_user_state, and after every
// stored turn the engine records last_agent, last_seen and recent_orders
// (the last 5 order numbers named in tool-call arguments). Every write is
// a read-modify-write through store.UpdateUser: a compare-and-set on the
// state's version, retried with jittered back-off, so concurrent writers
// (two agents, two nodes) never lose each other's keys. Writes to one user
// are linearizable; a run reads the state once at its start, so what a
// run shows the model may be one concurrent write old. The document is
// capped at MaxUserStateBytes.
//
// # Async runs
//
// Submit stores a queued run record and publishes it on a JetStream work
// queue (RunSubject); HandleRunMessage, run by any node's queue worker,
// executes it and records the result, and posts a signed webhook when the
// request asked for one. Delivery is at least once; the handler is
// idempotent through the run record's status and the turn's idempotency
// key.
//
// # Memory
//
// The engine keeps nothing per session or per user between runs: sessions,
// summaries, pinned facts, user state and run records live in the store,
// so an idle conversation costs the process nothing. An in-flight run
// holds the turns after the summary (at most MaxPendingTurns), its facts,
// the messages of its turn and a lease renewal timer (not a goroutine),
// which is what lets thousands of runs wait on the model at once. The
// process-wide caches of token counts and extracted facts are bounded.
package engine
