// Package config is floodgate's typed configuration tree: the YAML file an
// operator writes, its defaults, environment expansion for secrets, strict
// decoding (an unknown key is an error naming its path and line) and
// validation of every cross-reference. It is the only package that reads
// configuration files and the environment; cmd/floodgate turns the tree into
// each package's own Config.
package config

import (
	_ "embed"
	"fmt"
	"strings"
	"time"
)

// Config is the whole configuration file. The zero value is not useful; use
// Default for the embedded set-up or Load for a file.
type Config struct {
	// Listen is the gateway's address. Default "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`

	Gateway   Gateway         `yaml:"gateway"`
	Router    Router          `yaml:"router"`
	Models    []Model         `yaml:"models"`
	Endpoints []Endpoint      `yaml:"endpoints"`
	Tiers     map[string]Tier `yaml:"tiers"`
	Tenants   []Tenant        `yaml:"tenants"`

	Agents     []Agent     `yaml:"agents"`
	Tools      []Tool      `yaml:"tools"`
	MCPServers []MCPServer `yaml:"mcp_servers"`
	Sessions   Sessions    `yaml:"sessions"`
	Queue      Queue       `yaml:"queue"`
	Async      Async       `yaml:"async"`

	Cluster      Cluster      `yaml:"cluster"`
	Admission    Admission    `yaml:"admission"`
	PromptFilter PromptFilter `yaml:"prompt_filter"`
	Usage        Usage        `yaml:"usage"`
	Handoff      Handoff      `yaml:"handoff"`
}

// Gateway holds the HTTP front door's limits.
type Gateway struct {
	// MaxBodyBytes caps a request body; larger bodies get 413. Default 1 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxJSONDepth caps JSON nesting; deeper bodies get 400. Default 64.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// DrainTimeout is how long in-flight requests and streams get to finish
	// on shutdown. Default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// RequestTimeout bounds one request end to end. Default 10m.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// AdminKeys are the SHA-256 hashes of the keys of the operations API
	// (/admin/...), as tenants' keys are written.
	AdminKeys []string `yaml:"admin_keys"`
}

// Router holds failover and ejection policy.
type Router struct {
	// MaxAttempts per request, the first included. Default 3.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBudget bounds retries so a dead region cannot double the load.
	RetryBudget RetryBudget `yaml:"retry_budget"`
	// Ejection takes failing endpoints out of rotation.
	Ejection Ejection `yaml:"ejection"`
}

// RetryBudget allows, within Window, MinPerSecond×Window retries plus Ratio
// of the requests. Defaults 0.2, 10, 10s.
type RetryBudget struct {
	Ratio        float64       `yaml:"ratio"`
	MinPerSecond float64       `yaml:"min_per_second"`
	Window       time.Duration `yaml:"window"`
}

// Ejection says when an endpoint leaves rotation and for how long.
type Ejection struct {
	// ConsecutiveFailures before ejection. Default 1.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// BaseCoolDown is the first ejection's length and the probe interval.
	// Default 1s; it doubles with each consecutive ejection.
	BaseCoolDown time.Duration `yaml:"base_cool_down"`
	// MaxCoolDown caps the cool-down. Default 60s.
	MaxCoolDown time.Duration `yaml:"max_cool_down"`
}

// Model is a model name clients may ask for, with its aliases and price.
type Model struct {
	// Name is floodgate's canonical name, e.g. "large".
	Name string `yaml:"name"`
	// Aliases are other names clients may use, e.g. "gpt-4o".
	Aliases []string `yaml:"aliases"`
	// Price is the default price of the model at every endpoint.
	Price Price `yaml:"price"`
}

// Price is in USD per million tokens.
type Price struct {
	Input       float64 `yaml:"input"`
	CachedInput float64 `yaml:"cached_input"`
	Output      float64 `yaml:"output"`
}

// Endpoint types.
const (
	EndpointOpenAI = "openai" // OpenAI, vLLM, Ollama, LM Studio, a remote floodgate sim
	EndpointAzure  = "azure"  // Azure OpenAI deployments
	EndpointSim    = "sim"    // a simulated provider started inside the process
)

// Endpoint is one upstream API serving some models.
type Endpoint struct {
	// Name identifies the endpoint in metrics and the admin table.
	Name string `yaml:"name"`
	// Type is openai (default), azure or sim.
	Type string `yaml:"type"`
	// BaseURL is the API root: up to /v1 for openai, the resource URL for
	// azure. Ignored for sim, which listens on a loopback port of its own.
	BaseURL string `yaml:"base_url"`
	// APIKey is sent upstream; write it as ${ENV_VAR} to keep it out of the
	// file.
	APIKey string `yaml:"api_key"`
	// APIVersion is azure's api-version. Default 2024-10-21.
	APIVersion string `yaml:"api_version"`
	// Headers are added to every upstream call.
	Headers map[string]string `yaml:"headers"`
	// Weight biases selection among endpoints. Default 1.
	Weight float64 `yaml:"weight"`
	// Models maps floodgate model names to the name at this endpoint (the
	// deployment, for azure). An empty value means the same name.
	Models map[string]string `yaml:"models"`
	// Timeouts of calls to this endpoint.
	Timeouts Timeouts `yaml:"timeouts"`
	// Sim configures a sim endpoint.
	Sim Sim `yaml:"sim"`
}

// Timeouts of upstream calls.
type Timeouts struct {
	// Connect bounds dialling and TLS. Default 2s.
	Connect time.Duration `yaml:"connect"`
	// FirstToken bounds the wait for a stream's first chunk. Default 15s.
	FirstToken time.Duration `yaml:"first_token"`
	// Total bounds a whole call. Default 120s.
	Total time.Duration `yaml:"total"`
}

// Sim configures an in-process simulated provider.
type Sim struct {
	// Seed makes its behaviour and faults reproducible. Default 1.
	Seed int64 `yaml:"seed"`
	// TimeScale multiplies every simulated delay; 0 means no delays.
	// Default 1 (nil means unset, so that 0 can be written).
	TimeScale *float64 `yaml:"time_scale"`
	// WanderRate is the probability that the model makes a needless tool
	// call after tool results (the post-mortem's tool loops). Default
	// 0.07; 0 means never (nil means unset).
	WanderRate *float64 `yaml:"wander_rate"`
	// RPM caps each model's requests per minute (429 beyond, like a real
	// provider's capacity); 0 = unlimited.
	RPM int `yaml:"rpm"`
}

// Tier is what a class of tenants may do.
type Tier struct {
	// MaxOutputTokens caps max_tokens; larger asks are capped. 0 = no cap.
	MaxOutputTokens int `yaml:"max_output_tokens"`
	// DefaultOutputTokens is filled in when a request sets none. 0 = unset.
	DefaultOutputTokens int `yaml:"default_output_tokens"`
	// MaxN caps n. Default 1.
	MaxN int `yaml:"max_n"`
	// AllowLogitBias, AllowLogprobs, AllowServiceTier and AllowStore keep
	// those parameters; by default they are stripped.
	AllowLogitBias   bool `yaml:"allow_logit_bias"`
	AllowLogprobs    bool `yaml:"allow_logprobs"`
	AllowServiceTier bool `yaml:"allow_service_tier"`
	AllowStore       bool `yaml:"allow_store"`
	// Models the tier may use; empty means all.
	Models []string `yaml:"models"`

	// Rate limits of each tenant of the tier.
	TierLimits `yaml:",inline"`
	// Priority in the admission queue: higher is served first and shed
	// last. Default 100 for vip, 10 for free, 50 otherwise.
	Priority int `yaml:"priority"`
	// QueueDeadline is the longest a request waits for admission before it
	// gets a degraded answer or a 429. Default 2s.
	QueueDeadline time.Duration `yaml:"queue_deadline"`
	// Peak moves the tier to a lighter model at peak.
	Peak Peak `yaml:"peak"`
}

// Tenant is a customer of the gateway with its API keys.
type Tenant struct {
	// ID names the tenant in metrics and usage.
	ID string `yaml:"id"`
	// Tier names an entry of tiers. Default "standard".
	Tier string `yaml:"tier"`
	// Keys are the SHA-256 hashes of the tenant's API keys, as 64 hex
	// digits, optionally prefixed "sha256:". Keys never appear in clear.
	// `floodgate key hash` prints the hash of a key.
	Keys []string `yaml:"keys"`
	// KeyExpiry maps some of Keys (the same hash) to the time from which
	// they are refused, e.g. {"sha256:…": 2027-01-01T00:00:00Z}, for key
	// rotation.
	KeyExpiry map[string]time.Time `yaml:"key_expiry"`
	// Limits override the tier's rate limits for this tenant.
	Limits *TierLimits `yaml:"limits"`
	// Budget caps the tenant's spend.
	Budget Budget `yaml:"budget"`
	// Language is the tenant's language ("de", "fr"): the degradation
	// ladder's messages and handoff acknowledgements speak it when a
	// customer's message does not tell. Default: English.
	Language string `yaml:"language"`
	// PromptFilter is the tenant's action on a detected prompt injection:
	// block, flag, sanitize or off. Default prompt_filter.action.
	PromptFilter string `yaml:"prompt_filter"`
}

// defaultYAML is the configuration `floodgate serve` runs with when no
// file is given. It doubles as a complete, commented example.
//
//go:embed default.yaml
var defaultYAML []byte

// Default returns the embedded configuration (default.yaml): two
// in-process sim endpoints ("primary" and "secondary") serving a large and a
// small model, three tiers, and the demo agents support, after_sales and
// recommend with HTTP tools calling the demo shop at shopURL. It has no
// tenant; the caller adds a demo tenant with a fresh key.
func Default(shopURL string) *Config {
	c, err := Parse(defaultYAML, func(name string) (string, bool) {
		if name == "SHOP_URL" {
			return shopURL, true
		}
		return "", false
	})
	if err != nil {
		panic("config: embedded default.yaml: " + err.Error()) // a test keeps this from happening
	}
	return c
}

// DefaultTier is the tier of a tenant that names none.
const DefaultTier = "standard"

// setDefaults fills every unset field with its documented default.
func (c *Config) setDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Listen, "127.0.0.1:8080")
	def(&c.LogLevel, "info")
	if c.Gateway.MaxBodyBytes == 0 {
		c.Gateway.MaxBodyBytes = 1 << 20
	}
	if c.Gateway.MaxJSONDepth == 0 {
		c.Gateway.MaxJSONDepth = 64
	}
	defDur(&c.Gateway.DrainTimeout, 30*time.Second)
	defDur(&c.Gateway.RequestTimeout, 10*time.Minute)
	if c.Router.MaxAttempts == 0 {
		c.Router.MaxAttempts = 3
	}
	if c.Router.RetryBudget.Ratio == 0 {
		c.Router.RetryBudget.Ratio = 0.2
	}
	if c.Router.RetryBudget.MinPerSecond == 0 {
		c.Router.RetryBudget.MinPerSecond = 10
	}
	defDur(&c.Router.RetryBudget.Window, 10*time.Second)
	if c.Router.Ejection.ConsecutiveFailures == 0 {
		c.Router.Ejection.ConsecutiveFailures = 1
	}
	defDur(&c.Router.Ejection.BaseCoolDown, time.Second)
	defDur(&c.Router.Ejection.MaxCoolDown, time.Minute)
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		def(&e.Type, EndpointOpenAI)
		if e.Type == EndpointAzure {
			def(&e.APIVersion, "2024-10-21")
		}
		if e.Weight == 0 {
			e.Weight = 1
		}
		defDur(&e.Timeouts.Connect, 2*time.Second)
		defDur(&e.Timeouts.FirstToken, 15*time.Second)
		defDur(&e.Timeouts.Total, 120*time.Second)
		if e.Type == EndpointSim {
			if e.Sim.Seed == 0 {
				e.Sim.Seed = int64(i + 1)
			}
			if e.Sim.TimeScale == nil {
				one := 1.0
				e.Sim.TimeScale = &one
			}
		}
		for m, up := range e.Models {
			if up == "" {
				e.Models[m] = m
			}
		}
	}
	if c.Tiers == nil {
		c.Tiers = map[string]Tier{}
	}
	if _, ok := c.Tiers[DefaultTier]; !ok {
		c.Tiers[DefaultTier] = Tier{}
	}
	for name, t := range c.Tiers {
		if t.MaxN == 0 {
			t.MaxN = 1
			c.Tiers[name] = t
		}
	}
	for i := range c.Tenants {
		def(&c.Tenants[i].Tier, DefaultTier)
	}
	for i := range c.Agents {
		a := &c.Agents[i]
		def(&a.SimpleModel, a.Model)
		if a.Limits.MaxToolCalls == 0 {
			a.Limits.MaxToolCalls = 8
		}
		if a.Limits.MaxTurns == 0 {
			a.Limits.MaxTurns = 10
		}
		defDur(&a.Limits.Deadline, time.Minute)
		if a.Context.RecentTurns == 0 {
			a.Context.RecentTurns = 10
		}
		if a.Context.MaxTokens == 0 {
			a.Context.MaxTokens = 3000
		}
		if a.Context.SummaryTokens == 0 {
			a.Context.SummaryTokens = 500
		}
		defaultContext(&a.Context)
	}
	for i := range c.Tools {
		t := &c.Tools[i]
		def(&t.Type, ToolHTTP)
		def(&t.Method, "GET")
		t.Method = strings.ToUpper(t.Method)
		defDur(&t.Timeout, 10*time.Second)
		if t.Retries == nil {
			two := 2
			t.Retries = &two
		}
		if t.MaxResponseBytes == 0 {
			t.MaxResponseBytes = 64 << 10
		}
	}
	for i := range c.MCPServers {
		m := &c.MCPServers[i]
		def(&m.Prefix, m.Name+"_")
		defDur(&m.CallTimeout, 30*time.Second)
	}
	def(&c.Sessions.Backend, StoreSQLite)
	def(&c.Sessions.Path, "floodgate-data/floodgate.db")
	defDur(&c.Sessions.TTL, 30*24*time.Hour)
	defDur(&c.Sessions.LeaseTTL, 10*time.Second)
	def(&c.Queue.DataDir, "floodgate-data/nats")
	c.setPeakDefaults()
}

// Summary is a one-line description for `config check` and start-up logs.
func (c *Config) Summary() string {
	keys := 0
	for _, t := range c.Tenants {
		keys += len(t.Keys)
	}
	return fmt.Sprintf("%d endpoints, %d models, %d tiers, %d tenants (%d keys), %d agents, %d tools, %d MCP servers",
		len(c.Endpoints), len(c.Models), len(c.Tiers), len(c.Tenants), keys, len(c.Agents), len(c.Tools), len(c.MCPServers))
}
