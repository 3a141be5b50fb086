package tool

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// mcpHTTPServer serves a fresh test MCP server over streamable HTTP on
// addr ("" for any port); closing it drops every connection.
func mcpHTTPServer(t *testing.T, addr string) (*httptest.Server, *mcp.Server) {
	ts, srv, _ := mcpHTTPServerKeys(t, addr)
	return ts, srv
}

// mcpHTTPServerKeys is mcpHTTPServer that also records the X-Api-Key
// header of the last request.
func mcpHTTPServerKeys(t *testing.T, addr string) (*httptest.Server, *mcp.Server, *atomic.Value) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	require.Eventually(t, func() bool {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "listen on %s", addr)
	srv := newTestMCPServer()
	h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, nil)
	var key atomic.Value
	key.Store("")
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key.Store(r.Header.Get("X-Api-Key"))
		h.ServeHTTP(w, r)
	}))
	ts.Listener = ln
	ts.Start()
	t.Cleanup(func() {
		stopHTTP(ts)
		// Sessions whose client went away without a DELETE live on in the
		// server until closed.
		for ss := range srv.Sessions() {
			_ = ss.Close()
		}
	})
	return ts, srv, &key
}

// stopHTTP closes a server whose handlers may be holding streams open.
func stopHTTP(ts *httptest.Server) {
	ts.CloseClientConnections()
	ts.Close()
}

// runRegistry runs reg until the test ends (or stop is called) and checks
// that Run returns.
func runRegistry(t *testing.T, reg *Registry) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	var stopped bool
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Fatal("Registry.Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

func callOne(t *testing.T, ru *Runner, name, args string) (envelope, Outcome) {
	t.Helper()
	var ev events
	msgs := ru.Execute(context.Background(), []llm.ToolCall{toolCall("c", name, args)}, ev.on)
	require.Len(t, msgs, 1)
	return decodeEnvelope(t, msgs[0]), ev.outcomes()["c"]
}

func TestMCPStreamableHTTP(t *testing.T) {
	ts, _, key := mcpHTTPServerKeys(t, "")
	reg := newRegistry(t, RegistryConfig{MCP: []MCPServerConfig{{
		Name: "shop", Transport: TransportStreamableHTTP, URL: ts.URL,
		Headers: map[string]string{"X-Api-Key": "k"}, CallTimeout: 5 * time.Second,
	}}})
	stop := runRegistry(t, reg)

	names, err := reg.ServerTools(context.Background(), "shop")
	require.NoError(t, err)
	assert.Equal(t, []string{"shop_echo", "shop_get_order", "shop_pid", "shop_slow"}, names)
	tl, ok := reg.Get("shop_get_order")
	require.True(t, ok)
	assert.Equal(t, "Look up an order by number.", tl.Decl().Function.Description)
	assert.Contains(t, string(tl.Decl().Function.Parameters), `"order_id"`)

	ru := reg.NewRunner(names, Limits{})
	tools, notes := ru.Offer()
	assert.Len(t, tools, 4)
	assert.Empty(t, notes)

	e, o := callOne(t, ru, "shop_get_order", `{"order_id":"100001"}`)
	assert.Equal(t, OutcomeOK, o)
	assert.JSONEq(t, `{"order_id":"100001","status":"shipped"}`, string(e.Data))

	e, o = callOne(t, ru, "shop_get_order", `{"order_id":"0"}`)
	assert.Equal(t, OutcomeError, o)
	assert.True(t, e.IsError)
	assert.Contains(t, string(e.Data), "order not found")

	_, o = callOne(t, ru, "shop_get_order", `{"order_id":5}`)
	assert.Equal(t, OutcomeInvalid, o, "validated on this side against the server's schema")

	e, o = callOne(t, ru, "shop_echo", `{"text":"hi"}`)
	assert.Equal(t, OutcomeOK, o)
	assert.Equal(t, `"echo: hi"`, string(e.Data))
	assert.Equal(t, "k", key.Load(), "configured headers are sent")

	stop()
	_, err = tl.Call(context.Background(), json.RawMessage(`{"order_id":"1"}`))
	require.ErrorIs(t, err, ErrClosed)
}

func TestMCPStreamableHTTPReconnectsAfterRestart(t *testing.T) {
	ts, _ := mcpHTTPServer(t, "")
	addr := ts.Listener.Addr().String()
	reg := newRegistry(t, RegistryConfig{MCP: []MCPServerConfig{{Name: "shop", Transport: TransportStreamableHTTP, URL: ts.URL}}})
	runRegistry(t, reg)
	names, err := reg.ServerTools(context.Background(), "shop")
	require.NoError(t, err)
	ru := reg.NewRunner(names, Limits{MaxCalls: 20})
	_, o := callOne(t, ru, "shop_get_order", `{"order_id":"1"}`)
	require.Equal(t, OutcomeOK, o)

	// The server restarts: same address, none of the old sessions.
	stopHTTP(ts)
	mcpHTTPServer(t, addr)

	// get_order is read-only: resent over a dead pooled connection and
	// then on a new session.
	e, o := callOne(t, ru, "shop_get_order", `{"order_id":"2"}`)
	assert.Equal(t, OutcomeOK, o, "the call is resent on a new session: %s", e.Data)
	assert.JSONEq(t, `{"order_id":"2","status":"shipped"}`, string(e.Data))
	// echo is not: it may fail once, but the session is new from then on.
	require.Eventually(t, func() bool {
		_, o := callOne(t, reg.NewRunner(names, Limits{}), "shop_echo", `{"text":"after"}`)
		return o == OutcomeOK
	}, 5*time.Second, 10*time.Millisecond)
}

func TestMCPToolListChanged(t *testing.T) {
	ts, srv := mcpHTTPServer(t, "")
	reg := newRegistry(t, RegistryConfig{MCP: []MCPServerConfig{{Name: "shop", Transport: TransportStreamableHTTP, URL: ts.URL}}})
	runRegistry(t, reg)
	names, err := reg.ServerTools(context.Background(), "shop")
	require.NoError(t, err)
	require.NotContains(t, names, "shop_refund")

	mcp.AddTool(srv, &mcp.Tool{Name: "refund", Description: "Refund an order."},
		func(_ context.Context, _ *mcp.CallToolRequest, in orderIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "refunded " + in.OrderID}}}, nil, nil
		})
	require.Eventually(t, func() bool { _, ok := reg.Get("shop_refund"); return ok }, 10*time.Second, 10*time.Millisecond,
		"the list is refreshed when the server says it changed")
	names, err = reg.ServerTools(context.Background(), "shop")
	require.NoError(t, err)
	assert.Contains(t, names, "shop_refund")
	e, o := callOne(t, reg.NewRunner(names, Limits{}), "shop_refund", `{"order_id":"100002"}`)
	assert.Equal(t, OutcomeOK, o)
	assert.Equal(t, `"refunded 100002"`, string(e.Data))
	assert.Contains(t, reg.Names(), "shop_refund")
}

func stdioConfig(name string) MCPServerConfig {
	return MCPServerConfig{
		Name: name, Transport: TransportStdio,
		Command: []string{os.Args[0], "-test.run=^$"},
		// The race detector otherwise sleeps a second at every exit.
		Env:    []string{stdioServerEnv + "=1", "GORACE=atexit_sleep_ms=0"},
		Prefix: "local.",
	}
}

// pidOf asks the stdio server for its pid, on a new run each time since a
// run would answer a repeated call from its cache.
func pidOf(t *testing.T, reg *Registry) int {
	t.Helper()
	e, o := callOne(t, reg.NewRunner([]string{"local_pid"}, Limits{}), "local_pid", `{}`)
	require.Equal(t, OutcomeOK, o, "%s", e.Data)
	var p pidOut
	require.NoError(t, json.Unmarshal(e.Data, &p))
	require.NotZero(t, p.PID)
	return p.PID
}

// gone reports whether no process (not even a zombie) has that pid.
func gone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

func TestMCPStdio(t *testing.T) {
	reg := newRegistry(t, RegistryConfig{MCP: []MCPServerConfig{stdioConfig("local")}})
	stop := runRegistry(t, reg)
	names, err := reg.ServerTools(context.Background(), "local")
	require.NoError(t, err)
	assert.Equal(t, []string{"local_echo", "local_get_order", "local_pid", "local_slow"}, names, "the prefix is sanitised")

	ru := reg.NewRunner(names, Limits{MaxCalls: 20})
	first := pidOf(t, reg)
	assert.NotEqual(t, os.Getpid(), first)
	e, o := callOne(t, ru, "local_echo", `{"text":"hi"}`)
	require.Equal(t, OutcomeOK, o)
	assert.Equal(t, `"echo: hi"`, string(e.Data))

	// The server dies; the session is found broken and a new child
	// serves the next call (pid is read-only, so a call that met the
	// broken session is resent).
	require.NoError(t, syscall.Kill(first, syscall.SIGKILL))
	require.Eventually(t, func() bool { return gone(first) }, 10*time.Second, 10*time.Millisecond, "the dead child is waited for")
	second := pidOf(t, reg)
	assert.NotEqual(t, first, second)

	stop()
	assert.True(t, gone(second), "Run waits for the child when it closes the session")
}

func TestMCPCallTimeout(t *testing.T) {
	cfg := stdioConfig("local")
	cfg.CallTimeout = 50 * time.Millisecond
	reg := newRegistry(t, RegistryConfig{MCP: []MCPServerConfig{cfg}})
	runRegistry(t, reg)
	names, err := reg.ServerTools(context.Background(), "local")
	require.NoError(t, err)
	ru := reg.NewRunner(names, Limits{})
	_, o := callOne(t, ru, "local_slow", `{"ms":5000}`)
	assert.Equal(t, OutcomeTimeout, o)
	_, o = callOne(t, ru, "local_echo", `{"text":"still alive"}`)
	assert.Equal(t, OutcomeOK, o, "a timed-out call leaves the session usable")
}

func TestMCPIdleSessionReaped(t *testing.T) {
	cfg := stdioConfig("local")
	cfg.IdleTimeout = 40 * time.Millisecond
	reg := newRegistry(t, RegistryConfig{MCP: []MCPServerConfig{cfg}})
	runRegistry(t, reg)
	_, err := reg.ServerTools(context.Background(), "local")
	require.NoError(t, err)
	first := pidOf(t, reg)
	require.Eventually(t, func() bool { return gone(first) }, 10*time.Second, 10*time.Millisecond,
		"an idle session is closed and its child waited for")
	second := pidOf(t, reg)
	assert.NotEqual(t, first, second, "the next call opens a new session")
}

func TestMCPUnreachableServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	reg := newRegistry(t, RegistryConfig{MCP: []MCPServerConfig{{Name: "down", Transport: TransportStreamableHTTP,
		URL: "http://" + addr + "/mcp", ConnectTimeout: time.Second}}})
	runRegistry(t, reg)
	_, err = reg.ServerTools(context.Background(), "down")
	require.Error(t, err)
	require.ErrorIs(t, err, ErrUnavailable)
	_, err = reg.ServerTools(context.Background(), "nope")
	require.Error(t, err)
	ru := reg.NewRunner([]string{"down_anything"}, Limits{})
	_, notes := ru.Offer()
	assert.Len(t, notes, 1, "tools of a server never reached are hidden with a note")
}

func TestNewMCPRefuses(t *testing.T) {
	tests := []struct {
		name string
		give []MCPServerConfig
		want string
	}{
		{name: "no name", give: []MCPServerConfig{{Transport: TransportStdio, Command: []string{"x"}}}, want: "no name"},
		{name: "twice", give: []MCPServerConfig{{Name: "a", Transport: TransportStdio, Command: []string{"x"}}, {Name: "a", Transport: TransportStdio, Command: []string{"x"}}}, want: "twice"},
		{name: "transport", give: []MCPServerConfig{{Name: "a", Transport: "sse"}}, want: "transport"},
		{name: "url", give: []MCPServerConfig{{Name: "a", Transport: TransportStreamableHTTP, URL: "ftp://x"}}, want: "url"},
		{name: "command", give: []MCPServerConfig{{Name: "a", Transport: TransportStdio}}, want: "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistry(RegistryConfig{MCP: tt.give, Logger: quietLog})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestMCPResult(t *testing.T) {
	tests := []struct {
		name string
		give *mcp.CallToolResult
		want Result
	}{
		{name: "texts joined", give: &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "a"}, &mcp.TextContent{Text: "b"}}},
			want: Result{Content: []byte("a\nb")}},
		{name: "structured wins", give: &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "x"}}, StructuredContent: map[string]any{"k": 1}},
			want: Result{Content: []byte(`{"k":1}`)}},
		{name: "error flag", give: &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: "no such order"}}},
			want: Result{Content: []byte("no such order"), IsError: true}},
		{name: "image named", give: &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{MIMEType: "image/png"}}},
			want: Result{Content: []byte("[image: image/png]")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, mcpResult(tt.give))
		})
	}
}
