package ctxwindow

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// Observer is told what context management does, for metrics; Metrics
// implements it. Its methods must be cheap, safe for concurrent use and
// must not block. Label values are agent names and fixed outcomes.
type Observer interface {
	// Overhead reports the time context management added to one turn of
	// agent: the facts, the blocks and every window built.
	Overhead(agent string, d time.Duration)
	// Summarized reports one summary job of agent: its outcome (one of the
	// Outcome constants) and duration.
	Summarized(agent, outcome string, d time.Duration)
	// FactsUnreachable reports n facts of turns just summarised that the
	// next request would hold neither in its facts block nor in its
	// window: the facts bound was too small for the conversation.
	FactsUnreachable(agent string, n int)
}

// Config configures a Manager.
type Config struct {
	// Agent names the agent, for metrics and logs.
	Agent string
	// Model is the model the agent calls: its tokenizer counts the window.
	// Required.
	Model string
	// SummaryModel is the small model that writes summaries. Empty means
	// Model.
	SummaryModel string
	// Policy is the agent's policy; zero fields mean their defaults.
	Policy Policy
	// Observer, if not nil, is told about overhead, summaries and
	// unreachable facts.
	Observer Observer
	// Logger logs summary failures. Nil means slog.Default().
	Logger *slog.Logger
}

// Manager applies one agent's context policy: it builds the window of each
// model call, keeps the session's pinned facts and folds the turns that
// left the window into the running summary. It holds no per-session state
// and is safe for concurrent use.
type Manager struct {
	agent, model, summaryModel string
	policy                     Policy
	counter, summaryCounter    Counter
	facts                      *Extractor
	obs                        Observer
	log                        *slog.Logger
}

// New validates cfg and returns its Manager; errors wrap ErrInvalidPolicy.
func New(cfg Config) (*Manager, error) {
	if cfg.Model == "" {
		return nil, fmt.Errorf("%w: no model", ErrInvalidPolicy)
	}
	p, err := cfg.Policy.Normalize()
	if err != nil {
		return nil, err
	}
	x, err := NewExtractor(p.Facts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidPolicy, err)
	}
	m := &Manager{agent: cfg.Agent, model: cfg.Model, summaryModel: cfg.SummaryModel, policy: p, facts: x,
		obs: cfg.Observer, log: cfg.Logger}
	if m.summaryModel == "" {
		m.summaryModel = m.model
	}
	m.counter, m.summaryCounter = CounterFor(m.model), CounterFor(m.summaryModel)
	if m.obs == nil {
		m.obs = nopObserver{}
	}
	if m.log == nil {
		m.log = slog.Default()
	}
	return m, nil
}

// Policy returns the policy with its defaults.
func (m *Manager) Policy() Policy { return m.policy }

// Observer returns the observer the Manager reports to (a no-op one when
// none was configured).
func (m *Manager) Observer() Observer { return m.obs }

// HardLimit is the most prompt tokens a request may carry:
// ContextLimit-ReplyTokens.
func (m *Manager) HardLimit() int { return m.policy.hardLimit() }

// Build lays out one model call's prompt. Its guarantees, which property
// tests check over random histories:
//
//   - the system prompt, the tools and the user's message always go in
//     (ErrTooLarge when they and the newest tool results do not fit the
//     context limit);
//   - no tool result goes without the assistant message that called it,
//     and no assistant tool call without all its results;
//   - history is the newest Policy.RecentTurns turns at most, within
//     Policy.MaxTokens: the oldest lose their tool calls first, then are
//     dropped;
//   - Window.Tokens, what the model will bill, never exceeds HardLimit.
//
// dst's array is reused for Window.Messages.
func (m *Manager) Build(in *Input, dst []llm.Message) (Window, error) {
	return build(m.counter, &m.policy, in, dst)
}

// Count returns the prompt tokens of msgs and tools as the model bills
// them.
func (m *Manager) Count(msgs []llm.Message, tools []llm.Tool) int {
	n := primingTokens
	for i := range msgs {
		n += m.counter.CountMessage(&msgs[i])
	}
	if len(tools) > 0 {
		n += m.counter.CountTools(tools)
	}
	return n
}

// Facts returns the session's pinned facts as the next request sees them:
// those stored with its summary plus those mentioned in its turns after
// seq after, bounded by Policy.Facts.Max. A stored value that cannot be
// read gives the facts of the turns alone, and the error.
func (m *Manager) Facts(stored json.RawMessage, after int64, turns []store.Turn) (*Facts, error) {
	f, err := DecodeFacts(stored)
	for i := range turns {
		if t := &turns[i]; t.Seq > after {
			m.Mention(f, t.Messages, t.Seq)
		}
	}
	f.Bound(m.policy.Facts.Max)
	return f, err
}

// Mention adds the facts of msgs, mentioned in turn seq, to f (unbounded:
// call f.Bound after).
func (m *Manager) Mention(f *Facts, msgs []llm.Message, seq int64) {
	for i := range msgs {
		for _, x := range m.facts.Message(&msgs[i]) {
			f.Mention(x, seq)
		}
	}
}

// BoundFacts applies the policy's bound to f.
func (m *Manager) BoundFacts(f *Facts) { f.Bound(m.policy.Facts.Max) }

// summaryLabel opens the summary block. It avoids the words by which a
// model (and the sim) would take the system prompt for a request to
// summarise.
const summaryLabel = "Earlier turns, in brief (details may be missing there; the pinned facts are exact):"

// Blocks returns what context management adds to the system prompt: the
// facts block, then the summary, "" when there is neither. Facts come
// first, so that the first value of a kind a model reads is the first the
// customer gave, whatever the lossy summary kept.
func Blocks(f *Facts, summary string) string {
	facts := ""
	if f != nil {
		facts = f.Render()
	}
	switch {
	case summary == "":
		return facts
	case facts == "":
		return summaryLabel + "\n" + summary
	}
	return facts + "\n\n" + summaryLabel + "\n" + summary
}

// Job computes the summary job a stored turn calls for: the turns that
// left the window, that is those older than the newest RecentTurns once
// turn newSeq is stored, and those the last window w of the run already
// left out, folded into a summary covering 1..summarized now. ok is false
// when nothing left.
func (m *Manager) Job(tenant, session string, summarized, newSeq int64, w Window) (Job, bool) {
	upTo := newSeq - int64(m.policy.RecentTurns)
	first := w.FirstSeq
	if w.Turns == 0 {
		first = newSeq
	}
	upTo = max(upTo, first-1)
	if upTo <= summarized {
		return Job{}, false
	}
	return Job{Tenant: tenant, Session: session, Agent: m.agent, From: summarized + 1, To: upTo}, true
}

type nopObserver struct{}

func (nopObserver) Overhead(string, time.Duration)           {}
func (nopObserver) Summarized(string, string, time.Duration) {}
func (nopObserver) FactsUnreachable(string, int)             {}
