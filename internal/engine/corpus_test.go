package engine

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/queue"
	"github.com/floodgate-dev/floodgate/internal/shop"
	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// The context corpus: long customer conversations that give their order
// number, an amount, an email and a phone number early, then wander
// through order, tracking, return, product and small-talk turns, and end
// with recall probes. Each is driven through two engines over the same
// in-process sim, whose summaries drop entities: one managing context
// (the default policy, summaries on Q2), one sending the full history.
var (
	corpusConversations = flag.Int("engine.corpus", 0, "conversations of the context corpus (0: 3 in TestContextCorpus, 200 in BenchmarkContextCorpus)")
	corpusLoss          = flag.Float64("engine.corpus.loss", 1, "the sim's SummaryLoss in the context corpus: the probability that a summary drops each entity")
	corpusParallel      = flag.Int("engine.corpus.parallel", 4, "conversations of the context corpus run at once")
	corpusNoFacts       = flag.Bool("engine.corpus.nofacts", false, "also run the context corpus with summaries but no pinned facts (the ablation)")
)

// convo is one generated conversation and what its probes must answer.
type convo struct {
	inputs []string
	probes map[int]string // input index → the value the answer must quote
}

// Turn templates; {o} is one of the customer's orders.
var (
	statusAsks = []string{"Where is my order {o}?", "What's the status of order {o}?", "Has order {o} shipped yet?",
		"Can you check order {o} for me?", "Any news on order {o}?"}
	trackAsks = []string{"When will order {o} arrive?", "Can you track the parcel of order {o}?",
		"Which carrier delivers order {o}?", "Is order {o} out for delivery?"}
	returnAsks = []string{"I want to return order {o}, it arrived damaged.", "Please start a return for order {o}, it doesn't fit.",
		"I'd like to send order {o} back for a refund."}
	productAsks = []string{"Do you have wireless headphones in stock?", "Can you recommend running shoes?",
		"Are there any coffee grinders available?", "Do you sell camping tents?", "I'm looking for a laptop stand.",
		"Do you have kids' toys for a 5 year old?"}
	smallTalk = []string{"Thanks!", "Great, thank you.", "Ok.", "Hello again.", "Thank you so much, that helps."}
	otherAsks = []string{"Do you ship to Austria?", "Can I pay by invoice?", "Do you have a store in Berlin?",
		"How do I change my password?"}
)

// generate makes conversation i of the corpus: 40 to 60 turns, the facts
// in the first two, four probes at the end.
func generate(r *rand.Rand, i int) convo {
	orders := make([]string, 0, 3)
	for len(orders) < 3 {
		o := fmt.Sprint(100001 + r.IntN(300))
		if !slices.Contains(orders, o) {
			orders = append(orders, o)
		}
	}
	cents := 1000 + r.IntN(19000)
	amount := fmt.Sprintf("€%d.%02d", cents/100, cents%100)
	if r.IntN(2) == 0 {
		amount = fmt.Sprintf("%d.%02d EUR", cents/100, cents%100)
	}
	email := fmt.Sprintf("customer%d@example.com", i)
	phone := fmt.Sprintf("+49 30 %07d", 1000000+r.IntN(9000000))
	c := convo{probes: map[int]string{}}
	c.inputs = append(c.inputs,
		fmt.Sprintf("Hi, I was charged %s for order %s and the item is broken, I want a refund.", amount, orders[0]),
		fmt.Sprintf("You can reach me at %s or on %s if needed.", email, phone),
		fmt.Sprintf("Also, where is my order %s?", orders[1]),
	)
	n := 40 + r.IntN(21)
	for len(c.inputs) < n-4 {
		o := orders[r.IntN(len(orders))]
		var t string
		switch x := r.IntN(100); {
		case x < 30:
			t = statusAsks[r.IntN(len(statusAsks))]
		case x < 50:
			t = trackAsks[r.IntN(len(trackAsks))]
		case x < 60:
			t = returnAsks[r.IntN(len(returnAsks))]
		case x < 75:
			t = productAsks[r.IntN(len(productAsks))]
		case x < 90:
			t = smallTalk[r.IntN(len(smallTalk))]
		default:
			t = otherAsks[r.IntN(len(otherAsks))]
		}
		c.inputs = append(c.inputs, strings.ReplaceAll(t, "{o}", o))
	}
	probe := func(q, want string) {
		c.probes[len(c.inputs)] = want
		c.inputs = append(c.inputs, q)
	}
	probe("What was the order number I gave you first?", orders[0])
	probe("How much was the refund?", amount)
	probe("What is my email?", email)
	probe("Which phone number did I give you?", phone)
	return c
}

// corpusSide is what one engine's run of the corpus measured.
type corpusSide struct {
	calls, summaryCalls         atomic.Int64
	prompt, summaryPrompt, most atomic.Int64
	hits, probes                atomic.Int64
	turns                       atomic.Int64
	mu                          sync.Mutex
	violations                  []string
	misses                      []string
}

func (s *corpusSide) violation(format string, args ...any) {
	s.mu.Lock()
	if len(s.violations) < 20 {
		s.violations = append(s.violations, fmt.Sprintf(format, args...))
	}
	s.mu.Unlock()
}

func (s *corpusSide) avg() float64 { return float64(s.prompt.Load()) / float64(max(1, s.calls.Load())) }

// checkingModel passes calls to the model and checks and measures each
// request: no orphaned tool message, no prompt over the limit, the prompt
// tokens the sim billed.
type checkingModel struct {
	Model
	side  *corpusSide
	limit int
}

func isSummaryCall(req *llm.Request) bool {
	return len(req.Messages) > 0 && strings.HasPrefix(req.Messages[0].Content.String(), "You keep the running summary")
}

func (m *checkingModel) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if n := len(ctxwindow.Sanitize(req.Messages)); n != len(req.Messages) {
		m.side.violation("a request with %d orphaned messages", len(req.Messages)-n)
	}
	resp, err := m.Model.Complete(ctx, req)
	if err != nil || resp.Usage == nil {
		return resp, err
	}
	p := int64(resp.Usage.PromptTokens)
	if p > int64(m.limit) {
		m.side.violation("a request of %d prompt tokens, over %d", p, m.limit)
	}
	if isSummaryCall(req) {
		m.side.summaryCalls.Add(1)
		m.side.summaryPrompt.Add(p)
		return resp, nil
	}
	m.side.calls.Add(1)
	m.side.prompt.Add(p)
	for {
		cur := m.side.most.Load()
		if p <= cur || m.side.most.CompareAndSwap(cur, p) {
			break
		}
	}
	return resp, nil
}

// ctxObserver collects what context management reports.
type ctxObserver struct {
	mu        sync.Mutex
	overhead  []time.Duration
	summaries map[string]int
	misses    atomic.Int64
}

func (o *ctxObserver) Overhead(_ string, d time.Duration) {
	o.mu.Lock()
	o.overhead = append(o.overhead, d)
	o.mu.Unlock()
}

func (o *ctxObserver) Summarized(_, outcome string, _ time.Duration) {
	o.mu.Lock()
	o.summaries[outcome]++
	o.mu.Unlock()
}

func (o *ctxObserver) FactsUnreachable(_ string, n int) { o.misses.Add(int64(n)) }

// timedPublisher measures the publishing of summary jobs.
type timedPublisher struct {
	Publisher
	mu sync.Mutex
	d  []time.Duration
}

func (p *timedPublisher) Publish(ctx context.Context, subject, id string, data []byte, hdr map[string]string) error {
	t0 := time.Now()
	err := p.Publisher.Publish(ctx, subject, id, data, hdr)
	if strings.HasPrefix(subject, subjectSummariesPrefix) {
		p.mu.Lock()
		p.d = append(p.d, time.Since(t0))
		p.mu.Unlock()
	}
	return err
}

// corpusAgents are the demo agents with the small model for summaries.
func corpusAgents(p ContextPolicy) []Agent {
	agents := demoAgents()
	for i := range agents {
		agents[i].SimpleModel = "small"
		agents[i].Context = p
		agents[i].Tools = slices.DeleteFunc(agents[i].Tools, func(s string) bool { return s == UserStateTool })
	}
	agents[1].Tools = append(agents[1].Tools, "get_return_status") // after_sales
	return agents
}

// corpusEngine is one engine of the corpus with its own shop and store.
func corpusEngine(t testing.TB, rt Model, side *corpusSide, p ContextPolicy, cfg func(*Config)) *Engine {
	t.Helper()
	sh, err := shop.Open(context.Background(), shop.Config{Orders: 300})
	require.NoError(t, err)
	srv := httptest.NewServer(sh.Handler())
	t.Cleanup(func() {
		srv.Close()
		_ = sh.Close()
	})
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	tools := append(shopTools(srv.URL, &http.Client{Transport: tr}), tool.HTTPConfig{Name: "get_return_status",
		Description: "Get the status and refund amount of a return by its return number.", URL: srv.URL + "/returns/{return_id}",
		Parameters: []byte(`{"type":"object","properties":{"return_id":{"type":"string"}},"required":["return_id"]}`),
		Client:     &http.Client{Transport: tr}})
	reg, err := tool.NewRegistry(tool.RegistryConfig{HTTP: tools})
	require.NoError(t, err)
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	np, err := p.Normalize()
	require.NoError(t, err)
	c := Config{Agents: corpusAgents(p), Model: &checkingModel{Model: rt, side: side, limit: np.ContextLimit - np.ReplyTokens},
		Sessions: st, Tools: reg, Logger: quiet}
	if cfg != nil {
		cfg(&c)
	}
	e, err := New(c)
	require.NoError(t, err)
	return e
}

// corpusReport is the outcome of one run of the corpus.
type corpusReport struct {
	conversations int
	managed, full *corpusSide
	noFacts       *corpusSide // the ablation, when asked for
	overheadP50   time.Duration
	overheadP99   time.Duration
	overheadMax   time.Duration
	publishP50    time.Duration
	publishP99    time.Duration
	summaries     map[string]int
	misses        int64
	elapsed       time.Duration
}

func (r *corpusReport) String() string {
	m, f := r.managed, r.full
	return fmt.Sprintf("%d conversations, %d turns each way in %s\n"+
		"managed: %d agent calls, %.0f prompt tokens per call (max %d); recall %d/%d; %d summary calls (%.0f prompt tokens each)\n"+
		"full history: %d agent calls, %.0f prompt tokens per call (max %d); recall %d/%d\n"+
		"context management per turn: p50 %s, p99 %s, max %s; summary job publish: p50 %s, p99 %s\n"+
		"summary jobs: %v; facts unreachable after summaries: %d; violations: %v %v",
		r.conversations, m.turns.Load(), r.elapsed.Round(time.Second),
		m.calls.Load(), m.avg(), m.most.Load(), m.hits.Load(), m.probes.Load(), m.summaryCalls.Load(),
		float64(m.summaryPrompt.Load())/float64(max(1, m.summaryCalls.Load())),
		f.calls.Load(), f.avg(), f.most.Load(), f.hits.Load(), f.probes.Load(),
		r.overheadP50, r.overheadP99, r.overheadMax, r.publishP50, r.publishP99,
		r.summaries, r.misses, m.violations, f.violations) + r.ablation()
}

func (r *corpusReport) ablation() string {
	a := r.noFacts
	if a == nil {
		return ""
	}
	return fmt.Sprintf("\nsummaries without pinned facts: %.0f prompt tokens per call; recall %d/%d; violations: %v",
		a.avg(), a.hits.Load(), a.probes.Load(), a.violations)
}

// drive runs the conversations through e, parallel at a time, and checks
// the probes' answers.
func drive(t testing.TB, e *Engine, convos []convo, side *corpusSide, parallel int) {
	t.Helper()
	ctx := context.Background()
	work := make(chan int)
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range work {
				c := convos[i]
				sid := fmt.Sprintf("conv-%d", i)
				for j, in := range c.inputs {
					res, err := e.Run(ctx, RunRequest{Tenant: "corpus", Agent: "support", SessionID: sid, Input: in}, nil)
					if err != nil || res.Status == StatusFailed {
						side.violation("conversation %d turn %d: %v %+v", i, j, err, res)
						break
					}
					side.turns.Add(1)
					if want, ok := c.probes[j]; ok {
						side.probes.Add(1)
						if strings.Contains(res.Output, want) {
							side.hits.Add(1)
						} else {
							side.mu.Lock()
							side.misses = append(side.misses, fmt.Sprintf("conversation %d %q: want %s, got %q", i, in, want, res.Output))
							side.mu.Unlock()
						}
					}
				}
			}
		})
	}
	for i := range convos {
		work <- i
	}
	close(work)
	wg.Wait()
}

// noFacts pins nothing.
var noFacts = ctxwindow.FactsPolicy{Builtins: []string{}, ToolFields: []ctxwindow.ToolField{}}

// summarised drives the conversations through an engine with policy p and
// summaries on an embedded Q2, and returns its timed publisher.
func summarised(t testing.TB, rt Model, convos []convo, side *corpusSide, p ContextPolicy, obs *ctxObserver) *timedPublisher {
	t.Helper()
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Config{DataDir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	require.NoError(t, q.EnsureStream(ctx, queue.StreamConfig{Name: "SUMMARIES", Subjects: []string{SubjectSummaries}, WorkQueue: true}))
	pub := &timedPublisher{Publisher: q}
	e := corpusEngine(t, rt, side, p, func(c *Config) {
		c.Publisher, c.ContextObserver = pub, obs
	})
	w, err := q.Worker(queue.ConsumerConfig{Stream: "SUMMARIES", Durable: "summaries", Concurrency: 2},
		func(ctx context.Context, m queue.Msg) error {
			return e.HandleSummaryMessage(ctx, m.Data(), m.Deliveries())
		})
	require.NoError(t, err)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	drive(t, e, convos, side, *corpusParallel)
	stop()
	require.NoError(t, <-done)
	return pub
}

// runCorpus drives n conversations through a context-managing engine
// (summaries on an embedded Q2) and a full-history engine, and with
// -engine.corpus.nofacts through one with summaries but no pinned facts.
func runCorpus(t testing.TB, n int) *corpusReport {
	t.Helper()
	t0 := time.Now()
	_, rt := newSimRouter(t, sim.Config{Seed: 7, SummaryLoss: *corpusLoss})
	r := rand.New(rand.NewPCG(2026, 4))
	convos := make([]convo, n)
	for i := range convos {
		convos[i] = generate(r, i)
	}
	rep := &corpusReport{conversations: n, managed: &corpusSide{}, full: &corpusSide{}}

	// Context management: the default policy, summaries on Q2.
	obs := &ctxObserver{summaries: map[string]int{}}
	pub := summarised(t, rt, convos, rep.managed, ContextPolicy{}, obs)

	// The ablation: summaries but no pinned facts, to show what they hold.
	if *corpusNoFacts {
		rep.noFacts = &corpusSide{}
		summarised(t, rt, convos, rep.noFacts, ContextPolicy{Facts: noFacts}, &ctxObserver{summaries: map[string]int{}})
	}

	// The baseline: every turn, no facts, no summaries.
	full := corpusEngine(t, rt, rep.full, ContextPolicy{RecentTurns: 1000, MaxPendingTurns: 1000, MaxTokens: 120_000,
		Facts: noFacts}, nil)
	drive(t, full, convos, rep.full, *corpusParallel)

	obs.mu.Lock()
	rep.overheadP50, rep.overheadP99, rep.overheadMax = percentile(obs.overhead, 0.5), percentile(obs.overhead, 0.99), percentile(obs.overhead, 1)
	rep.summaries = obs.summaries
	obs.mu.Unlock()
	pub.mu.Lock()
	rep.publishP50, rep.publishP99 = percentile(pub.d, 0.5), percentile(pub.d, 0.99)
	pub.mu.Unlock()
	rep.misses = obs.misses.Load()
	rep.elapsed = time.Since(t0)
	return rep
}

// TestContextCorpus runs a few long conversations of the corpus (3, or 1
// under -race; all 200 with -engine.corpus=200) and holds context management to its bar: every
// probed fact recalled although the sim's summaries drop every entity,
// fewer than 3,000 prompt tokens per call on average and fewer than the
// full history, no orphaned tool message, no prompt over the limit, no
// fact unreachable after a summary.
func TestContextCorpus(t *testing.T) {
	n := *corpusConversations
	switch {
	case n > 0:
	case raceEnabled:
		n = 1 // ten times slower under -race: one conversation of 40-60 turns
	default:
		n = 3
	}
	rep := runCorpus(t, n)
	t.Log(rep)
	m, f := rep.managed, rep.full
	assert.Empty(t, m.violations)
	assert.Empty(t, f.violations)
	assert.Equal(t, m.probes.Load(), m.hits.Load(), "probe recall with context management: %v", m.misses)
	assert.Equal(t, int64(4*n), m.probes.Load())
	assert.LessOrEqual(t, m.avg(), 3000.0)
	assert.Less(t, m.avg(), f.avg(), "context management sends less than the full history")
	assert.Zero(t, rep.misses, "facts unreachable after a summary")
	assert.Positive(t, rep.summaries[ctxwindow.OutcomeFolded], "summaries were written")
}

// BenchmarkContextCorpus runs the whole corpus (200 conversations, or
// -engine.corpus) once per iteration and reports its figures; run it with
// -benchtime=1x.
func BenchmarkContextCorpus(b *testing.B) {
	n := *corpusConversations
	if n == 0 {
		n = 200
	}
	var rep *corpusReport
	for b.Loop() {
		rep = runCorpus(b, n)
	}
	b.Log(rep)
	m, f := rep.managed, rep.full
	b.ReportMetric(m.avg(), "prompt_tokens/call")
	b.ReportMetric(f.avg(), "full_history_prompt_tokens/call")
	b.ReportMetric(100*float64(m.hits.Load())/float64(max(1, m.probes.Load())), "recall_%")
	b.ReportMetric(100*float64(f.hits.Load())/float64(max(1, f.probes.Load())), "full_history_recall_%")
	b.ReportMetric(float64(rep.overheadP99.Microseconds()), "ctx_p99_µs/turn")
	b.ReportMetric(float64(rep.publishP99.Microseconds()), "publish_p99_µs/job")
	b.ReportMetric(float64(rep.misses), "facts_unreachable")
	b.ReportMetric(float64(len(m.violations)+len(f.violations)), "violations")
	if a := rep.noFacts; a != nil {
		b.ReportMetric(100*float64(a.hits.Load())/float64(max(1, a.probes.Load())), "no_facts_recall_%")
	}
}
