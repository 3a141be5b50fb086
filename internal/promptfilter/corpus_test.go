package promptfilter

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// The labelled corpus, testdata/corpus (see its README.md): dev.jsonl was
// used while writing the rules; holdout.jsonl, holdout2.jsonl and
// holdout3.jsonl were each written before the rules they were first run
// against, run once blind (figures in the README), then used for tuning.
// Each line is a JSON object: label ("injection" or "benign"), kind,
// lang, source ("user", or "tool" for text a tool returned), text.

var (
	corpusShow  = flag.String("corpus.show", "", "print the misclassified samples of this split (dev, holdout)")
	corpusSplit = flag.String("corpus.split", "", "measure only this split")
)

type sample struct {
	Label  string `json:"label"`
	Kind   string `json:"kind"`
	Lang   string `json:"lang"`
	Source string `json:"source"`
	Text   string `json:"text"`
}

func (s sample) injection() bool { return s.Label == "injection" }

func loadCorpus(t testing.TB, split string) []sample {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "corpus", split+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		var s sample
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s.jsonl:%d: %v", split, n, err)
		}
		if s.Label != "injection" && s.Label != "benign" {
			t.Fatalf("%s.jsonl:%d: label %q", split, n, s.Label)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// confusion counts a detector's verdicts on labelled samples.
type confusion struct{ tp, fn, fp, tn int }

func (c *confusion) add(injection, detected bool) {
	switch {
	case injection && detected:
		c.tp++
	case injection:
		c.fn++
	case detected:
		c.fp++
	default:
		c.tn++
	}
}

func (c confusion) recall() float64    { return ratio(c.tp, c.tp+c.fn) }
func (c confusion) precision() float64 { return ratio(c.tp, c.tp+c.fp) }
func (c confusion) fpr() float64       { return ratio(c.fp, c.fp+c.tn) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (c confusion) String() string {
	return fmt.Sprintf("injections %d (caught %d, recall %.1f%%), ordinary %d (flagged %d, FPR %.2f%%), precision %.1f%%",
		c.tp+c.fn, c.tp, 100*c.recall(), c.fp+c.tn, c.fp, 100*c.fpr(), 100*c.precision())
}

// TestCorpus measures the rule stage (no classifier) at the default
// threshold on every file, and holds the bar: recall ≥ 95 % on injections
// and a false-positive rate ≤ 1 % on ordinary messages, on each file and
// on all together.
func TestCorpus(t *testing.T) {
	d := NewDetector(0)
	threshold := DefaultThreshold
	var total confusion
	for _, split := range []string{"dev", "holdout", "holdout2", "holdout3"} {
		if *corpusSplit != "" && split != *corpusSplit {
			continue
		}
		var c confusion
		bySource := map[string]*confusion{}
		byKind := map[string]*confusion{}
		var wrong []string
		for _, s := range loadCorpus(t, split) {
			src := SourceUser
			if s.Source == "tool" {
				src = SourceTool
			}
			r := d.Scan(s.Text, src)
			got := r.Score >= threshold
			c.add(s.injection(), got)
			total.add(s.injection(), got)
			bs := bySource[s.Source]
			if bs == nil {
				bs = &confusion{}
				bySource[s.Source] = bs
			}
			bs.add(s.injection(), got)
			kind := strings.SplitN(s.Kind, "-", 2)[0]
			if s.injection() {
				kind = "inj:" + kind
			}
			k := byKind[kind]
			if k == nil {
				k = &confusion{}
				byKind[kind] = k
			}
			k.add(s.injection(), got)
			if got != s.injection() {
				var rs []string
				for _, h := range r.Hits {
					rs = append(rs, fmt.Sprintf("%s=%.2f", h.Rule, h.Weight))
				}
				wrong = append(wrong, fmt.Sprintf("%-9s %-16s %s %.2f %q %v", s.Label, s.Kind, s.Lang, r.Score, s.Text, rs))
			}
		}
		t.Logf("%s: %v", split, c)
		for _, src := range []string{"user", "tool"} {
			if x := bySource[src]; x != nil {
				t.Logf("  %s source: %v", src, *x)
			}
		}
		kinds := make([]string, 0, len(byKind))
		for k := range byKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			x := byKind[k]
			if strings.HasPrefix(k, "inj:") {
				t.Logf("    %-20s caught %d/%d", k, x.tp, x.tp+x.fn)
			} else {
				t.Logf("    %-20s flagged %d/%d", k, x.fp, x.fp+x.tn)
			}
		}
		if *corpusShow == split {
			for _, w := range wrong {
				t.Log(w)
			}
		}
		if c.recall() < 0.95 || c.fpr() > 0.01 {
			t.Errorf("%s: recall %.1f%% (want ≥ 95%%), FPR %.2f%% (want ≤ 1%%)", split, 100*c.recall(), 100*c.fpr())
		}
	}
	t.Logf("all: %v", total)
	if total.recall() < 0.95 || total.fpr() > 0.01 {
		t.Errorf("all: recall %.1f%% (want ≥ 95%%), FPR %.2f%% (want ≤ 1%%)", 100*total.recall(), 100*total.fpr())
	}
}
