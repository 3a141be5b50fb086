package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// jobQueue is a Publisher that keeps summary jobs for the test to run
// when it chooses (as a Q2 worker would, later) and drops the rest.
type jobQueue struct {
	mu   sync.Mutex
	jobs [][]byte
	ids  []string
}

func (q *jobQueue) Publish(_ context.Context, subject, id string, data []byte, _ map[string]string) error {
	if !strings.HasPrefix(subject, subjectSummariesPrefix) {
		return nil
	}
	q.mu.Lock()
	q.jobs = append(q.jobs, data)
	q.ids = append(q.ids, id)
	q.mu.Unlock()
	return nil
}

// drain runs the jobs published so far through e.
func (q *jobQueue) drain(t *testing.T, e *Engine) int {
	t.Helper()
	q.mu.Lock()
	jobs := q.jobs
	q.jobs = nil
	q.mu.Unlock()
	for _, j := range jobs {
		require.NoError(t, e.HandleSummaryMessage(context.Background(), j, 1))
	}
	return len(jobs)
}

// lastRequest keeps the last agent request a model got.
type lastRequest struct {
	Model
	mu  sync.Mutex
	req *llm.Request
}

func (m *lastRequest) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if !isSummaryCall(req) {
		m.mu.Lock()
		m.req = req.Clone()
		m.mu.Unlock()
	}
	return m.Model.Complete(ctx, req)
}

func (m *lastRequest) last() *llm.Request {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.req
}

func TestContextWindowSummariesAndFacts(t *testing.T) {
	q := &jobQueue{}
	lr := &lastRequest{}
	agents := demoAgents()
	for i := range agents {
		agents[i].SimpleModel = "small"
		agents[i].Context = ContextPolicy{RecentTurns: 4}
	}
	env := newEnv(t, envOptions{sim: sim.Config{SummaryLoss: 1}, agents: agents, config: func(c *Config) {
		c.Publisher = q
		lr.Model = c.Model
		c.Model = lr
	}})
	ctx := context.Background()
	run := func(in string) *Result {
		t.Helper()
		res, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", Input: in}, nil)
		require.NoError(t, err)
		require.Equal(t, StatusCompleted, res.Status, "%+v", res)
		return res
	}
	run("[#1] Hi, I paid €42.50 for order 100123 and want to know where it is.")
	run("[#2] My email is jane@example.com.")
	for i := 3; i <= 12; i++ {
		run(fmt.Sprintf("[#%d] Where is my order %d?", i, 100130+i))
		q.drain(t, env.engine)
	}
	assert.Len(t, q.ids, 8, "a job per turn once turns leave the window of 4")

	sess, err := env.engine.Session(ctx, "t1", "s1")
	require.NoError(t, err)
	assert.EqualValues(t, 8, sess.Summary.UpToSeq, "turns 1-8 summarised, 9-12 in the window")
	assert.NotContains(t, sess.Summary.Text, "100123", "the sim's summaries drop every entity")
	var facts []ctxwindow.Fact
	require.NoError(t, json.Unmarshal(sess.Facts, &facts))
	require.NotEmpty(t, facts)
	assert.Equal(t, ctxwindow.Fact{Kind: ctxwindow.KindAmount, Value: "€42.50", Key: "EUR 42.50", First: 1, Last: 1, Source: "user"}, facts[0])
	assert.Equal(t, "100123", facts[1].Value)

	// The window: facts first, then the summary; only the newest turns.
	res := run("[#13] What was the order number I gave you first?")
	assert.Contains(t, res.Output, "100123")
	req := lr.last()
	sys := req.Messages[0].Content.String()
	assert.Less(t, strings.Index(sys, "order numbers: 100123"), strings.Index(sys, "Earlier turns, in brief"), sys)
	var users []string
	for _, m := range req.Messages {
		if m.Role == llm.RoleUser {
			users = append(users, markerRE.FindString(m.Content.String()))
		}
	}
	assert.Equal(t, []string{"[#9]", "[#10]", "[#11]", "[#12]", "[#13]"}, users)
	assert.Contains(t, run("[#14] How much was the refund?").Output, "€42.50")
	assert.Contains(t, run("[#15] What is my email?").Output, "jane@example.com")
}

// TestContextWithoutSummaries: with no queue, nothing is summarised, and
// facts still come from the turns loaded, up to MaxPendingTurns.
func TestContextWithoutSummaries(t *testing.T) {
	agents := demoAgents()
	for i := range agents {
		agents[i].Context = ContextPolicy{RecentTurns: 2, MaxPendingTurns: 20}
	}
	env := newEnv(t, envOptions{agents: agents})
	ctx := context.Background()
	inputs := []string{"I was charged €19.99 for order 100201.", "Where is order 100202?", "Where is order 100203?",
		"Where is order 100204?", "Where is order 100205?", "What was the order number I gave you first?"}
	var res *Result
	for _, in := range inputs {
		var err error
		res, err = env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", Input: in}, nil)
		require.NoError(t, err)
	}
	assert.Contains(t, res.Output, "100201")
	assert.Equal(t, 2, env.rec.snapshot()[len(env.rec.snapshot())-1].priorUsers, "a window of 2 turns")
	sess, err := env.engine.Session(ctx, "t1", "s1")
	require.NoError(t, err)
	assert.Zero(t, sess.Summary.UpToSeq)
	assert.Contains(t, string(sess.Facts), `"value":"100201"`, "facts of the turns loaded")
}

func TestHandleSummaryMessage(t *testing.T) {
	model := &scripted{steps: []func(*llm.Request) (*llm.Response, error){
		func(*llm.Request) (*llm.Response, error) {
			return nil, &llm.Error{Kind: llm.KindUnavailable, Message: "down"}
		},
	}}
	env := newEnv(t, envOptions{config: func(c *Config) { c.Model = model; c.Logger = quiet }})
	ctx := context.Background()
	seedTurns(t, env, 6)
	job, _ := json.Marshal(ctxwindow.Job{Tenant: "t1", Session: "s1", Agent: "support", From: 1, To: 2})
	tests := []struct {
		name       string
		data       []byte
		deliveries int
		wantErr    bool
	}{
		{name: "malformed", data: []byte(`{"tenant":`), deliveries: 1},
		{name: "no range", data: []byte(`{"tenant":"t1","session":"s1","agent":"support"}`), deliveries: 1},
		{name: "unknown agent", data: []byte(`{"tenant":"t1","session":"s1","agent":"ghost","to":2}`), deliveries: 1},
		{name: "model down: again", data: job, deliveries: 1, wantErr: true},
		{name: "model down for good: dropped", data: job, deliveries: DefaultRunAttempts},
		{name: "gone session", data: []byte(`{"tenant":"t1","session":"nope","agent":"support","to":2}`), deliveries: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := env.engine.HandleSummaryMessage(ctx, tt.data, tt.deliveries)
			assert.Equal(t, tt.wantErr, err != nil, "%v", err)
		})
	}
}

// seedTurns stores n turns on session s1 of tenant t1 directly.
func seedTurns(t *testing.T, env *env, n int) {
	t.Helper()
	ctx := context.Background()
	st := env.store
	require.NoError(t, st.Create(ctx, &store.Session{Tenant: "t1", ID: "s1", Agent: "support"}))
	l, err := st.Acquire(ctx, "t1", "s1", "seed", 0)
	require.NoError(t, err)
	for i := range n {
		_, _, err := st.AppendTurn(ctx, "t1", "s1", l, store.Turn{ID: fmt.Sprint("seed-", i), Agent: "support",
			Messages: []llm.Message{{Role: llm.RoleUser, Content: llm.Text(fmt.Sprintf("Where is order %d?", 100001+i))},
				{Role: llm.RoleAssistant, Content: llm.Text("It has shipped.")}}})
		require.NoError(t, err)
	}
	require.NoError(t, st.Release(ctx, l))
}

func TestContextTooLarge(t *testing.T) {
	agents := demoAgents()
	for i := range agents {
		agents[i].Context = ContextPolicy{ContextLimit: 2000, ReplyTokens: 500, SummaryTokens: 100}
	}
	env := newEnv(t, envOptions{agents: agents})
	res, err := env.engine.Run(context.Background(), RunRequest{Tenant: "t1", Agent: "support",
		Input: strings.Repeat("Please read this very long complaint. ", 300)}, nil)
	require.NoError(t, err)
	// The turn cannot be sent to any model: the ladder answers (a
	// complaint: no rule; no handoff service: the apology).
	assert.Equal(t, StatusDegraded, res.Status)
	assert.Equal(t, "model_error", res.DegradedReason)
	assert.Equal(t, "message", res.Rung)
	assert.Zero(t, len(env.rec.snapshot()), "nothing was sent")
}
