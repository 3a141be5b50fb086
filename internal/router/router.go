package router

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Client is one endpoint's API client; provider.Client satisfies it. It
// must be safe for concurrent use and must treat the request as read-only:
// the router passes the caller's own request when the upstream model name
// is the same. Errors should be *llm.Error with Kind, Retryable and
// RetryAfter set; Stream returns once the response headers arrived.
//
// A Client may also implement RemainingRequests() (n int64, ok bool), the
// endpoint's latest x-ratelimit-remaining-requests; a low count makes the
// router prefer other routes.
type Client interface {
	Complete(ctx context.Context, req *llm.Request) (*llm.Response, error)
	Stream(ctx context.Context, req *llm.Request) (llm.Stream, error)
}

// Router routes chat-completion calls to endpoints. It is safe for
// concurrent use; its table lives as long as it does and needs no
// background goroutine (cool-downs and decay are evaluated lazily). A
// Router must not be copied.
type Router struct {
	cfg    Config
	now    func() time.Time
	base   time.Time // internal times are ns since base (monotonic)
	tau    float64   // EWMA time constant, ns: half-life / ln 2
	obs    Observer
	rng    rng
	budget retryBudget

	models map[string]*model
	names  []string // sorted model names
	all    []*route // every route, sorted by model then endpoint
}

// New returns a Router for cfg after validating it: at least one endpoint,
// unique non-empty names, and a Client and at least one route each.
// Errors wrap ErrInvalidConfig.
func New(cfg Config) (*Router, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	r := &Router{
		cfg:    cfg,
		now:    cfg.Now,
		base:   cfg.Now(),
		tau:    float64(cfg.EWMAHalfLife) / math.Ln2,
		obs:    cfg.Observer,
		models: make(map[string]*model),
	}
	r.rng.state.Store(cfg.seed())
	r.budget.init(cfg.RetryBudget)
	for i := range cfg.Endpoints {
		ep := &cfg.Endpoints[i]
		for j := range ep.Models {
			rt := newRoute(ep, &ep.Models[j])
			m := r.models[rt.model]
			if m == nil {
				m = &model{name: rt.model}
				r.models[rt.model] = m
				r.names = append(r.names, rt.model)
			}
			m.routes = append(m.routes, rt)
			r.all = append(r.all, rt)
		}
	}
	slices.Sort(r.names)
	slices.SortFunc(r.all, func(a, b *route) int {
		if c := strings.Compare(a.model, b.model); c != 0 {
			return c
		}
		return strings.Compare(a.endpoint, b.endpoint)
	})
	return r, nil
}

// mono returns t as nanoseconds since the router's base time.
func (r *Router) mono(t time.Time) int64 {
	return max(int64(t.Sub(r.base)), 0)
}

// Models returns the sorted floodgate model names the router serves. The
// slice is the caller's.
func (r *Router) Models() []string {
	return slices.Clone(r.names)
}

// Ready reports whether at least one route is not ejected (healthy, rate
// limited or half-open).
func (r *Router) Ready() bool {
	now := r.mono(r.now())
	for _, rt := range r.all {
		if u := rt.ejectedUntil.Load(); u == 0 || now >= u {
			return true
		}
	}
	return false
}

// Complete sends req to an endpoint serving req.Model and returns its
// response, failing over to another route on a retryable error while
// attempts, the deadline and the retry budget allow. req is not modified;
// the response's Model is the upstream's. Errors are *llm.Error: the
// provider's own when it is not retryable, KindNotFound for an unknown
// model, KindRateLimited when every attempt got a 429, else KindUnavailable
// wrapping the last failure.
func (r *Router) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
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
		now := r.mono(start)
		i, l := r.pick(m, now, tried, false)
		rt := m.routes[i]
		tried = append(tried, int32(i))

		rt.begin()
		resp, err := rt.client.Complete(ctx, r.upstream(req, rt))
		end := r.now()
		rt.inflight.Add(-1)
		d := end.Sub(start)
		if err == nil && resp == nil {
			err = &llm.Error{Kind: llm.KindServer, Retryable: true, Endpoint: rt.endpoint, Message: "empty response"}
		}
		if err == nil {
			r.succeeded(rt, l, r.mono(end), d)
			if r.obs != nil {
				r.obs.Attempt(rt.endpoint, m.name, d, 0, resp.Usage, nil)
			}
			if tr != nil {
				tr.add(m, rt, start, d, nil)
				tr.finish(rt, resp.Usage)
			}
			return resp, nil
		}
		e := r.attemptFailed(ctx, rt, l, r.mono(end), err)
		if r.obs != nil {
			r.obs.Attempt(rt.endpoint, m.name, d, 0, nil, err)
		}
		if tr != nil {
			tr.add(m, rt, start, d, err)
		}
		if stop := r.next(ctx, m, &f, len(tried), e, err, end, rt.endpoint); stop != nil {
			return nil, stop
		}
		start = end
	}
}

// upstream returns the request to send on rt: req itself when the names
// agree (no copy on the common path), else a shallow copy renamed.
func (r *Router) upstream(req *llm.Request, rt *route) *llm.Request {
	if req.Model == rt.upstream {
		return req
	}
	up := *req
	up.Model = rt.upstream
	return &up
}

// succeeded records a successful non-streamed attempt of latency d.
func (r *Router) succeeded(rt *route, l lease, now int64, d time.Duration) {
	rt.alive(r, l)
	rt.stats.observeSuccess(now, r.tau, d, -1)
}

// attemptFailed updates rt's health after a failed attempt and returns the
// error as an *llm.Error. Once the caller's context is done, a failure says
// nothing about the endpoint: a short client deadline must not eject a
// healthy endpoint (the provider's own timeouts catch a hanging one).
func (r *Router) attemptFailed(ctx context.Context, rt *route, l lease, now int64, err error) *llm.Error {
	e := llm.AsError(err)
	out := classify(e)
	if ctx.Err() != nil {
		out = outNeutral
	}
	switch out {
	case outFailure:
		rt.failed(r, l, now)
		rt.stats.observeRates(now, r.tau, true, false)
	case outRateLimited:
		// A 429 proves the endpoint alive: it is full, not dead.
		rt.alive(r, l)
		rt.rateLimited(now, e.RetryAfter)
		rt.stats.observeRates(now, r.tau, false, true)
	default:
		rt.release(l)
	}
	return e
}

// failover is what a request's failed attempts add up to.
type failover struct {
	last       *llm.Error
	only429    bool
	retryAfter time.Duration // smallest 429 Retry-After seen
}

// next decides after the attempts-th attempt, on endpoint from, failed: nil
// to try another route, else the error to return. err is the attempt's
// error, e its *llm.Error form.
func (r *Router) next(ctx context.Context, m *model, f *failover, attempts int, e *llm.Error, err error, end time.Time, from string) error {
	switch e.Kind {
	case llm.KindInvalidRequest, llm.KindTooLarge, llm.KindCanceled, llm.KindContentFilter:
		return err
	}
	if !e.Retryable {
		return err
	}
	if f.last == nil {
		f.only429 = true
	}
	f.last = e
	if e.Kind == llm.KindRateLimited {
		ra := e.RetryAfter
		if ra <= 0 {
			ra = DefaultRateLimitBackoff
		}
		if f.retryAfter == 0 || ra < f.retryAfter {
			f.retryAfter = ra
		}
	} else {
		f.only429 = false
	}

	switch {
	case attempts >= r.cfg.MaxAttempts || attempts >= len(m.routes):
		return r.exhausted(m, f, end)
	case ctx.Err() != nil:
		if errors.Is(ctx.Err(), context.Canceled) {
			return llm.AsError(ctx.Err())
		}
		return r.exhausted(m, f, end)
	}
	if dl, ok := ctx.Deadline(); ok && dl.Sub(end) < r.cfg.MinAttemptTime {
		return r.exhausted(m, f, end)
	}
	if !r.budget.retry(r.mono(end)) {
		return r.exhausted(m, f, end)
	}
	if r.obs != nil {
		r.obs.Failover(m.name, from, e.Kind)
	}
	return nil
}

// exhausted returns the error of a request whose attempts all failed.
func (r *Router) exhausted(m *model, f *failover, end time.Time) error {
	if f.only429 {
		return &llm.Error{
			Kind:       llm.KindRateLimited,
			Code:       "rate_limit_exceeded",
			Message:    fmt.Sprintf("Rate limit reached for model %s on every endpoint; retry later.", m.name),
			Retryable:  true,
			RetryAfter: f.retryAfter,
			Err:        f.last,
		}
	}
	// Retry-After is when the first route is back, if all are out; with a
	// route available now (attempts or budget ran out) it is unknown.
	now := r.mono(end)
	var soonest int64
	for _, rt := range m.routes {
		u := max(rt.ejectedUntil.Load(), rt.rateLimitedUntil.Load())
		if u <= now {
			soonest = 0
			break
		}
		if soonest == 0 || u < soonest {
			soonest = u
		}
	}
	var ra time.Duration
	if soonest != 0 {
		ra = time.Duration(soonest - now)
	}
	return &llm.Error{
		Kind:       llm.KindUnavailable,
		Message:    fmt.Sprintf("No endpoint could serve model %s.", m.name),
		Retryable:  true,
		RetryAfter: ra,
		Err:        f.last,
	}
}

// unknownModel is the OpenAI-shaped 404 for a model no route serves.
func unknownModel(name string) error {
	return &llm.Error{
		Kind:    llm.KindNotFound,
		Code:    "model_not_found",
		Param:   "model",
		Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", name),
	}
}
