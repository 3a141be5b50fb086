package ring

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testView is a view of n members "n0".."n<n-1>" (self n0) with the given
// reported loads, none suspected unless suspect says so.
func testView(n int, loads []int64, suspect map[string]int64) *view {
	members := make([]Member, n)
	for i := range members {
		members[i] = Member{ID: fmt.Sprintf("n%d", i), URL: "http://127.0.0.1:1"}
		if i < len(loads) {
			members[i].Load = loads[i]
		}
	}
	return newView(members, "n0", func(id string) *atomic.Int64 {
		c := new(atomic.Int64)
		c.Store(suspect[id])
		return c
	})
}

func keyHash(i int) uint64 {
	return xxhash.Sum64(appendTag(nil, "tenant", fmt.Sprintf("session-%d", i)))
}

// TestPlaceDistribution: with no load, hashing alone spreads sessions
// evenly: every member within 5 % of its fair share.
func TestPlaceDistribution(t *testing.T) {
	const members, keys = 6, 60000
	v := testView(members, nil, nil)
	counts := make([]int, members)
	for i := range keys {
		counts[v.place(keyHash(i), DefaultLoadFactor, 0)]++
	}
	fair := float64(keys) / members
	for i, c := range counts {
		assert.InDelta(t, fair, c, fair*0.05, "member n%d", i)
	}
	t.Logf("sessions per member (fair %.0f): %v", fair, counts)
}

// TestPlaceBoundedLoad: counting each placement as load, no member ever
// receives a session while at or over ⌈c·(L+1)/n⌉, so the most loaded
// ends at most at the bound of the total.
func TestPlaceBoundedLoad(t *testing.T) {
	tests := []struct {
		name  string
		c     float64
		loads []int64
	}{
		{name: "even start c=1.25", c: 1.25},
		{name: "even start c=1.05", c: 1.05},
		{name: "one hot member", c: 1.25, loads: []int64{0, 0, 3000, 0, 0}},
		{name: "skewed", c: 1.5, loads: []int64{100, 700, 50, 0, 400}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const members, keys = 5, 20000
			v := testView(members, tt.loads, nil)
			load := func(i int) int64 { return v.nodes[i].m.Load + v.nodes[i].pending.Load() }
			total := int64(0)
			for i := range members {
				total += load(i)
			}
			for k := range keys {
				limit := int64(math.Ceil(tt.c * float64(total+1) / members))
				i := v.place(keyHash(k), tt.c, 0)
				if load(i) >= limit {
					t.Fatalf("key %d placed on n%d at load %d, bound %d", k, i, load(i), limit)
				}
				v.nodes[i].pending.Add(1)
				total++
			}
			var most int64
			for i := range members {
				most = max(most, load(i))
			}
			bound := int64(math.Ceil(tt.c * float64(total) / members))
			assert.LessOrEqual(t, most, bound)
			t.Logf("most loaded %d, mean %.0f, bound %d", most, float64(total)/members, bound)
		})
	}
}

// TestPlaceMinimalMovement: with hashing alone, a member joining takes
// about 1/n of the sessions, all of them from the others to itself, and a
// member leaving moves only its own.
func TestPlaceMinimalMovement(t *testing.T) {
	const keys = 50000
	five, six := testView(5, nil, nil), testView(6, nil, nil)
	joined, left := 0, 0
	for k := range keys {
		h := keyHash(k)
		a, b := five.place(h, DefaultLoadFactor, 0), six.place(h, DefaultLoadFactor, 0)
		was, is := five.nodes[a].m.ID, six.nodes[b].m.ID
		if was != is {
			joined++
			if is != "n5" {
				t.Fatalf("key %d moved from %s to %s, not to the new member", k, was, is)
			}
		}
		// Leaving: six → five; only n5's sessions may move.
		if is == "n5" {
			left++
		} else if was != is {
			t.Fatalf("key %d of surviving %s moved to %s", k, is, was)
		}
	}
	frac := float64(joined) / keys
	assert.InDelta(t, 1.0/6, frac, 0.01)
	assert.Equal(t, joined, left)
	t.Logf("a 6th member took %.2f%% of the sessions (ideal %.2f%%)", 100*frac, 100.0/6)
}

// TestPlaceMovementUnderBound: with the load bound in play (placements
// counted as load), a joining member still moves only a little more than
// its share.
func TestPlaceMovementUnderBound(t *testing.T) {
	const keys = 20000
	place := func(v *view) []string {
		out := make([]string, keys)
		for k := range keys {
			i := v.place(keyHash(k), DefaultLoadFactor, 0)
			v.nodes[i].pending.Add(1)
			out[k] = v.nodes[i].m.ID
		}
		return out
	}
	before, after := place(testView(5, nil, nil)), place(testView(6, nil, nil))
	moved := 0
	for k := range keys {
		if before[k] != after[k] {
			moved++
		}
	}
	frac := float64(moved) / keys
	assert.Less(t, frac, 0.30, "far more than 1/6 moved")
	t.Logf("with the load bound, a 6th member moved %.2f%% of the sessions (ideal %.2f%%)", 100*frac, 100.0/6)
}

// TestPlaceSkipsSuspects: suspected members get no new sessions; self is
// never suspected.
func TestPlaceSkipsSuspects(t *testing.T) {
	v := testView(4, nil, map[string]int64{"n0": 100, "n1": 100, "n2": 100, "n3": 100})
	for k := range 2000 {
		if i := v.place(keyHash(k), DefaultLoadFactor, 50); i != 0 {
			t.Fatalf("key %d placed on suspected n%d", k, i)
		}
	}
	counts := map[int]int{}
	for k := range 2000 {
		counts[v.place(keyHash(k), DefaultLoadFactor, 100)]++ // suspicions over
	}
	assert.Len(t, counts, 4)
}

// TestPlaceSameEverywhere: every node computes the same placement from
// the same members, whatever order it learnt them in and whichever it is.
func TestPlaceSameEverywhere(t *testing.T) {
	ms := []Member{{ID: "c", URL: "http://c"}, {ID: "a", URL: "http://a"}, {ID: "b", URL: "http://b"}, {ID: "a", URL: "http://a"}}
	cell := func(string) *atomic.Int64 { return new(atomic.Int64) }
	v1 := newView(ms, "a", cell)
	v2 := newView([]Member{ms[2], ms[0], ms[1]}, "c", cell)
	require.Len(t, v1.nodes, 3, "duplicates dropped")
	for k := range 1000 {
		h := keyHash(k)
		if a, b := v1.nodes[v1.place(h, 1.25, 0)].m.ID, v2.nodes[v2.place(h, 1.25, 0)].m.ID; a != b {
			t.Fatalf("key %d: %s from a's view, %s from c's", k, a, b)
		}
	}
}

func TestAppendTagEscapes(t *testing.T) {
	tests := []struct {
		tenant, session, want string
	}{
		{"t", "s", "{t:s}"},
		{"a:b", "c", "{a%3Ab:c}"},
		{"a", "b:c", "{a:b%3Ac}"},
		{"{x}", "%", "{%7Bx%7D:%25}"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, string(appendTag(nil, tt.tenant, tt.session)))
	}
}
