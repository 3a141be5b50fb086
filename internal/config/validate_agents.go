package config

import (
	"errors"
	"fmt"
	"github.com/floodgate-dev/floodgate/internal/degrade"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
)

// toolNamePattern is what OpenAI accepts as a function name.
var toolNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// agentNamePattern leaves room for the transfer_to_ prefix of handoff tools.
var agentNamePattern = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,52}$`)

// validateAgents checks tools, MCP servers, agents and the stores, and every
// reference between them.
func (c *Config) validateAgents(bad func(path, format string, args ...any)) {
	models := map[string]bool{}
	for _, m := range c.Models {
		models[m.Name] = true
	}

	tools := map[string]bool{BuiltinEscalate: true, BuiltinUserState: true}
	for i, t := range c.Tools {
		p := fmt.Sprintf("tools[%d]", i)
		switch {
		case !toolNamePattern.MatchString(t.Name):
			bad(p+".name", "invalid tool name %q: want [a-zA-Z0-9_-]{1,64}", t.Name)
		case tools[t.Name]:
			bad(p+".name", "duplicate or reserved tool name %q", t.Name)
		case strings.HasPrefix(t.Name, handoffToolPrefix):
			bad(p+".name", "tool names starting with %s are reserved for handoffs", handoffToolPrefix)
		}
		tools[t.Name] = true
		if t.Type != ToolHTTP {
			bad(p+".type", "want http, got %q (MCP tools come from mcp_servers)", t.Type)
		}
		if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}, t.Method) {
			bad(p+".method", "unsupported method %q", t.Method)
		}
		// Placeholders are not valid URL syntax everywhere; check the URL
		// with them filled in.
		u, err := url.Parse(placeholder.ReplaceAllString(t.URL, "x"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(p+".url", "want an http(s) URL template, got %q", t.URL)
		}
		if t.Parameters != nil && t.Parameters["type"] != "object" {
			bad(p+".parameters", "the arguments' JSON Schema must have type: object")
		}
		if t.Timeout < 0 || t.MaxResponseBytes < 0 || (t.Retries != nil && *t.Retries < 0) {
			bad(p, "timeout, retries and max_response_bytes must not be negative")
		}
	}

	servers := map[string]bool{}
	for i, m := range c.MCPServers {
		p := fmt.Sprintf("mcp_servers[%d]", i)
		switch {
		case !namePattern.MatchString(m.Name):
			bad(p+".name", "invalid MCP server name %q", m.Name)
		case servers[m.Name]:
			bad(p+".name", "duplicate MCP server %q", m.Name)
		}
		servers[m.Name] = true
		switch m.Transport {
		case MCPStreamableHTTP:
			if u, err := url.Parse(m.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
				bad(p+".url", "a streamable_http server needs an http(s) url")
			}
		case MCPStdio:
			if len(m.Command) == 0 {
				bad(p+".command", "a stdio server needs a command")
			}
		default:
			bad(p+".transport", "want streamable_http or stdio, got %q", m.Transport)
		}
	}

	agents := map[string]bool{}
	for i, a := range c.Agents {
		p := fmt.Sprintf("agents[%d]", i)
		switch {
		case !agentNamePattern.MatchString(a.Name):
			bad(p+".name", "invalid agent name %q: want [a-zA-Z0-9_-]{1,52}", a.Name)
		case agents[a.Name]:
			bad(p+".name", "duplicate agent %q", a.Name)
		}
		agents[a.Name] = true
	}
	for i, a := range c.Agents {
		p := fmt.Sprintf("agents[%d]", i)
		if strings.TrimSpace(a.Instructions) == "" {
			bad(p+".instructions", "an agent needs instructions")
		}
		if !models[a.Model] {
			bad(p+".model", "unknown model %q", a.Model)
		}
		if !models[a.SimpleModel] {
			bad(p+".simple_model", "unknown model %q", a.SimpleModel)
		}
		for j, t := range a.Tools {
			tp := fmt.Sprintf("%s.tools[%d]", p, j)
			if server, ok := strings.CutPrefix(t, mcpToolsPrefix); ok {
				if !servers[server] {
					bad(tp, "unknown MCP server %q", server)
				}
				continue
			}
			if !tools[t] {
				bad(tp, "unknown tool %q", t)
			}
		}
		for j, h := range a.Handoffs {
			hp := fmt.Sprintf("%s.handoffs[%d]", p, j)
			switch {
			case h == a.Name:
				bad(hp, "an agent cannot hand off to itself")
			case !agents[h]:
				bad(hp, "unknown agent %q", h)
			}
		}
		l := a.Limits
		if l.MaxToolCalls < 0 || l.MaxTurns < 1 || l.Deadline <= 0 {
			bad(p+".limits", "max_tool_calls must not be negative; max_turns and deadline must be positive")
		}
		cp := a.Context
		if cp.RecentTurns < 1 || cp.MaxTokens < 1 || cp.SummaryTokens < 1 {
			bad(p+".context", "recent_turns, max_tokens and summary_tokens must be positive")
		}
		validateContext(p+".context", &cp, bad)
		validateRouting(p, &a, models, bad)
		validateDegrade(p+".degrade", &a, models, bad)
	}

	switch c.Sessions.Backend {
	case StoreSQLite:
		if c.Sessions.Path == "" {
			bad("sessions.path", "the sqlite backend needs a path")
		}
	case StoreRedis:
		if u, err := url.Parse(c.Sessions.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
			bad("sessions.redis_url", "the redis backend needs a redis:// URL")
		}
	case StorePostgres:
		if c.Sessions.PostgresDSN == "" {
			bad("sessions.postgres_dsn", "the postgres backend needs a DSN")
		}
	default:
		bad("sessions.backend", "want sqlite, redis or postgres, got %q", c.Sessions.Backend)
	}
	if c.Sessions.TTL <= 0 {
		bad("sessions.ttl", "must be positive")
	}
}

var placeholder = regexp.MustCompile(`\{[^{}/]+\}`)

// validateRouting checks an agent's intent classification and model
// policy, and that every model the policy or the classifier may ask for
// is a configured model.
func validateRouting(p string, a *Agent, models map[string]bool, bad func(path, format string, args ...any)) {
	for _, err := range splitErrors(a.Intent.Validate()) {
		bad(p+".intent", "%v", err)
	}
	if m := a.Intent.Model.Model; m != "" && !models[m] {
		bad(p+".intent.model.model", "unknown model %q", m)
	}
	for i, in := range a.Intent.Intents {
		if in.Agent != "" && !slices.Contains(a.Handoffs, in.Agent) {
			bad(fmt.Sprintf("%s.intent.intents[%d].agent", p, i), "%q is not one of the agent's handoffs", in.Agent)
		}
	}
	rc := effectiveRouting(a)
	for _, err := range splitErrors(rc.Validate()) {
		bad(p+".routing", "%v", err)
	}
	pol, err := modelpolicy.New(rc)
	if err != nil {
		return
	}
	for _, m := range pol.Models() {
		if !models[m] {
			bad(p+".routing", "unknown model %q", m)
		}
	}
}

// effectiveRouting returns a's model policy with its defaults: small_model
// is simple_model and large_model is model when not set.
func effectiveRouting(a *Agent) modelpolicy.Config {
	rc := a.Routing
	if rc.SmallModel == "" {
		rc.SmallModel = a.SimpleModel
	}
	if rc.LargeModel == "" {
		rc.LargeModel = a.Model
	}
	return rc
}

// splitErrors returns the errors an errors.Join holds, or err alone.
func splitErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// validateDegrade checks an agent's degradation ladder: its own rules
// (internal/degrade) and that its model rungs name configured models.
func validateDegrade(p string, a *Agent, models map[string]bool, bad func(path, format string, args ...any)) {
	var ve *degrade.ValidationError
	if err := a.Degrade.Validate(p); errors.As(err, &ve) {
		for _, pr := range ve.Problems {
			bad(pr.Path, "%s", pr.Message)
		}
	} else if err != nil {
		bad(p, "%v", err)
	}
	for i, r := range a.Degrade.Rungs {
		if r.Kind == degrade.KindModel && r.Model != "" && !models[r.Model] {
			bad(fmt.Sprintf("%s.rungs[%d].model", p, i), "unknown model %q", r.Model)
		}
	}
}
