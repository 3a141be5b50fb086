package router

import (
	"context"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Trace is a caller-provided record of one router call, filled by the router
// when the call's context carries it (see WithTrace), like httptrace. It is
// written by the goroutine making the call (for a stream: also by the one
// calling Recv) and must not be read until the call (or the stream) ends.
// The router appends to Attempts and adds to UpstreamTime, so a Trace reused
// across calls accumulates them; the other fields describe the last call.
type Trace struct {
	// Endpoint, Model and Upstream name the route of the last attempt:
	// the endpoint, floodgate's model name and the name sent upstream.
	Endpoint, Model, Upstream string
	// Attempts lists every attempt in order.
	Attempts []Attempt
	// UpstreamTime is the time spent in attempts; for a stream it covers
	// the successful attempt until the stream's end once it has ended.
	UpstreamTime time.Duration
	// Usage is the token usage of the successful attempt, if reported.
	Usage *llm.Usage
	// Cost is Usage priced at the route's Price, in USD.
	Cost float64
}

// Attempt is one call to one endpoint.
type Attempt struct {
	Endpoint string
	Start    time.Time
	// Duration is the attempt's duration; for a successful stream, the
	// time to its first chunk until the stream ends, then its whole length.
	Duration time.Duration
	// Err is nil on success.
	Err error
}

type traceKey struct{}

// WithTrace returns a copy of ctx carrying t, which the router fills during
// calls made with it.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// traceFrom returns the Trace in ctx, or nil.
func traceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// add records one attempt on rt.
func (t *Trace) add(m *model, rt *route, start time.Time, d time.Duration, err error) {
	t.Endpoint, t.Model, t.Upstream = rt.endpoint, m.name, rt.upstream
	t.Attempts = append(t.Attempts, Attempt{Endpoint: rt.endpoint, Start: start, Duration: d, Err: err})
	t.UpstreamTime += d
}

// finish records the usage and cost of the successful attempt.
func (t *Trace) finish(rt *route, u *llm.Usage) {
	t.Usage = u
	t.Cost = rt.price.Cost(u)
}

// ModelOf returns the model that answered req: the trace's route's, or
// req's own when no route was tried.
func (t *Trace) ModelOf(req *llm.Request) string {
	if t.Model != "" {
		return t.Model
	}
	return req.Model
}

// UsageOf returns the token usage of the call that resp answers: the
// trace's (the successful attempt's, as the router priced it), else
// resp's; nil when neither reports one.
func (t *Trace) UsageOf(resp *llm.Response) *llm.Usage {
	if t.Usage != nil || resp == nil {
		return t.Usage
	}
	return resp.Usage
}
