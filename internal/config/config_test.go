package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

const minimal = `
models:
  - name: large
endpoints:
  - name: a
    base_url: http://127.0.0.1:8000/v1
    models: {large: ""}
`

func TestParseMinimalFillsDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal), env(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", c.Listen)
	assert.Equal(t, int64(1<<20), c.Gateway.MaxBodyBytes)
	assert.Equal(t, 3, c.Router.MaxAttempts)
	assert.Equal(t, time.Second, c.Router.Ejection.BaseCoolDown)
	e := c.Endpoints[0]
	assert.Equal(t, EndpointOpenAI, e.Type)
	assert.Equal(t, "large", e.Models["large"], "empty upstream name means the same name")
	assert.Equal(t, 15*time.Second, e.Timeouts.FirstToken)
	assert.Equal(t, 1, c.Tiers[DefaultTier].MaxN)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		give string
		want string
	}{
		{"unknown top key", minimal + "bogus: 1\n", "unknown key bogus"},
		{"unknown nested key with path", strings.Replace(minimal, "models: {large: \"\"}", "models: {large: \"\"}\n    timeouts: {frist_token: 2s}", 1), "unknown key endpoints[0].timeouts.frist_token"},
		{"wrong type", strings.Replace(minimal, "name: a", "name: a\n    weight: heavy", 1), "cannot unmarshal"},
		{"bad duration", minimal + "gateway: {drain_timeout: soon}\n", "drain_timeout"},
		{"unknown model at endpoint", strings.Replace(minimal, "{large: \"\"}", "{huge: \"\"}", 1), `endpoints[0].models.huge: unknown model "huge"`},
		{"bad endpoint type", strings.Replace(minimal, "name: a", "name: a\n    type: grpc", 1), "endpoints[0].type"},
		{"bad url", strings.Replace(minimal, "http://127.0.0.1:8000/v1", "ftp://x", 1), "endpoints[0].base_url"},
		{"missing env", strings.Replace(minimal, "name: a", "name: a\n    api_key: ${NOPE}", 1), "endpoints[0].api_key: environment variable NOPE is not set"},
		{"clear key instead of hash", minimal + "tenants: [{id: t, keys: [sk-123]}]\n", "tenants[0].keys[0]: want the key's SHA-256"},
		{"unknown tier", minimal + "tenants: [{id: t, tier: gold, keys: [" + strings.Repeat("a", 64) + "]}]\n", `unknown tier "gold"`},
		{"alias clash", strings.Replace(minimal, "- name: large", "- name: large\n    aliases: [large]", 1), "already used"},
		{"no endpoints", "models: [{name: large}]\n", "at least one endpoint"},
		{"empty", "", "empty document"},
		{"not yaml", "{[", "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.give), env(nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

const agentsDoc = minimal + `
tools:
  - name: lookup
    url: http://shop/orders/{order_id}
    parameters: {type: object, properties: {order_id: {type: string}}}
mcp_servers:
  - name: weather
    transport: streamable_http
    url: http://127.0.0.1:9/mcp
agents:
  - name: a
    instructions: help
    model: large
    tools: [lookup, escalate_to_human, "mcp:weather"]
    handoffs: [b]
  - name: b
    instructions: help more
    model: large
    handoffs: [a]
`

func TestAgents(t *testing.T) {
	c, err := Parse([]byte(agentsDoc), env(nil))
	require.NoError(t, err, "handoff cycles are allowed")
	assert.Equal(t, "large", c.Agents[0].SimpleModel)
	assert.Equal(t, 10, c.Agents[1].Limits.MaxTurns)
	assert.Equal(t, "GET", c.Tools[0].Method)
	assert.Equal(t, 2, *c.Tools[0].Retries)
	assert.Equal(t, "weather_", c.MCPServers[0].Prefix)

	assertEditsFail(t, agentsDoc, []docEdit{
		{"unknown tool", "[lookup, escalate_to_human", "[lookpu, escalate_to_human", `agents[0].tools[0]: unknown tool "lookpu"`},
		{"unknown handoff", "handoffs: [b]", "handoffs: [c]", `agents[0].handoffs[0]: unknown agent "c"`},
		{"self handoff", "handoffs: [b]", "handoffs: [a]", "cannot hand off to itself"},
		{"unknown mcp server", `"mcp:weather"`, `"mcp:wether"`, `unknown MCP server "wether"`},
		{"unknown model", "    model: large\n    handoffs: [a]", "    model: huge\n    handoffs: [a]", `agents[1].model: unknown model "huge"`},
		{"bad tool name", "- name: lookup", "- name: look up", "invalid tool name"},
		{"reserved tool name", "- name: lookup", "- name: transfer_to_x", "reserved for handoffs"},
		{"schema not object", "{type: object, properties", "{type: array, properties", "type: object"},
		{"bad url", "http://shop/orders", "shop/orders", "tools[0].url"},
		{"stdio without command", "transport: streamable_http", "transport: stdio", "needs a command"},
		{"no instructions", "instructions: help\n", "instructions: ' '\n", "agents[0].instructions"},
		{"bad backend", "mcp_servers:", "sessions: {backend: mongo}\nmcp_servers:", `want sqlite, redis or postgres, got "mongo"`},
		{"redis without url", "mcp_servers:", "sessions: {backend: redis}\nmcp_servers:", "sessions.redis_url"},
	})
}

func TestExpandSecrets(t *testing.T) {
	doc := strings.Replace(minimal, "name: a", "name: a\n    api_key: ${KEY}\n    headers: {OpenAI-Organization: \"${ORG:-org-default}\"}", 1)
	c, err := Parse([]byte(doc), env(map[string]string{"KEY": "sk-secret"}))
	require.NoError(t, err)
	assert.Equal(t, "sk-secret", c.Endpoints[0].APIKey)
	assert.Equal(t, "org-default", c.Endpoints[0].Headers["OpenAI-Organization"])
}

func TestDefaultIsValid(t *testing.T) {
	c := Default("http://127.0.0.1:7001")
	require.NoError(t, c.Validate())
	assert.Len(t, c.Endpoints, 2)
	require.Len(t, c.Agents, 3)
	assert.Equal(t, "http://127.0.0.1:7001/orders/{order_id}", c.Tools[0].URL)
	assert.Equal(t, 8, c.Agents[0].Limits.MaxToolCalls)
	assert.Equal(t, "small", c.Agents[0].SimpleModel)
	assert.Equal(t, StoreSQLite, c.Sessions.Backend)
	assert.Equal(t, EndpointSim, c.Endpoints[0].Type)
	assert.Equal(t, 1.0, *c.Endpoints[0].Sim.TimeScale)
	assert.NotEqual(t, c.Endpoints[0].Sim.Seed, c.Endpoints[1].Sim.Seed)
}

func TestExamplesParse(t *testing.T) {
	files, err := filepath.Glob("../../examples/*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Setenv("OPENAI_API_KEY", "sk-test")
			t.Setenv("AZURE_OPENAI_KEY", "az-test")
			_, err := Load(f)
			assert.NoError(t, err)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("endpoints: [{name: a, models: {x: y}}]"))
	f.Add([]byte("tiers: {a: {max_n: -1}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b, env(nil))
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}

// docEdit is a change to a valid document that Parse must refuse: old
// replaced by new, and the error naming want.
type docEdit struct{ name, old, new, want string }

// assertEditsFail parses base with each edit applied (on its own) and
// checks that it fails, naming the edit's want.
func assertEditsFail(t *testing.T, base string, edits []docEdit) {
	t.Helper()
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			doc := strings.Replace(base, e.old, e.new, 1)
			require.NotEqual(t, base, doc, "replacement did not apply")
			_, err := Parse([]byte(doc), env(nil))
			require.Error(t, err)
			assert.Contains(t, err.Error(), e.want)
		})
	}
}
