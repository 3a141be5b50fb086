package engine

import (
	"context"
	"time"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/router"
)

// UsageSink takes usage records off the request path; *ledger.Publisher
// satisfies it. Publish copies the record, must not block and reports
// whether the record was taken (a dropped record is the sink's to count).
type UsageSink interface {
	Publish(*ledger.Record) bool
}

// Intents of the model calls that answer no user turn, in usage records.
const (
	// IntentSummary marks the calls that fold a conversation's older turns
	// into its running summary.
	IntentSummary = "summary"
	// IntentClassify marks the calls of an intent classifier's model
	// stage.
	IntentClassify = "intent_classification"
)

// recordCall publishes the usage record of the run's model call number
// call: its model, endpoint, tokens, cost and latency, or its error.
func (r *run) recordCall(call int, at time.Time, d time.Duration, model string, u *llm.Usage, err error) {
	if r.e.usage == nil {
		return
	}
	q := r.req
	rec := ledger.Record{
		Kind: ledger.KindCall, RunID: q.RunID, Call: call, At: at,
		Tenant: q.Tenant, Tier: q.Tier, UserID: r.user, SessionID: q.SessionID,
		Agent: r.agent.Name, Intent: r.choice.Intent, Model: model, Endpoint: r.trace.Endpoint,
		Cost: ledger.Dollars(r.trace.Cost), Latency: d,
	}
	rec.SetUsage(u)
	rec.SetError(err)
	r.e.usage.Publish(&rec)
}

// recordRun publishes the run's usage record: its outcome and duration,
// and its calls' totals (which breakdowns take from the call records).
func (r *run) recordRun(d time.Duration) {
	if r.e.usage == nil {
		return
	}
	q, res := r.req, &r.res
	rec := ledger.Record{
		Kind: ledger.KindRun, RunID: q.RunID, At: r.start,
		Tenant: q.Tenant, Tier: q.Tier, UserID: r.user, SessionID: q.SessionID,
		Agent: res.Agent, Intent: r.choice.Intent, Model: r.lastModel, Endpoint: r.trace.Endpoint,
		Cost: ledger.Dollars(res.Cost), Latency: d, Status: res.Status, Degraded: res.Status == StatusDegraded,
	}
	rec.SetUsage(&res.Usage)
	if res.Status == StatusFailed || res.Status == StatusDegraded {
		rec.Error = res.Reason // for a degraded run, its trigger
	}
	r.e.usage.Publish(&rec)
}

// callInfo says whose a model call made outside an agent's loop is (an
// intent classification, a summary), for its usage record.
type callInfo struct {
	tenant, tier, user, session string
	agent, intent               string
	runID                       string
}

type callInfoKey struct{}

// withCallInfo returns ctx carrying ci for meteredModel.
func withCallInfo(ctx context.Context, ci *callInfo) context.Context {
	return context.WithValue(ctx, callInfoKey{}, ci)
}

// meteredModel is the Model of the calls the engine makes outside an
// agent's loop (intent classification, summaries): each call gets a
// router trace of its own, so that it never disturbs a run's, and, when
// its context carries a callInfo, a usage record.
type meteredModel struct{ e *Engine }

func (m meteredModel) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	e := m.e
	ci, _ := ctx.Value(callInfoKey{}).(*callInfo)
	if e.usage == nil || ci == nil {
		var tr router.Trace
		return e.model.Complete(router.WithTrace(ctx, &tr), req)
	}
	tr := &router.Trace{}
	t0 := e.now()
	resp, err := e.model.Complete(router.WithTrace(ctx, tr), req)
	d := e.now().Sub(t0)
	failure := err
	if err == nil && len(resp.Choices) == 0 {
		failure = &llm.Error{Kind: llm.KindServer, Message: "the model returned no answer"}
	}
	rec := ledger.Record{
		Kind: ledger.KindCall, RunID: ci.runID, At: t0,
		Tenant: ci.tenant, Tier: ci.tier, UserID: ci.user, SessionID: ci.session,
		Agent: ci.agent, Intent: ci.intent, Model: tr.ModelOf(req), Endpoint: tr.Endpoint,
		Cost: ledger.Dollars(tr.Cost), Latency: d,
	}
	if ci.runID != "" {
		// Not "<run>/<call>": the run's own calls are numbered.
		rec.ID = ci.runID + "/" + ci.intent + "/" + ci.agent
	}
	rec.SetUsage(tr.UsageOf(resp))
	rec.SetError(failure)
	e.usage.Publish(&rec)
	return resp, err
}
