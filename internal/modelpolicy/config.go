package modelpolicy

import (
	"errors"
	"fmt"
	"regexp"
	"time"
	_ "time/tzdata" // windows name IANA zones; images without zoneinfo must still load them

	"github.com/floodgate-dev/floodgate/internal/intent"
)

// Config is one agent's model policy. SmallModel and LargeModel are
// required (internal/config fills them from the agent's simple_model and
// model); everything else has a default, and the zero value of each
// optional part turns it off. It has yaml tags so that internal/config can
// embed it in an agent's configuration.
type Config struct {
	// SmallModel is the cheap, fast model. Required.
	SmallModel string `yaml:"small_model"`
	// LargeModel is the accurate model. Required.
	LargeModel string `yaml:"large_model"`
	// Complexity maps each class to a model. Defaults: simple →
	// small_model, standard and complex → large_model. An unknown class
	// (no classification) gets large_model.
	Complexity ComplexityModels `yaml:"complexity"`
	// Tiers pins tenants of a tier to a model whatever the message, e.g.
	// {vip: large}. Escalation and budget downgrades still apply.
	Tiers map[string]string `yaml:"tiers"`
	// Peak downgrades some tiers when the node is loaded.
	Peak Peak `yaml:"peak"`
	// TimeZone of the windows, an IANA name such as Europe/Berlin.
	// Default UTC.
	TimeZone string `yaml:"time_zone"`
	// Windows are daily periods with their own model, e.g. night
	// 00:00–06:00 on the small model. The first window that applies wins.
	Windows []Window `yaml:"windows"`
	// Escalation sends the turn after a failed answer of a smaller model
	// to the large one.
	Escalation Escalation `yaml:"escalation"`
}

// ComplexityModels maps complexity classes to models.
type ComplexityModels struct {
	Simple   string `yaml:"simple"`
	Standard string `yaml:"standard"`
	Complex  string `yaml:"complex"`
}

// Peak is the load at which some tiers are downgraded ("free tier at peak
// → small").
type Peak struct {
	// Load in (0, 1] at or above which the node is at peak: the figure
	// the caller passes in Input.Load, e.g. admission utilisation. 0
	// turns peak downgrades off.
	Load float64 `yaml:"load"`
	// Tiers downgraded at peak, e.g. [free]. Required with load.
	Tiers []string `yaml:"tiers"`
	// Model at peak. Default small_model.
	Model string `yaml:"model"`
}

// Window is a daily period with its own model.
type Window struct {
	// Name identifies the window in decisions and traces; [a-z0-9_]{1,32}.
	Name string `yaml:"name"`
	// Hours is "HH:MM-HH:MM" in the policy's time zone, start inclusive,
	// end exclusive; an end before the start wraps past midnight
	// ("22:00-06:00"); "24:00" ends at midnight.
	Hours string `yaml:"hours"`
	// Days the window starts on: mon, tue, wed, thu, fri, sat, sun. Empty
	// means every day. A window that wraps past midnight runs into the
	// next day.
	Days []string `yaml:"days"`
	// Tiers the window applies to. Empty means all.
	Tiers []string `yaml:"tiers"`
	// MaxComplexity is the most complex class the window applies to.
	// Default standard: complex messages keep their model.
	MaxComplexity intent.Complexity `yaml:"max_complexity"`
	// Model in the window. Default small_model.
	Model string `yaml:"model"`
}

// Escalation configures the escalation rule.
type Escalation struct {
	// Disabled turns escalation off.
	Disabled bool `yaml:"disabled"`
	// Model escalated to. Default large_model.
	Model string `yaml:"model"`
	// RepeatSimilarity in (0, 1] at or above which a user message repeats
	// the previous one (see Similarity). Default 0.7.
	RepeatSimilarity float64 `yaml:"repeat_similarity"`
}

// DefaultRepeatSimilarity is Escalation.RepeatSimilarity's default.
const DefaultRepeatSimilarity = 0.7

var windowName = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)

// Validate reports every problem of c, each naming its field, e.g.
// `windows[0].hours: want HH:MM-HH:MM, got "25:00-06:00"`. New calls it.
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// compile fills defaults and checks c.
func (c Config) compile() (*Policy, error) {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.SmallModel == "" {
		bad("small_model", "required")
	}
	if c.LargeModel == "" {
		bad("large_model", "required")
	}
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	p := &Policy{
		small: c.SmallModel,
		large: c.LargeModel,
		byComplexity: [4]string{
			c.LargeModel,
			def(c.Complexity.Simple, c.SmallModel),
			def(c.Complexity.Standard, c.LargeModel),
			def(c.Complexity.Complex, c.LargeModel),
		},
		tiers:      map[string]string{},
		peakLoad:   c.Peak.Load,
		peakTiers:  map[string]bool{},
		peakModel:  def(c.Peak.Model, c.SmallModel),
		escalate:   !c.Escalation.Disabled,
		escModel:   def(c.Escalation.Model, c.LargeModel),
		similarity: c.Escalation.RepeatSimilarity,
	}
	for tier, m := range c.Tiers {
		if tier == "" || m == "" {
			bad("tiers."+tier, "want a tier name and a model")
		}
		p.tiers[tier] = m
	}
	if !(c.Peak.Load >= 0 && c.Peak.Load <= 1) {
		bad("peak.load", "%v is not in [0, 1]", c.Peak.Load)
	}
	if c.Peak.Load > 0 && len(c.Peak.Tiers) == 0 {
		bad("peak.tiers", "required with peak.load")
	}
	for i, t := range c.Peak.Tiers {
		if t == "" {
			bad(fmt.Sprintf("peak.tiers[%d]", i), "empty tier name")
		}
		p.peakTiers[t] = true
	}
	p.loc = time.UTC
	if c.TimeZone != "" {
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			bad("time_zone", "%v", err)
		} else {
			p.loc = loc
		}
	}
	names := map[string]bool{}
	for i, w := range c.Windows {
		path := fmt.Sprintf("windows[%d]", i)
		cw := window{name: w.Name, model: def(w.Model, c.SmallModel), tiers: map[string]bool{}, maxRank: intent.Standard.Rank()}
		if !windowName.MatchString(w.Name) {
			bad(path+".name", "%q is not a valid window name ([a-z0-9_]{1,32})", w.Name)
		} else if names[w.Name] {
			bad(path+".name", "duplicate window %q", w.Name)
		}
		names[w.Name] = true
		h, err := ParseHours(w.Hours)
		if err != nil {
			bad(path+".hours", "%v", err)
		}
		cw.hours = h
		cw.days, err = ParseDays(w.Days)
		if err != nil {
			bad(path+".days", "%v", err)
		}
		if w.MaxComplexity != "" {
			cx, err := intent.ParseComplexity(string(w.MaxComplexity))
			if err != nil {
				bad(path+".max_complexity", "%v", err)
			}
			cw.maxRank = cx.Rank()
		}
		for k, t := range w.Tiers {
			if t == "" {
				bad(fmt.Sprintf("%s.tiers[%d]", path, k), "empty tier name")
			}
			cw.tiers[t] = true
		}
		p.windows = append(p.windows, cw)
	}
	if p.similarity == 0 {
		p.similarity = DefaultRepeatSimilarity
	}
	if !(p.similarity > 0 && p.similarity <= 1) {
		bad("escalation.repeat_similarity", "%v is not in (0, 1]", c.Escalation.RepeatSimilarity)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}
