package shop

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Currency is the currency of every amount the shop serves.
const Currency = "EUR"

// Money is an amount in euro cents. It marshals to JSON as a number with
// two decimals (129.90), which keeps the trailing zero that a float would
// lose, so a model quoting the tool result quotes the price as shown.
type Money int64

// String returns the amount with two decimals and no currency: "129.90".
func (m Money) String() string { return string(m.appendTo(nil)) }

func (m Money) appendTo(b []byte) []byte {
	v := int64(m)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/100, 10)
	c := v % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// MarshalJSON writes the amount as a JSON number with two decimals.
func (m Money) MarshalJSON() ([]byte, error) { return m.appendTo(make([]byte, 0, 12)), nil }

// UnmarshalJSON reads a JSON number (or a numeric string) with at most two
// decimals.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseMoney(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseMoney parses "129.9", "129.90" or "129" into cents; more than two
// decimals is an error.
func ParseMoney(s string) (Money, error) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || !allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Errorf("shop: invalid amount %q", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > 1<<50 {
		return 0, fmt.Errorf("shop: invalid amount %q", s)
	}
	c := int64(0)
	for i := range 2 {
		c *= 10
		if i < len(frac) {
			c += int64(frac[i] - '0')
		}
	}
	v := Money(w*100 + c)
	if neg {
		v = -v
	}
	return v, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Order statuses, in the order an order moves through them (cancelled
// leaves processing; return_requested and refunded follow delivered).
const (
	StatusProcessing      = "processing"
	StatusShipped         = "shipped"
	StatusInTransit       = "in_transit"
	StatusOutForDelivery  = "out_for_delivery"
	StatusDelivered       = "delivered"
	StatusCancelled       = "cancelled"
	StatusReturnRequested = "return_requested"
	StatusRefunded        = "refunded"
)

// Return statuses: a return is requested, approved once Config.ApproveAfter
// has passed on the shop's clock, and refunded when the goods came back
// (seeded returns only; the API never moves time forward).
const (
	ReturnRequested = "requested"
	ReturnApproved  = "approved"
	ReturnRefunded  = "refunded"
)

// Order is one order as GET /orders/{id} serves it. Dates are YYYY-MM-DD
// in UTC.
type Order struct {
	OrderID  int      `json:"order_id"`
	Status   string   `json:"status"`
	PlacedAt string   `json:"placed_at"`
	Customer string   `json:"customer"`
	Email    string   `json:"email"`
	Items    []Item   `json:"items"`
	Total    Money    `json:"total"`
	Currency string   `json:"currency"`
	Shipment *Summary `json:"shipment,omitempty"`
}

// Item is one line of an order: the product's SKU and name and its unit
// price when the order was placed.
type Item struct {
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Quantity int    `json:"quantity"`
	Price    Money  `json:"price"`
}

// Summary is the shipment of an order as the order shows it. ETA is set
// until the parcel is delivered, DeliveredAt after.
type Summary struct {
	Carrier        string `json:"carrier"`
	TrackingNumber string `json:"tracking_number"`
	Status         string `json:"status"`
	ETA            string `json:"eta,omitempty"`
	DeliveredAt    string `json:"delivered_at,omitempty"`
}

// Shipment is the shipment of an order as GET /orders/{id}/shipment and
// GET /shipments/{tracking_number} serve it. For an order that has not
// shipped (processing or cancelled) only OrderID, Status (the order's) and
// Note are set: "where is my parcel" then has an answer rather than a 404.
type Shipment struct {
	OrderID        int    `json:"order_id"`
	Carrier        string `json:"carrier,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty"`
	Status         string `json:"status"`
	ShippedAt      string `json:"shipped_at,omitempty"`
	ETA            string `json:"eta,omitempty"`
	DeliveredAt    string `json:"delivered_at,omitempty"`
	LastEvent      string `json:"last_event,omitempty"`
	Location       string `json:"location,omitempty"`
	Note           string `json:"note,omitempty"`
}

// Product is one product as GET /products/{sku} serves it.
type Product struct {
	SKU         string `json:"sku"`
	Name        string `json:"name"`
	Category    string `json:"category"`
	Price       Money  `json:"price"`
	Currency    string `json:"currency"`
	InStock     bool   `json:"in_stock"`
	Stock       int    `json:"stock"`
	Description string `json:"description"`
}

// ProductHit is one result of a product search: a Product without its
// description and stock count, to keep a search result small in a prompt.
type ProductHit struct {
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Price    Money  `json:"price"`
	Currency string `json:"currency"`
	InStock  bool   `json:"in_stock"`
}

// Return is one return as POST /returns and GET /returns/{id} serve it.
// Items are the SKUs returned (whole order lines); RefundAmount is their
// total, the order total when every line is returned.
type Return struct {
	ReturnID     string   `json:"return_id"`
	OrderID      int      `json:"order_id"`
	Status       string   `json:"status"`
	RefundAmount Money    `json:"refund_amount"`
	Currency     string   `json:"currency"`
	Items        []string `json:"items"`
	Reason       string   `json:"reason"`
	RequestedAt  string   `json:"requested_at"`
}

// OrderLine is one order in a customer's order list.
type OrderLine struct {
	OrderID  int    `json:"order_id"`
	Status   string `json:"status"`
	PlacedAt string `json:"placed_at"`
	Total    Money  `json:"total"`
	Currency string `json:"currency"`
}

// ReturnRequest asks for a return of an order. Items, when given, are the
// SKUs of the order lines to return; none means every line not already
// returned.
type ReturnRequest struct {
	OrderID int
	Reason  string
	Items   []string
}

// Sentinel errors. Every error the shop's methods return for a request
// that cannot be served is an *Error wrapping one of them; callers branch
// with errors.Is.
var (
	// ErrNotFound: no order, shipment, product, return or customer by
	// that id (HTTP 404).
	ErrNotFound = errors.New("shop: not found")
	// ErrInvalid: malformed input (HTTP 400).
	ErrInvalid = errors.New("shop: invalid input")
	// ErrNotReturnable: the order or item cannot be returned: not
	// delivered, outside the return window, or not in the order (HTTP 422).
	ErrNotReturnable = errors.New("shop: not returnable")
	// ErrReturnExists: the items already have a return (HTTP 409); the
	// *Error names it in ReturnID.
	ErrReturnExists = errors.New("shop: return exists")
)

// Error is a request the shop refused: a message meant for the model that
// reads it, a stable machine-readable code, and the sentinel it wraps.
type Error struct {
	// Code is stable and snake_case: order_not_found, invalid_order_id,
	// not_delivered, return_window_closed, return_exists, …
	Code string
	// Message says what is wrong and, where it helps, what to do instead.
	Message string
	// ReturnID names the existing return for ErrReturnExists.
	ReturnID string
	kind     error
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns the sentinel error of the error's kind.
func (e *Error) Unwrap() error { return e.kind }

func newErr(kind error, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), kind: kind}
}
