package intent

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// fakeModel plays the small model: it answers with reply(text), after
// delay or when ctx ends, and records the requests.
type fakeModel struct {
	reply func(text string) (string, error)
	delay time.Duration
	calls atomic.Int64
	mu    sync.Mutex
	reqs  []*llm.Request
}

func (f *fakeModel) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	content, err := f.reply(req.LastUserText())
	if err != nil {
		return nil, err
	}
	return &llm.Response{Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.Text(content)}}}}, nil
}

func constant(s string) func(string) (string, error) {
	return func(string) (string, error) { return s, nil }
}

func newWithModel(t testing.TB, m Completer, cfg Config) *Classifier {
	t.Helper()
	if cfg.Model.Model == "" {
		cfg.Model.Model = "small"
	}
	c, err := New(cfg, m)
	require.NoError(t, err)
	return c
}

func TestModelStage(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name        string
		reply       string
		give        string
		wantIntent  string
		wantSecond  string
		wantCx      Complexity
		wantSource  Source
		wantConf    float64
		wantCalls   int64
		wantErrIs   error
		wantErrText string
	}{
		{name: "confident rules do not ask", reply: `{"intent":"complaint"}`, give: "Where is my order 100123?",
			wantIntent: OrderStatus, wantCx: Simple, wantSource: SourceRules, wantConf: 0.75, wantCalls: 0},
		{name: "unsure rules ask and the model decides", reply: `{"intent":"account","complexity":"standard","confidence":0.9}`,
			give: "I can't get in", wantIntent: Account, wantCx: Standard, wantSource: SourceModel, wantConf: 0.9, wantCalls: 1},
		{name: "reply in a code fence", reply: "```json\n{\"intent\": \"return_refund\"}\n```", give: "hmm the thing",
			wantIntent: ReturnRefund, wantCx: Complex, wantSource: SourceModel, wantConf: modelDefaultConfidence, wantCalls: 1},
		{name: "a second intent makes it complex", reply: `{"intent":"order_status","secondary":"account","complexity":"simple"}`,
			give: "hmm the thing", wantIntent: OrderStatus, wantSecond: Account, wantCx: Complex, wantSource: SourceModel,
			wantConf: modelDefaultConfidence, wantCalls: 1},
		{name: "plain name", reply: "The intent is shipment_tracking.", give: "hmm the thing",
			wantIntent: ShipmentTracking, wantCx: Simple, wantSource: SourceModel, wantConf: modelDefaultConfidence, wantCalls: 1},
		{name: "unknown intent keeps the rules", reply: `{"intent":"weather"}`, give: "hmm the thing",
			wantIntent: Other, wantCx: Standard, wantSource: SourceRules, wantConf: 0, wantCalls: 1, wantErrIs: ErrBadReply},
		{name: "empty reply keeps the rules", reply: "  ", give: "hmm the thing",
			wantIntent: Other, wantCx: Standard, wantSource: SourceRules, wantCalls: 1, wantErrIs: ErrNoReply},
		{name: "out-of-range confidence is ignored", reply: `{"intent":"other","confidence":7}`, give: "hmm the thing",
			wantIntent: Other, wantCx: Standard, wantSource: SourceModel, wantConf: modelDefaultConfidence, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &fakeModel{reply: constant(tt.reply)}
			c := newWithModel(t, m, Config{})
			res := c.Classify(ctx, Input{Text: tt.give})
			assert.Equal(t, tt.wantIntent, res.Intent)
			assert.Equal(t, tt.wantSecond, res.Secondary)
			assert.Equal(t, tt.wantCx, res.Complexity)
			assert.Equal(t, tt.wantSource, res.Source)
			assert.InDelta(t, tt.wantConf, res.Confidence, 0.01)
			assert.Equal(t, tt.wantCalls, m.calls.Load())
			if tt.wantErrIs != nil {
				assert.ErrorIs(t, res.ModelErr, tt.wantErrIs)
			} else {
				assert.NoError(t, res.ModelErr)
			}
			if tt.wantSource == SourceModel {
				assert.Equal(t, "model:small", res.Rule)
			}
		})
	}
}

func TestModelStageRequest(t *testing.T) {
	m := &fakeModel{reply: constant(`{"intent":"other"}`)}
	c := newWithModel(t, m, Config{Model: ModelStage{Model: "tiny", MaxTokens: 20}})
	c.Classify(context.Background(), Input{Text: "hmm"})
	require.Len(t, m.reqs, 1)
	req := m.reqs[0]
	assert.Equal(t, "tiny", req.Model)
	require.Len(t, req.Messages, 2)
	assert.Equal(t, llm.RoleSystem, req.Messages[0].Role)
	assert.True(t, strings.HasPrefix(req.Messages[0].Content.String(), PromptPrefix))
	for _, name := range Builtin().Intents {
		assert.Contains(t, req.Messages[0].Content.String(), "- "+name.Name+": ")
	}
	assert.Equal(t, "hmm", req.Messages[1].Content.String())
	require.NotNil(t, req.Temperature)
	assert.Zero(t, *req.Temperature)
	assert.Equal(t, 20, req.MaxOutputTokens())
	assert.JSONEq(t, `{"type":"json_object"}`, string(req.ResponseFormat))
}

func TestModelStageTimeout(t *testing.T) {
	m := &fakeModel{reply: constant(`{"intent":"account"}`), delay: time.Minute}
	c := newWithModel(t, m, Config{Model: ModelStage{Timeout: 20 * time.Millisecond}})
	start := time.Now()
	res := c.Classify(context.Background(), Input{Text: "100123"})
	assert.Less(t, time.Since(start), 10*time.Second)
	assert.Equal(t, OrderStatus, res.Intent, "the rules' answer stands")
	assert.Equal(t, SourceRules, res.Source)
	assert.ErrorIs(t, res.ModelErr, context.DeadlineExceeded)
}

func TestModelStageError(t *testing.T) {
	boom := errors.New("all endpoints down")
	m := &fakeModel{reply: func(string) (string, error) { return "", boom }}
	c := newWithModel(t, m, Config{})
	res := c.Classify(context.Background(), Input{Text: "100123"})
	assert.Equal(t, OrderStatus, res.Intent)
	assert.ErrorIs(t, res.ModelErr, boom)
	assert.Contains(t, res.ModelErr.Error(), "intent model small")
}

func TestModelStageDisabled(t *testing.T) {
	m := &fakeModel{reply: constant(`{"intent":"account"}`)}
	c, err := New(Config{}, m) // no model name: no stage
	require.NoError(t, err)
	res := c.Classify(context.Background(), Input{Text: "hmm"})
	assert.Equal(t, Other, res.Intent)
	assert.Zero(t, m.calls.Load())
	c, err = New(Config{Model: ModelStage{Model: "small"}}, nil) // no completer: no stage
	require.NoError(t, err)
	assert.Equal(t, Other, c.Classify(context.Background(), Input{Text: "hmm"}).Intent)
}

func TestCache(t *testing.T) {
	ctx := context.Background()
	m := &fakeModel{reply: constant(`{"intent":"account","confidence":0.8}`)}
	c := newWithModel(t, m, Config{CacheSize: 2})
	in := Input{SessionID: "s1", Turn: 1, Text: "hmm"}
	first := c.Classify(ctx, in)
	assert.False(t, first.Cached)
	second := c.Classify(ctx, in)
	assert.True(t, second.Cached)
	second.Cached = false
	assert.Equal(t, first, second)
	assert.EqualValues(t, 1, m.calls.Load(), "a cached turn is not classified again")

	// The same turn with another text (a turn number reused) misses.
	c.Classify(ctx, Input{SessionID: "s1", Turn: 1, Text: "hmm?"})
	assert.EqualValues(t, 2, m.calls.Load())
	// Another session, another turn: misses.
	c.Classify(ctx, Input{SessionID: "s2", Turn: 1, Text: "hmm"})
	c.Classify(ctx, Input{SessionID: "s1", Turn: 2, Text: "hmm"})
	assert.EqualValues(t, 4, m.calls.Load())
	// The cache is bounded: s1/1 was evicted by the two newer turns.
	c.Classify(ctx, Input{SessionID: "s1", Turn: 1, Text: "hmm?"})
	assert.EqualValues(t, 5, m.calls.Load())
	// No session: never cached.
	c.Classify(ctx, Input{Text: "hmm"})
	c.Classify(ctx, Input{Text: "hmm"})
	assert.EqualValues(t, 7, m.calls.Load())
}

func TestCacheDisabled(t *testing.T) {
	m := &fakeModel{reply: constant(`{"intent":"account"}`)}
	c := newWithModel(t, m, Config{CacheSize: -1})
	in := Input{SessionID: "s1", Turn: 1, Text: "hmm"}
	c.Classify(context.Background(), in)
	assert.False(t, c.Classify(context.Background(), in).Cached)
	assert.EqualValues(t, 2, m.calls.Load())
}

// TestConcurrentTurnSharesModelCall: the steps of one turn that classify
// at once make one model call between them.
func TestConcurrentTurnSharesModelCall(t *testing.T) {
	m := &fakeModel{reply: constant(`{"intent":"account"}`), delay: 50 * time.Millisecond}
	c := newWithModel(t, m, Config{})
	var wg sync.WaitGroup
	results := make([]Result, 8)
	for i := range results {
		wg.Go(func() {
			results[i] = c.Classify(context.Background(), Input{SessionID: "s", Turn: 4, Text: "hmm"})
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, m.calls.Load())
	for _, r := range results {
		assert.Equal(t, Account, r.Intent)
	}
}

// TestAccuracyWithModelStage runs the labelled set through Classify with a
// model that knows the labels: the unsure messages, and only they, go to
// the model, whose answers are taken.
func TestAccuracyWithModelStage(t *testing.T) {
	samples := loadSamples(t, "labelled.tsv")
	truth := map[string][]string{}
	for _, s := range samples {
		truth[s.text] = s.labels
	}
	m := &fakeModel{reply: func(text string) (string, error) {
		l := truth[text]
		sec := ""
		if len(l) > 1 {
			sec = l[1]
		}
		return `{"intent":"` + l[0] + `","secondary":"` + sec + `","confidence":0.9}`, nil
	}}
	c := newWithModel(t, m, Config{})
	rules := measure(c, samples)
	ok := 0
	for i, s := range samples {
		res := c.Classify(context.Background(), Input{SessionID: "acc", Turn: i, Text: s.text})
		if correct(res, s.labels) {
			ok++
		}
	}
	assert.EqualValues(t, rules.n-rules.confident, m.calls.Load(), "exactly the unsure messages go to the model")
	assert.GreaterOrEqual(t, ok, rules.ok)
	t.Logf("rules alone %d/%d; with the model stage %d/%d (%d model calls)", rules.ok, rules.n, ok, len(samples), m.calls.Load())
}

func TestParseReply(t *testing.T) {
	c := newBuiltin(t)
	tests := []struct {
		give       string
		wantIntent string
		wantErr    bool
	}{
		{give: `{"intent":"order_status"}`, wantIntent: OrderStatus},
		{give: `{"intent":" ORDER_STATUS "}`, wantIntent: OrderStatus},
		{give: `Sure! {"intent":"account"} hope this helps`, wantIntent: Account},
		{give: `{"intent":"nope"} but maybe complaint`, wantIntent: Complaint},
		{give: `the answer: small_talk or other`, wantErr: true},
		{give: "`small_talk`", wantIntent: SmallTalk},
		{give: "I'm sorry, I can't look that up right now. Is there anything other I can help you with?", wantErr: true},
		{give: `not_small_talk`, wantErr: true},
		{give: `{"intent":`, wantErr: true},
		{give: `{"intent": 5}`, wantErr: true},
		{give: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			res, err := c.parseReply(tt.give)
			if tt.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantIntent, res.Intent)
		})
	}
}
