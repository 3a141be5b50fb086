package provider

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Headroom is what an endpoint last said about its remaining capacity, from
// the x-ratelimit-* headers that OpenAI and Azure send on every answer.
// Fields the endpoint did not send are 0; the zero Headroom (Known false)
// means no answer carried any of them yet.
type Headroom struct {
	RemainingRequests int64 // x-ratelimit-remaining-requests
	RemainingTokens   int64 // x-ratelimit-remaining-tokens
	LimitRequests     int64 // x-ratelimit-limit-requests
	LimitTokens       int64 // x-ratelimit-limit-tokens
	// ResetRequests and ResetTokens are how long after At each limit was
	// to return to its full value (x-ratelimit-reset-*).
	ResetRequests time.Duration
	ResetTokens   time.Duration
	Known         bool      // some answer carried rate-limit headers
	At            time.Time // when the latest such answer arrived
}

// staleAfter is how long a remaining-requests figure without a reset hint
// stays meaningful: rate limits are per minute, so after one the old count
// says nothing.
const staleAfter = time.Minute

// headroom stores the latest figures field by field in atomics: answers
// arrive concurrently and a reader may see fields of two answers mixed,
// which is fine for figures that are estimates anyway. -1 means not sent.
type headroom struct {
	remReq, remTok, limReq, limTok atomic.Int64
	resetReq, resetTok             atomic.Int64 // ns
	at                             atomic.Int64 // unix ns; 0 = never
}

func (h *headroom) init() {
	for _, a := range []*atomic.Int64{&h.remReq, &h.remTok, &h.limReq, &h.limTok, &h.resetReq, &h.resetTok} {
		a.Store(-1)
	}
}

// observe records the rate-limit headers of one answer, if it has any.
func (c *Client) observe(h http.Header) {
	seen := storeInt(&c.hr.remReq, h, "X-Ratelimit-Remaining-Requests")
	seen = storeInt(&c.hr.remTok, h, "X-Ratelimit-Remaining-Tokens") || seen
	seen = storeInt(&c.hr.limReq, h, "X-Ratelimit-Limit-Requests") || seen
	seen = storeInt(&c.hr.limTok, h, "X-Ratelimit-Limit-Tokens") || seen
	if !seen {
		return
	}
	storeReset(&c.hr.resetReq, h, "X-Ratelimit-Reset-Requests")
	storeReset(&c.hr.resetTok, h, "X-Ratelimit-Reset-Tokens")
	c.hr.at.Store(c.now().UnixNano())
}

func storeInt(a *atomic.Int64, h http.Header, key string) bool {
	v := h[key]
	if len(v) == 0 {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
	if err != nil || n < 0 {
		return false
	}
	if a.Load() != n { // skip the store, and the cache-line bounce, when nothing changed
		a.Store(n)
	}
	return true
}

// storeReset records a reset hint, or forgets the previous one when the
// answer carried none, so an old hint is never applied to a new count.
func storeReset(a *atomic.Int64, h http.Header, key string) {
	d, ok := parseReset(h.Get(key))
	n := int64(-1)
	if ok {
		n = int64(d)
	}
	if a.Load() != n {
		a.Store(n)
	}
}

// Headroom returns the latest rate-limit figures the endpoint sent, as
// sent; the zero value when none arrived yet. It takes no lock and is safe
// for concurrent use.
func (c *Client) Headroom() Headroom {
	at := c.hr.at.Load()
	if at == 0 {
		return Headroom{}
	}
	return Headroom{
		RemainingRequests: nonNeg(c.hr.remReq.Load()),
		RemainingTokens:   nonNeg(c.hr.remTok.Load()),
		LimitRequests:     nonNeg(c.hr.limReq.Load()),
		LimitTokens:       nonNeg(c.hr.limTok.Load()),
		ResetRequests:     time.Duration(nonNeg(c.hr.resetReq.Load())),
		ResetTokens:       time.Duration(nonNeg(c.hr.resetTok.Load())),
		Known:             true,
		At:                time.Unix(0, at),
	}
}

func nonNeg(n int64) int64 { return max(n, 0) }

// RemainingRequests returns the endpoint's remaining request capacity from
// the latest x-ratelimit-remaining-requests header, the router's headroom
// signal; ok is false when unknown. A figure outlives its window only as
// long as the window: once its reset time has passed it reads as the full
// limit (or unknown without a limit), and a figure without a reset hint is
// unknown after a minute. Without that, an endpoint last seen at 0 would
// stay avoided forever, since no new answer would come to update it. Safe
// for concurrent use; no lock.
func (c *Client) RemainingRequests() (n int64, ok bool) {
	at := c.hr.at.Load()
	rem := c.hr.remReq.Load()
	if at == 0 || rem < 0 {
		return 0, false
	}
	age := c.now().UnixNano() - at
	reset := c.hr.resetReq.Load()
	switch {
	case reset >= 0 && age >= reset:
		if lim := c.hr.limReq.Load(); lim >= 0 {
			return lim, true
		}
		return 0, false
	case reset < 0 && age > int64(staleAfter):
		return 0, false
	}
	return rem, true
}
