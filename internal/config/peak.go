package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// TierLimits are the rate limits and the place in the admission queue of a
// tier; a tenant may override the limits for itself.
type TierLimits struct {
	// RequestsPerMinute per tenant. 0 = unlimited.
	RequestsPerMinute int `yaml:"requests_per_minute"`
	// TokensPerMinute per tenant, prompt and completion together; the
	// gateway estimates a request's tokens before it runs and corrects the
	// count from its usage after. 0 = unlimited.
	TokensPerMinute int `yaml:"tokens_per_minute"`
	// MaxConcurrentRuns per tenant on a node. 0 = unlimited.
	MaxConcurrentRuns int `yaml:"max_concurrent_runs"`
}

// Peak moves a tier to a lighter model when the node is busy or inside
// configured time windows: the post-mortem kept its VIPs at 99.7 % during
// sales by moving the free tier to the small model at peak.
type Peak struct {
	// Model the tier's requests go to at peak, e.g. small. Empty: no peak
	// policy.
	Model string `yaml:"model"`
	// LoadAbove is the admission utilisation (running/capacity, 0–1) above
	// which the node is at peak. 0: load never makes a peak.
	LoadAbove float64 `yaml:"load_above"`
	// Windows are daily times of peak, "HH:MM-HH:MM" in TimeZone; a window
	// may wrap midnight ("22:00-06:00").
	Windows []string `yaml:"windows"`
	// TimeZone of Windows, an IANA name. Default UTC.
	TimeZone string `yaml:"time_zone"`
}

// Budget caps a tenant's spend in US dollars per UTC day and month,
// cluster-wide when cluster.redis_url is set. At SoftPercent of a cap the
// tenant's requests move to the small model; at the cap they are refused.
type Budget struct {
	// Daily cap in USD. 0 = none.
	Daily float64 `yaml:"daily"`
	// Monthly cap in USD. 0 = none.
	Monthly float64 `yaml:"monthly"`
	// SoftPercent of a cap starts the downgrade. 0 means 80.
	SoftPercent float64 `yaml:"soft_percent"`
	// SoftModel is what requests move to past the soft limit. Default: the
	// cheapest model by output price.
	SoftModel string `yaml:"soft_model"`
}

// Cluster configures what several floodgate nodes share: one Redis for
// cluster-wide rate limits and budgets and for the membership ring that
// keeps each conversation on one node.
type Cluster struct {
	// RedisURL, e.g. redis://127.0.0.1:6379/0. Empty: a single node, all
	// limits in process.
	RedisURL string `yaml:"redis_url"`
	// Prefix of every Redis key floodgate writes. Default "fg:".
	Prefix string `yaml:"prefix"`
	// AdvertiseURL is how other nodes reach this one, e.g.
	// http://10.0.0.5:8080. Empty: no sticky routing (every node serves
	// every session; the session lease still keeps one writer).
	AdvertiseURL string `yaml:"advertise_url"`
	// Secret authenticates turns forwarded between nodes; write it as
	// ${ENV_VAR}. Required with AdvertiseURL.
	Secret string `yaml:"secret"`
	// HeartbeatTTL is how long a silent node stays a member. Default 3s.
	HeartbeatTTL time.Duration `yaml:"heartbeat_ttl"`
	// Nodes is how many nodes share the limits. While Redis is
	// unreachable (fail open: requests go on under local limits) each
	// node enforces 1/Nodes of every limit, so that the
	// cluster as a whole stays near it. With advertise_url the ring's live
	// member count replaces it. Default 1.
	Nodes int `yaml:"nodes"`
}

// Admission configures Q1, each node's queue in front of execution.
type Admission struct {
	// MaxConcurrent requests executing at once on a node. Default 4096:
	// requests waiting on a model cost little here; set it to what the
	// model endpoints behind the node can serve.
	MaxConcurrent int `yaml:"max_concurrent"`
	// MaxQueue is how many more may wait; past it the lowest priority is
	// shed. Default 4 × MaxConcurrent.
	MaxQueue int `yaml:"max_queue"`
	// ShedAnswer is what a shed or expired agent run answers (status
	// degraded). Default: a short apology asking the customer to try again.
	ShedAnswer string `yaml:"shed_answer"`
}

// PromptFilter configures the prompt-injection detector.
type PromptFilter struct {
	// Action for tenants that set none: block (default), flag, sanitize or
	// off.
	Action string `yaml:"action"`
	// Threshold of the detector's score (0–1) above which a message is an
	// injection. Default 0.5.
	Threshold float64 `yaml:"threshold"`
	// GuardModel, if set, is asked about messages whose score is uncertain.
	GuardModel string `yaml:"guard_model"`
}

// Usage configures the usage ledger.
type Usage struct {
	// Backend is sqlite (default), postgres, or none (no ledger; usage is
	// still counted in the Prometheus metrics).
	Backend string `yaml:"backend"`
	// Path of the SQLite file. Default "floodgate-data/usage.db".
	Path string `yaml:"path"`
	// PostgresDSN for the postgres backend.
	PostgresDSN string `yaml:"postgres_dsn"`
}

// Handoff configures human handoff tickets: where they are kept and the
// help desk's webhook.
type Handoff struct {
	// Backend is sqlite (default) or postgres.
	Backend string `yaml:"backend"`
	// Path of the SQLite file. Default "floodgate-data/handoffs.db".
	Path string `yaml:"path"`
	// PostgresDSN for the postgres backend.
	PostgresDSN string `yaml:"postgres_dsn"`
	// WebhookURL is the help desk's endpoint; every ticket event is posted
	// to it, signed, with retries and back-off. Empty: tickets are only
	// listed in /admin/handoffs.
	WebhookURL string `yaml:"webhook_url"`
	// WebhookSecret signs the webhooks (X-Floodgate-Signature, as async
	// runs' webhooks); write it as ${ENV_VAR}. Required with webhook_url.
	WebhookSecret string `yaml:"webhook_secret"`
}

// UsageNone turns the usage ledger off.
const UsageNone = "none"

// Prompt-filter actions.
const (
	FilterBlock    = "block"
	FilterFlag     = "flag"
	FilterSanitize = "sanitize"
	FilterOff      = "off"
)

func (c *Config) setPeakDefaults() {
	if c.Cluster.Prefix == "" {
		c.Cluster.Prefix = "fg:"
	}
	if c.Cluster.HeartbeatTTL == 0 {
		c.Cluster.HeartbeatTTL = 3 * time.Second
	}
	if c.Admission.MaxConcurrent == 0 {
		c.Admission.MaxConcurrent = 4096
	}
	if c.Admission.MaxQueue == 0 {
		c.Admission.MaxQueue = 4 * c.Admission.MaxConcurrent
	}
	if c.Admission.ShedAnswer == "" {
		c.Admission.ShedAnswer = "We're very busy right now and couldn't get to your message in time. Please try again in a moment."
	}
	if c.PromptFilter.Action == "" {
		c.PromptFilter.Action = FilterBlock
	}
	if c.PromptFilter.Threshold == 0 {
		c.PromptFilter.Threshold = 0.5
	}
	if c.Handoff.Backend == "" {
		c.Handoff.Backend = StoreSQLite
	}
	if c.Handoff.Path == "" {
		c.Handoff.Path = "floodgate-data/handoffs.db"
	}
	if c.Usage.Backend == "" {
		c.Usage.Backend = StoreSQLite
	}
	if c.Usage.Path == "" {
		c.Usage.Path = "floodgate-data/usage.db"
	}
	for name, t := range c.Tiers {
		if t.Priority == 0 {
			t.Priority = defaultPriority[name]
			if t.Priority == 0 {
				t.Priority = defaultPriority[DefaultTier]
			}
		}
		if t.QueueDeadline == 0 {
			t.QueueDeadline = 2 * time.Second
		}
		c.Tiers[name] = t
	}
}

// defaultPriority ranks the well-known tiers; others default to 50.
var defaultPriority = map[string]int{"vip": 100, "standard": 50, "free": 10}

func (c *Config) validatePeak(bad func(path, format string, args ...any), models map[string]bool) {
	checkLimits := func(p string, l TierLimits) {
		if l.RequestsPerMinute < 0 || l.TokensPerMinute < 0 || l.MaxConcurrentRuns < 0 {
			bad(p, "limits must not be negative")
		}
	}
	for name, t := range c.Tiers {
		p := "tiers." + name
		checkLimits(p, t.TierLimits)
		if t.Priority < 1 || t.Priority > 1000 {
			bad(p+".priority", "must be between 1 and 1000")
		}
		if t.QueueDeadline < time.Millisecond {
			bad(p+".queue_deadline", "must be at least 1ms")
		}
		if t.Peak.Model == "" {
			if t.Peak.LoadAbove != 0 || len(t.Peak.Windows) > 0 {
				bad(p+".peak.model", "required with load_above or windows")
			}
			continue
		}
		if !models[t.Peak.Model] {
			bad(p+".peak.model", "unknown model %q", t.Peak.Model)
		}
		if t.Peak.LoadAbove < 0 || t.Peak.LoadAbove > 1 {
			bad(p+".peak.load_above", "must be between 0 and 1")
		}
		if _, err := time.LoadLocation(t.Peak.TimeZone); err != nil {
			bad(p+".peak.time_zone", "%v", err)
		}
		for j, w := range t.Peak.Windows {
			if _, _, err := ParseWindow(w); err != nil {
				bad(fmt.Sprintf("%s.peak.windows[%d]", p, j), "%v", err)
			}
		}
	}
	for i, t := range c.Tenants {
		p := fmt.Sprintf("tenants[%d]", i)
		for h := range t.KeyExpiry {
			if !slices.Contains(t.Keys, h) {
				bad(p+".key_expiry", "%q is not one of the tenant's keys (write it as in keys)", h)
			}
		}
		if t.Limits != nil {
			checkLimits(p+".limits", *t.Limits)
		}
		b := t.Budget
		if b.Daily < 0 || b.Monthly < 0 {
			bad(p+".budget", "caps must not be negative")
		}
		if b.SoftPercent < 0 || b.SoftPercent > 100 {
			bad(p+".budget.soft_percent", "must be between 0 (the default, 80) and 100")
		}
		if b.SoftModel != "" && !models[b.SoftModel] {
			bad(p+".budget.soft_model", "unknown model %q", b.SoftModel)
		}
		if t.PromptFilter != "" && !validFilterAction(t.PromptFilter) {
			bad(p+".prompt_filter", "want block, flag, sanitize or off, got %q", t.PromptFilter)
		}
	}
	if u := c.Cluster.RedisURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "redis" && pu.Scheme != "rediss") {
			bad("cluster.redis_url", "want redis://host:port/db, got %q", u)
		}
	}
	if u := c.Cluster.AdvertiseURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad("cluster.advertise_url", "want http(s)://host:port, got %q", u)
		}
		if c.Cluster.RedisURL == "" {
			bad("cluster.advertise_url", "sticky routing needs cluster.redis_url")
		}
		if len(c.Cluster.Secret) < 16 {
			bad("cluster.secret", "required with advertise_url, at least 16 characters")
		}
	}
	if c.Sessions.LeaseTTL < time.Second {
		bad("sessions.lease_ttl", "must be at least 1s")
	}
	if c.Cluster.Nodes < 0 {
		bad("cluster.nodes", "must not be negative")
	}
	if c.Cluster.HeartbeatTTL < 100*time.Millisecond {
		bad("cluster.heartbeat_ttl", "must be at least 100ms")
	}
	for i, k := range c.Gateway.AdminKeys {
		if !hashPattern.MatchString(strings.TrimPrefix(k, "sha256:")) {
			bad(fmt.Sprintf("gateway.admin_keys[%d]", i), "want the key's SHA-256 as 64 lower-case hex digits (`floodgate key hash` prints it)")
		}
	}
	if c.Admission.MaxConcurrent < 1 {
		bad("admission.max_concurrent", "must be at least 1")
	}
	if c.Admission.MaxQueue < 0 {
		bad("admission.max_queue", "must not be negative")
	}
	if !validFilterAction(c.PromptFilter.Action) {
		bad("prompt_filter.action", "want block, flag, sanitize or off, got %q", c.PromptFilter.Action)
	}
	if th := c.PromptFilter.Threshold; th <= 0 || th >= 1 {
		bad("prompt_filter.threshold", "must be between 0 and 1")
	}
	if g := c.PromptFilter.GuardModel; g != "" && !models[g] {
		bad("prompt_filter.guard_model", "unknown model %q", g)
	}
	switch c.Handoff.Backend {
	case StoreSQLite:
	case StorePostgres:
		if c.Handoff.PostgresDSN == "" {
			bad("handoff.postgres_dsn", "required with backend postgres")
		}
	default:
		bad("handoff.backend", "want sqlite or postgres, got %q", c.Handoff.Backend)
	}
	if u := c.Handoff.WebhookURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			bad("handoff.webhook_url", "want an http(s) URL, got %q", u)
		}
		if len(c.Handoff.WebhookSecret) < 16 {
			bad("handoff.webhook_secret", "required with webhook_url, at least 16 characters")
		}
	}
	switch c.Usage.Backend {
	case StoreSQLite, UsageNone:
	case StorePostgres:
		if c.Usage.PostgresDSN == "" {
			bad("usage.postgres_dsn", "required with backend postgres")
		}
	default:
		bad("usage.backend", "want sqlite, postgres or none, got %q", c.Usage.Backend)
	}
}

func validFilterAction(a string) bool {
	return slices.Contains([]string{FilterBlock, FilterFlag, FilterSanitize, FilterOff}, a)
}

// ParseWindow parses a daily window "HH:MM-HH:MM" into its start and end as
// offsets from midnight. End before start wraps midnight; equal ends are an
// error (say 00:00-24:00 for all day).
func ParseWindow(s string) (start, end time.Duration, err error) {
	var h1, m1, h2, m2 int
	var rest string
	n, _ := fmt.Sscanf(s, "%02d:%02d-%02d:%02d%s", &h1, &m1, &h2, &m2, &rest)
	if n != 4 || len(s) != len("00:00-00:00") {
		return 0, 0, fmt.Errorf("want HH:MM-HH:MM, got %q", s)
	}
	if h1 > 23 || m1 > 59 || h2 > 24 || m2 > 59 || (h2 == 24 && m2 != 0) {
		return 0, 0, fmt.Errorf("time out of range in %q", s)
	}
	start = time.Duration(h1)*time.Hour + time.Duration(m1)*time.Minute
	end = time.Duration(h2)*time.Hour + time.Duration(m2)*time.Minute
	if start == end {
		return 0, 0, fmt.Errorf("empty window %q", s)
	}
	return start, end, nil
}
