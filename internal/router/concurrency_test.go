package router

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// TestOutageLosesNoRequest runs many goroutines against two endpoints, one
// of which dies mid-run (including requests already in flight to it): no
// client request may fail, streamed or not.
func TestOutageLosesNoRequest(t *testing.T) {
	const (
		workers   = 16
		perWorker = 400
		dieAt     = 200 // a's call number at which it dies, requests in flight to it
	)
	var dead atomic.Bool
	// Both endpoints do the same work, so neither wins on latency alone; a's
	// weight gives it most of the traffic until it dies.
	mk := func(name string, mortal bool) *fakeClient {
		f := &fakeClient{name: name}
		f.complete = func(_ context.Context, n int64, _ *llm.Request) (*llm.Response, error) {
			runtime.Gosched() // let requests pile up in flight
			if mortal && (n >= dieAt || dead.Load()) {
				dead.Store(true)
				return nil, &llm.Error{Kind: llm.KindConnect, Retryable: true}
			}
			return okResponse(name), nil
		}
		f.stream = func(_ context.Context, n int64, _ *llm.Request) (llm.Stream, error) {
			runtime.Gosched()
			if mortal && (n >= dieAt || dead.Load()) {
				dead.Store(true)
				return newFakeStream(name, 0, &llm.Error{Kind: llm.KindTimeout, Retryable: true}), nil
			}
			return newFakeStream(name, 2, nil), nil
		}
		return f
	}
	a, b := mk("a", true), mk("b", false)
	eps := endpoints(a, b)
	eps[0].Weight = 10
	r, _ := newTestRouter(t, Config{Endpoints: eps}, nil) // real clock

	var failed atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				var err error
				if (w+i)%2 == 0 {
					_, err = r.Complete(t.Context(), req("m"))
				} else {
					var s llm.Stream
					if s, err = r.Stream(t.Context(), req("m")); err == nil {
						_, err = llm.Accumulate(s)
					}
				}
				if err != nil {
					failed.Add(1)
					t.Errorf("request failed: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d requests lost to the outage", failed.Load())
	}
	st := status(r, "a")
	if !dead.Load() || st.Ejections == 0 || st.InFlight != 0 || status(r, "b").InFlight != 0 {
		t.Errorf("after the run: a %+v, b in flight %d", st, status(r, "b").InFlight)
	}
}
