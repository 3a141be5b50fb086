package redis

import (
	"strings"
	"testing"
)

// Session ids come from clients: no two (tenant, id) pairs may share a
// key, and every key keeps exactly one hash tag.
func FuzzSessionTag(f *testing.F) {
	f.Add("acme", "s-1", "acme", "s-2")
	f.Add("a:b", "c", "a", "b:c")
	f.Add("a}", "{b", "a%7D", "%7Bb")
	f.Add("%", ":", "%25", "%3A")
	s := &Store{cfg: Config{Prefix: "fg:"}}
	f.Fuzz(func(t *testing.T, t1, id1, t2, id2 string) {
		k1, k2 := s.tag(t1, id1), s.tag(t2, id2)
		if (t1 != t2 || id1 != id2) == (k1 == k2) {
			t.Fatalf("(%q, %q) → %s and (%q, %q) → %s", t1, id1, k1, t2, id2, k2)
		}
		if strings.Count(k1, "{") != 1 || strings.Count(k1, "}") != 1 || !strings.HasPrefix(k1, "{") || !strings.HasSuffix(k1, "}") {
			t.Fatalf("tag %q does not have one brace pair around it", k1)
		}
	})
}
