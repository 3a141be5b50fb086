package promptfilter

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var debugText = flag.String("pf.debug", "", "print the tokens, concepts and hits of this text")

var conceptNames = []string{"Ignore", "Instr", "Prior", "All", "Above", "Your", "You", "My", "Sys", "Prompt",
	"Reveal", "Question", "New", "Now", "Be", "Act", "As", "Persona", "Jailbreak", "Mode", "ModeKind",
	"Without", "Limit", "Domain", "Decode", "Encoding", "Obey", "Not", "AI", "Secret", "User", "Tell",
	"Send", "SecretData", "Say", "Pwned", "Verbatim", "Everything", "End", "Input", "Activate", "Priority",
	"Address", "Instead", "Told", "Restricted", "Void", "Valid", "Stay", "Refuse", "Must", "Freed", "Task",
	"If", "Context", "Only", "Link", "DAN", "Words", "Hidden", "Prep", "Safety", "Apply", "MyWill"}

func (c concept) String() string {
	var parts []string
	for i, n := range conceptNames {
		if c&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "|")
}

func TestConceptNames(t *testing.T) {
	if len(conceptNames) != 64 || cMyWill != 1<<63 {
		t.Fatalf("%d concept names for concepts up to %v", len(conceptNames), cMyWill)
	}
}

// TestDebug prints how a text is read: go test -run TestDebug -pf.debug='…' -v
func TestDebug(t *testing.T) {
	if *debugText == "" {
		t.Skip("no -pf.debug text")
	}
	d := NewDetector(0)
	sc := d.pool.Get().(*scanner)
	sc.reset(*debugText)
	sc.f.fold(*debugText, 0)
	sc.tokenize()
	t.Logf("folded: %q", sc.f.buf)
	for _, tk := range sc.toks {
		t.Logf("  s%d p%d %-20q key=%-16q fl=%04b %v", tk.sent, tk.pos, sc.f.buf[tk.s:tk.e], sc.keys[tk.ks:tk.ke], tk.fl, tk.c)
	}
	r := d.Scan(*debugText, SourceUser)
	t.Logf("score %.3f %v truncated=%v", r.Score, r.Categories, r.Truncated)
	for _, h := range r.Hits {
		t.Logf("  %s", fmt.Sprintf("%-34s %-10v %.2f [%d,%d) %q", h.Rule, h.Category, h.Weight, h.Start, h.End, (*debugText)[h.Start:h.End]))
	}
}

var debugFile = flag.String("pf.file", "", "scan each line of this file and print its score and hits")

// TestDebugFile prints the score of every line of a file.
func TestDebugFile(t *testing.T) {
	if *debugFile == "" {
		t.Skip("no -pf.file")
	}
	b, err := os.ReadFile(*debugFile)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDetector(0)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		src := SourceUser
		if strings.HasPrefix(line, "tool:") {
			src, line = SourceTool, strings.TrimPrefix(line, "tool:")
		}
		r := d.Scan(strings.ReplaceAll(line, `\n`, "\n"), src)
		var hs []string
		for _, h := range r.Hits {
			hs = append(hs, fmt.Sprintf("%s=%.2f", h.Rule, h.Weight))
		}
		t.Logf("%.2f %-70.70q %v", r.Score, line, hs)
	}
}
