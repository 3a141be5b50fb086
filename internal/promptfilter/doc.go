// Package promptfilter detects prompt injection in the text an agent is
// given — user messages (direct injection) and tool results (indirect
// injection) — and applies each tenant's policy: block, flag or sanitise
// user input; quarantine, block or flag tool results.
//
// # Detection
//
// The Detector scores a text in three steps, all in-process, with no
// allocation per word and no regular expressions:
//
//  1. Normalise. Unicode compatibility decomposition (the mapping of NFKC:
//     fullwidth and mathematical letters, ligatures) with accents dropped
//     and case folded; invisible characters (zero-width space and joiners,
//     BOM, soft hyphen, bidi controls) removed; Unicode tag characters
//     read as the ASCII they hide; look-alike letters of other scripts
//     (Unicode TR39 confusables: Cyrillic "о", Greek "ο", small capitals)
//     read as Latin; leetspeak ("1gn0r3"), spaced-out letters
//     ("i g n o r e", "D*A*N"), camelCase and words run together or
//     compounded ("Systemanweisungen") split.
//  2. Read. Every word gets its concepts from a multilingual lexicon
//     (English, German, French, Spanish, Italian, Portuguese and Dutch,
//     some Polish, Russian and Chinese): IGNORE, INSTRUCTIONS, PRIOR,
//     YOUR, REVEAL, PROMPT, PERSONA… Rules are short sequences of
//     concepts within a sentence ("IGNORE … PRIOR|YOUR … INSTRUCTIONS"),
//     each with a weight and a category (Category), lowered by vetoes for
//     the ordinary uses of the same words: the writer's own ("ignore my
//     previous message"), instructions of ordinary things ("the delivery
//     instructions", "instructions de lavage"). Structural checks find
//     delimiter injection: chat-template tokens (<|im_start|>, [INST]),
//     role turns written as text ("SYSTEM:", "### Assistant"), role tags,
//     JSON messages with a system role, Markdown images that exfiltrate.
//  3. Decode. Base64, hex, binary and \u segments that decode to readable
//     text, and percent escapes, HTML entities, ROT13 and reversed text
//     (the last two when the text names a decoding), are decoded and
//     scanned again, to a depth of two.
//
// A Result's Score combines the hits' weights (1 − Π(1 − w)); a text
// scoring at least its tenant's threshold (DefaultThreshold, 0.5) is an
// injection. Text from a tool is read as data: words that hail the model
// ("Assistant, …", "note to AI") weigh more there than from a user.
//
// The corpus in testdata/corpus (injections and ordinary customer-service
// messages in seven languages, direct and indirect, plain and encoded)
// measures the rules: see TestCorpus, which holds recall ≥ 95 % and a
// false-positive rate ≤ 1 %, and BenchmarkScan for the added latency.
//
// # Limits
//
// A scan reads at most Config.MaxScanBytes (32 KiB) of a text: a longer
// text is scanned in its first three quarters and last quarter of that,
// and Result.Truncated is set. Decoding is bounded to 12 segments and the
// same number of bytes per scan. Scans never fail and never panic on any
// input (fuzzed); their time is linear in the bytes scanned.
//
// # Classifier stage
//
// Rules are sure of little between "obviously an injection" and "obviously
// not". When a GuardConfig.Model is set, a text whose score falls in the
// uncertain band [Low, High) is classified by that model through a
// Completer (the router, so the guard model is any configured
// OpenAI-compatible endpoint), under a time-out and a cap on calls in
// flight; a failure applies the fail policy (open: the rule verdict
// stands; closed: treat as injection).
//
// # Using it
//
// The gateway calls Filter.Check once per request with the tenant and the
// request's messages, and answers Verdict.Err() (OpenAI's error shape,
// code content_filter, status 400) when Verdict.Blocked, or forwards
// Verdict.Messages (sanitised or quarantined copies where the policy says
// so). The engine calls Filter.CheckToolResult on every tool result of a
// run and passes ToolVerdict.Content to the model: a quarantined result is
// a JSON object that quotes the neutralised text as data under a notice.
package promptfilter
