// Package rules is the rules engine of the degradation ladder: it answers
// a user's message without a model, by matching the message to a rule,
// extracting the rule's arguments, calling one tool directly and rendering
// a template with the tool's result ("where is my order 100123" →
// get_order_status → "Your order 100123 is in transit (carrier DHL, …),
// expected on Nov 29, 2026.").
//
// # Rules
//
// A RuleSet is plain data with YAML tags: a file of its own per agent
// (LoadFile, Parse) or a section of the configuration (Compile). Compile
// checks and compiles everything once — regular expressions, expressions,
// templates — so a rule set that loads cannot fail to compile later, and
// answering does no parsing. Default returns the built-in rule set of the
// demo shop (default.yaml: order status, shipment tracking, the return
// policy, in English and German).
//
// # Matching
//
// Rules are tried in the order written, twice: first the rules whose
// Intents name the caller's intent (when a classifier ran; the classifier
// is authoritative), then the rules one of whose Patterns matches the
// message. A rule is chosen when, moreover, its When condition holds; the
// first chosen rule answers or fails — later rules are not tried after a
// chosen rule's tool failed, so the outcome of a message is predictable
// from the file.
//
// # Arguments
//
// Each argument is taken from the first source that yields a value: the
// first match of its Patterns in the message (the capture group named
// "value", else the first group, else the whole match), the newest pinned
// fact of its Fact kind, its Expr, its Default. A required argument that
// no source gives makes the rule ask for it (its Missing text) or, without
// a Missing text, give no answer. The tool is called with the arguments
// as a JSON object of strings.
//
// # Expressions and templates
//
// Conditions (When) and computed Values are expr-lang expressions
// (https://expr-lang.org) over Env: the message, intent, language, pinned
// facts, arguments, the tool's result (decoded JSON) and the values
// computed before. Answers are text/template templates, per language,
// whose dot is a map of the tool result's top-level fields, the computed
// values, and the reserved keys args, facts, message, intent, lang and
// result (reserved keys win over result fields of the same name). A key
// the data lacks is an error, not "<no value>": test for optional fields
// with `{{with index . "eta"}}` or choose between answers with When. The
// functions human ("in_transit" → "in transit"), date (YYYY-MM-DD in the
// answer's language: "Nov 29, 2026", "29.11.2026"), upper, lower, default
// and join are available. A rendered answer longer than MaxAnswerBytes is
// refused.
//
// # No answer
//
// Everything that does not end on a rendered answer — no rule matched, a
// required argument missing without a Missing text, the tool failing, a
// domain error without a ToolError answer, no answer variant whose
// condition holds, an expression or template failing at run time — is a
// *NoAnswer error matching ErrNoAnswer, with a Reason, so that the ladder
// moves to its next rung. Nothing in this package panics on bad input.
//
// # Tools
//
// The engine calls tools through ToolCaller, one method. RunnerTools backs
// it with a tool.Runner, so that a rule's calls go through the same
// budget, breakers and result caps as a model's; a tool's domain error
// (an HTTP 404 "order not found") reaches the rule as a *ToolError.
//
// Rules are safe for concurrent use once compiled.
package rules
