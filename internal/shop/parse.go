package shop

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Input limits.
const (
	maxReasonRunes  = 500
	maxReturnItems  = 10
	maxRequestBytes = 16 << 10
)

// parseOrderID reads an order number as a model writes it: "100123",
// " #100123 ".
func parseOrderID(s string) (int, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "#")
	if t == "" || len(t) > 9 || !allDigits(t) {
		return 0, newErr(ErrInvalid, "invalid_order_id", "%q is not an order number; order numbers have six digits, such as %d", clip(s), FirstOrderID+122)
	}
	id, _ := strconv.Atoi(t)
	return id, nil
}

// parseSKU reads a SKU ([A-Z]{2,5}-\d{2,6}, any case) and returns it upper
// case.
func parseSKU(s string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	letters, digits, ok := strings.Cut(t, "-")
	valid := ok && len(letters) >= 2 && len(letters) <= 5 && len(digits) >= 2 && len(digits) <= 6 && allDigits(digits)
	for i := 0; valid && i < len(letters); i++ {
		valid = letters[i] >= 'A' && letters[i] <= 'Z'
	}
	if !valid {
		return "", newErr(ErrInvalid, "invalid_sku", "%q is not a SKU; SKUs look like AUD-10000 (search with /products?q= to find one)", clip(s))
	}
	return t, nil
}

// parseTracking reads a tracking number: 8–30 letters and digits, returned
// upper case.
func parseTracking(s string) (string, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	valid := len(t) >= 8 && len(t) <= 30
	for i := 0; valid && i < len(t); i++ {
		c := t[i]
		valid = c >= '0' && c <= '9' || c >= 'A' && c <= 'Z'
	}
	if !valid {
		return "", newErr(ErrInvalid, "invalid_tracking_number", "%q is not a tracking number (8 to 30 letters and digits)", clip(s))
	}
	return t, nil
}

// parseReturnID reads "R-500001", "r500001" or "500001".
func parseReturnID(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimPrefix(strings.TrimPrefix(t, "R"), "-")
	if t == "" || len(t) > 9 || !allDigits(t) {
		return 0, newErr(ErrInvalid, "invalid_return_id", "%q is not a return number; return numbers look like R-500001", clip(s))
	}
	n, _ := strconv.ParseInt(t, 10, 64)
	return n, nil
}

// parseEmail lower-cases an address after a plausibility check.
func parseEmail(s string) (string, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(t, '@')
	if len(t) > 254 || at <= 0 || at != strings.LastIndexByte(t, '@') || at == len(t)-1 || strings.ContainsAny(t, " \t\r\n/") {
		return "", newErr(ErrInvalid, "invalid_email", "%q is not an email address", clip(s))
	}
	return t, nil
}

// clip shortens user input quoted back in an error message.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 40
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// normReason trims a return reason and caps it at maxReasonRunes: models
// pass the customer's whole message, which is worth keeping but not
// without bound.
func normReason(s string) string {
	s = strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(s) <= maxReasonRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == maxReasonRunes {
			return strings.TrimSpace(s[:i])
		}
		n++
	}
	return s
}

// decodeReturnRequest reads POST /returns' body: {"order_id": "100123" or
// 100123, "reason": "...", "items": ["SKU", …]}. Unknown fields are
// ignored, since models add arguments nobody asked for.
func decodeReturnRequest(body []byte) (ReturnRequest, error) {
	var raw struct {
		OrderID json.RawMessage `json:"order_id"`
		Reason  string          `json:"reason"`
		Items   []string        `json:"items"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return ReturnRequest{}, newErr(ErrInvalid, "invalid_body",
			`the body must be a JSON object {"order_id": "100123", "reason": "...", "items": ["SKU", ...]}`)
	}
	id := strings.TrimSpace(string(raw.OrderID))
	if id == "" || id == "null" {
		return ReturnRequest{}, newErr(ErrInvalid, "invalid_order_id", "order_id is required")
	}
	if id[0] == '"' {
		var str string
		if json.Unmarshal(raw.OrderID, &str) != nil {
			return ReturnRequest{}, newErr(ErrInvalid, "invalid_order_id", "order_id must be an order number")
		}
		id = str
	}
	n, err := parseOrderID(id)
	if err != nil {
		return ReturnRequest{}, err
	}
	return ReturnRequest{OrderID: n, Reason: raw.Reason, Items: raw.Items}, nil
}
