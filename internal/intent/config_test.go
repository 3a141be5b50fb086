package intent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestValidate(t *testing.T) {
	off := false
	tests := []struct {
		name    string
		give    Config
		wantErr string // substring; "" means valid
	}{
		{name: "zero value is the built-in set", give: Config{}},
		{name: "bad intent name", give: Config{Intents: []IntentConfig{{Name: "Order Status"}}},
			wantErr: `intents[0].name: "Order Status" is not a valid intent name`},
		{name: "duplicate intent", give: Config{Intents: []IntentConfig{{Name: "a"}, {Name: "a"}}},
			wantErr: `intents[1].name: duplicate intent "a"`},
		{name: "duplicate extension of a built-in", give: Config{Intents: []IntentConfig{{Name: OrderStatus}, {Name: OrderStatus}}},
			wantErr: `intents[1].name: duplicate intent "order_status"`},
		{name: "bad complexity", give: Config{Intents: []IntentConfig{{Name: "a", Complexity: "hard"}}},
			wantErr: `intents[0].complexity: unknown complexity "hard"`},
		{name: "keyword without words", give: Config{Intents: []IntentConfig{{Name: "a", Keywords: []string{"ok", "?!"}}}},
			wantErr: `intents[0].keywords[1]: keyword "?!" has no letters or digits`},
		{name: "star inside a keyword", give: Config{Intents: []IntentConfig{{Name: "a", Hints: []string{"re*fund"}}}},
			wantErr: `intents[0].hints[0]: keyword "re*fund": "*" is allowed only at the end`},
		{name: "short stem", give: Config{Intents: []IntentConfig{{Name: "a", Keywords: []string{"ab*"}}}},
			wantErr: `intents[0].keywords[0]: keyword "ab*": a prefix needs at least 3 letters`},
		{name: "star after a space", give: Config{Intents: []IntentConfig{{Name: "a", Keywords: []string{"refund *"}}}},
			wantErr: `"*" must directly follow a word`},
		{name: "bad pattern", give: Config{Intents: []IntentConfig{{Name: "a", Patterns: []string{`(`}}}},
			wantErr: "intents[0].patterns[0]: error parsing regexp"},
		{name: "bad hint pattern", give: Config{Intents: []IntentConfig{{Name: "a", HintPatterns: []string{`x{2,1}`}}}},
			wantErr: "intents[0].hint_patterns[0]: error parsing regexp"},
		{name: "unknown absorbed intent", give: Config{Intents: []IntentConfig{{Name: "a", Absorbs: []string{"b"}}}},
			wantErr: `intents[0].absorbs[0]: unknown intent "b"`},
		{name: "no intents", give: Config{Builtin: &off}, wantErr: "intents: no intents"},
		{name: "unknown fallback", give: Config{Fallback: "nope"}, wantErr: `fallback: unknown intent "nope"`},
		{name: "threshold above 1", give: Config{Threshold: 1.5}, wantErr: "threshold: 1.5 is not in (0, 1]"},
		{name: "negative threshold", give: Config{Threshold: -0.1}, wantErr: "threshold: -0.1 is not in (0, 1]"},
		{name: "secondary ratio", give: Config{SecondaryRatio: 2}, wantErr: "secondary_ratio"},
		{name: "negative timeout", give: Config{Model: ModelStage{Timeout: -time.Second}}, wantErr: "model.timeout: -1s is negative"},
		{name: "bad cue", give: Config{ComplexCues: []string{"*"}}, wantErr: "complex_cues[0]"},
		{name: "bad neutral", give: Config{Neutral: []string{""}}, wantErr: "neutral[0]"},
		{name: "known word of two words", give: Config{KnownWords: []string{"two words"}}, wantErr: `known_words[0]: "two words" is not one word`},
		{name: "max bytes", give: Config{MaxBytes: -1}, wantErr: "max_bytes"},
		{name: "custom set", give: Config{Builtin: &off, Intents: []IntentConfig{{Name: "a", Keywords: []string{"x"}}, {Name: "b"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			_, err = New(tt.give, nil)
			assert.Error(t, err, "New validates")
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{Threshold: 7, Intents: []IntentConfig{{Name: "a", Patterns: []string{"("}}}}.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "threshold")
	assert.Contains(t, err.Error(), "intents[0].patterns[0]")
}

func TestBuiltinValid(t *testing.T) {
	require.NoError(t, Builtin().Validate())
	// Builtin returns a fresh copy: changing one does not change the next.
	b := Builtin()
	b.Intents[0].Keywords[0] = "changed"
	assert.NotEqual(t, "changed", Builtin().Intents[0].Keywords[0])
}

func TestConfigYAML(t *testing.T) {
	const doc = `
threshold: 0.6
model: {model: small, timeout: 800ms}
cache_size: 100
intents:
  - name: order_status
    keywords: ["wo bleibt"]
  - name: warranty
    complexity: complex
    description: warranty claims
    keywords: ["warranty claim"]
    patterns: ['\bW-\d{6}\b']
`
	var c Config
	dec := yaml.NewDecoder(stringsReader(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&c))
	require.NoError(t, c.Validate())
	assert.Equal(t, 800*time.Millisecond, c.Model.Timeout)
	cl, err := New(c, nil)
	require.NoError(t, err)
	assert.Equal(t, "warranty", cl.Rules("my warranty claim W-123456", "").Intent)
}
