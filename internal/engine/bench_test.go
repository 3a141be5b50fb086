package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

var (
	benchSessions = flag.Int("engine.sessions", 100_000, "sessions of BenchmarkIdleSessionHeap")
	benchInflight = flag.Int("engine.inflight", 5_000, "concurrent runs of BenchmarkInflightHeap")
	benchLatency  = flag.Duration("engine.latency", 10*time.Second, "model latency of BenchmarkInflightHeap/sim: longer than the time all runs take to reach the sim")
	benchHeapProf = flag.String("engine.heapprofile", "", "write BenchmarkInflightHeap's heap profile, taken while the runs are in flight, to this file")
)

// instantModel answers at once: with a tool call when tools are offered
// and the turn has no tool result yet, else with a short text. Its
// responses are built once and shared (the engine only reads them).
type instantModel struct {
	toolCall, text *llm.Response
}

func newInstantModel(toolName, args string) *instantModel {
	u := &llm.Usage{PromptTokens: 200, CompletionTokens: 20, TotalTokens: 220}
	return &instantModel{
		toolCall: &llm.Response{Model: "large", Usage: u, Choices: []llm.Choice{{FinishReason: llm.FinishToolCalls, Message: llm.Message{
			Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_1", Type: "function", Function: llm.FunctionCall{Name: toolName, Arguments: args}}},
		}}}},
		text: &llm.Response{Model: "large", Usage: u, Choices: []llm.Choice{{FinishReason: llm.FinishStop, Message: llm.Message{
			Role: llm.RoleAssistant, Content: llm.Text("Your order 100123 has shipped and arrives on Friday."),
		}}}},
	}
}

func (m *instantModel) Complete(_ context.Context, req *llm.Request) (*llm.Response, error) {
	if len(req.Tools) > 0 && req.Messages[len(req.Messages)-1].Role == llm.RoleUser {
		return m.toolCall, nil
	}
	return m.text, nil
}

func (m *instantModel) Stream(context.Context, *llm.Request) (llm.Stream, error) {
	return nil, fmt.Errorf("not streaming")
}

// lookupTool is an in-process tool that answers at once.
type lookupTool struct{}

var lookupResult = []byte(`{"order_id":100123,"status":"shipped","carrier":"DHL","eta":"2026-11-29"}`)

func (lookupTool) Decl() llm.Tool {
	return llm.Tool{Type: "function", Function: llm.FunctionDecl{Name: "lookup_order", Description: "Look up an order.",
		Parameters: json.RawMessage(orderParams)}}
}

func (lookupTool) Call(context.Context, json.RawMessage) (tool.Result, error) {
	return tool.Result{Content: lookupResult}, nil
}

// benchEngine is an engine over m and a SQLite file store, with the
// lookup tool.
func benchEngine(b *testing.B, m Model, obs Observer) *Engine {
	b.Helper()
	st := openSQLite(b, "")
	b.Cleanup(func() { _ = st.Close() })
	reg, err := tool.NewRegistry(tool.RegistryConfig{Tools: []tool.Tool{lookupTool{}}})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Config{
		Agents: []Agent{{Name: "support", Model: "large", Instructions: "You are the shop's support agent.",
			Tools: []string{"lookup_order", UserStateTool}, Handoffs: []string{"after_sales"}},
			{Name: "after_sales", Model: "large", Description: "Returns and refunds."}},
		Model: m, Sessions: st, Tools: reg, Observer: obs, Logger: quiet,
	})
	if err != nil {
		b.Fatal(err)
	}
	return e
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// BenchmarkRunOverhead measures the engine's own cost per model call: a
// run against a model that answers at once, with the SQLite store (lease,
// load, append, release, user state read and update). "answer" is one
// model call; "tool" is a tool call to an in-process tool and the answer
// (two model calls). Sessions rotate over 200, so most runs load a window
// of 10 earlier turns. p50-ms/call is the median of run time divided by
// model calls; self-p50-ms/call the median of what the engine reports to
// its Observer (run time minus model, tool and lease-wait time).
func BenchmarkRunOverhead(b *testing.B) {
	for _, mode := range []string{"answer", "tool"} {
		b.Run(mode, func(b *testing.B) {
			m := newInstantModel("lookup_order", `{"order_id":"100123"}`)
			if mode == "answer" {
				m.toolCall = m.text
			}
			obs := &countingObserver{keep: true}
			e := benchEngine(b, m, obs)
			ctx := context.Background()
			var per []time.Duration
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				res, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "support", SessionID: "s" + strconv.Itoa(i%200),
					UserID: "u" + strconv.Itoa(i%50), Input: "Where is my order 100123?"}, nil)
				d := time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				per = append(per, d/time.Duration(res.ModelCalls))
				i++
			}
			b.ReportMetric(float64(percentile(per, 0.5).Microseconds())/1000, "p50-ms/call")
			b.ReportMetric(float64(percentile(per, 0.99).Microseconds())/1000, "p99-ms/call")
			obs.mu.Lock()
			b.ReportMetric(float64(percentile(obs.overhead, 0.5).Microseconds())/1000, "self-p50-ms/call")
			obs.mu.Unlock()
		})
	}
}

func heapInuse() (heap, stack uint64) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// BenchmarkIdleSessionHeap creates -engine.sessions sessions of one turn
// each (and a user state each) through Run, and reports the heap the
// process keeps for them afterwards: none should stay, since sessions live
// in the store. Run it with -benchtime=1x.
func BenchmarkIdleSessionHeap(b *testing.B) {
	n := *benchSessions
	for b.Loop() {
		e := benchEngine(b, newInstantModel("lookup_order", `{"order_id":"100123"}`), nil)
		ctx := context.Background()
		// One run first, so that lazily built state (prepared statements,
		// pools) is not counted as per session.
		if _, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "support", Input: "Where is my order 100123?"}, nil); err != nil {
			b.Fatal(err)
		}
		before, _ := heapInuse()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					id := strconv.FormatInt(i, 10)
					if _, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "support", SessionID: "s" + id, UserID: "u" + id,
						Input: "Where is my order 100123?"}, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		after, _ := heapInuse()
		b.ReportMetric(float64(int64(after)-int64(before))/float64(n), "heap-B/session")
		b.ReportMetric(float64(after)/(1<<20), "heap-MiB")
	}
}

// gateModel holds every call until n calls wait in it, lets the benchmark
// measure, then lets them through to the model behind it (nil: answer at
// once).
type gateModel struct {
	next    Model
	n       int64
	waiting atomic.Int64
	full    chan struct{} // closed when n calls wait
	open    chan struct{} // closed to let them through
	once    sync.Once
}

func (g *gateModel) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if g.waiting.Add(1) == g.n {
		g.once.Do(func() { close(g.full) })
	}
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, llm.AsError(ctx.Err())
	}
	return g.next.Complete(ctx, req)
}

func (g *gateModel) Stream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	return g.next.Stream(ctx, req)
}

// BenchmarkInflightHeap runs -engine.inflight runs at once and reports the
// heap (and goroutine stacks) per run while all of them wait on the model.
// "engine": the model is a gate in the process, so the figure is the
// engine's own (prompt, turn, lease timer, store calls). "sim": the runs
// then go through the router and a provider client over HTTP to an
// in-process sim whose model takes -engine.latency to answer, and the heap
// is sampled while the sim holds them all, so HTTP connections and the
// sim's own request state on the same heap are counted too. Run it with
// -benchtime=1x.
func BenchmarkInflightHeap(b *testing.B) {
	n := *benchInflight
	for _, mode := range []string{"engine", "sim"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				g := &gateModel{n: int64(n), full: make(chan struct{}), open: make(chan struct{})}
				g.next = newInstantModel("lookup_order", `{"order_id":"100123"}`)
				var s *sim.Sim
				if mode == "sim" {
					models := simModels()
					for i := range models {
						models[i].TTFT, models[i].TokensPerSecond = *benchLatency, 0
					}
					var rt Model
					s, rt = newSimRouterModel(b, sim.Config{Models: models, TimeScale: 1})
					g.next = rt
				}
				e := benchEngine(b, g, nil)
				ctx := context.Background()
				before, stackBefore := heapInuse()
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						id := strconv.Itoa(i)
						if _, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "support", SessionID: "s" + id, UserID: "u" + id,
							Input: "Where is my order 100123?"}, nil); err != nil {
							b.Error(err)
						}
					})
				}
				<-g.full
				if s != nil {
					close(g.open)
					deadline := time.Now().Add(*benchLatency)
					for s.Stats().InFlight < int64(n) && time.Now().Before(deadline) {
						time.Sleep(time.Millisecond)
					}
					b.ReportMetric(float64(s.Stats().InFlight), "in-sim")
				}
				heap, stack := heapInuse()
				if *benchHeapProf != "" {
					writeHeapProfile(b, *benchHeapProf+"."+mode)
				}
				if s == nil {
					close(g.open)
				}
				wg.Wait()
				b.ReportMetric(float64(int64(heap)-int64(before))/float64(n), "heap-B/run")
				b.ReportMetric(float64(int64(stack)-int64(stackBefore))/float64(n), "stack-B/run")
			}
		})
	}
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// newSimRouterModel is newSimRouter for benchmarks, returning the router
// as a Model.
func newSimRouterModel(b *testing.B, sc sim.Config) (*sim.Sim, Model) {
	s, rt := newSimRouter(b, sc)
	return s, rt
}
