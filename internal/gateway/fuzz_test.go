package gateway

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func fuzzPolicy() *Policy {
	return &Policy{
		MaxMessages: 64,
		Resolve: func(m string) (string, bool) {
			switch m {
			case "large", "gpt-4o":
				return "large", true
			case "small", "gpt-4o-mini":
				return "small", true
			case "m", "other":
				return m, true
			}
			return "", false
		},
		Tier: Tier{MaxOutputTokens: 1000, DefaultOutputTokens: 100, MaxN: 2, Models: []string{"large", "small", "m"}},
	}
}

// FuzzNormalize: whatever the body, Normalize does not panic and returns
// either a valid request or a 4xx *llm.Error; a request it returns is a
// fixed point (normalising it again changes nothing).
func FuzzNormalize(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	p := fuzzPolicy()
	f.Fuzz(func(t *testing.T, body []byte) {
		req, notes, err := Normalize(body, p)
		if err != nil {
			e, ok := err.(*llm.Error)
			if !ok {
				t.Fatalf("error is %T, not *llm.Error: %v", err, err)
			}
			if st := e.HTTPStatus(); st < 400 || st > 499 {
				t.Fatalf("status %d for %q: %v", st, body, err)
			}
			if e.Message == "" {
				t.Fatalf("error without message for %q", body)
			}
			if req != nil || notes != nil {
				t.Fatal("request or notes returned with an error")
			}
			return
		}
		if req.Model == "" || len(req.Messages) == 0 || len(req.Messages) > 64 {
			t.Fatalf("invalid request accepted from %q", body)
		}
		if req.MaxOutputTokens() < 1 || req.MaxOutputTokens() > 1000 || req.N != nil && *req.N > 2 ||
			req.LogitBias != nil || req.Logprobs != nil || req.Store != nil || req.ServiceTier != "" {
			t.Fatalf("tier not applied to %q", body)
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		req2, notes2, err := Normalize(again, p)
		if err != nil {
			t.Fatalf("normalised request %s refused: %v", again, err)
		}
		if notes2 != nil {
			t.Fatalf("normalised request %s changed again: %v", again, notes2)
		}
		again2, _ := json.Marshal(req2)
		if !bytes.Equal(again, again2) {
			t.Fatalf("not a fixed point:\n%s\n%s", again, again2)
		}
	})
}
