package config

import (
	"github.com/floodgate-dev/floodgate/internal/degrade"
	"time"

	"github.com/floodgate-dev/floodgate/internal/intent"
	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
)

// Agent is an agent the engine runs: its instructions, models, tools,
// handoff targets and limits.
type Agent struct {
	// Name identifies the agent in the run API (/v1/agents/{name}/runs) and
	// as model "agent:{name}" on /v1/chat/completions.
	Name string `yaml:"name"`
	// Description tells other agents when to hand off to this one; it
	// becomes the description of their transfer_to_{name} tool.
	Description string `yaml:"description"`
	// Instructions are the agent's system prompt.
	Instructions string `yaml:"instructions"`
	// Model is the default model. Required.
	Model string `yaml:"model"`
	// SimpleModel is the model for simple intents (the routing policy's
	// default small model) and for conversation summaries. Default: Model.
	SimpleModel string `yaml:"simple_model"`
	// Tools the agent may call: names of tools, the built-ins
	// escalate_to_human and update_user_state, or "mcp:{server}" for every
	// tool of an MCP server.
	Tools []string `yaml:"tools"`
	// Handoffs are the agents this one may transfer the conversation to.
	// Cycles (support → after_sales → support) are allowed.
	Handoffs []string `yaml:"handoffs"`
	// Limits bound one run of the agent.
	Limits AgentLimits `yaml:"limits"`
	// Context is the agent's context-window policy.
	Context ContextPolicy `yaml:"context"`
	// Intent configures how each turn's message is classified into an
	// intent and a complexity (simple, standard, complex): the built-in
	// customer-service intents by default, extended or replaced with the
	// agent's own keywords and patterns, and optionally a small model
	// asked when the rules are unsure (intent.model.model). See
	// internal/intent.Config for every key and its default.
	Intent intent.Config `yaml:"intent"`
	// Routing is the agent's model policy: which model answers a turn by
	// its complexity, the tenant's tier, the node's load and the time of
	// day, with the escalation rule after a failed answer of the small
	// model. small_model defaults to simple_model and large_model to
	// model, so that simple intents go to simple_model and everything
	// else to model. See internal/modelpolicy.Config for every key.
	Routing modelpolicy.Config `yaml:"routing"`
	// Degrade is the agent's degradation ladder and output checks: what
	// answers when the model cannot (another model, the rules engine, a
	// human handoff ticket, a friendly message), by trigger. Absent: the
	// default ladder of internal/degrade.DefaultRungs and no output
	// checks. See internal/degrade.Config for every key.
	Degrade degrade.Config `yaml:"degrade"`
}

// AgentLimits bound one run.
type AgentLimits struct {
	// MaxToolCalls per run, across model turns and handoffs. Default 8: in
	// the post-mortem 95 % of intents resolved within 6 calls and 8 covered
	// 99 %.
	MaxToolCalls int `yaml:"max_tool_calls"`
	// MaxTurns is the most model calls per run. Default 10.
	MaxTurns int `yaml:"max_turns"`
	// Deadline bounds a run's wall-clock time. Default 60s.
	Deadline time.Duration `yaml:"deadline"`
}

// ContextPolicy says what of a conversation goes into each model call:
// the newest turns within a token budget, a running summary of older
// turns written by the simple model off the request path, and the pinned
// facts (order numbers, amounts, …) that no summary may lose.
type ContextPolicy struct {
	// RecentTurns is the most turns a model call sees. Default 10.
	RecentTurns int `yaml:"recent_turns"`
	// MaxTokens is the prompt budget of one model call (system prompt,
	// facts, summary, tools, history and the turn so far): older turns lose
	// their tool calls, then go, to stay within it. Default 3000.
	MaxTokens int `yaml:"max_tokens"`
	// SummaryTokens caps the running summary of older turns. Default 500.
	SummaryTokens int `yaml:"summary_tokens"`
	// ContextLimit is the model's context window in tokens: no request is
	// built over ContextLimit-ReplyTokens. Default 128000.
	ContextLimit int `yaml:"context_limit"`
	// ReplyTokens are kept free for the reply. Default 4096 (a quarter of
	// context_limit when that is smaller).
	ReplyTokens int `yaml:"reply_tokens"`
	// MaxPendingTurns bounds the un-summarised turns a request loads when
	// summaries lag behind. At least recent_turns. Default 50.
	MaxPendingTurns int `yaml:"max_pending_turns"`
	// Facts configures the pinned facts.
	Facts FactsPolicy `yaml:"facts"`
}

// Built-in fact kinds, the extractors a FactsPolicy may list.
const (
	FactOrderNumber    = "order_number"
	FactTrackingNumber = "tracking_number"
	FactAmount         = "amount"
	FactDate           = "date"
	FactEmail          = "email"
	FactPhone          = "phone"
	FactSKU            = "sku"
)

// BuiltinFacts are the built-in fact kinds.
var BuiltinFacts = []string{FactEmail, FactDate, FactAmount, FactSKU, FactTrackingNumber, FactPhone, FactOrderNumber}

// FactsPolicy says which facts of a conversation are pinned.
type FactsPolicy struct {
	// Max bounds the pinned facts of a session; the least recently
	// mentioned go first. Default 64.
	Max int `yaml:"max"`
	// Builtins are the built-in extractors run over user messages (see
	// BuiltinFacts). Absent: all of them; [] none.
	Builtins []string `yaml:"builtins"`
	// Patterns are the agent's own extractors, run over user messages
	// before the built-ins.
	Patterns []FactPattern `yaml:"patterns"`
	// ToolFields are fields of tool results whose values are pinned.
	// Absent: order_id and order_number (order_number), tracking_number,
	// return_id (return_number) and refund_amount (amount); [] none.
	ToolFields []FactField `yaml:"tool_fields"`
}

// FactPattern extracts facts of one kind with a regular expression (RE2
// syntax); the first capturing group is the fact when there is one, else
// the whole match.
type FactPattern struct {
	// Kind names the facts: [a-z][a-z0-9_]{0,31}.
	Kind string `yaml:"kind"`
	// Regexp is the expression. It must not match the empty string.
	Regexp string `yaml:"regexp"`
}

// FactField pins the values of a field of tool results, found at any
// depth; a number of an amount kind ("amount" or ending in "_amount") is
// pinned with its object's "currency".
type FactField struct {
	// Field is the JSON key.
	Field string `yaml:"field"`
	// Kind names the facts: [a-z][a-z0-9_]{0,31}.
	Kind string `yaml:"kind"`
}

// Tool types.
const (
	ToolHTTP = "http"
)

// Built-in tools every agent may list.
const (
	BuiltinEscalate   = "escalate_to_human"
	BuiltinUserState  = "update_user_state"
	mcpToolsPrefix    = "mcp:"
	handoffToolPrefix = "transfer_to_"
)

// Tool is an HTTP tool: a JSON API the model may call.
type Tool struct {
	// Name is what the model calls; [a-zA-Z0-9_-]{1,64}.
	Name string `yaml:"name"`
	// Type is http (the default; MCP tools come from mcp_servers).
	Type string `yaml:"type"`
	// Description tells the model what the tool does and when to use it.
	Description string `yaml:"description"`
	// Method is the HTTP method. Default GET.
	Method string `yaml:"method"`
	// URL is a template: {param} is replaced by the path-escaped argument;
	// arguments not in the template go in the query (GET, DELETE) or a JSON
	// body (POST, PUT, PATCH).
	URL string `yaml:"url"`
	// Headers sent with every call; write secrets as ${ENV_VAR}.
	Headers map[string]string `yaml:"headers"`
	// Parameters is the JSON Schema of the arguments, validated before any
	// call is made.
	Parameters map[string]any `yaml:"parameters"`
	// Timeout of one call. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries of idempotent methods on failure. Default 2.
	Retries *int `yaml:"retries"`
	// MaxResponseBytes caps the answer read. Default 64 KiB.
	MaxResponseBytes int `yaml:"max_response_bytes"`
}

// MCP transports.
const (
	MCPStreamableHTTP = "streamable_http"
	MCPStdio          = "stdio"
)

// MCPServer is a Model Context Protocol server whose tools agents may use.
type MCPServer struct {
	// Name identifies the server; agents list its tools as "mcp:{name}".
	Name string `yaml:"name"`
	// Transport is streamable_http or stdio.
	Transport string `yaml:"transport"`
	// URL of a streamable_http server.
	URL string `yaml:"url"`
	// Command starts a stdio server: the program and its arguments.
	Command []string `yaml:"command"`
	// Env is added to a stdio server's environment, as KEY=value.
	Env []string `yaml:"env"`
	// Headers sent to a streamable_http server; secrets as ${ENV_VAR}.
	Headers map[string]string `yaml:"headers"`
	// Prefix is put before the server's tool names. Default "{name}_".
	Prefix string `yaml:"prefix"`
	// CallTimeout bounds one tool call. Default 30s.
	CallTimeout time.Duration `yaml:"call_timeout"`
}

// Session store backends.
const (
	StoreSQLite   = "sqlite"
	StoreRedis    = "redis"
	StorePostgres = "postgres"
)

// Sessions configures where conversations, shared user state and async
// runs are kept.
type Sessions struct {
	// Backend is sqlite (default), redis or postgres.
	Backend string `yaml:"backend"`
	// Path of the SQLite file. Default "floodgate-data/floodgate.db".
	Path string `yaml:"path"`
	// RedisURL, e.g. redis://127.0.0.1:6379/0, for the redis backend.
	RedisURL string `yaml:"redis_url"`
	// PostgresDSN, e.g. postgres://user@host/db, for the postgres backend.
	PostgresDSN string `yaml:"postgres_dsn"`
	// TTL of an idle session; every write extends it. Default 720h.
	TTL time.Duration `yaml:"ttl"`
	// LeaseTTL is how long a session's writer lease outlives a node that
	// died mid-turn; a running turn renews it every third of it. Default
	// 10s: the longest a conversation whose node died waits to be served
	// again.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
}

// Async configures async runs.
type Async struct {
	// WebhookSecret signs the webhooks async runs post on completion
	// (header X-Floodgate-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>">); write it as ${ENV_VAR}. Empty: runs may not ask for
	// a webhook.
	WebhookSecret string `yaml:"webhook_secret"`
	// WebhookAllowPrivate lets async runs' webhooks (URLs the tenants
	// give) reach loopback, private and link-local addresses. Default
	// false: a tenant cannot make floodgate call the internal network or
	// a cloud metadata service. Only for deployments whose every tenant
	// is trusted with the internal network.
	WebhookAllowPrivate bool `yaml:"webhook_allow_private"`
}

// Queue configures Q2, the durable work queue.
type Queue struct {
	// URL of an external NATS cluster with JetStream; empty starts a NATS
	// server inside the process.
	URL string `yaml:"url"`
	// DataDir is where the embedded server keeps its streams. Default
	// "floodgate-data/nats".
	DataDir string `yaml:"data_dir"`
}
