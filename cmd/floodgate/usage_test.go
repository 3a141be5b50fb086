package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/ledger"
)

// usageServer serves /admin/usage over a ledger holding a few records,
// behind a bearer check as the gateway's admin auth would be.
func usageServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db, err := ledger.Open(ctx, ledger.Config{Path: ":memory:", Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	h := time.Date(2025, 11, 28, 3, 0, 0, 0, time.UTC)
	_, err = db.Insert(ctx, []ledger.Record{
		{ID: "r1/1", Kind: ledger.KindCall, RunID: "r1", Call: 1, At: h, Agent: "support", Model: "small",
			TokensIn: 1200, TokensOut: 80, Cost: 195_000, Latency: 300 * time.Millisecond},
		{ID: "r1", Kind: ledger.KindRun, RunID: "r1", At: h, Agent: "support", Model: "small", Latency: 450 * time.Millisecond},
		{ID: "c1", Kind: ledger.KindCall, At: h.Add(time.Minute), Model: "large", TokensIn: 10, TokensOut: 5,
			Cost: 75_000, Latency: time.Second, Error: "timeout"},
	})
	require.NoError(t, err)
	usage := &ledger.Handler{Source: db}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/admin/usage" || r.Header.Get("Authorization") != "Bearer admin-key" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"message":"invalid admin key","type":"authentication_error","param":null,"code":null}}`))
			return
		}
		usage.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestUsageCommand(t *testing.T) {
	srv := usageServer(t)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"usage", "--url", srv.URL + "/", "--key", "admin-key",
		"--from", "2025-11-28", "--to", "2025-11-29"}, &out, &errOut)
	require.NoError(t, err, errOut.String())
	want := `usage by agent from 2025-11-28T00:00:00Z to 2025-11-29T00:00:00Z
AGENT    REQUESTS  CALLS  ERRORS  DEGRADED  TOKENS_IN  TOKENS_OUT  CACHED  COST_USD  P50_MS  AVG_MS
(none)          1      1       1         0         10           5       0  0.000075  1000.0  1000.0
support         1      1       0         0       1200          80       0  0.000195   450.0   450.0
TOTAL           2      2       1         0       1210          85       0   0.00027   450.0   725.0
`
	assert.Equal(t, want, out.String())

	out.Reset()
	require.NoError(t, runUsage(context.Background(), []string{"--url", srv.URL, "--key", "admin-key",
		"--group-by", "model", "--from", "2025-11-28", "--to", "2025-11-29", "--json"}, &out, &errOut))
	assert.True(t, strings.HasPrefix(out.String(), `{"group_by":"model"`), out.String())
}

func TestUsageCommandErrors(t *testing.T) {
	srv := usageServer(t)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--url", srv.URL, "--key", "admin-key", "--group-by", "user"}, "group_by must be one of agent, tenant, tier, model, endpoint, intent, hour, day (HTTP 400)"},
		{[]string{"--url", srv.URL, "--key", "admin-key", "--from", "yesterday"}, "from: want RFC 3339"},
		{[]string{"--url", srv.URL, "--key", "wrong"}, "invalid admin key (HTTP 401)"},
		{[]string{"--url", srv.URL, "stray"}, `unexpected argument "stray"`},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := runUsage(context.Background(), tt.args, &out, &errOut)
		require.Error(t, err, tt.args)
		assert.Contains(t, err.Error(), tt.want)
		assert.Empty(t, out.String())
	}
}
