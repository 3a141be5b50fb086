package tool

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// fakeTool is a Go tool whose behaviour a test sets; it validates its
// arguments against orderParams-like schemas when it has one.
type fakeTool struct {
	name   string
	schema *schema
	calls  atomic.Int32
	fn     func(ctx context.Context, args json.RawMessage) (Result, error)
}

func newFake(t testing.TB, name, params string, fn func(context.Context, json.RawMessage) (Result, error)) *fakeTool {
	t.Helper()
	f := &fakeTool{name: name, fn: fn}
	if params != "" {
		s, err := compileSchema(name, json.RawMessage(params))
		require.NoError(t, err)
		f.schema = s
	}
	return f
}

func (f *fakeTool) Decl() llm.Tool {
	return decl(f.name, "fake "+f.name, json.RawMessage(`{"type":"object"}`))
}

func (f *fakeTool) Call(ctx context.Context, args json.RawMessage) (Result, error) {
	if f.schema != nil {
		if _, err := f.schema.parse(args); err != nil {
			return Result{}, err
		}
	}
	f.calls.Add(1)
	return f.fn(ctx, args)
}

// echoArgs answers with the arguments it got.
func echoArgs(_ context.Context, args json.RawMessage) (Result, error) {
	return Result{Content: append([]byte(nil), args...)}, nil
}

// events collects a run's events.
type events struct {
	mu   sync.Mutex
	list []Event
}

func (e *events) on(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.list = append(e.list, ev)
}

// outcomes returns the outcome of each call by id.
func (e *events) outcomes() map[string]Outcome {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[string]Outcome{}
	for _, ev := range e.list {
		if f, ok := ev.(CallFinished); ok {
			m[f.ID] = f.Outcome
		}
	}
	return m
}

func TestRunnerBudget(t *testing.T) {
	f := newFake(t, "lookup", "", echoArgs)
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f}})
	ru := reg.NewRunner([]string{"lookup"}, Limits{MaxCalls: 8})

	var ev events
	batch := func(from, n int) []llm.ToolCall {
		var calls []llm.ToolCall
		for i := from; i < from+n; i++ {
			calls = append(calls, toolCall(fmt.Sprintf("c%d", i), "lookup", fmt.Sprintf(`{"n":%d}`, i)))
		}
		return calls
	}
	first := ru.Execute(context.Background(), batch(0, 6), ev.on)
	require.Len(t, first, 6)
	assert.Equal(t, 2, ru.Remaining())
	tools, notes := ru.Offer()
	assert.Len(t, tools, 1)
	assert.Empty(t, notes)

	second := ru.Execute(context.Background(), batch(6, 4), ev.on)
	require.Len(t, second, 4)
	assert.Equal(t, int32(8), f.calls.Load(), "exactly MaxCalls calls executed")
	got := ev.outcomes()
	for i := range 10 {
		want := OutcomeOK
		if i >= 8 {
			want = OutcomeBudget
		}
		assert.Equal(t, want, got[fmt.Sprintf("c%d", i)], "call %d", i)
	}
	e := decodeEnvelope(t, second[3])
	assert.True(t, e.IsError)
	assert.Contains(t, errorText(e), "budget of this request is spent")

	assert.Equal(t, Stats{Requested: 10, Executed: 8, Refused: 2, BudgetExhausted: true}, ru.Stats())
	assert.Zero(t, ru.Remaining())
	tools, notes = ru.Offer()
	assert.Empty(t, tools)
	require.Len(t, notes, 1)
	assert.Contains(t, notes[0], "budget")
}

// TestRunnerLocalToolsShareTheBudget: a run's own tools (such as the
// engine's user-state tool) are offered beside the registry's and every
// call of either counts against the one budget.
func TestRunnerLocalToolsShareTheBudget(t *testing.T) {
	shared := newFake(t, "lookup", "", echoArgs)
	local := newFake(t, "remember", "", echoArgs)
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{shared}})
	ru := reg.NewRunner([]string{"lookup"}, Limits{MaxCalls: 3}, local)

	tools, _ := ru.Offer()
	var names []string
	for _, d := range tools {
		names = append(names, d.Function.Name)
	}
	assert.ElementsMatch(t, []string{"lookup", "remember"}, names)

	var ev events
	ru.Execute(context.Background(), []llm.ToolCall{
		toolCall("a", "remember", `{"k":1}`), toolCall("b", "lookup", `{"n":1}`),
		toolCall("c", "remember", `{"k":2}`), toolCall("d", "remember", `{"k":3}`),
	}, ev.on)
	assert.Equal(t, map[string]Outcome{"a": OutcomeOK, "b": OutcomeOK, "c": OutcomeOK, "d": OutcomeBudget}, ev.outcomes())
	assert.Equal(t, int32(2), local.calls.Load(), "local calls executed within the budget")
	assert.Equal(t, int32(3), local.calls.Load()+shared.calls.Load(), "three calls in all, the budget")
	_, ok := reg.Get("remember")
	assert.False(t, ok, "a local tool is the run's, not the registry's")
}

func TestRunnerCacheCountsAgainstBudget(t *testing.T) {
	f := newFake(t, "lookup", "", func(context.Context, json.RawMessage) (Result, error) {
		return Result{Content: []byte(`{"status":"shipped"}`)}, nil
	})
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f}})
	ru := reg.NewRunner([]string{"lookup"}, Limits{MaxCalls: 5})
	var ev events

	// A wandering model: the same call again and again, spelled
	// differently; and two identical calls in one turn.
	ru.Execute(context.Background(), []llm.ToolCall{toolCall("a", "lookup", `{"id":"1","x":[1, 2]}`)}, ev.on)
	msgs := ru.Execute(context.Background(), []llm.ToolCall{
		toolCall("b", "lookup", `{ "x" : [1,2], "id" : "1" }`),
		toolCall("c", "lookup", `{"id":"2"}`),
		toolCall("d", "lookup", `{"id":"2"}`),
	}, ev.on)
	ru.Execute(context.Background(), []llm.ToolCall{toolCall("e", "lookup", `{"id":"1","x":[1,2]}`), toolCall("f", "lookup", `{"id":"1","x":[1,2]}`)}, ev.on)

	assert.Equal(t, int32(2), f.calls.Load(), "only distinct calls reach the tool")
	assert.Equal(t, map[string]Outcome{"a": OutcomeOK, "b": OutcomeCached, "c": OutcomeOK, "d": OutcomeCached, "e": OutcomeCached, "f": OutcomeBudget}, ev.outcomes())
	assert.Equal(t, msgs[1].Content.Text, msgs[2].Content.Text, "a cached answer is the same message")
	assert.Equal(t, Stats{Requested: 6, Executed: 2, Cached: 3, Refused: 1, BudgetExhausted: true}, ru.Stats())
}

func TestRunnerDomainErrorsCachedFailuresNot(t *testing.T) {
	var n atomic.Int32
	f := newFake(t, "lookup", "", func(context.Context, json.RawMessage) (Result, error) {
		if n.Add(1) == 1 {
			return Result{}, errors.New("boom")
		}
		return Result{Content: []byte(`{"error":"not found"}`), IsError: true}, nil
	})
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f}})
	ru := reg.NewRunner([]string{"lookup"}, Limits{})
	var ev events
	for _, id := range []string{"a", "b", "c"} {
		ru.Execute(context.Background(), []llm.ToolCall{toolCall(id, "lookup", `{"id":"9"}`)}, ev.on)
	}
	assert.Equal(t, map[string]Outcome{"a": OutcomeFailed, "b": OutcomeError, "c": OutcomeCached}, ev.outcomes())
	assert.Equal(t, int32(2), f.calls.Load())
}

func TestRunnerOneMessagePerCallInOrder(t *testing.T) {
	u := newUpstream(t, orderAPI)
	failing := newFake(t, "flaky", "", func(context.Context, json.RawMessage) (Result, error) {
		return Result{}, errors.New("HTTP 503 Service Unavailable")
	})
	slow := newFake(t, "slow", "", func(ctx context.Context, _ json.RawMessage) (Result, error) {
		return Result{}, fmt.Errorf("%w after 1ms", ErrTimeout)
	})
	panicky := newFake(t, "panicky", "", func(context.Context, json.RawMessage) (Result, error) { panic("nil map") })
	broken := newFake(t, "broken", "", func(context.Context, json.RawMessage) (Result, error) {
		return Result{}, errors.New("down")
	})
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{failing, slow, panicky, broken},
		HTTP:     []HTTPConfig{{Name: "get_order", URL: u.URL + "/orders/{order_id}", Parameters: json.RawMessage(orderParams)}},
		Breakers: map[string]BreakerConfig{"broken": {Failures: 1, OpenFor: time.Hour}}})
	// Open broken's breaker.
	pre := reg.NewRunner([]string{"broken"}, Limits{})
	pre.Execute(context.Background(), []llm.ToolCall{toolCall("x", "broken", `{}`)}, nil)
	require.Equal(t, StateOpen, reg.BreakerState("broken"))

	ru := reg.NewRunner([]string{"get_order", "flaky", "slow", "panicky", "broken"}, Limits{MaxCalls: 12})
	ru.Execute(context.Background(), []llm.ToolCall{toolCall("warm", "get_order", `{"order_id":"7"}`)}, nil)

	tests := []struct {
		id, name, args string
		want           Outcome
		wantIsError    bool
		wantText       string // in the envelope's data
	}{
		{"ok", "get_order", `{"order_id":"100001"}`, OutcomeOK, false, `"status":"shipped"`},
		{"domain", "get_order", `{"order_id":"404"}`, OutcomeError, true, `order not found`},
		{"failed", "flaky", `{}`, OutcomeFailed, true, `the tool failed: HTTP 503`},
		{"invalid", "get_order", `{"order_id":12}`, OutcomeInvalid, true, `got number, want string`},
		{"badjson", "get_order", `{"order_id":`, OutcomeInvalid, true, `not valid JSON`},
		{"notobject", "get_order", `"7"`, OutcomeInvalid, true, `must be a JSON object`},
		{"unknown", "get_weather", `{}`, OutcomeUnknown, true, `unknown tool \"get_weather\"; the tools you can call are: get_order, flaky`},
		{"open", "broken", `{}`, OutcomeBreakerOpen, true, `temporarily unavailable`},
		{"timeout", "slow", `{}`, OutcomeTimeout, true, `did not answer in time`},
		{"panic", "panicky", `{}`, OutcomeFailed, true, `panicked`},
		{"cached", "get_order", `{"order_id":"7"}`, OutcomeCached, false, `"order_id":"7"`},
		{"budget", "get_order", `{"order_id":"8"}`, OutcomeBudget, true, `budget`},
	}
	calls := make([]llm.ToolCall, len(tests))
	for i, tt := range tests {
		calls[i] = toolCall(tt.id, tt.name, tt.args)
	}
	var ev events
	msgs := ru.Execute(context.Background(), calls, ev.on)
	require.Len(t, msgs, len(tests))
	outcomes := ev.outcomes()
	for i, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			m := msgs[i]
			assert.Equal(t, llm.RoleTool, m.Role)
			assert.Equal(t, tt.id, m.ToolCallID)
			e := decodeEnvelope(t, m)
			assert.Equal(t, tt.name, e.Tool)
			assert.Equal(t, tt.wantIsError, e.IsError)
			assert.Contains(t, string(e.Data), tt.wantText)
			assert.Equal(t, tt.want, outcomes[tt.id])
		})
	}
	assert.Equal(t, StateClosed, reg.BreakerState("get_order"), "domain errors and invalid arguments are not failures")
}

func TestRunnerEnvelopeAndTruncation(t *testing.T) {
	big := strings.Repeat("é", 20) // 40 bytes
	f := newFake(t, "t", "", func(_ context.Context, args json.RawMessage) (Result, error) {
		if strings.Contains(string(args), "big") {
			return Result{Content: []byte(big)}, nil
		}
		return Result{Content: []byte(`{"items": [ {"sku":"AB-12"} ] }`)}, nil
	})
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f}})
	ru := reg.NewRunner([]string{"t"}, Limits{MaxResultBytes: 33})
	var ev events
	msgs := ru.Execute(context.Background(), []llm.ToolCall{toolCall("j", "t", `{}`), toolCall("b", "t", `{"big":true}`)}, ev.on)

	e := decodeEnvelope(t, msgs[0])
	assert.Equal(t, `{"items":[{"sku":"AB-12"}]}`, string(e.Data), "JSON results are embedded as JSON")
	assert.False(t, e.Truncated)

	e = decodeEnvelope(t, msgs[1])
	assert.True(t, e.Truncated)
	var s string
	require.NoError(t, json.Unmarshal(e.Data, &s))
	assert.Equal(t, strings.Repeat("é", 16), s, "cut at the last whole character within the cap")

	for _, x := range ev.list {
		if fin, ok := x.(CallFinished); ok {
			assert.True(t, json.Valid(fin.Result))
		}
	}
}

func TestRunnerEvents(t *testing.T) {
	f := newFake(t, "t", "", echoArgs)
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f}})
	ru := reg.NewRunner([]string{"t"}, Limits{})
	var ev events
	ru.Execute(context.Background(), []llm.ToolCall{toolCall("1", "t", `{ "b":1, "a":2 }`), toolCall("2", "nope", `not json`)}, ev.on)
	require.Len(t, ev.list, 4)
	var started []CallStarted
	var finished []CallFinished
	for _, x := range ev.list {
		switch x := x.(type) {
		case CallStarted:
			started = append(started, x)
		case CallFinished:
			finished = append(finished, x)
		}
	}
	require.Len(t, started, 2)
	require.Len(t, finished, 2)
	byID := map[string]CallStarted{started[0].ID: started[0], started[1].ID: started[1]}
	assert.Equal(t, `{"a":2,"b":1}`, string(byID["1"].Args), "arguments are canonicalised")
	assert.Equal(t, `"not json"`, string(byID["2"].Args), "unparsable arguments are given as a string")
	for _, fin := range finished {
		if fin.ID == "1" {
			assert.Equal(t, OutcomeOK, fin.Outcome)
			assert.JSONEq(t, `{"a":2,"b":1}`, string(fin.Result))
		}
	}
}

func TestRunnerParallelBound(t *testing.T) {
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		orderAPI(w, r)
	})
	reg := newRegistry(t, RegistryConfig{HTTP: []HTTPConfig{{Name: "get_order", URL: u.URL + "/orders/{order_id}", Parameters: json.RawMessage(orderParams)}}})
	ru := reg.NewRunner([]string{"get_order"}, Limits{Parallel: 2})
	var calls []llm.ToolCall
	for i := range 5 {
		calls = append(calls, toolCall(fmt.Sprint(i), "get_order", fmt.Sprintf(`{"order_id":"%d"}`, 100+i)))
	}
	done := make(chan []llm.Message)
	go func() { done <- ru.Execute(context.Background(), calls, nil) }()
	require.Eventually(t, func() bool { return u.active.Load() == 2 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond) // room for a third call to arrive, if the bound leaked
	assert.Equal(t, int32(2), u.active.Load())
	close(release)
	msgs := <-done
	assert.Equal(t, int32(2), u.maxSeen.Load())
	assert.Equal(t, int32(5), u.hits.Load())
	for i, m := range msgs {
		assert.Equal(t, fmt.Sprint(i), m.ToolCallID)
		assert.Contains(t, m.Content.Text, fmt.Sprintf(`"order_id":"%d"`, 100+i))
	}
}

func TestRunnerBreakerHidesAndRecovers(t *testing.T) {
	var healthy atomic.Bool
	f := newFake(t, "track_shipment", "", func(context.Context, json.RawMessage) (Result, error) {
		if healthy.Load() {
			return Result{Content: []byte(`{"status":"in transit"}`)}, nil
		}
		return Result{}, errors.New("HTTP 502 Bad Gateway")
	})
	other := newFake(t, "get_order", "", echoArgs)
	obs := &recorder{}
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f, other}, Observer: obs,
		Breaker: BreakerConfig{Failures: 3, OpenFor: 100 * time.Millisecond}})

	// Failures across runs share the breaker.
	for i := range 3 {
		ru := reg.NewRunner([]string{"track_shipment"}, Limits{})
		ru.Execute(context.Background(), []llm.ToolCall{toolCall("c", "track_shipment", fmt.Sprintf(`{"i":%d}`, i))}, nil)
	}
	require.Equal(t, StateOpen, reg.BreakerState("track_shipment"))

	ru := reg.NewRunner([]string{"get_order", "track_shipment"}, Limits{})
	tools, notes := ru.Offer()
	require.Len(t, tools, 1)
	assert.Equal(t, "get_order", tools[0].Function.Name)
	assert.Equal(t, []string{"The tool track_shipment is temporarily unavailable; do not try to call it."}, notes)
	var ev events
	ru.Execute(context.Background(), []llm.ToolCall{toolCall("x", "track_shipment", `{}`)}, ev.on)
	assert.Equal(t, OutcomeBreakerOpen, ev.outcomes()["x"])
	assert.Equal(t, int32(3), f.calls.Load(), "an open breaker lets no call through")

	healthy.Store(true)
	require.Eventually(t, func() bool {
		tools, notes := ru.Offer()
		return len(tools) == 2 && len(notes) == 0
	}, 5*time.Second, 5*time.Millisecond, "offered again once the open period ends")
	ru.Execute(context.Background(), []llm.ToolCall{toolCall("y", "track_shipment", `{"probe":1}`)}, ev.on)
	assert.Equal(t, OutcomeOK, ev.outcomes()["y"])
	assert.Equal(t, StateClosed, reg.BreakerState("track_shipment"))
	_, states := obs.snapshot()
	assert.Equal(t, []string{"track_shipment/open", "track_shipment/half_open", "track_shipment/closed"}, states)
	calls, _ := obs.snapshot()
	assert.Contains(t, calls, "track_shipment/breaker_open")
	assert.Contains(t, calls, "track_shipment/failed")
}

func TestRunnerCancelledRunSparesBreaker(t *testing.T) {
	f := newFake(t, "wait", "", func(ctx context.Context, _ json.RawMessage) (Result, error) {
		<-ctx.Done()
		return Result{}, ctx.Err()
	})
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f}, Breaker: BreakerConfig{Failures: 1}})
	ru := reg.NewRunner([]string{"wait"}, Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var ev events
	msgs := ru.Execute(ctx, []llm.ToolCall{toolCall("a", "wait", `{}`)}, ev.on)
	assert.Equal(t, OutcomeTimeout, ev.outcomes()["a"])
	assert.Contains(t, errorText(decodeEnvelope(t, msgs[0])), "ran out of time")
	assert.Equal(t, StateClosed, reg.BreakerState("wait"), "the run's deadline is not the tool's failure")
}

func TestRunnerUnresolvedToolHidden(t *testing.T) {
	reg := newRegistry(t, RegistryConfig{})
	ru := reg.NewRunner([]string{"shop_get_order", EscalateName, EscalateName}, Limits{})
	tools, notes := ru.Offer()
	require.Len(t, tools, 1)
	assert.Equal(t, EscalateName, tools[0].Function.Name)
	assert.Equal(t, []string{"The tool shop_get_order is temporarily unavailable; do not try to call it."}, notes)
	var ev events
	ru.Execute(context.Background(), []llm.ToolCall{toolCall("a", "shop_get_order", `{}`)}, ev.on)
	assert.Equal(t, OutcomeFailed, ev.outcomes()["a"])
}

func TestRunnerEmpty(t *testing.T) {
	reg := newRegistry(t, RegistryConfig{})
	ru := reg.NewRunner(nil, Limits{})
	assert.Empty(t, ru.Execute(context.Background(), nil, nil))
	tools, notes := ru.Offer()
	assert.Empty(t, tools)
	assert.Empty(t, notes)
	assert.Equal(t, DefaultMaxCalls, ru.Remaining())
}

// A scripted wander loop: whatever the model does, at most MaxCalls calls
// run, and the model is then offered no tools.
func TestRunnerWanderLoopEndsAtBudget(t *testing.T) {
	f := newFake(t, "get_order", "", func(context.Context, json.RawMessage) (Result, error) {
		return Result{Content: []byte(`{"status":"shipped"}`)}, nil
	})
	reg := newRegistry(t, RegistryConfig{Tools: []Tool{f}})
	ru := reg.NewRunner([]string{"get_order"}, Limits{})
	turns := 0
	for ; turns < 40; turns++ {
		tools, _ := ru.Offer()
		if len(tools) == 0 {
			break
		}
		// Two calls per turn: one repeated, one new.
		ru.Execute(context.Background(), []llm.ToolCall{
			toolCall("r", "get_order", `{"order_id":"1"}`),
			toolCall("n", "get_order", fmt.Sprintf(`{"order_id":"%d"}`, turns+2)),
		}, nil)
	}
	st := ru.Stats()
	assert.Equal(t, 4, turns)
	assert.True(t, st.BudgetExhausted)
	assert.Equal(t, DefaultMaxCalls, st.Requested)
	assert.LessOrEqual(t, int(f.calls.Load()), DefaultMaxCalls)
}
