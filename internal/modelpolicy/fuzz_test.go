package modelpolicy

import (
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/intent"
)

// FuzzParseHours: any hours string is rejected or parses to a non-empty
// period of valid minutes that prints back to itself.
func FuzzParseHours(f *testing.F) {
	for _, s := range []string{
		"00:00-06:00", "22:00-06:00", "18:00 - 24:00", "24:00-01:00", "06:00-06:00", "6:00-7:00", "", "-",
		"::-::", "99:99-00:00", "00:00-24:00", "12:3a-13:00", "\xff\xfe", "23:59-00:00", " 01:00-02:00 ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHours(s)
		if err != nil {
			return
		}
		if h.Start < 0 || h.Start >= 24*60 || h.End < 0 || h.End >= 24*60 || h.Start == h.End {
			t.Fatalf("%q parsed to %+v", s, h)
		}
		again, err := ParseHours(h.String())
		if err != nil || again != h {
			t.Fatalf("%q → %v → %+v, %v", s, h, again, err)
		}
		if !h.contains(h.Start) || h.contains(h.End) {
			t.Fatalf("%v: start must be in, end out", h)
		}
	})
}

// FuzzWindowConfig: any window configuration is rejected by Validate or
// gives a policy that chooses a model it lists, at any time.
func FuzzWindowConfig(f *testing.F) {
	f.Add("night", "00:00-06:00", "mon", "standard", "Europe/Berlin", int64(0), "free", 0.9)
	f.Add("x", "23:00-01:00", "SUN", "complex", "UTC", int64(1764300000), "", 0.0)
	f.Add("bad name", "25:00", "someday", "hard", "Nowhere/City", int64(-1), "vip", -1.0)
	f.Fuzz(func(t *testing.T, name, hours, day, maxCx, zone string, unix int64, tier string, load float64) {
		p, err := New(Config{
			SmallModel: "s", LargeModel: "l", TimeZone: zone,
			Peak:    Peak{Load: 0.5, Tiers: []string{"free"}},
			Windows: []Window{{Name: name, Hours: hours, Days: []string{day}, MaxComplexity: intent.Complexity(maxCx), Tiers: []string{tier}}},
		})
		if err != nil {
			return
		}
		models := p.Models()
		for _, cx := range []intent.Complexity{"", intent.Simple, intent.Standard, intent.Complex} {
			d := p.Choose(Input{Complexity: cx, Tier: tier, Load: load, Now: time.Unix(unix, 0)})
			found := false
			for _, m := range models {
				found = found || m == d.Model
			}
			if !found || d.Reason == "" {
				t.Fatalf("decision %+v not among %v", d, models)
			}
		}
	})
}

// FuzzSimilarity: any two texts score in [0, 1], symmetrically, and a
// text with a letter or digit scores 1 against itself.
func FuzzSimilarity(f *testing.F) {
	f.Add("where is my order 100123", "Where is my order 100123???")
	f.Add("", "\xff")
	f.Add("日本語", "日本語のテキスト")
	f.Add("a1 b2 c3 d4 e5 f6 g7 h8 i9 j10 k11 l12 m13 n14 o15 p16 q17 r18", "a1")
	f.Fuzz(func(t *testing.T, a, b string) {
		s := Similarity(a, b)
		if !(s >= 0 && s <= 1) {
			t.Fatalf("similarity %v", s)
		}
		if r := Similarity(b, a); r != s {
			t.Fatalf("asymmetric: %v and %v", s, r)
		}
		if self := Similarity(a, a); self != 0 && self != 1 {
			t.Fatalf("self-similarity %v", self)
		}
	})
}
