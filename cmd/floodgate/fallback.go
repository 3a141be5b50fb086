package main

import (
	"context"
	"time"

	"github.com/floodgate-dev/floodgate/internal/degrade"
	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/rules"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// shedGrace bounds the rules engine's answer to a shed turn: the node is
// overloaded, so the answer must come fast or not at all.
const shedGrace = 2 * time.Second

// shedFallback answers agent turns that admission shed with the
// degradation ladder's shed rungs: the rules engine (tools called directly,
// no model), then a friendly message in the customer's language. Nil when
// no agent is configured.
func (a *app) shedFallback() (func(context.Context, gateway.ShedTurn) string, error) {
	if a.engine == nil || a.tools == nil {
		return nil, nil
	}
	m, err := degrade.NewMetrics(a.metrics.Registry())
	if err != nil {
		return nil, err
	}
	rs, err := rules.Default()
	if err != nil {
		return nil, err
	}
	ladders := make(map[string]*degrade.Ladder, len(a.cfg.Agents))
	for _, ag := range a.cfg.Agents {
		l, err := degrade.New(degrade.Config{}, degrade.Options{Agent: ag.Name, Rules: rs, Metrics: m})
		if err != nil {
			return nil, err
		}
		ladders[ag.Name] = l
	}
	names := make([]string, 0, len(a.cfg.Tools))
	for _, t := range a.cfg.Tools {
		names = append(names, t.Name)
	}
	return func(ctx context.Context, t gateway.ShedTurn) string {
		l := ladders[t.Agent] // nil for an unknown agent: the built-in apology
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shedGrace)
		defer cancel()
		caller := rules.RunnerTools(a.tools.NewRunner(names, tool.Limits{}))
		out := l.Climb(ctx, degrade.Situation{Trigger: degrade.Shed, Message: t.Input, Tier: t.Tier},
			degrade.Rungs{Rules: degrade.RulesVia(caller, rules.Input{Message: t.Input})})
		return out.Text
	}, nil
}
