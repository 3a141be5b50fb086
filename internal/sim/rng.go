package sim

import (
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Salts separate the random streams of independent decisions, so that one
// decision drawing more or fewer numbers never shifts another.
const (
	saltPlan uint64 = iota + 0x9e3779b97f4a7c15
	saltWander
	saltAnswer
	saltPhrase
	saltSummary
	saltIDs
	saltFault
	saltFaultSeed
)

// rng is a small deterministic generator; the zero value is not seeded.
// It lives on the stack: no allocation per decision.
type rng struct{ p rand.PCG }

func newRNG(seed, salt uint64) rng {
	var r rng
	r.p.Seed(seed, mix(seed^salt))
	return r
}

func (r *rng) uint64() uint64 { return r.p.Uint64() }

// float64 returns a number in [0, 1).
func (r *rng) float64() float64 { return float64(r.p.Uint64()>>11) / (1 << 53) }

// chance returns true with probability p.
func (r *rng) chance(p float64) bool { return p > 0 && r.float64() < p }

// intn returns a number in [0, n); n must be positive.
func (r *rng) intn(n int) int { return int(r.p.Uint64() % uint64(n)) }

// pick returns one of the strings.
func (r *rng) pick(s []string) string { return s[r.intn(len(s))] }

// mix is splitmix64's finaliser: a cheap, good 64-bit mixer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// convHashes are the behaviour seeds of one request: full covers every
// message, turn covers the messages up to and including the last user
// message (the seed of the turn's plan, the same at every step of a tool
// loop), and step is per assistant message after it.
type convHashes struct {
	full uint64
	turn uint64
}

var sep = []byte{0}

// hashConversation hashes the seed, the model and every message's role,
// content and tool calls (not ids: clients renumber them). lastUser is the
// index of the last user message or -1.
func hashConversation(seed uint64, model string, msgs []llm.Message, lastUser int) convHashes {
	d := xxhash.NewWithSeed(seed)
	_, _ = d.WriteString(model)
	var h convHashes
	for i := range msgs {
		m := &msgs[i]
		_, _ = d.Write(sep)
		_, _ = d.WriteString(m.Role)
		_, _ = d.Write(sep)
		if m.Content.Parts == nil {
			_, _ = d.WriteString(m.Content.Text)
		} else {
			for j := range m.Content.Parts {
				_, _ = d.WriteString(m.Content.Parts[j].Text)
			}
		}
		for j := range m.ToolCalls {
			_, _ = d.Write(sep)
			_, _ = d.WriteString(m.ToolCalls[j].Function.Name)
			_, _ = d.Write(sep)
			_, _ = d.WriteString(m.ToolCalls[j].Function.Arguments)
		}
		if i == lastUser {
			h.turn = d.Sum64()
		}
	}
	h.full = d.Sum64()
	if lastUser < 0 {
		h.turn = h.full
	}
	return h
}
