package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/webhook"
)

// Subjects of async runs: a run of tenant T is published on RunSubject(T),
// which SubjectRuns matches. Publish them on a work-queue stream, and give
// HandleRunMessage to a worker consuming it.
const (
	SubjectRuns       = "runs.>"
	subjectRunsPrefix = "runs."
)

// RunSubject returns the subject async runs of tenant are published on:
// "runs." and the tenant id, its bytes outside [A-Za-z0-9_-] written as
// %XX so that no tenant id can add subject tokens or wildcards.
func RunSubject(tenant string) string { return tenantSubject(subjectRunsPrefix, tenant) }

// tenantSubject returns prefix and the tenant id, its bytes outside
// [A-Za-z0-9_-] written as %XX.
func tenantSubject(prefix, tenant string) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(tenant))
	b.WriteString(prefix)
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' {
			b.WriteByte(c)
			continue
		}
		const hexDigits = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// runMessage is what an async run's queue message carries: the key of its
// record, which holds the request.
type runMessage struct {
	Tenant string `json:"tenant"`
	RunID  string `json:"run_id"`
}

// Submit queues req to run asynchronously: it stores a queued run record
// (whose Request is req as JSON) and publishes the run on
// RunSubject(req.Tenant) with the run ID as message ID, and returns the
// record, the body of a 202. A RunID that already has a record is not
// queued again: its record is returned. req.Stream is ignored. Errors:
// ErrAsyncDisabled, ErrUnknownAgent, ErrInvalidRequest (also for a webhook
// that is not an http(s) URL, or when no WebhookSecret is configured), or
// the store's or the queue's failure.
func (e *Engine) Submit(ctx context.Context, req RunRequest) (*store.Run, error) {
	if e.pub == nil || e.runs == nil {
		return nil, ErrAsyncDisabled
	}
	if _, err := e.check(&req); err != nil {
		return nil, err
	}
	if req.Webhook != "" {
		if len(e.webhook.secret) == 0 {
			return nil, fmt.Errorf("%w: webhooks are not configured", ErrInvalidRequest)
		}
		u, err := url.Parse(req.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: webhook must be an http(s) URL", ErrInvalidRequest)
		}
		// The client refuses internal addresses when it dials (host names
		// included); an address literal is refused here, with a clear 400.
		if a, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && !e.webhook.allowPrivate && !webhook.Public(a) {
			return nil, fmt.Errorf("%w: the webhook's address %s is not public", ErrInvalidRequest, a)
		}
	}
	req.Stream = false
	if req.RunID == "" {
		req.RunID = "run_" + e.newID()
	} else {
		rec, err := e.runs.GetRun(ctx, req.Tenant, req.RunID)
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("read run: %w", err)
		}
	}
	if req.SessionID == "" {
		req.SessionID = "sess_" + e.newID()
	}
	body, err := json.Marshal(&req)
	if err != nil {
		return nil, fmt.Errorf("encode run request: %w", err)
	}
	rec := &store.Run{Tenant: req.Tenant, ID: req.RunID, SessionID: req.SessionID, Agent: req.Agent,
		Status: store.RunQueued, Request: body}
	if err := e.runs.PutRun(ctx, rec); err != nil {
		return nil, fmt.Errorf("store run: %w", err)
	}
	msg, _ := json.Marshal(runMessage{Tenant: req.Tenant, RunID: req.RunID})
	if err := e.pub.Publish(ctx, RunSubject(req.Tenant), req.RunID, msg, nil); err != nil {
		// Nobody will run it: the record must say so rather than stay
		// queued forever.
		res := e.failure(&req, fmt.Errorf("the run could not be queued: %w", err))
		if uerr := e.storeResult(context.WithoutCancel(ctx), &req, res); uerr != nil {
			e.log.Warn("mark unpublished run failed", "run", req.RunID, "err", uerr)
		}
		return nil, fmt.Errorf("publish run: %w", err)
	}
	return rec, nil
}

// GetRun returns a tenant's async run record; its Result, once the run
// ended, is the run's Result as JSON. store.ErrNotFound (wrapped) when
// there is none; ErrAsyncDisabled without a run store.
func (e *Engine) GetRun(ctx context.Context, tenant, id string) (*store.Run, error) {
	if e.runs == nil {
		return nil, ErrAsyncDisabled
	}
	rec, err := e.runs.GetRun(ctx, tenant, id)
	if err != nil {
		return nil, fmt.Errorf("read run: %w", err)
	}
	return rec, nil
}

// HandleRunMessage executes the async run a queue message names; it is
// the handler of the worker consuming SubjectRuns, and deliveries is the
// message's delivery count. It is idempotent, as at-least-once delivery
// needs: a run whose record has ended is acknowledged without running
// again, and a run interrupted after its turn was stored is answered from
// the stored turn (RunID is the turn's idempotency key).
//
// It marks the record running, runs it, stores the Result with its final
// status and then posts the webhook, if any (signed, retried with back-off
// a few times, the outcome recorded in the Result). A nil return means
// "acknowledge". Failures that another delivery may not meet (the lease
// busy, the store unreachable, the worker shutting down) return an error
// so that the message is delivered again, up to Config.RunAttempts
// deliveries; after that, and for failures no retry can fix, the run is
// recorded as failed. Malformed messages and runs whose record has expired
// are dropped with a log line.
func (e *Engine) HandleRunMessage(ctx context.Context, data []byte, deliveries int) error {
	if e.runs == nil {
		return ErrAsyncDisabled
	}
	var m runMessage
	if err := json.Unmarshal(data, &m); err != nil || m.Tenant == "" || m.RunID == "" {
		e.log.Error("malformed run message dropped", "data", truncate(string(data), 200), "err", err)
		return nil
	}
	rec, err := e.runs.GetRun(ctx, m.Tenant, m.RunID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e.log.Warn("run message without a record dropped", "tenant", m.Tenant, "run", m.RunID)
		return nil
	case err != nil:
		return fmt.Errorf("read run %s: %w", m.RunID, err)
	case ended(rec.Status):
		return nil
	}
	var req RunRequest
	if err := json.Unmarshal(rec.Request, &req); err != nil {
		req = RunRequest{Tenant: m.Tenant, RunID: m.RunID, SessionID: rec.SessionID, Agent: rec.Agent}
		return e.complete(ctx, &req, e.failure(&req, fmt.Errorf("%w: the stored request is unreadable", ErrInvalidRequest)))
	}
	req.Tenant, req.RunID, req.Stream = m.Tenant, m.RunID, false
	if _, err := e.runs.UpdateRun(ctx, m.Tenant, m.RunID, func(r *store.Run) error {
		r.Status = store.RunRunning
		r.Attempts++
		return nil
	}); err != nil {
		return fmt.Errorf("mark run %s running: %w", m.RunID, err)
	}
	res, err := e.Run(ctx, req, nil)
	if err != nil {
		if retryable(err) && deliveries < e.attempts {
			return fmt.Errorf("run %s: %w", m.RunID, err)
		}
		res = e.failure(&req, err)
	}
	return e.complete(ctx, &req, res)
}

// complete stores an async run's final Result and posts its webhook.
func (e *Engine) complete(ctx context.Context, req *RunRequest, res *Result) error {
	// The result is paid for: store it even when the worker is stopping.
	ctx = context.WithoutCancel(ctx)
	if err := e.storeResult(ctx, req, res); err != nil {
		return fmt.Errorf("store run %s result: %w", req.RunID, err)
	}
	if req.Webhook == "" {
		return nil
	}
	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode run result: %w", err)
	}
	res.Webhook = e.deliverWebhook(ctx, req.Webhook, body)
	if err := e.storeResult(ctx, req, res); err != nil {
		e.log.Warn("record webhook delivery", "run", req.RunID, "err", err)
	}
	return nil
}

// storeResult writes res and its status on the run's record.
func (e *Engine) storeResult(ctx context.Context, req *RunRequest, res *Result) error {
	body, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encode run result: %w", err)
	}
	_, err = e.runs.UpdateRun(ctx, req.Tenant, req.RunID, func(r *store.Run) error {
		r.Status, r.Result = res.Status, body
		if r.SessionID == "" {
			r.SessionID = res.SessionID
		}
		return nil
	})
	return err
}

// failure is the Result of an async run that could not run.
func (e *Engine) failure(req *RunRequest, err error) *Result {
	return &Result{RunID: req.RunID, SessionID: req.SessionID, Agent: req.Agent, Status: StatusFailed,
		ToolCalls: []ToolCallRecord{}, Models: []string{}, Error: Describe(err)}
}

// ended reports whether a run record's status is final.
func ended(status string) bool { return status != store.RunQueued && status != store.RunRunning }

// retryable reports whether another delivery of a run that failed with err
// may succeed.
func retryable(err error) bool {
	return !errors.Is(err, ErrUnknownAgent) && !errors.Is(err, ErrInvalidRequest) && !errors.Is(err, store.ErrInvalid)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
