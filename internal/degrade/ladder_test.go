package degrade

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/rules"
)

// fakeRungs records the rungs a climb calls and answers or fails as told.
type fakeRungs struct {
	mu     sync.Mutex
	calls  []string
	answer map[Kind]string // a kind absent here fails
	reqs   []HandoffRequest
	langs  []string
}

var errFake = errors.New("fake rung failure")

func (f *fakeRungs) record(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
}

func (f *fakeRungs) rungs() Rungs {
	return Rungs{
		Model: func(_ context.Context, model string) (string, error) {
			f.record("model:" + model)
			if a, ok := f.answer[KindModel]; ok {
				return a, nil
			}
			return "", errFake
		},
		Rules: func(_ context.Context, r *rules.Rules, lang string) (string, error) {
			f.record("rules")
			f.langs = append(f.langs, lang)
			if r == nil {
				return "", errors.New("no rules given")
			}
			if a, ok := f.answer[KindRules]; ok {
				return a, nil
			}
			return "", &rules.NoAnswer{Reason: rules.ReasonNoMatch}
		},
		Handoff: func(_ context.Context, req HandoffRequest) (string, error) {
			f.record("handoff")
			f.reqs = append(f.reqs, req)
			if a, ok := f.answer[KindHandoff]; ok {
				return a, nil
			}
			return "", errFake
		},
	}
}

func attemptNames(o Outcome) []string {
	var names []string
	for _, a := range o.Attempts {
		n := string(a.Rung)
		if a.Model != "" {
			n += ":" + a.Model
		}
		names = append(names, n)
	}
	return names
}

func defaultLadder(t testing.TB) *Ladder {
	t.Helper()
	l, err := New(Config{}, Options{Agent: "support", SmallModel: "small"})
	require.NoError(t, err)
	return l
}

// TestClimbEveryTrigger drives every trigger through the default ladder
// with every rung failing, for a question that is not about an order and
// a handoff service configured: the rungs tried, in order, and the
// message that ends the climb.
func TestClimbEveryTrigger(t *testing.T) {
	l := defaultLadder(t)
	tests := []struct {
		give     Trigger
		want     []string
		wantText string
	}{
		{NoHealthyEndpoint, []string{"model:small", "rules", "handoff", "message"}, Apologies["en"]},
		{ModelError, []string{"model:small", "rules", "handoff", "message"}, Apologies["en"]},
		{Deadline, []string{"rules", "message"}, Apologies["en"]},
		{BudgetExhausted, []string{"rules", "message"}, Apologies["en"]},
		{ToolBreakerOpen, []string{"rules", "handoff", "message"}, Apologies["en"]},
		{ToolBudgetSpent, []string{"handoff", "message"}, Apologies["en"]},
		{Shed, []string{"rules", "message"}, Apologies["en"]},
		{PromptFilterBlock, []string{"message"}, Refusals["en"]},
		{OutputCheckFailed, []string{"rules", "message"}, Apologies["en"]},
		{Trigger("not_a_trigger"), []string{"message"}, Apologies["en"]},
	}
	require.Len(t, Triggers, 9, "a new trigger needs a row here")
	for _, tt := range tests {
		t.Run(string(tt.give), func(t *testing.T) {
			f := &fakeRungs{}
			s := Situation{Trigger: tt.give, Intent: "complaint", Message: "My parcel arrived damaged and I want to complain", Tier: "vip", Handoff: true}
			got := l.Climb(context.Background(), s, f.rungs())
			assert.Equal(t, tt.want, attemptNames(got))
			assert.Equal(t, tt.wantText, got.Text)
			assert.Equal(t, StatusDegraded, got.Status)
			assert.Equal(t, tt.give, got.Reason)
			assert.Equal(t, KindMessage, got.Rung)
			assert.Equal(t, "en", got.Lang)
			plan := l.Plan(&s)
			assert.Len(t, plan, len(tt.want), "Plan lists what a failing climb tries")
		})
	}
}

// TestClimbAnswers checks which rung answers and the status it gives.
func TestClimbAnswers(t *testing.T) {
	l := defaultLadder(t)
	tests := []struct {
		name       string
		give       Trigger
		answers    map[Kind]string
		wantRung   Kind
		wantStatus string
		wantModel  string
		wantText   string
		wantTried  []string
	}{
		{"small model answers", ModelError, map[Kind]string{KindModel: "Your order is on its way.", KindRules: "r"},
			KindModel, StatusDegraded, "small", "Your order is on its way.", []string{"model:small"}},
		{"rules answer after the model", NoHealthyEndpoint, map[Kind]string{KindRules: " Your order 100123 is in transit. "},
			KindRules, StatusDegraded, "", "Your order 100123 is in transit.", []string{"model:small", "rules"}},
		{"handoff answers", ModelError, map[Kind]string{KindHandoff: "Ticket ho_1 filed."},
			KindHandoff, StatusHandedOff, "", "Ticket ho_1 filed.", []string{"model:small", "rules", "handoff"}},
		{"blank answers do not count", Shed, map[Kind]string{KindRules: "  \n"},
			KindMessage, StatusDegraded, "", Apologies["en"], []string{"rules", "message"}},
		{"shed never asks a model", Shed, map[Kind]string{KindModel: "m", KindRules: "from rules"},
			KindRules, StatusDegraded, "", "from rules", []string{"rules"}},
		{"tool budget spent hands off", ToolBudgetSpent, map[Kind]string{KindRules: "r", KindHandoff: "h"},
			KindHandoff, StatusHandedOff, "", "h", []string{"handoff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeRungs{answer: tt.answers}
			got := l.Climb(context.Background(), Situation{Trigger: tt.give, Intent: "other", Handoff: true}, f.rungs())
			assert.Equal(t, tt.wantRung, got.Rung)
			assert.Equal(t, tt.wantStatus, got.Status)
			assert.Equal(t, tt.wantModel, got.Model)
			assert.Equal(t, tt.wantText, got.Text)
			assert.Equal(t, tt.wantTried, attemptNames(got))
			last := got.Attempts[len(got.Attempts)-1]
			assert.Equal(t, OutcomeAnswered, last.Outcome)
			assert.NoError(t, last.Err)
		})
	}
}

// TestClimbSituation checks what passes rungs by: order intents, no
// handoff service, the model that failed, missing rung functions, an
// ended context, and the handoff request's priority and language.
func TestClimbSituation(t *testing.T) {
	l := defaultLadder(t)
	tests := []struct {
		name  string
		give  Situation
		rungs func(*fakeRungs) Rungs
		ctx   func() (context.Context, context.CancelFunc)
		want  []string
	}{
		{"order questions are not handed off", Situation{Trigger: ModelError, Intent: "order_status", Handoff: true},
			(*fakeRungs).rungs, nil, []string{"model:small", "rules", "message"}},
		{"tracking questions are not handed off", Situation{Trigger: ToolBreakerOpen, Intent: "shipment_tracking", Handoff: true},
			(*fakeRungs).rungs, nil, []string{"rules", "message"}},
		{"no intent is handed off", Situation{Trigger: ModelError, Handoff: true},
			(*fakeRungs).rungs, nil, []string{"model:small", "rules", "handoff", "message"}},
		{"no handoff service", Situation{Trigger: ModelError, Intent: "complaint"},
			(*fakeRungs).rungs, nil, []string{"model:small", "rules", "message"}},
		{"the failed model is not asked again", Situation{Trigger: ModelError, Intent: "complaint", Handoff: true, FailedModel: "small"},
			(*fakeRungs).rungs, nil, []string{"rules", "handoff", "message"}},
		{"nil rung functions are passed by", Situation{Trigger: NoHealthyEndpoint, Intent: "complaint", Handoff: true},
			func(f *fakeRungs) Rungs { r := f.rungs(); r.Model, r.Handoff = nil, nil; return r }, nil, []string{"rules", "message"}},
		{"an ended context skips to the message", Situation{Trigger: ModelError, Intent: "complaint", Handoff: true},
			(*fakeRungs).rungs, func() (context.Context, context.CancelFunc) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return ctx, cancel
			}, []string{"model:small", "rules", "handoff", "message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx != nil {
				var cancel context.CancelFunc
				ctx, cancel = tt.ctx()
				defer cancel()
			}
			f := &fakeRungs{}
			got := l.Climb(ctx, tt.give, tt.rungs(f))
			assert.Equal(t, tt.want, attemptNames(got))
			assert.Equal(t, KindMessage, got.Rung)
			assert.NotEmpty(t, got.Text)
			if tt.ctx != nil {
				assert.Empty(t, f.calls, "no rung runs once the context has ended")
				for _, a := range got.Attempts[:len(got.Attempts)-1] {
					assert.Equal(t, OutcomeSkipped, a.Outcome)
					assert.ErrorIs(t, a.Err, context.Canceled)
				}
			}
		})
	}
}

func TestClimbHandoffRequestAndLanguage(t *testing.T) {
	l := defaultLadder(t)
	tests := []struct {
		give         Situation
		wantPriority int
		wantLang     string
	}{
		{Situation{Tier: "vip", Message: "Mein Paket ist beschädigt angekommen und ich möchte mich beschweren"}, 100, "de"},
		{Situation{Tier: "free", Message: "Mon colis est arrivé abîmé, je ne suis pas content"}, 10, "fr"},
		{Situation{Tier: "gold", Message: "ok", DefaultLang: "nl-BE"}, DefaultPriority, "nl"},
		{Situation{Tier: "standard", Message: "Where is my parcel?", Lang: "pt-BR"}, 50, "pt"},
	}
	for _, tt := range tests {
		t.Run(tt.wantLang, func(t *testing.T) {
			s := tt.give
			s.Trigger, s.Intent, s.Handoff = ModelError, "complaint", true
			f := &fakeRungs{}
			got := l.Climb(context.Background(), s, f.rungs())
			require.Len(t, f.reqs, 1)
			assert.Equal(t, HandoffRequest{Reason: "model_error", Priority: tt.wantPriority, Lang: tt.wantLang}, f.reqs[0])
			assert.Equal(t, []string{tt.wantLang}, f.langs, "the rules rung gets the language")
			assert.Equal(t, Apologies[tt.wantLang], got.Text)
			assert.Equal(t, tt.wantLang, got.Lang)
		})
	}
}

// TestClimbRungTimeout checks that a rung that does not answer within its
// timeout moves the climb on.
func TestClimbRungTimeout(t *testing.T) {
	l, err := New(Config{Rungs: []Rung{
		{Kind: KindRules, Timeout: 20 * time.Millisecond},
		{Kind: KindMessage, Text: map[string]string{"en": "Please try again later."}},
	}}, Options{})
	require.NoError(t, err)
	start := time.Now()
	got := l.Climb(context.Background(), Situation{Trigger: Deadline}, Rungs{
		Rules: func(ctx context.Context, _ *rules.Rules, _ string) (string, error) {
			<-ctx.Done()
			return "", ctx.Err()
		},
	})
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, "Please try again later.", got.Text)
	require.Len(t, got.Attempts, 2)
	assert.ErrorIs(t, got.Attempts[0].Err, context.DeadlineExceeded)
}

func TestClimbRecoversPanics(t *testing.T) {
	l := defaultLadder(t)
	got := l.Climb(context.Background(), Situation{Trigger: ModelError, Handoff: true}, Rungs{
		Model: func(context.Context, string) (string, error) { panic("boom") },
		Rules: func(context.Context, *rules.Rules, string) (string, error) {
			var m map[string]int
			m["x"]++
			return "", nil
		},
		Handoff: func(context.Context, HandoffRequest) (string, error) { return "handed off", nil },
	})
	assert.Equal(t, "handed off", got.Text)
	assert.Equal(t, StatusHandedOff, got.Status)
	require.Len(t, got.Attempts, 3)
	assert.ErrorIs(t, got.Attempts[0].Err, ErrRungPanicked)
	assert.ErrorIs(t, got.Attempts[1].Err, ErrRungPanicked)
}

// TestNextConfigured checks Next on a configured ladder: intent filters,
// the final message, and stepping past the end.
func TestNextConfigured(t *testing.T) {
	l, err := New(Config{Rungs: []Rung{
		{Kind: KindRules, Intents: []string{"order_status"}},
		{Kind: KindModel, Model: "backup", Triggers: []Trigger{ModelError}},
		{Kind: KindMessage, Triggers: []Trigger{ModelError}, Text: map[string]string{"en": "Model trouble.", "de": "Modellprobleme."}},
	}}, Options{})
	require.NoError(t, err)
	tests := []struct {
		give Situation
		want []int
	}{
		{Situation{Trigger: ModelError, Intent: "order_status"}, []int{0, 1, 2}},
		{Situation{Trigger: ModelError, Intent: "return_refund"}, []int{1, 2}},
		{Situation{Trigger: ModelError, FailedModel: "backup"}, []int{2}},
		{Situation{Trigger: Shed, Intent: "order_status"}, []int{0, 3}},
		{Situation{Trigger: Shed}, []int{3}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.give), func(t *testing.T) {
			var got []int
			for _, st := range l.Plan(&tt.give) {
				got = append(got, st.Index)
			}
			assert.Equal(t, tt.want, got)
		})
	}
	assert.Equal(t, 3, l.Final())
	final := l.Next(&Situation{Trigger: ModelError}, 99)
	assert.Equal(t, l.Final(), final.Index)
	assert.Equal(t, Apologies["it"], final.Text("it"))
	custom := l.Next(&Situation{Trigger: ModelError, FailedModel: "backup"}, -1)
	assert.Equal(t, "Modellprobleme.", custom.Text("de"))
	assert.Equal(t, Apologies["fr"], custom.Text("fr"), "the preset fills languages the rung has no text in")
	assert.Equal(t, "Model trouble.", custom.Text("sv"), "the rung's English for a language nobody has")
}

func TestTriggerOf(t *testing.T) {
	tests := []struct {
		give   error
		want   Trigger
		wantOK bool
	}{
		{nil, "", false},
		{context.Canceled, "", false},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), Deadline, true},
		{&llmError503, NoHealthyEndpoint, true},
		{&llmErrorServer, ModelError, true},
		{&llm.Error{Kind: llm.KindRateLimited}, NoHealthyEndpoint, true},
		{&llm.Error{Kind: llm.KindUnavailable, Err: context.DeadlineExceeded}, Deadline, true},
		{&llm.Error{Kind: llm.KindCanceled}, "", false},
		{errors.New("anything"), ModelError, true},
	}
	for _, tt := range tests {
		got, ok := TriggerOf(tt.give)
		assert.Equal(t, tt.want, got, "%v", tt.give)
		assert.Equal(t, tt.wantOK, ok, "%v", tt.give)
	}
}

// TestClimbModelAnswerFailingChecks: a model rung whose answer fails the
// output checks moves the climb on, as the ModelRung contract says.
func TestClimbModelAnswerFailingChecks(t *testing.T) {
	chk, err := NewChecker(Checks{ForeignData: &ForeignDataCheck{}}, CheckerOptions{})
	require.NoError(t, err)
	l := defaultLadder(t)
	const msg = "where is my order 100123?"
	got := l.Climb(context.Background(), Situation{Trigger: ModelError, Intent: "order_status", Message: msg}, Rungs{
		Model: func(context.Context, string) (string, error) {
			answer := "Order 100123 is in transit; order 100999 of jane@example.com too."
			if err := chk.Check(&CheckInput{Answer: answer, Message: msg}); err != nil {
				return "", err
			}
			return answer, nil
		},
		Rules: func(context.Context, *rules.Rules, string) (string, error) {
			return "Your order 100123 is in transit.", nil
		},
	})
	assert.Equal(t, KindRules, got.Rung)
	require.Len(t, got.Attempts, 2)
	var ce *CheckError
	require.ErrorAs(t, got.Attempts[0].Err, &ce)
	assert.Equal(t, ReasonForeignEmail, ce.Reason, "e-mail addresses are checked first")
}

func TestNilLadderApologises(t *testing.T) {
	var l *Ladder
	got := l.Climb(context.Background(), Situation{Trigger: ModelError, Message: "Wo ist meine Bestellung 100123?"}, Rungs{})
	assert.Equal(t, Apologies["de"], got.Text)
	assert.Equal(t, StatusDegraded, got.Status)
	assert.Equal(t, KindMessage, got.Rung)
}
