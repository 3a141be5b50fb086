package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExtractEntities(t *testing.T) {
	tests := []struct {
		give string
		want []string // "kind:value" in order of appearance
	}{
		{"Where is my order 100123?", []string{"order:100123"}},
		{"order #4567890 please", []string{"order:4567890"}},
		{"orders 100123 and 100456", []string{"order:100123", "order:100456"}},
		{"my zip is 1234 and I paid 12", nil},
		{"a number too long 1234567890123456789012", nil},
		{"Tracking 1Z999AA10123456784 shows nothing", []string{"tracking:1Z999AA10123456784"}},
		{"tracking JD014600003828 for order 100123", []string{"tracking:JD014600003828", "order:100123"}},
		{"lowercase words like password12345 are not tracking", nil},
		{"mail me at jane.doe+shop@example.co.uk.", []string{"email:jane.doe+shop@example.co.uk"}},
		{"not an email: foo@bar", nil},
		{"call me on +49 170 1234567", []string{"phone:+49 170 1234567"}},
		{"my phone is (555) 123-4567", []string{"phone:(555) 123-4567"}},
		{"phone 555-123-4567 or order 100123", []string{"phone:555-123-4567", "order:100123"}},
		{"my mobile 01701234567", []string{"phone:01701234567"}},
		{"phone number 7654321", []string{"phone:7654321"}},
		{"delivered on 2025-05-02", nil},
		{"Is SKU AB-1234 in stock? And XYZW-99?", []string{"sku:AB-1234", "sku:XYZW-99"}},
		{"refund of €12.50 for order 100123", []string{"amount:€12.50", "order:100123"}},
		{"it cost 12,50 EUR and $5 shipping", []string{"amount:12,50 EUR", "amount:$5"}},
		{"£ 30 or 99.99 dollars or 15 euros", []string{"amount:£ 30", "amount:99.99 dollars", "amount:15 euros"}},
		{"1500.50 is not money without a currency", nil},
		{"Bestellung 100123, Betrag 49,90 €", []string{"order:100123", "amount:49,90 €"}},
		{"", nil},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			var got []string
			for _, e := range extractEntities(tt.give) {
				got = append(got, e.kind.String()+":"+e.value)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzExtractEntities(f *testing.F) {
	for _, s := range []string{"order 100123", "+49 170 1234567", "a@b.co", "€12.50", "AB-1234", "1Z999AA10123456784", "\xff@\xfe.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, e := range extractEntities(s) {
			if e.value == "" || e.pos < 0 || e.pos >= len(s) {
				t.Fatalf("bad entity %+v in %q", e, s)
			}
		}
	})
}
