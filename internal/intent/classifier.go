package intent

import (
	"context"
	"strconv"

	"github.com/cespare/xxhash/v2"
	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/sync/singleflight"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Completer is what the model stage needs: one chat completion. The lead
// passes *router.Router, whose Complete has this signature.
type Completer interface {
	Complete(ctx context.Context, req *llm.Request) (*llm.Response, error)
}

// Source says which stage produced a Result.
type Source string

// Sources of a Result.
const (
	SourceRules Source = "rules"
	SourceModel Source = "model"
)

// Input is one user turn to classify.
type Input struct {
	// SessionID and Turn key the cache: a turn classified once (say by
	// the first step of a tool loop) is not classified again. An empty
	// SessionID is never cached.
	SessionID string
	Turn      int
	// Text is the user's message.
	Text string
	// Previous is the intent of the previous turn, or "": a short
	// follow-up with no request of its own ("it's 100123") continues it.
	Previous string
}

// Result is the classification of one turn.
type Result struct {
	// Intent is the (first) intent, always one of the configured names.
	Intent string
	// Secondary is a second, different request in the same message, or "".
	Secondary string
	// Complexity is the class of the message; never "".
	Complexity Complexity
	// Confidence in [0, 1]: of the rules (evidence and its margin over
	// rival intents), or as the model reported it.
	Confidence float64
	// Rule names what decided: "order_status/keyword:where is my order",
	// "return_refund/pattern:…", "inherit:previous", "fallback" or
	// "model:NAME". Bounded by the configuration, fit for logs and traces
	// (not for metric labels: use Intent and Source).
	Rule string
	// Source is the stage that decided.
	Source Source
	// Agent is the agent that serves the intent (IntentConfig.Agent), set
	// only when the classification is sure: its confidence at or above
	// the threshold, and a second intent, if any, served by the same
	// agent. "" otherwise: the agent's model decides.
	Agent string
	// Cached reports that the result came from the per-turn cache.
	Cached bool
	// ModelErr is why the model stage, when it was asked, did not decide
	// (time-out, failure, unusable reply); the result is then the rules'.
	ModelErr error
}

type cacheKey struct {
	session string
	turn    int
}

type cacheEntry struct {
	text   uint64 // hash of the text, so that a turn number reused for a different message misses
	result Result
}

// Classifier classifies user turns for one agent: the rule stage, then,
// when the rules are unsure and a model is configured, the model stage.
// Safe for concurrent use; it starts no goroutine and needs no Close.
type Classifier struct {
	rules  *rules
	model  Completer
	stage  ModelStage
	prompt string
	cache  *lru.Cache[cacheKey, cacheEntry] // nil when disabled
	calls  singleflight.Group
}

// New compiles cfg. model may be nil, which disables the model stage, as
// does an empty cfg.Model.Model.
func New(cfg Config, model Completer) (*Classifier, error) {
	r, eff, err := compile(cfg)
	if err != nil {
		return nil, err
	}
	c := &Classifier{rules: r, stage: eff.Model}
	if model != nil && eff.Model.Model != "" {
		c.model = model
		c.prompt = systemPrompt(eff.Intents)
	}
	if eff.CacheSize > 0 {
		c.cache, err = lru.New[cacheKey, cacheEntry](eff.CacheSize)
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Intents returns the configured intent names in priority order.
func (c *Classifier) Intents() []string {
	names := make([]string, len(c.rules.intents))
	for i, in := range c.rules.intents {
		names[i] = in.name
	}
	return names
}

// Rules classifies text with the rule stage only: no cache, no model. It
// allocates one copy of the folded text and never blocks.
func (c *Classifier) Rules(text, previous string) Result {
	return c.result(c.rules.classify(text, previous))
}

func (c *Classifier) result(v verdict) Result {
	res := Result{
		Intent:     c.rules.intents[v.primary].name,
		Complexity: v.complexity,
		Confidence: v.confidence,
		Rule:       v.rule,
		Source:     SourceRules,
	}
	if v.secondary >= 0 {
		res.Secondary = c.rules.intents[v.secondary].name
	}
	res.Agent = c.agent(v.primary, v.secondary, res.Confidence)
	return res
}

// agent returns the agent serving a sure classification of primary (and
// secondary, -1 for none) at confidence, or "".
func (c *Classifier) agent(primary, secondary int, confidence float64) string {
	a := c.rules.intents[primary].agent
	if a == "" || confidence < c.rules.threshold || secondary >= 0 && c.rules.intents[secondary].agent != a {
		return ""
	}
	return a
}

// Classify classifies one turn: from the cache when this (session, turn)
// was classified before with the same text; else by the rules; and, when
// their confidence is under the threshold and a model is configured, by
// the model within the stage's time-out, keeping the rules' answer when
// the model fails. Concurrent calls for one uncached turn share one model
// call.
func (c *Classifier) Classify(ctx context.Context, in Input) Result {
	var key cacheKey
	var sum uint64
	if c.cache != nil && in.SessionID != "" {
		key = cacheKey{in.SessionID, in.Turn}
		sum = xxhash.Sum64String(in.Text)
		if e, ok := c.cache.Get(key); ok && e.text == sum {
			e.result.Cached = true
			return e.result
		}
	}
	res := c.Rules(in.Text, in.Previous)
	if c.model != nil && res.Confidence < c.rules.threshold {
		res = c.shared(ctx, in, res)
	}
	if c.cache != nil && in.SessionID != "" {
		c.cache.Add(key, cacheEntry{text: sum, result: res})
	}
	return res
}

// shared runs the model stage once for concurrent callers of one turn.
func (c *Classifier) shared(ctx context.Context, in Input, rules Result) Result {
	if in.SessionID == "" {
		return c.askModel(ctx, in.Text, rules)
	}
	key := strconv.Itoa(in.Turn) + "\x00" + in.SessionID + "\x00" + strconv.FormatUint(xxhash.Sum64String(in.Text), 16)
	v, _, _ := c.calls.Do(key, func() (any, error) {
		// The first caller's context bounds the shared call; a caller
		// that joins gets its answer or, on the first caller's
		// cancellation, the rules' answer with the error.
		return c.askModel(ctx, in.Text, rules), nil
	})
	return v.(Result)
}
