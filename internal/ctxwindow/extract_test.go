package ctxwindow

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func extractor(t testing.TB, p FactsPolicy) *Extractor {
	t.Helper()
	pol, err := Policy{Facts: p}.Normalize()
	require.NoError(t, err)
	x, err := NewExtractor(pol.Facts)
	require.NoError(t, err)
	return x
}

func kv(fs []Found) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Kind + "=" + f.Value + "|" + f.Key
	}
	return out
}

func TestExtractBuiltins(t *testing.T) {
	tests := []struct {
		give string
		want []string
	}{
		{give: "Where is my order 100123?", want: []string{"order_number=100123|100123"}},
		{give: "Orders #100123 and 100456, please", want: []string{"order_number=100123|100123", "order_number=100456|100456"}},
		{give: "I was charged €42.50 for order 100123", want: []string{"amount=€42.50|EUR 42.50", "order_number=100123|100123"}},
		{give: "refund of 49,90 EUR or $5 or USD 12.5", want: []string{"amount=49,90 EUR|EUR 49.90", "amount=$5|USD 5.00", "amount=USD 12.5|USD 12.50"}},
		{give: "mail me at Jane.Doe@Example.com.", want: []string{"email=Jane.Doe@Example.com|jane.doe@example.com"}},
		{give: "call me on +49 30 1234567 or (555) 123-4567", want: []string{"phone=+49 30 1234567|+49301234567", "phone=(555) 123-4567|5551234567"}},
		{give: "my phone is 5551234", want: []string{"phone=5551234|5551234"}},
		{give: "tracking 1Z999AA10123456784 for AUD-10001", want: []string{"tracking_number=1Z999AA10123456784|1Z999AA10123456784", "sku=AUD-10001|AUD-10001"}},
		{give: "delivered on 2026-11-27 or 3rd of March 2026, not 27.11.2026?", want: []string{
			"date=2026-11-27|2026-11-27", "date=3rd of March 2026|3rd of march 2026", "date=27.11.2026|27.11.2026"}},
		{give: "Two orders 100123 100456", want: []string{"order_number=100123|100123", "order_number=100456|100456"}},
		{give: "R-500001 is a return, 12.345 a decimal, v1.2.3, 2026 a year", want: nil},
		{give: "hello there", want: nil},
	}
	x := extractor(t, FactsPolicy{})
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got := x.Message(&llm.Message{Role: llm.RoleUser, Content: llm.Text(tt.give)})
			assert.Equal(t, tt.want, nilIfEmpty(kv(got)))
			again := x.Message(&llm.Message{Role: llm.RoleUser, Content: llm.Text(tt.give)})
			assert.Equal(t, got, again, "cached")
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func TestExtractPatternsAndBuiltinsChosen(t *testing.T) {
	x := extractor(t, FactsPolicy{
		Builtins: []string{KindOrder},
		Patterns: []Pattern{{Kind: "member_id", Regexp: `\bmember (M\d{6})\b`}, {Kind: "ticket", Regexp: `TKT-\d+`}},
	})
	got := x.Message(&llm.Message{Role: llm.RoleUser, Content: llm.Text("member M123456 asks about 100123, TKT-77, €5 and a@b.de")})
	assert.Equal(t, []string{"member_id=M123456|m123456", "order_number=100123|100123", "ticket=TKT-77|tkt-77"}, kv(got))

	none := extractor(t, FactsPolicy{Builtins: []string{}})
	assert.Empty(t, none.Message(&llm.Message{Role: llm.RoleUser, Content: llm.Text("order 100123")}))
	assert.Empty(t, none.Message(&llm.Message{Role: llm.RoleAssistant, Content: llm.Text("order 100123")}), "assistant messages are not read")
}

func TestExtractToolFields(t *testing.T) {
	x := extractor(t, FactsPolicy{})
	ret := `{"type":"tool_result","tool":"create_return","data":{"return_id":"R-500123","order_id":100123,"status":"requested",` +
		`"refund_amount":59.90,"currency":"EUR","items":["AUD-10001"]},"is_error":false,"truncated":false}`
	got := x.Message(&llm.Message{Role: llm.RoleTool, ToolCallID: "c", Content: llm.Text(ret)})
	assert.Equal(t, []string{"order_number=100123|100123", "amount=59.90 EUR|EUR 59.90", "return_number=R-500123|r-500123"}, kv(got))
	assert.Equal(t, "tool:create_return", got[0].Source)

	ship := `{"type":"tool_result","tool":"get_order_status","data":{"order_id":100123,"shipment":{"carrier":"UPS","tracking_number":"1Z999AA10123456784"}},"is_error":false,"truncated":false}`
	got = x.Message(&llm.Message{Role: llm.RoleTool, Content: llm.Text(ship)})
	assert.Equal(t, []string{"order_number=100123|100123", "tracking_number=1Z999AA10123456784|1Z999AA10123456784"}, kv(got))

	failed := `{"type":"tool_result","tool":"get_order_status","data":{"error":"order 100999 not found","order_id":"100999"},"is_error":true,"truncated":false}`
	assert.Empty(t, x.Message(&llm.Message{Role: llm.RoleTool, Content: llm.Text(failed)}), "error results pin nothing")
	assert.Empty(t, x.Message(&llm.Message{Role: llm.RoleTool, Content: llm.Text("plain text 100123")}))

	bare := extractor(t, FactsPolicy{ToolFields: []ToolField{{Field: "total", Kind: "order_total_amount"}}})
	got = bare.Message(&llm.Message{Role: llm.RoleTool, Content: llm.Text(`[{"total":12.5,"currency":"GBP","order_id":1}]`)})
	assert.Equal(t, []string{"order_total_amount=12.5 GBP|12.5 gbp"}, kv(got))
}

// FuzzExtract feeds user messages and tool results as they come: nothing
// panics, and every fact is a non-empty value within the cap with a key.
func FuzzExtract(f *testing.F) {
	f.Add("order #100123, €42.50, jane@example.com, +49 30 1234567, 1Z999AA10123456784, AUD-10001, 2026-11-27", false)
	f.Add(`{"type":"tool_result","tool":"t","data":{"order_id":100123,"refund_amount":1.5,"currency":"EUR"}}`, true)
	f.Add(`[[[[{"return_id":["R-1"]}]]]]`, true)
	x := extractor(f, FactsPolicy{Patterns: []Pattern{{Kind: "member", Regexp: `M(\d+)`}}})
	f.Fuzz(func(t *testing.T, s string, tool bool) {
		role := llm.RoleUser
		if tool {
			role = llm.RoleTool
		}
		for _, got := range x.Message(&llm.Message{Role: role, Content: llm.Text(s)}) {
			if got.Value == "" || got.Key == "" || got.Kind == "" || len(got.Value) > maxFactLen+16 {
				t.Fatalf("bad fact %+v", got)
			}
			if role == llm.RoleUser && got.Kind != KindOrder && !strings.Contains(s, got.Value) && !strings.Contains(strings.Join(strings.Fields(s), " "), got.Value) {
				t.Fatalf("%q is not in the message", got.Value)
			}
		}
	})
}

func TestAmountKey(t *testing.T) {
	tests := []struct{ give, want string }{
		{"€12.5", "EUR 12.50"}, {"12,50 EUR", "EUR 12.50"}, {"EUR 12.50", "EUR 12.50"}, {"€1,299.99", "EUR 1299.99"},
		{"$5", "USD 5.00"}, {"£0.5", "GBP 0.50"}, {"7 dollars", "USD 7.00"}, {"1.234 CHF", "CHF 1234.00"},
	}
	for _, tt := range tests {
		got, ok := amountKey(tt.give)
		assert.True(t, ok, tt.give)
		assert.Equal(t, tt.want, got, tt.give)
	}
	_, ok := amountKey("12 apples")
	assert.False(t, ok)
}
