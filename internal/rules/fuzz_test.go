package rules

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedRules adds the built-in rules and every file of testdata/rules.
func seedRules(f *testing.F) {
	f.Add(DefaultYAML)
	files, err := filepath.Glob("testdata/rules/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed rules files: %v", err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("rules: []"))
	f.Add([]byte("rules:\n  - {name: a, patterns: ['(x'], answers: []}"))
	f.Add([]byte("default_lang: de\nrules: [{name: a, intents: [x], answers: [{text: {de: '{{.x}}'}}]}]"))
}

// seedMessages returns the lines of testdata/messages.txt.
func seedMessages(f *testing.F) []string {
	fh, err := os.Open("testdata/messages.txt")
	if err != nil {
		f.Fatal(err)
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if len(out) == 0 {
		f.Fatal("no seed messages")
	}
	return out
}

// FuzzParse feeds arbitrary bytes to the rules-file loader: it must return
// rules or an error, never panic, and rules that load must answer a
// message with an answer or a *NoAnswer, whatever the tool says.
func FuzzParse(f *testing.F) {
	seedRules(f)
	tools := ToolFunc(func(_ context.Context, name string, _ json.RawMessage) (json.RawMessage, error) {
		switch name {
		case "get_order_status":
			return json.RawMessage(`{"order_id":100123,"status":"in_transit","eta":"2026-11-29","days_late":2}`), nil
		case "track_shipment":
			return nil, &ToolError{Tool: name, Body: json.RawMessage(`{"error":"x","code":"order_not_found"}`)}
		}
		return nil, errors.New("down")
	})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Parse(b)
		if err != nil {
			if r != nil {
				t.Fatal("rules and an error")
			}
			return
		}
		for _, msg := range []string{"where is my order 100123", "track order 100123", "hello"} {
			for _, intent := range []string{"", "order_status"} {
				a, err := r.Answer(context.Background(), tools, Input{Message: msg, Intent: intent, Lang: "de"})
				if err != nil && !errors.Is(err, ErrNoAnswer) {
					t.Fatalf("error that is not a NoAnswer: %v", err)
				}
				if err == nil && (a == nil || a.Text == "" || len(a.Text) > MaxAnswerBytes) {
					t.Fatalf("bad answer %+v", a)
				}
			}
		}
	})
}

// FuzzExtract feeds arbitrary messages and pinned facts to the argument
// extractors of the built-in rules and of testdata/rules/orders.yaml:
// a value is always taken from the message (a substring of it), the
// facts or the argument's default, trimmed.
func FuzzExtract(f *testing.F) {
	for _, m := range seedMessages(f) {
		f.Add(m, "100123", "")
		f.Add(m, "", "order_status")
	}
	f.Add("#1000000 #100001", " 100002 ", "")
	f.Add("R-5000011 r500001", "", "")
	def, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	orders, err := LoadFile("testdata/rules/orders.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg, fact, intent string) {
		for _, r := range []*Rules{def, orders} {
			for _, ru := range r.rules {
				env := Env{Message: msg, Intent: intent, Lang: "en", Facts: map[string][]string{"order_number": {"x", fact}}, Args: map[string]string{}}
				for i := range ru.args {
					a := &ru.args[i]
					v, err := a.extract(&env)
					if err != nil {
						t.Fatalf("%s.%s: %v", ru.name, a.name, err)
					}
					if v != strings.TrimSpace(v) {
						t.Fatalf("%s.%s: untrimmed %q", ru.name, a.name, v)
					}
					fromExpr := a.expr != nil && (v == "patterns" || v == "classifier")
					if v != "" && !strings.Contains(msg, v) && v != strings.TrimSpace(fact) && v != a.def && !fromExpr {
						t.Fatalf("%s.%s: %q is in neither the message %q nor the facts", ru.name, a.name, v, msg)
					}
					env.Args[a.name] = v
				}
			}
		}
	})
}
