package degrade

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfigFiles(t *testing.T) {
	tests := []struct {
		give    string
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{"full.yaml", "", func(t *testing.T, c Config) {
			require.Len(t, c.Rungs, 5)
			assert.Equal(t, "small", c.Rungs[0].Model)
			assert.Equal(t, "rules/support.yaml", c.Rungs[1].File)
			assert.Equal(t, 40, c.Rungs[2].Priority)
			assert.Equal(t, 6, c.Checks.SystemPrompt.NGram)
			assert.NotNil(t, c.Checks.OrderNumber)
			assert.Equal(t, []string{"support@shop.example", "+49 30 1234 5678"}, c.Checks.ForeignData.Allow)
		}},
		{"schema.yaml", "", func(t *testing.T, c Config) {
			assert.Empty(t, c.Rungs)
			assert.Equal(t, "object", c.Checks.JSONSchema["type"])
		}},
		{"empty.yaml", "", func(t *testing.T, c Config) { assert.Empty(t, c.Rungs) }},
		{"bad_kind.yaml", `rungs[0].kind: unknown kind "pager"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "ladders", tt.give))
			require.NoError(t, err)
			c, err := ParseConfig(b)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(t, c)
		})
	}
}

func TestParseConfigStrict(t *testing.T) {
	_, err := ParseConfig([]byte("rungs:\n  - kind: rules\n    fil: x.yaml\n"))
	require.ErrorContains(t, err, "field fil not found")
	_, err = ParseConfig([]byte("rungs: [{kind: rules, timeout: soon}]"))
	require.Error(t, err)
	_, err = ParseConfig([]byte(strings.Repeat("#", MaxConfigBytes+1)))
	require.ErrorContains(t, err, "larger than")
}

// TestValidate lists misconfigurations and the path each is reported
// under.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		give Config
		want []string // "path: message" prefixes, in order
	}{
		{"defaults are valid", Config{}, nil},
		{"default rungs are valid", Config{Rungs: DefaultRungs("small")}, nil},
		{"unknown kind", Config{Rungs: []Rung{{Kind: "pager"}}},
			[]string{`agents[0].degrade.rungs[0].kind: unknown kind "pager"`}},
		{"unknown and duplicate triggers", Config{Rungs: []Rung{{Kind: KindRules, Triggers: []Trigger{"oops", Shed, Shed}}}},
			[]string{`agents[0].degrade.rungs[0].triggers[0]: unknown trigger "oops"`, `agents[0].degrade.rungs[0].triggers[2]: trigger "shed" listed twice`}},
		{"model rung without a model", Config{Rungs: []Rung{{Kind: KindModel}}},
			[]string{"agents[0].degrade.rungs[0].model: a model rung needs a model"}},
		{"fields of other kinds", Config{Rungs: []Rung{{Kind: KindRules, Model: "small", Text: map[string]string{"en": "x"}, Priority: 3}}},
			[]string{"agents[0].degrade.rungs[0].model: only model rungs", "agents[0].degrade.rungs[0].priority: only handoff rungs",
				"agents[0].degrade.rungs[0].text: only message rungs"}},
		{"negative timeout and priorities", Config{Rungs: []Rung{{Kind: KindHandoff, Timeout: -1, Priority: -2, Priorities: map[string]int{"vip": -1}}}},
			[]string{"agents[0].degrade.rungs[0].timeout: must not be negative", "agents[0].degrade.rungs[0].priority: must not be negative",
				"agents[0].degrade.rungs[0].priorities.vip: must not be negative"}},
		{"message texts", Config{Rungs: []Rung{{Kind: KindMessage, Preset: "grovel", Timeout: 1, Text: map[string]string{"EN": "x", "de": " ", "fr": strings.Repeat("é", 1001)}}}},
			[]string{"agents[0].degrade.rungs[0].timeout: a message rung takes no time", `agents[0].degrade.rungs[0].preset: unknown preset "grovel"`,
				"agents[0].degrade.rungs[0].text.EN: not a language code", "agents[0].degrade.rungs[0].text.de: empty message",
				"agents[0].degrade.rungs[0].text.fr: the message is 2002 bytes"}},
		{"intent in both lists", Config{Rungs: []Rung{{Kind: KindRules, Intents: []string{"a", ""}, SkipIntents: []string{"a"}}}},
			[]string{"agents[0].degrade.rungs[0].intents[1]: empty intent", `agents[0].degrade.rungs[0].skip_intents: intent "a" is both`}},
		{"unreachable rung", Config{Rungs: []Rung{{Kind: KindMessage}, {Kind: KindRules, Triggers: []Trigger{Shed}}}},
			[]string{"agents[0].degrade.rungs[1]: unreachable"}},
		{"a message for some intents leaves later rungs reachable", Config{Rungs: []Rung{{Kind: KindMessage, Intents: []string{"x"}}, {Kind: KindRules}}}, nil},
		{"checks", Config{Checks: Checks{
			SystemPrompt:  &PromptLeakCheck{NGram: 1, Threshold: 1.5, MinShared: -1},
			ForeignData:   &ForeignDataCheck{Kinds: []string{"email", "iban"}, Allow: []string{""}},
			OrderNumber:   &OrderNumberCheck{Fact: " order "},
			OrderPatterns: []string{`(`, `\d*`},
			JSONSchema:    map[string]any{"type": "objekt"},
		}}, []string{
			"agents[0].degrade.checks.system_prompt.ngram: want 2 to 16", "agents[0].degrade.checks.system_prompt.threshold: want a share",
			"agents[0].degrade.checks.system_prompt.min_shared: must not be negative", `agents[0].degrade.checks.foreign_data.kinds[1]: unknown kind "iban"`,
			"agents[0].degrade.checks.foreign_data.allow[0]: empty entry", "agents[0].degrade.checks.order_number.fact: the fact kind",
			"agents[0].degrade.checks.order_patterns[0]: error parsing regexp", "agents[0].degrade.checks.order_patterns[1]: the pattern matches the empty text",
			"agents[0].degrade.checks.json_schema:",
		}},
		{"too many rungs", Config{Rungs: make([]Rung, MaxRungs+1)}, []string{"agents[0].degrade.rungs: 33 rungs; at most 32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.give.Validate("agents[0].degrade")
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Path+": "+p.Message)
			}
			if tt.name == "too many rungs" {
				got = got[:1] // the empty rungs each have an unknown kind too
			}
			require.Len(t, got, len(tt.want), "%s", strings.Join(got, "\n"))
			for i := range tt.want {
				assert.True(t, strings.HasPrefix(got[i], tt.want[i]), "got %q, want prefix %q", got[i], tt.want[i])
			}
		})
	}
}

func TestNewLoadsRulesFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "rules.yaml")
	require.NoError(t, os.WriteFile(good, []byte(`
default_lang: en
rules:
  - name: hours
    patterns: ['(?i)opening hours']
    answers:
      - text: {en: We are open 9 to 5.}
`), 0o600))
	l, err := New(Config{Rungs: []Rung{{Kind: KindRules, File: good}}}, Options{})
	require.NoError(t, err)
	st := l.Next(&Situation{Trigger: Shed}, -1)
	require.Equal(t, KindRules, st.Kind)
	require.NotNil(t, st.Rules)
	assert.Equal(t, []string{"hours"}, st.Rules.Names())
	assert.Equal(t, DefaultRulesTimeout, st.Timeout)

	_, err = New(Config{Rungs: []Rung{{Kind: KindRules, File: filepath.Join(dir, "missing.yaml")}}}, Options{})
	require.ErrorContains(t, err, "degrade.rungs[0].file")

	_, err = New(Config{Rungs: []Rung{{Kind: "x"}}}, Options{})
	require.ErrorContains(t, err, "degrade.rungs[0].kind")

	d, err := New(Config{}, Options{})
	require.NoError(t, err)
	assert.Equal(t, 4, d.Rungs(), "no small model: no model rung")
	assert.NotNil(t, d.Next(&Situation{Trigger: Shed}, -1).Rules, "the built-in rules by default")
}
