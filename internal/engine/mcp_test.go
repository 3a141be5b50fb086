package engine

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

type parcelIn struct {
	OrderID string `json:"order_id" jsonschema:"the order number"`
}

type parcelOut struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
	Carrier string `json:"carrier"`
	ETA     string `json:"eta"`
}

// TestMCPToolEndToEnd: an agent configured with every tool of an MCP
// server ("mcp:parcels") calls one, served by an in-process MCP server
// over streamable HTTP, and answers from its result.
func TestMCPToolEndToEnd(t *testing.T) {
	srv := mcp.NewServer(&mcp.Implementation{Name: "parcels", Version: "1"}, nil)
	mcp.AddTool(srv, &mcp.Tool{Name: "track_parcel", Description: "Track the parcel of an order: carrier, status and ETA."},
		func(_ context.Context, _ *mcp.CallToolRequest, in parcelIn) (*mcp.CallToolResult, parcelOut, error) {
			return nil, parcelOut{OrderID: in.OrderID, Status: "in_transit", Carrier: "DHL", ETA: "2026-11-30"}, nil
		})
	ts := httptest.NewServer(mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil))
	tr := &http.Transport{}
	reg, err := tool.NewRegistry(tool.RegistryConfig{Logger: quiet, MCP: []tool.MCPServerConfig{{
		Name: "parcels", Transport: tool.TransportStreamableHTTP, URL: ts.URL, HTTPClient: &http.Client{Transport: tr},
	}}})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
		tr.CloseIdleConnections()
		ts.CloseClientConnections()
		ts.Close()
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})

	_, rt := newSimRouter(t, sim.Config{})
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: []Agent{{Name: "tracker", Model: "large", Instructions: "You track parcels.", Tools: []string{"mcp:parcels"}}},
		Model: rt, Sessions: st, Tools: reg})
	require.NoError(t, err)
	res, err := e.Run(context.Background(), RunRequest{Tenant: "t", Agent: "tracker", Input: "Where is my parcel for order 100123?"}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.Status)
	require.Len(t, res.ToolCalls, 1)
	assert.Equal(t, "parcels_track_parcel", res.ToolCalls[0].Name)
	assert.JSONEq(t, `{"order_id":"100123"}`, string(res.ToolCalls[0].Arguments))
	assert.Equal(t, "ok", res.ToolCalls[0].Outcome)
	assert.Contains(t, res.Output, "DHL")
	assert.Contains(t, res.Output, "2026-11-30")
}
