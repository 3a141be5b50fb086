package admission

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChurn runs many goroutines through a small queue with every way in
// and out mixed (random priorities and deadlines, cancellations, context
// deadlines, slots held for a while, Close while busy) and checks at the
// end that no slot leaked, nobody ran beyond the limit, every Admit
// returned exactly one of a release or an error, and the Observer heard of
// every call once.
func TestChurn(t *testing.T) {
	tests := []struct {
		name  string
		clock string // "system" or "fake", advanced by a goroutine
		close bool   // Close halfway
		early bool   // shed early
	}{
		{"system clock", "system", false, true},
		{"system clock, no early shedding", "system", false, false},
		{"fake clock", "fake", false, true},
		{"system clock, closed halfway", "system", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const (
				workers  = 48
				perWork  = 200
				limit    = 6
				maxQueue = 30
			)
			rec := &countingObserver{}
			cfg := Config{MaxConcurrent: limit, MaxQueue: maxQueue, MaxWait: 50 * time.Millisecond, Observer: rec, DisableEarlyShed: !tt.early}
			var fake *fakeClock
			stopTicking := func() {}
			if tt.clock == "fake" {
				fake = newFakeClock()
				cfg.Clock = fake
				ctx, cancel := context.WithCancel(t.Context())
				var wg sync.WaitGroup
				wg.Go(func() {
					for ctx.Err() == nil {
						fake.Advance(50 * time.Microsecond)
						time.Sleep(20 * time.Microsecond)
					}
				})
				stopTicking = func() { cancel(); wg.Wait() }
			}
			q, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}

			var (
				inside, peak atomic.Int64
				calls        atomic.Int64
				outcomes     [6]atomic.Int64 // admitted, shed, expired, canceled, closed, other
				wg           sync.WaitGroup
				closeOnce    sync.Once
			)
			for w := range workers {
				wg.Go(func() {
					rng := rand.New(rand.NewPCG(uint64(w), 7))
					for i := range perWork {
						if tt.close && w == 0 && i == perWork/2 {
							closeOnce.Do(func() { q.Close() })
						}
						tk := Ticket{
							Priority: rng.IntN(4) * 10,
							MaxWait:  time.Duration(rng.IntN(3000)-200) * time.Microsecond,
							Tier:     tierNames[rng.IntN(len(tierNames))],
						}
						var (
							ctx    context.Context
							cancel context.CancelFunc
						)
						switch rng.IntN(8) {
						case 0:
							ctx, cancel = context.WithCancel(t.Context())
							after := time.Duration(rng.IntN(500)) * time.Microsecond
							time.AfterFunc(after, cancel)
						case 1:
							ctx, cancel = context.WithTimeout(t.Context(), time.Duration(rng.IntN(1000))*time.Microsecond)
						default:
							ctx, cancel = context.WithCancel(t.Context())
						}
						hold := time.Duration(rng.IntN(200)) * time.Microsecond
						calls.Add(1)
						p, err := q.Admit(ctx, tk)
						switch {
						case err == nil && p.Held():
							outcomes[0].Add(1)
							n := inside.Add(1)
							for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
							}
							if s := q.Stats(); s.Running > limit || s.Waiting > maxQueue {
								t.Errorf("Stats %+v beyond the limits", s)
							}
							time.Sleep(hold)
							inside.Add(-1)
							p.Release()
							if p.Held() {
								t.Error("permit held after Release")
							}
							if rng.IntN(4) == 0 {
								p.Release() // a second release must give nothing back
							}
						case err != nil && p == (Permit{}):
							outcomes[reasonIndex(err)].Add(1)
						default:
							t.Errorf("Admit returned a permit held %v and err %v", p.Held(), err)
						}
						cancel()
					}
				})
			}
			wg.Wait()
			stopTicking()

			if p := peak.Load(); p > limit {
				t.Errorf("%d requests ran at once, limit %d", p, limit)
			}
			s := q.Stats()
			if s.Running != 0 || s.Waiting != 0 {
				t.Fatalf("after churn: %+v, want nothing running or waiting", s)
			}
			q.mu.Lock()
			if q.line.n != 0 || len(q.line.buckets) != 0 {
				t.Errorf("line holds %d waiters in %d buckets", q.line.n, len(q.line.buckets))
			}
			q.mu.Unlock()
			if fake != nil {
				// Every waiter's timer was stopped when it left.
				if n := fake.Pending(); n != 0 {
					t.Errorf("%d timers still armed", n)
				}
			}
			var sum int64
			for i := range outcomes {
				sum += outcomes[i].Load()
			}
			if sum != calls.Load() || outcomes[5].Load() != 0 {
				t.Errorf("%d calls, %d outcomes (%d unknown errors)", calls.Load(), sum, outcomes[5].Load())
			}
			for i, o := range outcomeNames {
				if got, want := rec.count(o), outcomes[i].Load(); got != want {
					t.Errorf("observer counted %d %s, callers saw %d", got, o, want)
				}
			}
			if rec.length.Load() != 0 {
				t.Errorf("last reported queue length %d, want 0", rec.length.Load())
			}
			t.Logf("%d calls: admitted %d, shed %d, expired %d, canceled %d, closed %d; peak running %d",
				calls.Load(), outcomes[0].Load(), outcomes[1].Load(), outcomes[2].Load(),
				outcomes[3].Load(), outcomes[4].Load(), peak.Load())

			// Every slot is free: the limit is admitted at once, one more
			// is not.
			if tt.close {
				return
			}
			var permits []Permit
			for range limit {
				p, err := q.Admit(t.Context(), Ticket{MaxWait: -1})
				if err != nil {
					t.Fatalf("slot leaked: %v", err)
				}
				permits = append(permits, p)
			}
			if _, err := q.Admit(t.Context(), Ticket{MaxWait: -1}); !errors.Is(err, ErrExpired) {
				t.Fatalf("admission past the limit: %v", err)
			}
			for _, p := range permits {
				p.Release()
			}
		})
	}
}

var (
	tierNames    = []string{"vip", "standard", "free"}
	outcomeNames = []string{OutcomeAdmitted, OutcomeShed, OutcomeExpired, OutcomeCanceled, OutcomeClosed}
)

func reasonIndex(err error) int {
	for i, reason := range []error{nil, ErrShed, ErrExpired, ErrCanceled, ErrClosed} {
		if reason != nil && errors.Is(err, reason) {
			return i
		}
	}
	return 5
}

// countingObserver counts outcomes and keeps the last queue length.
type countingObserver struct {
	mu     sync.Mutex
	counts map[string]int64
	length atomic.Int64
}

func (o *countingObserver) Admission(_, outcome string, wait time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.counts == nil {
		o.counts = map[string]int64{}
	}
	o.counts[outcome]++
}

func (o *countingObserver) QueueLength(n int) { o.length.Store(int64(n)) }

func (o *countingObserver) count(outcome string) int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[outcome]
}
