package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$`)
	// Model names may look like Hugging Face repositories ("Qwen/Qwen2.5-72B").
	modelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$`)
	hashPattern  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// Validate checks every field and cross-reference and returns all problems
// at once, each naming its path.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}

	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "want host:port, got %q", c.Listen)
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		bad("log_level", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	if c.Gateway.MaxBodyBytes < 1024 {
		bad("gateway.max_body_bytes", "must be at least 1024")
	}
	if c.Gateway.MaxJSONDepth < 4 {
		bad("gateway.max_json_depth", "must be at least 4")
	}
	if c.Router.MaxAttempts < 1 || c.Router.MaxAttempts > 10 {
		bad("router.max_attempts", "must be between 1 and 10")
	}
	if r := c.Router.RetryBudget.Ratio; r < 0 || r > 1 {
		bad("router.retry_budget.ratio", "must be between 0 and 1")
	}
	if c.Router.Ejection.MaxCoolDown < c.Router.Ejection.BaseCoolDown {
		bad("router.ejection.max_cool_down", "must not be shorter than base_cool_down")
	}

	// Models and aliases share one namespace: a client names either.
	names := map[string]string{}
	claim := func(name, path string) {
		if prev, ok := names[name]; ok {
			bad(path, "name %q already used at %s", name, prev)
			return
		}
		names[name] = path
	}
	models := map[string]bool{}
	for i, m := range c.Models {
		p := fmt.Sprintf("models[%d]", i)
		if !modelPattern.MatchString(m.Name) {
			bad(p+".name", "invalid model name %q", m.Name)
			continue
		}
		claim(m.Name, p+".name")
		models[m.Name] = true
		for j, a := range m.Aliases {
			if !modelPattern.MatchString(a) {
				bad(fmt.Sprintf("%s.aliases[%d]", p, j), "invalid alias %q", a)
				continue
			}
			claim(a, fmt.Sprintf("%s.aliases[%d]", p, j))
		}
		if m.Price.Input < 0 || m.Price.CachedInput < 0 || m.Price.Output < 0 {
			bad(p+".price", "prices must not be negative")
		}
	}

	if len(c.Endpoints) == 0 {
		bad("endpoints", "at least one endpoint is required")
	}
	served := map[string]bool{}
	endpointNames := map[string]bool{}
	for i, e := range c.Endpoints {
		p := fmt.Sprintf("endpoints[%d]", i)
		switch {
		case !namePattern.MatchString(e.Name):
			bad(p+".name", "invalid endpoint name %q", e.Name)
		case endpointNames[e.Name]:
			bad(p+".name", "duplicate endpoint %q", e.Name)
		}
		endpointNames[e.Name] = true
		switch e.Type {
		case EndpointOpenAI, EndpointAzure:
			u, err := url.Parse(e.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad(p+".base_url", "want an http(s) URL, got %q", e.BaseURL)
			}
		case EndpointSim:
			if e.Sim.TimeScale != nil && *e.Sim.TimeScale < 0 {
				bad(p+".sim.time_scale", "must not be negative")
			}
			if w := e.Sim.WanderRate; w != nil && (*w < 0 || *w > 1) {
				bad(p+".sim.wander_rate", "must be between 0 and 1")
			}
			if e.Sim.RPM < 0 {
				bad(p+".sim.rpm", "must not be negative")
			}
		default:
			bad(p+".type", "want openai, azure or sim, got %q", e.Type)
		}
		if e.Weight < 0 {
			bad(p+".weight", "must not be negative")
		}
		if len(e.Models) == 0 {
			bad(p+".models", "an endpoint must serve at least one model")
		}
		for m := range e.Models {
			if !models[m] {
				bad(p+".models."+m, "unknown model %q (declare it under models)", m)
			}
			served[m] = true
		}
		if e.Timeouts.Connect <= 0 || e.Timeouts.FirstToken <= 0 || e.Timeouts.Total <= 0 {
			bad(p+".timeouts", "timeouts must be positive")
		}
	}
	for i, m := range c.Models {
		if !served[m.Name] {
			bad(fmt.Sprintf("models[%d]", i), "model %q is served by no endpoint", m.Name)
		}
	}

	for name, t := range c.Tiers {
		p := "tiers." + name
		if !namePattern.MatchString(name) {
			bad(p, "invalid tier name")
		}
		if t.MaxOutputTokens < 0 || t.DefaultOutputTokens < 0 || t.MaxN < 1 {
			bad(p, "limits must be positive")
		}
		if t.MaxOutputTokens > 0 && t.DefaultOutputTokens > t.MaxOutputTokens {
			bad(p+".default_output_tokens", "exceeds max_output_tokens")
		}
		for j, m := range t.Models {
			if !models[m] {
				bad(fmt.Sprintf("%s.models[%d]", p, j), "unknown model %q", m)
			}
		}
	}

	tenantIDs := map[string]bool{}
	keyOwner := map[string]string{}
	for i, t := range c.Tenants {
		p := fmt.Sprintf("tenants[%d]", i)
		switch {
		case !namePattern.MatchString(t.ID):
			bad(p+".id", "invalid tenant id %q", t.ID)
		case tenantIDs[t.ID]:
			bad(p+".id", "duplicate tenant %q", t.ID)
		}
		tenantIDs[t.ID] = true
		if _, ok := c.Tiers[t.Tier]; !ok {
			bad(p+".tier", "unknown tier %q", t.Tier)
		}
		if len(t.Keys) == 0 {
			bad(p+".keys", "a tenant needs at least one key hash")
		}
		for j, k := range t.Keys {
			kp := fmt.Sprintf("%s.keys[%d]", p, j)
			h := strings.TrimPrefix(k, "sha256:")
			if !hashPattern.MatchString(h) {
				bad(kp, "want the key's SHA-256 as 64 lower-case hex digits (`floodgate key hash` prints it), not the key itself")
				continue
			}
			if owner, ok := keyOwner[h]; ok {
				bad(kp, "key hash already belongs to tenant %q", owner)
			}
			keyOwner[h] = t.ID
		}
	}
	c.validateAgents(bad)
	c.validatePeak(bad, models)
	return errors.Join(errs...)
}
