package degrade

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/handoff"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/rules"
	"github.com/floodgate-dev/floodgate/internal/shop"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// published keeps what the handoff service publishes on Q2.
type published struct {
	mu   sync.Mutex
	msgs int
}

func (p *published) Publish(context.Context, string, string, []byte, map[string]string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs++
	return nil
}

// demoShop serves the demo shop and returns it with a tool registry of
// the default configuration's order tools pointing at it.
func demoShop(t *testing.T) (*shop.Shop, *tool.Registry) {
	t.Helper()
	sh, err := shop.Open(context.Background(), shop.Config{Orders: 400})
	require.NoError(t, err)
	srv := httptest.NewServer(sh.Handler())
	t.Cleanup(func() { srv.Close(); _ = sh.Close() })
	params := json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}`)
	reg, err := tool.NewRegistry(tool.RegistryConfig{HTTP: []tool.HTTPConfig{
		{Name: "get_order_status", URL: srv.URL + "/orders/{order_id}", Parameters: params},
		{Name: "track_shipment", URL: srv.URL + "/orders/{order_id}/shipment", Parameters: params},
	}})
	require.NoError(t, err)
	return sh, reg
}

// TestClimbWithRulesAndHandoff climbs the default ladder with every
// model down, with the real rules engine calling the demo shop over HTTP
// and the real handoff service on SQLite: an order question is answered
// by the rules from the shop's data; a complaint gets a ticket.
func TestClimbWithRulesAndHandoff(t *testing.T) {
	sh, reg := demoShop(t)
	ctx := context.Background()
	store, err := handoff.OpenSQLite(ctx, handoff.SQLiteConfig{Path: filepath.Join(t.TempDir(), "handoffs.db")})
	require.NoError(t, err)
	defer store.Close()
	q := &published{}
	svc, err := handoff.New(handoff.Config{Store: store, Queue: q, Acks: HandoffAcks})
	require.NoError(t, err)

	l := defaultLadder(t)
	down := func(context.Context, string) (string, error) {
		return "", &llm.Error{Kind: llm.KindUnavailable, Message: "no healthy endpoint"}
	}
	climb := func(msg, intent, session string) Outcome {
		r, err := rules.Default()
		require.NoError(t, err)
		runner := reg.NewRunner(r.Tools(), tool.Limits{})
		s := Situation{Trigger: NoHealthyEndpoint, Intent: intent, Message: msg, Tier: "vip", Handoff: true, FailedModel: "large"}
		ticket := handoff.Ticket{Tenant: "acme", Session: session, Agent: "support",
			Turns: handoff.CompactTurns([]llm.Message{{Role: llm.RoleUser, Content: llm.Text(msg)}}, 0)}
		return l.Climb(ctx, s, Rungs{
			Model:   down,
			Rules:   RulesVia(rules.RunnerTools(runner), rules.Input{Message: msg, Intent: intent}),
			Handoff: HandoffVia(svc, ticket),
		})
	}

	ids, err := sh.OrderIDs(ctx, shop.StatusInTransit)
	require.NoError(t, err)
	require.NotEmpty(t, ids)
	for _, id := range ids[:min(3, len(ids))] {
		o, err := sh.Order(ctx, id)
		require.NoError(t, err)
		n := strconv.Itoa(id)
		out := climb("Where is my order "+n+"?", "order_status", "s-"+n)
		assert.Equal(t, KindRules, out.Rung, "%+v", out.Attempts)
		assert.Equal(t, StatusDegraded, out.Status)
		assert.Equal(t, NoHealthyEndpoint, out.Reason)
		assert.Contains(t, out.Text, n)
		assert.Contains(t, out.Text, "in transit")
		assert.Contains(t, out.Text, o.Shipment.TrackingNumber)
		assert.Equal(t, []string{"model:small", "rules"}, attemptNames(out))

		out = climb("Wo ist meine Bestellung "+n+"?", "order_status", "d-"+n)
		assert.Equal(t, KindRules, out.Rung)
		assert.Equal(t, "de", out.Lang)
		assert.Contains(t, out.Text, "unterwegs")
	}

	// An order the shop does not have: the rules explain, no handoff.
	out := climb("Where is my order 999999?", "order_status", "s-missing")
	assert.Equal(t, KindRules, out.Rung)
	assert.Contains(t, out.Text, "999999")

	// A complaint: no rule matches, a person takes over.
	out = climb("The courier was rude to me and threw the box over the fence. I want to complain.", "complaint", "s-complaint")
	assert.Equal(t, KindHandoff, out.Rung, "%+v", out.Attempts)
	assert.Equal(t, StatusHandedOff, out.Status)
	tk, ok, err := svc.ActiveFor(ctx, "acme", "s-complaint")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "no_healthy_endpoint", tk.Reason)
	assert.Equal(t, 100, tk.Priority)
	assert.Equal(t, "en", tk.Lang)
	assert.Contains(t, out.Text, tk.ID)
	assert.Equal(t, 1, q.msgs)

	// In French, the acknowledgement is French.
	out = climb("Le livreur a été très impoli avec moi et je ne suis pas content du tout.", "complaint", "f-complaint")
	assert.Equal(t, StatusHandedOff, out.Status)
	assert.Equal(t, "fr", out.Lang)
	assert.Contains(t, out.Text, "service client")

	// The same session again: the open ticket, not a second one.
	again := climb("Hello? Anyone there? I still want to complain.", "complaint", "s-complaint")
	assert.Contains(t, again.Text, tk.ID)
	list, err := svc.List(ctx, handoff.Filter{Tenant: "acme"})
	require.NoError(t, err)
	assert.Len(t, list, 2)
}

func TestRulesViaNoRules(t *testing.T) {
	_, err := RulesVia(nil, rules.Input{Message: "x"})(context.Background(), nil, "en")
	require.Error(t, err)
	r, err := rules.Default()
	require.NoError(t, err)
	_, err = RulesVia(nil, rules.Input{Message: "Tell me a joke"})(context.Background(), r, "en")
	require.ErrorIs(t, err, rules.ErrNoAnswer)
}
