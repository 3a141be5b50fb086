package shop

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func returnBody(id int, reason string, items ...string) string {
	b := fmt.Sprintf(`{"order_id":"%d","reason":%q`, id, reason)
	if len(items) > 0 {
		b += `,"items":["` + strings.Join(items, `","`) + `"]`
	}
	return b + "}"
}

func TestCreateReturn(t *testing.T) {
	s := newShop(t, Config{})
	ctx := context.Background()
	id := deliveredWithin(t, s, 1, 20, 1)[0]
	before, err := s.Order(ctx, id)
	require.NoError(t, err)

	r := do(t, s, "POST", "/returns", returnBody(id, "  Arrived damaged  "))
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	ret := decode[Return](t, r.body)
	assert.Regexp(t, `^R-5\d{5}$`, ret.ReturnID)
	assert.Equal(t, "/returns/"+ret.ReturnID, r.header["Location"][0])
	want := Return{
		ReturnID: ret.ReturnID, OrderID: id, Status: ReturnRequested, RefundAmount: before.Total,
		Currency: "EUR", Reason: "Arrived damaged", RequestedAt: "2026-11-27",
	}
	for _, it := range before.Items {
		want.Items = append(want.Items, it.SKU)
	}
	assert.Equal(t, want, ret, "refund is the order total")

	assert.Equal(t, ret, decode[Return](t, do(t, s, "GET", "/returns/"+ret.ReturnID, "").body))
	assert.Equal(t, OrderReturns{OrderID: id, Returns: []Return{ret}},
		decode[OrderReturns](t, do(t, s, "GET", fmt.Sprintf("/orders/%d/returns", id), "").body))
	after, err := s.Order(ctx, id)
	require.NoError(t, err)
	assert.Equal(t, StatusReturnRequested, after.Status)

	again := do(t, s, "POST", "/returns", returnBody(id, "again"))
	assert.Equal(t, http.StatusConflict, again.code)
	e := errorOf(t, again)
	assert.Equal(t, "return_exists", e.Code)
	assert.Equal(t, ret.ReturnID, e.ReturnID, "the conflict names the existing return")

	// Order ids as JSON numbers work too; ids count up.
	id2 := deliveredWithin(t, s, 1, 20, 1)[1]
	r2 := do(t, s, "POST", "/returns", fmt.Sprintf(`{"order_id":%d,"reason":"too small","extra":true}`, id2))
	require.Equal(t, http.StatusCreated, r2.code, "body: %s", r2.body)
	n1, _ := parseReturnID(ret.ReturnID)
	n2, _ := parseReturnID(decode[Return](t, r2.body).ReturnID)
	assert.Equal(t, n1+1, n2)
}

func TestCreateReturnRules(t *testing.T) {
	s := newShop(t, Config{})
	inTransit := idsWith(t, s, StatusInTransit, 1)[0]
	processing := idsWith(t, s, StatusProcessing, 1)[0]
	shipped := idsWith(t, s, StatusShipped, 1)[0]
	cancelled := idsWith(t, s, StatusCancelled, 1)[0]
	refunded := fullyReturned(t, s, StatusRefunded)
	old := deliveredWithin(t, s, 31, 60, 1)[0]
	fresh := deliveredWithin(t, s, 1, 20, 1)
	other, err := s.Order(context.Background(), old)
	require.NoError(t, err)

	tests := []struct {
		name     string
		give     string
		want     int
		wantCode string
	}{
		{"in transit", returnBody(inTransit, "x"), 422, "not_delivered"},
		{"processing", returnBody(processing, "x"), 422, "not_delivered"},
		{"shipped", returnBody(shipped, "x"), 422, "not_delivered"},
		{"cancelled", returnBody(cancelled, "x"), 422, "order_cancelled"},
		{"window closed", returnBody(old, "x"), 422, "return_window_closed"},
		{"already refunded", returnBody(refunded, "x"), 409, "return_exists"},
		{"item not in order", returnBody(fresh[0], "x", "ZZ-00"), 422, "item_not_in_order"},
		{"item of another order", returnBody(fresh[0], "x", other.Items[0].SKU), 422, "item_not_in_order"},
		{"unknown order", returnBody(999999, "x"), 404, "order_not_found"},
		{"no reason", returnBody(fresh[0], "   "), 400, "invalid_reason"},
		{"bad sku", returnBody(fresh[0], "x", "headphones"), 400, "invalid_sku"},
		{"too many items", returnBody(fresh[0], "x", strings.Split(strings.Repeat("AB-12,", 11), ",")[:11]...), 400, "invalid_items"},
		{"no order id", `{"reason":"x"}`, 400, "invalid_order_id"},
		{"null order id", `{"order_id":null,"reason":"x"}`, 400, "invalid_order_id"},
		{"order id not a number", `{"order_id":"abc","reason":"x"}`, 400, "invalid_order_id"},
		{"order id a float", `{"order_id":1001.5,"reason":"x"}`, 400, "invalid_order_id"},
		{"order id zero", `{"order_id":0,"reason":"x"}`, 400, "invalid_order_id"},
		{"not json", `order 100123 please`, 400, "invalid_body"},
		{"items not strings", `{"order_id":"100123","reason":"x","items":[{"sku":"AB-12"}]}`, 400, "invalid_body"},
		{"too large", `{"order_id":"100123","reason":"` + strings.Repeat("x", maxRequestBytes) + `"}`, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, s, "POST", "/returns", tt.give)
			assert.Equal(t, tt.want, r.code, "body: %s", r.body)
			assert.Equal(t, tt.wantCode, errorOf(t, r).Code)
		})
	}
	rs, err := s.ReturnsForOrder(context.Background(), fresh[0])
	require.NoError(t, err)
	assert.Empty(t, rs.Returns, "no refused request created a return")
}

// TestReturnWindowBoundary: the last day of the window is still open.
func TestReturnWindowBoundary(t *testing.T) {
	c := newClock(DefaultNow)
	s := newShop(t, Config{Now: c.now})
	ctx := context.Background()
	ids := deliveredWithin(t, s, 5, 20, 1)
	sh, err := s.Shipment(ctx, ids[0])
	require.NoError(t, err)
	delivered, err := time.Parse(time.DateOnly, sh.DeliveredAt)
	require.NoError(t, err)

	c.set(delivered.AddDate(0, 0, DefaultReturnDays).Add(23 * time.Hour))
	_, err = s.CreateReturn(ctx, ReturnRequest{OrderID: ids[0], Reason: "late but in time"})
	assert.NoError(t, err, "day 30")

	sh, err = s.Shipment(ctx, ids[1])
	require.NoError(t, err)
	delivered, err = time.Parse(time.DateOnly, sh.DeliveredAt)
	require.NoError(t, err)
	c.set(delivered.AddDate(0, 0, DefaultReturnDays+1))
	_, err = s.CreateReturn(ctx, ReturnRequest{OrderID: ids[1], Reason: "too late"})
	assert.ErrorIs(t, err, ErrNotReturnable, "day 31")
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "return_window_closed", e.Code)
	assert.Contains(t, e.Message, "closed on "+delivered.AddDate(0, 0, DefaultReturnDays).Format(time.DateOnly))
}

// TestReturnApproval: a requested return shows as approved once
// ApproveAfter has passed on the shop's clock.
func TestReturnApproval(t *testing.T) {
	c := newClock(DefaultNow)
	s := newShop(t, Config{Now: c.now, ApproveAfter: 2 * time.Hour})
	ctx := context.Background()
	id := deliveredWithin(t, s, 1, 20, 1)[0]
	ret, err := s.CreateReturn(ctx, ReturnRequest{OrderID: id, Reason: "changed my mind"})
	require.NoError(t, err)
	assert.Equal(t, ReturnRequested, ret.Status)

	c.add(2*time.Hour - time.Second)
	got, err := s.Return(ctx, ret.ReturnID)
	require.NoError(t, err)
	assert.Equal(t, ReturnRequested, got.Status)

	c.add(time.Second)
	got, err = s.Return(ctx, ret.ReturnID)
	require.NoError(t, err)
	assert.Equal(t, ReturnApproved, got.Status)
	assert.Contains(t, string(do(t, s, "GET", "/returns/"+ret.ReturnID, "").body), `"status":"approved"`)
}

// TestReturnItems returns an order line by line.
func TestReturnItems(t *testing.T) {
	s := newShop(t, Config{})
	ctx := context.Background()
	id := deliveredWithin(t, s, 1, 25, 3)[0]
	o, err := s.Order(ctx, id)
	require.NoError(t, err)
	first := o.Items[0]

	ret, err := s.CreateReturn(ctx, ReturnRequest{OrderID: id, Reason: "too small", Items: []string{strings.ToLower(first.SKU), first.SKU}})
	require.NoError(t, err)
	assert.Equal(t, []string{first.SKU}, ret.Items, "SKUs are normalised and deduplicated")
	assert.Equal(t, Money(first.Quantity)*first.Price, ret.RefundAmount, "refund is the line's total")

	_, err = s.CreateReturn(ctx, ReturnRequest{OrderID: id, Reason: "again", Items: []string{first.SKU}})
	assert.ErrorIs(t, err, ErrReturnExists)

	rest, err := s.CreateReturn(ctx, ReturnRequest{OrderID: id, Reason: "the rest too"})
	require.NoError(t, err)
	var want []string
	var refund Money
	for _, it := range o.Items[1:] {
		want = append(want, it.SKU)
		refund += Money(it.Quantity) * it.Price
	}
	assert.Equal(t, want, rest.Items, "no items means every line not yet returned")
	assert.Equal(t, refund, rest.RefundAmount)
	assert.Equal(t, o.Total, ret.RefundAmount+rest.RefundAmount)

	_, err = s.CreateReturn(ctx, ReturnRequest{OrderID: id, Reason: "once more"})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, rest.ReturnID, e.ReturnID)
}

func TestReasonCapped(t *testing.T) {
	s := newShop(t, Config{})
	id := deliveredWithin(t, s, 1, 20, 1)[0]
	ret, err := s.CreateReturn(context.Background(), ReturnRequest{OrderID: id, Reason: strings.Repeat("ü", 2*maxReasonRunes)})
	require.NoError(t, err)
	assert.Equal(t, strings.Repeat("ü", maxReasonRunes), ret.Reason)
}

// TestConcurrentReturnsOneWinner: of many concurrent requests to return the
// same order exactly one succeeds; the others name its return.
func TestConcurrentReturnsOneWinner(t *testing.T) {
	s := newShop(t, Config{})
	id := deliveredWithin(t, s, 1, 20, 1)[0]
	const n = 16
	codes := make([]int, n)
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := do(t, s, "POST", "/returns", returnBody(id, "race "+strconv.Itoa(i)))
			codes[i] = r.code
			if r.code == http.StatusCreated {
				ids[i] = decode[Return](t, r.body).ReturnID
			} else {
				ids[i] = decode[errorBody](t, r.body).ReturnID
			}
		})
	}
	wg.Wait()
	created := 0
	for i := range n {
		switch codes[i] {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("request %d: status %d", i, codes[i])
		}
		assert.Equal(t, ids[0], ids[i], "every answer names the one return")
	}
	assert.Equal(t, 1, created)
	rs, err := s.ReturnsForOrder(context.Background(), id)
	require.NoError(t, err)
	assert.Len(t, rs.Returns, 1)
}

// TestConcurrentReadsAndWrites runs readers of every endpoint next to
// writers creating returns on distinct orders.
func TestConcurrentReadsAndWrites(t *testing.T) {
	s := newShop(t, Config{})
	eligible := deliveredWithin(t, s, 1, 25, 1)[:24]
	const writers, readers, perReader = 4, 4, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*len(eligible)+readers*perReader)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < len(eligible); i += writers {
				if _, err := s.CreateReturn(context.Background(), ReturnRequest{OrderID: eligible[i], Reason: "bulk"}); err != nil {
					errs <- fmt.Errorf("return %d: %w", eligible[i], err)
				}
			}
		})
	}
	for g := range readers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			paths := []string{"/orders/%d", "/orders/%d/shipment", "/orders/%d/returns"}
			for range perReader {
				p := fmt.Sprintf(paths[r.IntN(len(paths))], FirstOrderID+r.IntN(DefaultOrders))
				if res := do(t, s, "GET", p, ""); res.code != http.StatusOK {
					errs <- fmt.Errorf("%s: %d %s", p, res.code, res.body)
				}
				if res := do(t, s, "GET", "/products?q=shoes&limit=3", ""); res.code != http.StatusOK {
					errs <- fmt.Errorf("search: %d", res.code)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, id := range eligible {
		o, err := s.Order(context.Background(), id)
		require.NoError(t, err)
		assert.Equal(t, StatusReturnRequested, o.Status)
	}
}

func TestErrorsWrapSentinels(t *testing.T) {
	s := shared(t)
	ctx := context.Background()
	_, err := s.Order(ctx, 1)
	assert.ErrorIs(t, err, ErrNotFound)
	_, err = s.Product(ctx, "nope")
	assert.ErrorIs(t, err, ErrInvalid)
	_, err = s.CreateReturn(ctx, ReturnRequest{OrderID: idsWith(t, s, StatusCancelled, 1)[0], Reason: "x"})
	assert.ErrorIs(t, err, ErrNotReturnable)
	var e *Error
	require.True(t, errors.As(err, &e))
	assert.Equal(t, "order_cancelled", e.Code)
}

// fullyReturned returns an order with status whose returns cover every line.
func fullyReturned(t *testing.T, s *Shop, status string) int {
	t.Helper()
	ctx := context.Background()
	for _, id := range idsWith(t, s, status, 1) {
		o, err := s.Order(ctx, id)
		require.NoError(t, err)
		rs, err := s.ReturnsForOrder(ctx, id)
		require.NoError(t, err)
		n := 0
		for _, r := range rs.Returns {
			n += len(r.Items)
		}
		if n == len(o.Items) {
			return id
		}
	}
	t.Fatalf("no fully returned order with status %s", status)
	return 0
}
