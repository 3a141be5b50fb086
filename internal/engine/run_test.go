package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/degrade"
	"github.com/floodgate-dev/floodgate/internal/handoff"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

func TestConversationWithTools(t *testing.T) {
	env := newEnv(t, envOptions{})
	ctx := context.Background()
	order, err := env.shop.Order(ctx, 100123)
	require.NoError(t, err)

	res, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", UserID: "u1", Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.Status)
	assert.Equal(t, "support", res.Agent)
	assert.Equal(t, int64(1), res.Seq)
	require.Len(t, res.ToolCalls, 1)
	assert.Equal(t, "get_order_status", res.ToolCalls[0].Name)
	assert.JSONEq(t, `{"order_id":"100123"}`, string(res.ToolCalls[0].Arguments))
	assert.Equal(t, "ok", res.ToolCalls[0].Outcome)
	assert.Contains(t, res.Output, order.Status, "the answer names the order's status")
	assert.Equal(t, 2, res.ModelCalls)
	assert.Equal(t, []string{"large"}, res.Models)
	assert.Positive(t, res.Usage.TotalTokens)
	assert.Positive(t, res.Cost)
	assert.True(t, strings.HasPrefix(res.SessionID, "sess_"), res.SessionID)
	assert.True(t, strings.HasPrefix(res.RunID, "run_"), res.RunID)

	// The second turn leans on the first: no order number is repeated.
	res2, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: res.SessionID, Input: "When will it arrive?"}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res2.Status)
	assert.Equal(t, int64(2), res2.Seq)
	require.NotEmpty(t, res2.ToolCalls)
	assert.Equal(t, "track_shipment", res2.ToolCalls[0].Name)
	assert.JSONEq(t, `{"order_id":"100123"}`, string(res2.ToolCalls[0].Arguments))
	calls := env.rec.snapshot()
	assert.Equal(t, 1, calls[len(calls)-1].priorUsers, "the history went into the prompt")

	sess, err := env.engine.Session(ctx, "t1", res.SessionID)
	require.NoError(t, err)
	require.Len(t, sess.Turns, 2)
	assert.Equal(t, "u1", sess.UserID)
	first := sess.Turns[0]
	assert.Equal(t, res.RunID, first.ID)
	roles := make([]string, len(first.Messages))
	for i, m := range first.Messages {
		roles[i] = m.Role
	}
	assert.Equal(t, []string{"user", "assistant", "tool", "assistant"}, roles, "the turn keeps the call and its result together")
	assert.Equal(t, res.Output, outputOf(first.Messages))
	assert.Equal(t, first.Messages[1].ToolCalls[0].ID, first.Messages[2].ToolCallID)

	// The run recorded itself in the user's shared state.
	st, err := env.store.GetUser(ctx, "t1", "u1")
	require.NoError(t, err)
	var data map[string]any
	require.NoError(t, json.Unmarshal(st.Data, &data))
	assert.Equal(t, "support", data[UserKeyLastAgent])
	assert.Equal(t, []any{"100123"}, data[UserKeyRecentOrders])
	assert.NotEmpty(t, data[UserKeyLastSeen])
}

func TestHandoff(t *testing.T) {
	tests := []struct {
		name   string
		give   func(from, to string, msgs []llm.Message) []llm.Message
		wantTC bool // the receiving agent saw the transfer call
	}{
		{name: "full history", give: nil, wantTC: true},
		{name: "without tool calls", give: WithoutToolCalls, wantTC: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t, envOptions{config: func(c *Config) { c.HandoffFilter = tt.give }})
			ctx := context.Background()
			var events []Event
			res, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", UserID: "u1",
				Input: "I want to return order 100123, it arrived damaged and I want my money back"}, func(ev Event) { events = append(events, ev) })
			require.NoError(t, err)
			assert.Equal(t, StatusCompleted, res.Status)
			assert.Equal(t, "after_sales", res.Agent, "the agent that answered")
			require.Len(t, res.Handoffs, 1)
			assert.Equal(t, "support", res.Handoffs[0].From)
			assert.Equal(t, "after_sales", res.Handoffs[0].To)
			assert.Equal(t, []string{"transfer_to_after_sales", "create_return"}, toolNames(res))
			assert.Equal(t, "handoff", res.ToolCalls[0].Outcome)
			assert.EqualValues(t, 1, env.obs.handoffs.Load())

			var handoffs int
			for _, ev := range events {
				if ev.Type == EventHandoff {
					handoffs++
					assert.Equal(t, &Handoff{From: "support", To: "after_sales", Reason: res.Handoffs[0].Reason}, ev.Data)
				}
			}
			assert.Equal(t, 1, handoffs)

			// The receiving agent got its own tools and, filtered or not,
			// the conversation so far.
			calls := env.rec.snapshot()
			require.Len(t, calls, 3)
			assert.Contains(t, calls[0].tools, "transfer_to_after_sales")
			assert.Equal(t, []string{"create_return", "get_order_status", "transfer_to_support"}, calls[1].tools)
			assert.Equal(t, 0, calls[1].priorUsers)
			if tt.wantTC {
				assert.Equal(t, 4, calls[1].msgs, "system, user, transfer call, transfer result")
			} else {
				assert.Equal(t, 2, calls[1].msgs, "system, user")
			}

			// What is stored is never filtered.
			sess, err := env.engine.Session(ctx, "t1", "s1")
			require.NoError(t, err)
			assert.Equal(t, "after_sales", sess.Agent)
			require.Len(t, sess.Turns, 1)
			assert.Equal(t, "after_sales", sess.Turns[0].Agent)
			assert.Equal(t, "transfer_to_after_sales", sess.Turns[0].Messages[1].ToolCalls[0].Function.Name)

			// The client keeps addressing support; after_sales, reachable
			// from it, keeps the conversation.
			res2, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", Input: "Thanks!"}, nil)
			require.NoError(t, err)
			assert.Equal(t, "after_sales", res2.Agent)
			assert.Empty(t, res2.Handoffs)
		})
	}
}

func TestOwnerOnlyWhenReachable(t *testing.T) {
	agents := append(demoAgents(), Agent{Name: "solo", Model: "large", Instructions: "You chat."})
	env := newEnv(t, envOptions{agents: agents})
	ctx := context.Background()
	res, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1",
		Input: "I want to return order 100123, it arrived damaged"}, nil)
	require.NoError(t, err)
	require.Equal(t, "after_sales", res.Agent)

	res, err = env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "solo", SessionID: "s1", Input: "Hello"}, nil)
	require.NoError(t, err)
	assert.Equal(t, "solo", res.Agent, "solo cannot reach after_sales: the addressed agent answers")
}

func TestToolBudget(t *testing.T) {
	tests := []struct {
		name       string
		give       Limits
		wantCalls  int
		wantReason string
		wantModel  int
	}{
		{name: "default budget", give: Limits{}, wantCalls: 8, wantReason: ReasonToolBudget, wantModel: 9},
		{name: "budget 3", give: Limits{MaxToolCalls: 3}, wantCalls: 3, wantReason: ReasonToolBudget, wantModel: 4},
		{name: "max turns 3", give: Limits{MaxTurns: 3}, wantCalls: 2, wantReason: ReasonMaxTurns, wantModel: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agents := []Agent{{Name: "looper", Model: "large", Instructions: "You help with orders.",
				Tools: []string{"get_order_status", "track_shipment"}, Limits: tt.give}}
			env := newEnv(t, envOptions{agents: agents, sim: sim.Config{WanderRate: 1, WanderContinue: 1}})
			res, err := env.engine.Run(context.Background(), RunRequest{Tenant: "t1", Agent: "looper", Input: "Where is my order 100123?"}, nil)
			require.NoError(t, err)
			assert.Equal(t, StatusPartial, res.Status)
			assert.Equal(t, tt.wantReason, res.Reason)
			assert.NotEmpty(t, res.Output, "a useful answer, not an error page")
			assert.Len(t, res.ToolCalls, tt.wantCalls, "every call the model made counts")
			for _, c := range res.ToolCalls {
				assert.NotEqual(t, string(tool.OutcomeBudget), c.Outcome, "no call had to be refused")
			}
			assert.LessOrEqual(t, env.shop.hits.Load(), int64(tt.wantCalls), "no run executes more than its budget")
			assert.Equal(t, tt.wantModel, res.ModelCalls)
			calls := env.rec.snapshot()
			assert.Empty(t, calls[len(calls)-1].tools, "the last call offers no tools")
			if tt.wantReason == ReasonToolBudget {
				assert.EqualValues(t, 1, env.obs.budget.Load(), "the budget alert is counted")
			}
			assert.Contains(t, res.Output, "100123")
		})
	}
}

func TestIdempotentRunID(t *testing.T) {
	env := newEnv(t, envOptions{})
	ctx := context.Background()
	req := RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", RunID: "r-1", Input: "Where is my order 100123?"}
	first, err := env.engine.Run(ctx, req, nil)
	require.NoError(t, err)
	n := len(env.rec.snapshot())

	again, err := env.engine.Run(ctx, req, nil)
	require.NoError(t, err)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Output, again.Output)
	assert.Equal(t, first.Seq, again.Seq)
	assert.Len(t, env.rec.snapshot(), n, "a replay calls no model")

	sess, err := env.engine.Session(ctx, "t1", "s1")
	require.NoError(t, err)
	assert.Len(t, sess.Turns, 1)
}

func TestRestartSQLite(t *testing.T) {
	path := t.TempDir() + "/fg.db"
	ctx := context.Background()

	st1 := openSQLite(t, path)
	env1 := newEnv(t, envOptions{store: st1})
	res, err := env1.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "conv", Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.Seq)
	require.NoError(t, st1.Close())

	// A new process: new store, new engine, same file.
	st2 := openSQLite(t, path)
	t.Cleanup(func() { require.NoError(t, st2.Close()) })
	env2 := newEnv(t, envOptions{store: st2})
	res2, err := env2.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "conv", Input: "When will it arrive?"}, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(2), res2.Seq)
	assert.Equal(t, "track_shipment", res2.ToolCalls[0].Name)
	assert.JSONEq(t, `{"order_id":"100123"}`, string(res2.ToolCalls[0].Arguments), "the order number came from the stored history")
	assert.Equal(t, 1, env2.rec.snapshot()[0].priorUsers)
}

// concurrentTurns runs 50 turns on one session at once and checks that
// each is stored exactly once and was answered with exactly the turns
// stored before it: the window of the 10 newest, ending with the turn
// whose seq is one less.
func concurrentTurns(t *testing.T, sessions Sessions) {
	const n = 50
	env := newEnv(t, envOptions{config: func(c *Config) { c.Sessions = sessions }})
	ctx := context.Background()
	results := make([]*Result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "busy",
				Input: fmt.Sprintf("[#%d] Where is my order %d?", i, 100101+i)}, nil)
			if assert.NoError(t, err) {
				results[i] = res
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())

	// What each run's model calls saw; every call of a run agrees.
	seen := map[string]call{}
	for _, c := range env.rec.snapshot() {
		if p, ok := seen[c.marker]; ok {
			require.Equal(t, p.priorUsers, c.priorUsers, "every call of run %s saw the same history", c.marker)
			require.Equal(t, p.prior, c.prior, "every call of run %s saw the same history", c.marker)
		}
		seen[c.marker] = c
	}
	bySeq := map[int64]int{}
	for i, res := range results {
		assert.Equal(t, StatusCompleted, res.Status)
		_, dup := bySeq[res.Seq]
		assert.False(t, dup, "seq %d given twice", res.Seq)
		bySeq[res.Seq] = i
		assert.Contains(t, res.Output, fmt.Sprint(100101+i))
	}
	for i, res := range results {
		c := seen[fmt.Sprintf("[#%d]", i)]
		assert.EqualValues(t, min(res.Seq-1, DefaultRecentTurns), c.priorUsers, "run %d saw the window of turns before it", i)
		if res.Seq > 1 {
			assert.Equal(t, fmt.Sprintf("[#%d]", bySeq[res.Seq-1]), c.prior, "run %d (seq %d) was answered right after the turn with seq %d", i, res.Seq, res.Seq-1)
		}
	}
	sess, err := env.engine.Session(ctx, "t1", "busy")
	require.NoError(t, err)
	require.Len(t, sess.Turns, n)
	ids := map[string]bool{}
	for i, turn := range sess.Turns {
		assert.EqualValues(t, i+1, turn.Seq)
		assert.False(t, ids[turn.ID], "turn %s stored twice", turn.ID)
		ids[turn.ID] = true
		res := results[indexOfRun(results, turn.ID)]
		assert.Equal(t, res.Seq, turn.Seq)
		assert.Equal(t, res.Output, outputOf(turn.Messages), "the stored answer is the run's")
	}
}

func indexOfRun(results []*Result, id string) int {
	for i, r := range results {
		if r.RunID == id {
			return i
		}
	}
	return -1
}

func TestConcurrentTurnsOneSessionSQLite(t *testing.T) {
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	concurrentTurns(t, st)
}

func TestSharedUserStateConcurrentAgents(t *testing.T) {
	env := newEnv(t, envOptions{})
	ctx := context.Background()
	orders := []int{100101, 100102, 100103, 100104, 100105}
	var wg sync.WaitGroup
	for i, o := range orders {
		wg.Go(func() {
			_, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: fmt.Sprint("o", i), UserID: "alice",
				Input: fmt.Sprintf("Where is my order %d?", o)}, nil)
			assert.NoError(t, err)
		})
		wg.Go(func() {
			_, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "recommend", SessionID: fmt.Sprint("p", i), UserID: "alice",
				Input: "Can you recommend running shoes?"}, nil)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	st, err := env.store.GetUser(ctx, "t1", "alice")
	require.NoError(t, err)
	assert.EqualValues(t, 2*len(orders), st.Version, "every run's update landed on the one before it")
	var data struct {
		LastAgent    string   `json:"last_agent"`
		RecentOrders []string `json:"recent_orders"`
	}
	require.NoError(t, json.Unmarshal(st.Data, &data))
	assert.Contains(t, []string{"support", "recommend"}, data.LastAgent)
	assert.ElementsMatch(t, []string{"100101", "100102", "100103", "100104", "100105"}, data.RecentOrders, "no concurrent update was lost")
}

func TestStreamEvents(t *testing.T) {
	env := newEnv(t, envOptions{})
	var events []Event
	res, err := env.engine.Run(context.Background(), RunRequest{Tenant: "t1", Agent: "support", Stream: true,
		Input: "I want to return order 100123, it arrived damaged"}, func(ev Event) { events = append(events, ev) })
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(events), 4)
	assert.Equal(t, EventRunStarted, events[0].Type)
	assert.Equal(t, &RunStarted{RunID: res.RunID, SessionID: res.SessionID, Agent: "support"}, events[0].Data)
	last := events[len(events)-1]
	assert.Equal(t, EventRunCompleted, last.Type)
	assert.Same(t, res, last.Data)

	seen := map[string]int{}
	open := map[string]bool{}
	var text strings.Builder
	for _, ev := range events[1 : len(events)-1] {
		seen[ev.Type]++
		switch d := ev.Data.(type) {
		case *MessageDelta:
			text.WriteString(d.Content)
		case *ToolCallEvent:
			open[d.ID] = true
		case *ToolResultEvent:
			assert.True(t, open[d.ID], "tool.result %s after its tool.call", d.ID)
			assert.True(t, json.Valid(d.Result))
		case *Handoff:
		case *ModelChoice:
			assert.Equal(t, EventModelChosen, ev.Type)
		default:
			t.Errorf("unexpected event %s in the middle", ev.Type)
		}
	}
	assert.Equal(t, EventModelChosen, events[1].Type, "the choice follows run.started")
	assert.Equal(t, 2, seen[EventModelChosen], "a choice for support and one for after_sales")
	assert.Equal(t, 1, seen[EventHandoff])
	assert.Equal(t, 1, seen[EventToolCall])
	assert.Equal(t, 1, seen[EventToolResult])
	assert.Positive(t, seen[EventMessageDelta])
	assert.Equal(t, res.Output, text.String(), "the deltas spell the answer")
	assert.Positive(t, res.Usage.TotalTokens, "streamed calls report usage")
}

func TestRunRequestErrors(t *testing.T) {
	env := newEnv(t, envOptions{})
	tests := []struct {
		name string
		give RunRequest
		want error
	}{
		{name: "unknown agent", give: RunRequest{Tenant: "t", Agent: "nobody", Input: "hi"}, want: ErrUnknownAgent},
		{name: "no input", give: RunRequest{Tenant: "t", Agent: "support"}, want: ErrInvalidRequest},
		{name: "no tenant", give: RunRequest{Agent: "support", Input: "hi"}, want: ErrInvalidRequest},
		{name: "input too long", give: RunRequest{Tenant: "t", Agent: "support", Input: strings.Repeat("a", DefaultMaxInputBytes+1)}, want: ErrInvalidRequest},
		{name: "session id too long", give: RunRequest{Tenant: "t", Agent: "support", Input: "hi", SessionID: strings.Repeat("s", store.MaxKeyLen+1)}, want: ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []Event
			res, err := env.engine.Run(context.Background(), tt.give, func(ev Event) { events = append(events, ev) })
			assert.Nil(t, res)
			assert.ErrorIs(t, err, tt.want)
			require.Len(t, events, 1)
			assert.Equal(t, EventError, events[0].Type)
			assert.Equal(t, Describe(err), events[0].Data)
		})
	}
}

// failingModel fails its first n calls with err, then calls the model.
type failingModel struct {
	Model
	mu  sync.Mutex
	n   int
	err error
}

func (f *failingModel) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	f.mu.Lock()
	fail := f.n > 0
	f.n--
	f.mu.Unlock()
	if fail {
		return nil, f.err
	}
	return f.Model.Complete(ctx, req)
}

// TestModelFailureDegrades: a model that fails after the router's
// retries does not fail the run: the agent's ladder answers (the order
// question by the rules engine from the shop), the answer is stored like
// any other, and a retry with the same RunID replays it.
func TestModelFailureDegrades(t *testing.T) {
	fm := &failingModel{n: 1, err: &llm.Error{Kind: llm.KindUnavailable, Message: "no endpoint could serve the request"}}
	env := newEnv(t, envOptions{config: func(c *Config) {
		fm.Model = c.Model
		c.Model = fm
	}})
	ctx := context.Background()
	req := RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", RunID: "r-1", Input: "Where is my order 100123?"}
	res, err := env.engine.Run(ctx, req, nil)
	require.NoError(t, err, "a model failure is a result, not an error")
	assert.Equal(t, StatusDegraded, res.Status)
	assert.Equal(t, "no_healthy_endpoint", res.DegradedReason)
	assert.Equal(t, "rules", res.Rung, "the small model failed: the rules engine answers")
	assert.Contains(t, res.Output, "100123")
	assert.Nil(t, res.Error)
	assert.Equal(t, int64(1), res.Seq, "the answer the user saw is stored")
	sess, err := env.engine.Session(ctx, "t1", "s1")
	require.NoError(t, err)
	require.Len(t, sess.Turns, 1)
	assert.Equal(t, res.Output, outputOf(sess.Turns[0].Messages))

	res2, err := env.engine.Run(ctx, req, nil)
	require.NoError(t, err)
	assert.True(t, res2.Replayed, "the retry with the same RunID replays the stored answer")
	assert.Equal(t, res.Output, res2.Output)
}

// blockingModel blocks every call until its context ends or release is
// closed, then answers.
type blockingModel struct {
	started chan struct{}
	release chan struct{}
}

func (b *blockingModel) Complete(ctx context.Context, _ *llm.Request) (*llm.Response, error) {
	select {
	case b.started <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
		return nil, llm.AsError(ctx.Err())
	case <-b.release:
		return answer("done")(nil)
	}
}

func (b *blockingModel) Stream(context.Context, *llm.Request) (llm.Stream, error) {
	return nil, errors.New("not streaming")
}

// TestDeadline: a model slower than the agent's deadline is cut off a
// reserve before it, and the ladder answers within the deadline.
func TestDeadline(t *testing.T) {
	bm := &blockingModel{started: make(chan struct{}, 1), release: make(chan struct{})}
	agents := []Agent{{Name: "slow", Model: "large", Limits: Limits{Deadline: 80 * time.Millisecond}}}
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: agents, Model: bm, Sessions: st})
	require.NoError(t, err)
	start := time.Now()
	res, err := e.Run(context.Background(), RunRequest{Tenant: "t", Agent: "slow", SessionID: "s", Input: "hi"}, nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(start), 80*time.Millisecond+50*time.Millisecond, "answered about the deadline")
	assert.Equal(t, StatusDegraded, res.Status)
	assert.Equal(t, ReasonDeadline, res.Reason)
	assert.Equal(t, ReasonDeadline, res.DegradedReason)
	assert.Equal(t, "message", res.Rung)
	assert.NotEmpty(t, res.Output)

	// The lease was given back: the next turn does not wait.
	close(bm.release)
	res, err = e.Run(context.Background(), RunRequest{Tenant: "t", Agent: "slow", SessionID: "s", Input: "hi"}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.Status)
}

func TestCallerGoneIsAnError(t *testing.T) {
	bm := &blockingModel{started: make(chan struct{}, 1), release: make(chan struct{})}
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large"}}, Model: bm, Sessions: st})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-bm.started
		cancel()
	}()
	res, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "a", SessionID: "s", Input: "hi"}, nil)
	assert.Nil(t, res)
	assert.ErrorIs(t, err, context.Canceled)
}

// losingLeases wraps Leases whose renewals find the lease taken over.
type losingLeases struct{ Leases }

func (losingLeases) Renew(context.Context, store.Lease, time.Duration) error {
	return fmt.Errorf("renew: %w", store.ErrLeaseLost)
}

func TestLeaseLostFailsCleanly(t *testing.T) {
	bm := &blockingModel{started: make(chan struct{}, 1), release: make(chan struct{})}
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large"}}, Model: bm, Sessions: st,
		Leases: losingLeases{st}, LeaseTTL: 30 * time.Millisecond})
	require.NoError(t, err)
	res, err := e.Run(context.Background(), RunRequest{Tenant: "t", Agent: "a", SessionID: "s", Input: "hi"}, nil)
	assert.Nil(t, res)
	assert.ErrorIs(t, err, store.ErrLeaseLost)
	assert.Equal(t, 409, Describe(err).Status)
	sess, err := st.Load(context.Background(), "t", "s", 0)
	require.NoError(t, err)
	assert.Empty(t, sess.Turns)
}

func TestSessionBusy(t *testing.T) {
	env := newEnv(t, envOptions{config: func(c *Config) { c.LeaseWait = 50 * time.Millisecond }})
	ctx := context.Background()
	held, err := env.store.Acquire(ctx, "t1", "s1", "someone-else", time.Minute)
	require.NoError(t, err)

	_, err = env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", Input: "Hello"}, nil)
	assert.ErrorIs(t, err, ErrSessionBusy)
	assert.ErrorIs(t, err, store.ErrLeaseTimeout)
	assert.Equal(t, 409, Describe(err).Status)

	// A turn that waits gets the session as soon as the holder lets go.
	done := make(chan *Result, 1)
	go func() {
		res, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", Input: "Hello", RunID: "waiter"},
			nil)
		assert.NoError(t, err)
		done <- res
	}()
	require.NoError(t, env.store.Release(ctx, held))
	select {
	case res := <-done:
		require.NotNil(t, res)
		assert.Equal(t, StatusCompleted, res.Status)
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting turn never ran")
	}
}

func TestUpdateUserStateTool(t *testing.T) {
	tests := []struct {
		name     string
		giveArgs string
		giveUser string
		want     string // in the tool message
		wantKey  bool
	}{
		{name: "saved", giveArgs: `{"key":"preferred_language","value":"de"}`, giveUser: "u1", want: `"data":{"saved":"preferred_language"}`, wantKey: true},
		{name: "reserved key", giveArgs: `{"key":"last_agent","value":"x"}`, giveUser: "u1", want: "kept by the system"},
		{name: "no key", giveArgs: `{"value":"x"}`, giveUser: "u1", want: "key is required"},
		{name: "not json", giveArgs: `{"key":`, giveUser: "u1", want: "not valid JSON"},
		{name: "no user", giveArgs: `{"key":"k","value":1}`, giveUser: "", want: noteNoUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &scripted{steps: []func(*llm.Request) (*llm.Response, error){
				callTool("c1", UserStateTool, tt.giveArgs), answer("Noted."),
			}}
			st := openSQLite(t, "")
			t.Cleanup(func() { require.NoError(t, st.Close()) })
			e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large", Tools: []string{UserStateTool}}}, Model: m, Sessions: st})
			require.NoError(t, err)
			ctx := context.Background()
			var events []string
			res, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "a", UserID: tt.giveUser, Input: "I prefer German."},
				func(ev Event) { events = append(events, ev.Type) })
			require.NoError(t, err)
			assert.Equal(t, StatusCompleted, res.Status)
			assert.Equal(t, []string{EventRunStarted, EventModelChosen, EventToolCall, EventToolResult, EventRunCompleted}, events)
			require.Len(t, m.reqs, 2)
			assert.Equal(t, UserStateTool, m.reqs[0].Tools[0].Function.Name)
			toolMsg := m.reqs[1].Messages[len(m.reqs[1].Messages)-1]
			assert.Equal(t, llm.RoleTool, toolMsg.Role)
			assert.Equal(t, "c1", toolMsg.ToolCallID)
			assert.Contains(t, toolMsg.Content.String(), tt.want)
			if tt.wantKey {
				assert.Contains(t, m.reqs[1].Messages[0].Content.String(), `What we know about this user: {"preferred_language":"de"}`,
					"the next call sees the new state")
				us, err := st.GetUser(ctx, "t", "u1")
				require.NoError(t, err)
				assert.Contains(t, string(us.Data), `"preferred_language":"de"`)
			}
		})
	}
}

func TestEscalation(t *testing.T) {
	m := &scripted{steps: []func(*llm.Request) (*llm.Response, error){
		callTool("c1", tool.EscalateName, `{"reason":"the customer asks for a human"}`),
	}}
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	reg, err := tool.NewRegistry(tool.RegistryConfig{})
	require.NoError(t, err)
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large", Tools: []string{tool.EscalateName}}}, Model: m, Sessions: st, Tools: reg})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := e.Run(ctx, RunRequest{Tenant: "t", Agent: "a", SessionID: "s", Input: "I want to talk to a person."}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusHandedOff, res.Status)
	assert.Equal(t, ReasonEscalated, res.Reason)
	assert.Equal(t, DefaultEscalationReply, res.Output)
	assert.Len(t, m.reqs, 1, "the acknowledgement needs no model call")
	sess, err := st.Load(ctx, "t", "s", 0)
	require.NoError(t, err)
	assert.Equal(t, "handed_off", sess.State)
	require.Len(t, sess.Turns, 1)
	assert.Equal(t, DefaultEscalationReply, outputOf(sess.Turns[0].Messages))
}

// failingLoad is a session store whose loads fail.
type failingLoad struct{ Sessions }

func (failingLoad) Load(context.Context, string, string, int) (*store.Session, error) {
	return nil, errors.New("disk on fire")
}

func TestLeaseGivenBackWhenLoadFails(t *testing.T) {
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "m"}}, Model: unusedModel{}, Sessions: failingLoad{st}, Leases: st})
	require.NoError(t, err)
	_, err = e.Run(context.Background(), RunRequest{Tenant: "t", Agent: "a", SessionID: "s", Input: "hi"}, nil)
	require.ErrorContains(t, err, "disk on fire")
	assert.Equal(t, 500, Describe(err).Status)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	l, err := st.Acquire(ctx, "t", "s", "next", time.Second)
	require.NoError(t, err, "the failed run gave the lease back")
	require.NoError(t, st.Release(ctx, l))
}

func TestTenantIsolationAndDelete(t *testing.T) {
	env := newEnv(t, envOptions{})
	ctx := context.Background()
	_, err := env.engine.Run(ctx, RunRequest{Tenant: "a", Agent: "support", SessionID: "shared-id", Input: "Where is my order 100123?"}, nil)
	require.NoError(t, err)

	_, err = env.engine.Session(ctx, "b", "shared-id")
	assert.ErrorIs(t, err, store.ErrNotFound, "another tenant cannot read it")
	assert.ErrorIs(t, env.engine.DeleteSession(ctx, "b", "shared-id"), store.ErrNotFound, "nor delete it")

	// The same id under another tenant is another conversation.
	res, err := env.engine.Run(ctx, RunRequest{Tenant: "b", Agent: "support", SessionID: "shared-id", Input: "Hello"}, nil)
	require.NoError(t, err)
	assert.Equal(t, int64(1), res.Seq)
	assert.Equal(t, 0, env.rec.snapshot()[len(env.rec.snapshot())-1].priorUsers, "tenant b saw nothing of tenant a")

	require.NoError(t, env.engine.DeleteSession(ctx, "a", "shared-id"))
	_, err = env.engine.Session(ctx, "a", "shared-id")
	assert.ErrorIs(t, err, store.ErrNotFound)
	sess, err := env.engine.Session(ctx, "b", "shared-id")
	require.NoError(t, err)
	assert.Len(t, sess.Turns, 1)
}

// fakeHandoffs is a handoff service that keeps its tickets in memory.
type fakeHandoffs struct {
	mu      sync.Mutex
	tickets []handoff.Ticket
}

func (f *fakeHandoffs) Open(_ context.Context, t handoff.Ticket) (handoff.Ticket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t.ID, t.Status = fmt.Sprintf("ho_%d", len(f.tickets)+1), handoff.StatusOpen
	f.tickets = append(f.tickets, t)
	return t, nil
}

func (f *fakeHandoffs) ActiveFor(_ context.Context, tenant, session string) (handoff.Ticket, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tickets {
		if t.Tenant == tenant && t.Session == session && t.Status.Active() {
			return t, true, nil
		}
	}
	return handoff.Ticket{}, false, nil
}

func (f *fakeHandoffs) Append(_ context.Context, id, msg string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.tickets {
		if f.tickets[i].ID == id {
			f.tickets[i].Messages = append(f.tickets[i].Messages, handoff.Turn{Role: "user", Content: msg})
			return "held by " + id, nil
		}
	}
	return "", handoff.ErrNotFound
}

func (f *fakeHandoffs) Ack(t handoff.Ticket) string { return "ticket " + t.ID }

// TestEscalationOpensTicket: escalate_to_human files a ticket carrying the
// conversation, its reason and the tier's priority raised by the call's,
// and the session's next message goes to the ticket without a model call.
func TestEscalationOpensTicket(t *testing.T) {
	m := &scripted{steps: []func(*llm.Request) (*llm.Response, error){
		callTool("c1", tool.EscalateName, `{"reason":"the customer asks for a human","priority":"high"}`),
	}}
	st := openSQLite(t, "")
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	reg, err := tool.NewRegistry(tool.RegistryConfig{})
	require.NoError(t, err)
	h := &fakeHandoffs{}
	e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large", Tools: []string{tool.EscalateName}}},
		Model: m, Sessions: st, Tools: reg, Handoffs: h})
	require.NoError(t, err)
	ctx := context.Background()
	res, err := e.Run(ctx, RunRequest{Tenant: "t", Tier: "vip", Agent: "a", SessionID: "s", Input: "I want to talk to a person about order 100123."}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusHandedOff, res.Status)
	assert.Equal(t, ReasonEscalated, res.Reason)
	assert.Equal(t, "ho_1", res.Ticket)
	assert.Equal(t, "ticket ho_1", res.Output)
	require.Len(t, h.tickets, 1)
	tk := h.tickets[0]
	assert.Equal(t, "the customer asks for a human", tk.Reason)
	assert.Equal(t, 110, tk.Priority, "vip's 100, one step up")
	assert.Equal(t, []string{"100123"}, tk.Facts["order_number"])
	require.NotEmpty(t, tk.Turns)
	assert.Equal(t, "I want to talk to a person about order 100123.", tk.Turns[0].Content)

	res, err = e.Run(ctx, RunRequest{Tenant: "t", Agent: "a", SessionID: "s", Input: "Still there?"}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusHandedOff, res.Status)
	assert.Equal(t, ReasonHeld, res.Reason)
	assert.Equal(t, "held by ho_1", res.Output)
	assert.Len(t, m.reqs, 1, "no model call for a held session")
	assert.Equal(t, "Still there?", h.tickets[0].Messages[0].Content)
}

// TestDegradeSpeaksTheTenantsLanguage: a refused turn whose message does
// not tell its language is answered in the tenant's; one that does, in
// its own.
func TestDegradeSpeaksTheTenantsLanguage(t *testing.T) {
	env := newEnv(t, envOptions{})
	ctx := context.Background()
	res, err := env.engine.Degrade(ctx, RunRequest{Tenant: "t1", Lang: "de", Agent: "support", Input: "ok?"}, degrade.Shed)
	require.NoError(t, err)
	assert.Equal(t, StatusDegraded, res.Status)
	assert.Equal(t, "message", res.Rung)
	assert.Equal(t, degrade.Apologies["de"], res.Output)

	res, err = env.engine.Degrade(ctx, RunRequest{Tenant: "t1", Lang: "de", Agent: "support",
		Input: "I would like to know if you can help me with something else"}, degrade.Shed)
	require.NoError(t, err)
	assert.Equal(t, degrade.Apologies["en"], res.Output)

	_, err = env.engine.Degrade(ctx, RunRequest{Tenant: "t1", Agent: "nobody", Input: "hi"}, degrade.Shed)
	assert.ErrorIs(t, err, ErrUnknownAgent)
}

// TestDegradeHeldSession: a refused turn of a session a person holds goes
// to the ticket like any other of its messages.
func TestDegradeHeldSession(t *testing.T) {
	h := &fakeHandoffs{}
	env := newEnv(t, envOptions{config: func(c *Config) { c.Handoffs = h }})
	ctx := context.Background()
	_, err := h.Open(ctx, handoff.Ticket{Tenant: "t1", Session: "s1"})
	require.NoError(t, err)
	res, err := env.engine.Degrade(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1", Input: "where is my order 100123?"}, degrade.Shed)
	require.NoError(t, err)
	assert.Equal(t, StatusHandedOff, res.Status)
	assert.Equal(t, ReasonHeld, res.Reason)
	assert.Equal(t, "held by ho_1", res.Output)
	assert.Equal(t, "where is my order 100123?", h.tickets[0].Messages[0].Content)
}
