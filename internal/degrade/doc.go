// Package degrade decides what answers when an agent's normal path
// fails: the degradation ladder, and the output checks whose failure is
// one of the ways onto it. It is a library the engine calls; it starts no
// goroutine and reads no file except the rules files its Config names.
//
// # Triggers and rungs
//
// A Trigger says why a run left the normal path (no healthy endpoint,
// deadline, budget exhausted, tool breaker open, tool budget spent,
// shed, prompt filter block, model error, output check failed). A ladder
// is an ordered list of rungs per agent (Config.Rungs), each of a Kind —
// model (another, usually smaller model), rules (the rules engine,
// internal/rules), handoff (a human-handoff ticket, internal/handoff) or
// message (a fixed friendly message per language) — and with the
// triggers it handles. For a trigger, the rungs that handle it are tried
// top to bottom; intent filters, the absence of a handoff service and a
// model rung naming the model that just failed pass a rung by. Without
// configured rungs an agent gets DefaultRungs:
//
//	model error, no healthy endpoint: small model → rules → handoff → message
//	deadline, budget exhausted, shed:  rules → message
//	tool breaker open:                 rules → handoff → message
//	tool budget spent:                 handoff → message
//	output check failed:               rules → message
//	prompt filter block:               message (a refusal, not an apology)
//
// where handoff skips order questions (intents order_status and
// shipment_tracking: the rules engine answers them).
//
// Ladder.Next answers "what next?" for a situation and the rung tried
// last; Ladder.Plan lists the whole way down.
//
// # Always an answer
//
// Ladder.Climb calls the engine's rung functions (Rungs: ModelRung,
// RulesRung, HandoffRung; RulesVia and HandoffVia adapt the rules engine
// and the handoff service) until one answers non-blank text. Message
// rungs cannot fail, and when no message rung handles the trigger the
// climb ends on the built-in apology, so Climb always returns an Outcome
// with a text and never an error: a failing, blank, slow (each rung runs
// within its Timeout) or panicking rung moves the climb on, and once the
// climb's context has ended the remaining rungs are skipped. The engine
// should therefore give Climb a context that leaves the rungs time: for
// the deadline trigger, not the run's expired context but a short grace
// period of its own (context.WithoutCancel plus a timeout).
//
// The Outcome says which rung answered and why: Status is handed_off for
// a handoff rung and degraded otherwise, Reason is the trigger (the
// Result's degraded_reason). Metrics counts every rung tried by agent,
// rung kind, trigger and outcome (answered, failed, skipped).
//
// # Output checks
//
// A Checker (NewChecker, from Config.Checks) checks a model's final
// answer before it is given: it must match a JSON Schema (structured
// outputs), must not repeat the agent's instructions (shared word
// n-grams above a threshold), must not carry e-mail addresses, phone
// numbers or order numbers found in neither the conversation, the run's
// tool results, the pinned facts, the instructions nor an allow list
// (another customer's data, or an invented one), and must mention the
// order number the user asked about when a tool returned it. Each check
// is optional; a failure is a *CheckError with a bounded reason code, on
// which the engine climbs with OutputCheckFailed. The checks are
// heuristics: a paraphrased system prompt or a phone number written in
// words passes.
//
// # Language
//
// DetectLang picks the user's language among en, de, fr, es, it, nl and
// pt by a stop-word score of the message, falling back to the tenant's
// language (or en) when the evidence is thin; message rungs and the
// handoff acknowledgements (HandoffAcks) speak all seven.
//
// Ladder and Checker are safe for concurrent use once built.
package degrade
