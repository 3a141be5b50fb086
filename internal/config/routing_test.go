package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/intent"
)

// routingDoc has an agent with its own intents and model policy.
const routingDoc = `
models:
  - name: large
  - name: small
endpoints:
  - name: a
    base_url: http://127.0.0.1:8000/v1
    models: {large: "", small: ""}
agents:
  - name: support
    instructions: help
    model: large
    simple_model: small
    intent:
      threshold: 0.6
      model: {model: small, timeout: 800ms}
      intents:
        - name: warranty
          description: Warranty claims.
          complexity: complex
          keywords: [warranty, guarantee]
    routing:
      tiers: {vip: large}
      peak: {load: 0.8, tiers: [free]}
      time_zone: Europe/Berlin
      windows:
        - {name: night, hours: "00:00-06:00", max_complexity: standard}
`

func TestAgentRouting(t *testing.T) {
	c, err := Parse([]byte(routingDoc), env(nil))
	require.NoError(t, err)
	a := c.Agents[0]
	assert.InDelta(t, 0.6, a.Intent.Threshold, 0)
	assert.Equal(t, intent.ModelStage{Model: "small", Timeout: 800 * time.Millisecond}, a.Intent.Model)
	require.Len(t, a.Intent.Intents, 1)
	assert.Equal(t, intent.Complex, a.Intent.Intents[0].Complexity)
	assert.Equal(t, map[string]string{"vip": "large"}, a.Routing.Tiers)
	assert.Equal(t, "night", a.Routing.Windows[0].Name)
	rc := effectiveRouting(&a)
	assert.Equal(t, "small", rc.SmallModel, "small_model defaults to simple_model")
	assert.Equal(t, "large", rc.LargeModel, "large_model defaults to model")

	assertEditsFail(t, routingDoc, []docEdit{
		{"unknown intent key", "threshold: 0.6", "treshold: 0.6", "unknown key agents[0].intent.treshold"},
		{"unknown routing key", "time_zone:", "timezone:", "unknown key agents[0].routing.timezone"},
		{"bad threshold", "threshold: 0.6", "threshold: 2", "agents[0].intent: threshold"},
		{"bad pattern", "keywords: [warranty, guarantee]", "patterns: ['(']", "agents[0].intent: intents[0].patterns[0]"},
		{"unknown classifier model", "model: {model: small", "model: {model: tiny", `agents[0].intent.model.model: unknown model "tiny"`},
		{"unknown tier model", "tiers: {vip: large}", "tiers: {vip: huge}", `agents[0].routing: unknown model "huge"`},
		{"unknown small model", "time_zone:", "small_model: mini\n      time_zone:", `agents[0].routing: unknown model "mini"`},
		{"bad hours", `"00:00-06:00"`, `"25:00-06:00"`, "agents[0].routing: windows[0].hours"},
		{"bad zone", "Europe/Berlin", "Mars/Olympus", "agents[0].routing: time_zone"},
		{"peak without tiers", "peak: {load: 0.8, tiers: [free]}", "peak: {load: 0.8}", "agents[0].routing: peak.tiers"},
		{"bad complexity", "complexity: complex", "complexity: hard", "agents[0].intent"},
	})
}

func TestAgentRoutingDefaults(t *testing.T) {
	c, err := Parse([]byte(agentsDoc), env(nil))
	require.NoError(t, err)
	rc := effectiveRouting(&c.Agents[0])
	assert.Equal(t, "large", rc.SmallModel, "no simple_model: everything on model")
	assert.Equal(t, "large", rc.LargeModel)
	d := Default("http://127.0.0.1:9")
	for _, a := range d.Agents {
		rc := effectiveRouting(&a)
		assert.Equal(t, a.SimpleModel, rc.SmallModel, a.Name)
		assert.Equal(t, a.Model, rc.LargeModel, a.Name)
	}
}
