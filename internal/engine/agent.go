package engine

import (
	"fmt"
	"github.com/floodgate-dev/floodgate/internal/degrade"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/intent"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// Defaults of an Agent's Limits and ContextPolicy, applied by New to zero
// fields.
const (
	// DefaultMaxToolCalls is the tool-call budget of one run: in the
	// post-mortem 95 % of intents resolved within 6 calls and 8 covered 99 %.
	DefaultMaxToolCalls = 8
	// DefaultMaxTurns is the most model calls of one run.
	DefaultMaxTurns = 10
	// DefaultDeadline bounds one run's wall-clock time.
	DefaultDeadline = 60 * time.Second
	// DefaultRecentTurns is how many of the newest turns of a session go
	// into the prompt.
	DefaultRecentTurns = ctxwindow.DefaultRecentTurns
	// DefaultMaxTokens is the prompt budget of one model call.
	DefaultMaxTokens = ctxwindow.DefaultMaxTokens
	// DefaultSummaryTokens caps a session's running summary.
	DefaultSummaryTokens = ctxwindow.DefaultSummaryTokens
)

// UserStateTool is the engine's built-in tool that lets an agent record a
// fact in the shared user state: arguments {"key": string, "value": any}.
// An agent offers it when its Tools list the name.
const UserStateTool = "update_user_state"

// mcpPrefix marks an Agent.Tools entry that stands for every tool of an MCP
// server.
const mcpPrefix = "mcp:"

// Agent is one agent the engine runs. New validates it and fills the zero
// fields of Limits and Context with their defaults.
type Agent struct {
	// Name identifies the agent in the run API and in the transfer_to_Name
	// handoff tool of other agents. Required: 1 to 52 of [A-Za-z0-9_-].
	Name string
	// Description tells other agents when to hand off to this one: it is
	// the description of their transfer_to_Name tool.
	Description string
	// Instructions are the head of the agent's system prompt.
	Instructions string
	// Model is the agent's large model: what its Routing policy chooses
	// for every turn that is not a simple intent, unless configured
	// otherwise. Required.
	Model string
	// SimpleModel is the agent's small model: what its Routing policy
	// chooses for simple intents, and the model that writes the running
	// summary of the agent's conversations. Empty means Model (every turn
	// then goes to Model).
	SimpleModel string
	// Tools the agent may call: names in the tool registry (including the
	// built-in escalate_to_human), UserStateTool, or "mcp:SERVER" for every
	// tool of an MCP server (resolved at each run, since MCP servers
	// connect lazily).
	Tools []string
	// Handoffs are the agents this one may transfer the conversation to,
	// offered as transfer_to_NAME tools. Cycles are allowed.
	Handoffs []string
	// Limits bound one run.
	Limits Limits
	// Context is the context-window policy.
	Context ContextPolicy
	// Intent configures how each turn's user message is classified (see
	// internal/intent). The zero value classifies with the built-in
	// customer-service intents by rules alone; Intent.Model.Model names
	// the small model asked when the rules are unsure.
	Intent intent.Config
	// Routing is the agent's model policy (see internal/modelpolicy): the
	// model of each turn from its complexity, the tenant's tier, the
	// node's load, the time and the tenant's budget, escalated after a
	// failed answer of a smaller model. Empty Routing.SmallModel means
	// SimpleModel and empty Routing.LargeModel means Model, so the zero
	// value sends simple intents to SimpleModel and everything else to
	// Model.
	Routing modelpolicy.Config
	// Degrade is the agent's degradation ladder and output checks (see
	// internal/degrade): what answers when the normal path fails. The
	// zero value is degrade.DefaultRungs of the agent's small model and
	// no output checks.
	Degrade degrade.Config
}

// Limits bound one run. The limits of the agent a run starts with hold for
// the whole run, across handoffs; the tool budget after a handoff is also
// capped by the receiving agent's own MaxToolCalls.
type Limits struct {
	// MaxToolCalls is the tool-call budget of the whole request. Zero
	// means DefaultMaxToolCalls (8).
	MaxToolCalls int
	// MaxTurns is the most model calls of one run; the last one is made
	// without tools, so it must answer. Zero means DefaultMaxTurns (10).
	MaxTurns int
	// Deadline bounds the run's wall-clock time, waiting for the session's
	// writer included. Zero means DefaultDeadline (60s).
	Deadline time.Duration
}

// ContextPolicy says what of a conversation goes into each model call:
// the newest RecentTurns turns within MaxTokens, the running summary of
// older turns (capped at SummaryTokens), the session's pinned facts, and
// never more than ContextLimit-ReplyTokens. See ctxwindow.Policy for each
// field and its default.
type ContextPolicy = ctxwindow.Policy

// agent is an Agent compiled by New: what a run needs, precomputed.
type agent struct {
	Agent
	// registryTools are the Tools entries the Runner resolves itself.
	registryTools []string
	// mcpServers are the servers of "mcp:SERVER" entries.
	mcpServers []string
	// userState reports whether the agent offers UserStateTool.
	userState bool
	// handoffDecls are the transfer_to_ declarations, in Handoffs order.
	handoffDecls []llm.Tool
	// reach holds the agents a conversation can reach from this one through
	// handoffs (this one excluded).
	reach map[string]bool
	// system is the constant head of the system prompt: the instructions
	// and the tool-data notice.
	system string
	// ctx applies the agent's context policy.
	ctx *ctxwindow.Manager
	// classifier classifies the agent's turns; policy chooses their model.
	classifier *intent.Classifier
	policy     *modelpolicy.Policy
	// ladder answers when the normal path fails; checker checks final
	// answers (nil checks nothing).
	ladder  *degrade.Ladder
	checker *degrade.Checker
}

func (a *agent) canHandoff(to string) bool { return slices.Contains(a.Handoffs, to) }

// validAgentName: an agent's name must make a valid function name with
// the transfer_to_ prefix of its handoff tool (so at most 52 characters).
func validAgentName(s string) bool {
	return s != "" && llm.ValidFunctionName(tool.HandoffPrefix+s)
}

// compileAgents validates the agents and every reference between them and
// to the tools, and compiles them. hasTool says whether the registry knows
// a tool name; users whether shared user state is available.
//
// obs and log go to the agents' context managers; model answers the
// classifiers' model stage.
func compileAgents(list []Agent, hasTool func(string) bool, users bool, obs ctxwindow.Observer, log *slog.Logger, model intent.Completer) (map[string]*agent, []string, error) {
	if len(list) == 0 {
		return nil, nil, fmt.Errorf("%w: no agents", ErrInvalidConfig)
	}
	agents := make(map[string]*agent, len(list))
	names := make([]string, 0, len(list))
	for i, ag := range list {
		switch {
		case !validAgentName(ag.Name):
			return nil, nil, fmt.Errorf("%w: agents[%d]: invalid name %q: want 1 to 52 of [A-Za-z0-9_-]", ErrInvalidConfig, i, ag.Name)
		case agents[ag.Name] != nil:
			return nil, nil, fmt.Errorf("%w: agent %q defined twice", ErrInvalidConfig, ag.Name)
		case ag.Model == "":
			return nil, nil, fmt.Errorf("%w: agent %q: no model", ErrInvalidConfig, ag.Name)
		case ag.Limits.MaxToolCalls < 0 || ag.Limits.MaxTurns < 0 || ag.Limits.Deadline < 0:
			return nil, nil, fmt.Errorf("%w: agent %q: negative limit", ErrInvalidConfig, ag.Name)
		}
		ag.Tools = slices.Clone(ag.Tools)
		ag.Handoffs = slices.Clone(ag.Handoffs)
		setDefault(&ag.SimpleModel, ag.Model)
		setDefault(&ag.Limits.MaxToolCalls, DefaultMaxToolCalls)
		setDefault(&ag.Limits.MaxTurns, DefaultMaxTurns)
		setDefault(&ag.Limits.Deadline, DefaultDeadline)
		mgr, err := ctxwindow.New(ctxwindow.Config{Agent: ag.Name, Model: ag.Model, SummaryModel: ag.SimpleModel,
			Policy: ag.Context, Observer: obs, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: agent %q: context: %w", ErrInvalidConfig, ag.Name, err)
		}
		ag.Context = mgr.Policy()
		a := &agent{Agent: ag, ctx: mgr}
		if a.classifier, err = intent.New(ag.Intent, model); err != nil {
			return nil, nil, fmt.Errorf("%w: agent %q: intent: %w", ErrInvalidConfig, ag.Name, err)
		}
		setDefault(&ag.Routing.SmallModel, ag.SimpleModel)
		setDefault(&ag.Routing.LargeModel, ag.Model)
		if a.policy, err = modelpolicy.New(ag.Routing); err != nil {
			return nil, nil, fmt.Errorf("%w: agent %q: routing: %w", ErrInvalidConfig, ag.Name, err)
		}
		a.Routing = ag.Routing
		seen := map[string]bool{}
		for _, t := range ag.Tools {
			if seen[t] {
				return nil, nil, fmt.Errorf("%w: agent %q: tool %q listed twice", ErrInvalidConfig, ag.Name, t)
			}
			seen[t] = true
			switch {
			case t == UserStateTool:
				if !users {
					return nil, nil, fmt.Errorf("%w: agent %q: %s needs a user store", ErrInvalidConfig, ag.Name, UserStateTool)
				}
				a.userState = true
			case strings.HasPrefix(t, mcpPrefix):
				server := strings.TrimPrefix(t, mcpPrefix)
				if server == "" {
					return nil, nil, fmt.Errorf("%w: agent %q: %q names no MCP server", ErrInvalidConfig, ag.Name, t)
				}
				a.mcpServers = append(a.mcpServers, server)
			case strings.HasPrefix(t, tool.HandoffPrefix):
				return nil, nil, fmt.Errorf("%w: agent %q: tool %q: %s tools come from handoffs", ErrInvalidConfig, ag.Name, t, tool.HandoffPrefix)
			case !hasTool(t):
				return nil, nil, fmt.Errorf("%w: agent %q: unknown tool %q", ErrInvalidConfig, ag.Name, t)
			default:
				a.registryTools = append(a.registryTools, t)
			}
		}
		a.system = ag.Instructions
		if len(ag.Tools) > 0 || len(ag.Handoffs) > 0 {
			a.system = joinNonEmpty(ag.Instructions, tool.DataNotice)
		}
		agents[ag.Name] = a
		names = append(names, ag.Name)
	}
	for _, a := range agents {
		seen := map[string]bool{}
		for _, h := range a.Handoffs {
			target := agents[h]
			switch {
			case target == nil:
				return nil, nil, fmt.Errorf("%w: agent %q: unknown handoff target %q", ErrInvalidConfig, a.Name, h)
			case h == a.Name:
				return nil, nil, fmt.Errorf("%w: agent %q hands off to itself", ErrInvalidConfig, a.Name)
			case seen[h]:
				return nil, nil, fmt.Errorf("%w: agent %q: handoff target %q listed twice", ErrInvalidConfig, a.Name, h)
			}
			seen[h] = true
			desc := target.Description
			if desc == "" {
				desc = "Transfer the conversation to the " + h + " agent."
			}
			a.handoffDecls = append(a.handoffDecls, tool.HandoffDecl(h, desc))
		}
	}
	for _, a := range agents {
		a.reach = reachable(agents, a.Name)
	}
	slices.Sort(names)
	return agents, names, nil
}

// reachable returns the agents reachable from name through handoffs.
func reachable(agents map[string]*agent, name string) map[string]bool {
	reach := map[string]bool{}
	stack := []string{name}
	for len(stack) > 0 {
		cur := agents[stack[len(stack)-1]]
		stack = stack[:len(stack)-1]
		for _, h := range cur.Handoffs {
			if h != name && !reach[h] {
				reach[h] = true
				stack = append(stack, h)
			}
		}
	}
	return reach
}

func joinNonEmpty(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(p)
	}
	return b.String()
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}
