package ratelimit

import (
	"math"
	"strconv"
	"time"
)

// Cap is a pair of spend limits for one period, in micro-dollars (1 USD =
// 1,000,000). A zero or negative field is no limit.
type Cap struct {
	// Soft is the spend past which calls are still admitted but should be
	// downgraded (SoftLimit).
	Soft int64
	// Hard is the spend past which calls are refused (HardLimit).
	Hard int64
}

// Budget is a key's spend limits per UTC day and per UTC month. The zero
// Budget is unlimited; spend is still counted.
type Budget struct {
	Day, Month Cap
}

// SpendState is where a call stands against its budget.
type SpendState uint8

// The states of a spend check, from best to worst.
const (
	// WithinBudget: proceed.
	WithinBudget SpendState = iota
	// SoftLimit: proceed, downgraded (e.g. to the small model).
	SoftLimit
	// HardLimit: refuse; nothing was held.
	HardLimit
)

// String returns "ok", "soft" or "hard".
func (s SpendState) String() string {
	switch s {
	case SoftLimit:
		return "soft"
	case HardLimit:
		return "hard"
	}
	return "ok"
}

// state judges projected spends (what would be spent, held included, with
// the call) against b. A projection exactly at a limit is within it.
func (b Budget) state(day, month int64) SpendState {
	over := func(v, limit int64) bool { return limit > 0 && v > limit }
	switch {
	case over(day, b.Day.Hard) || over(month, b.Month.Hard):
		return HardLimit
	case over(day, b.Day.Soft) || over(month, b.Month.Soft):
		return SoftLimit
	}
	return WithinBudget
}

// SpendStatus is one period's figures at a check.
type SpendStatus struct {
	// Spent is what was charged in the period, holds excluded, in
	// micro-dollars. In a Local check it is the last cluster-wide figure
	// seen in Redis plus Nodes × what this node charged since.
	Spent int64
	Cap
}

// Spend is ReserveSpend's answer.
type Spend struct {
	// State says whether to proceed, downgrade or refuse.
	State SpendState
	// Day and Month are the key's figures before this call.
	Day, Month SpendStatus
	// Held is the estimates of calls in flight (this one's included when
	// it was held), in micro-dollars.
	Held int64
	// Local reports that Redis was unreachable and the check was made in
	// process (see the package documentation).
	Local bool
	// Reservation is what SettleSpend needs. It holds nothing when State
	// is HardLimit or the estimate was 0.
	Reservation Reservation
}

// Reservation is a held estimate, to be settled by SettleSpend once the
// call's cost is known. The zero Reservation holds nothing for no key.
type Reservation struct {
	// Key is the budget's key.
	Key string
	// Amount is the micro-dollars held; 0 when nothing is held.
	Amount int64

	bucket int64   // hold bucket the amount is counted in
	mem    *memory // the in-process backend holding it; nil for Redis
	redis  bool    // the check was made in Redis
}

// periods are the UTC day and month and the hold bucket of one instant.
type periods struct {
	at     time.Time
	day    int64 // days since 1970-01-01
	month  int64 // months since year 0: year×12 + month − 1
	bucket int64 // instant / reservation TTL
}

func periodsAt(t time.Time, holdTTL time.Duration) periods {
	t = t.UTC()
	y, mo, _ := t.Date()
	return periods{
		at:     t,
		day:    floorDiv(t.Unix(), 86400),
		month:  int64(y)*12 + int64(mo) - 1,
		bucket: floorDiv(t.UnixNano(), int64(holdTTL)),
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// dayEnd and monthEnd are when the periods of p end.
func (p *periods) dayEnd() time.Time { return time.Unix((p.day+1)*86400, 0).UTC() }
func (p *periods) monthEnd() time.Time {
	y, m, _ := p.at.Date()
	return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
}

// memo is what a Limiter remembers of a key's cluster-wide spend: the
// latest figures Redis returned, and what it owes Redis after an outage
// (charged in process, holds to release).
type memo struct {
	day, month             int64 // periods of the figures
	daySpent, monthSpent   int64
	carryDay, carryMonth   int64           // periods of the carries
	carryDayN, carryMonthN int64           // micro-dollars
	releases               map[int64]int64 // hold bucket → micro-dollars
}

// MicroUSD converts dollars to micro-dollars, rounding to the nearest.
// NaN and negative amounts are 0; amounts beyond 9 × 10^12 dollars are
// capped there.
func MicroUSD(usd float64) int64 {
	switch {
	case !(usd > 0):
		return 0
	case usd >= 9e12:
		return 9e18
	}
	return int64(math.Round(usd * 1e6))
}

// formatUSD writes micro-dollars as dollars with six decimals.
func formatUSD(micros int64) string {
	neg := micros < 0
	if neg {
		micros = -micros
	}
	frac := strconv.FormatInt(micros%1e6, 10)
	s := strconv.FormatInt(micros/1e6, 10) + "." + "000000"[len(frac):] + frac
	if neg {
		s = "-" + s
	}
	return s
}
