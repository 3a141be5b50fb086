package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/queue"
	"github.com/floodgate-dev/floodgate/internal/store/postgres"
	"github.com/floodgate-dev/floodgate/internal/store/redis"
	"github.com/floodgate-dev/floodgate/internal/store/sqlite"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// Streams of Q2. Runs are a work queue: each async run goes to one worker
// and leaves the stream when done. Feedback is kept (for its max age) for
// evaluation to consume. Usage records go to the ledger's own stream (see
// startLedger).
const (
	streamRuns     = "FLOODGATE_RUNS"
	streamFeedback = "FLOODGATE_FEEDBACK"
	streamSummary  = "FLOODGATE_SUMMARIES"
	durableRuns    = "floodgate-runs"
	durableSummary = "floodgate-summaries"
	// runDeliveries is both the consumer's MaxDeliver and the engine's
	// RunAttempts, so the engine records a run as failed on its last try.
	runDeliveries = 5
)

// sessionStore is what the app needs of a store backend beyond what the
// engine uses: its reaper, if it has one, and closing it.
type sessionStore interface {
	engine.Sessions
	Close() error
}

// reaper is a backend that deletes expired rows itself (SQLite,
// PostgreSQL; Redis expires keys).
type reaper interface {
	Run(ctx context.Context) error
}

// openStore opens the configured session store.
func openStore(ctx context.Context, c config.Sessions) (sessionStore, error) {
	switch c.Backend {
	case config.StoreRedis:
		return redis.Open(ctx, redis.Config{URL: c.RedisURL, TTL: c.TTL})
	case config.StorePostgres:
		return postgres.Open(ctx, postgres.Config{DSN: c.PostgresDSN, TTL: c.TTL})
	default:
		if dir := filepath.Dir(c.Path); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("sessions: %w", err)
			}
		}
		return sqlite.Open(ctx, sqlite.Config{Path: c.Path, TTL: c.TTL})
	}
}

// openQueue opens Q2 and makes sure its streams exist.
func openQueue(ctx context.Context, c config.Queue) (*queue.Queue, error) {
	q, err := queue.Open(ctx, queue.Config{URL: c.URL, DataDir: c.DataDir, Name: "floodgate"})
	if err != nil {
		return nil, err
	}
	for _, sc := range []queue.StreamConfig{
		{Name: streamRuns, Subjects: []string{engine.SubjectRuns}, WorkQueue: true},
		{Name: streamFeedback, Subjects: []string{engine.SubjectFeedback}},
		{Name: streamSummary, Subjects: []string{engine.SubjectSummaries}, WorkQueue: true},
	} {
		if err := q.EnsureStream(ctx, sc); err != nil {
			q.Close()
			return nil, err
		}
	}
	return q, nil
}

// newRegistry builds the tools of the configuration.
func newRegistry(cfg *config.Config, obs tool.Observer) (*tool.Registry, error) {
	rc := tool.RegistryConfig{Observer: obs}
	for _, t := range cfg.Tools {
		var params json.RawMessage
		if t.Parameters != nil {
			b, err := json.Marshal(t.Parameters)
			if err != nil {
				return nil, fmt.Errorf("tool %s: parameters: %w", t.Name, err)
			}
			params = b
		}
		rc.HTTP = append(rc.HTTP, tool.HTTPConfig{
			Name: t.Name, Description: t.Description, Method: t.Method, URL: t.URL,
			Headers: t.Headers, Parameters: params, Timeout: t.Timeout,
			Retries: *t.Retries, MaxResponseBytes: t.MaxResponseBytes,
		})
	}
	for _, m := range cfg.MCPServers {
		rc.MCP = append(rc.MCP, tool.MCPServerConfig{
			Name: m.Name, Transport: m.Transport, URL: m.URL, Command: m.Command,
			Env: m.Env, Headers: m.Headers, Prefix: m.Prefix, CallTimeout: m.CallTimeout,
		})
	}
	return tool.NewRegistry(rc)
}

// engineAgents turns the configured agents into the engine's.
func engineAgents(cfg *config.Config) []engine.Agent {
	agents := make([]engine.Agent, 0, len(cfg.Agents))
	for _, a := range cfg.Agents {
		agents = append(agents, engine.Agent{
			Name: a.Name, Description: a.Description, Instructions: a.Instructions,
			Model: a.Model, SimpleModel: a.SimpleModel,
			Tools: a.Tools, Handoffs: a.Handoffs,
			Limits: engine.Limits{
				MaxToolCalls: a.Limits.MaxToolCalls, MaxTurns: a.Limits.MaxTurns, Deadline: a.Limits.Deadline,
			},
			Context: contextPolicy(a.Context),
			Intent:  a.Intent, Routing: a.Routing, Degrade: a.Degrade,
		})
	}
	return agents
}

// ledgerUsage hands the engine's usage records to the app's ledger, which
// is built after the engine: it reads a.ledger at each record, and drops
// records while there is no ledger (usage.backend none).
type ledgerUsage struct{ a *app }

func (u ledgerUsage) Publish(r *ledger.Record) bool {
	if l := u.a.ledger; l != nil && l.publisher != nil {
		return l.publisher.Publish(r)
	}
	return false
}

// toolResultFilter returns the engine's hook that runs every tool result
// through the app's prompt filter, built after the engine: it reads
// a.promptFilter at each call, and passes results through while there is
// none.
func (a *app) toolResultFilter() func(ctx context.Context, tenant, tool, content string) string {
	return func(ctx context.Context, tenant, tool, content string) string {
		f := a.promptFilter
		if f == nil {
			return content
		}
		return f.CheckToolResult(ctx, tenant, tool, content).Content
	}
}

// contextPolicy turns an agent's configured context policy into the
// engine's. Nil lists stay nil: they mean the built-in defaults.
func contextPolicy(c config.ContextPolicy) engine.ContextPolicy {
	p := engine.ContextPolicy{
		RecentTurns: c.RecentTurns, MaxTokens: c.MaxTokens, SummaryTokens: c.SummaryTokens,
		ContextLimit: c.ContextLimit, ReplyTokens: c.ReplyTokens, MaxPendingTurns: c.MaxPendingTurns,
		Facts: ctxwindow.FactsPolicy{Max: c.Facts.Max, Builtins: c.Facts.Builtins},
	}
	for _, pt := range c.Facts.Patterns {
		p.Facts.Patterns = append(p.Facts.Patterns, ctxwindow.Pattern{Kind: pt.Kind, Regexp: pt.Regexp})
	}
	if c.Facts.ToolFields != nil {
		p.Facts.ToolFields = make([]ctxwindow.ToolField, 0, len(c.Facts.ToolFields))
		for _, f := range c.Facts.ToolFields {
			p.Facts.ToolFields = append(p.Facts.ToolFields, ctxwindow.ToolField{Field: f.Field, Kind: f.Kind})
		}
	}
	return p
}
