package load

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by Run to zero Config fields.
const (
	DefaultModel       = "large"
	DefaultConcurrency = 50
	DefaultDuration    = 10 * time.Second
	DefaultTimeout     = 30 * time.Second
	DefaultMaxInFlight = 10000
	DefaultInterval    = time.Second
)

// ErrConfig is wrapped by every error Run and Compare return for a Config
// they cannot run.
var ErrConfig = errors.New("load: invalid config")

// Config describes one load run. The zero value of every field but Target is
// usable; Run normalises zero values to the documented defaults. A Config is
// read, never modified, by Run, so one value may be reused for several runs.
type Config struct {
	// Target is the base URL up to and including /v1, e.g.
	// http://127.0.0.1:8080/v1; requests go to Target + "/chat/completions",
	// or to the agent run API when Agent is set. Required.
	Target string
	// APIKey is sent as "Authorization: Bearer APIKey" when not empty.
	// Mutually exclusive with Keys.
	APIKey string
	// Keys, when not empty, is a mix of API keys (tenants or tiers): each
	// start is given one of them, picked by weight from Seed and the
	// start's sequence number alone, so the same Seed gives every start the
	// same key. Report.Keys breaks the results down by key label, next to
	// Report.Labels by scenario label. At most 64 keys; see Key for what
	// each field accepts.
	Keys []Key
	// Agent, when set, sends the requests to the agent run API, POST
	// Target + "/agents/{Agent}/runs", instead of chat completions: the
	// default scenario then sends {"input": prompt}, and a 2xx answer
	// counts as OK when it carries a "run_id" and its status is not
	// "failed" (ClassRunFailed). Not with Stream: the run API streams
	// events, not completion chunks.
	Agent string
	// Model is the model named in the default scenario's requests. Default
	// "large". Ignored when Scenario or Agent is set.
	Model string
	// Rate selects the open loop when > 0: requests per second started on a
	// fixed schedule. 0 selects the closed loop.
	Rate float64
	// Concurrency is the number of closed-loop workers, each sending back to
	// back (default 50). In the open loop it is only a hint for the size of
	// the idle connection pool.
	Concurrency int
	// Duration is the measured window. Default 10s.
	Duration time.Duration
	// Warmup is run before the measured window with the same load and is not
	// recorded. Default 0.
	Warmup time.Duration
	// Stream asks for streamed answers (stream: true), measures the time to
	// the first content token and counts a request as successful only at
	// "data: [DONE]". With a custom Scenario, its bodies must agree.
	Stream bool
	// MaxTokens, when > 0, is sent as max_tokens by the default scenario.
	MaxTokens int
	// Timeout bounds each request from its send to its last byte (default
	// 30s). A watchdog checks every Timeout/16 (1ms to 100ms), so a request
	// is cut at most that much later; it counts as ClassTimeout.
	Timeout time.Duration
	// MaxInFlight caps outstanding requests in the open loop (default 10000).
	// A scheduled start that would exceed it is counted in Report.Dropped and
	// not sent: queueing it would hide the overload.
	MaxInFlight int
	// Seed makes the default scenario's prompt set and order, and the key
	// each start is given (Keys), reproducible.
	Seed int64
	// Scenario yields each request's body. Default: NewPromptSet over
	// single-turn customer-service prompts built from Model, Stream,
	// MaxTokens and Seed.
	Scenario Scenario
	// Progress, when not nil, receives one progress line per Interval,
	// rewritten in place with "\r", and a final newline. Only the run's
	// collector goroutine writes to it.
	Progress io.Writer
	// Interval is the period of the progress line and the width of each
	// Report.Timeline entry. Default 1s.
	Interval time.Duration
	// Now is the clock every timestamp and schedule is taken from. Default
	// time.Now. Waits still happen in real time, for the difference between
	// two readings of Now, so a clock that runs fast makes a run finish
	// sooner with the same schedule.
	Now func() time.Time
}

// normalized returns c with defaults applied (all but Scenario, see
// scenario) and the chat completions URL, or an error wrapping ErrConfig.
func (c Config) normalized() (Config, *url.URL, error) {
	if c.Target == "" {
		return c, nil, fmt.Errorf("%w: target is empty", ErrConfig)
	}
	path := "/chat/completions"
	if c.Agent != "" {
		path = "/agents/" + url.PathEscape(c.Agent) + "/runs"
	}
	u, err := url.Parse(strings.TrimRight(c.Target, "/") + path)
	if err != nil {
		return c, nil, fmt.Errorf("%w: target: %w", ErrConfig, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, nil, fmt.Errorf("%w: target %q is not an http(s) URL", ErrConfig, c.Target)
	}
	switch {
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return c, nil, fmt.Errorf("%w: rate %v", ErrConfig, c.Rate)
	case c.Concurrency < 0:
		return c, nil, fmt.Errorf("%w: concurrency %d", ErrConfig, c.Concurrency)
	case c.Duration < 0, c.Warmup < 0, c.Timeout < 0, c.Interval < 0:
		return c, nil, fmt.Errorf("%w: negative duration", ErrConfig)
	case c.MaxTokens < 0:
		return c, nil, fmt.Errorf("%w: max tokens %d", ErrConfig, c.MaxTokens)
	case c.MaxInFlight < 0:
		return c, nil, fmt.Errorf("%w: max in flight %d", ErrConfig, c.MaxInFlight)
	case c.APIKey != "" && len(c.Keys) > 0:
		return c, nil, fmt.Errorf("%w: an API key and a key mix are mutually exclusive", ErrConfig)
	case c.Agent != "" && c.Stream:
		return c, nil, fmt.Errorf("%w: the agent run API is not streamed as chat completions are", ErrConfig)
	}
	if err := validateKeys(c.Keys); err != nil {
		return c, nil, err
	}
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, u, nil
}

// mode names the loop for the report.
func (c *Config) mode() string {
	if c.Rate > 0 {
		return "open"
	}
	return "closed"
}

// scenario returns c.Scenario or, when nil, the default prompt set.
func (c *Config) scenario() Scenario {
	if c.Scenario != nil {
		return c.Scenario
	}
	return NewPromptSet(PromptOptions{Model: c.Model, Stream: c.Stream, MaxTokens: c.MaxTokens, Seed: c.Seed, RunAPI: c.Agent != ""})
}
