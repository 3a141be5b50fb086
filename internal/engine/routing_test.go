package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/intent"
	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// routedAgents are the demo agents with a small model for simple intents.
func routedAgents() []Agent {
	agents := demoAgents()
	for i := range agents {
		agents[i].SimpleModel = "small"
	}
	return agents
}

// modelsSeen wraps a Model and keeps the model of every request.
type modelsSeen struct {
	Model
	mu     sync.Mutex
	models []string
}

func (m *modelsSeen) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	m.mu.Lock()
	m.models = append(m.models, req.Model)
	m.mu.Unlock()
	return m.Model.Complete(ctx, req)
}

func (m *modelsSeen) take() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.models
	m.models = nil
	return out
}

func TestModelChoiceByIntent(t *testing.T) {
	seen := &modelsSeen{}
	reg := prometheus.NewRegistry()
	rm, err := NewRoutingMetrics(reg)
	require.NoError(t, err)
	env := newEnv(t, envOptions{agents: routedAgents(), config: func(c *Config) {
		seen.Model = c.Model
		c.Model = seen
		c.ChoiceObserver = rm
	}})
	ctx := context.Background()

	res, err := env.engine.Run(ctx, RunRequest{Tenant: "t", Agent: "support", Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)
	require.Equal(t, StatusCompleted, res.Status)
	assert.Equal(t, &ModelChoice{Agent: "support", Model: "small", Reason: "simple_intent", Intent: "order_status",
		Complexity: "simple", Confidence: res.ModelChoice.Confidence, Source: "rules"}, res.ModelChoice)
	assert.Equal(t, []string{"small"}, res.Models)
	assert.Equal(t, []string{"small", "small"}, seen.take(), "every call of the turn goes to the chosen model")
	assert.Contains(t, res.Output, "100123")

	// A return is complex: support chooses the large model, and so does
	// after_sales, whose policy chooses again after the handoff.
	var choices []ModelChoice
	res, err = env.engine.Run(ctx, RunRequest{Tenant: "t", Agent: "support", Input: "I want to return order 100123, it arrived damaged"},
		func(ev Event) {
			if c, ok := ev.Data.(*ModelChoice); ok {
				choices = append(choices, *c)
			}
		})
	require.NoError(t, err)
	require.Len(t, choices, 2)
	assert.Equal(t, []string{"support", "after_sales"}, []string{choices[0].Agent, choices[1].Agent})
	for _, c := range choices {
		assert.Equal(t, "large", c.Model)
		assert.Equal(t, "complex_intent", c.Reason)
		assert.Equal(t, "return_refund", c.Intent)
	}
	assert.Equal(t, &choices[1], res.ModelChoice, "the result has the answering agent's choice")
	assert.Equal(t, []string{"large"}, res.Models)

	assert.InDelta(t, 1, testutil.ToFloat64(rm.choices.WithLabelValues("support", "small", "simple_intent")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(rm.choices.WithLabelValues("support", "large", "complex_intent")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(rm.choices.WithLabelValues("after_sales", "large", "complex_intent")), 0)
}

func TestModelChoiceByRequest(t *testing.T) {
	agents := routedAgents()
	agents[0].Routing = modelpolicy.Config{
		Tiers: map[string]string{"vip": "large"},
		Peak:  modelpolicy.Peak{Load: 0.8, Tiers: []string{"free"}},
	}
	env := newEnv(t, envOptions{agents: agents})
	tests := []struct {
		name       string
		give       RunRequest
		wantModel  string
		wantReason modelpolicy.Reason
	}{
		{"simple", RunRequest{Input: "Where is my order 100123?"}, "small", modelpolicy.ReasonSimple},
		{"vip tier pinned", RunRequest{Input: "Where is my order 100123?", Tier: "vip"}, "large", modelpolicy.ReasonTier},
		{"soft budget", RunRequest{Input: "Can you compare the two tents you sell?", BudgetSoft: true}, "small", modelpolicy.ReasonBudget},
		{"free tier at peak", RunRequest{Input: "Can you compare the two tents you sell?", Tier: "free", Load: 0.9}, "small", modelpolicy.ReasonPeak},
		{"free tier below peak", RunRequest{Input: "Can you compare the two tents you sell?", Tier: "free", Load: 0.5}, "large", modelpolicy.ReasonComplex},
		{"load over 1 is peak", RunRequest{Input: "Can you compare the two tents you sell?", Tier: "free", Load: 7}, "small", modelpolicy.ReasonPeak},
		{"tier restricted", RunRequest{Input: "Can you compare the two tents you sell?", Models: []string{"small"}}, "small", modelpolicy.ReasonTierRestricted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.give.Tenant, tt.give.Agent = "t", "support"
			res, err := env.engine.Run(context.Background(), tt.give, nil)
			require.NoError(t, err)
			require.NotNil(t, res.ModelChoice)
			assert.Equal(t, tt.wantModel, res.ModelChoice.Model)
			assert.Equal(t, string(tt.wantReason), res.ModelChoice.Reason)
			assert.Equal(t, tt.wantModel, res.Models[0])
		})
	}
}

// TestModelEscalation: after a turn of the small model that failed a check the
// next turn goes to the large model, worked out from the stored turn.
func TestModelEscalation(t *testing.T) {
	env := newEnv(t, envOptions{agents: routedAgents()})
	ctx := context.Background()
	turn := func(session, input string) *Result {
		t.Helper()
		res, err := env.engine.Run(ctx, RunRequest{Tenant: "t", Agent: "support", SessionID: session, Input: input}, nil)
		require.NoError(t, err)
		require.NotNil(t, res.ModelChoice)
		return res
	}
	type step struct{ input, model, reason string }
	tests := []struct {
		name  string
		steps []step
	}{
		{"tool error", []step{
			{"Where is my order 999999?", "small", "simple_intent"}, // the shop has no such order
			{"Where is my order 100123?", "large", "escalated_tool_error"},
			{"And can you track order 100200?", "small", "simple_intent"}, // the large model's answer was fine
		}},
		{"repeated question", []step{
			{"Where is my order 100123?", "small", "simple_intent"},
			{"where is my order 100123??", "large", "escalated_repeat"},
			{"Thanks! Where is order 100124?", "small", "simple_intent"},
		}},
		{"a different order is no repeat", []step{
			{"Where is my order 100123?", "small", "simple_intent"},
			{"Where is my order 100124?", "small", "simple_intent"},
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			session := fmt.Sprintf("esc-%d", i)
			for j, s := range tt.steps {
				res := turn(session, s.input)
				assert.Equal(t, s.model, res.ModelChoice.Model, "turn %d", j+1)
				assert.Equal(t, s.reason, res.ModelChoice.Reason, "turn %d", j+1)
				assert.Equal(t, []string{s.model}, res.Models, "turn %d", j+1)
			}
		})
	}
}

// TestModelEscalationLowConfidence: an answer that says it could not help is a
// failed check; the same answer from the large model is not escalated
// from.
func TestModelEscalationLowConfidence(t *testing.T) {
	unsureAnswer := answer("I'm sorry, I'm not sure I understood your request. Could you tell me a bit more?")
	m := &scripted{steps: []func(*llm.Request) (*llm.Response, error){unsureAnswer, answer("Your order is on its way."),
		unsureAnswer, answer("Here you are.")}}
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large", SimpleModel: "small"}}, Model: m, Sessions: st})
	require.NoError(t, err)
	ctx := context.Background()
	run := func(session, input string) *ModelChoice {
		t.Helper()
		res, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "a", SessionID: session, Input: input}, nil)
		require.NoError(t, err)
		return res.ModelChoice
	}
	assert.Equal(t, "small", run("s1", "Where is my order 100123?").Model)
	c := run("s1", "Hello? Order 100123, where is it?")
	assert.Equal(t, "large", c.Model)
	assert.Equal(t, "escalated_low_confidence", c.Reason)

	// Standard intents go to the large model: its unsure answer does not
	// escalate the next turn, which goes back to the small model.
	assert.Equal(t, "large", run("s2", "Can you compare the two tents you sell?").Model)
	c = run("s2", "Where is my order 100124?")
	assert.Equal(t, "small", c.Model)
	assert.Equal(t, "simple_intent", c.Reason)
	require.Len(t, m.reqs, 4)
	assert.Equal(t, []string{"small", "large", "large", "small"},
		[]string{m.reqs[0].Model, m.reqs[1].Model, m.reqs[2].Model, m.reqs[3].Model})
}

func TestUnsure(t *testing.T) {
	tests := []struct {
		give string
		want bool
	}{
		{"Your order 100123 is in transit.", false},
		{"I'm sorry, I'm not sure I understood your request.", true},
		{"I’m afraid I can’t help with that directly.", true},
		{"I'm sorry, I couldn't find anything for 999999.", true},
		{"I'm sorry, I don't have that information.", true},
		{"", false},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, unsure(tt.give), tt.give)
	}
}

// TestUsageRecords: one call record per model call and one run record per
// run, failures included, with the intent, model, endpoint, tokens and
// cost of each.
func TestUsageRecords(t *testing.T) {
	sink := &usageSink{}
	env := newEnv(t, envOptions{agents: routedAgents(), config: func(c *Config) { c.Usage = sink }})
	ctx := context.Background()
	res, err := env.engine.Run(ctx, RunRequest{Tenant: "acme", Tier: "standard", Agent: "support", UserID: "u1",
		Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)
	recs := sink.records()
	require.Len(t, recs, 3)
	var sum ledger.USD
	for i, c := range recs[:2] {
		assert.Equal(t, ledger.KindCall, c.Kind)
		assert.Equal(t, res.RunID, c.RunID)
		assert.Equal(t, i+1, c.Call)
		assert.Equal(t, "acme", c.Tenant)
		assert.Equal(t, "standard", c.Tier)
		assert.Equal(t, "u1", c.UserID)
		assert.Equal(t, res.SessionID, c.SessionID)
		assert.Equal(t, "support", c.Agent)
		assert.Equal(t, "order_status", c.Intent)
		assert.Equal(t, "small", c.Model)
		assert.Equal(t, "sim", c.Endpoint)
		assert.Positive(t, c.TokensIn)
		assert.Positive(t, c.TokensOut)
		assert.Positive(t, c.Cost)
		assert.Positive(t, c.Latency)
		assert.Equal(t, ledger.StatusOK, c.Status)
		sum += c.Cost
	}
	run := recs[2]
	assert.Equal(t, ledger.KindRun, run.Kind)
	assert.Equal(t, res.RunID, run.RunID)
	assert.Equal(t, StatusCompleted, run.Status)
	assert.Equal(t, "small", run.Model)
	assert.Equal(t, "order_status", run.Intent)
	assert.Equal(t, ledger.Dollars(res.Cost), run.Cost)
	assert.InDelta(t, float64(sum), float64(run.Cost), 2, "the run's cost is its calls'")
	assert.Empty(t, run.Error)

	// A model that fails: a call record with the error, and a run the
	// ladder answered.
	require.NoError(t, env.sim.SetFaults(sim.Faults{ErrorRate: 1, ErrorStatus: 500}))
	res, err = env.engine.Run(ctx, RunRequest{Tenant: "acme", Agent: "support", Input: "Where is my order 100124?"}, nil)
	require.NoError(t, err)
	require.Equal(t, StatusDegraded, res.Status)
	recs = sink.records()[3:]
	require.Len(t, recs, 2)
	assert.Equal(t, ledger.KindCall, recs[0].Kind)
	assert.Equal(t, ledger.StatusError, recs[0].Status)
	assert.NotEmpty(t, recs[0].Error, "the error kind")
	assert.Equal(t, ledger.KindRun, recs[1].Kind)
	assert.Equal(t, StatusDegraded, recs[1].Status)
	assert.True(t, recs[1].Degraded)
	assert.Equal(t, "model_error", recs[1].Error, "the trigger")
}

// TestUsageRecordsOutsideTheLoop: the intent classifier's model stage and
// the summaries are metered too.
func TestUsageRecordsOutsideTheLoop(t *testing.T) {
	sink := &usageSink{}
	q := &jobQueue{}
	agents := routedAgents()
	for i := range agents {
		agents[i].Intent = intent.Config{Model: intent.ModelStage{Model: "small"}}
		agents[i].Context = ContextPolicy{RecentTurns: 1}
	}
	env := newEnv(t, envOptions{agents: agents, config: func(c *Config) {
		c.Usage = sink
		c.Publisher = q
	}})
	ctx := context.Background()
	// No rule knows this message: the classifier asks the small model.
	first, err := env.engine.Run(ctx, RunRequest{Tenant: "acme", Agent: "support", SessionID: "s1", Input: "hmm"}, nil)
	require.NoError(t, err)
	var classify []ledger.Record
	for _, r := range sink.records() {
		if r.Intent == IntentClassify {
			classify = append(classify, r)
		}
	}
	require.Len(t, classify, 1)
	assert.Equal(t, first.RunID+"/"+IntentClassify+"/support", classify[0].ID)
	assert.Equal(t, "small", classify[0].Model)
	assert.Equal(t, "acme", classify[0].Tenant)
	assert.Equal(t, "s1", classify[0].SessionID)

	_, err = env.engine.Run(ctx, RunRequest{Tenant: "acme", Agent: "support", SessionID: "s1", Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)
	require.Positive(t, q.drain(t, env.engine), "the first turn left the window of 1")
	var summaries []ledger.Record
	for _, r := range sink.records() {
		if r.Intent == IntentSummary {
			summaries = append(summaries, r)
		}
	}
	require.Len(t, summaries, 1)
	s := summaries[0]
	assert.Equal(t, ledger.KindCall, s.Kind)
	assert.Equal(t, "small", s.Model)
	assert.Equal(t, "support", s.Agent)
	assert.Equal(t, "s1", s.SessionID)
	assert.Positive(t, s.TokensIn)
	assert.Positive(t, s.Cost)
	assert.Equal(t, ledger.StatusOK, s.Status)
}

// TestToolResultFilter: every tool result goes through the filter before
// the model sees it, and the session stores what the model saw.
func TestToolResultFilter(t *testing.T) {
	type seen struct{ tenant, tool, content string }
	var mu sync.Mutex
	var got []seen
	filter := func(_ context.Context, tenant, tool, content string) string {
		mu.Lock()
		got = append(got, seen{tenant, tool, content})
		mu.Unlock()
		return `{"type":"quarantined_tool_result","tool":"` + tool + `","data":"withheld"}`
	}
	m := &scripted{steps: []func(*llm.Request) (*llm.Response, error){
		callTool("c1", "get_order_status", `{"order_id":"100123"}`), answer("Done."),
	}}
	shop := newShop(t)
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large", Tools: []string{"get_order_status"}}},
		Model: m, Sessions: st, Tools: newRegistry(t, shop.url), ToolResultFilter: filter})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := e.Run(ctx, RunRequest{Tenant: "acme", Agent: "a", Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)
	require.Equal(t, StatusCompleted, res.Status)

	require.Len(t, got, 1)
	assert.Equal(t, "acme", got[0].tenant)
	assert.Equal(t, "get_order_status", got[0].tool)
	assert.True(t, strings.HasPrefix(got[0].content, `{"type":"tool_result","tool":"get_order_status","data":{"order_id"`), got[0].content)

	require.Len(t, m.reqs, 2)
	last := m.reqs[1].Messages[len(m.reqs[1].Messages)-1]
	assert.Equal(t, llm.RoleTool, last.Role)
	assert.Equal(t, `{"type":"quarantined_tool_result","tool":"get_order_status","data":"withheld"}`, last.Content.String(),
		"the model sees the filtered result")
	sess, err := e.Session(ctx, "acme", res.SessionID)
	require.NoError(t, err)
	require.Len(t, sess.Turns, 1)
	assert.NotContains(t, fmt.Sprint(sess.Turns[0].Messages), "100123\",\"status", "the session stores what the model saw")
}

// BenchmarkRoute measures what model choice adds to a turn: working out
// how the stored previous turn went, classifying the message (a new
// session each time: no cache hit) and choosing the model.
func BenchmarkRoute(b *testing.B) {
	st := openSQLite(b, "")
	b.Cleanup(func() { require.NoError(b, st.Close()) })
	a := routedAgents()[0]
	a.Handoffs, a.Tools = nil, nil
	e, err := New(Config{Agents: []Agent{a}, Model: &scripted{steps: []func(*llm.Request) (*llm.Response, error){answer("ok")}}, Sessions: st})
	require.NoError(b, err)
	prev := store.Turn{ID: "r1", Seq: 1, Agent: "support", Messages: []llm.Message{
		{Role: llm.RoleUser, Content: llm.Text("Where is my order 100123?")},
		{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c1", Type: "function", Function: llm.FunctionCall{Name: "get_order_status", Arguments: `{"order_id":"100123"}`}}}},
		{Role: llm.RoleTool, ToolCallID: "c1", Content: llm.Text(`{"type":"tool_result","tool":"get_order_status","data":{"order_id":100123,"status":"in_transit"},"is_error":false,"truncated":false}`)},
		{Role: llm.RoleAssistant, Content: llm.Text("Your order 100123 is currently in_transit. It should arrive by 2026-11-29.")},
	}}
	sess := &store.Session{Tenant: "t", ID: "s", Agent: "support", TurnCount: 1, Turns: []store.Turn{prev}}
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		r := &run{e: e, req: &RunRequest{Tenant: "t", Agent: "support", SessionID: "s" + strconv.Itoa(i), Input: "And when will order 100200 arrive?", Tier: "standard"},
			start: time.Now(), sess: sess, entry: e.agents["support"], agent: e.agents["support"]}
		r.route(ctx)
		if r.model != "small" {
			b.Fatalf("model %s", r.model)
		}
	}
}
