package router

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestNewValidates(t *testing.T) {
	c := &fakeClient{}
	m := []Route{{Model: "m"}}
	tests := []struct {
		name string
		give Config
		ok   bool
	}{
		{"valid", Config{Endpoints: []Endpoint{{Name: "a", Client: c, Models: m}}}, true},
		{"no endpoints", Config{}, false},
		{"empty name", Config{Endpoints: []Endpoint{{Client: c, Models: m}}}, false},
		{"duplicate name", Config{Endpoints: []Endpoint{{Name: "a", Client: c, Models: m}, {Name: "a", Client: c, Models: m}}}, false},
		{"no client", Config{Endpoints: []Endpoint{{Name: "a", Models: m}}}, false},
		{"no routes", Config{Endpoints: []Endpoint{{Name: "a", Client: c}}}, false},
		{"empty model", Config{Endpoints: []Endpoint{{Name: "a", Client: c, Models: []Route{{}}}}}, false},
		{"model twice", Config{Endpoints: []Endpoint{{Name: "a", Client: c, Models: []Route{{Model: "m"}, {Model: "m"}}}}}, false},
		{"negative weight", Config{Endpoints: []Endpoint{{Name: "a", Client: c, Weight: -1, Models: m}}}, false},
		{"negative attempts", Config{Endpoints: []Endpoint{{Name: "a", Client: c, Models: m}}, MaxAttempts: -1}, false},
		{"max below base", Config{Endpoints: []Endpoint{{Name: "a", Client: c, Models: m}}, Ejection: Ejection{BaseCoolDown: 2 * time.Second, MaxCoolDown: time.Second}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.give)
			if got := err == nil; got != tt.ok {
				t.Fatalf("New error = %v, want ok %v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v does not wrap ErrInvalidConfig", err)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	r, _ := newTestRouter(t, Config{Endpoints: endpoints(&fakeClient{})}, nil)
	got := r.cfg
	if got.MaxAttempts != 3 || got.RetryBudget != (RetryBudget{0.2, 10, 10 * time.Second}) ||
		got.Ejection != (Ejection{1, time.Second, time.Minute}) || got.MinAttemptTime != 20*time.Millisecond ||
		got.EWMAHalfLife != 10*time.Second || got.Endpoints[0].Weight != 1 || got.Endpoints[0].Models[0].Upstream != "m" {
		t.Errorf("normalised config = %+v", got)
	}
}

func TestModels(t *testing.T) {
	c := &fakeClient{}
	r, _ := newTestRouter(t, Config{Endpoints: []Endpoint{
		{Name: "a", Client: c, Models: []Route{{Model: "small"}, {Model: "large"}}},
		{Name: "b", Client: c, Models: []Route{{Model: "large"}, {Model: "embed"}}},
	}}, nil)
	if got, want := r.Models(), []string{"embed", "large", "small"}; !slices.Equal(got, want) {
		t.Errorf("Models() = %v, want %v", got, want)
	}
}

func TestUnknownModel(t *testing.T) {
	c := &fakeClient{}
	r, _ := newTestRouter(t, Config{Endpoints: endpoints(c)}, nil)
	tests := []struct {
		name string
		call func() error
	}{
		{"complete", func() error { _, err := r.Complete(t.Context(), req("nope")); return err }},
		{"stream", func() error { _, err := r.Stream(t.Context(), req("nope")); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e *llm.Error
			if err := tt.call(); !errors.As(err, &e) {
				t.Fatalf("error = %v, want *llm.Error", err)
			}
			if e.Kind != llm.KindNotFound || e.Code != "model_not_found" || e.Param != "model" || e.HTTPStatus() != http.StatusNotFound {
				t.Errorf("error = %+v, want 404 model_not_found on param model", e)
			}
			if c.calls.Load() != 0 {
				t.Errorf("client called %d times", c.calls.Load())
			}
		})
	}
}

func TestUpstreamName(t *testing.T) {
	c := &fakeClient{complete: func(_ context.Context, _ int64, req *llm.Request) (*llm.Response, error) {
		return okResponse(req.Model + "-2025-01-01"), nil
	}}
	r, _ := newTestRouter(t, Config{Endpoints: []Endpoint{
		{Name: "azure", Client: c, Models: []Route{{Model: "gpt", Upstream: "my-deployment"}}},
	}}, nil)
	q := req("gpt")
	resp, err := r.Complete(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if c.model() != "my-deployment" {
		t.Errorf("endpoint got model %q, want my-deployment", c.model())
	}
	if q.Model != "gpt" {
		t.Errorf("caller's request mutated: model %q", q.Model)
	}
	if resp.Model != "my-deployment-2025-01-01" {
		t.Errorf("response model %q, want the upstream's", resp.Model)
	}
}

// twoEndpoints returns a router whose route "a" is always tried first: its
// weight makes it both the likely draw and the lower score.
func twoEndpoints(t *testing.T, a, b *fakeClient, cfg Config, clock *fakeClock) (*Router, *recorder) {
	t.Helper()
	a.name, b.name = "a", "b"
	cfg.Endpoints = []Endpoint{
		{Name: "a", Client: a, Weight: 1000, Models: []Route{{Model: "m"}}},
		{Name: "b", Client: b, Models: []Route{{Model: "m"}}},
	}
	return newTestRouter(t, cfg, clock)
}

func TestNonRetryableReturnsAtOnce(t *testing.T) {
	tests := []struct {
		name      string
		give      *llm.Error
		wantFails uint64
	}{
		{"invalid request", &llm.Error{Kind: llm.KindInvalidRequest, Retryable: true}, 0},
		{"too large", &llm.Error{Kind: llm.KindTooLarge}, 0},
		{"canceled", &llm.Error{Kind: llm.KindCanceled, Retryable: true}, 0},
		{"content filter", &llm.Error{Kind: llm.KindContentFilter}, 0},
		{"server not retryable", &llm.Error{Kind: llm.KindServer}, 1},
		{"auth not retryable", &llm.Error{Kind: llm.KindAuth}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &fakeClient{complete: func(context.Context, int64, *llm.Request) (*llm.Response, error) { return nil, tt.give }}
			b := &fakeClient{}
			r, rec := twoEndpoints(t, a, b, Config{}, newClock(time.Now()))
			_, err := r.Complete(t.Context(), req("m"))
			if err != tt.give {
				t.Errorf("error = %v, want the endpoint's own", err)
			}
			if a.calls.Load() != 1 || b.calls.Load() != 0 {
				t.Errorf("calls a=%d b=%d, want 1 0", a.calls.Load(), b.calls.Load())
			}
			if len(rec.failovers) != 0 {
				t.Errorf("failovers = %v", rec.failovers)
			}
			if got := status(r, "a").Failures; got != tt.wantFails {
				t.Errorf("endpoint failures = %d, want %d", got, tt.wantFails)
			}
		})
	}
}

func TestFailoverOnRetryableKinds(t *testing.T) {
	tests := []struct {
		give      llm.Kind
		wantState RouteState
	}{
		{llm.KindConnect, StateEjected},
		{llm.KindTimeout, StateEjected},
		{llm.KindServer, StateEjected},
		{llm.KindAuth, StateEjected},
		{llm.KindNotFound, StateEjected},
		{llm.KindStreamCut, StateEjected},
		{llm.KindRateLimited, StateRateLimited},
	}
	for _, tt := range tests {
		t.Run(tt.give.String(), func(t *testing.T) {
			a := &fakeClient{complete: failWith(tt.give, true)}
			b := &fakeClient{}
			r, rec := twoEndpoints(t, a, b, Config{}, newClock(time.Now()))
			var tr Trace
			resp, err := r.Complete(WithTrace(t.Context(), &tr), req("m"))
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if resp.Model != "b" {
				t.Errorf("answered by %q, want b", resp.Model)
			}
			if a.calls.Load() != 1 || b.calls.Load() != 1 {
				t.Errorf("calls a=%d b=%d, want 1 1", a.calls.Load(), b.calls.Load())
			}
			if want := []recFailover{{"m", "a", tt.give}}; !slices.Equal(rec.failovers, want) {
				t.Errorf("failovers = %v, want %v", rec.failovers, want)
			}
			if len(tr.Attempts) != 2 || tr.Attempts[0].Err == nil || tr.Attempts[1].Err != nil || tr.Endpoint != "b" {
				t.Errorf("trace = %+v", tr)
			}
			if got := status(r, "a").State; got != tt.wantState {
				t.Errorf("state of a = %s, want %s", got, tt.wantState)
			}
		})
	}
}

func TestMaxAttempts(t *testing.T) {
	tests := []struct {
		name string
		give int
		want int64
	}{
		{"default", 0, 3},
		{"one", 1, 1},
		{"two", 2, 2},
		{"more than routes", 9, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clients []Client
			var fakes []*fakeClient
			for range 4 {
				f := &fakeClient{complete: failWith(llm.KindServer, true)}
				clients, fakes = append(clients, f), append(fakes, f)
			}
			r, _ := newTestRouter(t, Config{Endpoints: endpoints(clients...), MaxAttempts: tt.give}, newClock(time.Now()))
			_, err := r.Complete(t.Context(), req("m"))
			var e *llm.Error
			if !errors.As(err, &e) || e.Kind != llm.KindUnavailable || e.HTTPStatus() != http.StatusServiceUnavailable {
				t.Fatalf("error = %v, want KindUnavailable", err)
			}
			if cause := llm.AsError(e.Err); cause == nil || cause.Kind != llm.KindServer {
				t.Errorf("cause = %v, want the last server error", e.Err)
			}
			var total int64
			for _, f := range fakes {
				if f.calls.Load() > 1 {
					t.Errorf("an endpoint was tried %d times", f.calls.Load())
				}
				total += f.calls.Load()
			}
			if total != tt.want {
				t.Errorf("attempts = %d, want %d", total, tt.want)
			}
		})
	}
}

func TestRetryBudget(t *testing.T) {
	tests := []struct {
		name   string
		give   RetryBudget
		wantPR []int64 // attempts per request; -1 advances the clock a window
	}{
		{"min per window", RetryBudget{Ratio: -1, MinPerSecond: 0.1, Window: 10 * time.Second}, []int64{2, 1, 1, -1, 2, 1}},
		{"ratio", RetryBudget{Ratio: 0.5, MinPerSecond: -1, Window: 10 * time.Second}, []int64{1, 2, 1, 2, 1, 2}},
		{"none", RetryBudget{Ratio: -1, MinPerSecond: -1}, []int64{1, 1, -1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock(time.Now())
			a := &fakeClient{complete: failWith(llm.KindServer, true)}
			b := &fakeClient{complete: failWith(llm.KindServer, true)}
			r, _ := newTestRouter(t, Config{
				Endpoints:   endpoints(a, b),
				MaxAttempts: 2,
				RetryBudget: tt.give,
				Ejection:    Ejection{ConsecutiveFailures: 1 << 30},
			}, clock)
			for i, want := range tt.wantPR {
				if want < 0 {
					clock.Advance(tt.give.Window + time.Second)
					continue
				}
				before := a.calls.Load() + b.calls.Load()
				if _, err := r.Complete(t.Context(), req("m")); err == nil {
					t.Fatal("Complete succeeded against failing endpoints")
				}
				if got := a.calls.Load() + b.calls.Load() - before; got != want {
					t.Errorf("request %d: %d attempts, want %d", i, got, want)
				}
			}
		})
	}
}

func TestMinAttemptTime(t *testing.T) {
	tests := []struct {
		name     string
		giveMin  time.Duration
		giveLeft time.Duration // time left before the deadline, per the router's clock
		want     int64
	}{
		{"plenty of time", 0, time.Hour, 2},
		{"too little for the default", 0, 15 * time.Millisecond, 1},
		{"enough for a lower minimum", 10 * time.Millisecond, 15 * time.Millisecond, 2},
		{"check disabled", -1, time.Millisecond, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deadline := time.Now().Add(time.Hour)
			ctx, cancel := context.WithDeadline(t.Context(), deadline)
			defer cancel()
			clock := newClock(deadline.Add(-tt.giveLeft))
			a := &fakeClient{complete: failWith(llm.KindTimeout, true)}
			b := &fakeClient{complete: failWith(llm.KindTimeout, true)}
			r, _ := newTestRouter(t, Config{Endpoints: endpoints(a, b), MinAttemptTime: tt.giveMin}, clock)
			_, err := r.Complete(ctx, req("m"))
			if err == nil {
				t.Fatal("Complete succeeded against failing endpoints")
			}
			if got := a.calls.Load() + b.calls.Load(); got != tt.want {
				t.Errorf("attempts = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCanceledDuringFailover(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	a := &fakeClient{complete: func(context.Context, int64, *llm.Request) (*llm.Response, error) {
		cancel()
		return nil, &llm.Error{Kind: llm.KindServer, Retryable: true}
	}}
	b := &fakeClient{}
	r, _ := twoEndpoints(t, a, b, Config{}, newClock(time.Now()))
	_, err := r.Complete(ctx, req("m"))
	if e := llm.AsError(err); e.Kind != llm.KindCanceled {
		t.Errorf("error = %v, want KindCanceled", err)
	}
	if b.calls.Load() != 0 {
		t.Errorf("failed over after the caller left")
	}
}

func TestAllRateLimited(t *testing.T) {
	limited := func(ra time.Duration) *fakeClient {
		return &fakeClient{complete: func(context.Context, int64, *llm.Request) (*llm.Response, error) {
			return nil, &llm.Error{Kind: llm.KindRateLimited, Retryable: true, RetryAfter: ra}
		}}
	}
	server := &fakeClient{complete: failWith(llm.KindServer, true)}
	tests := []struct {
		name      string
		give      []Client
		wantKind  llm.Kind
		wantAfter time.Duration
	}{
		{"every endpoint 429", []Client{limited(5 * time.Second), limited(2 * time.Second), limited(3 * time.Second)}, llm.KindRateLimited, 2 * time.Second},
		{"429 without Retry-After", []Client{limited(5 * time.Second), limited(0)}, llm.KindRateLimited, time.Second},
		{"429 and a server error", []Client{limited(5 * time.Second), server}, llm.KindUnavailable, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestRouter(t, Config{Endpoints: endpoints(tt.give...)}, newClock(time.Now()))
			_, err := r.Complete(t.Context(), req("m"))
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error = %v", err)
			}
			if e.Kind != tt.wantKind || e.RetryAfter != tt.wantAfter {
				t.Errorf("error kind %s retry-after %v, want %s %v", e.Kind, e.RetryAfter, tt.wantKind, tt.wantAfter)
			}
		})
	}
}

func TestRateLimitedRouteSkipped(t *testing.T) {
	clock := newClock(time.Now())
	a := &fakeClient{complete: func(_ context.Context, n int64, _ *llm.Request) (*llm.Response, error) {
		if n == 1 {
			return nil, &llm.Error{Kind: llm.KindRateLimited, Retryable: true, RetryAfter: 5 * time.Second}
		}
		return okResponse("a"), nil
	}}
	b := &fakeClient{}
	r, _ := twoEndpoints(t, a, b, Config{}, clock)
	for range 10 {
		if _, err := r.Complete(t.Context(), req("m")); err != nil {
			t.Fatal(err)
		}
	}
	if a.calls.Load() != 1 {
		t.Errorf("rate-limited route called %d times during its Retry-After", a.calls.Load())
	}
	st := status(r, "a")
	if st.State != StateRateLimited || st.RateLimited != 1 || st.RateLimitRate != 1 || st.Failures != 0 {
		t.Errorf("status = %+v", st)
	}
	clock.Advance(5 * time.Second)
	if _, err := r.Complete(t.Context(), req("m")); err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != 2 {
		t.Errorf("route not used again after its Retry-After")
	}
}

func TestTrace(t *testing.T) {
	a := &fakeClient{complete: failWith(llm.KindConnect, true)}
	b := &fakeClient{}
	clock := newClock(time.Now())
	r, _ := twoEndpoints(t, a, b, Config{}, clock)
	r.all[1].price = Price{Input: 2, Output: 8} // r.all is sorted: [1] is b
	var tr Trace
	if _, err := r.Complete(WithTrace(t.Context(), &tr), req("m")); err != nil {
		t.Fatal(err)
	}
	if tr.Endpoint != "b" || tr.Model != "m" || tr.Upstream != "m" || len(tr.Attempts) != 2 {
		t.Fatalf("trace = %+v", tr)
	}
	if tr.Attempts[0].Endpoint != "a" || llm.AsError(tr.Attempts[0].Err).Kind != llm.KindConnect || tr.Attempts[1].Endpoint != "b" {
		t.Errorf("attempts = %+v", tr.Attempts)
	}
	if tr.Usage == nil || tr.Usage.TotalTokens != 15 {
		t.Errorf("usage = %+v", tr.Usage)
	}
	if want := (10*2 + 5*8) / 1e6; tr.Cost != want {
		t.Errorf("cost = %v, want %v", tr.Cost, want)
	}
}

func TestPriceCost(t *testing.T) {
	tests := []struct {
		name string
		give Price
		u    *llm.Usage
		want float64
	}{
		{"nil usage", Price{Input: 1}, nil, 0},
		{"plain", Price{Input: 1, Output: 2}, &llm.Usage{PromptTokens: 1e6, CompletionTokens: 1e6}, 3},
		{"cached", Price{Input: 1, CachedInput: 0.5, Output: 2}, &llm.Usage{PromptTokens: 1e6, PromptTokensDetails: &llm.PromptTokensDetails{CachedTokens: 5e5}}, 0.75},
		{"cached at input price", Price{Input: 1}, &llm.Usage{PromptTokens: 1e6, PromptTokensDetails: &llm.PromptTokensDetails{CachedTokens: 5e5}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.give.Cost(tt.u); got != tt.want {
				t.Errorf("Cost = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestUnavailableRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		giveMax  int
		giveDead bool // b fails too
		want     time.Duration
	}{
		{"every route out", 2, true, time.Second},
		{"a route still available", 1, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &fakeClient{complete: failWith(llm.KindServer, true)}
			b := &fakeClient{}
			if tt.giveDead {
				b.complete = failWith(llm.KindConnect, true)
			}
			r, _ := twoEndpoints(t, a, b, Config{MaxAttempts: tt.giveMax}, newClock(time.Now()))
			_, err := r.Complete(t.Context(), req("m"))
			if e := llm.AsError(err); e.Kind != llm.KindUnavailable || e.RetryAfter != tt.want {
				t.Errorf("error %v retry-after %v, want KindUnavailable %v", err, e.RetryAfter, tt.want)
			}
		})
	}
}

func TestCallerDeadlineIsNotEndpointFailure(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	a := &fakeClient{complete: func(ctx context.Context, _ int64, _ *llm.Request) (*llm.Response, error) {
		<-ctx.Done()
		return nil, &llm.Error{Kind: llm.KindTimeout, Retryable: true, Err: ctx.Err()}
	}}
	b := &fakeClient{}
	r, rec := twoEndpoints(t, a, b, Config{}, nil)
	if _, err := r.Complete(ctx, req("m")); err == nil {
		t.Fatal("Complete succeeded past its deadline")
	}
	if st := status(r, "a"); st.State != StateHealthy || st.Failures != 0 || len(rec.ejections()) != 0 {
		t.Errorf("the caller's deadline ejected the endpoint: %+v", st)
	}
	if b.calls.Load() != 0 {
		t.Errorf("failed over past the deadline")
	}
}
