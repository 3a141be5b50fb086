package tool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// stdioServerEnv makes the test binary serve the test MCP server on its
// stdin and stdout instead of running tests: the stdio transport's child.
const stdioServerEnv = "FLOODGATE_TOOL_TEST_MCP_STDIO"

func TestMain(m *testing.M) {
	if os.Getenv(stdioServerEnv) == "1" {
		err := newTestMCPServer().Run(context.Background(), &mcp.StdioTransport{})
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, mcp.ErrConnectionClosed) {
			fmt.Fprintln(os.Stderr, "mcp stdio server:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	// The shared client's idle keep-alive connections are not leaks.
	sharedClient.CloseIdleConnections()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var quietLog = slog.New(slog.DiscardHandler)

type orderIn struct {
	OrderID string `json:"order_id" jsonschema:"the order number"`
}

type orderOut struct {
	OrderID string `json:"order_id"`
	Status  string `json:"status"`
}

type echoIn struct {
	Text string `json:"text"`
}

type pidOut struct {
	PID int `json:"pid"`
}

type slowIn struct {
	MS int `json:"ms"`
}

// newTestMCPServer is the MCP server the tests talk to, over streamable
// HTTP in process and over stdio in a child: get_order (structured
// content; order "0" is a domain error), echo (text), pid (the serving
// process), slow (waits, honouring cancellation).
func newTestMCPServer() *mcp.Server {
	s := mcp.NewServer(&mcp.Implementation{Name: "test-shop", Version: "1"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "get_order", Description: "Look up an order by number.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(_ context.Context, _ *mcp.CallToolRequest, in orderIn) (*mcp.CallToolResult, orderOut, error) {
			if in.OrderID == "0" {
				return nil, orderOut{}, errors.New("order not found")
			}
			return nil, orderOut{OrderID: in.OrderID, Status: "shipped"}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "echo", Description: "Echo the text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "echo: " + in.Text}}}, nil, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "pid", Description: "The server's process id.",
		Annotations: &mcp.ToolAnnotations{ReadOnlyHint: true}},
		func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, pidOut, error) {
			return nil, pidOut{PID: os.Getpid()}, nil
		})
	mcp.AddTool(s, &mcp.Tool{Name: "slow", Description: "Wait ms milliseconds."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in slowIn) (*mcp.CallToolResult, any, error) {
			select {
			case <-time.After(time.Duration(in.MS) * time.Millisecond):
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "done"}}}, nil, nil
		})
	return s
}

// upstream is an httptest server playing a tool's API; it counts hits,
// records the last request and tracks concurrency.
type upstream struct {
	*httptest.Server
	hits    atomic.Int32
	active  atomic.Int32
	maxSeen atomic.Int32
	mu      sync.Mutex
	last    seenReq
}

type seenReq struct {
	Method, Path, RawPath, Query string
	Header                       http.Header
	Body                         string
}

func newUpstream(t testing.TB, h http.HandlerFunc) *upstream {
	t.Helper()
	u := &upstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.hits.Add(1)
		n := u.active.Add(1)
		defer u.active.Add(-1)
		for {
			m := u.maxSeen.Load()
			if n <= m || u.maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.last = seenReq{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: string(b)}
		u.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastReq() seenReq {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// orderAPI answers /orders/{id} like the demo shop: 404 for unknown ids.
func orderAPI(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if id == "" {
		id = r.URL.Path[len("/orders/"):]
	}
	if id == "404" {
		writeJSON(w, http.StatusNotFound, `{"error":"order not found"}`)
		return
	}
	writeJSON(w, http.StatusOK, `{"order_id":"`+id+`","status":"shipped"}`)
}

const orderParams = `{"type":"object","properties":{"order_id":{"type":"string","pattern":"^[0-9]+$"}},"required":["order_id"]}`

func newRegistry(t testing.TB, cfg RegistryConfig) *Registry {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLog
	}
	r, err := NewRegistry(cfg)
	require.NoError(t, err)
	return r
}

func toolCall(id, name, args string) llm.ToolCall {
	return llm.ToolCall{ID: id, Type: "function", Function: llm.FunctionCall{Name: name, Arguments: args}}
}

// envelope is a decoded tool message.
type envelope struct {
	Type      string          `json:"type"`
	Tool      string          `json:"tool"`
	Data      json.RawMessage `json:"data"`
	IsError   bool            `json:"is_error"`
	Truncated bool            `json:"truncated"`
}

func decodeEnvelope(t testing.TB, m llm.Message) envelope {
	t.Helper()
	var e envelope
	dec := json.NewDecoder(strings.NewReader(m.Content.Text))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&e), "tool message content: %s", m.Content.Text)
	require.Equal(t, "tool_result", e.Type)
	return e
}

// errorText returns data.error of an envelope, or "".
func errorText(e envelope) string {
	var d struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(e.Data, &d)
	return d.Error
}

// recorder is an Observer that records what it is told.
type recorder struct {
	mu     sync.Mutex
	calls  []string // tool/outcome
	states []string // tool/state
}

func (r *recorder) ToolCall(tool, outcome string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, tool+"/"+outcome)
}

func (r *recorder) BreakerState(tool, state string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = append(r.states, tool+"/"+state)
}

func (r *recorder) snapshot() (calls, states []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), append([]string(nil), r.states...)
}
