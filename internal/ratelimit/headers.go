package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// SetHeaders writes d as OpenAI does: x-ratelimit-limit-requests,
// x-ratelimit-remaining-requests, x-ratelimit-reset-requests and the
// -tokens variants, for each kind an ask consulted, resets as Go
// durations rounded up to the millisecond ("20ms", "1s", "6m0s",
// "2m59.561s"). When d refuses it also writes Retry-After (whole seconds,
// rounded up, at least 1) and retry-after-ms, which OpenAI's client
// libraries read.
func (d *Decision) SetHeaders(h http.Header) {
	setStatus(h, &d.Requests, "X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests")
	setStatus(h, &d.Tokens, "X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens")
	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(RetryAfterSeconds(d.RetryAfter), 10))
		h.Set("Retry-After-Ms", strconv.FormatInt(ceilDiv(d.RetryAfter, time.Millisecond), 10))
	}
}

func setStatus(h http.Header, s *Status, limit, remaining, reset string) {
	if s.Limit <= 0 {
		return
	}
	h.Set(limit, strconv.FormatInt(s.Limit, 10))
	h.Set(remaining, strconv.FormatInt(s.Remaining, 10))
	h.Set(reset, FormatReset(s.Reset))
}

// FormatReset formats a reset duration as OpenAI's headers do: a Go
// duration rounded up to the millisecond; "0s" for none.
func FormatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if r := d % time.Millisecond; r != 0 && d < time.Duration(1<<63-1)-time.Millisecond {
		d += time.Millisecond - r
	}
	return d.String()
}

// RetryAfterSeconds is d as a Retry-After value: whole seconds, rounded
// up, at least 1.
func RetryAfterSeconds(d time.Duration) int64 {
	return max(1, ceilDiv(d, time.Second))
}

// ceilDiv is ⌈d/unit⌉ for d ≥ 0 without overflow; 0 for d ≤ 0.
func ceilDiv(d, unit time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	q := int64(d / unit)
	if d%unit != 0 {
		q++
	}
	return q
}

// SetHeaders writes s's figures for the client: x-spend-day and
// x-spend-month (spent before this call, in USD with six decimals), their
// hard limits as x-spend-day-limit and x-spend-month-limit when set, and
// x-spend-state ("ok", "soft" or "hard").
func (s *Spend) SetHeaders(h http.Header) {
	h.Set("X-Spend-Day", formatUSD(s.Day.Spent))
	h.Set("X-Spend-Month", formatUSD(s.Month.Spent))
	if s.Day.Hard > 0 {
		h.Set("X-Spend-Day-Limit", formatUSD(s.Day.Hard))
	}
	if s.Month.Hard > 0 {
		h.Set("X-Spend-Month-Limit", formatUSD(s.Month.Hard))
	}
	h.Set("X-Spend-State", s.State.String())
}
