package shop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// queries are the read statements, prepared once on the read pool.
type queries struct {
	order, shipment, tracking, product, byCategory, search, searchInCategory,
	ret, orderReturns, orderExists, customer, customerOrders, idsByStatus *sql.Stmt
}

const orderCols = `o.status, o.placed_at, o.total_cents, c.name, c.email,
	COALESCE(s.carrier, ''), COALESCE(s.tracking, ''), COALESCE(s.status, ''), COALESCE(s.eta, 0), COALESCE(s.delivered_at, 0)`

const shipmentCols = `COALESCE(s.carrier, ''), COALESCE(s.tracking, ''), COALESCE(s.status, ''), COALESCE(s.shipped_at, 0),
	COALESCE(s.eta, 0), COALESCE(s.delivered_at, 0), COALESCE(s.last_event, ''), COALESCE(s.location, '')`

const hitCols = `p.sku, p.name, p.price_cents, p.stock`

const returnCols = `seq, order_id, status, items, reason, refund_cents, requested_at`

func (q *queries) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		// One row per order line, each carrying the order and shipment:
		// one round trip for GET /orders/{id}.
		{&q.order, `SELECT ` + orderCols + `, i.sku, i.name, i.qty, i.price_cents
			FROM orders o JOIN customers c ON c.id = o.customer_id
			JOIN order_items i ON i.order_id = o.id
			LEFT JOIN shipments s ON s.order_id = o.id
			WHERE o.id = ? ORDER BY i.line`},
		{&q.shipment, `SELECT o.status, ` + shipmentCols + `
			FROM orders o LEFT JOIN shipments s ON s.order_id = o.id WHERE o.id = ?`},
		{&q.tracking, `SELECT s.order_id, ` + shipmentCols + ` FROM shipments s WHERE s.tracking = ?`},
		{&q.product, `SELECT sku, name, category, price_cents, stock, description FROM products WHERE sku = ?`},
		{&q.byCategory, `SELECT ` + hitCols + ` FROM products p WHERE p.category = ? ORDER BY p.pos LIMIT ?`},
		// Name matches weigh most, then category, then description.
		{&q.search, `SELECT ` + hitCols + ` FROM products_fts f JOIN products p ON p.pos = f.rowid
			WHERE products_fts MATCH ? ORDER BY bm25(products_fts, 10.0, 5.0, 1.0), p.pos LIMIT ?`},
		{&q.searchInCategory, `SELECT ` + hitCols + ` FROM products_fts f JOIN products p ON p.pos = f.rowid
			WHERE products_fts MATCH ? AND p.category = ? ORDER BY bm25(products_fts, 10.0, 5.0, 1.0), p.pos LIMIT ?`},
		{&q.ret, `SELECT ` + returnCols + ` FROM returns WHERE seq = ?`},
		{&q.orderReturns, `SELECT ` + returnCols + ` FROM returns WHERE order_id = ? ORDER BY seq`},
		{&q.orderExists, `SELECT 1 FROM orders WHERE id = ?`},
		{&q.customer, `SELECT id, name FROM customers WHERE email = ?`},
		{&q.customerOrders, `SELECT id, status, placed_at, total_cents FROM orders
			WHERE customer_id = ? ORDER BY id DESC LIMIT ?`},
		{&q.idsByStatus, `SELECT id FROM orders WHERE status = ? ORDER BY id`},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("shop: prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

func (q *queries) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{q.order, q.shipment, q.tracking, q.product, q.byCategory, q.search,
		q.searchInCategory, q.ret, q.orderReturns, q.orderExists, q.customer, q.customerOrders, q.idsByStatus} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

func date(unix int64) string {
	if unix == 0 {
		return ""
	}
	return time.Unix(unix, 0).UTC().Format(time.DateOnly)
}

func orderNotFound(id int) *Error {
	return newErr(ErrNotFound, "order_not_found", "order %d not found; order numbers have six digits and start at %d", id, FirstOrderID)
}

// Order returns order id with its items and shipment summary, as
// GET /orders/{id} serves it. An unknown id is an *Error wrapping
// ErrNotFound.
func (s *Shop) Order(ctx context.Context, id int) (Order, error) {
	rows, err := s.q.order.QueryContext(ctx, id)
	if err != nil {
		return Order{}, fmt.Errorf("shop: order %d: %w", id, err)
	}
	defer rows.Close()
	o := Order{OrderID: id, Currency: Currency}
	var (
		placed, eta, delivered int64
		carrier, tracking, st  string
	)
	for rows.Next() {
		var it Item
		if err := rows.Scan(&o.Status, &placed, &o.Total, &o.Customer, &o.Email,
			&carrier, &tracking, &st, &eta, &delivered,
			&it.SKU, &it.Name, &it.Quantity, &it.Price); err != nil {
			return Order{}, fmt.Errorf("shop: order %d: %w", id, err)
		}
		o.Items = append(o.Items, it)
	}
	if err := rows.Err(); err != nil {
		return Order{}, fmt.Errorf("shop: order %d: %w", id, err)
	}
	if len(o.Items) == 0 {
		return Order{}, orderNotFound(id)
	}
	o.PlacedAt = date(placed)
	if carrier != "" {
		o.Shipment = &Summary{Carrier: carrier, TrackingNumber: tracking, Status: st, DeliveredAt: date(delivered)}
		if delivered == 0 {
			o.Shipment.ETA = date(eta)
		}
	}
	return o, nil
}

// scanShipment scans lead, then the shipmentCols into sh.
func scanShipment(sc interface{ Scan(...any) error }, lead any, sh *Shipment) error {
	var shipped, eta, delivered int64
	if err := sc.Scan(lead, &sh.Carrier, &sh.TrackingNumber, &sh.Status, &shipped, &eta, &delivered,
		&sh.LastEvent, &sh.Location); err != nil {
		return err
	}
	sh.ShippedAt, sh.DeliveredAt = date(shipped), date(delivered)
	if delivered == 0 {
		sh.ETA = date(eta)
	}
	return nil
}

// Shipment returns the shipment of order orderID, as
// GET /orders/{id}/shipment serves it. An order that has not shipped has
// a Shipment with its status and a Note; an unknown order is an *Error
// wrapping ErrNotFound.
func (s *Shop) Shipment(ctx context.Context, orderID int) (Shipment, error) {
	sh := Shipment{OrderID: orderID}
	var orderStatus string
	err := scanShipment(s.q.shipment.QueryRowContext(ctx, orderID), &orderStatus, &sh)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Shipment{}, orderNotFound(orderID)
	case err != nil:
		return Shipment{}, fmt.Errorf("shop: shipment of %d: %w", orderID, err)
	}
	if sh.Carrier == "" {
		sh.Status = orderStatus
		if orderStatus == StatusCancelled {
			sh.Note = "The order was cancelled before it shipped, so there is no parcel."
		} else {
			sh.Note = "The order has not shipped yet; it is being prepared in the warehouse."
		}
	}
	return sh, nil
}

// ShipmentByTracking returns the shipment with a tracking number, as
// GET /shipments/{tracking_number} serves it. The number is matched
// case-insensitively; an unknown one is an *Error wrapping ErrNotFound.
func (s *Shop) ShipmentByTracking(ctx context.Context, tracking string) (Shipment, error) {
	t, perr := parseTracking(tracking)
	if perr != nil {
		return Shipment{}, perr
	}
	var sh Shipment
	err := scanShipment(s.q.tracking.QueryRowContext(ctx, t), &sh.OrderID, &sh)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Shipment{}, newErr(ErrNotFound, "shipment_not_found", "no shipment with tracking number %s", t)
	case err != nil:
		return Shipment{}, fmt.Errorf("shop: shipment %s: %w", t, err)
	}
	return sh, nil
}

// Product returns the product with a SKU (matched case-insensitively), as
// GET /products/{sku} serves it. An unknown SKU is an *Error wrapping
// ErrNotFound.
func (s *Shop) Product(ctx context.Context, sku string) (Product, error) {
	k, perr := parseSKU(sku)
	if perr != nil {
		return Product{}, perr
	}
	p := Product{Currency: Currency}
	err := s.q.product.QueryRowContext(ctx, k).Scan(&p.SKU, &p.Name, &p.Category, &p.Price, &p.Stock, &p.Description)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Product{}, newErr(ErrNotFound, "product_not_found", "no product with SKU %s; search with /products?q= to find one", k)
	case err != nil:
		return Product{}, fmt.Errorf("shop: product %s: %w", k, err)
	}
	p.InStock = p.Stock > 0
	return p, nil
}

// Search limits.
const (
	DefaultSearchLimit = 5
	MaxSearchLimit     = 20
	maxSearchTerms     = 8
)

// SearchResult is the answer to GET /products.
type SearchResult struct {
	Query    string       `json:"query,omitempty"`
	Category string       `json:"category,omitempty"`
	Count    int          `json:"count"`
	Results  []ProductHit `json:"results"`
}

// SearchProducts finds up to limit products (0 means DefaultSearchLimit,
// at most MaxSearchLimit) for a query and/or a category. SKUs in the query
// come first; the other words match product names, categories and
// descriptions (any word, stemmed, best matches first). An empty query
// lists the category. An unknown category, or neither a query nor a
// category, is an *Error wrapping ErrInvalid.
func (s *Shop) SearchProducts(ctx context.Context, query, category string, limit int) (SearchResult, error) {
	res := SearchResult{Query: strings.TrimSpace(query), Category: strings.ToLower(strings.TrimSpace(category)), Results: []ProductHit{}}
	switch {
	case limit == 0:
		limit = DefaultSearchLimit
	case limit < 0 || limit > MaxSearchLimit:
		return SearchResult{}, newErr(ErrInvalid, "invalid_limit", "limit must be between 1 and %d", MaxSearchLimit)
	}
	if res.Category != "" && !isCategory(res.Category) {
		return SearchResult{}, newErr(ErrInvalid, "invalid_category", "unknown category %q; categories are %s",
			category, strings.Join(Categories(), ", "))
	}
	skus, match := searchTerms(res.Query)
	if res.Query == "" && res.Category == "" {
		return SearchResult{}, newErr(ErrInvalid, "invalid_query", "give a search query (q) or a category")
	}
	seen := make(map[string]bool, limit)
	for _, k := range skus {
		if len(res.Results) == limit {
			break
		}
		p, err := s.Product(ctx, k)
		if errors.Is(err, ErrNotFound) || (err == nil && res.Category != "" && p.Category != res.Category) {
			continue
		}
		if err != nil {
			return SearchResult{}, err
		}
		seen[p.SKU] = true
		res.Results = append(res.Results, ProductHit{SKU: p.SKU, Name: p.Name, Price: p.Price, Currency: Currency, InStock: p.InStock})
	}
	var (
		rows *sql.Rows
		err  error
	)
	rest := limit - len(res.Results)
	switch {
	case rest == 0:
	case match != "" && res.Category != "":
		rows, err = s.q.searchInCategory.QueryContext(ctx, match, res.Category, rest+len(seen))
	case match != "":
		rows, err = s.q.search.QueryContext(ctx, match, rest+len(seen))
	case len(skus) == 0 && res.Category != "":
		// No word worth searching for: list the category.
		rows, err = s.q.byCategory.QueryContext(ctx, res.Category, rest)
	}
	if err != nil {
		return SearchResult{}, fmt.Errorf("shop: search: %w", err)
	}
	if rows != nil {
		defer rows.Close()
		for rows.Next() {
			h := ProductHit{Currency: Currency}
			var stock int
			if err := rows.Scan(&h.SKU, &h.Name, &h.Price, &stock); err != nil {
				return SearchResult{}, fmt.Errorf("shop: search: %w", err)
			}
			if seen[h.SKU] || len(res.Results) == limit {
				continue
			}
			h.InStock = stock > 0
			res.Results = append(res.Results, h)
		}
		if err := rows.Err(); err != nil {
			return SearchResult{}, fmt.Errorf("shop: search: %w", err)
		}
	}
	res.Count = len(res.Results)
	return res, nil
}

// stopWords carry no product meaning; a model's query ("running shoes
// under 100 for my son") keeps its nouns.
var stopWords = map[string]bool{
	"a": true, "an": true, "and": true, "or": true, "the": true, "for": true, "with": true, "without": true,
	"in": true, "of": true, "to": true, "on": true, "my": true, "me": true, "you": true, "do": true,
	"have": true, "any": true, "some": true, "is": true, "are": true, "it": true, "under": true, "over": true,
	"than": true, "less": true, "more": true, "cheap": true, "best": true, "good": true, "new": true,
	"please": true, "looking": true, "want": true, "need": true, "buy": true, "eur": true, "euro": true, "euros": true,
}

// searchTerms splits a query into SKUs (looked up directly) and an FTS5
// expression that ORs the other words, each quoted so no word is read as
// FTS syntax.
func searchTerms(q string) (skus []string, match string) {
	var b strings.Builder
	n := 0
	for _, w := range strings.FieldsFunc(q, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= 0x80)
	}) {
		if k, err := parseSKU(w); err == nil {
			skus = append(skus, k)
			continue
		}
		for _, t := range strings.FieldsFunc(strings.ToLower(w), func(r rune) bool { return r == '-' }) {
			if len(t) < 2 || stopWords[t] || n == maxSearchTerms {
				continue
			}
			if n > 0 {
				b.WriteString(" OR ")
			}
			b.WriteByte('"')
			b.WriteString(t)
			b.WriteByte('"')
			n++
		}
	}
	return skus, b.String()
}

func scanReturn(sc interface{ Scan(...any) error }, now time.Time, approveAfter time.Duration) (Return, error) {
	var (
		r          Return
		seq        int64
		items      string
		requested  int64
		storedStat string
	)
	if err := sc.Scan(&seq, &r.OrderID, &storedStat, &items, &r.Reason, &r.RefundAmount, &requested); err != nil {
		return Return{}, err
	}
	r.ReturnID = returnID(seq)
	r.Currency = Currency
	r.Items = strings.Split(items, ",")
	r.RequestedAt = date(requested)
	r.Status = returnStatus(storedStat, requested, now, approveAfter)
	return r, nil
}

// returnStatus is a stored status as of now: a requested return shows as
// approved once approveAfter has passed.
func returnStatus(stored string, requested int64, now time.Time, approveAfter time.Duration) string {
	if stored == ReturnRequested && !now.Before(time.Unix(requested, 0).Add(approveAfter)) {
		return ReturnApproved
	}
	return stored
}

func returnID(seq int64) string { return "R-" + strconv.FormatInt(seq, 10) }

// Return returns a return by id ("R-500001"; the "R-" may be left out), as
// GET /returns/{id} serves it. An unknown id is an *Error wrapping
// ErrNotFound.
func (s *Shop) Return(ctx context.Context, id string) (Return, error) {
	seq, perr := parseReturnID(id)
	if perr != nil {
		return Return{}, perr
	}
	r, err := scanReturn(s.q.ret.QueryRowContext(ctx, seq), s.now(), s.cfg.ApproveAfter)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Return{}, newErr(ErrNotFound, "return_not_found", "no return %s; return numbers look like R-500001", returnID(seq))
	case err != nil:
		return Return{}, fmt.Errorf("shop: return %s: %w", id, err)
	}
	return r, nil
}

// OrderReturns is the answer to GET /orders/{id}/returns.
type OrderReturns struct {
	OrderID int      `json:"order_id"`
	Returns []Return `json:"returns"`
}

// ReturnsForOrder returns the returns of order orderID, oldest first (none
// is an empty list). An unknown order is an *Error wrapping ErrNotFound.
func (s *Shop) ReturnsForOrder(ctx context.Context, orderID int) (OrderReturns, error) {
	out := OrderReturns{OrderID: orderID, Returns: []Return{}}
	rows, err := s.q.orderReturns.QueryContext(ctx, orderID)
	if err != nil {
		return out, fmt.Errorf("shop: returns of %d: %w", orderID, err)
	}
	defer rows.Close()
	now := s.now()
	for rows.Next() {
		r, err := scanReturn(rows, now, s.cfg.ApproveAfter)
		if err != nil {
			return out, fmt.Errorf("shop: returns of %d: %w", orderID, err)
		}
		out.Returns = append(out.Returns, r)
	}
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("shop: returns of %d: %w", orderID, err)
	}
	if len(out.Returns) == 0 {
		var one int
		err := s.q.orderExists.QueryRowContext(ctx, orderID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return out, orderNotFound(orderID)
		}
		if err != nil {
			return out, fmt.Errorf("shop: returns of %d: %w", orderID, err)
		}
	}
	return out, nil
}

// MaxCustomerOrders caps the orders CustomerOrders lists.
const MaxCustomerOrders = 20

// CustomerOrders is the answer to GET /customers/{email}/orders: the
// customer's most recent orders, newest first.
type CustomerOrders struct {
	Email    string      `json:"email"`
	Customer string      `json:"customer"`
	Orders   []OrderLine `json:"orders"`
}

// OrdersByEmail returns the most recent MaxCustomerOrders orders of the
// customer with an email address (matched case-insensitively). An unknown
// address is an *Error wrapping ErrNotFound.
func (s *Shop) OrdersByEmail(ctx context.Context, email string) (CustomerOrders, error) {
	e, perr := parseEmail(email)
	if perr != nil {
		return CustomerOrders{}, perr
	}
	out := CustomerOrders{Email: e, Orders: []OrderLine{}}
	var cid int64
	err := s.q.customer.QueryRowContext(ctx, e).Scan(&cid, &out.Customer)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return CustomerOrders{}, newErr(ErrNotFound, "customer_not_found", "no customer with email %s", e)
	case err != nil:
		return CustomerOrders{}, fmt.Errorf("shop: customer %s: %w", e, err)
	}
	rows, err := s.q.customerOrders.QueryContext(ctx, cid, MaxCustomerOrders)
	if err != nil {
		return CustomerOrders{}, fmt.Errorf("shop: orders of %s: %w", e, err)
	}
	defer rows.Close()
	for rows.Next() {
		l := OrderLine{Currency: Currency}
		var placed int64
		if err := rows.Scan(&l.OrderID, &l.Status, &placed, &l.Total); err != nil {
			return CustomerOrders{}, fmt.Errorf("shop: orders of %s: %w", e, err)
		}
		l.PlacedAt = date(placed)
		out.Orders = append(out.Orders, l)
	}
	if err := rows.Err(); err != nil {
		return CustomerOrders{}, fmt.Errorf("shop: orders of %s: %w", e, err)
	}
	return out, nil
}

// OrderIDs returns the ids of the orders with a status, ascending, so that
// tests, docs and evaluation suites can pick real orders of each kind.
func (s *Shop) OrderIDs(ctx context.Context, status string) ([]int, error) {
	rows, err := s.q.idsByStatus.QueryContext(ctx, status)
	if err != nil {
		return nil, fmt.Errorf("shop: orders by status: %w", err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("shop: orders by status: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
