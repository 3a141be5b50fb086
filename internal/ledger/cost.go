package ledger

import (
	"errors"
	"math"
	"strconv"
)

// USD is an amount of US dollars counted in nano-dollars (10⁻⁹ USD).
//
// Costs are integers so that a sum over millions of records is exact and
// the same in Go, SQLite and PostgreSQL, whatever order it is added in. A
// nano-dollar is 1/150 of one input token of a small model priced at $0.15
// per million tokens: rounding each call's cost to it moves a day of a
// million calls by at most $0.0005. The largest amount, about 9.2 billion
// dollars, is far beyond any sum a ledger query makes.
//
// On the wire (JSON) a USD is an exact decimal number of dollars, such as
// 0.000150375.
type USD int64

// Units of USD.
const (
	Nanodollar USD = 1
	Dollar     USD = 1_000_000_000
)

// Dollars converts an amount in dollars (the router's prices) to USD,
// rounding to the nearest nano-dollar. NaN is 0; amounts beyond the range
// saturate.
func Dollars(f float64) USD {
	n := math.Round(f * 1e9)
	switch {
	case math.IsNaN(n):
		return 0
	case n >= math.MaxInt64:
		return math.MaxInt64
	case n <= math.MinInt64:
		return math.MinInt64
	}
	return USD(n)
}

// Float returns u in dollars, for metrics and display; it is not exact.
func (u USD) Float() float64 { return float64(u) / 1e9 }

// String returns u in dollars as the shortest exact decimal: "0", "1.5",
// "0.000150375", "-2".
func (u USD) String() string { return string(u.append(nil)) }

func (u USD) append(b []byte) []byte {
	n := uint64(u)
	if u < 0 {
		b = append(b, '-')
		n = -n // two's complement: right for MinInt64 too
	}
	b = strconv.AppendUint(b, n/1e9, 10)
	frac := n % 1e9
	if frac == 0 {
		return b
	}
	var d [10]byte
	d[0] = '.'
	for i := 9; i >= 1; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 10
	for d[end-1] == '0' {
		end--
	}
	return append(b, d[:end]...)
}

// MarshalJSON writes u as an exact decimal number of dollars.
func (u USD) MarshalJSON() ([]byte, error) { return u.append(nil), nil }

// errUSD is returned for a JSON value that is not an amount of dollars.
var errUSD = errors.New("ledger: invalid USD amount")

// UnmarshalJSON reads a number of dollars. A plain decimal is read
// exactly (digits beyond the ninth decimal are rounded half away from
// zero); a number with an exponent goes through float64.
func (u *USD) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	v, ok := parseDecimal(b)
	if ok {
		*u = v
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || math.Abs(f) >= 9.2e9 {
		return errUSD
	}
	*u = Dollars(f)
	return nil
}

// parseDecimal reads -?digits(.digits)? as nano-dollars; ok is false for
// anything else, including overflow.
func parseDecimal(b []byte) (_ USD, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var whole, frac uint64
	i := 0
	for ; i < len(b) && b[i] != '.'; i++ {
		c := b[i]
		if c < '0' || c > '9' || whole > uint64(math.MaxInt64)/1_000_000_000/10 {
			return 0, false
		}
		whole = whole*10 + uint64(c-'0')
	}
	if i == 0 {
		return 0, false
	}
	scale := uint64(1e9)
	round := false
	if i < len(b) {
		i++ // '.'
		if i == len(b) {
			return 0, false
		}
		for ; i < len(b); i++ {
			c := b[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			switch {
			case scale > 1:
				scale /= 10
				frac += uint64(c-'0') * scale
			case scale == 1:
				// The tenth decimal decides the rounding; later ones are
				// still validated but do not matter.
				round = c >= '5'
				scale = 0
			}
		}
	}
	n := whole*1e9 + frac
	if round {
		n++
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -USD(n), true
	}
	return USD(n), true
}
