// Package sim is floodgate's simulated OpenAI-compatible model provider: a
// model whose speed, price, capacity, failures and customer-service
// behaviour are known and deterministic, for demos, load tests, chaos
// drills and CI. It is a product feature (floodgate sim, and the two
// in-process endpoints of floodgate serve), not a test stub.
//
// # Wire surface
//
//	POST   /v1/chat/completions   chat completions, streamed (SSE) or not; also /chat/completions
//	GET    /v1/models             OpenAI's list shape plus input_price, cached_input_price,
//	                              output_price (USD per 1M tokens), context_window, ttft_ms,
//	                              tokens_per_second, accuracy, rpm, tpm
//	GET    /v1/models/{model}     one model, by name or alias
//	GET|POST|DELETE /sim/faults   read, replace (JSON body, see Faults) or clear the faults
//	GET|DELETE      /sim/stats    read or reset the counters (see Stats)
//
// With Config.APIKey set every route wants "Authorization: Bearer KEY" or
// "api-key: KEY", else 401 invalid_api_key. Every error is in OpenAI's shape
// {"error":{"message","type","param","code"}}: malformed JSON or a wrong
// type 400; no model, no messages or an unknown role 400; unknown model 404
// model_not_found; prompt plus max_tokens over the context window 400
// context_length_exceeded; body over MaxBodyBytes 413; rate limits 429.
//
// Responses carry an id "chatcmpl-…" (unique per response), created, the
// model name the client used (aliases are echoed), a system_fingerprint per
// model, and usage: prompt tokens are the tokenizer's CountMessages of the
// messages plus CountTools of the tools (tokenizer.For(model)); completion
// tokens are those of the content, or of the calls' names and arguments.
// When the conversation before the last user message (tools included) is at
// least 1,024 tokens, prompt_tokens_details.cached_tokens reports it rounded
// down to a multiple of 128, as if the provider had cached the prefix.
// Streams send a role chunk first, then content in word-sized pieces (or,
// for tool calls, a delta with id, type and name followed by argument
// fragments), a chunk with finish_reason, a usage chunk with no choices when
// stream_options.include_usage is set, and "data: [DONE]". n, temperature,
// response_format and other sampling options are accepted and ignored: there
// is one choice. stop sequences cut the content; max_tokens (or
// max_completion_tokens) truncates it with finish_reason "length".
//
// # Timing and capacity
//
// A response takes TTFT + completion_tokens / TokensPerSecond, plus fault
// latency, all multiplied by Config.TimeScale: non-streamed responses arrive
// whole at the end; streams send their first chunk at TTFT and pace the rest
// over the generation time. Waits end early when the client goes away, when
// a reset outage starts, or at Close. TimeScale NoDelay runs no timers at
// all. Per model, RPM and TPM (prompt plus completion tokens) are counted
// over a sliding minute in lock-free per-second buckets; over a limit the
// answer is 429 rate_limit_exceeded with type "requests" or "tokens",
// Retry-After (seconds), retry-after-ms and OpenAI's x-ratelimit-limit-*,
// x-ratelimit-remaining-* and x-ratelimit-reset-* headers, which successful
// responses carry too when a limit is set.
//
// # Faults
//
// Faults (set in Config, with SetFaults, or through /sim/faults) apply to
// one model or all: added latency, latency spikes on a fraction of calls,
// errors (500, 502, 503 or 504) on a fraction, hangs (no byte until the
// client gives up), cuts (a stream aborted after 10–90 % of its events; any
// other call's connection aborted with no response), and outages of a given
// length from the moment they are set, answered with a 503 or by dropping
// the connection ("reset"), which also cuts every stream in flight. Each
// request draws its faults from a PRNG seeded by Config.Seed and the
// request's arrival number since the faults were set, so a run with the
// same seed and arrival order meets the same faults. /sim/stats counts
// every request that reached the sim, faults included.
//
// # Behaviour
//
// Every behaviour decision draws from a PRNG seeded by a hash of
// Config.Seed, the model's name and the messages' roles, contents and tool
// calls (not their ids), so the same request always gets the same answer,
// whatever else runs concurrently; a reply is also memoized by request body.
// Decisions about the plan of a user turn are seeded by the conversation up
// to its last user message, so every step of a tool loop agrees on it.
//
// Intent. The last user message is classified by keywords (English, with
// common German, French and Spanish ones): order_status ("where is my
// order", "order status", an order number alone), shipment_tracking
// ("track", "delivery", "shipped", "parcel", "arrive", a tracking number),
// return_refund ("return", "refund", "money back", "damaged"),
// product_question ("do you have", "in stock", "price of", "recommend",
// product words, a SKU), small_talk (greetings, thanks), recall (a question
// about an earlier fact, below), summarize (below), else unknown. Order
// status and tracking are one family: a message about both is whichever
// dominates; a return takes precedence over order words. A message with two
// requests of different families (an order and a product) is mixed. A turn
// with no request of its own ("it's 100123" after a clarifying question)
// takes the previous user turn's intent, and a turn that needs an order
// number takes the most recent one the user gave. Complexity: order_status,
// shipment_tracking, small_talk and recall are simple; product_question and
// summarize standard; return_refund, unknown and mixed messages complex.
//
// Entities. Order numbers (5–9 digits, "#" allowed), tracking numbers ("1Z…"
// or 10–20 upper-case letters and digits with both), emails, phone numbers
// ("+…", "(…)", grouped digits, 10–15 digits, or 7–9 digits after "phone"),
// SKUs ([A-Z]{2,5}-\d{2,6}) and amounts with a currency ("€12.50", "12.50
// EUR", "$5").
//
// Tools. Each offered tool serves an intent by the words of its name, else
// its description: "return"/"refund" → return_refund, "track", "shipment",
// "shipping", "delivery" → shipment_tracking, "order" → order_status,
// "product", "search", "catalog", "stock", "recommend" → product_question.
// Parameters are filled by name from the entities: order_id/order_number/
// order, tracking…, email, phone, sku/product_id, query/q/search/keywords
// (the user's text without entities and filler words), reason/comment/
// description (the user's text), city (a city), quantity (1), amount and
// currency; enums take a value the text mentions, else the first. Arguments
// are always valid JSON in the schema's property order. Several order
// numbers call the tool once per number (up to 3); a mixed message calls a
// tool per request; both in one message unless parallel_tool_calls is false,
// in which case the planned calls come one per step. tool_choice "none"
// makes no calls, a named function calls that one, "required" always calls
// one (at the end of a loop, a needless one). When a required parameter
// cannot be filled the model asks for it instead ("Could you tell me your
// order number?"). With probability 1 − Accuracy[complexity] the first
// call is wrong: a sibling tool (tracking instead of status, …) or an order
// number or SKU with two digits transposed. When no offered tool serves
// the intent the model makes do with a sibling (order status for a
// tracking question and back), and failing that calls a handoff tool
// (named transfer_to_<agent>, the OpenAI Agents SDK's convention) whose
// description serves the intent; after a handoff's result the turn starts
// afresh with the tools then offered.
//
// Answers. After tool results the model answers from them: each result is
// parsed as JSON (else used as text; floodgate's data envelope
// {"type":"tool_result","data":…,"is_error":…} is unwrapped first), one
// level of nesting merged, and the
// order id, status, eta/estimated_delivery/delivery_date, carrier,
// tracking_number, amount/total/refund_amount with currency, return id,
// product name, price and in_stock/stock are quoted verbatim; lists
// (results/items/products) name up to three items. An {"error":…} or "not
// found" result gets an apology naming the id. With probability
// 1 − Accuracy[complexity] one fact is wrong in a checkable way: another
// status, a date 1–3 days off, transposed digits in an amount or price, or
// stock flipped. Without tools, order questions get "I can't look that up
// right now…" naming the order number.
//
// Wandering. After tool results, instead of answering, the model makes a
// needless call with probability Config.WanderRate (default 0.07): any
// offered tool but a handoff or an escalation to a human, called again
// with the same arguments if it was called before. Once the turn has needless calls it keeps wandering with
// probability Config.WanderContinue (default 0.75) per step, so about 1 %
// of turns go past 8 calls and a few reach 15 (never more than 32 needless
// calls). Stats count the wanders.
//
// Summaries. When the last user message, or a system/developer message
// about the conversation, asks to summarise, the model writes "Summary of
// the conversation so far:" and one sentence per user intent with its
// entities, from the user messages (and "Customer:"/"User:" lines of
// transcripts; assistant lines are skipped) and entity-bearing lines of
// system messages such as an earlier summary. Each entity is dropped with
// probability Config.SummaryLoss (default 0.5), as small models lose facts.
//
// Recall probes. Questions such as "what was the order number I gave you
// first?", "which order did I ask about last?", "how much was the refund?"
// or "what is my email?" are answered with the first (or, when "last" is
// asked, the last) entity of that kind in the messages the request carries,
// system prompt included; with none: "I'm sorry, I don't have that
// information." This is how floodgate measures whether context management
// lost a fact.
//
// Small talk and unknown requests get short friendly replies chosen by the
// PRNG. All texts are 20–120 tokens long, since length drives timing and
// cost.
package sim
