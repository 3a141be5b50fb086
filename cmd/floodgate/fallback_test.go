package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/admission"
	"github.com/floodgate-dev/floodgate/internal/config"
)

// TestShedTurnAnsweredByRules: when admission sheds an agent turn, serve
// answers "where is my order N" from the rules engine (the shop's real
// status, no model), and anything else with the friendly message, both
// degraded and at once.
func TestShedTurnAnsweredByRules(t *testing.T) {
	base, a, stop := demoAppOf(t, t.TempDir(), 0, func(c *config.Config) {
		c.Admission.MaxConcurrent = 1
	})
	defer func() { require.NoError(t, stop()) }()
	defer holdAdmission(t, a)()

	turn := func(input string) (map[string]any, http.Header) {
		req, _ := http.NewRequest("POST", base+"/v1/agents/support/runs", strings.NewReader(`{"input":"`+input+`"}`))
		req.Header.Set("Authorization", "Bearer "+testKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return out, resp.Header
	}
	out, h := turn("Where is my order 100123?")
	assert.Equal(t, "degraded", out["status"])
	assert.Equal(t, "shed", h.Get("X-Floodgate-Degraded"))
	t.Logf("shed answer: %v", out["output"])
	assert.Contains(t, out["output"], "100123", "the rules engine answered from the shop")

	out, _ = turn("Can you tell me a joke?")
	assert.Equal(t, "degraded", out["status"])
	assert.NotEmpty(t, out["output"])
	assert.NotContains(t, out["output"], "100123")
}

// holdAdmission holds the node's admission slots and fills its queue with
// waiters that outrank every tier, so that every turn is shed until the
// returned release is called. The node must admit one request at a time
// (admission.max_concurrent 1).
func holdAdmission(t *testing.T, a *app) (release func()) {
	t.Helper()
	held, err := a.admission.Admit(context.Background(), admission.Ticket{Priority: 1000})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	for range a.cfg.Admission.MaxQueue {
		go func() {
			p, err := a.admission.Admit(ctx, admission.Ticket{Priority: 1000})
			if err == nil {
				p.Release()
			}
		}()
	}
	require.Eventually(t, func() bool { return a.admission.Stats().Waiting == a.cfg.Admission.MaxQueue }, 5e9, 1e7)
	return func() {
		cancel()
		held.Release()
		require.Eventually(t, func() bool { return a.admission.Stats().Waiting == 0 }, 5e9, 1e7)
	}
}
