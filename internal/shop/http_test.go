package shop

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGetEndpoints covers every read endpoint: happy paths, lenient ids,
// not found, bad input and unknown routes. Every answer is JSON and small.
func TestGetEndpoints(t *testing.T) {
	s := shared(t)
	ctx := context.Background()
	inTransit := idsWith(t, s, StatusInTransit, 1)[0]
	processing := idsWith(t, s, StatusProcessing, 1)[0]
	cancelled := idsWith(t, s, StatusCancelled, 1)[0]
	returned := idsWith(t, s, StatusReturnRequested, 1)[0]
	sh, err := s.Shipment(ctx, inTransit)
	require.NoError(t, err)
	rets, err := s.ReturnsForOrder(ctx, returned)
	require.NoError(t, err)
	require.Len(t, rets.Returns, 1)
	o, err := s.Order(ctx, 100123)
	require.NoError(t, err)
	id := strconv.Itoa

	tests := []struct {
		name     string
		give     string // "METHOD path"
		want     int
		wantCode string   // error code, for errors
		wantHas  []string // substrings of a successful body
	}{
		{"order", "GET /orders/100123", 200, "", []string{`"order_id":100123`, `"currency":"EUR"`, `"items":[`}},
		{"order with #", "GET /orders/%23100123", 200, "", []string{`"order_id":100123`}},
		{"order in transit has eta", "GET /orders/" + id(inTransit), 200, "", []string{`"status":"in_transit"`, `"eta":"`, `"tracking_number":"`}},
		{"order processing has no shipment", "GET /orders/" + id(processing), 200, "", []string{`"status":"processing"`}},
		{"order unknown", "GET /orders/999999", 404, "order_not_found", nil},
		{"order not a number", "GET /orders/abc", 400, "invalid_order_id", nil},
		{"order too long", "GET /orders/1234567890", 400, "invalid_order_id", nil},
		{"shipment", "GET /orders/" + id(inTransit) + "/shipment", 200, "", []string{`"carrier":"` + sh.Carrier, `"location":"`, `"last_event":"`, `"eta":"`}},
		{"shipment not shipped", "GET /orders/" + id(processing) + "/shipment", 200, "", []string{`"status":"processing"`, `"note":"The order has not shipped yet`}},
		{"shipment cancelled", "GET /orders/" + id(cancelled) + "/shipment", 200, "", []string{`"status":"cancelled"`, `"note":"The order was cancelled`}},
		{"shipment unknown order", "GET /orders/999999/shipment", 404, "order_not_found", nil},
		{"shipment bad order", "GET /orders/x1/shipment", 400, "invalid_order_id", nil},
		{"tracking", "GET /shipments/" + sh.TrackingNumber, 200, "", []string{`"order_id":` + id(inTransit)}},
		{"tracking lower case", "GET /shipments/" + strings.ToLower(sh.TrackingNumber), 200, "", []string{`"tracking_number":"` + sh.TrackingNumber + `"`}},
		{"tracking unknown", "GET /shipments/ZZZZ99999999", 404, "shipment_not_found", nil},
		{"tracking malformed", "GET /shipments/ab-1", 400, "invalid_tracking_number", nil},
		{"search", "GET /products?q=running+shoes", 200, "", []string{`"results":[{"sku":"SHO-15000","name":"Trailblazer Running Shoes, EU 40"`}},
		{"search stems", "GET /products?q=coffee%20grinders", 200, "", []string{`"name":"Burr Coffee Grinder, Black"`}},
		{"search sku first", "GET /products?q=AUD-10001", 200, "", []string{`"results":[{"sku":"AUD-10001"`}},
		{"search category", "GET /products?category=Kitchen&limit=2", 200, "", []string{`"count":2`, `"sku":"KIT-14000"`}},
		{"search in category", "GET /products?q=black&category=audio", 200, "", []string{`"sku":"AUD-10000"`}},
		{"search nothing", "GET /products?q=xyzzy", 200, "", []string{`"count":0,"results":[]`}},
		{"search stop words only", "GET /products?q=the+best", 200, "", []string{`"count":0`}},
		{"search fts syntax", `GET /products?q=` + url.QueryEscape(`"shoes" OR NEAR(a b) * ^col:x`), 200, "", []string{`"sku":"SHO-`}},
		{"search needs query", "GET /products", 400, "invalid_query", nil},
		{"search unknown category", "GET /products?category=cars", 400, "invalid_category", nil},
		{"search limit zero", "GET /products?q=shoes&limit=0", 400, "invalid_limit", nil},
		{"search limit too big", "GET /products?q=shoes&limit=21", 400, "invalid_limit", nil},
		{"search limit not a number", "GET /products?q=shoes&limit=ten", 400, "invalid_limit", nil},
		{"product", "GET /products/AUD-10001", 200, "", []string{`"name":"Aurora ANC Wireless Headphones, White"`, `"price":179.00`, `"in_stock":`, `"stock":`}},
		{"product lower case", "GET /products/aud-10001", 200, "", []string{`"sku":"AUD-10001"`}},
		{"product unknown", "GET /products/ZZ-99", 404, "product_not_found", nil},
		{"product not a sku", "GET /products/headphones", 400, "invalid_sku", nil},
		{"return", "GET /returns/" + rets.Returns[0].ReturnID, 200, "", []string{`"order_id":` + id(returned), `"refund_amount":`}},
		{"return without prefix", "GET /returns/" + strings.TrimPrefix(rets.Returns[0].ReturnID, "R-"), 200, "", []string{`"return_id":"` + rets.Returns[0].ReturnID}},
		{"return unknown", "GET /returns/R-999999", 404, "return_not_found", nil},
		{"return malformed", "GET /returns/xyz", 400, "invalid_return_id", nil},
		{"order returns", "GET /orders/" + id(returned) + "/returns", 200, "", []string{`"returns":[{"return_id":"R-`}},
		{"order returns none", "GET /orders/" + id(inTransit) + "/returns", 200, "", []string{`"returns":[]`}},
		{"order returns unknown", "GET /orders/999999/returns", 404, "order_not_found", nil},
		{"customer orders", "GET /customers/" + o.Email + "/orders", 200, "", []string{`"customer":"` + o.Customer + `"`, `"order_id":100123`}},
		{"customer upper case", "GET /customers/" + strings.ToUpper(o.Email) + "/orders", 200, "", []string{`"email":"` + o.Email + `"`}},
		{"customer escaped", "GET /customers/" + url.PathEscape(o.Email) + "/orders", 200, "", []string{`"order_id":100123`}},
		{"customer unknown", "GET /customers/nobody@example.com/orders", 404, "customer_not_found", nil},
		{"customer bad email", "GET /customers/nobody/orders", 400, "invalid_email", nil},
		{"health", "GET /healthz", 200, "", []string{`"status":"ok"`, `"today":"2026-11-27"`}},
		{"unknown route", "GET /nope", 404, "route_not_found", nil},
		{"trailing slash", "GET /orders/100123/", 404, "route_not_found", nil},
		{"wrong method", "DELETE /orders/100123", 405, "method_not_allowed", nil},
		{"get on returns", "GET /returns", 405, "method_not_allowed", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method, path, _ := strings.Cut(tt.give, " ")
			r := do(t, s, method, path, "")
			assert.Equal(t, tt.want, r.code, "body: %s", r.body)
			assert.Equal(t, "application/json", r.header["Content-Type"][0])
			assert.LessOrEqual(t, len(r.body), 700, "responses go into prompts: keep them small")
			if tt.wantCode != "" {
				assert.Equal(t, tt.wantCode, errorOf(t, r).Code)
			}
			for _, sub := range tt.wantHas {
				assert.Contains(t, string(r.body), sub)
			}
		})
	}
}

func TestMethodNotAllowedSaysAllow(t *testing.T) {
	s := shared(t)
	assert.Equal(t, "GET", do(t, s, "PUT", "/orders/100123", "").header["Allow"][0])
	assert.Equal(t, "POST", do(t, s, "GET", "/returns", "").header["Allow"][0])
}

// TestAPIServesGroundTruth checks that the HTTP answers are the structs the
// Go methods return, for an order of every status.
func TestAPIServesGroundTruth(t *testing.T) {
	s := shared(t)
	ctx := context.Background()
	for _, st := range []string{StatusProcessing, StatusShipped, StatusInTransit, StatusOutForDelivery,
		StatusDelivered, StatusCancelled, StatusReturnRequested, StatusRefunded} {
		for _, id := range idsWith(t, s, st, 3)[:3] {
			path := "/orders/" + strconv.Itoa(id)
			o, err := s.Order(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, st, o.Status)
			assert.Equal(t, o, decode[Order](t, do(t, s, "GET", path, "").body), path)

			sh, err := s.Shipment(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, sh, decode[Shipment](t, do(t, s, "GET", path+"/shipment", "").body))
			if o.Shipment != nil {
				assert.Equal(t, o.Shipment.TrackingNumber, sh.TrackingNumber)
				assert.Equal(t, o.Shipment.Status, sh.Status)
				byTracking, err := s.ShipmentByTracking(ctx, sh.TrackingNumber)
				require.NoError(t, err)
				assert.Equal(t, sh, byTracking)
			}
			for _, it := range o.Items {
				p, err := s.Product(ctx, it.SKU)
				require.NoError(t, err)
				assert.Equal(t, p, decode[Product](t, do(t, s, "GET", "/products/"+it.SKU, "").body))
				assert.Equal(t, it.Name, p.Name)
			}
			rs, err := s.ReturnsForOrder(ctx, id)
			require.NoError(t, err)
			assert.Equal(t, rs, decode[OrderReturns](t, do(t, s, "GET", path+"/returns", "").body))
			for _, r := range rs.Returns {
				got, err := s.Return(ctx, r.ReturnID)
				require.NoError(t, err)
				assert.Equal(t, r, got)
			}
		}
	}
}

func TestErrorsMapToStatus(t *testing.T) {
	tests := []struct {
		name string
		give error
		want int
	}{
		{"invalid", newErr(ErrInvalid, "x", "x"), http.StatusBadRequest},
		{"not found", newErr(ErrNotFound, "x", "x"), http.StatusNotFound},
		{"exists", newErr(ErrReturnExists, "x", "x"), http.StatusConflict},
		{"not returnable", newErr(ErrNotReturnable, "x", "x"), http.StatusUnprocessableEntity},
		{"other", context.Canceled, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, statusOf(tt.give))
		})
	}
}

func TestMoneyJSON(t *testing.T) {
	tests := []struct {
		give Money
		want string
	}{
		{0, "0.00"}, {5, "0.05"}, {12990, "129.90"}, {100, "1.00"}, {-250, "-2.50"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b, err := tt.give.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b))
			var back Money
			require.NoError(t, back.UnmarshalJSON(b))
			assert.Equal(t, tt.give, back)
		})
	}
	for _, bad := range []string{"", "1.234", "abc", "1.x", "--1", `"`} {
		var m Money
		assert.Error(t, m.UnmarshalJSON([]byte(bad)), bad)
	}
}
