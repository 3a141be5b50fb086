package load

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"testing"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestPromptSetBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give PromptOptions
	}{
		{"defaults", PromptOptions{}},
		{"stream with max tokens", PromptOptions{Model: "small", Stream: true, MaxTokens: 64, Seed: 7, Count: 300}},
	}
	orderRE := regexp.MustCompile(`1\d{5}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPromptSet(tt.give)
			wantCount, wantModel := tt.give.Count, tt.give.Model
			if wantCount == 0 {
				wantCount, wantModel = DefaultPromptCount, DefaultModel
			}
			if p.Len() != wantCount {
				t.Fatalf("Len = %d, want %d", p.Len(), wantCount)
			}
			labels := map[string]int{}
			distinct := map[string]bool{}
			lowest, last := 0, 0
			for i := range p.Len() {
				r := p.Next(0, uint64(i))
				labels[r.Label]++
				distinct[string(r.Body)] = true
				var req llm.Request
				if err := json.Unmarshal(r.Body, &req); err != nil {
					t.Fatalf("body %d: %v", i, err)
				}
				if req.Model != wantModel || req.Stream != tt.give.Stream || req.WantsUsageChunk() != tt.give.Stream ||
					req.MaxOutputTokens() != tt.give.MaxTokens || len(req.Messages) != 2 || req.LastUserText() == "" {
					t.Fatalf("body %d: %s", i, r.Body)
				}
				if r.Label == LabelOrderStatus || r.Label == LabelTracking || r.Label == LabelReturns {
					n, _ := strconv.Atoi(orderRE.FindString(req.LastUserText()))
					if n <= last {
						t.Fatalf("order number %d after %d in %q", n, last, req.LastUserText())
					}
					if lowest == 0 {
						lowest = n
					}
					last = n
				}
			}
			if lowest != FirstOrderNumber {
				t.Errorf("first order number %d, want %d", lowest, FirstOrderNumber)
			}
			for _, l := range []string{LabelOrderStatus, LabelTracking, LabelReturns, LabelProduct, LabelSmallTalk} {
				if labels[l] == 0 {
					t.Errorf("no %s prompt among %v", l, labels)
				}
			}
			// Product and small-talk prompts repeat; order prompts never do.
			if len(distinct) < wantCount/2 {
				t.Errorf("%d distinct bodies of %d", len(distinct), wantCount)
			}
		})
	}
}

func TestPromptSetDeterministic(t *testing.T) {
	t.Parallel()
	a := NewPromptSet(PromptOptions{Seed: 1, Count: 100})
	b := NewPromptSet(PromptOptions{Seed: 1, Count: 100})
	c := NewPromptSet(PromptOptions{Seed: 2, Count: 100})
	same, differ := true, false
	for i := range uint64(100) {
		same = same && bytes.Equal(a.Next(0, i).Body, b.Next(5, i).Body)
		differ = differ || !bytes.Equal(a.Next(0, i).Body, c.Next(0, i).Body)
	}
	if !same || !differ {
		t.Errorf("same seed gives the same bodies: %v; another seed other bodies: %v", same, differ)
	}
	if !bytes.Equal(a.Next(0, 3).Body, a.Next(1, 103).Body) {
		t.Error("Next does not cycle")
	}
}

// TestPromptSetMatchesMarshal checks the spliced bodies against encoding
// each request whole.
func TestPromptSetMatchesMarshal(t *testing.T) {
	t.Parallel()
	p := NewPromptSet(PromptOptions{Stream: true, MaxTokens: 32, Count: 50})
	for i := range uint64(50) {
		r := p.Next(0, i)
		var req llm.Request
		if err := json.Unmarshal(r.Body, &req); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(&req)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(r.Body, want) {
			t.Fatalf("body %d:\n got %s\nwant %s", i, r.Body, want)
		}
	}
}

// TestPromptSetRunAPI checks the run API bodies: the same prompts as the
// chat set of the same seed, as {"input": prompt} and nothing else, which
// the gateway's strict decoder requires.
func TestPromptSetRunAPI(t *testing.T) {
	t.Parallel()
	runs := NewPromptSet(PromptOptions{Seed: 4, Count: 200, RunAPI: true, Model: "ignored", Stream: true})
	chats := NewPromptSet(PromptOptions{Seed: 4, Count: 200})
	for i := range uint64(200) {
		r, c := runs.Next(0, i), chats.Next(0, i)
		var body struct {
			Input string `json:"input"`
		}
		dec := json.NewDecoder(bytes.NewReader(r.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil {
			t.Fatalf("body %d %s: %v", i, r.Body, err)
		}
		var req llm.Request
		if err := json.Unmarshal(c.Body, &req); err != nil {
			t.Fatal(err)
		}
		if body.Input != req.LastUserText() || r.Label != c.Label {
			t.Fatalf("run %d: %q (%s), chat: %q (%s)", i, body.Input, r.Label, req.LastUserText(), c.Label)
		}
	}
}
