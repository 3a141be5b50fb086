// Package tokenizer counts tokens the way a model family's tokenizer does, so
// that usage, context windows and token rate limits agree with what a real
// endpoint would bill.
//
// Encodings come from tiktoken-go with its offline loader: nothing is ever
// fetched from the network. o200k_base is used for the gpt-4o, gpt-4.1,
// gpt-4.5, gpt-5 and o-series families, for floodgate's simulated models
// (large, small) and for any name it does not recognise; cl100k_base for
// gpt-4 and gpt-3.5. Non-OpenAI families (llama, qwen, mistral, mixtral,
// gemma, phi, deepseek, claude, …) ship their own tokenizers, which are not
// available offline; cl100k_base is used for them as an approximation (it is
// usually within ~10–15 % of those vocabularies on English text).
//
// An encoding is loaded lazily, once per process, on the first Count that
// needs it (o200k_base is a 3.6 MB rank file and takes a noticeable fraction
// of a second to load). Counting runs BPE over a regexp2 pre-tokeniser, which
// is slow, so every Counter keeps a bounded cache from text to count: load
// tests and agents resend the same system prompts, tool declarations and
// history turns on every call. A text not seen before is counted piece by
// piece through the same cache, which is exact because both encodings'
// pre-tokenisers split before every space-led word and around every run of
// digits, and turns a new message made of known words into a few dozen
// lookups; digit runs are counted without encoding (a token per three
// digits). A new tool result (JSON whose keys repeat and whose values are
// mostly numbers) thus costs lookups rather than BPE, which keeps counting
// a turn O(new tokens) with a small constant.
package tokenizer
