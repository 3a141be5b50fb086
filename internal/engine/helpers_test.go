package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/provider"
	"github.com/floodgate-dev/floodgate/internal/router"
	"github.com/floodgate-dev/floodgate/internal/shop"
	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/store/sqlite"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(submitAndDie())
	}
	code := m.Run()
	if demoShop != nil {
		_ = demoShop.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// demoShop is one shop for every test: seeding it is the slow part of a
// test's set-up, and the tests only read it (returns aside).
var (
	demoShop     *shop.Shop
	demoShopOnce sync.Once
	demoShopErr  error
)

func sharedShop(t testing.TB) *shop.Shop {
	t.Helper()
	demoShopOnce.Do(func() { demoShop, demoShopErr = shop.Open(context.Background(), shop.Config{Orders: 300}) })
	require.NoError(t, demoShopErr)
	return demoShop
}

// requireService skips a test whose service is missing, except under
// CI=true, where a missing service is a failure.
func requireService(t testing.TB, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("%s not available: %v", name, err)
}

// simModels are the sim's default models made always accurate, so that
// tests see the intended tool and answer every time.
func simModels() []sim.Model {
	ms := sim.DefaultModels()
	for i := range ms {
		ms[i].Accuracy = sim.Accuracy{}
	}
	return ms
}

// newSimRouter serves a sim on a loopback port and returns a router over a
// provider client for it, as cmd/floodgate wires them.
func newSimRouter(t testing.TB, sc sim.Config) (*sim.Sim, *router.Router) {
	t.Helper()
	if sc.Models == nil {
		sc.Models = simModels()
	}
	if sc.TimeScale == 0 {
		sc.TimeScale = sim.NoDelay
	}
	if sc.WanderRate == 0 {
		sc.WanderRate = -1
	}
	if sc.WanderContinue == 0 {
		sc.WanderContinue = -1
	}
	s, err := sim.New(sc)
	require.NoError(t, err)
	srv := httptest.NewServer(s.Handler())
	pc, err := provider.New(provider.Config{Name: "sim", BaseURL: srv.URL + "/v1"})
	require.NoError(t, err)
	t.Cleanup(func() {
		pc.Close()
		s.Close()
		srv.Close()
	})
	rt, err := router.New(router.Config{Endpoints: []router.Endpoint{{
		Name:   "sim",
		Client: pc,
		Models: []router.Route{
			{Model: "large", Price: router.Price{Input: 2.5, CachedInput: 1.25, Output: 10}},
			{Model: "small", Price: router.Price{Input: 0.15, CachedInput: 0.075, Output: 0.6}},
		},
	}}})
	require.NoError(t, err)
	return s, rt
}

// testShop is the demo shop served on a loopback port, counting requests.
type testShop struct {
	*shop.Shop
	url  string
	hits atomic.Int64
}

func newShop(t testing.TB) *testShop {
	t.Helper()
	sh := sharedShop(t)
	ts := &testShop{Shop: sh}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.hits.Add(1)
		sh.Handler().ServeHTTP(w, r)
	}))
	ts.url = srv.URL
	t.Cleanup(srv.Close)
	return ts
}

const orderParams = `{"type":"object","properties":{"order_id":{"type":"string","pattern":"^[0-9]{5,9}$","description":"The order number."}},"required":["order_id"]}`

// shopTools declares the demo shop's tools as the demo agents use them.
func shopTools(base string, client *http.Client) []tool.HTTPConfig {
	return []tool.HTTPConfig{
		{Name: "get_order_status", Description: "Look up an order by its number: status, items and totals.",
			URL: base + "/orders/{order_id}", Parameters: json.RawMessage(orderParams), Client: client},
		{Name: "track_shipment", Description: "Track the shipment of an order: carrier, tracking number, status and ETA.",
			URL: base + "/orders/{order_id}/shipment", Parameters: json.RawMessage(orderParams), Client: client},
		{Name: "create_return", Description: "Start a return and refund for a delivered order.", Method: "POST",
			URL:        base + "/returns",
			Parameters: json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"},"reason":{"type":"string"}},"required":["order_id","reason"]}`),
			Client:     client},
		{Name: "search_products", Description: "Search the product catalog by words; returns names, prices and stock.",
			URL:        base + "/products",
			Parameters: json.RawMessage(`{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}`),
			Client:     client},
	}
}

// newRegistry returns a registry of the shop's tools plus extra Go tools.
func newRegistry(t testing.TB, shopURL string, extra ...tool.Tool) *tool.Registry {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	reg, err := tool.NewRegistry(tool.RegistryConfig{HTTP: shopTools(shopURL, &http.Client{Transport: tr}), Tools: extra})
	require.NoError(t, err)
	return reg
}

// demoAgents are the three demo agents.
func demoAgents() []Agent {
	return []Agent{
		{
			Name: "support", Description: "General customer support: orders and shipments.",
			Instructions: "You are the shop's support agent. Be brief and precise.",
			Model:        "large",
			Tools:        []string{"get_order_status", "track_shipment", tool.EscalateName, UserStateTool},
			Handoffs:     []string{"after_sales", "recommend"},
		},
		{
			Name: "after_sales", Description: "Handles returns and refunds of delivered orders.",
			Instructions: "You handle returns and refunds.",
			Model:        "large",
			Tools:        []string{"create_return", "get_order_status"},
			Handoffs:     []string{"support"},
		},
		{
			Name: "recommend", Description: "Recommends products from the catalog and answers questions about stock.",
			Instructions: "You recommend products.",
			Model:        "small",
			Tools:        []string{"search_products"},
			Handoffs:     []string{"support"},
		},
	}
}

func sqliteOpen(ctx context.Context, path string) (*sqlite.Store, error) {
	return sqlite.Open(ctx, sqlite.Config{Path: path})
}

// openSQLite opens a SQLite store on path (a new temp file when "").
func openSQLite(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "fg.db")
	}
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	require.NoError(t, err)
	return st
}

// call is what the recorder saw of one model call.
type call struct {
	marker     string // the "[#…]" marker of the last user message
	prior      string // the marker of the user message before it
	priorUsers int    // user messages before the last one
	tools      []string
	msgs       int
}

// recorder wraps a Model and records every call.
type recorder struct {
	Model
	mu    sync.Mutex
	calls []call
}

var markerRE = regexp.MustCompile(`\[#[^\]]+\]`)

func (r *recorder) note(req *llm.Request) {
	c := call{msgs: len(req.Messages)}
	users := 0
	for _, m := range req.Messages {
		if m.Role == llm.RoleUser {
			users++
			c.prior, c.marker = c.marker, markerRE.FindString(m.Content.String())
		}
	}
	c.priorUsers = users - 1
	for _, tl := range req.Tools {
		c.tools = append(c.tools, tl.Function.Name)
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

func (r *recorder) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	r.note(req)
	return r.Model.Complete(ctx, req)
}

func (r *recorder) Stream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	r.note(req)
	return r.Model.Stream(ctx, req)
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// env is an engine over the sim (through provider and router), the demo
// shop's tools and a store.
type env struct {
	sim    *sim.Sim
	router *router.Router
	rec    *recorder
	shop   *testShop
	reg    *tool.Registry
	store  *sqlite.Store
	engine *Engine
	obs    *countingObserver
}

type envOptions struct {
	sim    sim.Config
	agents []Agent
	store  *sqlite.Store // nil: a new temp-file store, closed at cleanup
	config func(*Config)
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	e := &env{shop: newShop(t), obs: &countingObserver{}}
	e.sim, e.router = newSimRouter(t, o.sim)
	e.rec = &recorder{Model: e.router}
	e.reg = newRegistry(t, e.shop.url)
	e.store = o.store
	if e.store == nil {
		e.store = openSQLite(t, "")
		t.Cleanup(func() { require.NoError(t, e.store.Close()) })
	}
	if o.agents == nil {
		o.agents = demoAgents()
	}
	cfg := Config{Agents: o.agents, Model: e.rec, Sessions: e.store, Tools: e.reg, Observer: e.obs}
	if o.config != nil {
		o.config(&cfg)
	}
	var err error
	e.engine, err = New(cfg)
	require.NoError(t, err)
	return e
}

// countingObserver counts what the engine reports.
type countingObserver struct {
	runs, modelCalls, budget, handoffs, leaseWaits, overheads atomic.Int64
	mu                                                        sync.Mutex
	overhead                                                  []time.Duration
	keep                                                      bool
}

func (o *countingObserver) RunFinished(string, string, time.Duration) { o.runs.Add(1) }
func (o *countingObserver) ModelCall(string, string, time.Duration, error) {
	o.modelCalls.Add(1)
}
func (o *countingObserver) ToolBudgetExhausted(string) { o.budget.Add(1) }
func (o *countingObserver) Handoff(string, string)     { o.handoffs.Add(1) }
func (o *countingObserver) LeaseWait(time.Duration)    { o.leaseWaits.Add(1) }
func (o *countingObserver) Overhead(_ string, d time.Duration) {
	o.overheads.Add(1)
	if o.keep {
		o.mu.Lock()
		o.overhead = append(o.overhead, d)
		o.mu.Unlock()
	}
}

// usageSink keeps the usage records the engine publishes.
type usageSink struct {
	mu   sync.Mutex
	recs []ledger.Record
}

func (s *usageSink) Publish(r *ledger.Record) bool {
	s.mu.Lock()
	s.recs = append(s.recs, *r)
	s.mu.Unlock()
	return true
}

func (s *usageSink) records() []ledger.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ledger.Record(nil), s.recs...)
}

// scripted is a model that answers from a script, for behaviour the sim
// never shows (and for failure injection). Each call takes the next step;
// the last step repeats.
type scripted struct {
	mu    sync.Mutex
	steps []func(req *llm.Request) (*llm.Response, error)
	n     int
	reqs  []*llm.Request
}

func (s *scripted) Complete(_ context.Context, req *llm.Request) (*llm.Response, error) {
	s.mu.Lock()
	step := s.steps[min(s.n, len(s.steps)-1)]
	s.n++
	s.reqs = append(s.reqs, req.Clone())
	s.mu.Unlock()
	return step(req)
}

func (s *scripted) Stream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return nil, fmt.Errorf("scripted model does not stream")
}

func answer(text string) func(*llm.Request) (*llm.Response, error) {
	return func(*llm.Request) (*llm.Response, error) {
		return &llm.Response{Model: "large", Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.Text(text)}, FinishReason: llm.FinishStop}},
			Usage: &llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}}, nil
	}
}

func callTool(id, name, args string) func(*llm.Request) (*llm.Response, error) {
	return func(*llm.Request) (*llm.Response, error) {
		return &llm.Response{Model: "large", Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant,
			ToolCalls: []llm.ToolCall{{ID: id, Type: "function", Function: llm.FunctionCall{Name: name, Arguments: args}}}},
			FinishReason: llm.FinishToolCalls}}, Usage: &llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15}}, nil
	}
}

func toolNames(res *Result) []string {
	names := make([]string, len(res.ToolCalls))
	for i, c := range res.ToolCalls {
		names[i] = c.Name
	}
	return names
}
