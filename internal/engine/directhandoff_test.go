package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/intent"
	"github.com/floodgate-dev/floodgate/internal/llm"
)

// TestDirectHandoff: a turn the front-line agent's rules give to another
// agent (intent.IntentConfig.Agent) goes there without a call of the
// front-line agent's model; an unsure one is still the model's to hand
// over.
func TestDirectHandoff(t *testing.T) {
	agents := demoAgents()
	agents[0].Intent = intent.Config{Intents: []intent.IntentConfig{{Name: intent.ReturnRefund, Agent: "after_sales"}}}
	env := newEnv(t, envOptions{agents: agents})
	ctx := context.Background()

	var choices []string
	res, err := env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1",
		Input: "I want to return order 100123, it arrived damaged and I want my money back"}, func(ev Event) {
		if c, ok := ev.Data.(*ModelChoice); ok {
			choices = append(choices, c.Agent)
		}
	})
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.Status)
	assert.Equal(t, "after_sales", res.Agent)
	assert.Equal(t, []Handoff{{From: "support", To: "after_sales", Reason: "intent return_refund"}}, res.Handoffs)
	assert.Equal(t, []string{"create_return"}, toolNames(res), "no transfer call")
	assert.Equal(t, []string{"after_sales"}, choices, "only the agent that calls a model chooses one")
	calls := env.rec.snapshot()
	require.Len(t, calls, 2, "after_sales' call and its answer; none of support's model")
	assert.Equal(t, 2, calls[0].msgs, "system, user")
	assert.EqualValues(t, 1, env.obs.handoffs.Load())

	// Unsure rules leave the handoff to support's model.
	res, err = env.engine.Run(ctx, RunRequest{Tenant: "t1", Agent: "support", SessionID: "s2", Input: "the zipper is wrong"}, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Handoffs)
	assert.Equal(t, "support", res.Agent)
}

// pingPong plays a model that hands every turn to the other agent while it
// can, then answers.
type pingPong struct{ Model }

func (pingPong) Complete(_ context.Context, req *llm.Request) (*llm.Response, error) {
	msg := llm.Message{Role: llm.RoleAssistant, Content: llm.Text("Here is what I know.")}
	for _, tl := range req.Tools {
		if strings.HasPrefix(tl.Function.Name, "transfer_to_") {
			msg = llm.Message{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "call_" + tl.Function.Name, Type: "function",
				Function: llm.FunctionCall{Name: tl.Function.Name, Arguments: "{}"}}}}
			break
		}
	}
	return &llm.Response{Model: req.Model, Choices: []llm.Choice{{Message: msg}}, Usage: &llm.Usage{PromptTokens: 10, CompletionTokens: 5}}, nil
}

// TestHandoffLoopCut: a transfer is offered once per turn, so two agents
// cannot pass a turn back and forth until max_turns.
func TestHandoffLoopCut(t *testing.T) {
	agents := demoAgents()
	agents[0].Handoffs = []string{"recommend"}
	env := newEnv(t, envOptions{agents: agents, config: func(c *Config) { c.Model = pingPong{c.Model} }})
	res, err := env.engine.Run(context.Background(), RunRequest{Tenant: "t1", Agent: "support", SessionID: "s1",
		Input: "Do you have tents?"}, nil)
	require.NoError(t, err)
	assert.Equal(t, StatusCompleted, res.Status)
	assert.Equal(t, []Handoff{{From: "support", To: "recommend"}, {From: "recommend", To: "support"}}, res.Handoffs)
	assert.Equal(t, "support", res.Agent)
	assert.Equal(t, 3, res.ModelCalls)
}
