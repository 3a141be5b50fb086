package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/handoff"
)

// TestHandoffAdminAPI: serve keeps handoff tickets and serves the help
// desk's API behind the admin key: list, claim, resolve.
func TestHandoffAdminAPI(t *testing.T) {
	const adminKey = "fg-admin-desk-0123456789"
	base, a, stop := demoAppOf(t, t.TempDir(), 0, func(c *config.Config) {
		c.Gateway.AdminKeys = []string{gateway.HashKey(adminKey)}
		c.Handoff.Path = t.TempDir() + "/handoffs.db"
	})
	defer func() { require.NoError(t, stop()) }()
	require.NotNil(t, a.handoff)
	tk, err := a.handoff.svc.Open(context.Background(), handoff.Ticket{Tenant: "test", Session: "s-9", Agent: "support", Reason: "customer asked for a person", Priority: 50})
	require.NoError(t, err)

	do := func(method, path, key, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := do("GET", "/admin/handoffs?status=open", adminKey, "")
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, tk.ID)
	assert.Contains(t, body, "s-9")
	code, _ = do("GET", "/admin/handoffs", testKey, "")
	assert.Equal(t, http.StatusForbidden, code, "a tenant's key does not open the help desk's API")

	code, body = do("POST", "/admin/handoffs/"+tk.ID+"/claim", adminKey, `{"by":"alice"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"claimed"`)
	code, body = do("POST", "/admin/handoffs/"+tk.ID+"/resolve", adminKey, `{"by":"alice","note":"refund sent"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"resolved"`)
	code, _ = do("POST", "/admin/handoffs/"+tk.ID+"/claim", adminKey, `{"by":"bob"}`)
	assert.Equal(t, http.StatusConflict, code, "a resolved ticket cannot be claimed")
}
