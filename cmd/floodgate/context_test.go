package main

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/config"
)

// TestSessionKeepsFactsAndSummary: through serve, a conversation longer
// than its window gets a summary from the summary worker (off the request
// path), and GET /v1/sessions/{id} shows the pinned facts, the first order
// number among them, however lossy the summary.
func TestSessionKeepsFactsAndSummary(t *testing.T) {
	base, stop := demoApp(t, t.TempDir(), 0, func(c *config.Config) {
		for i := range c.Agents {
			c.Agents[i].Context.RecentTurns = 2
			c.Agents[i].Context.MaxPendingTurns = 10
		}
	})
	defer func() { require.NoError(t, stop()) }()

	const session = "facts-1"
	runTurn(t, base, "support", session, "Where is my order 100123?")
	for range 4 {
		runTurn(t, base, "support", session, "Thanks, and what else is new?")
	}

	var v struct {
		Facts   json.RawMessage `json:"facts"`
		Summary *struct {
			Text    string `json:"text"`
			UpToSeq int64  `json:"up_to_seq"`
		} `json:"summary"`
	}
	require.Eventually(t, func() bool {
		req, _ := http.NewRequest("GET", base+"/v1/sessions/"+session, nil)
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && json.Unmarshal(b, &v) == nil && v.Summary != nil
	}, 10*time.Second, 50*time.Millisecond, "the summary worker folds the turns that left the window")
	assert.Positive(t, v.Summary.UpToSeq)
	assert.Contains(t, string(v.Facts), "100123", "the order number is pinned")
}
