package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/admission"
	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/promptfilter"
	"github.com/floodgate-dev/floodgate/internal/ratelimit"
)

// Limiter enforces tenants' rate limits and spend budgets, in process or
// across the cluster; *ratelimit.Limiter satisfies it.
type Limiter interface {
	Allow(ctx context.Context, asks ...ratelimit.Ask) (ratelimit.Decision, error)
	Adjust(ctx context.Context, asks ...ratelimit.Ask)
	ReserveSpend(ctx context.Context, key string, b ratelimit.Budget, estimate int64) (ratelimit.Spend, error)
	SettleSpend(ctx context.Context, r ratelimit.Reservation, actual int64)
}

// Admitter is the node's admission queue (Q1); *admission.Queue satisfies
// it. Load is its utilisation, which the peak policies read.
type Admitter interface {
	Admit(ctx context.Context, t admission.Ticket) (admission.Permit, error)
	Load() float64
}

// PromptFilter judges a request's user messages (and the tool results a
// client sends) for prompt injection; *promptfilter.Filter satisfies it.
type PromptFilter interface {
	Check(ctx context.Context, tenant string, msgs []llm.Message) promptfilter.Verdict
}

// filter runs the prompt filter over msgs. It returns the messages to go on
// with, or the error to answer when they are blocked. A flagged or
// sanitised request says so in X-Floodgate-Prompt-Filter.
func (s *Server) filter(ctx context.Context, x *exchange, id *Identity, msgs []llm.Message) ([]llm.Message, error) {
	if s.cfg.Filter == nil {
		return msgs, nil
	}
	v := s.cfg.Filter.Check(ctx, id.Tenant, msgs)
	if v.Blocked() {
		return nil, v.Err()
	}
	if v.Action != promptfilter.ActionAllow {
		x.Header()[hdrPromptFilter] = []string{string(v.Action)}
	}
	return v.Messages, nil
}

// Response headers of the guard.
const (
	// hdrDegraded says why an answer came from a lower rung than the
	// model: shed or queue_timeout (admission), budget (soft limit), peak.
	hdrDegraded = "X-Floodgate-Degraded"
	// hdrModelChoice is the model a request was moved to and why.
	hdrModelChoice = "X-Floodgate-Model-Choice"
	// hdrPromptFilter is what the prompt filter did to a request it did
	// not block: flag, sanitise or quarantine.
	hdrPromptFilter = "X-Floodgate-Prompt-Filter"
)

// guardErrors in OpenAI's words.
var (
	errConcurrency = &llm.Error{Kind: llm.KindRateLimited, Code: "concurrency_limit_exceeded",
		Message: "Too many concurrent requests for your organization. Please wait for one to finish and try again.", RetryAfter: time.Second}
	errQuota = &llm.Error{Kind: llm.KindRateLimited, Type: "insufficient_quota", Code: "insufficient_quota",
		Message: "You exceeded your current quota: your organization's spend budget is used up. Please raise the budget or wait for the next period."}
	errLimiter = &llm.Error{Kind: llm.KindUnavailable, Code: "rate_limiter_unavailable",
		Message: "The rate limiter is unavailable; please retry shortly.", Retryable: true, RetryAfter: time.Second}
)

// tenantGuard is what the guard knows of one tenant: the asks of its
// limits, its budget and its running count on this node. It is compiled
// once from Config and shared by the tenant's requests.
type tenantGuard struct {
	key          string // "tenant:<id>": the limiter's key for everything of the tenant
	requests     ratelimit.Limit
	tokens       ratelimit.Limit
	maxRunning   int64
	budget       ratelimit.Budget
	softModel    string
	priority     int
	queueTimeout time.Duration
	peak         *Peak
	softPrice    Price
	running      atomic.Int64
}

// tenantGuard compiles t's guard from its tier, or returns nil when nothing
// would limit it.
func (s *Server) tenantGuard(t Tenant, tier Tier) (*tenantGuard, error) {
	lim := tier.Limits
	if t.Limits != nil {
		lim = *t.Limits
	}
	if lim.negative() {
		return nil, errors.New("negative limit")
	}
	g := &tenantGuard{
		key:          "tenant:" + t.ID,
		requests:     ratelimit.Limit{Rate: int64(lim.RequestsPerMinute), Period: time.Minute},
		tokens:       ratelimit.Limit{Rate: int64(lim.TokensPerMinute), Period: time.Minute, Burst: tokenBurst(lim.TokensPerMinute)},
		maxRunning:   int64(lim.MaxConcurrentRuns),
		budget:       t.Budget,
		softModel:    t.SoftModel,
		priority:     tier.Priority,
		queueTimeout: tier.QueueDeadline,
		peak:         tier.Peak,
	}
	if g.softModel == "" {
		g.softModel = s.catalog.cheapest()
	}
	if g.softModel != "" {
		g.softPrice = s.catalog.price(g.softModel)
	}
	return g, nil
}

// tokenBurst is the burst of a tokens-per-minute limit: ten seconds' worth.
// Requests keep the limiter's default burst (a fiftieth of the rate, which
// holds any minute to 1.02× the limit), but one request takes its whole
// token estimate at once, so a token limit needs room for a few of them.
func tokenBurst(perMinute int) int64 {
	return max(int64(perMinute)/6, 1)
}

func (g *tenantGuard) limited() bool {
	return g.requests.Rate > 0 || g.tokens.Rate > 0
}

func (g *tenantGuard) budgeted() bool {
	b := g.budget
	return b.Day.Soft > 0 || b.Day.Hard > 0 || b.Month.Soft > 0 || b.Month.Hard > 0
}

// pass is one request's way through the guard: what it holds and must give
// back once answered. The zero pass holds nothing.
type pass struct {
	g       *tenantGuard
	tokens  int64 // the tokens estimate taken from the limiter
	spend   ratelimit.Reservation
	permit  admission.Permit
	running bool
	price   Price
}

// guardIn runs a request past its tenant's concurrency cap, rate limits and
// budget and, when admit is set, the node's admission queue. estTokens is
// the request's token estimate (prompt and completion), estCost its
// estimated cost in micro-dollars (0: check only). The answer's headers
// get the rate-limit and spend figures. On refusal it returns the error to
// answer with (a 429 with Retry-After, or the admission error); soft is
// set when the tenant is past its soft budget.
func (s *Server) guardIn(ctx context.Context, x *exchange, id *Identity, estTokens, estCost int64, admit bool) (p pass, soft bool, err error) {
	g := id.guard
	if g == nil {
		return pass{}, false, nil
	}
	p.g = g
	if g.maxRunning > 0 {
		if g.running.Add(1) > g.maxRunning {
			g.running.Add(-1)
			return pass{}, false, errConcurrency
		}
		p.running = true
	}
	fail := func(e error) (pass, bool, error) {
		s.guardOut(context.WithoutCancel(ctx), &p, nil, 0)
		return pass{}, false, e
	}
	if s.cfg.Limiter != nil && g.limited() {
		var asks [2]ratelimit.Ask
		n := 0
		if g.requests.Rate > 0 {
			asks[n] = ratelimit.Ask{Key: g.key, Kind: ratelimit.Requests, Limit: g.requests, N: 1}
			n++
		}
		if g.tokens.Rate > 0 {
			asks[n] = ratelimit.Ask{Key: g.key, Kind: ratelimit.Tokens, Limit: g.tokens, N: estTokens}
			n++
		}
		d, lerr := s.cfg.Limiter.Allow(ctx, asks[:n]...)
		if lerr != nil {
			if ctx.Err() != nil {
				return fail(llm.AsError(ctx.Err()))
			}
			return fail(errLimiter)
		}
		d.SetHeaders(x.Header())
		if !d.Allowed {
			return fail(rateLimited(&d))
		}
		if g.tokens.Rate > 0 {
			p.tokens = estTokens
		}
	}
	if s.cfg.Limiter != nil && g.budgeted() {
		sp, serr := s.cfg.Limiter.ReserveSpend(ctx, g.key, g.budget, estCost)
		if serr != nil {
			return fail(llm.AsError(serr))
		}
		sp.SetHeaders(x.Header())
		switch sp.State {
		case ratelimit.HardLimit:
			return fail(errQuota)
		case ratelimit.SoftLimit:
			soft = true
		}
		p.spend = sp.Reservation
	}
	if admit && s.cfg.Admission != nil {
		pm, aerr := s.cfg.Admission.Admit(ctx, admission.Ticket{Priority: g.priority, MaxWait: g.queueTimeout, Tier: id.Tier})
		if aerr != nil {
			return fail(aerr)
		}
		p.permit = pm
	}
	return p, soft, nil
}

// guardOut gives back what p holds once the request is answered: the
// admission slot, the running count, and the difference between the
// estimate and the usage on the tenant's token limit, and it charges the
// cost (USD) to the tenant's budget. usage nil leaves the estimate
// standing.
func (s *Server) guardOut(ctx context.Context, p *pass, usage *llm.Usage, cost float64) {
	if p.g == nil {
		return
	}
	p.permit.Release()
	if p.running {
		p.g.running.Add(-1)
	}
	if s.cfg.Limiter == nil {
		return
	}
	if usage != nil && p.g.tokens.Rate > 0 {
		if d := int64(usage.TotalTokens) - p.tokens; d != 0 {
			s.cfg.Limiter.Adjust(ctx, ratelimit.Ask{Key: p.g.key, Kind: ratelimit.Tokens, Limit: p.g.tokens, N: d})
		}
	}
	if p.g.budgeted() {
		if cost == 0 && usage != nil {
			cost = p.price.Cost(usage)
		}
		s.cfg.Limiter.SettleSpend(ctx, p.spend, ratelimit.MicroUSD(cost))
	}
}

// rateLimited is the 429 for a refused Decision, worded as OpenAI words it.
func rateLimited(d *ratelimit.Decision) *llm.Error {
	what, st := "requests", d.Requests
	if d.DeniedKind == ratelimit.Tokens {
		what, st = "tokens", d.Tokens
	}
	msg := "Rate limit reached for " + what + " per minute: Limit " + strconv.FormatInt(st.Limit, 10) +
		", Remaining " + strconv.FormatInt(max(st.Remaining, 0), 10) +
		". Please try again in " + ratelimit.FormatReset(d.RetryAfter) + "."
	return &llm.Error{Kind: llm.KindRateLimited, Code: "rate_limit_exceeded", Type: what, Message: msg,
		RetryAfter: max(d.RetryAfter, time.Millisecond)}
}

// shedReason names an admission refusal for the degraded header and the
// run result, or "" when err is not one.
func shedReason(err error) string {
	switch {
	case errors.Is(err, admission.ErrShed):
		return "shed"
	case errors.Is(err, admission.ErrExpired):
		return "queue_timeout"
	}
	return ""
}

// estimateTokens guesses a request's tokens before it runs: a token for
// every four bytes of its body (what OpenAI's own guidance says of
// English) plus the completion it may write. The limiter is corrected from
// the usage afterwards, so the guess only has to be cheap and not wildly
// low.
func estimateTokens(bodyBytes int, maxOut int) int64 {
	return int64(bodyBytes/4 + maxOut)
}

// Price is a model's price in USD per million tokens, for spend estimates
// and for charging budgets.
type Price struct {
	Input, CachedInput, Output float64
}

// Cost returns what u costs at p, in USD.
func (p Price) Cost(u *llm.Usage) float64 {
	if u == nil {
		return 0
	}
	cached := 0
	if u.PromptTokensDetails != nil {
		cached = u.PromptTokensDetails.CachedTokens
	}
	cp := p.CachedInput
	if cp == 0 {
		cp = p.Input
	}
	return (float64(u.PromptTokens-cached)*p.Input + float64(cached)*cp + float64(u.CompletionTokens)*p.Output) / 1e6
}

// Peak moves a tier to a lighter model when the node's admission queue is
// busier than LoadAbove or the clock is inside one of Windows.
type Peak struct {
	// Model is what the tier's requests go to at peak.
	Model string
	// LoadAbove is the admission utilisation above which it is peak; 0
	// means load never makes a peak.
	LoadAbove float64
	// Windows are daily periods of peak in Location.
	Windows  []Window
	Location *time.Location
}

// Window is a daily period from Start to End, offsets from midnight; End
// before Start wraps midnight.
type Window struct{ Start, End time.Duration }

// active reports whether it is peak at now with the admission load.
func (p *Peak) active(now time.Time, load float64) (string, bool) {
	if p == nil || p.Model == "" {
		return "", false
	}
	if p.LoadAbove > 0 && load > p.LoadAbove {
		return "peak_load", true
	}
	if len(p.Windows) == 0 {
		return "", false
	}
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	t := now.In(loc)
	off := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second
	for _, w := range p.Windows {
		if w.Start < w.End && off >= w.Start && off < w.End || w.Start > w.End && (off >= w.Start || off < w.End) {
			return "peak_window", true
		}
	}
	return "", false
}

// routeHints tells the engine what its model policy needs to know of the
// caller: the tier, the models the tier may use, how busy this node is and
// whether the tenant is past its soft budget.
func (s *Server) routeHints(req *engine.RunRequest, id *Identity, soft bool) {
	req.Tier, req.Lang = id.Tier, id.Lang
	req.Models = id.policy.Tier.Models
	req.BudgetSoft = soft
	if s.cfg.Admission != nil {
		req.Load = s.cfg.Admission.Load()
	}
}

// RefusedTurn is an agent turn refused before it ran, as Config.Fallback
// sees it.
type RefusedTurn struct {
	Tenant, Tier, Lang, Agent, Session, User, Input string
	// Reason is why: shed or queue_timeout (admission), budget_exhausted
	// (the tenant's hard budget), prompt_filter_block.
	Reason string
}

// Fallback is Config.Fallback's answer to a refused turn.
type Fallback struct {
	// Text is the answer; "" when there is none.
	Text string
	// Status is the run's status: degraded, or handed_off when a person
	// took the turn. "" means degraded.
	Status string
	// Rung is the kind of the ladder's rung that answered.
	Rung string
}

// Reasons of refused agent turns besides admission's.
const (
	reasonBudget = "budget_exhausted"
	reasonFilter = "prompt_filter_block"
)

// refusal names a refusal of an agent turn that Config.Fallback answers, or
// "" when err is not one: admission's shed and queue timeout, and the
// tenant's hard budget.
func refusal(err error) string {
	if err == errQuota {
		return reasonBudget
	}
	return shedReason(err)
}

// fallback answers a refused agent turn: Config.Fallback's answer, else
// ShedAnswer for a shed turn. ok is false when there is no answer and the
// refusal's error stands.
func (s *Server) fallback(ctx context.Context, t RefusedTurn) (Fallback, bool) {
	var f Fallback
	if s.cfg.Fallback != nil {
		f = s.cfg.Fallback(ctx, t)
	}
	if f.Text == "" {
		if t.Reason == reasonBudget || t.Reason == reasonFilter {
			return f, false
		}
		f = Fallback{Text: s.cfg.ShedAnswer, Rung: "message"}
	}
	if f.Status == "" {
		f.Status = engine.StatusDegraded
	}
	return f, true
}

// setDegraded marks the answer as coming from a lower rung.
func setDegraded(h http.Header, reason string) {
	h[hdrDegraded] = []string{reason}
}
