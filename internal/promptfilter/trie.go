package promptfilter

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// trie maps folded words and phrases to concepts. Nodes are stored flat;
// each node's edges are a contiguous, byte-sorted run of the edge array,
// so a lookup is a few comparisons per byte and touches no map. A phrase
// is stored as its words joined by one space.
type trie struct {
	nodes []trieNode
	edges []trieEdge
	root  [256]int32 // the root's children by first byte, -1 when absent
}

type trieNode struct {
	exact    concept // the concepts of the word ending here
	stem     concept // the concepts of the stem ending here (matches longer words)
	from, to int32   // edges[from:to]
}

type trieEdge struct {
	b     byte
	child int32
}

// buildNode is the mutable form used while building.
type buildNode struct {
	exact, stem concept
	kids        map[byte]*buildNode
}

// lexiconKeys expands one lexicon word into its trie keys: a phrase's
// words joined by a space, and a hyphenated word both as a phrase and run
// together.
func lexiconKeys(w string, fold func(string) string) []string {
	w = strings.TrimSuffix(w, "*")
	join := func(parts []string, sep string) string {
		out := make([]string, 0, len(parts))
		for _, p := range parts {
			if p = fold(p); p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, sep)
	}
	switch {
	case strings.Contains(w, "_"):
		return []string{join(strings.Split(w, "_"), " ")}
	case strings.Contains(w, "-"):
		parts := strings.Split(w, "-")
		return []string{join(parts, " "), join(parts, "")}
	}
	return []string{fold(w)}
}

func buildTrie(fold func(string) string) *trie {
	root := &buildNode{kids: map[byte]*buildNode{}}
	for _, l := range lexicon {
		for _, w := range strings.Fields(l.words) {
			stem := strings.HasSuffix(w, "*")
			for _, k := range lexiconKeys(w, fold) {
				if k == "" {
					continue
				}
				n := root
				for i := 0; i < len(k); i++ {
					kid := n.kids[k[i]]
					if kid == nil {
						kid = &buildNode{kids: map[byte]*buildNode{}}
						n.kids[k[i]] = kid
					}
					n = kid
				}
				if stem {
					n.stem |= l.c
				} else {
					n.exact |= l.c
				}
			}
		}
	}
	t := &trie{}
	for i := range t.root {
		t.root[i] = -1
	}
	var flatten func(n *buildNode) int32
	flatten = func(n *buildNode) int32 {
		id := int32(len(t.nodes))
		t.nodes = append(t.nodes, trieNode{exact: n.exact, stem: n.stem})
		keys := make([]int, 0, len(n.kids))
		for b := range n.kids {
			keys = append(keys, int(b))
		}
		slices.Sort(keys)
		// Reserve this node's edges contiguously before recursing.
		from := int32(len(t.edges))
		for _, b := range keys {
			t.edges = append(t.edges, trieEdge{b: byte(b)})
		}
		t.nodes[id].from, t.nodes[id].to = from, int32(len(t.edges))
		for i, b := range keys {
			t.edges[from+int32(i)].child = flatten(n.kids[byte(b)])
		}
		return id
	}
	flatten(root)
	for i := t.nodes[0].from; i < t.nodes[0].to; i++ {
		t.root[t.edges[i].b] = t.edges[i].child
	}
	return t
}

func (t *trie) child(n int32, b byte) int32 {
	if n == 0 {
		return t.root[b]
	}
	nd := &t.nodes[n]
	for i := nd.from; i < nd.to; i++ {
		e := t.edges[i]
		if e.b == b {
			return e.child
		}
		if e.b > b {
			break
		}
	}
	return -1
}

// lookup returns the concepts of a whole word: its exact entry and every
// stem that begins it.
func (t *trie) lookup(w []byte) concept {
	c, _ := t.walk(0, w)
	return c
}

// walk continues from node n through w and returns the concepts of the
// word ending there (stems included) and the node reached, -1 when w
// leaves the trie. A walk from the root is a word lookup; a walk from a
// node reached by a previous word and a space is a phrase lookup.
func (t *trie) walk(n int32, w []byte) (concept, int32) {
	var c concept
	for i := 0; i < len(w); i++ {
		n = t.child(n, w[i])
		if n < 0 {
			return c, -1
		}
		c |= t.nodes[n].stem
	}
	if n == 0 {
		return 0, 0
	}
	return c | t.nodes[n].exact, n
}

// longest returns the length and concepts of the longest entry that starts
// w: a whole word of at least minExact bytes or a stem of at least minStem
// bytes. It is the step of a compound scan (German compounds, words run
// together, Han text).
func (t *trie) longest(w []byte, minExact, minStem int) (int, concept) {
	n := int32(0)
	bestLen, best := 0, concept(0)
	for i := 0; i < len(w); i++ {
		n = t.child(n, w[i])
		if n < 0 {
			break
		}
		nd := &t.nodes[n]
		l := i + 1
		// Only whole runes: the next rune must start at l.
		if l < len(w) && !utf8.RuneStart(w[l]) {
			continue
		}
		if nd.exact != 0 && l >= minExact || nd.stem != 0 && l >= minStem {
			bestLen, best = l, nd.exact|nd.stem
		}
	}
	return bestLen, best
}
