package tool

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEscalate(t *testing.T) {
	tests := []struct {
		name        string
		give        string
		want        string
		wantInvalid string
	}{
		{name: "default priority", give: `{"reason":"wants a human"}`,
			want: `{"escalated":true,"priority":"normal","reason":"wants a human","message":"A human agent will take over this conversation."}`},
		{name: "high", give: `{"reason":"legal threat","priority":"high"}`,
			want: `{"escalated":true,"priority":"high","reason":"legal threat","message":"A human agent will take over this conversation."}`},
		{name: "no reason", give: `{}`, wantInvalid: "missing property 'reason'"},
		{name: "empty reason", give: `{"reason":""}`, wantInvalid: "at '/reason'"},
		{name: "bad priority", give: `{"reason":"x","priority":"urgent"}`, wantInvalid: "at '/priority'"},
		{name: "extra argument", give: `{"reason":"x","team":"billing"}`, wantInvalid: "additional properties"},
	}
	tl := NewEscalate()
	assert.Equal(t, EscalateName, tl.Decl().Function.Name)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tl.Call(context.Background(), json.RawMessage(tt.give))
			if tt.wantInvalid != "" {
				require.ErrorIs(t, err, ErrInvalidArguments)
				assert.Contains(t, err.Error(), tt.wantInvalid)
				return
			}
			require.NoError(t, err)
			assert.False(t, res.IsError)
			assert.JSONEq(t, tt.want, string(res.Content))
		})
	}
}

func TestHandoffDecl(t *testing.T) {
	d := HandoffDecl("after_sales", "")
	assert.Equal(t, "function", d.Type)
	assert.Equal(t, "transfer_to_after_sales", d.Function.Name)
	assert.Equal(t, "Hand the conversation to the after_sales agent.", d.Function.Description)
	var schema map[string]any
	require.NoError(t, json.Unmarshal(d.Function.Parameters, &schema))
	assert.Equal(t, "object", schema["type"])
	assert.NotContains(t, schema, "required", "the reason is optional")
	assert.Equal(t, "Returns and refunds.", HandoffDecl("after_sales", "Returns and refunds.").Function.Description)
	_, err := compileSchema("h", d.Function.Parameters)
	require.NoError(t, err)
}

func TestHandoffTarget(t *testing.T) {
	tests := []struct {
		give      string
		wantAgent string
		wantOK    bool
	}{
		{give: "transfer_to_after_sales", wantAgent: "after_sales", wantOK: true},
		{give: "transfer_to_recommend", wantAgent: "recommend", wantOK: true},
		{give: "transfer_to_", wantOK: false},
		{give: "get_order", wantOK: false},
		{give: EscalateName, wantOK: false},
	}
	for _, tt := range tests {
		agent, ok := HandoffTarget(tt.give)
		assert.Equal(t, tt.wantOK, ok, tt.give)
		assert.Equal(t, tt.wantAgent, agent, tt.give)
	}
}

func TestRegistry(t *testing.T) {
	f := newFake(t, "weather", "", echoArgs)
	reg := newRegistry(t, RegistryConfig{
		HTTP:  []HTTPConfig{{Name: "get_order", URL: "http://127.0.0.1:1/orders/{order_id}", Parameters: json.RawMessage(orderParams)}},
		Tools: []Tool{f},
	})
	assert.Equal(t, []string{EscalateName, "get_order", "weather"}, reg.Names())
	for _, n := range reg.Names() {
		tl, ok := reg.Get(n)
		require.True(t, ok, n)
		assert.Equal(t, n, tl.Decl().Function.Name)
	}
	_, ok := reg.Get("nope")
	assert.False(t, ok)
	_, err := reg.ServerTools(context.Background(), "shop")
	require.Error(t, err)
	assert.Equal(t, StateClosed, reg.BreakerState("get_order"))
}

func TestNewRegistryRefuses(t *testing.T) {
	tests := []struct {
		name string
		give RegistryConfig
		want string
	}{
		{name: "duplicate", give: RegistryConfig{HTTP: []HTTPConfig{
			{Name: "a", URL: "http://h/x", Parameters: json.RawMessage(`{"type":"object"}`)},
			{Name: "a", URL: "http://h/y", Parameters: json.RawMessage(`{"type":"object"}`)}}}, want: "defined twice"},
		{name: "shadows a built-in", give: RegistryConfig{HTTP: []HTTPConfig{
			{Name: EscalateName, URL: "http://h/x", Parameters: json.RawMessage(`{"type":"object"}`)}}}, want: "defined twice"},
		{name: "bad http tool", give: RegistryConfig{HTTP: []HTTPConfig{{Name: "a", URL: "http://h/{x"}}}, want: "unbalanced"},
		{name: "bad go tool name", give: RegistryConfig{Tools: []Tool{&fakeTool{name: "a b"}}}, want: "the name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistry(tt.give)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
