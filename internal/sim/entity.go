package sim

import "strings"

// entityKind is what an extracted entity is.
type entityKind uint8

const (
	entOrder    entityKind = iota + 1 // 5–9 digits
	entTracking                       // 1Z… or 10–20 upper-case alphanumerics with letters and digits
	entEmail
	entPhone
	entSKU    // [A-Z]{2,5}-\d{2,6}
	entAmount // money with a currency
)

var entityNames = [...]string{
	entOrder: "order", entTracking: "tracking", entEmail: "email",
	entPhone: "phone", entSKU: "sku", entAmount: "amount",
}

func (k entityKind) String() string {
	if int(k) < len(entityNames) && entityNames[k] != "" {
		return entityNames[k]
	}
	return "unknown"
}

// entity is one fact found in text. Value is as written, except that order
// numbers lose their "#".
type entity struct {
	kind  entityKind
	value string
	pos   int
}

type span struct{ from, to int }

// extractor finds entities in one text; it keeps the spans already claimed
// so that, say, the digits of a phone number are not also an order number.
type extractor struct {
	s     string
	spans []span
	out   []entity
}

// extractEntities returns the entities of s in the order they appear.
func extractEntities(s string) []entity {
	return appendEntities(nil, s)
}

// appendEntities appends the entities of s, in order of appearance, to dst.
func appendEntities(dst []entity, s string) []entity {
	if s == "" {
		return dst
	}
	x := extractor{s: s, out: dst}
	n0 := len(dst)
	// Most specific first: each step claims its spans.
	x.emails()
	x.skus()
	x.amounts()
	x.trackings()
	x.phones()
	x.orders()
	// Insertion sort by position: a handful of entities per text.
	e := x.out[n0:]
	for i := 1; i < len(e); i++ {
		for j := i; j > 0 && e[j].pos < e[j-1].pos; j-- {
			e[j], e[j-1] = e[j-1], e[j]
		}
	}
	return x.out
}

func (x *extractor) claimed(from, to int) bool {
	for _, sp := range x.spans {
		if from < sp.to && sp.from < to {
			return true
		}
	}
	return false
}

func (x *extractor) add(k entityKind, from, to int, value string) {
	x.spans = append(x.spans, span{from, to})
	x.out = append(x.out, entity{kind: k, value: value, pos: from})
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool { return isAlpha(c) || isDigit(c) }

// wordByte reports bytes that continue a word, including non-ASCII letters.
func wordByte(c byte) bool { return isAlnum(c) || c >= 0x80 }

func (x *extractor) emails() {
	s := x.s
	for i := 0; i < len(s); i++ {
		if s[i] != '@' {
			continue
		}
		j := i
		for j > 0 && (isAlnum(s[j-1]) || strings.IndexByte("._%+-", s[j-1]) >= 0) {
			j--
		}
		for j < i && s[j] == '.' {
			j++
		}
		k := i + 1
		for k < len(s) && (isAlnum(s[k]) || s[k] == '-' || s[k] == '.') {
			k++
		}
		for k > i+1 && s[k-1] == '.' { // a sentence's full stop
			k--
		}
		domain := s[i+1 : k]
		dot := strings.LastIndexByte(domain, '.')
		if j == i || dot <= 0 || len(domain)-dot-1 < 2 || !allAlpha(domain[dot+1:]) {
			continue
		}
		x.add(entEmail, j, k, s[j:k])
		i = k
	}
}

func allAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isAlpha(s[i]) {
			return false
		}
	}
	return s != ""
}

func (x *extractor) skus() {
	s := x.s
	for i := 0; i < len(s); i++ {
		if !isUpper(s[i]) || (i > 0 && (wordByte(s[i-1]) || s[i-1] == '-')) {
			continue
		}
		j := i
		for j < len(s) && isUpper(s[j]) {
			j++
		}
		if n := j - i; n < 2 || n > 5 || j >= len(s) || s[j] != '-' {
			i = j
			continue
		}
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if n := k - j - 1; n < 2 || n > 6 || (k < len(s) && (wordByte(s[k]) || s[k] == '-')) {
			i = k
			continue
		}
		x.add(entSKU, i, k, s[i:k])
		i = k
	}
}

// currencySuffixes follow an amount ("12.50 EUR", "12,50 €").
var currencySuffixes = []string{"eur", "euro", "euros", "usd", "dollar", "dollars", "gbp", "pounds", "chf", "€", "$", "£"}

func (x *extractor) amounts() {
	s := x.s
	for i := 0; i < len(s); i++ {
		// Prefix symbol: €, $, £ (optionally a space) then a number.
		if sym := currencySymbolAt(s, i); sym > 0 {
			j := i + sym
			if j < len(s) && s[j] == ' ' {
				j++
			}
			if k := numberEnd(s, j); k > j && !x.claimed(i, k) {
				x.add(entAmount, i, k, s[i:k])
				i = k - 1
			}
			continue
		}
		if !isDigit(s[i]) || (i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.' || s[i-1] == ',')) {
			continue
		}
		k := numberEnd(s, i)
		if k == i { // not a number we read: skip its digits
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			i = k - 1
			continue
		}
		j := k
		if j < len(s) && s[j] == ' ' {
			j++
		}
		if end := currencySuffixAt(s, j); end > 0 && !x.claimed(i, end) {
			x.add(entAmount, i, end, s[i:end])
			i = end - 1
			continue
		}
		i = k - 1
	}
}

func currencySymbolAt(s string, i int) int {
	switch {
	case s[i] == '$':
		return 1
	case strings.HasPrefix(s[i:], "€"):
		return len("€")
	case strings.HasPrefix(s[i:], "£"):
		return len("£")
	}
	return 0
}

// currencySuffixAt returns the end of a currency word or symbol at i, or 0.
func currencySuffixAt(s string, i int) int {
	best := 0
	for _, c := range currencySuffixes {
		if len(s)-i >= len(c) && strings.EqualFold(s[i:i+len(c)], c) {
			end := i + len(c)
			if isAlpha(c[0]) && end < len(s) && wordByte(s[end]) {
				continue
			}
			best = max(best, end)
		}
	}
	return best
}

// numberEnd returns the end of a number at i: digits, optionally a decimal
// part of one or two digits after "." or ",". It returns i if there is none.
func numberEnd(s string, i int) int {
	j := i
	for j < len(s) && isDigit(s[j]) {
		j++
	}
	if j == i || j-i > 9 {
		return i
	}
	if j+1 < len(s) && (s[j] == '.' || s[j] == ',') && isDigit(s[j+1]) {
		k := j + 1
		for k < len(s) && isDigit(s[k]) {
			k++
		}
		if k-j-1 <= 2 {
			j = k
		}
	}
	if j < len(s) && isAlpha(s[j]) {
		return i
	}
	return j
}

func (x *extractor) trackings() {
	s := x.s
	for i := 0; i < len(s); i++ {
		if !isAlnum(s[i]) || (i > 0 && (wordByte(s[i-1]) || s[i-1] == '-' || s[i-1] == '@' || s[i-1] == '.')) {
			continue
		}
		j := i
		letters, digits, lower := 0, 0, 0
		for j < len(s) && isAlnum(s[j]) {
			switch {
			case isDigit(s[j]):
				digits++
			case isLower(s[j]):
				lower++
				letters++
			default:
				letters++
			}
			j++
		}
		n := j - i
		ups := len(s[i:j]) >= 2 && (s[i] == '1' && (s[i+1] == 'Z' || s[i+1] == 'z'))
		ok := n >= 10 && n <= 20 && letters > 0 && digits > 0 && (lower == 0 || ups) &&
			(j == len(s) || !(wordByte(s[j]) || s[j] == '-' || s[j] == '@'))
		if ok && !x.claimed(i, j) {
			x.add(entTracking, i, j, s[i:j])
		}
		i = j
	}
}

// phoneContext are words after which a bare 7–9 digit number is a phone
// number rather than an order number.
var phoneContext = []string{"phone", "tel", "mobile", "cell", "call me", "telefon", "handy", "téléphone", "portable", "teléfono", "móvil"}

func (x *extractor) phones() {
	s := x.s
	for i := 0; i < len(s); i++ {
		c := s[i]
		startsPlus := c == '+' && i+1 < len(s) && isDigit(s[i+1])
		startsParen := c == '(' && i+1 < len(s) && isDigit(s[i+1])
		if !(isDigit(c) || startsPlus || startsParen) || (i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.' || s[i-1] == ',' || s[i-1] == '-' || s[i-1] == '#')) {
			continue
		}
		// Walk digit groups joined by single separators.
		j := i
		if startsPlus || startsParen {
			j++
		}
		digits, groups, first := 0, 0, 0
		var sizes [8]int
		end := j
		sepDash := false
		for j < len(s) {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			if k == j {
				break
			}
			if groups < len(sizes) {
				sizes[groups] = k - j
			}
			if groups == 0 {
				first = k - j
			}
			groups++
			digits += k - j
			end = k
			if k < len(s) && s[k] == ')' {
				k++
			}
			if k+1 < len(s) && (s[k] == ' ' || s[k] == '-' || s[k] == '.' || s[k] == '/') && isDigit(s[k+1]) {
				if s[k] != ' ' {
					sepDash = true
				}
				j = k + 1
				continue
			}
			if k+1 < len(s) && s[k] == ' ' && s[k+1] == '(' {
				j = k + 2
				continue
			}
			break
		}
		if end < len(s) && (isAlpha(s[end]) || ((s[end] == '.' || s[end] == ',') && end+1 < len(s) && isDigit(s[end+1]))) {
			i = end
			continue
		}
		isDate := groups == 3 && sepDash && ((sizes[0] == 4 && sizes[1] <= 2 && sizes[2] <= 2) || (sizes[0] <= 2 && sizes[1] <= 2 && sizes[2] == 4))
		ok := false
		switch {
		case isDate || digits < 7 || digits > 15:
		case startsPlus || startsParen:
			ok = true
		case groups >= 2 && first <= 4:
			ok = true
		case groups == 1 && digits >= 10:
			ok = true
		case groups == 1 && hasPhoneContext(s[:i]):
			ok = true
		}
		if ok && !x.claimed(i, end) {
			x.add(entPhone, i, end, s[i:end])
		}
		i = end
	}
}

func hasPhoneContext(before string) bool {
	if len(before) > 30 {
		before = before[len(before)-30:]
	}
	for _, w := range phoneContext {
		if containsFold(before, w) {
			return true
		}
	}
	return false
}

func (x *extractor) orders() {
	s := x.s
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) || (i > 0 && (wordByte(s[i-1]) || s[i-1] == '-' || s[i-1] == '.' || s[i-1] == ',' || s[i-1] == '+')) {
			continue
		}
		j := i
		for j < len(s) && isDigit(s[j]) {
			j++
		}
		n := j - i
		decimal := j+1 < len(s) && (s[j] == '.' || s[j] == ',') && isDigit(s[j+1])
		if n >= 5 && n <= 9 && !decimal && (j == len(s) || !(wordByte(s[j]) || s[j] == '-')) && !x.claimed(i, j) {
			from := i
			if i > 0 && s[i-1] == '#' {
				from--
			}
			x.add(entOrder, from, j, s[i:j])
		}
		i = j
	}
}

// containsFold reports whether s contains sub, ASCII case-insensitively
// (sub must be lower case).
func containsFold(s, sub string) bool {
	if len(sub) == 0 {
		return true
	}
	for i := 0; i+len(sub) <= len(s); i++ {
		if lowerByte(s[i]) == sub[0] && hasPrefixFold(s[i:], sub) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		if lowerByte(s[i]) != prefix[i] {
			return false
		}
	}
	return true
}

func lowerByte(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

// firstOf returns the value of the first entity of kind k, or "".
func firstOf(es []entity, k entityKind) string {
	for _, e := range es {
		if e.kind == k {
			return e.value
		}
	}
	return ""
}

// allOf returns the distinct values of kind k in order.
func allOf(es []entity, k entityKind) []string {
	var out []string
	for _, e := range es {
		if e.kind == k && !contains(out, e.value) {
			out = append(out, e.value)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
