package modelpolicy

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/floodgate-dev/floodgate/internal/intent"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// postMortem is the policy of the package doc.
func postMortem() Config {
	return Config{
		SmallModel: "small",
		LargeModel: "large",
		Tiers:      map[string]string{"vip": "large"},
		Peak:       Peak{Load: 0.8, Tiers: []string{"free"}},
		TimeZone:   "Europe/Berlin",
		Windows:    []Window{{Name: "night", Hours: "00:00-06:00"}},
	}
}

func berlin(t testing.TB, s string) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	require.NoError(t, err)
	return tm
}

func TestChoose(t *testing.T) {
	p, err := New(postMortem())
	require.NoError(t, err)
	day := berlin(t, "2025-11-28 14:00")   // a Friday afternoon
	night := berlin(t, "2025-11-28 03:30") // in the night window
	tests := []struct {
		name       string
		give       Input
		wantModel  string
		wantReason Reason
		wantWindow string
	}{
		{name: "simple goes small", give: Input{Complexity: intent.Simple, Tier: "standard", Now: day},
			wantModel: "small", wantReason: ReasonSimple},
		{name: "standard goes large", give: Input{Complexity: intent.Standard, Tier: "standard", Now: day},
			wantModel: "large", wantReason: ReasonStandard},
		{name: "complex goes large", give: Input{Complexity: intent.Complex, Tier: "standard", Now: day},
			wantModel: "large", wantReason: ReasonComplex},
		{name: "unclassified goes large", give: Input{Tier: "standard", Now: day},
			wantModel: "large", wantReason: ReasonDefault},
		{name: "free tier at peak goes small", give: Input{Complexity: intent.Complex, Tier: "free", Load: 0.9, Now: day},
			wantModel: "small", wantReason: ReasonPeak},
		{name: "free tier at exactly peak load", give: Input{Complexity: intent.Complex, Tier: "free", Load: 0.8, Now: day},
			wantModel: "small", wantReason: ReasonPeak},
		{name: "free tier below peak keeps its class", give: Input{Complexity: intent.Complex, Tier: "free", Load: 0.5, Now: day},
			wantModel: "large", wantReason: ReasonComplex},
		{name: "standard tier at peak keeps its class", give: Input{Complexity: intent.Complex, Tier: "standard", Load: 1, Now: day},
			wantModel: "large", wantReason: ReasonComplex},
		{name: "vip is pinned", give: Input{Complexity: intent.Simple, Tier: "vip", Now: day},
			wantModel: "large", wantReason: ReasonTier},
		{name: "night window takes standard messages", give: Input{Complexity: intent.Standard, Tier: "standard", Now: night},
			wantModel: "small", wantReason: ReasonWindow, wantWindow: "night"},
		{name: "night window leaves complex messages", give: Input{Complexity: intent.Complex, Tier: "standard", Now: night},
			wantModel: "large", wantReason: ReasonComplex},
		{name: "night window in the policy's zone, not UTC", give: Input{Complexity: intent.Standard, Tier: "standard",
			Now: time.Date(2025, 11, 28, 23, 30, 0, 0, time.UTC)}, // 00:30 in Berlin
			wantModel: "small", wantReason: ReasonWindow, wantWindow: "night"},
		{name: "tool error on the small model escalates", give: Input{Complexity: intent.Simple, Tier: "standard", Now: day,
			Previous: Previous{Model: "small", ToolError: true}}, wantModel: "large", wantReason: ReasonEscalatedToolError},
		{name: "low confidence escalates", give: Input{Complexity: intent.Simple, Tier: "standard", Now: day,
			Previous: Previous{Model: "small", LowConfidence: true}}, wantModel: "large", wantReason: ReasonEscalatedLowConfidence},
		{name: "repeat flag escalates", give: Input{Complexity: intent.Simple, Tier: "free", Load: 1, Now: day,
			Previous: Previous{Model: "small", Repeated: true}}, wantModel: "large", wantReason: ReasonEscalatedRepeat},
		{name: "repeated text escalates", give: Input{Complexity: intent.Simple, Tier: "standard", Now: day,
			UserText: "WHERE is my order 100123???", Previous: Previous{Model: "small", UserText: "where is my order 100123"}},
			wantModel: "large", wantReason: ReasonEscalatedRepeat},
		{name: "a new question does not escalate", give: Input{Complexity: intent.Simple, Tier: "standard", Now: day,
			UserText: "where is my order 100456", Previous: Previous{Model: "small", UserText: "where is my order 100123"}},
			wantModel: "small", wantReason: ReasonSimple},
		{name: "a failure of the large model does not escalate", give: Input{Complexity: intent.Simple, Tier: "standard", Now: day,
			Previous: Previous{Model: "large", ToolError: true}}, wantModel: "small", wantReason: ReasonSimple},
		{name: "escalation beats the tier pin", give: Input{Complexity: intent.Simple, Tier: "vip", Now: day,
			Previous: Previous{Model: "small", ToolError: true}}, wantModel: "large", wantReason: ReasonEscalatedToolError},
		{name: "budget downgrade beats everything", give: Input{Complexity: intent.Complex, Tier: "vip", Now: day, BudgetDowngrade: true,
			Previous: Previous{Model: "small", ToolError: true}}, wantModel: "small", wantReason: ReasonBudget},
		{name: "a tier restricted to the small model", give: Input{Complexity: intent.Complex, Tier: "free", Now: day,
			AllowedModels: []string{"small"}}, wantModel: "small", wantReason: ReasonTierRestricted},
		{name: "allowed model kept", give: Input{Complexity: intent.Simple, Tier: "free", Now: day,
			AllowedModels: []string{"small"}}, wantModel: "small", wantReason: ReasonSimple},
		{name: "neither small nor large allowed", give: Input{Complexity: intent.Simple, Tier: "odd", Now: day,
			AllowedModels: []string{"tiny"}}, wantModel: "tiny", wantReason: ReasonTierRestricted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Choose(tt.give)
			assert.Equal(t, Decision{Model: tt.wantModel, Reason: tt.wantReason, Window: tt.wantWindow}, d)
			assert.Contains(t, Reasons(), d.Reason)
		})
	}
}

func TestChooseCustom(t *testing.T) {
	p, err := New(Config{
		SmallModel: "mini",
		LargeModel: "max",
		Complexity: ComplexityModels{Standard: "mid"},
		Peak:       Peak{Load: 0.5, Tiers: []string{"free", "trial"}, Model: "nano"},
		Windows: []Window{
			{Name: "weekend_night", Hours: "22:00-06:00", Days: []string{"Fri", "sat"}, MaxComplexity: "complex", Model: "nano"},
			{Name: "evening", Hours: "18:00-24:00", Tiers: []string{"standard"}},
		},
		Escalation: Escalation{Model: "max", RepeatSimilarity: 0.95},
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"max", "mid", "mini", "nano"}, p.Models())
	utc := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04", s)
		require.NoError(t, err)
		return tm
	}
	tests := []struct {
		name string
		give Input
		want Decision
	}{
		{name: "standard class model", give: Input{Complexity: intent.Standard, Now: utc("2025-11-26 12:00")},
			want: Decision{Model: "mid", Reason: ReasonStandard}},
		{name: "trial tier at peak", give: Input{Complexity: intent.Complex, Tier: "trial", Load: 0.5, Now: utc("2025-11-26 12:00")},
			want: Decision{Model: "nano", Reason: ReasonPeak}},
		{name: "friday night, even complex", give: Input{Complexity: intent.Complex, Now: utc("2025-11-28 23:00")},
			want: Decision{Model: "nano", Reason: ReasonWindow, Window: "weekend_night"}},
		{name: "saturday early hours belong to friday's window", give: Input{Complexity: intent.Complex, Now: utc("2025-11-29 05:59")},
			want: Decision{Model: "nano", Reason: ReasonWindow, Window: "weekend_night"}},
		{name: "window end is exclusive", give: Input{Complexity: intent.Complex, Now: utc("2025-11-29 06:00")},
			want: Decision{Model: "max", Reason: ReasonComplex}},
		{name: "monday early hours belong to sunday: not in the window", give: Input{Complexity: intent.Complex, Now: utc("2025-12-01 02:00")},
			want: Decision{Model: "max", Reason: ReasonComplex}},
		{name: "sunday early hours belong to saturday's window", give: Input{Complexity: intent.Complex, Now: utc("2025-11-30 02:00")},
			want: Decision{Model: "nano", Reason: ReasonWindow, Window: "weekend_night"}},
		{name: "evening window for its tier only", give: Input{Complexity: intent.Standard, Tier: "standard", Now: utc("2025-11-26 23:59")},
			want: Decision{Model: "mini", Reason: ReasonWindow, Window: "evening"}},
		{name: "evening window skips other tiers", give: Input{Complexity: intent.Standard, Tier: "vip", Now: utc("2025-11-26 23:59")},
			want: Decision{Model: "mid", Reason: ReasonStandard}},
		{name: "evening window default max complexity is standard", give: Input{Complexity: intent.Complex, Tier: "standard", Now: utc("2025-11-26 20:00")},
			want: Decision{Model: "max", Reason: ReasonComplex}},
		{name: "stricter repeat similarity", give: Input{Complexity: intent.Simple, Now: utc("2025-11-26 12:00"),
			UserText: "wher is my order 100123", Previous: Previous{Model: "mini", UserText: "where is my order 100123"}},
			want: Decision{Model: "mini", Reason: ReasonSimple}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, p.Choose(tt.give))
		})
	}
}

func TestEscalationDisabled(t *testing.T) {
	cfg := postMortem()
	cfg.Escalation.Disabled = true
	p, err := New(cfg)
	require.NoError(t, err)
	d := p.Choose(Input{Complexity: intent.Simple, Previous: Previous{Model: "small", ToolError: true}})
	assert.Equal(t, Decision{Model: "small", Reason: ReasonSimple}, d)
}

// TestDST: a window is wall-clock time in its zone across daylight saving
// changes (Berlin's clocks went back at 03:00 on 2025-10-26).
func TestDST(t *testing.T) {
	p, err := New(postMortem())
	require.NoError(t, err)
	tests := []struct {
		utc  string
		want Reason
	}{
		{utc: "2025-10-25T22:30:00Z", want: ReasonWindow},   // 00:30 CEST
		{utc: "2025-10-26T03:59:00Z", want: ReasonWindow},   // 04:59 CET
		{utc: "2025-10-26T05:00:00Z", want: ReasonStandard}, // 06:00 CET
		{utc: "2025-10-25T04:00:00Z", want: ReasonStandard}, // 06:00 CEST
	}
	for _, tt := range tests {
		t.Run(tt.utc, func(t *testing.T) {
			now, err := time.Parse(time.RFC3339, tt.utc)
			require.NoError(t, err)
			assert.Equal(t, tt.want, p.Choose(Input{Complexity: intent.Standard, Now: now}).Reason)
		})
	}
}

func TestValidate(t *testing.T) {
	base := func(f func(*Config)) Config {
		c := postMortem()
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		give    Config
		wantErr string
	}{
		{name: "valid", give: postMortem()},
		{name: "minimal", give: Config{SmallModel: "s", LargeModel: "l"}},
		{name: "no models", give: Config{}, wantErr: "small_model: required"},
		{name: "no large model", give: Config{SmallModel: "s"}, wantErr: "large_model: required"},
		{name: "peak load above 1", give: base(func(c *Config) { c.Peak.Load = 1.5 }), wantErr: "peak.load: 1.5 is not in [0, 1]"},
		{name: "peak without tiers", give: base(func(c *Config) { c.Peak.Tiers = nil }), wantErr: "peak.tiers: required with peak.load"},
		{name: "unknown zone", give: base(func(c *Config) { c.TimeZone = "Mars/Olympus" }), wantErr: "time_zone: unknown time zone Mars/Olympus"},
		{name: "bad hours", give: base(func(c *Config) { c.Windows[0].Hours = "25:00-06:00" }),
			wantErr: `windows[0].hours: want HH:MM-HH:MM, got "25:00-06:00": bad start`},
		{name: "empty window", give: base(func(c *Config) { c.Windows[0].Hours = "06:00-06:00" }),
			wantErr: "windows[0].hours: \"06:00-06:00\": start and end are the same time"},
		{name: "bad day", give: base(func(c *Config) { c.Windows[0].Days = []string{"monday"} }),
			wantErr: `windows[0].days: unknown day "monday"`},
		{name: "bad window name", give: base(func(c *Config) { c.Windows[0].Name = "Night Shift" }),
			wantErr: `windows[0].name: "Night Shift" is not a valid window name`},
		{name: "duplicate window", give: base(func(c *Config) { c.Windows = append(c.Windows, c.Windows[0]) }),
			wantErr: `windows[1].name: duplicate window "night"`},
		{name: "bad max complexity", give: base(func(c *Config) { c.Windows[0].MaxComplexity = "hard" }),
			wantErr: `windows[0].max_complexity: unknown complexity "hard"`},
		{name: "empty tier pin", give: base(func(c *Config) { c.Tiers["free"] = "" }), wantErr: "tiers.free: want a tier name and a model"},
		{name: "repeat similarity", give: base(func(c *Config) { c.Escalation.RepeatSimilarity = 2 }),
			wantErr: "escalation.repeat_similarity: 2 is not in (0, 1]"},
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
			_, err = New(tt.give)
			assert.Error(t, err)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	err := Config{Peak: Peak{Load: 2}}.Validate()
	require.Error(t, err)
	for _, want := range []string{"small_model", "large_model", "peak.load"} {
		assert.Contains(t, err.Error(), want)
	}
}

func TestConfigYAML(t *testing.T) {
	const doc = `
small_model: small
large_model: large
tiers: {vip: large}
peak: {load: 0.8, tiers: [free]}
time_zone: Europe/Berlin
windows:
  - {name: night, hours: "00:00-06:00", max_complexity: standard}
escalation: {repeat_similarity: 0.75}
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&c))
	p, err := New(c)
	require.NoError(t, err)
	assert.Equal(t, ReasonWindow, p.Choose(Input{Complexity: intent.Standard, Now: berlin(t, "2025-11-28 01:00")}).Reason)
}

func TestParseHours(t *testing.T) {
	tests := []struct {
		give    string
		want    Hours
		wantErr bool
	}{
		{give: "00:00-06:00", want: Hours{0, 360}},
		{give: "22:00-06:00", want: Hours{1320, 360}},
		{give: "18:00 - 24:00", want: Hours{1080, 0}},
		{give: "09:30-17:45", want: Hours{570, 1065}},
		{give: "24:00-06:00", wantErr: true},
		{give: "06:00-06:00", wantErr: true},
		{give: "00:00-24:00", wantErr: true},
		{give: "6:00-7:00", wantErr: true},
		{give: "06:60-07:00", wantErr: true},
		{give: "24:01-07:00", wantErr: true},
		{give: "06:00", wantErr: true},
		{give: "", wantErr: true},
		{give: "ab:cd-ef:gh", wantErr: true},
		{give: "06:00-07:00-08:00", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			h, err := ParseHours(tt.give)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, h)
		})
	}
}

func TestHoursContains(t *testing.T) {
	tests := []struct {
		hours string
		in    []int
		out   []int
	}{
		{hours: "00:00-06:00", in: []int{0, 359}, out: []int{360, 1439}},
		{hours: "22:00-06:00", in: []int{1320, 1439, 0, 359}, out: []int{360, 1319}},
		{hours: "18:00-24:00", in: []int{1080, 1439}, out: []int{0, 1079}},
	}
	for _, tt := range tests {
		t.Run(tt.hours, func(t *testing.T) {
			h, err := ParseHours(tt.hours)
			require.NoError(t, err)
			for _, m := range tt.in {
				assert.True(t, h.contains(m), "minute %d", m)
			}
			for _, m := range tt.out {
				assert.False(t, h.contains(m), "minute %d", m)
			}
			assert.Equal(t, tt.hours, strings.Replace(h.String(), "-00:00", "-24:00", 1))
		})
	}
}

func TestSimilarity(t *testing.T) {
	tests := []struct {
		a, b     string
		min, max float64
	}{
		{a: "where is my order 100123", b: "Where is my order 100123???", min: 1, max: 1},
		{a: "where is my order 100123", b: "wher is my order 100123", min: 0.85, max: 0.95},
		{a: "Where is my order?", b: "I asked where my order is", min: 0.7, max: 0.75},
		{a: "where is my order 100123", b: "where is my order 100456", min: 0, max: 0},
		{a: "Where is my order?", b: "Do you have the tent in stock?", min: 0, max: 0.2},
		{a: "Wo ist meine Bestellung?", b: "wo ist meine bestellung", min: 1, max: 1},
		{a: "", b: "", min: 0, max: 0},
		{a: "?!", b: "?!", min: 0, max: 0},
		{a: strings.Repeat("order ", 200), b: strings.Repeat("order ", 300), min: 1, max: 1},
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			s := Similarity(tt.a, tt.b)
			assert.GreaterOrEqual(t, s, tt.min)
			assert.LessOrEqual(t, s, tt.max)
			assert.InDelta(t, s, Similarity(tt.b, tt.a), 1e-9, "symmetric")
		})
	}
}
