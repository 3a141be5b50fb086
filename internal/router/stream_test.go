package router

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func readAll(t *testing.T, s llm.Stream) ([]*llm.Chunk, error) {
	t.Helper()
	var got []*llm.Chunk
	for {
		c, err := s.Recv()
		if err != nil {
			if err == io.EOF {
				return got, nil
			}
			return got, err
		}
		got = append(got, c)
	}
}

func TestStreamFailoverBeforeFirstChunk(t *testing.T) {
	tests := []struct {
		name       string
		give       func() (llm.Stream, error)
		wantClosed bool // the broken stream was closed
	}{
		{"error on Stream", func() (llm.Stream, error) {
			return nil, &llm.Error{Kind: llm.KindConnect, Retryable: true}
		}, false},
		{"first-token timeout", func() (llm.Stream, error) {
			return newFakeStream("a", 0, &llm.Error{Kind: llm.KindTimeout, Retryable: true, Message: "no first token"}), nil
		}, true},
		{"error on first Recv", func() (llm.Stream, error) {
			return newFakeStream("a", 0, &llm.Error{Kind: llm.KindServer, Retryable: true}), nil
		}, true},
		{"empty stream", func() (llm.Stream, error) {
			s := newFakeStream("a", 0, nil)
			s.sent = 1 // skip the usage chunk: EOF at once
			return s, nil
		}, true},
		{"429 on Stream", func() (llm.Stream, error) {
			return nil, &llm.Error{Kind: llm.KindRateLimited, Retryable: true, RetryAfter: time.Second}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var broken llm.Stream
			a := &fakeClient{stream: func(context.Context, int64, *llm.Request) (llm.Stream, error) {
				s, err := tt.give()
				broken = s
				return s, err
			}}
			b := &fakeClient{}
			r, rec := twoEndpoints(t, a, b, Config{}, newClock(time.Now()))
			s, err := r.Stream(t.Context(), req("m"))
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			got, err := readAll(t, s)
			if err != nil || len(got) != 4 || got[0].Model != "b" {
				t.Errorf("read %d chunks (first from %v), err %v; want 4 from b", len(got), got, err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if a.calls.Load() != 1 || b.calls.Load() != 1 || len(rec.failovers) != 1 {
				t.Errorf("calls a=%d b=%d failovers %v", a.calls.Load(), b.calls.Load(), rec.failovers)
			}
			if fs, ok := broken.(*fakeStream); tt.wantClosed && (!ok || fs.closes.Load() != 1) {
				t.Errorf("broken stream not closed once")
			}
			for _, st := range r.Snapshot() {
				if st.InFlight != 0 {
					t.Errorf("%s in flight %d after Close", st.Endpoint, st.InFlight)
				}
			}
		})
	}
}

func TestStreamNoFailoverAfterFirstChunk(t *testing.T) {
	cut := &llm.Error{Kind: llm.KindServer, Message: "connection reset"}
	var inner *fakeStream
	a := &fakeClient{stream: func(context.Context, int64, *llm.Request) (llm.Stream, error) {
		inner = newFakeStream("a", 2, cut)
		return inner, nil
	}}
	b := &fakeClient{}
	r, rec := twoEndpoints(t, a, b, Config{}, newClock(time.Now()))
	s, err := r.Stream(t.Context(), req("m"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := readAll(t, s)
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindStreamCut || !errors.Is(err, cut) {
		t.Fatalf("error = %v, want KindStreamCut wrapping the cause", err)
	}
	if len(got) != 2 {
		t.Errorf("got %d chunks before the cut, want 2", len(got))
	}
	if _, err := s.Recv(); err != e {
		t.Errorf("Recv after the cut = %v, want the same error", err)
	}
	if b.calls.Load() != 0 {
		t.Errorf("retried after the first chunk was handed out")
	}
	if st := status(r, "a"); st.Failures != 1 || st.State != StateEjected {
		t.Errorf("stream cut not counted as an endpoint failure: %+v", st)
	}
	if len(rec.attempts) != 1 || rec.attempts[0].err != e {
		t.Errorf("attempts recorded %+v", rec.attempts)
	}
}

func TestStreamClose(t *testing.T) {
	tests := []struct {
		name     string
		readN    int // chunks read before closing; -1 reads to EOF
		closes   int
		wantErr  llm.Kind // of the recorded attempt; 0 for success
		wantFail uint64
	}{
		{"close after EOF", -1, 1, 0, 0},
		{"double close", -1, 2, 0, 0},
		{"close before EOF", 1, 1, llm.KindCanceled, 0},
		{"close before reading, twice", 0, 2, llm.KindCanceled, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inner *fakeStream
			a := &fakeClient{stream: func(context.Context, int64, *llm.Request) (llm.Stream, error) {
				inner = newFakeStream("a", 3, nil)
				return inner, nil
			}}
			r, rec := newTestRouter(t, Config{Endpoints: endpoints(a)}, newClock(time.Now()))
			s, err := r.Stream(t.Context(), req("m"))
			if err != nil {
				t.Fatal(err)
			}
			if got := status(r, "a").InFlight; got != 1 {
				t.Fatalf("in flight %d while streaming, want 1", got)
			}
			if tt.readN < 0 {
				if _, err := readAll(t, s); err != nil {
					t.Fatal(err)
				}
			}
			for range tt.readN {
				if _, err := s.Recv(); err != nil {
					t.Fatal(err)
				}
			}
			for range tt.closes {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if got := status(r, "a").InFlight; got != 0 {
				t.Errorf("in flight %d after Close, want 0", got)
			}
			if inner.closes.Load() != 1 {
				t.Errorf("endpoint stream closed %d times, want 1", inner.closes.Load())
			}
			if len(rec.attempts) != 1 {
				t.Fatalf("attempts recorded %d, want 1", len(rec.attempts))
			}
			if got := rec.attempts[0]; (got.err == nil) != (tt.wantErr == 0) || (got.err != nil && llm.AsError(got.err).Kind != tt.wantErr) {
				t.Errorf("attempt error %v, want kind %v", got.err, tt.wantErr)
			}
			if st := status(r, "a"); st.Failures != tt.wantFail || st.State != StateHealthy {
				t.Errorf("status %+v", st)
			}
			if _, err := s.Recv(); err == nil {
				t.Error("Recv after Close returned a chunk")
			}
		})
	}
}

func TestStreamRecordsAttempt(t *testing.T) {
	clock := newClock(time.Now())
	a := &fakeClient{stream: func(context.Context, int64, *llm.Request) (llm.Stream, error) {
		clock.Advance(30 * time.Millisecond) // headers and first token
		return newFakeStream("a", 3, nil), nil
	}}
	r, rec := newTestRouter(t, Config{Endpoints: endpoints(a)}, clock)
	var tr Trace
	s, err := r.Stream(WithTrace(t.Context(), &tr), req("m"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.UpstreamTime != 30*time.Millisecond || len(tr.Attempts) != 1 {
		t.Errorf("trace at first chunk = %+v", tr)
	}
	clock.Advance(70 * time.Millisecond)
	if _, err := readAll(t, s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if tr.UpstreamTime != 100*time.Millisecond || tr.Attempts[0].Duration != 100*time.Millisecond || tr.Usage == nil || tr.Usage.TotalTokens != 10 {
		t.Errorf("trace at end = %+v", tr)
	}
	got := rec.attempts[0]
	if got.d != 100*time.Millisecond || got.ttft != 30*time.Millisecond || got.usage == nil || got.err != nil {
		t.Errorf("attempt = %+v", got)
	}
	if st := status(r, "a"); st.TTFT != 30*time.Millisecond || st.Latency != 100*time.Millisecond {
		t.Errorf("EWMA ttft %v latency %v, want 30ms 100ms", st.TTFT, st.Latency)
	}
}

func TestStreamCanceledMidway(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	a := &fakeClient{stream: func(context.Context, int64, *llm.Request) (llm.Stream, error) {
		return newFakeStream("a", 1, &llm.Error{Kind: llm.KindCanceled, Message: "canceled"}), nil
	}}
	r, _ := newTestRouter(t, Config{Endpoints: endpoints(a)}, newClock(time.Now()))
	s, err := r.Stream(ctx, req("m"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cancel()
	if _, err := readAll(t, s); llm.AsError(err).Kind != llm.KindCanceled {
		t.Errorf("error = %v, want the caller's cancellation", err)
	}
	if st := status(r, "a"); st.Failures != 0 {
		t.Errorf("caller leaving counted as endpoint failure")
	}
}
