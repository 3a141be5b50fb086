package intent

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// frontLine is a front-line agent's configuration: returns go to
// after_sales and product questions to recommend.
func frontLine() Config {
	return Config{Intents: []IntentConfig{
		{Name: ReturnRefund, Agent: "after_sales"},
		{Name: ProductQuestion, Agent: "recommend"},
	}}
}

func TestAgent(t *testing.T) {
	both := frontLine()
	both.Intents = append(both.Intents, IntentConfig{Name: Account, Agent: "recommend"})
	tests := []struct {
		name string
		cfg  Config
		give string
		want string
	}{
		{name: "sure return", cfg: frontLine(), give: "I want to return order 100123, it arrived damaged.", want: "after_sales"},
		{name: "sure product question", cfg: frontLine(), give: "Do you have the Alpine jacket in size M?", want: "recommend"},
		{name: "intent the agent serves itself", cfg: frontLine(), give: "Where is my order 100123?", want: ""},
		{name: "unsure return stays with the model", cfg: frontLine(), give: "the zipper is wrong", want: ""},
		{name: "two intents of two agents", cfg: frontLine(),
			give: "I want to return order 100123 and do you have the Alpine jacket in stock?", want: ""},
		{name: "no agents configured", cfg: Config{}, give: "I want to return order 100123, it arrived damaged.", want: ""},
		{name: "higher threshold", cfg: Config{Threshold: 0.9, Intents: frontLine().Intents},
			give: "I want to return order 100123, it arrived damaged.", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg, nil)
			require.NoError(t, err)
			assert.Equal(t, tt.want, c.Rules(tt.give, "").Agent)
		})
	}
}

func TestAgentOfSecondIntentOfTheSameAgent(t *testing.T) {
	cfg := frontLine()
	cfg.Intents[1].Agent = "after_sales"
	c, err := New(cfg, nil)
	require.NoError(t, err)
	res := c.Rules("I want to return order 100123 and do you have the Alpine jacket in stock?", "")
	require.NotEmpty(t, res.Secondary)
	assert.Equal(t, "after_sales", res.Agent)
}

func TestAgentFromModelStage(t *testing.T) {
	tests := []struct {
		name  string
		reply string
		want  string
	}{
		{name: "sure model", reply: `{"intent":"return_refund","confidence":0.9}`, want: "after_sales"},
		{name: "unsure model", reply: `{"intent":"return_refund","confidence":0.3}`, want: ""},
		{name: "model names an intent the agent serves", reply: `{"intent":"order_status","confidence":0.9}`, want: ""},
		{name: "failed model keeps the unsure rules", reply: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newWithModel(t, &fakeModel{reply: constant(tt.reply)}, frontLine())
			res := c.Classify(context.Background(), Input{Text: "the zipper is wrong"})
			assert.Equal(t, tt.want, res.Agent)
		})
	}
}

func TestAgentConfig(t *testing.T) {
	err := Config{Intents: []IntentConfig{{Name: ReturnRefund, Agent: "after sales"}}}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `intents[0].agent: "after sales" is not a valid agent name`)

	const doc = `
intents:
  - {name: return_refund, agent: after_sales}
`
	var c Config
	dec := yaml.NewDecoder(stringsReader(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&c))
	cl, err := New(c, nil)
	require.NoError(t, err)
	res := cl.Rules("Please start a return for order 100123, I changed my mind.", "")
	assert.Equal(t, ReturnRefund, res.Intent)
	assert.Equal(t, "after_sales", res.Agent)
	// Extending a built-in intent with an agent keeps its rules.
	assert.Equal(t, Complex, res.Complexity)
}
