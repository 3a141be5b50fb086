package engine

import (
	"context"
	"encoding/json"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// SubjectUsage is the subject of the usage records, one per run (message
// ID: the run ID); the usage ledger consumes them. Publish it on a stream
// with limits retention.
const SubjectUsage = "usage.runs"

// UsageRecord is what one run consumed, as published on SubjectUsage.
type UsageRecord struct {
	RunID      string    `json:"run_id"`
	Tenant     string    `json:"tenant"`
	UserID     string    `json:"user_id,omitempty"`
	SessionID  string    `json:"session_id"`
	Agent      string    `json:"agent"`
	Models     []string  `json:"models"`
	Usage      llm.Usage `json:"usage"`
	Cost       float64   `json:"cost"`
	Status     string    `json:"status"`
	ModelCalls int       `json:"model_calls"`
	ToolCalls  int       `json:"tool_calls"`
	DurationMS int64     `json:"duration_ms"`
	At         time.Time `json:"at"`
}

// publishUsage publishes the run's usage record; a failure is logged, not
// returned: the answer stands without it.
func (r *run) publishUsage(ctx context.Context, d time.Duration) {
	if r.e.pub == nil {
		return
	}
	res := &r.res
	rec := UsageRecord{
		RunID: res.RunID, Tenant: r.req.Tenant, UserID: r.user, SessionID: res.SessionID, Agent: res.Agent,
		Models: res.Models, Usage: res.Usage, Cost: res.Cost, Status: res.Status, ModelCalls: res.ModelCalls,
		ToolCalls: len(res.ToolCalls), DurationMS: d.Milliseconds(), At: r.start.UTC(),
	}
	data, err := json.Marshal(&rec)
	if err == nil {
		err = r.e.pub.Publish(ctx, SubjectUsage, res.RunID, data, nil)
	}
	if err != nil {
		r.e.log.Warn("publish usage record", "run", res.RunID, "err", err)
	}
}
