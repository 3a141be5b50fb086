package rules_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/rules"
	"github.com/floodgate-dev/floodgate/internal/shop"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// shopOrders is the size of the test shop: every status has a few orders.
const shopOrders = 1000

// The demo shop and its server are shared by the tests, which only read:
// seeding is the slow part.
var (
	shopOnce sync.Once
	shopShop *shop.Shop
	shopSrv  *httptest.Server
	shopErr  error
)

func closeShop() {
	if shopSrv != nil {
		shopSrv.Close()
	}
	if shopShop != nil {
		_ = shopShop.Close()
	}
}

// demoShop serves the demo shop on a loopback port and returns it with a
// registry of the default configuration's tools pointing at it: the
// tools, URLs and schemas `floodgate serve` runs with.
func demoShop(t testing.TB) (*shop.Shop, *tool.Registry) {
	t.Helper()
	shopOnce.Do(func() {
		rules.AfterTests = append(rules.AfterTests, closeShop)
		shopShop, shopErr = shop.Open(context.Background(), shop.Config{Orders: shopOrders})
		if shopErr == nil {
			shopSrv = httptest.NewServer(shopShop.Handler())
		}
	})
	require.NoError(t, shopErr)
	var rc tool.RegistryConfig
	for _, tc := range config.Default(shopSrv.URL).Tools {
		params, err := json.Marshal(tc.Parameters)
		require.NoError(t, err)
		rc.HTTP = append(rc.HTTP, tool.HTTPConfig{Name: tc.Name, Description: tc.Description, Method: tc.Method,
			URL: tc.URL, Parameters: params, Timeout: tc.Timeout, Retries: *tc.Retries, MaxResponseBytes: tc.MaxResponseBytes})
	}
	reg, err := tool.NewRegistry(rc)
	require.NoError(t, err)
	return shopShop, reg
}

// answer answers msg with the default rules, with a fresh run's tools.
func answer(t *testing.T, reg *tool.Registry, in rules.Input) (*rules.Answer, error) {
	t.Helper()
	r, err := rules.Default()
	require.NoError(t, err)
	return r.Answer(context.Background(), rules.RunnerTools(reg.NewRunner(r.Tools(), tool.Limits{})), in)
}

// TestDefaultRulesAgainstShop asks the built-in rules about real orders
// of every status, in English and German, through the default config's
// HTTP tools against the demo shop, and checks each answer against the
// shop's own data.
func TestDefaultRulesAgainstShop(t *testing.T) {
	sh, reg := demoShop(t)
	ctx := context.Background()
	statuses := []string{shop.StatusProcessing, shop.StatusShipped, shop.StatusInTransit, shop.StatusOutForDelivery,
		shop.StatusDelivered, shop.StatusCancelled, shop.StatusReturnRequested, shop.StatusRefunded}
	for _, status := range statuses {
		ids, err := sh.OrderIDs(ctx, status)
		require.NoError(t, err)
		require.NotEmpty(t, ids, status)
		for _, id := range ids[:min(3, len(ids))] {
			o, err := sh.Order(ctx, id)
			require.NoError(t, err)
			s, err := sh.Shipment(ctx, id)
			require.NoError(t, err)
			n := strconv.Itoa(id)
			t.Run(status+"/"+n, func(t *testing.T) {
				for _, lang := range []string{"en", "de"} {
					msg := map[string]string{"en": "Where is my order " + n + "?", "de": "Wo ist meine Bestellung " + n + "?"}[lang]
					a, err := answer(t, reg, rules.Input{Message: msg, Lang: lang})
					require.NoError(t, err, msg)
					assert.Equal(t, "order_status", a.Rule)
					assert.Equal(t, rules.KindAnswer, a.Kind)
					assert.Equal(t, lang, a.Lang)
					assert.Equal(t, map[string]string{"order_id": n}, a.Args)
					for _, w := range wantOrder(lang, o) {
						assert.Contains(t, a.Text, w, "%s → %s", msg, a.Text)
					}

					msg = map[string]string{"en": "Can you track the parcel of order " + n + "?", "de": "Wo ist das Paket meiner Bestellung " + n + "?"}[lang]
					a, err = answer(t, reg, rules.Input{Message: msg, Lang: lang})
					require.NoError(t, err, msg)
					assert.Equal(t, "shipment_tracking", a.Rule)
					for _, w := range wantShipment(lang, s) {
						assert.Contains(t, a.Text, w, "%s → %s", msg, a.Text)
					}
				}
			})
		}
	}
}

// wantOrder lists what an answer about o must say.
func wantOrder(lang string, o shop.Order) []string {
	want := []string{strconv.Itoa(o.OrderID)}
	switch o.Status {
	case shop.StatusProcessing, shop.StatusCancelled:
		want = append(want, rules.FormatDate(lang, o.PlacedAt))
	case shop.StatusShipped, shop.StatusInTransit, shop.StatusOutForDelivery:
		want = append(want, o.Shipment.Carrier, o.Shipment.TrackingNumber, rules.FormatDate(lang, o.Shipment.ETA))
	case shop.StatusDelivered, shop.StatusReturnRequested:
		want = append(want, rules.FormatDate(lang, o.Shipment.DeliveredAt))
	}
	words := map[string]map[string]string{
		"en": {shop.StatusProcessing: "processing", shop.StatusCancelled: "cancelled", shop.StatusShipped: "is shipped",
			shop.StatusInTransit: "in transit", shop.StatusOutForDelivery: "out for delivery", shop.StatusDelivered: "delivered",
			shop.StatusReturnRequested: "return", shop.StatusRefunded: "refunded"},
		"de": {shop.StatusProcessing: "nicht versandt", shop.StatusCancelled: "storniert", shop.StatusShipped: "versandt",
			shop.StatusInTransit: "unterwegs", shop.StatusOutForDelivery: "in der Zustellung", shop.StatusDelivered: "zugestellt",
			shop.StatusReturnRequested: "Rücksendung", shop.StatusRefunded: "erstattet"},
	}
	return append(want, words[lang][o.Status])
}

// wantShipment lists what an answer about the shipment s must say.
func wantShipment(lang string, s shop.Shipment) []string {
	want := []string{strconv.Itoa(s.OrderID)}
	switch {
	case s.Status == shop.StatusCancelled:
		want = append(want, map[string]string{"en": "cancelled", "de": "storniert"}[lang])
	case s.Carrier == "":
		want = append(want, map[string]string{"en": "not shipped", "de": "noch nicht versandt"}[lang])
	case s.DeliveredAt != "":
		want = append(want, s.Carrier, s.TrackingNumber, rules.FormatDate(lang, s.DeliveredAt))
	default:
		want = append(want, s.Carrier, s.TrackingNumber, rules.FormatDate(lang, s.ETA), s.LastEvent, s.Location)
	}
	return want
}

// TestDefaultRulesAnswerEveryOrder is the ladder's bar in small: with the
// models down, "where is my order N" is answered correctly for every
// order sampled across the shop.
func TestDefaultRulesAnswerEveryOrder(t *testing.T) {
	sh, reg := demoShop(t)
	ctx := context.Background()
	answered := 0
	const step = 5
	total := 0
	for id := shop.FirstOrderID; id < shop.FirstOrderID+shopOrders; id += step {
		total++
		o, err := sh.Order(ctx, id)
		require.NoError(t, err)
		a, err := answer(t, reg, rules.Input{Message: "where is my order " + strconv.Itoa(id)})
		if !assert.NoError(t, err, id) {
			continue
		}
		ok := true
		for _, w := range wantOrder("en", o) {
			ok = ok && strings.Contains(a.Text, w)
		}
		if assert.True(t, ok, "order %d (%s): %s", id, o.Status, a.Text) {
			answered++
		}
	}
	assert.Equal(t, total, answered)
	t.Logf("answered %d/%d orders correctly", answered, total)
}

func TestDefaultRulesOtherAnswers(t *testing.T) {
	sh, reg := demoShop(t)
	ctx := context.Background()
	ids, err := sh.OrderIDs(ctx, shop.StatusReturnRequested)
	require.NoError(t, err)
	rets, err := sh.ReturnsForOrder(ctx, ids[0])
	require.NoError(t, err)
	require.NotEmpty(t, rets.Returns)
	ret := rets.Returns[0]

	tests := []struct {
		name     string
		give     rules.Input
		wantRule string
		wantKind rules.Kind
		wantHas  []string
		wantErr  rules.Reason
	}{
		{"return status", rules.Input{Message: "What about my return " + ret.ReturnID + "?"}, "return_status", rules.KindAnswer,
			[]string{ret.ReturnID, strconv.Itoa(ret.OrderID), ret.RefundAmount.String() + " EUR", rules.Human(ret.Status)}, ""},
		{"return status in German, lower case", rules.Input{Message: "Rücksendung " + strings.ToLower(ret.ReturnID), Lang: "de"}, "return_status", rules.KindAnswer,
			[]string{ret.ReturnID, ret.RefundAmount.String() + " EUR"}, ""},
		{"unknown return", rules.Input{Message: "return R-999999?"}, "return_status", rules.KindToolError, []string{"R-999999"}, ""},
		{"return policy", rules.Input{Message: "What's your return policy?"}, "return_policy", rules.KindAnswer, []string{"30 days"}, ""},
		{"return policy in German", rules.Input{Message: "Wie funktioniert die Rückgabe?", Lang: "de"}, "return_policy", rules.KindAnswer, []string{"30 Tagen"}, ""},
		{"unknown order", rules.Input{Message: "where is my order 999999"}, "order_status", rules.KindToolError, []string{"999999", "check"}, ""},
		{"unknown order, tracking", rules.Input{Message: "track order 999999", Intent: "shipment_tracking"}, "shipment_tracking", rules.KindToolError, []string{"999999"}, ""},
		{"no number asks", rules.Input{Message: "where is my order?", Intent: "order_status"}, "order_status", rules.KindAsk, []string{"order number"}, ""},
		{"number from the pinned facts", rules.Input{Message: "and when will it arrive?", Intent: "shipment_tracking", Facts: map[string][]string{"order_number": {strconv.Itoa(ids[0])}}},
			"shipment_tracking", rules.KindAnswer, []string{strconv.Itoa(ids[0])}, ""},
		{"cancellation is not a status question", rules.Input{Message: "please cancel my order 100123"}, "", "", nil, rules.ReasonNoMatch},
		{"a complaint is not answered by patterns", rules.Input{Message: "my order 100123 is a disgrace", Intent: "complaint"}, "", "", nil, rules.ReasonNoMatch},
		{"small talk", rules.Input{Message: "hello, how are you?"}, "", "", nil, rules.ReasonNoMatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := answer(t, reg, tt.give)
			if tt.wantErr != "" {
				assert.Equal(t, tt.wantErr, rules.ReasonOf(err), "answer: %+v", a)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantRule, a.Rule)
			assert.Equal(t, tt.wantKind, a.Kind)
			for _, w := range tt.wantHas {
				assert.Contains(t, a.Text, w)
			}
		})
	}
}

// TestRunnerToolsGovernance checks that rules' calls go through the run's
// budget: a runner whose budget is spent makes the rule give no answer.
func TestRunnerToolsGovernance(t *testing.T) {
	_, reg := demoShop(t)
	r, err := rules.Default()
	require.NoError(t, err)
	ru := reg.NewRunner(r.Tools(), tool.Limits{MaxCalls: 1})
	tools := rules.RunnerTools(ru)
	_, err = r.Answer(context.Background(), tools, rules.Input{Message: "where is my order 100001"})
	require.NoError(t, err)
	_, err = r.Answer(context.Background(), tools, rules.Input{Message: "where is my order 100002"})
	assert.Equal(t, rules.ReasonToolFailed, rules.ReasonOf(err))
	assert.ErrorContains(t, err, "budget")
	assert.Equal(t, 2, ru.Stats().Requested)
}
