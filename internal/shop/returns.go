package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CreateReturn requests a return, as POST /returns does. The rules, in the
// order they are checked:
//   - the order exists (ErrNotFound) and the request is well formed: a
//     reason, at most 10 items, each a SKU (ErrInvalid);
//   - the order was delivered: not processing, in transit or cancelled
//     (ErrNotReturnable, codes not_delivered and order_cancelled);
//   - each item is a line of the order (ErrNotReturnable,
//     item_not_in_order);
//   - no item already has a return; with no items, some line has none
//     (ErrReturnExists, naming the return);
//   - today is at most Config.ReturnDays days after the delivery date
//     (ErrNotReturnable, return_window_closed).
//
// The new return is "requested", refunds the lines' total (the order total
// when every line comes back), and moves the order to return_requested.
// Returns are written through the shop's one writer connection, so
// concurrent requests for the same order cannot both succeed.
func (s *Shop) CreateReturn(ctx context.Context, req ReturnRequest) (Return, error) {
	if req.OrderID <= 0 {
		return Return{}, newErr(ErrInvalid, "invalid_order_id", "order_id must be an order number, such as %d", FirstOrderID+122)
	}
	reason := normReason(req.Reason)
	if reason == "" {
		return Return{}, newErr(ErrInvalid, "invalid_reason", "a reason is required, such as \"arrived damaged\"")
	}
	if len(req.Items) > maxReturnItems {
		return Return{}, newErr(ErrInvalid, "invalid_items", "at most %d items per return", maxReturnItems)
	}
	var want []string
	for _, it := range req.Items {
		k, err := parseSKU(it)
		if err != nil {
			return Return{}, err
		}
		if !slices.Contains(want, k) {
			want = append(want, k)
		}
	}
	now := s.now()

	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return Return{}, fmt.Errorf("shop: create return: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	r, err := s.createReturn(ctx, tx, req.OrderID, reason, want, now)
	if err != nil {
		return Return{}, err
	}
	if err := tx.Commit(); err != nil {
		return Return{}, fmt.Errorf("shop: create return: %w", err)
	}
	return r, nil
}

type orderLine struct {
	sku   string
	qty   int
	price Money
}

func (s *Shop) createReturn(ctx context.Context, tx *sql.Tx, id int, reason string, want []string, now time.Time) (Return, error) {
	wrap := func(err error) error { return fmt.Errorf("shop: create return for %d: %w", id, err) }
	var (
		status         string
		delivered, eta int64
	)
	err := tx.QueryRowContext(ctx, `SELECT o.status, COALESCE(s.delivered_at, 0), COALESCE(s.eta, 0)
		FROM orders o LEFT JOIN shipments s ON s.order_id = o.id WHERE o.id = ?`, id).Scan(&status, &delivered, &eta)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Return{}, orderNotFound(id)
	case err != nil:
		return Return{}, wrap(err)
	}
	switch status {
	case StatusCancelled:
		return Return{}, newErr(ErrNotReturnable, "order_cancelled", "order %d was cancelled before it shipped, so there is nothing to return", id)
	case StatusProcessing:
		return Return{}, newErr(ErrNotReturnable, "not_delivered", "order %d has not shipped yet (status processing); it can be returned once it is delivered", id)
	case StatusShipped, StatusInTransit, StatusOutForDelivery:
		return Return{}, newErr(ErrNotReturnable, "not_delivered", "order %d is %s and expected on %s; it can be returned once it is delivered", id, status, date(eta))
	}

	lines, err := queryLines(ctx, tx, id)
	if err != nil {
		return Return{}, wrap(err)
	}
	returned, last, err := returnedItems(ctx, tx, id)
	if err != nil {
		return Return{}, wrap(err)
	}
	var take []orderLine
	if len(want) == 0 {
		for _, l := range lines {
			if _, done := returned[l.sku]; !done {
				take = append(take, l)
			}
		}
		if len(take) == 0 {
			e := newErr(ErrReturnExists, "return_exists", "every item of order %d already has a return (%s)", id, returnID(last))
			e.ReturnID = returnID(last)
			return Return{}, e
		}
	} else {
		for _, k := range want {
			i := indexLine(lines, k)
			if i < 0 {
				return Return{}, newErr(ErrNotReturnable, "item_not_in_order", "%s is not an item of order %d", k, id)
			}
			if seq, done := returned[k]; done {
				e := newErr(ErrReturnExists, "return_exists", "%s of order %d already has a return (%s)", k, id, returnID(seq))
				e.ReturnID = returnID(seq)
				return Return{}, e
			}
			take = append(take, lines[i])
		}
	}

	day := 24 * time.Hour
	deadline := time.Unix(delivered, 0).UTC().Truncate(day).AddDate(0, 0, s.cfg.ReturnDays)
	if now.Truncate(day).After(deadline) {
		return Return{}, newErr(ErrNotReturnable, "return_window_closed",
			"order %d was delivered on %s; the %d-day return window closed on %s",
			id, date(delivered), s.cfg.ReturnDays, deadline.Format(time.DateOnly))
	}

	r := Return{OrderID: id, Currency: Currency, Reason: reason, RequestedAt: now.Format(time.DateOnly)}
	for _, l := range take {
		r.Items = append(r.Items, l.sku)
		r.RefundAmount += Money(l.qty) * l.price
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), ?) + 1 FROM returns`, firstReturnSeq-1).Scan(&seq); err != nil {
		return Return{}, wrap(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO returns(seq, order_id, status, items, reason, refund_cents, requested_at)
		VALUES(?,?,?,?,?,?,?)`, seq, id, ReturnRequested, strings.Join(r.Items, ","), reason, int64(r.RefundAmount), now.Unix()); err != nil {
		return Return{}, wrap(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE orders SET status = ? WHERE id = ?`, StatusReturnRequested, id); err != nil {
		return Return{}, wrap(err)
	}
	r.ReturnID = returnID(seq)
	r.Status = returnStatus(ReturnRequested, now.Unix(), now, s.cfg.ApproveAfter)
	return r, nil
}

func queryLines(ctx context.Context, tx *sql.Tx, id int) ([]orderLine, error) {
	rows, err := tx.QueryContext(ctx, `SELECT sku, qty, price_cents FROM order_items WHERE order_id = ? ORDER BY line`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []orderLine
	for rows.Next() {
		var l orderLine
		if err := rows.Scan(&l.sku, &l.qty, &l.price); err != nil {
			return nil, err
		}
		lines = append(lines, l)
	}
	return lines, rows.Err()
}

// returnedItems maps each SKU of order id that has a return to that
// return's seq; last is the newest return's seq.
func returnedItems(ctx context.Context, tx *sql.Tx, id int) (map[string]int64, int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT seq, items FROM returns WHERE order_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[string]int64{}
	var last int64
	for rows.Next() {
		var items string
		if err := rows.Scan(&last, &items); err != nil {
			return nil, 0, err
		}
		for _, k := range strings.Split(items, ",") {
			out[k] = last
		}
	}
	return out, last, rows.Err()
}

func indexLine(lines []orderLine, sku string) int {
	for i := range lines {
		if lines[i].sku == sku {
			return i
		}
	}
	return -1
}
