package admission

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The overload bar of the gateway issue, modelled on one node: offered load
// twice the capacity, 10 % vip / 60 % standard / 30 % free, a fixed service
// time and a queue deadline per tier. The real load test runs the gateway
// with `floodgate load`; this runs the queue alone, on a fake clock, as a
// discrete-event simulation, so it is exact and repeatable and asserts the
// bar on every `go test`.

// simTier is one tier of the simulated traffic.
type simTier struct {
	name     string
	share    float64
	priority int
	deadline time.Duration
}

// overloadTiers are the mix with the tiers' default priorities and
// deadlines scaled to a 20 ms service time.
var overloadTiers = []simTier{
	{"vip", 0.10, 100, 2 * time.Second},
	{"standard", 0.60, 50, time.Second},
	{"free", 0.30, 10, 300 * time.Millisecond},
}

type simConfig struct {
	slots, queue int
	service      time.Duration // fixed service time of an admitted request
	load         float64       // offered load over capacity
	duration     time.Duration // of arrivals, in simulated time
	seed         uint64
	noEarlyShed  bool
}

// tierReport is what became of one tier's requests.
type tierReport struct {
	tier                     simTier
	offered                  int
	admitted, shed, expired  int
	admitWaits, rejectWaits  []time.Duration // sorted
	rejectedAtOnce, pastDead int
}

func (r *tierReport) admittedShare() float64 { return float64(r.admitted) / float64(r.offered) }

// quantile of sorted durations; 0 for none.
func quantile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(int(p*float64(len(d))), len(d)-1)]
}

type simReport struct {
	tiers    []*tierReport
	busy     float64 // share of the slots' time spent serving while requests arrived
	requests int
}

func (s *simReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, slots busy %.1f %%\n", s.requests, 100*s.busy)
	fmt.Fprintf(&b, "%-9s %7s %9s %7s %8s %10s %10s %10s %12s %12s\n",
		"tier", "offered", "admitted", "shed", "expired", "wait p50", "wait p99", "wait max", "reject p99", "reject max")
	for _, r := range s.tiers {
		fmt.Fprintf(&b, "%-9s %7d %8.2f%% %6.2f%% %7.2f%% %10v %10v %10v %12v %12v\n",
			r.tier.name, r.offered, 100*r.admittedShare(),
			100*float64(r.shed)/float64(r.offered), 100*float64(r.expired)/float64(r.offered),
			quantile(r.admitWaits, 0.5), quantile(r.admitWaits, 0.99), quantile(r.admitWaits, 1),
			quantile(r.rejectWaits, 0.99), quantile(r.rejectWaits, 1))
	}
	return b.String()
}

// completion is an admitted request's end of service.
type completion struct {
	at      time.Time
	release func()
}

type completions []completion

func (h completions) Len() int           { return len(h) }
func (h completions) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h completions) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *completions) Push(x any)        { *h = append(*h, x.(completion)) }
func (h *completions) Pop() any {
	old := *h
	c := old[len(old)-1]
	*h = old[:len(old)-1]
	return c
}

// simulate runs Poisson arrivals of the tiers' mix through a Queue on a
// fake clock. Each event (an arrival, an end of service, a deadline timer)
// is processed until every goroutine has settled before time moves on, so
// the outcome does not depend on scheduling.
func simulate(tb testing.TB, cfg simConfig, tiers []simTier) *simReport {
	clock := newFakeClock()
	q, err := New(Config{
		MaxConcurrent: cfg.slots, MaxQueue: cfg.queue, MaxWait: 10 * time.Second,
		Clock: clock, DisableEarlyShed: cfg.noEarlyShed,
	})
	if err != nil {
		tb.Fatal(err)
	}
	c := newCrowd(tb, q, clock)
	rng := rand.New(rand.NewPCG(cfg.seed, 0x5eed))
	rate := cfg.load * float64(cfg.slots) / cfg.service.Seconds()
	interArrival := func() time.Duration { return time.Duration(rng.ExpFloat64() / rate * float64(time.Second)) }
	pickTier := func() int {
		u := rng.Float64()
		for i, t := range tiers {
			if u < t.share {
				return i
			}
			u -= t.share
		}
		return len(tiers) - 1
	}

	type request struct {
		tier   int
		arrive time.Time
	}
	var (
		reqs    []request
		pending completions
		results []result
		busy    time.Duration
	)
	rep := &simReport{}
	for _, t := range tiers {
		rep.tiers = append(rep.tiers, &tierReport{tier: t})
	}
	start := clock.Now()
	end := start.Add(cfg.duration)
	next := start.Add(interArrival())
	for {
		now := clock.Now()
		timer, haveTimer := clock.Next()
		arrival := next.Before(end)
		switch {
		case len(pending) > 0 && (!haveTimer || !timer.Before(pending[0].at)) && (!arrival || !next.Before(pending[0].at)):
			done := heap.Pop(&pending).(completion)
			clock.Advance(done.at.Sub(now))
			done.release()
		case haveTimer && (!arrival || !next.Before(timer)):
			clock.Fire()
		case arrival:
			clock.Advance(next.Sub(now))
			i := pickTier()
			t := tiers[i]
			reqs = append(reqs, request{i, next})
			c.admit(tb.Context(), strconv.Itoa(len(reqs)-1), Ticket{Priority: t.priority, MaxWait: t.deadline, Tier: t.name})
			next = next.Add(interArrival())
		default:
			if s := q.Stats(); s.Running != 0 || s.Waiting != 0 {
				tb.Fatalf("simulation ended with %+v", s)
			}
			rep.requests = len(reqs)
			rep.busy = busy.Seconds() / (float64(cfg.slots) * cfg.duration.Seconds())
			for _, r := range rep.tiers {
				slices.Sort(r.admitWaits)
				slices.Sort(r.rejectWaits)
			}
			return rep
		}
		c.settle()
		for _, res := range c.drain(results[:0]) {
			i, _ := strconv.Atoi(res.name)
			req := reqs[i]
			r := rep.tiers[req.tier]
			wait := res.at.Sub(req.arrive)
			r.offered++
			if wait > r.tier.deadline {
				r.pastDead++
			}
			switch {
			case res.err == nil:
				r.admitted++
				r.admitWaits = append(r.admitWaits, wait)
				heap.Push(&pending, completion{res.at.Add(cfg.service), res.release})
				if res.at.Before(end) {
					busy += min(end.Sub(res.at), cfg.service)
				}
			default:
				r.rejectWaits = append(r.rejectWaits, wait)
				if wait == 0 {
					r.rejectedAtOnce++
				}
				switch reasonIndex(res.err) {
				case 1:
					r.shed++
				case 2:
					r.expired++
				default:
					tb.Fatalf("request %d: %v", i, res.err)
				}
			}
		}
	}
}

var overloadCases = []struct {
	name string
	cfg  simConfig
	// freeAtOnce is the least share of the free tier's refusals that must
	// come on arrival (0: none required); freeExpired the most of its
	// requests that may wait out their deadline.
	freeAtOnce, freeExpired float64
}{
	// The gateway's default: a queue of 4 × the slots, 80 ms of work. A
	// free request may find room, join and be displaced by a standard one
	// a little later (here within 210 ms, under its 300 ms deadline).
	{"queue 4x slots", simConfig{slots: 10, queue: 40, service: 20 * time.Millisecond, load: 2, duration: 5 * time.Second, seed: 1}, 0.85, 0.01},
	// A queue deeper than the deadlines: they and early shedding decide.
	{"deep queue", simConfig{slots: 10, queue: 5000, service: 20 * time.Millisecond, load: 2, duration: 5 * time.Second, seed: 2}, 0.95, 0.05},
	// The same without early shedding: the free tier waits out its 300 ms.
	{"deep queue, no early shedding", simConfig{slots: 10, queue: 5000, service: 20 * time.Millisecond, load: 2, duration: 5 * time.Second, seed: 3, noEarlyShed: true}, 0, 1},
}

// TestOverload asserts the overload bar on the simulation: VIP
// admitted ≥ 99.9 %, nobody of any tier waits past its deadline, the node
// stays busy (shedding does not waste capacity), and the free tier is
// refused on arrival rather than after waiting.
func TestOverload(t *testing.T) {
	for _, tt := range overloadCases {
		t.Run(tt.name, func(t *testing.T) {
			rep := simulate(t, tt.cfg, overloadTiers)
			t.Logf("\n%s", rep)
			vip, free := rep.tiers[0], rep.tiers[2]
			if vip.offered < 400 {
				t.Fatalf("only %d vip requests: too few to measure", vip.offered)
			}
			if got := vip.admittedShare(); got < 0.999 {
				t.Errorf("vip admitted %.3f %%, want >= 99.9 %%", 100*got)
			}
			for _, r := range rep.tiers {
				if r.pastDead != 0 {
					t.Errorf("%s: %d requests waited past the %v deadline", r.tier.name, r.pastDead, r.tier.deadline)
				}
			}
			if rep.busy < 0.95 {
				t.Errorf("slots busy %.1f %% of the time, want >= 95 %%", 100*rep.busy)
			}
			if got := float64(free.rejectedAtOnce) / float64(len(free.rejectWaits)); got < tt.freeAtOnce {
				t.Errorf("free tier: %.1f %% of refusals on arrival, want >= %.0f %%", 100*got, 100*tt.freeAtOnce)
			}
			if got := float64(free.expired) / float64(free.offered); got > tt.freeExpired {
				t.Errorf("free tier: %.1f %% waited out the deadline, want <= %.0f %%", 100*got, 100*tt.freeExpired)
			}
		})
	}
}
