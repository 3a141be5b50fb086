package router

import (
	"context"
	"io"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Stream starts a streamed completion of req on an endpoint serving
// req.Model. It returns once the first chunk has arrived: a failure up to
// and including that chunk (a refused call, a first-token timeout, a broken
// or empty stream) fails over exactly as in Complete, so a caller never
// sees a stream from an endpoint that could not start one. The returned
// stream yields the first chunk and then passes the rest through; it never
// retries once a chunk was handed out, and reports a later failure as
// KindStreamCut. The caller must Close it, which releases the route.
func (r *Router) Stream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	m := r.models[req.Model]
	if m == nil {
		return nil, unknownModel(req.Model)
	}
	tr := traceFrom(ctx)
	start := r.now()
	r.budget.request(r.mono(start))
	var buf [4]int32
	tried := buf[:0]
	var f failover
	for {
		i, l := r.pick(m, r.mono(start), tried, true)
		rt := m.routes[i]
		tried = append(tried, int32(i))

		rt.begin()
		first, inner, err := firstChunk(ctx, rt, r.upstream(req, rt))
		end := r.now()
		ttft := end.Sub(start)
		if err == nil {
			rt.alive(r, l)
			rt.stats.observeLatency(r.mono(end), r.tau, -1, ttft)
			s := &stream{r: r, ctx: ctx, m: m, rt: rt, inner: inner, first: first, start: start, ttft: ttft, tr: tr}
			if tr != nil {
				s.traceAt = len(tr.Attempts)
				tr.add(m, rt, start, ttft, nil)
			}
			return s, nil
		}
		rt.inflight.Add(-1)
		e := r.attemptFailed(ctx, rt, l, r.mono(end), err)
		if r.obs != nil {
			r.obs.Attempt(rt.endpoint, m.name, ttft, 0, nil, err)
		}
		if tr != nil {
			tr.add(m, rt, start, ttft, err)
		}
		if stop := r.next(ctx, m, &f, len(tried), e, err, end, rt.endpoint); stop != nil {
			return nil, stop
		}
		start = end
	}
}

// firstChunk opens the stream on rt and receives its first chunk, closing
// the stream if that fails.
func firstChunk(ctx context.Context, rt *route, req *llm.Request) (*llm.Chunk, llm.Stream, error) {
	s, err := rt.client.Stream(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		return nil, nil, &llm.Error{Kind: llm.KindServer, Retryable: true, Endpoint: rt.endpoint, Message: "no stream"}
	}
	c, err := s.Recv()
	if err == nil && c == nil {
		err = &llm.Error{Kind: llm.KindServer, Retryable: true, Endpoint: rt.endpoint, Message: "empty chunk"}
	}
	if err == io.EOF {
		err = &llm.Error{Kind: llm.KindServer, Retryable: true, Endpoint: rt.endpoint, Message: "stream ended before its first chunk"}
	}
	if err != nil {
		_ = s.Close() // the attempt already failed; a close error adds nothing
		return nil, nil, err
	}
	return c, s, nil
}

// stream is the llm.Stream the router hands out: the buffered first chunk,
// then the endpoint's stream, with the attempt recorded at its end. Like
// any llm.Stream it is used from one goroutine.
type stream struct {
	r     *Router
	ctx   context.Context
	m     *model
	rt    *route
	inner llm.Stream
	first *llm.Chunk
	start time.Time
	ttft  time.Duration
	usage *llm.Usage

	tr      *Trace
	traceAt int

	err      error // terminal result once the attempt has ended
	ended    bool  // the attempt has been recorded
	released bool  // Close has run
}

// Recv returns the next chunk; io.EOF at the end; a KindStreamCut
// *llm.Error if the endpoint's stream broke (or the caller's own
// cancellation error if it left).
func (s *stream) Recv() (*llm.Chunk, error) {
	if c := s.first; c != nil {
		s.first = nil
		if c.Usage != nil {
			s.usage = c.Usage
		}
		return c, nil
	}
	if s.err != nil {
		return nil, s.err
	}
	c, err := s.inner.Recv()
	switch {
	case err == nil && c != nil:
		if c.Usage != nil {
			s.usage = c.Usage
		}
		return c, nil
	case err == io.EOF:
		s.end(nil)
		s.err = io.EOF
		return nil, io.EOF
	case err == nil:
		err = &llm.Error{Kind: llm.KindServer, Endpoint: s.rt.endpoint, Message: "empty chunk"}
	}
	e := llm.AsError(err)
	if e.Kind == llm.KindCanceled || s.ctx.Err() != nil {
		s.end(err)
		s.err = err
		return nil, err
	}
	if e.Kind != llm.KindStreamCut {
		e = &llm.Error{Kind: llm.KindStreamCut, Endpoint: s.rt.endpoint, Message: "The model's stream was interrupted.", Err: err}
	}
	s.end(e)
	s.err = e
	return nil, e
}

// end records the attempt once: nil err for a complete stream; a stream
// cut is an endpoint failure; cancellation says nothing of the endpoint.
func (s *stream) end(err error) {
	if s.ended {
		return
	}
	s.ended = true
	r, rt := s.r, s.rt
	endT := r.now()
	now := r.mono(endT)
	d := endT.Sub(s.start)
	switch {
	case err == nil:
		rt.stats.observeSuccess(now, r.tau, d, -1)
	case classify(llm.AsError(err)) == outFailure:
		rt.failed(r, lease{}, now)
		rt.stats.observeRates(now, r.tau, true, false)
	}
	if r.obs != nil {
		r.obs.Attempt(rt.endpoint, s.m.name, d, s.ttft, s.usage, err)
	}
	if t := s.tr; t != nil && s.traceAt < len(t.Attempts) {
		a := &t.Attempts[s.traceAt]
		t.UpstreamTime += d - a.Duration
		a.Duration = d
		a.Err = err
		if err == nil {
			t.finish(rt, s.usage)
		}
	}
}

// Close releases the route and closes the endpoint's stream; only the first
// call does anything. Closing before the end records the attempt as
// abandoned by the caller (not an endpoint failure).
func (s *stream) Close() error {
	if s.released {
		return nil
	}
	s.released = true
	if !s.ended {
		s.end(errAbandoned)
	}
	if s.err == nil {
		s.err = io.ErrClosedPipe
	}
	s.first = nil
	s.rt.inflight.Add(-1)
	return s.inner.Close()
}

// errAbandoned is the attempt error recorded for a stream closed before its
// end.
var errAbandoned = &llm.Error{Kind: llm.KindCanceled, Message: "stream closed before its end"}
