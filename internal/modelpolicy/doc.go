// Package modelpolicy chooses the model of each agent turn: a per-agent
// policy mapping the message's complexity (from internal/intent), the
// tenant's tier, the node's load and the time of day to a model, with an
// escalation rule that sends the turn after a failed answer of the small
// model to the large one.
//
// The post-mortem this answers: sending simple intents to the small model
// cut cost 62 % and made replies 40 % faster; free-tier users were moved to
// the small model at peak; at night 80 % of traffic was "where is my
// order", and moving those hours to the small model cut their cost 73 %.
// A policy for that:
//
//	small_model: small
//	large_model: large
//	tiers: {vip: large}
//	peak: {load: 0.8, tiers: [free]}
//	time_zone: Europe/Berlin
//	windows:
//	  - {name: night, hours: "00:00-06:00", max_complexity: standard}
//
// Choose applies its rules in a fixed order (see Choose) and returns the
// model with a Reason from a fixed set (Reasons), fit for a metric label,
// plus the window's name when a window decided. The escalation rule needs
// to know how the previous turn went (Previous): a failed tool call, an
// answer judged unsure, or a user repeating the question, which Similarity
// measures on the two user messages (character trigrams, numbers compared
// exactly) against escalation.repeat_similarity (default 0.7).
//
// A Policy is immutable and safe for concurrent use; a choice blocks on
// nothing, allocates nothing and costs about 1.5 µs of CPU when it
// compares two user messages (BenchmarkChoose), much less otherwise. Time
// zones come from the embedded tz database (time/tzdata), so a container
// image without zoneinfo loads them too.
package modelpolicy
