package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// Subjects of summary jobs: a job for a session of tenant T is published
// on SummarySubject(T), which SubjectSummaries matches. Publish them on a
// work-queue stream, and give HandleSummaryMessage to a worker consuming
// it.
const (
	SubjectSummaries       = "summaries.>"
	subjectSummariesPrefix = "summaries."
)

// SummarySubject returns the subject summary jobs of tenant are published
// on: "summaries." and the tenant id escaped as RunSubject escapes it.
func SummarySubject(tenant string) string { return tenantSubject(subjectSummariesPrefix, tenant) }

// buildWindow lays out the messages of the next model call (see
// ctxwindow.Manager.Build). After a handoff with a HandoffFilter, what
// came before the handoff goes through the filter, as the receiving agent
// sees it, and anything a filter left orphaned is dropped.
func (r *run) buildWindow(sys string, tools []llm.Tool) (ctxwindow.Window, error) {
	m := r.agent.ctx
	in := ctxwindow.Input{System: sys, Tools: tools, History: r.sess.Turns, Current: r.turn}
	w, err := m.Build(&in, r.window[:0])
	if err != nil || len(r.marks) == 0 {
		return w, err
	}
	sysMsg := w.Messages[0]
	hist := w.Messages[1 : len(w.Messages)-w.Current]
	msgs := r.filtered(sysMsg, hist)
	n := m.Count(msgs, tools)
	if n > m.HardLimit() {
		msgs = r.filtered(sysMsg, nil)
		if n = m.Count(msgs, tools); n > m.HardLimit() {
			return w, ctxwindow.ErrTooLarge
		}
		w.Turns, w.Compact, w.FirstSeq = 0, 0, 0
	}
	w.Messages, w.Tokens = msgs, n
	return w, nil
}

// filtered returns the system message, then hist and the turn so far as
// the run's handoff filters leave them: each handoff's filter applied to
// everything before it.
func (r *run) filtered(sys llm.Message, hist []llm.Message) []llm.Message {
	prefix := append([]llm.Message(nil), hist...)
	at := 0
	for _, h := range r.marks {
		prefix = append(prefix, r.turn[at:h.at]...)
		prefix = r.e.filter(h.from, h.to, prefix)
		at = h.at
	}
	out := make([]llm.Message, 0, 1+len(prefix)+len(r.turn)-at)
	out = append(out, sys)
	out = append(out, prefix...)
	out = append(out, r.turn[at:]...)
	return ctxwindow.Sanitize(out)
}

// queueSummary publishes the summary job the stored turn seq calls for,
// if turns left the window. A failure is logged: the turn is stored, and
// the next turn's job covers these turns too.
func (r *run) queueSummary(ctx context.Context, seq int64) {
	e, q := r.e, r.req
	if e.pub == nil || e.summaries == nil || r.res.ModelCalls == 0 {
		return
	}
	job, ok := r.agent.ctx.Job(q.Tenant, q.SessionID, r.sess.Summary.UpToSeq, seq, r.win)
	if !ok {
		return
	}
	data, err := json.Marshal(job)
	if err == nil {
		err = e.pub.Publish(ctx, SummarySubject(q.Tenant), job.ID(), data, nil)
	}
	if err != nil {
		e.log.Warn("publish summary job", "tenant", q.Tenant, "session", q.SessionID, "to", job.To, "err", err)
	}
}

// HandleSummaryMessage runs the summary job a queue message carries (see
// ctxwindow.Manager.Fold): the agent's small model folds the turns that
// left the window into the session's running summary, and their facts are
// pinned. It is the handler of the worker consuming SubjectSummaries, and
// deliveries is the message's delivery count. Jobs are idempotent: one
// whose turns a summary already covers does nothing. A nil return means
// "acknowledge"; a failure of the model or the store returns an error,
// for another delivery, up to Config.RunAttempts deliveries, after which
// the job is dropped with a log line (the next job of the session covers
// its turns). Malformed jobs, unknown agents and stores without summaries
// are dropped with a log line.
func (e *Engine) HandleSummaryMessage(ctx context.Context, data []byte, deliveries int) error {
	var job ctxwindow.Job
	if err := json.Unmarshal(data, &job); err != nil || job.Tenant == "" || job.Session == "" || job.To < 1 {
		e.log.Error("malformed summary job dropped", "data", truncate(string(data), 200), "err", err)
		return nil
	}
	if e.summaries == nil {
		e.log.Warn("summary job dropped: the session store keeps no summaries", "tenant", job.Tenant, "session", job.Session)
		return nil
	}
	a := e.agents[job.Agent]
	if a == nil {
		e.log.Warn("summary job for an unknown agent dropped", "agent", job.Agent, "session", job.Session)
		return nil
	}
	// The summary's model call is metered as the session's, with intent
	// IntentSummary.
	mctx := withCallInfo(ctx, &callInfo{tenant: job.Tenant, session: job.Session, agent: job.Agent, intent: IntentSummary})
	_, err := a.ctx.Fold(mctx, meteredModel{e}, e.summaries, job)
	if err == nil {
		return nil
	}
	if deliveries < e.attempts && !errors.Is(err, store.ErrInvalid) {
		return fmt.Errorf("summary of %s up to turn %d: %w", job.Session, job.To, err)
	}
	e.log.Error("summary job failed for good", "tenant", job.Tenant, "session", job.Session, "to", job.To, "err", err)
	return nil
}

// sessionFacts puts on s the facts its next request would see.
func (e *Engine) sessionFacts(s *store.Session) {
	a := e.agents[s.Agent]
	if a == nil {
		a = e.agents[e.names[0]]
	}
	f, err := a.ctx.Facts(s.Facts, s.Summary.UpToSeq, s.Turns)
	if err != nil {
		e.log.Warn("session facts unreadable", "tenant", s.Tenant, "session", s.ID, "err", err)
	}
	s.Facts = f.Encode()
}
