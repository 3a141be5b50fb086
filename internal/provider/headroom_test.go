package provider

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a settable clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }
func newFakeClock(t time.Time) *fakeClock    { c := &fakeClock{}; c.set(t); return c }

func pairs(kv []string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func TestHeadroomFromHeaders(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := newFakeClock(start)
	var hdr atomic.Pointer[http.Header]
	up := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		if h := hdr.Load(); h != nil {
			for k, v := range *h {
				w.Header()[k] = v
			}
		}
		writeJSON(w, 200, completionJSON)
	})
	c := newClient(t, Config{BaseURL: up.URL, Now: clock.now})
	call := func(kv ...string) {
		t.Helper()
		h := pairs(kv)
		hdr.Store(&h)
		_, err := c.Complete(t.Context(), testRequest())
		require.NoError(t, err)
	}

	assert.Equal(t, Headroom{}, c.Headroom(), "unknown before any answer")
	_, ok := c.RemainingRequests()
	assert.False(t, ok)

	call() // no rate-limit headers: still unknown
	assert.False(t, c.Headroom().Known)

	call("x-ratelimit-limit-requests", "500", "x-ratelimit-remaining-requests", "3",
		"x-ratelimit-limit-tokens", "30000", "x-ratelimit-remaining-tokens", "29000",
		"x-ratelimit-reset-requests", "6m0s", "x-ratelimit-reset-tokens", "20ms")
	assert.Equal(t, Headroom{
		RemainingRequests: 3, RemainingTokens: 29000, LimitRequests: 500, LimitTokens: 30000,
		ResetRequests: 6 * time.Minute, ResetTokens: 20 * time.Millisecond,
		Known: true, At: time.Unix(0, start.UnixNano()),
	}, c.Headroom())

	tests := []struct {
		name   string
		at     time.Duration // after the answer
		want   int64
		wantOK bool
	}{
		{name: "fresh", at: 0, want: 3, wantOK: true},
		{name: "within the window", at: 5 * time.Minute, want: 3, wantOK: true},
		{name: "after the reset the full limit is back", at: 6 * time.Minute, want: 500, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock.set(start.Add(tt.at))
			n, ok := c.RemainingRequests()
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, n)
		})
	}

	t.Run("without a reset hint the count goes stale", func(t *testing.T) {
		call("x-ratelimit-remaining-requests", "7")
		n, ok := c.RemainingRequests()
		assert.True(t, ok)
		assert.Equal(t, int64(7), n)
		assert.Zero(t, c.Headroom().ResetRequests, "the old hint is not applied to a new count")
		clock.advance(staleAfter + time.Second)
		_, ok = c.RemainingRequests()
		assert.False(t, ok)
	})
	t.Run("unparseable values are ignored", func(t *testing.T) {
		call("x-ratelimit-remaining-requests", "many", "x-ratelimit-remaining-tokens", "-5")
		assert.Equal(t, int64(7), c.Headroom().RemainingRequests)
	})
}

func TestHeadroomFromRateLimitedAnswer(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("x-ratelimit-remaining-requests", "0")
		w.Header().Set("x-ratelimit-reset-requests", "1s")
		writeJSON(w, 429, `{"error":{"message":"slow down"}}`)
	})
	c := newClient(t, Config{BaseURL: up.URL})
	_, err := c.Stream(t.Context(), testRequest())
	require.Error(t, err)
	n, ok := c.RemainingRequests()
	assert.True(t, ok)
	assert.Zero(t, n)
}
