// Package ctxwindow decides what of a conversation goes into each model
// call, so that prompts stay small and no fact a customer gave is ever
// lost: token counting, the window of recent turns, the running summary
// of older turns, and the session's pinned facts. A Manager applies one
// agent's Policy; it keeps nothing per session (sessions live in the
// store), so it is shared by every run of the agent.
//
// # Token counting
//
// Counts are the model's own: tiktoken's o200k_base or cl100k_base for
// OpenAI families and floodgate's simulated models, cl100k_base as a
// documented approximation for others (see package tokenizer). They are
// cached per text process-wide, and a text not seen before is counted
// piece by piece through the same cache (words, and the runs around
// digits, whose counts are arithmetic), so a message costs its hash on
// every later call and a turn costs O(new tokens) with a small constant.
//
// # The window
//
// Build lays out a model call: the system prompt (the agent's
// instructions, then the facts block, then the summary, then notes) and
// the tools always go in first, then the newest stored turns, at most
// RecentTurns, within MaxTokens, then the turn so far. When the turns do
// not all fit, the oldest lose their tool calls and results first (what
// the customer said and what the agent answered stays), then the oldest
// go. A turn's messages are split into units that go in or out whole: an
// assistant message with tool calls and exactly one result for each call,
// so no request ever carries a tool result without its call or a call
// without its result; orphans in stored history are dropped. No request
// is ever built over ContextLimit-ReplyTokens: a turn whose own tool
// results would exceed it loses its oldest tool-call groups, and one that
// cannot fit even then fails with ErrTooLarge before anything is sent.
// Property and fuzz tests check these guarantees over random histories.
//
// # Summaries, off the request path
//
// Once a turn is stored, the turns that left the window (older than the
// newest RecentTurns, or already left out for the budget) are due for the
// summary: the engine publishes a Job on Q2, keyed by session and turn
// range, and returns. A worker's Fold asks the agent's small model to fold
// those turns into the running summary, capped at SummaryTokens (over the
// cap it asks once for a shorter one, then cuts at a sentence), and writes
// summary and facts with a compare-and-set on the summary's version: jobs
// are idempotent, tolerate redelivery, races and reordering, and never
// move a summary backwards. A request never waits for a summary: it reads
// the latest one and every turn stored after it (the newest
// MaxPendingTurns when summaries lag behind).
//
// # Pinned facts
//
// Summaries lose facts: a small model "summarises away" an order number
// (the floodgate sim drops each entity with probability SummaryLoss).
// Facts are therefore kept apart from the summary, by design rather than
// by prompt. An Extractor finds them in user messages (built-in kinds:
// order numbers — 5 to 9 digits, the demo shop's are 6 from 100001 —,
// tracking numbers, amounts with a currency, dates, emails, phone numbers
// and SKUs; plus the agent's own regular expressions) and in configured
// fields of tool results (by default order_id, tracking_number, return_id
// and refund_amount with its currency). They are de-duplicated by a
// normalised key ("€12.5" and "12.50 EUR" are one amount), ordered by
// first mention, and bounded by Facts.Max, dropping the least recently
// mentioned. The facts of summarised turns are stored with the summary;
// those of the turns after it are read from the turns themselves, so a
// fact is pinned from the moment its turn is stored, whatever the queue
// does. Every model call carries them as a compact block ahead of the
// summary, so that the first order number a model reads is the first the
// customer gave. After each summary, Fold checks that every fact of the
// turns it folded is still reachable (in the facts the next request sees)
// and reports those that are not (Observer.FactsUnreachable, the
// floodgate_context_fact_misses_total metric): it only happens when
// Facts.Max is too small for a conversation.
package ctxwindow
