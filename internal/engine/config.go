package engine

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/floodgate-dev/floodgate/internal/degrade"
	"github.com/floodgate-dev/floodgate/internal/rules"
	"log/slog"
	"net/http"
	"time"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// Defaults of Config, applied by New to zero fields.
const (
	DefaultLeaseTTL        = 30 * time.Second
	DefaultLeaseWait       = 30 * time.Second
	DefaultPersistTimeout  = 5 * time.Second
	DefaultRunAttempts     = 5
	DefaultMaxInputBytes   = 64 << 10
	DefaultWebhookAttempts = 3
	DefaultWebhookBackoff  = 500 * time.Millisecond
	DefaultWebhookTimeout  = 10 * time.Second
	// DefaultEscalationReply is the answer of a run that handed the
	// conversation to a human.
	DefaultEscalationReply = "I've passed your request to a member of our team; they will get back to you here as soon as possible."
)

// Sentinel errors of the engine; test with errors.Is.
var (
	// ErrInvalidConfig is wrapped by every error New returns.
	ErrInvalidConfig = errors.New("engine: invalid config")
	// ErrUnknownAgent: the request names no configured agent.
	ErrUnknownAgent = errors.New("engine: unknown agent")
	// ErrInvalidRequest: the request is malformed (no input, too long an
	// id or input, a bad webhook URL); the error says what.
	ErrInvalidRequest = errors.New("engine: invalid request")
	// ErrSessionBusy: another turn of the session held its writer lease
	// for longer than Config.LeaseWait (or the run's deadline); the error
	// also wraps store.ErrLeaseTimeout.
	ErrSessionBusy = errors.New("engine: session busy")
	// ErrAsyncDisabled: Submit or GetRun without a Publisher or a run
	// store.
	ErrAsyncDisabled = errors.New("engine: async runs are not configured")
)

// Model answers chat completions; *router.Router satisfies it. The engine
// attaches a router.Trace to every call's context to learn the usage, cost
// and model of the call.
type Model interface {
	Complete(ctx context.Context, req *llm.Request) (*llm.Response, error)
	Stream(ctx context.Context, req *llm.Request) (llm.Stream, error)
}

// Sessions keeps conversations; every store backend satisfies it.
type Sessions interface {
	Create(ctx context.Context, s *store.Session) error
	Load(ctx context.Context, tenant, id string, lastTurns int) (*store.Session, error)
	AppendTurn(ctx context.Context, tenant, id string, lease store.Lease, t store.Turn) (seq, version int64, err error)
	SetState(ctx context.Context, tenant, id string, lease store.Lease, agent, state string) (int64, error)
	Delete(ctx context.Context, tenant, id string) error
}

// Leases serialise the turns of one session; every store backend
// satisfies it.
type Leases interface {
	Acquire(ctx context.Context, tenant, id, owner string, ttl time.Duration) (store.Lease, error)
	Renew(ctx context.Context, l store.Lease, ttl time.Duration) error
	Release(ctx context.Context, l store.Lease) error
}

// Users keeps the shared per-user state; every store backend satisfies it.
type Users interface {
	GetUser(ctx context.Context, tenant, userID string) (*store.UserState, error)
	PutUser(ctx context.Context, tenant, userID string, expectVersion int64, data json.RawMessage) (int64, error)
}

// Runs keeps the records of async runs; every store backend satisfies it.
type Runs interface {
	PutRun(ctx context.Context, r *store.Run) error
	GetRun(ctx context.Context, tenant, id string) (*store.Run, error)
	UpdateRun(ctx context.Context, tenant, id string, fn func(*store.Run) error) (*store.Run, error)
}

// Tools resolves and governs tools; *tool.Registry satisfies it.
type Tools interface {
	Get(name string) (tool.Tool, bool)
	NewRunner(names []string, lim tool.Limits, local ...tool.Tool) *tool.Runner
	ServerTools(ctx context.Context, server string) ([]string, error)
}

// Publisher stores a message durably on a subject; *queue.Queue satisfies
// it. msgID de-duplicates retried publishes.
type Publisher interface {
	Publish(ctx context.Context, subject, msgID string, data []byte, hdr map[string]string) error
}

// Observer is told what runs do, for metrics; the monitor package
// implements it. Its methods are called on the request path from many
// goroutines: they must be cheap, safe for concurrent use and must not
// block. Label values are agents, models and statuses from configuration
// and code, never per-user values.
type Observer interface {
	// RunFinished reports a run that ended with a Result: the agent
	// addressed, the run's status and its wall-clock duration.
	RunFinished(agent, status string, d time.Duration)
	// ModelCall reports one model call of agent: the model, its duration
	// and err (nil on success).
	ModelCall(agent, model string, d time.Duration, err error)
	// ToolBudgetExhausted reports a run of agent that reached its tool-call
	// budget and was made to answer from what it had: the alert
	// metric.
	ToolBudgetExhausted(agent string)
	// Handoff reports a conversation moving from one agent to another.
	Handoff(from, to string)
	// LeaseWait reports how long a run waited for its session's writer
	// lease.
	LeaseWait(d time.Duration)
	// Overhead reports the engine's own time per model call of a run: the
	// run's duration minus model calls, tool calls and the lease wait,
	// divided by the model calls.
	Overhead(agent string, perModelCall time.Duration)
}

// Config configures an Engine. Zero values mean the documented defaults;
// New validates it and fills them in.
type Config struct {
	// Agents are the agents the engine runs. At least one; every tool and
	// handoff they name must exist.
	Agents []Agent

	// Model answers every model call. Required.
	Model Model
	// Sessions keeps the conversations. Required. When it also implements
	// ctxwindow.SummaryStore (every store backend does), sessions keep a
	// running summary and pinned facts.
	Sessions Sessions
	// Leases serialises the turns of a session. Nil means Sessions, which
	// must then implement Leases.
	Leases Leases
	// Users keeps the shared user state. Nil means Sessions if it
	// implements Users; without one, runs neither read nor update user
	// state and no agent may list UserStateTool.
	Users Users
	// Runs keeps async run records. Nil means Sessions if it implements
	// Runs; without one, Submit returns ErrAsyncDisabled.
	Runs Runs
	// Tools resolves the agents' tools and governs their use. Required
	// when an agent lists a tool other than UserStateTool.
	Tools Tools
	// Publisher publishes async runs (subject RunSubject(tenant)) and
	// summary jobs (subject SummarySubject(tenant)). Nil disables async
	// runs and summaries (windows then hold what the budget allows of the
	// newest turns, and facts are still pinned from the turns loaded).
	Publisher Publisher
	// Usage, if not nil, receives the usage ledger's records: one
	// ledger.KindCall record per model call of a run (its intent
	// classification and the summaries of its conversations included) and
	// one ledger.KindRun record per run that produced a Result.
	// *ledger.Publisher satisfies it; Publish must not block (it is called
	// on the request path).
	Usage UsageSink
	// ToolResultFilter, if not nil, is applied to the content of every
	// tool result before any model sees it, and what it returns is what
	// the model sees and the session stores (e.g. a prompt filter's
	// quarantined form of an indirect injection). It is called on the
	// request path, once per tool result, with the run's context and
	// tenant; it must be safe for concurrent use.
	ToolResultFilter func(ctx context.Context, tenant, tool, content string) string

	// Handoffs, if not nil, files human-handoff tickets: the ladders'
	// handoff rungs and escalate_to_human open them, and while a session
	// has an active ticket its messages go to the ticket, not the model.
	// *handoff.Service satisfies it. Nil: handoff rungs are skipped and
	// escalate_to_human answers EscalationReply.
	Handoffs Handoffs
	// Rules is the rule set of the ladders' rules rungs that name no
	// file. Nil means rules.Default(), the demo shop's rules.
	Rules *rules.Rules
	// DegradeMetrics, if not nil, counts the rungs the ladders try and
	// the output checks that fail.
	DegradeMetrics *degrade.Metrics

	// HandoffFilter, if not nil, filters the conversation the receiving
	// agent of a handoff sees (the history and the turn so far, system
	// prompt excluded); what is stored is never filtered. WithoutToolCalls
	// is one such filter.
	HandoffFilter func(from, to string, msgs []llm.Message) []llm.Message

	// WebhookSecret signs webhook deliveries (see SignWebhook). Empty
	// means async runs may not ask for a webhook.
	WebhookSecret []byte
	// WebhookClient posts webhooks. Nil means webhook.Client: a client
	// with DefaultWebhookTimeout (10s) per attempt that connects to public
	// addresses only, since a webhook URL comes from the tenant.
	WebhookClient *http.Client
	// WebhookAllowPrivate lets webhooks reach loopback, private and
	// link-local addresses (and Submit accept them). Only for deployments
	// whose every tenant is trusted with the internal network.
	WebhookAllowPrivate bool
	// WebhookAttempts is how many times a webhook is tried. Zero means
	// DefaultWebhookAttempts (3).
	WebhookAttempts int
	// WebhookBackoff is the wait before the second attempt, doubling
	// after each. Zero means DefaultWebhookBackoff (500ms).
	WebhookBackoff time.Duration

	// LeaseTTL is the session lease's time to live; a running turn renews
	// it every LeaseTTL/3. Zero means DefaultLeaseTTL (30s).
	LeaseTTL time.Duration
	// LeaseWait is how long a turn waits for the session's writer before
	// failing with ErrSessionBusy. Zero means DefaultLeaseWait (30s).
	LeaseWait time.Duration
	// PersistTimeout bounds storing a finished turn and releasing the
	// lease, which go on even when the caller went away, so that a paid
	// answer is not lost. Zero means DefaultPersistTimeout (5s).
	PersistTimeout time.Duration
	// RunAttempts is how many deliveries of an async run HandleRunMessage
	// tries before it records the run as failed; set it to the consumer's
	// MaxDeliver. Zero means DefaultRunAttempts (5).
	RunAttempts int
	// MaxInputBytes caps a request's input. Zero means
	// DefaultMaxInputBytes (64 KiB).
	MaxInputBytes int
	// EscalationReply is the output of a run handed to a human. Empty
	// means DefaultEscalationReply.
	EscalationReply string

	// Observer, if not nil, is told about runs, model calls, budget
	// exhaustion, handoffs, lease waits and the engine's overhead.
	Observer Observer
	// ChoiceObserver, if not nil, is told about every model choice
	// (RoutingMetrics implements it). Nil means Observer, if it implements
	// ChoiceObserver.
	ChoiceObserver ChoiceObserver
	// ContextObserver, if not nil, is told about context management: its
	// overhead per turn, summary jobs and facts found unreachable after a
	// summary (ctxwindow.Metrics implements it). Nil means Observer, if it
	// implements ctxwindow.Observer.
	ContextObserver ctxwindow.Observer
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// NewID returns a new unique id for runs and sessions (the engine
	// prefixes "run_" or "sess_"). Nil means 128 random bits in hex.
	NewID func() string
	// Logger logs what cannot be returned (user-state failures, dropped
	// jobs). Nil means slog.Default().
	Logger *slog.Logger
}
