package ring

import (
	"math"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
)

// view is an immutable snapshot of the members, swapped whole when they
// change, so that lookups take no lock. Only the per-node counters move.
type view struct {
	nodes []node         // sorted by id
	byID  map[string]int // id → index in nodes
	self  int            // index of this node
}

// node is a member with what placement needs precomputed.
type node struct {
	m    Member
	u    *url.URL // m.URL parsed; nil for a single-member ring's self
	seed uint64   // hash of the id: the member's rendezvous salt
	// pending counts the sessions this node placed here since the view
	// was built, so that a burst of new sessions between two heartbeats
	// sees the load it adds.
	pending atomic.Int64
	// suspect is the Unix ns until which this node does not place new
	// sessions here nor dial it; shared by every view naming the member.
	suspect *atomic.Int64
}

// newView builds the snapshot of members, which must include self. suspect
// returns the shared suspicion cell of a member id.
func newView(members []Member, self string, suspect func(id string) *atomic.Int64) *view {
	members = slices.Clone(members)
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	members = slices.CompactFunc(members, func(a, b Member) bool { return a.ID == b.ID })
	v := &view{nodes: make([]node, len(members)), byID: make(map[string]int, len(members)), self: -1}
	for i, m := range members {
		n := &v.nodes[i]
		n.m, n.seed, n.suspect = m, xxhash.Sum64String(m.ID), suspect(m.ID)
		n.u, _ = parseBaseURL(m.URL) // checked by decodeMember and Config
		v.byID[m.ID] = i
		if m.ID == self {
			v.self = i
		}
	}
	return v
}

// members returns a copy of the members.
func (v *view) members() []Member {
	out := make([]Member, len(v.nodes))
	for i := range v.nodes {
		out[i] = v.nodes[i].m
	}
	return out
}

// sameMembers reports whether v and w list the same ids.
func (v *view) sameMembers(w *view) bool {
	if len(v.nodes) != len(w.nodes) {
		return false
	}
	for i := range v.nodes {
		if v.nodes[i].m.ID != w.nodes[i].m.ID {
			return false
		}
	}
	return true
}

// suspected reports whether node i is suspected at now (Unix ns).
func (v *view) suspected(i int, now int64) bool {
	return i != v.self && v.nodes[i].suspect.Load() > now
}

// place returns the index of the member a new session with key hash h goes
// to: the highest rendezvous score among the unsuspected members whose load
// is under ⌈c·(L+1)/n⌉. Self is never suspected, so there is always one.
func (v *view) place(h uint64, c float64, now int64) int {
	var total, n int64
	for i := range v.nodes {
		if !v.suspected(i, now) {
			total += v.nodes[i].m.Load + v.nodes[i].pending.Load()
			n++
		}
	}
	// The least loaded candidate is always under the bound (its load is
	// at most L/n < c·(L+1)/n), so some member qualifies.
	limit := int64(math.Ceil(c * float64(total+1) / float64(n)))
	best, bestScore := v.self, uint64(0)
	found := false
	for i := range v.nodes {
		nd := &v.nodes[i]
		if v.suspected(i, now) || nd.m.Load+nd.pending.Load() >= limit {
			continue
		}
		if s := score(h, nd.seed); !found || s > bestScore {
			best, bestScore, found = i, s, true
		}
	}
	return best
}

// score is the rendezvous weight of a key on a member: the splitmix64
// finaliser of the key's hash salted with the member's, which makes the
// weights of one key on different members independent.
func score(h, seed uint64) uint64 {
	x := h ^ seed
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
