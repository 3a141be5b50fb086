package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/rules"
	"github.com/floodgate-dev/floodgate/internal/shop"
)

// writeRulesFiles writes the built-in rules and content as files of a
// temporary directory and returns their paths.
func writeRulesFiles(t *testing.T, samples string) (rulesPath, samplesPath string) {
	t.Helper()
	dir := t.TempDir()
	rulesPath, samplesPath = filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "samples.yaml")
	require.NoError(t, os.WriteFile(rulesPath, rules.DefaultYAML, 0o600))
	require.NoError(t, os.WriteFile(samplesPath, []byte(samples), 0o600))
	return rulesPath, samplesPath
}

const cannedSamples = `
lang: en
tools:
  get_order_status: {order_id: 100123, status: in_transit, placed_at: "2026-11-20", total: 129.90, currency: EUR,
    shipment: {carrier: DHL, tracking_number: "123456789012", status: in_transit, eta: "2026-11-29"}}
samples:
  - message: where is my order 100123?
    expect:
      rule: order_status
      kind: answer
      args: {order_id: "100123"}
      answer: Your order 100123 is in transit (carrier DHL, tracking number 123456789012), expected on Nov 29, 2026.
  - message: Wo ist meine Bestellung 100123?
    lang: de
    expect: {rule: order_status, contains: [unterwegs, 29.11.2026]}
  - message: where is my order 999999
    tool_errors:
      get_order_status: '{"error": "order 999999 not found", "code": "order_not_found"}'
    expect: {rule: order_status, kind: tool_error, contains: ["999999"]}
  - message: and my order?
    facts: {order_number: ["100123"]}
    expect: {args: {order_id: "100123"}, contains: [DHL]}
  - message: where is my order?
    expect: {kind: ask}
  - message: track my parcel 100123
    expect: {no_answer: tool_failed}
  - message: tell me a joke
    expect: {no_answer: "true"}
  - message: no expectation here
`

func TestRulesTestCanned(t *testing.T) {
	rulesPath, samplesPath := writeRulesFiles(t, cannedSamples)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"rules", "test", rulesPath, "--samples", samplesPath}, &out, &errOut)
	require.NoError(t, err, "%s\n%s", out.String(), errOut.String())
	text := out.String()
	for _, want := range []string{
		`#1 "where is my order 100123?"`,
		"   rule     order_status (answer, en)",
		"   args     order_id=100123",
		"   tool     get_order_status (canned)",
		"   answer   Your order 100123 is in transit (carrier DHL, tracking number 123456789012), expected on Nov 29, 2026.",
		"   answer   Ihre Bestellung 100123 ist unterwegs",
		"   no answer: rules: no answer: tool_failed (rule shipment_tracking): no canned result for track_shipment",
		"8 messages, 7 with expectations: 7 met, 0 not met",
	} {
		assert.Contains(t, text, want)
	}
	assert.Equal(t, 7, strings.Count(text, "   ok\n"))
}

func TestRulesTestUnmetExpectations(t *testing.T) {
	rulesPath, samplesPath := writeRulesFiles(t, `
samples:
  - message: where is my order 100123?
    tools: {get_order_status: {status: delivered, shipment: {carrier: DPD, delivered_at: "2026-11-02"}}}
    expect: {rule: shipment_tracking, args: {order_id: "100124"}, contains: [in transit]}
  - message: what is your return policy?
    expect: {no_answer: "true"}
  - message: hello
    expect: {rule: order_status}
`)
	var out bytes.Buffer
	err := run(context.Background(), []string{"rules", "test", "--samples", samplesPath, rulesPath}, &out, &bytes.Buffer{})
	require.ErrorContains(t, err, "3 of 3 expectations not met")
	text := out.String()
	for _, want := range []string{
		"NOT MET  want rule shipment_tracking, got \"order_status\"",
		`NOT MET  want argument order_id="100124", got "100123"`,
		`NOT MET  want the answer to contain "in transit"`,
		"NOT MET  want no answer, got an answer by rule return_policy",
		"NOT MET  want an answer, got none: rules: no answer: no_match",
		"3 messages, 3 with expectations: 0 met, 3 not met",
	} {
		assert.Contains(t, text, want)
	}
}

// TestRulesTestAgainstShop reads messages from standard input and calls
// the demo shop through the default configuration's tools.
func TestRulesTestAgainstShop(t *testing.T) {
	ctx := context.Background()
	sh, err := shop.Open(ctx, shop.Config{Orders: 300})
	require.NoError(t, err)
	srv := httptest.NewServer(sh.Handler())
	t.Cleanup(func() {
		srv.Close()
		require.NoError(t, sh.Close())
	})
	ids, err := sh.OrderIDs(ctx, shop.StatusInTransit)
	require.NoError(t, err)
	o, err := sh.Order(ctx, ids[0])
	require.NoError(t, err)
	n := strconv.Itoa(o.OrderID)

	rulesPath, _ := writeRulesFiles(t, "")
	stdin := strings.NewReader("# a comment\nwhere is my order " + n + "\n\nwhat is your return policy?\n")
	var out bytes.Buffer
	err = rulesTest(ctx, []string{rulesPath, "--shop-url", srv.URL, "--json"}, stdin, &out, &bytes.Buffer{})
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var res rulesResult
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &res))
	assert.Equal(t, "order_status", res.Rule)
	assert.Equal(t, "live", res.Source)
	assert.Equal(t, map[string]string{"order_id": n}, res.Args)
	assert.Contains(t, res.Answer, o.Shipment.Carrier)
	assert.Contains(t, res.Answer, o.Shipment.TrackingNumber)
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &res))
	assert.Equal(t, "return_policy", res.Rule)
	assert.False(t, res.Checked)
}

func TestRulesCommandUsage(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("rules:\n  - {name: a, patterns: ['(x'], answers: [{text: {en: x}}]}\n"), 0o600))
	tests := []struct {
		name    string
		give    []string
		wantErr string
	}{
		{"no subcommand", []string{"rules"}, "usage"},
		{"unknown subcommand", []string{"rules", "lint"}, "usage"},
		{"no file", []string{"rules", "test"}, "usage"},
		{"two files", []string{"rules", "test", bad, bad}, "usage"},
		{"bad rules", []string{"rules", "test", bad}, "patterns[0]: error parsing regexp"},
		{"missing samples", []string{"rules", "test", bad + "x"}, "no such file"},
		{"bad flag", []string{"rules", "test", "--nosuch", bad}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errOut bytes.Buffer
			err := run(context.Background(), tt.give, &bytes.Buffer{}, &errOut)
			require.Error(t, err)
			assert.Contains(t, err.Error()+errOut.String(), tt.wantErr)
		})
	}

	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"rules", "default"}, &out, &bytes.Buffer{}))
	assert.Equal(t, string(rules.DefaultYAML), out.String())
}
