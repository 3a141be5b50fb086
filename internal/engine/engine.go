package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/floodgate-dev/floodgate/internal/rules"
	"log/slog"
	"slices"
	"time"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/tool"
	"github.com/floodgate-dev/floodgate/internal/webhook"
)

// Engine runs agents. It is safe for concurrent use and keeps nothing per
// session or per user between runs: conversations, user state and run
// records live in the store. It owns no goroutine outside a running call.
type Engine struct {
	agents map[string]*agent
	names  []string

	model     Model
	sessions  Sessions
	leases    Leases
	users     Users                  // may be nil
	runs      Runs                   // may be nil
	summaries ctxwindow.SummaryStore // may be nil
	tools     Tools                  // may be nil
	pub       Publisher
	usage     UsageSink // may be nil
	handoffs  Handoffs  // may be nil
	obs       Observer
	choices   ChoiceObserver
	// toolFilter, if not nil, rewrites tool results before a model sees
	// them.
	toolFilter func(ctx context.Context, tenant, tool, content string) string
	log        *slog.Logger
	now        func() time.Time
	newID      func() string
	filter     func(from, to string, msgs []llm.Message) []llm.Message
	webhook    webhookConfig
	leaseTTL   time.Duration
	leaseWait  time.Duration
	persist    time.Duration
	attempts   int
	maxInput   int
	escalate   string
}

// RunRequest is one request to run an agent. Its JSON form is what an
// async run's record keeps.
type RunRequest struct {
	// Tenant owns the session. Required.
	Tenant string `json:"tenant"`
	// Agent is the agent addressed. A session that an earlier handoff gave
	// to another agent reachable from this one (through handoffs) stays
	// with that agent: the conversation continues where it was handed.
	Agent string `json:"agent"`
	// SessionID is the conversation; "" starts a new one with a generated
	// id, and an unknown id is created with that id (client-chosen ids,
	// scoped to the tenant).
	SessionID string `json:"session_id,omitempty"`
	// UserID is the user, whose shared state the agents read and update;
	// "" means the session's user, if any.
	UserID string `json:"user_id,omitempty"`
	// Input is the user's message. Required.
	Input string `json:"input"`
	// RunID is the idempotency key of the turn: "" means a generated one;
	// a RunID the session already has is not run again.
	RunID string `json:"run_id,omitempty"`
	// Stream asks for message.delta events (the model is called streaming).
	Stream bool `json:"stream,omitempty"`
	// Webhook is, for async runs only, the http(s) URL the result is
	// posted to.
	Webhook string `json:"webhook,omitempty"`

	// Tier is the tenant's tier: the agent's model policy may pin it to a
	// model, downgrade it at peak or in a time window, and usage records
	// carry it. "" is a tier of its own that no policy names.
	Tier string `json:"tier,omitempty"`
	// Load is the node's load in [0, 1] (the admission queue's
	// utilisation) when the request arrived; at or above a policy's
	// peak.load its peak tiers get the peak model. Values outside [0, 1]
	// are clamped.
	Load float64 `json:"load,omitempty"`
	// BudgetSoft reports that the tenant is past its soft budget limit:
	// the turn goes to the agent's small model.
	BudgetSoft bool `json:"budget_soft,omitempty"`
	// Lang is the tenant's language, which the degradation ladder's
	// messages speak when the user's message does not tell; "" is
	// English.
	Lang string `json:"lang,omitempty"`
	// Models are the models the tenant's tier may use; empty means any. A
	// choice outside them takes the small model, else the large one, else
	// the first of them.
	Models []string `json:"models,omitempty"`
}

// New validates cfg, fills its defaults and returns an Engine. Errors wrap
// ErrInvalidConfig.
func New(cfg Config) (*Engine, error) {
	if cfg.Model == nil || cfg.Sessions == nil {
		return nil, fmt.Errorf("%w: Model and Sessions are required", ErrInvalidConfig)
	}
	e := &Engine{model: cfg.Model, sessions: cfg.Sessions, tools: cfg.Tools, pub: cfg.Publisher, obs: cfg.Observer,
		usage: cfg.Usage, handoffs: cfg.Handoffs, toolFilter: cfg.ToolResultFilter, choices: cfg.ChoiceObserver}
	e.leases = cfg.Leases
	if e.leases == nil {
		l, ok := cfg.Sessions.(Leases)
		if !ok {
			return nil, fmt.Errorf("%w: no Leases, and Sessions does not implement them", ErrInvalidConfig)
		}
		e.leases = l
	}
	e.users = cfg.Users
	if e.users == nil {
		e.users, _ = cfg.Sessions.(Users)
	}
	e.runs = cfg.Runs
	if e.runs == nil {
		e.runs, _ = cfg.Sessions.(Runs)
	}
	hasTool := func(name string) bool {
		if e.tools == nil {
			return false
		}
		_, ok := e.tools.Get(name)
		return ok
	}
	e.summaries, _ = cfg.Sessions.(ctxwindow.SummaryStore)
	e.log = cfg.Logger
	if e.log == nil {
		e.log = slog.Default()
	}
	cobs := cfg.ContextObserver
	if cobs == nil {
		cobs, _ = cfg.Observer.(ctxwindow.Observer)
	}
	var err error
	e.agents, e.names, err = compileAgents(cfg.Agents, hasTool, e.users != nil, cobs, e.log, meteredModel{e})
	if err != nil {
		return nil, err
	}
	rs := cfg.Rules
	if rs == nil {
		if rs, err = rules.Default(); err != nil {
			return nil, fmt.Errorf("%w: built-in rules: %w", ErrInvalidConfig, err)
		}
	}
	if err := compileLadders(e.agents, rs, cfg.DegradeMetrics); err != nil {
		return nil, err
	}
	for _, a := range e.agents {
		if len(a.mcpServers) > 0 && e.tools == nil {
			return nil, fmt.Errorf("%w: agent %q lists MCP tools but there is no tool registry", ErrInvalidConfig, a.Name)
		}
	}
	if e.tools == nil {
		// Runs still need a Runner to govern UserStateTool; an empty
		// registry has none of its own tools but escalate_to_human.
		reg, err := tool.NewRegistry(tool.RegistryConfig{Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		e.tools = reg
	}
	switch {
	case cfg.LeaseTTL < 0, cfg.LeaseWait < 0, cfg.PersistTimeout < 0, cfg.RunAttempts < 0,
		cfg.MaxInputBytes < 0, cfg.WebhookAttempts < 0, cfg.WebhookBackoff < 0:
		return nil, fmt.Errorf("%w: negative setting", ErrInvalidConfig)
	}
	e.leaseTTL, e.leaseWait, e.persist = cfg.LeaseTTL, cfg.LeaseWait, cfg.PersistTimeout
	setDefault(&e.leaseTTL, DefaultLeaseTTL)
	setDefault(&e.leaseWait, DefaultLeaseWait)
	setDefault(&e.persist, DefaultPersistTimeout)
	e.attempts, e.maxInput, e.escalate = cfg.RunAttempts, cfg.MaxInputBytes, cfg.EscalationReply
	setDefault(&e.attempts, DefaultRunAttempts)
	setDefault(&e.maxInput, DefaultMaxInputBytes)
	setDefault(&e.escalate, DefaultEscalationReply)
	e.filter = cfg.HandoffFilter
	e.webhook = webhookConfig{secret: slices.Clone(cfg.WebhookSecret), client: cfg.WebhookClient,
		attempts: cfg.WebhookAttempts, backoff: cfg.WebhookBackoff, allowPrivate: cfg.WebhookAllowPrivate}
	if e.webhook.client == nil {
		e.webhook.client = webhook.Client(DefaultWebhookTimeout, cfg.WebhookAllowPrivate)
	}
	setDefault(&e.webhook.attempts, DefaultWebhookAttempts)
	setDefault(&e.webhook.backoff, DefaultWebhookBackoff)
	e.now = cfg.Now
	if e.now == nil {
		e.now = time.Now
	}
	e.newID = cfg.NewID
	if e.newID == nil {
		e.newID = randomID
	}
	if e.obs == nil {
		e.obs = nopObserver{}
	}
	if e.choices == nil {
		e.choices, _ = e.obs.(ChoiceObserver)
	}
	if e.choices == nil {
		e.choices = nopObserver{}
	}
	return e, nil
}

// Agents returns the names of the configured agents, sorted. The slice is
// the caller's.
func (e *Engine) Agents() []string { return slices.Clone(e.names) }

// Session returns a tenant's session with all its turns, its running
// summary and, in Facts, the pinned facts its next request would see (a
// JSON array of ctxwindow.Fact, nil when none); store.ErrNotFound
// (wrapped) when there is none.
func (e *Engine) Session(ctx context.Context, tenant, id string) (*store.Session, error) {
	s, err := e.sessions.Load(ctx, tenant, id, 0)
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	e.sessionFacts(s)
	return s, nil
}

// DeleteSession deletes a tenant's session and its turns; store.ErrNotFound
// (wrapped) when there is none.
func (e *Engine) DeleteSession(ctx context.Context, tenant, id string) error {
	if err := e.sessions.Delete(ctx, tenant, id); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// randomID returns 128 random bits in hex.
func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return hex.EncodeToString(b[:])
}

type nopObserver struct{}

func (nopObserver) RunFinished(string, string, time.Duration)      {}
func (nopObserver) ModelCall(string, string, time.Duration, error) {}
func (nopObserver) ToolBudgetExhausted(string)                     {}
func (nopObserver) Handoff(string, string)                         {}
func (nopObserver) LeaseWait(time.Duration)                        {}
func (nopObserver) Overhead(string, time.Duration)                 {}
func (nopObserver) ModelChosen(string, string, string)             {}
