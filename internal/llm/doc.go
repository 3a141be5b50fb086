// Package llm is floodgate's shared vocabulary: the chat-completion request,
// response and stream chunk in the OpenAI Chat Completions wire format, the
// messages and tool calls inside them, token usage, and the typed error that
// every layer uses to say what went wrong and whether another endpoint may
// succeed.
//
// The types marshal to and from the OpenAI wire format directly, so the
// gateway decodes a client's body into a Request, the router hands the same
// value to a provider, and the provider encodes it upstream without an
// intermediate copy. Fields that the wire format allows in two shapes (a
// message's content as a string or as parts, stop as a string or a list, a
// tool choice as a string or an object) have types here that accept both and
// write back the shape they were given.
//
// The package also owns the JSON codec of these types (DecodeRequest,
// ChunkDecoder, DecodeResponse, AppendRequest, AppendChunk, AppendResponse,
// AppendErrorBody), written by hand because encoding/json cost 11–14 µs and
// ~50 allocations per request decode and ~2 µs per stream chunk, a large
// part of the 2-core budget for 10,000 req/s, and because its errors cannot
// name the indexed path a client needs ("messages[2].content"). encoding/json
// stays the reference: the codec produces the same values and the same bytes
// (HTML escaping off), which differential fuzz targets check, and the types'
// MarshalJSON and UnmarshalJSON methods keep working for everyone else.
//
// The package imports nothing but the standard library; every other package
// may import it.
package llm
