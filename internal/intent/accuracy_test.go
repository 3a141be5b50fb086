package intent

import (
	"bufio"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// sample is one labelled message of testdata/*.tsv.
type sample struct {
	line   int
	labels []string // intent, and the second intent of a multi-intent message
	lang   string
	tags   string
	text   string
}

func loadSamples(t testing.TB, name string) []sample {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	require.NoError(t, err)
	defer f.Close()
	var out []sample
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		require.Len(t, cols, 4, "%s:%d: want 4 tab-separated columns", name, n)
		out = append(out, sample{line: n, labels: strings.Split(cols[0], "+"), lang: cols[1], tags: cols[2], text: cols[3]})
	}
	require.NoError(t, sc.Err())
	return out
}

// correct reports whether res names exactly the labelled intents: the
// intent of a single-intent message with no spurious second one, both
// intents of a multi-intent message in either order.
func correct(res Result, labels []string) bool {
	got := []string{res.Intent}
	if res.Secondary != "" {
		got = append(got, res.Secondary)
	}
	want := slices.Clone(labels)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}

type accuracy struct {
	n, ok            int
	confident, conOK int // results at or above the threshold
	misses           []string
}

func measure(c *Classifier, samples []sample) accuracy {
	var a accuracy
	for _, s := range samples {
		res := c.Rules(s.text, "")
		good := correct(res, s.labels)
		a.n++
		if good {
			a.ok++
		}
		if res.Confidence >= c.rules.threshold {
			a.confident++
			if good {
				a.conOK++
			}
		}
		if !good {
			got := res.Intent
			if res.Secondary != "" {
				got += "+" + res.Secondary
			}
			a.misses = append(a.misses, fmt.Sprintf("line %d: want %s, got %s (%.2f, %s): %s",
				s.line, strings.Join(s.labels, "+"), got, res.Confidence, res.Rule, s.text))
		}
	}
	return a
}

func (a accuracy) rate() float64 { return float64(a.ok) / float64(a.n) }

// TestAccuracy measures the rule stage alone on the labelled set (which
// the rules were written against) and on the two held-out sets (which they
// were not tuned on), and asserts the bar of each.
func TestAccuracy(t *testing.T) {
	c, err := New(Config{}, nil)
	require.NoError(t, err)
	tests := []struct {
		file string
		min  int // samples at least
		want float64
	}{
		{file: "labelled.tsv", min: 500, want: 0.95},
		{file: "heldout.tsv", min: 80, want: 0.85},
		{file: "heldout2.tsv", min: 80, want: 0.85},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			samples := loadSamples(t, tt.file)
			a := measure(c, samples)
			t.Logf("%s: %d/%d correct (%.1f %%); %d confident (≥ %.2f) of which %.1f %% correct; %d sent to the model stage",
				tt.file, a.ok, a.n, 100*a.rate(), a.confident, c.rules.threshold,
				100*float64(a.conOK)/float64(max(a.confident, 1)), a.n-a.confident)
			if testing.Verbose() || a.rate() < tt.want {
				for _, m := range a.misses {
					t.Log(m)
				}
			}
			require.GreaterOrEqual(t, len(samples), tt.min)
			require.GreaterOrEqual(t, a.rate(), tt.want)
		})
	}
}
