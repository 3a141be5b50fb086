package shop

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzDecodeReturnRequest: any body either decodes to a request with a
// positive-or-zero order id or is refused as invalid input, never a panic.
func FuzzDecodeReturnRequest(f *testing.F) {
	for _, s := range []string{
		`{"order_id":"100123","reason":"damaged"}`,
		`{"order_id":100123,"reason":"x","items":["AUD-10001"]}`,
		`{"order_id":" #100123 ","reason":""}`,
		`{"order_id":null}`, `[]`, `{"order_id":1e5}`, `{"order_id":"\u0031"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeReturnRequest(body)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if req.OrderID < 0 || req.OrderID > 999_999_999 {
			t.Fatalf("order id %d out of range", req.OrderID)
		}
	})
}

var skuPattern = regexp.MustCompile(`^[A-Z]{2,5}-\d{2,6}$`)

// FuzzParseIDs: what the id parsers accept is canonical, and they never
// panic on what models put in paths.
func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"100123", "#100123", " 100123 ", "aud-10001", "R-500001", "r500001",
		"1ZABCDEF0123456789", "anna@example.com", "", "-", "R-", "#", "1Z", "ü@ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if id, err := parseOrderID(s); err == nil && id < 0 {
			t.Fatalf("order id %d from %q", id, s)
		}
		if k, err := parseSKU(s); err == nil && !skuPattern.MatchString(k) {
			t.Fatalf("sku %q from %q", k, s)
		}
		if n, err := parseReturnID(s); err == nil && n < 0 {
			t.Fatalf("return id %d from %q", n, s)
		}
		if tr, err := parseTracking(s); err == nil && strings.ToUpper(tr) != tr {
			t.Fatalf("tracking %q from %q", tr, s)
		}
		if e, err := parseEmail(s); err == nil && strings.Count(e, "@") != 1 {
			t.Fatalf("email %q from %q", e, s)
		}
		if c := clip(s); !utf8.ValidString(c) && utf8.ValidString(s) {
			t.Fatalf("clip broke %q", s)
		}
		if r := normReason(s); !utf8.ValidString(r) || utf8.RuneCountInString(r) > maxReasonRunes {
			t.Fatalf("reason %q", r)
		}
	})
}

// FuzzSearchProducts: a model's query never reaches SQLite as FTS syntax:
// every query either finds products or is refused as invalid input, never
// a database error.
func FuzzSearchProducts(f *testing.F) {
	for _, s := range []string{"running shoes", "AUD-10001", `"shoes" OR`, "NEAR(a b)", "col:x", "*", "^a",
		"headphones under 100 euros", "ÄÖÜ kaffee", "a-b-c", "-", "(", "\x00"} {
		f.Add(s, "")
		f.Add(s, "audio")
	}
	s := shared(f)
	f.Fuzz(func(t *testing.T, q, category string) {
		res, err := s.SearchProducts(context.Background(), q, category, 0)
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatalf("query %q category %q: %v", q, category, err)
		}
		if err == nil && (res.Count != len(res.Results) || res.Count > DefaultSearchLimit) {
			t.Fatalf("query %q: count %d, %d results", q, res.Count, len(res.Results))
		}
	})
}
