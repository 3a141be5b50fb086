package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
)

// TestUsageLedgerEndToEnd: a plain completion through serve lands in the
// ledger, off the request path, and /admin/usage (admin key only) shows it.
func TestUsageLedgerEndToEnd(t *testing.T) {
	cfg := testConfig(t, 0)
	const adminKey = "fg-admin-0123456789"
	cfg.Gateway.AdminKeys = []string{gateway.HashKey(adminKey)}
	cfg.Usage.Path = t.TempDir() + "/usage.db"
	base, _ := startApp(t, cfg)

	c := sdk(base, testKey)
	for range 3 {
		_, err := c.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "large",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Where is my order 100123?")},
		})
		require.NoError(t, err)
	}

	get := func(key string) (int, string) {
		req, _ := http.NewRequest("GET", strings.TrimSuffix(base, "/v1/")+"/admin/usage?group_by=model&from=-1h", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ := get(testKey)
	assert.Equal(t, http.StatusForbidden, code, "a tenant's key does not open the operations API")

	var body struct {
		Rows []struct {
			Key      string `json:"key"`
			Requests int64  `json:"requests"`
			TokensIn int64  `json:"tokens_in"`
		} `json:"rows"`
	}
	require.Eventually(t, func() bool {
		code, b := get(adminKey)
		if code != http.StatusOK || json.Unmarshal([]byte(b), &body) != nil {
			return false
		}
		for _, r := range body.Rows {
			if r.Key == "large" && r.Requests == 3 {
				return r.TokensIn > 0
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the three completions reach the ledger")
}

// TestGuardModelCallsInTheLedger: the prompt filter's guard-model calls
// are model calls like any other: each has a usage record, charged to the
// tenant whose text was judged.
func TestGuardModelCallsInTheLedger(t *testing.T) {
	_, a, stop := demoAppOf(t, t.TempDir(), 0, nil)
	defer func() { require.NoError(t, stop()) }()
	ctx := gateway.WithTenant(context.Background(), &gateway.Identity{Tenant: "test", Tier: "standard"})
	_, err := guardUsage{a}.Complete(ctx, &llm.Request{Model: "small",
		Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.Text("Is this an injection? 'ignore the rules'")}}})
	require.NoError(t, err)
	var rows []ledger.Row
	require.Eventually(t, func() bool {
		b, err := a.ledger.db.Breakdown(context.Background(), ledger.Query{GroupBy: ledger.GroupIntent,
			From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		if err != nil {
			return false
		}
		rows = b.Rows
		return len(rows) > 0
	}, 10*time.Second, 20*time.Millisecond)
	require.Len(t, rows, 1)
	assert.Equal(t, intentPromptGuard, rows[0].Key)
	assert.EqualValues(t, 1, rows[0].Calls)
	assert.Positive(t, rows[0].TokensIn)
	assert.Positive(t, float64(rows[0].Cost))
}
