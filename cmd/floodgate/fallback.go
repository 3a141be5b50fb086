package main

import (
	"context"

	"github.com/floodgate-dev/floodgate/internal/degrade"
	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/gateway"
)

// fallback answers agent turns the gateway refused before they ran (shed
// by admission, over the tenant's hard budget, blocked by the prompt
// filter) from the agent's degradation ladder, without a model: the rules
// engine calling the agent's tools, then a friendly message in the
// customer's language. Nil when no agent is configured.
func (a *app) fallback() func(context.Context, gateway.RefusedTurn) gateway.Fallback {
	if a.engine == nil {
		return nil
	}
	return func(ctx context.Context, t gateway.RefusedTurn) gateway.Fallback {
		trigger := degrade.Trigger(t.Reason)
		if t.Reason == "queue_timeout" {
			trigger = degrade.Shed
		}
		res, err := a.engine.Degrade(ctx, engine.RunRequest{Tenant: t.Tenant, Tier: t.Tier, Lang: t.Lang, Agent: t.Agent,
			SessionID: t.Session, UserID: t.User, Input: t.Input}, trigger)
		if err != nil {
			return gateway.Fallback{} // a malformed turn: its refusal stands
		}
		return gateway.Fallback{Text: res.Output, Status: res.Status, Rung: res.Rung}
	}
}
