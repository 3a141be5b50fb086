package admission

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// newTestQueue returns a Queue on a fake clock with cfg's limits and a
// recorder as its Observer, and a crowd to drive it.
func newTestQueue(t *testing.T, cfg Config) (*Queue, *fakeClock, *crowd, *recorder) {
	t.Helper()
	clock := newFakeClock()
	rec := &recorder{}
	cfg.Clock, cfg.Observer = clock, rec
	q, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return q, clock, newCrowd(t, q, clock), rec
}

// mustAdmit admits tk at once or fails the test.
func mustAdmit(t *testing.T, q *Queue, tk Ticket) func() {
	t.Helper()
	p, err := q.Admit(t.Context(), tk)
	if err != nil || !p.Held() {
		t.Fatalf("Admit(%+v): %v, held %v", tk, err, p.Held())
	}
	return p.Release
}

func wantStats(t *testing.T, q *Queue, running, waiting int) {
	t.Helper()
	s := q.Stats()
	if s.Running != running || s.Waiting != waiting {
		t.Fatalf("Stats: running %d, waiting %d; want %d, %d", s.Running, s.Waiting, running, waiting)
	}
}

// wantReject checks that err is the *llm.Error Admit returns for reason.
func wantReject(t *testing.T, err, reason error) *llm.Error {
	t.Helper()
	if !errors.Is(err, reason) {
		t.Fatalf("err = %v, want %v", err, reason)
	}
	e := llm.AsError(err)
	var wantStatus int
	switch reason {
	case ErrShed, ErrExpired:
		wantStatus = http.StatusTooManyRequests
		if e.Kind != llm.KindRateLimited || !e.Retryable || e.RetryAfter < time.Second {
			t.Fatalf("%v: kind %v, retryable %v, retry after %v; want rate_limited, retryable, >= 1s", reason, e.Kind, e.Retryable, e.RetryAfter)
		}
	case ErrCanceled:
		wantStatus = 499
	case ErrClosed:
		wantStatus = http.StatusServiceUnavailable
		if e.RetryAfter != time.Second || !e.Retryable {
			t.Fatalf("closed: retry after %v, retryable %v", e.RetryAfter, e.Retryable)
		}
	}
	if e.HTTPStatus() != wantStatus {
		t.Fatalf("%v: status %d, want %d", reason, e.HTTPStatus(), wantStatus)
	}
	if e.Message == "" {
		t.Fatalf("%v: no client message", reason)
	}
	return e
}

func TestAdmitFreeSlots(t *testing.T) {
	q, _, _, rec := newTestQueue(t, Config{MaxConcurrent: 2, MaxQueue: 2})
	r1 := mustAdmit(t, q, Ticket{Tier: "free"})
	r2 := mustAdmit(t, q, Ticket{Tier: "vip", Priority: 100})
	wantStats(t, q, 2, 0)
	if got := q.Load(); got != 1 {
		t.Fatalf("Load = %v, want 1", got)
	}
	r1()
	r1() // a second release gives nothing back
	wantStats(t, q, 1, 0)
	r2()
	wantStats(t, q, 0, 0)

	// A permit released twice gives nothing back the second time, even
	// when its pooled slot has gone to another request meanwhile.
	var zero Permit
	zero.Release()
	if zero.Held() {
		t.Fatal("zero Permit held")
	}
	p1, _ := q.Admit(t.Context(), Ticket{})
	p1.Release()
	p2, _ := q.Admit(t.Context(), Ticket{})
	p1.Release()
	if p1.Held() || !p2.Held() {
		t.Fatalf("held: stale %v, current %v", p1.Held(), p2.Held())
	}
	wantStats(t, q, 1, 0)
	p2.Release()
	wantStats(t, q, 0, 0)

	events, _ := rec.snapshot()
	want := []event{{"free", OutcomeAdmitted, 0}, {"vip", OutcomeAdmitted, 0}, {"", OutcomeAdmitted, 0}, {"", OutcomeAdmitted, 0}}
	if diff := cmp.Diff(want, events, cmp.AllowUnexported(event{})); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}

func TestOrderPriorityThenArrival(t *testing.T) {
	q, clock, c, rec := newTestQueue(t, Config{MaxConcurrent: 1, MaxQueue: 10})
	release := mustAdmit(t, q, Ticket{})
	arrivals := []struct {
		name string
		pri  int
	}{
		{"free1", 10}, {"std1", 50}, {"free2", 10}, {"vip1", 100}, {"std2", 50}, {"vip2", 100}, {"free3", 10},
	}
	for _, a := range arrivals {
		c.admit(t.Context(), a.name, Ticket{Priority: a.pri, Tier: a.name})
		clock.Advance(time.Millisecond)
	}
	c.none()
	wantStats(t, q, 1, len(arrivals))

	var order []string
	for range arrivals {
		release()
		r := c.next()
		if r.err != nil {
			t.Fatalf("%s: %v", r.name, r.err)
		}
		order = append(order, r.name)
		release = r.release
		c.none()
	}
	release()
	want := []string{"vip1", "vip2", "std1", "std2", "free1", "free2", "free3"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Fatalf("admission order (-want +got):\n%s", diff)
	}
	wantStats(t, q, 0, 0)
	_, lengths := rec.snapshot()
	if lengths[len(lengths)-1] != 0 || lengths[len(arrivals)-1] != len(arrivals) {
		t.Fatalf("queue lengths %v, want up to %d and back to 0", lengths, len(arrivals))
	}
}

func TestShedLowestNewestFirst(t *testing.T) {
	q, _, c, _ := newTestQueue(t, Config{MaxConcurrent: 1, MaxQueue: 3})
	release := mustAdmit(t, q, Ticket{})
	c.admit(t.Context(), "free1", Ticket{Priority: 10})
	c.admit(t.Context(), "free2", Ticket{Priority: 10})
	c.admit(t.Context(), "std1", Ticket{Priority: 50})
	c.none()

	steps := []struct {
		name string
		pri  int
		shed string // who is shed by the arrival
	}{
		{"vip1", 100, "free2"}, // the newest of the lowest goes first
		{"free3", 10, "free3"}, // nobody lower waits: the arrival is shed
		{"std2", 50, "free1"},
		{"std3", 50, "std3"}, // equal priority does not displace
		{"vip2", 100, "std2"},
	}
	for _, s := range steps {
		c.admit(t.Context(), s.name, Ticket{Priority: s.pri})
		r := c.next()
		if r.name != s.shed {
			t.Fatalf("%s arrived: %s finished (err %v), want %s shed", s.name, r.name, r.err, s.shed)
		}
		e := wantReject(t, r.err, ErrShed)
		if e.Code != CodeQueueFull {
			t.Fatalf("code %q, want %q", e.Code, CodeQueueFull)
		}
		c.none()
		wantStats(t, q, 1, 3)
	}

	var order []string
	for range 3 {
		release()
		r := c.next()
		if r.err != nil {
			t.Fatalf("%s: %v", r.name, r.err)
		}
		order = append(order, r.name)
		release = r.release
	}
	release()
	if diff := cmp.Diff([]string{"vip1", "vip2", "std1"}, order); diff != "" {
		t.Fatalf("admission order (-want +got):\n%s", diff)
	}
	wantStats(t, q, 0, 0)
}

func TestNoQueue(t *testing.T) {
	q, _, _, _ := newTestQueue(t, Config{MaxConcurrent: 1, MaxQueue: -1})
	release := mustAdmit(t, q, Ticket{})
	_, err := q.Admit(t.Context(), Ticket{Priority: 1000})
	wantReject(t, err, ErrShed)
	release()
	mustAdmit(t, q, Ticket{})()
	wantStats(t, q, 0, 0)
}

func TestExpiryWhileWaiting(t *testing.T) {
	q, clock, c, rec := newTestQueue(t, Config{MaxConcurrent: 1, MaxQueue: 10, MaxWait: 5 * time.Second})
	release := mustAdmit(t, q, Ticket{})
	start := clock.Now()
	c.admit(t.Context(), "free", Ticket{Priority: 10, MaxWait: 300 * time.Millisecond, Tier: "free"})
	c.admit(t.Context(), "std", Ticket{Priority: 50, MaxWait: time.Second, Tier: "standard"})
	c.admit(t.Context(), "abs", Ticket{Priority: 50, Deadline: start.Add(700 * time.Millisecond), Tier: "standard"})
	c.admit(t.Context(), "nodeadline", Ticket{Priority: 1})               // Config.MaxWait
	c.admit(t.Context(), "long", Ticket{Priority: 1, MaxWait: time.Hour}) // capped by Config.MaxWait

	clock.Advance(299 * time.Millisecond)
	c.none()
	want := []struct {
		names []string // finishing together, in any order
		after time.Duration
	}{
		{[]string{"free"}, 300 * time.Millisecond},
		{[]string{"abs"}, 700 * time.Millisecond},
		{[]string{"std"}, time.Second},
		{[]string{"long", "nodeadline"}, 5 * time.Second},
	}
	for _, w := range want {
		clock.Advance(w.after - clock.Now().Sub(start))
		var names []string
		for range w.names {
			r := c.next()
			if r.at.Sub(start) != w.after {
				t.Fatalf("%s finished after %v, want %v", r.name, r.at.Sub(start), w.after)
			}
			e := wantReject(t, r.err, ErrExpired)
			if e.Code != CodeQueueTimeout {
				t.Fatalf("code %q, want %q", e.Code, CodeQueueTimeout)
			}
			names = append(names, r.name)
		}
		slices.Sort(names)
		if diff := cmp.Diff(w.names, names); diff != "" {
			t.Fatalf("after %v (-want +got):\n%s", w.after, diff)
		}
		c.none()
	}
	c.none()
	wantStats(t, q, 1, 0)
	if n := clock.Pending(); n != 0 {
		t.Fatalf("%d timers still armed", n)
	}
	release()
	wantStats(t, q, 0, 0)

	events, _ := rec.snapshot()
	var waits []time.Duration
	for _, e := range events {
		if e.outcome == OutcomeExpired {
			waits = append(waits, e.wait)
		}
	}
	wantWaits := []time.Duration{300 * time.Millisecond, 700 * time.Millisecond, time.Second, 5 * time.Second, 5 * time.Second}
	if diff := cmp.Diff(wantWaits, waits); diff != "" {
		t.Fatalf("observed waits (-want +got):\n%s", diff)
	}
}

func TestExpiredOnArrival(t *testing.T) {
	q, clock, _, rec := newTestQueue(t, Config{MaxConcurrent: 1})
	tests := []struct {
		name string
		give Ticket
	}{
		{"negative MaxWait", Ticket{MaxWait: -1}},
		{"deadline now", Ticket{Deadline: clock.Now()}},
		{"deadline past", Ticket{Deadline: clock.Now().Add(-time.Hour), MaxWait: time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := mustAdmit(t, q, tt.give) // a free slot admits whatever the deadline
			_, err := q.Admit(t.Context(), tt.give)
			wantReject(t, err, ErrExpired)
			release()
			wantStats(t, q, 0, 0)
		})
	}
	events, _ := rec.snapshot()
	for _, e := range events {
		if e.wait != 0 {
			t.Fatalf("event %+v waited", e)
		}
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	q, _, c, rec := newTestQueue(t, Config{MaxConcurrent: 1})
	release := mustAdmit(t, q, Ticket{})
	ctx, cancel := context.WithCancel(t.Context())
	c.admit(ctx, "canceled", Ticket{Priority: 100, Tier: "vip"})
	c.admit(t.Context(), "next", Ticket{Priority: 10, Tier: "free"})
	cancel()
	r := c.next()
	if r.name != "canceled" {
		t.Fatalf("%s finished, want canceled", r.name)
	}
	wantReject(t, r.err, ErrCanceled)
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err %v does not wrap context.Canceled", r.err)
	}
	c.none()
	wantStats(t, q, 1, 1)
	release()
	r = c.next()
	if r.name != "next" || r.err != nil {
		t.Fatalf("%s: %v, want next admitted", r.name, r.err)
	}
	r.release()
	wantStats(t, q, 0, 0)
	events, _ := rec.snapshot()
	if events[1] != (event{"vip", OutcomeCanceled, 0}) {
		t.Fatalf("event %+v, want vip canceled", events[1])
	}
}

func TestContextDeadlineIsExpiry(t *testing.T) {
	q, _, c, _ := newTestQueue(t, Config{MaxConcurrent: 1})
	release := mustAdmit(t, q, Ticket{})
	defer release()
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	c.admit(ctx, "ctx", Ticket{})
	r := c.next()
	wantReject(t, r.err, ErrExpired)
	if !errors.Is(r.err, context.DeadlineExceeded) {
		t.Fatalf("err %v does not wrap context.DeadlineExceeded", r.err)
	}
	wantStats(t, q, 1, 0)
}

func TestDoneContextNotAdmitted(t *testing.T) {
	q, _, _, _ := newTestQueue(t, Config{MaxConcurrent: 1})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := q.Admit(ctx, Ticket{})
	wantReject(t, err, ErrCanceled)
	wantStats(t, q, 0, 0)
}

// TestCancelRacingHandOff cancels a waiter while the slot is handed to it:
// whichever wins, the waiter reports canceled and the slot is not lost.
func TestCancelRacingHandOff(t *testing.T) {
	q, _, c, _ := newTestQueue(t, Config{MaxConcurrent: 1})
	for range 200 {
		release := mustAdmit(t, q, Ticket{})
		ctx, cancel := context.WithCancel(t.Context())
		c.admit(ctx, "w", Ticket{})
		go cancel()
		release()
		r := c.next()
		if r.err == nil {
			r.release() // the hand-off won outright: fine too
		} else {
			wantReject(t, r.err, ErrCanceled)
		}
		c.settle()
		wantStats(t, q, 0, 0)
		cancel()
	}
}

func TestClose(t *testing.T) {
	q, _, c, rec := newTestQueue(t, Config{MaxConcurrent: 2, MaxQueue: 4})
	r1 := mustAdmit(t, q, Ticket{})
	r2 := mustAdmit(t, q, Ticket{})
	for _, name := range []string{"a", "b", "c"} {
		c.admit(t.Context(), name, Ticket{Tier: name})
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range 3 {
		r := c.next()
		e := wantReject(t, r.err, ErrClosed)
		if e.Code != CodeShuttingDown {
			t.Fatalf("code %q", e.Code)
		}
	}
	_, err := q.Admit(t.Context(), Ticket{Priority: 1000})
	wantReject(t, err, ErrClosed)
	if s := q.Stats(); !s.Closed || s.Running != 2 || s.Waiting != 0 {
		t.Fatalf("Stats after Close: %+v", s)
	}
	if err := q.Close(); err != nil { // idempotent
		t.Fatalf("second Close: %v", err)
	}
	r1()
	r2()
	wantStats(t, q, 0, 0)
	_, err = q.Admit(t.Context(), Ticket{})
	wantReject(t, err, ErrClosed)
	_, lengths := rec.snapshot()
	if lengths[len(lengths)-1] != 0 {
		t.Fatalf("last queue length %d, want 0", lengths[len(lengths)-1])
	}
}

func TestEarlyShed(t *testing.T) {
	tests := []struct {
		name     string
		disable  bool
		wantShed bool
	}{
		{"default", false, true},
		{"disabled", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, clock, c, _ := newTestQueue(t, Config{MaxConcurrent: 1, MaxQueue: 100, DisableEarlyShed: tt.disable})
			release := mustAdmit(t, q, Ticket{})
			// Ten waiters, then a hand-off every 10 ms: the line moves at
			// 100 slots per second.
			for range 10 {
				c.admit(t.Context(), "w", Ticket{Priority: 50, MaxWait: time.Minute})
			}
			for range 8 {
				clock.Advance(10 * time.Millisecond)
				release()
				release = c.next().release
			}
			// Two wait; a newcomer behind them needs ~30 ms.
			c.admit(t.Context(), "hopeless", Ticket{Priority: 50, MaxWait: 20 * time.Millisecond})
			if tt.wantShed {
				r := c.next()
				if r.name != "hopeless" {
					t.Fatalf("%s finished, want hopeless shed", r.name)
				}
				wantReject(t, r.err, ErrShed)
			}
			c.admit(t.Context(), "hopeful", Ticket{Priority: 50, MaxWait: 40 * time.Millisecond})
			// A higher priority has nobody ahead.
			c.admit(t.Context(), "vip", Ticket{Priority: 100, MaxWait: 15 * time.Millisecond})
			c.none()
			want := 5
			if tt.wantShed {
				want = 4
			}
			wantStats(t, q, 1, want)
			q.Close()
			for range want {
				wantReject(t, c.next().err, ErrClosed)
			}
			release()
		})
	}
}

func TestRetryAfterFromDrainRate(t *testing.T) {
	q, clock, c, _ := newTestQueue(t, Config{MaxConcurrent: 1, MaxQueue: 300, DisableEarlyShed: true})
	release := mustAdmit(t, q, Ticket{})
	for range 300 {
		c.admit(t.Context(), "w", Ticket{Priority: 50, MaxWait: time.Hour})
	}
	// 100 hand-offs per second for 2 s.
	for range 200 {
		clock.Advance(10 * time.Millisecond)
		release()
		release = c.next().release
	}
	// 100 wait at priority 50: a newcomer of that priority comes after
	// them, ~1 s of draining; one of higher priority is next, 10 ms,
	// which the hint rounds up to a second.
	_, err := q.Admit(t.Context(), Ticket{Priority: 50, MaxWait: -1})
	e := wantReject(t, err, ErrExpired)
	if e.RetryAfter < 990*time.Millisecond || e.RetryAfter > 1030*time.Millisecond {
		t.Fatalf("RetryAfter = %v, want about 1.01s", e.RetryAfter)
	}
	_, err = q.Admit(t.Context(), Ticket{Priority: 100, MaxWait: -1})
	if e := wantReject(t, err, ErrExpired); e.RetryAfter != minRetryAfter {
		t.Fatalf("RetryAfter with nobody ahead = %v, want %v", e.RetryAfter, minRetryAfter)
	}
	q.Close()
	for range 100 {
		wantReject(t, c.next().err, ErrClosed)
	}
	release()
}

func TestDrainRate(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var r lineRate
	if _, ok := r.drainTime(1, 0, t0); ok {
		t.Fatal("estimate before any measurement")
	}
	if got := r.retryAfter(10, 30*time.Second); got != minRetryAfter {
		t.Fatalf("retryAfter without estimate = %v, want %v", got, minRetryAfter)
	}
	// The line empty for an hour, then 200 hand-offs per second while
	// somebody waits.
	r.tick(t0, false)
	now := t0.Add(time.Hour)
	r.tick(now, false)
	for range 100 {
		now = now.Add(5 * time.Millisecond)
		r.handoff()
		r.tick(now, true)
	}
	d, ok := r.drainTime(200, 0, now)
	if !ok || d < 990*time.Millisecond || d > 1010*time.Millisecond {
		t.Fatalf("drainTime(200) = %v, %v; want about 1s", d, ok)
	}
	if got := r.retryAfter(999, 30*time.Second); got < 4900*time.Millisecond || got > 5100*time.Millisecond {
		t.Fatalf("retryAfter(999) = %v, want about 5s", got)
	}
	if got := r.retryAfter(1e6, 30*time.Second); got != 30*time.Second {
		t.Fatalf("retryAfter(1e6) = %v, want the ceiling", got)
	}
	// Calm: time without waiters does not count, and time going backwards
	// is ignored.
	r.tick(now.Add(-time.Second), true)
	now = now.Add(500 * time.Millisecond)
	r.tick(now, false)
	if d2, _ := r.drainTime(200, 0, now); d2 != d {
		t.Fatalf("estimate moved during calm: %v, was %v", d2, d)
	}
	// Too old to shed on, still a hint.
	now = now.Add(2 * rateFresh)
	if _, ok := r.drainTime(200, 0, now); ok {
		t.Fatal("stale estimate used for shedding")
	}
	if got := r.retryAfter(199, 30*time.Second); got < 990*time.Millisecond {
		t.Fatalf("stale hint = %v", got)
	}
	// A line that does not move drives the rate towards zero.
	r.tick(now, false)
	for range 40 {
		now = now.Add(50 * time.Millisecond)
		r.tick(now, true)
	}
	if d, ok := r.drainTime(1, 0, now); !ok || d < 30*time.Millisecond {
		t.Fatalf("stuck line: drainTime(1) = %v", d)
	}
}

func TestJoinRates(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var r lineRate
	r.tick(t0, false)
	now := t0
	// Every 10 ms: one hand-off, one vip and one standard joining: 100/s
	// each.
	for range 200 {
		now = now.Add(10 * time.Millisecond)
		r.handoff()
		r.tick(now, true)
		r.join(100)
		r.join(50)
	}
	tests := []struct {
		pri     int
		wantMin time.Duration
		wantMax time.Duration
	}{
		{100, 95 * time.Millisecond, 105 * time.Millisecond}, // nobody above: 10 at 100/s
		{50, time.Second, math.MaxInt64},                     // vip joins as fast as the line moves
		{10, time.Second, math.MaxInt64},
	}
	for _, tt := range tests {
		d, ok := r.drainTime(10, tt.pri, now)
		if !ok || d < tt.wantMin || d > tt.wantMax {
			t.Errorf("drainTime(10, %d) = %v, %v; want in [%v, %v]", tt.pri, d, ok, tt.wantMin, tt.wantMax)
		}
	}
	// vip stops joining: its rate decays and is forgotten.
	for range 1000 {
		now = now.Add(10 * time.Millisecond)
		r.handoff()
		r.tick(now, true)
		r.join(50)
	}
	if len(r.joins) != 1 || r.joins[0].pri != 50 {
		t.Errorf("joins %+v, want only priority 50", r.joins)
	}
	if d, ok := r.drainTime(10, 50, now); !ok || d > 105*time.Millisecond {
		t.Errorf("drainTime(10, 50) = %v, %v after vip stopped", d, ok)
	}
	// The number of priorities tracked is bounded.
	for p := range 2 * maxJoinPriorities {
		r.join(p)
	}
	if len(r.joins) != maxJoinPriorities {
		t.Errorf("%d priorities tracked, want %d", len(r.joins), maxJoinPriorities)
	}
}

// TestEarlyShedStarved: when higher priorities join as fast as the line
// moves, a lower one is shed on arrival however long it could wait.
func TestEarlyShedStarved(t *testing.T) {
	q, clock, c, _ := newTestQueue(t, Config{MaxConcurrent: 1, MaxQueue: 1000})
	release := mustAdmit(t, q, Ticket{})
	c.admit(t.Context(), "vip", Ticket{Priority: 100, MaxWait: time.Minute})
	for range 20 {
		clock.Advance(10 * time.Millisecond)
		c.admit(t.Context(), "vip", Ticket{Priority: 100, MaxWait: time.Minute})
		release()
		release = c.next().release
	}
	c.admit(t.Context(), "free", Ticket{Priority: 10, MaxWait: time.Minute})
	r := c.next()
	if r.name != "free" {
		t.Fatalf("%s finished, want free shed", r.name)
	}
	wantReject(t, r.err, ErrShed)
	c.admit(t.Context(), "vip", Ticket{Priority: 100, MaxWait: 50 * time.Millisecond})
	c.none()
	q.Close()
	for range 2 {
		wantReject(t, c.next().err, ErrClosed)
	}
	release()
}

// TestStaleTimerFiring runs a waiter's deadline callback as a timer that
// fired late would: after the waiter was decided, and after it was reused
// by a request with a later deadline.
func TestStaleTimerFiring(t *testing.T) {
	q, clock, c, _ := newTestQueue(t, Config{MaxConcurrent: 1})
	release := mustAdmit(t, q, Ticket{})
	w := q.waiterPool.Get().(*waiter)
	w.state = stateAdmitted
	w.onDeadline() // decided: nothing happens
	wantStats(t, q, 1, 0)

	q.mu.Lock()
	q.state.Add(oneWaiting)
	now := clock.Now()
	w = q.enqueueLocked(0, now, now.Add(time.Second))
	q.mu.Unlock()
	w.onDeadline() // not due: re-armed, still queued
	if w.state != stateQueued || clock.Pending() != 1 {
		t.Fatalf("state %d, %d timers; want queued and one timer", w.state, clock.Pending())
	}
	clock.Advance(time.Second)
	if w.state != stateExpired {
		t.Fatalf("state %d, want expired", w.state)
	}
	<-w.ready
	w.timer.Stop()
	wantStats(t, q, 1, 0)
	release()
	c.none()
}

func TestConfig(t *testing.T) {
	bad := []Config{
		{MaxConcurrent: -1},
		{MaxConcurrent: maxCount + 1},
		{MaxQueue: maxCount + 1},
		{MaxWait: -time.Second},
		{MaxRetryAfter: -time.Second},
	}
	for _, cfg := range bad {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	tests := []struct {
		give Config
		want Stats
	}{
		{Config{}, Stats{MaxConcurrent: DefaultMaxConcurrent, MaxQueue: DefaultQueueFactor * DefaultMaxConcurrent}},
		{Config{MaxConcurrent: 3}, Stats{MaxConcurrent: 3, MaxQueue: 12}},
		{Config{MaxConcurrent: 3, MaxQueue: -5}, Stats{MaxConcurrent: 3}},
		{Config{MaxConcurrent: maxCount, MaxQueue: 1}, Stats{MaxConcurrent: maxCount, MaxQueue: 1}},
		{Config{MaxConcurrent: maxCount}, Stats{MaxConcurrent: maxCount, MaxQueue: maxCount}},
	}
	for _, tt := range tests {
		q, err := New(tt.give)
		if err != nil {
			t.Fatalf("New(%+v): %v", tt.give, err)
		}
		if got := q.Stats(); got != tt.want {
			t.Errorf("New(%+v).Stats() = %+v, want %+v", tt.give, got, tt.want)
		}
	}
	q, _ := New(Config{MaxRetryAfter: time.Millisecond})
	if q.maxRetry != minRetryAfter || q.maxWait != DefaultMaxWait {
		t.Errorf("maxRetry %v, maxWait %v", q.maxRetry, q.maxWait)
	}
}
