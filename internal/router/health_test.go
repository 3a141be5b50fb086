package router

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// switchable returns a complete function that fails with KindConnect while
// dead is set.
func switchable(name string, dead *atomic.Bool) func(context.Context, int64, *llm.Request) (*llm.Response, error) {
	return func(context.Context, int64, *llm.Request) (*llm.Response, error) {
		if dead.Load() {
			return nil, &llm.Error{Kind: llm.KindConnect, Retryable: true, Message: "connection refused"}
		}
		return okResponse(name), nil
	}
}

// TestEjectionStopsTraffic checks the outage property: the dead endpoint
// gets at most its first failed attempt per probe interval, no client
// request is lost, cool-downs grow exponentially up to the maximum, and a
// successful probe restores the route and resets the growth.
func TestEjectionStopsTraffic(t *testing.T) {
	tests := []struct {
		name string
		give Ejection
		want []time.Duration
	}{
		{"defaults", Ejection{}, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}},
		{"capped", Ejection{BaseCoolDown: time.Second, MaxCoolDown: 3 * time.Second}, []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newClock(time.Now())
			var dead atomic.Bool
			dead.Store(true)
			a := &fakeClient{}
			a.complete = switchable("a", &dead)
			b := &fakeClient{}
			r, rec := twoEndpoints(t, a, b, Config{Ejection: tt.give}, clock)
			do := func(n int) {
				t.Helper()
				for range n {
					if _, err := r.Complete(t.Context(), req("m")); err != nil {
						t.Fatalf("request lost: %v", err)
					}
				}
			}
			for i, cd := range tt.want {
				do(1) // first use, or the probe after the cool-down
				if got := a.calls.Load(); got != int64(i+1) {
					t.Fatalf("cycle %d: dead endpoint called %d times, want %d", i, got, i+1)
				}
				if got := rec.ejections(); len(got) != i+1 || got[i] != cd {
					t.Fatalf("cycle %d: ejections %v, want cool-down %v", i, got, cd)
				}
				do(20)
				clock.Advance(cd - time.Millisecond)
				do(20)
				if got := a.calls.Load(); got != int64(i+1) {
					t.Fatalf("cycle %d: dead endpoint called during its cool-down (%d calls)", i, got)
				}
				if st := status(r, "a"); st.State != StateEjected {
					t.Fatalf("cycle %d: state %s, want ejected", i, st.State)
				}
				clock.Advance(time.Millisecond)
				if st := status(r, "a"); st.State != StateHalfOpen {
					t.Fatalf("cycle %d: state %s after cool-down, want half-open", i, st.State)
				}
			}

			dead.Store(false)
			do(1)
			if rec.restored != 1 || status(r, "a").State != StateHealthy {
				t.Fatalf("successful probe did not restore: restored %d, state %s", rec.restored, status(r, "a").State)
			}
			dead.Store(true)
			for status(r, "a").State == StateHealthy {
				do(1)
			}
			if got := rec.ejections(); got[len(got)-1] != tt.give.coolDownOrDefault(1) {
				t.Errorf("cool-down after restore = %v, want the base again", got[len(got)-1])
			}
			if st := status(r, "a"); st.Ejections != uint64(len(tt.want)+1) {
				t.Errorf("ejections counted %d, want %d", st.Ejections, len(tt.want)+1)
			}
		})
	}
}

// coolDownOrDefault is coolDown with the zero value's defaults.
func (ej Ejection) coolDownOrDefault(n int64) time.Duration {
	cfg, _ := Config{Endpoints: endpoints(&fakeClient{}), Ejection: ej}.normalize()
	return cfg.Ejection.coolDown(n)
}

func TestConsecutiveFailures(t *testing.T) {
	clock := newClock(time.Now())
	var dead atomic.Bool
	dead.Store(true)
	a := &fakeClient{}
	a.complete = switchable("a", &dead)
	b := &fakeClient{}
	r, _ := twoEndpoints(t, a, b, Config{Ejection: Ejection{ConsecutiveFailures: 3}}, clock)
	for range 2 {
		if _, err := r.Complete(t.Context(), req("m")); err != nil {
			t.Fatal(err)
		}
	}
	if st := status(r, "a"); st.State != StateHealthy || st.Failures != 2 {
		t.Fatalf("after 2 failures: %+v", st)
	}
	// A success resets the count, so two more failures do not eject.
	dead.Store(false)
	if _, err := r.Complete(t.Context(), req("m")); err != nil {
		t.Fatal(err)
	}
	dead.Store(true)
	for range 2 {
		clock.Advance(time.Millisecond)
		if _, err := r.Complete(t.Context(), req("m")); err != nil {
			t.Fatal(err)
		}
	}
	if st := status(r, "a"); st.State != StateHealthy {
		t.Fatalf("ejected before 3 consecutive failures: %+v", st)
	}
	for a.calls.Load() < 6 {
		if _, err := r.Complete(t.Context(), req("m")); err != nil {
			t.Fatal(err)
		}
	}
	if st := status(r, "a"); st.State != StateEjected {
		t.Fatalf("not ejected after 3 consecutive failures: %+v", st)
	}
}

// TestOneProbeAtATime sends many concurrent requests once the cool-down has
// ended: exactly one reaches the half-open route, the rest skip it.
func TestOneProbeAtATime(t *testing.T) {
	clock := newClock(time.Now())
	entered := make(chan struct{})
	release := make(chan struct{})
	a := &fakeClient{complete: func(_ context.Context, n int64, _ *llm.Request) (*llm.Response, error) {
		switch n {
		case 1:
			return nil, &llm.Error{Kind: llm.KindServer, Retryable: true}
		case 2: // the probe: held until the others are done
			close(entered)
			<-release
		}
		return okResponse("a"), nil
	}}
	b := &fakeClient{}
	r, rec := twoEndpoints(t, a, b, Config{}, clock)
	if _, err := r.Complete(t.Context(), req("m")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)

	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := r.Complete(t.Context(), req("m"))
			errs <- err
		}()
	}
	<-entered
	for range n - 1 {
		if err := <-errs; err != nil {
			t.Errorf("request failed: %v", err)
		}
	}
	if got := a.calls.Load(); got != 2 {
		t.Errorf("half-open route got %d calls, want the first failure and one probe", got)
	}
	if st := status(r, "a"); st.State != StateHalfOpen || st.InFlight != 1 {
		t.Errorf("during the probe: %+v", st)
	}
	close(release)
	if err := <-errs; err != nil {
		t.Errorf("probe request failed: %v", err)
	}
	if rec.restored != 1 || status(r, "a").State != StateHealthy {
		t.Errorf("probe did not restore the route")
	}
}

func TestProbeReleasedOnNeutralOutcome(t *testing.T) {
	clock := newClock(time.Now())
	a := &fakeClient{complete: func(_ context.Context, n int64, _ *llm.Request) (*llm.Response, error) {
		switch n {
		case 1:
			return nil, &llm.Error{Kind: llm.KindServer, Retryable: true}
		case 2:
			return nil, &llm.Error{Kind: llm.KindInvalidRequest}
		}
		return okResponse("a"), nil
	}}
	b := &fakeClient{}
	r, rec := twoEndpoints(t, a, b, Config{}, clock)
	if _, err := r.Complete(t.Context(), req("m")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	if _, err := r.Complete(t.Context(), req("m")); llm.AsError(err).Kind != llm.KindInvalidRequest {
		t.Fatalf("error = %v, want the invalid request", err)
	}
	if st := status(r, "a"); st.State != StateHalfOpen || len(rec.ejections()) != 1 {
		t.Fatalf("a request's own fault changed the route: %+v", st)
	}
	if _, err := r.Complete(t.Context(), req("m")); err != nil {
		t.Fatal(err)
	}
	if a.calls.Load() != 3 || rec.restored != 1 {
		t.Errorf("next request did not probe: calls %d restored %d", a.calls.Load(), rec.restored)
	}
}

func TestPanicMode(t *testing.T) {
	clock := newClock(time.Now())
	var deadA, deadB atomic.Bool
	deadA.Store(true)
	deadB.Store(true)
	a := &fakeClient{}
	a.complete = switchable("a", &deadA)
	b := &fakeClient{}
	b.complete = switchable("b", &deadB)
	r, rec := twoEndpoints(t, a, b, Config{}, clock)

	_, err := r.Complete(t.Context(), req("m"))
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindUnavailable || e.RetryAfter != time.Second {
		t.Fatalf("both dead: error %v, want KindUnavailable retry after 1s", err)
	}
	if r.Ready() {
		t.Error("Ready with every route ejected")
	}
	deadB.Store(false)
	clock.Advance(100 * time.Millisecond)
	resp, err := r.Complete(t.Context(), req("m"))
	if err != nil {
		t.Fatalf("panic mode lost the request: %v", err)
	}
	if resp.Model != "b" || rec.restored != 1 || status(r, "b").State != StateHealthy {
		t.Errorf("panic mode answer from %q, restored %d", resp.Model, rec.restored)
	}
	if !r.Ready() {
		t.Error("not Ready after a route was restored")
	}
}

func TestPanicModeSoonestFirst(t *testing.T) {
	clock := newClock(time.Now())
	var limited atomic.Bool
	limited.Store(true)
	mk := func(name string, ra time.Duration) *fakeClient {
		return &fakeClient{name: name, complete: func(context.Context, int64, *llm.Request) (*llm.Response, error) {
			if limited.Load() {
				return nil, &llm.Error{Kind: llm.KindRateLimited, Retryable: true, RetryAfter: ra}
			}
			return okResponse(name), nil
		}}
	}
	r, _ := newTestRouter(t, Config{Endpoints: endpoints(mk("a", 10*time.Second), mk("b", 5*time.Second), mk("c", 7*time.Second))}, clock)
	if _, err := r.Complete(t.Context(), req("m")); llm.AsError(err).RetryAfter != 5*time.Second {
		t.Fatalf("error = %v, want 429 retry after 5s", err)
	}
	limited.Store(false)
	var got []string
	for range 3 {
		var tr Trace
		if _, err := r.Complete(WithTrace(t.Context(), &tr), req("m")); err != nil {
			t.Fatal(err)
		}
		got = append(got, tr.Endpoint)
	}
	// b (5s) first; once it answers it is eligible again and wins alone.
	if want := []string{"b", "b", "b"}; !slices.Equal(got, want) {
		t.Errorf("answered by %v, want %v", got, want)
	}
	if st := status(r, "b"); st.State != StateHealthy {
		t.Errorf("b still %s after answering in panic mode", st.State)
	}
	if st := status(r, "c"); st.State != StateRateLimited {
		t.Errorf("c is %s, want still rate-limited", st.State)
	}
}

func TestReady(t *testing.T) {
	clock := newClock(time.Now())
	a := &fakeClient{complete: failWith(llm.KindServer, true)}
	r, _ := newTestRouter(t, Config{Endpoints: endpoints(a)}, clock)
	if !r.Ready() {
		t.Fatal("new router not Ready")
	}
	_, _ = r.Complete(t.Context(), req("m"))
	if r.Ready() {
		t.Fatal("Ready with its only route ejected")
	}
	clock.Advance(time.Second)
	if !r.Ready() {
		t.Fatal("not Ready once the route is half-open")
	}
}
