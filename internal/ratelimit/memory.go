package ratelimit

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// numShards spreads keys over this many locks; a power of two.
const numShards = 64

// minSweep is the map size below which a shard does not sweep idle keys.
const minSweep = 1024

// memory is the in-process backend: the only one without Redis, the
// fallback with it. Safe for concurrent use.
type memory struct {
	clock func() time.Time
	base  time.Time // µs are counted from here
	seed  maphash.Seed
	// known, if set, returns the cluster-wide spend last seen in Redis for
	// a key (fallback only): a new account starts from it.
	known func(key string) memo
	rates [numShards]rateShard
	spend [numShards]spendShard
}

type cellKey struct {
	key  string
	kind Kind
}

// cell is one key's GCRA state.
type cell struct{ tat float64 }

type rateShard struct {
	mu      sync.Mutex
	cells   map[cellKey]*cell
	sweepAt int
	_       [40]byte // keeps neighbouring shards' locks off one cache line
}

func newMemory(clock func() time.Time, known func(string) memo) *memory {
	m := &memory{clock: clock, base: clock(), seed: maphash.MakeSeed(), known: known}
	for i := range m.rates {
		m.rates[i].cells = make(map[cellKey]*cell)
		m.rates[i].sweepAt = minSweep
		m.spend[i].accts = make(map[string]*account)
		m.spend[i].sweepAt = minSweep
	}
	return m
}

// now returns the µs since m.base; monotonic with the real clock.
func (m *memory) now() float64 { return float64(m.clock().Sub(m.base)) / 1e3 }

func (m *memory) shard(key string) int {
	return int(maphash.String(m.seed, key) & (numShards - 1))
}

// apply applies o to every ask at once: under opTake either every ask
// fits and all are taken, or nothing changes. rs receives each ask's
// result. It returns the clock of the decision (µs since m.base).
func (m *memory) apply(asks []Ask, ps []params, rs []result, o op) int64 {
	// Lock every shard involved, in index order, so a batch is atomic and
	// two batches cannot deadlock.
	var sbuf [8]int
	shards := sbuf[:0]
	for i := range asks {
		shards = append(shards, m.shard(asks[i].Key))
	}
	slices.Sort(shards)
	shards = slices.Compact(shards)
	for _, s := range shards {
		m.rates[s].mu.Lock()
	}
	now := m.now()

	var cbuf [8]*cell
	var tbuf [8]float64
	cells, tats := cbuf[:0], tbuf[:0]
	ok := true
	for i := range asks {
		a := &asks[i]
		s := &m.rates[m.shard(a.Key)]
		k := cellKey{a.Key, a.Kind}
		c := s.cells[k]
		if c == nil {
			if len(s.cells) >= s.sweepAt {
				s.sweep(now)
			}
			c = &cell{}
			s.cells[k] = c
		}
		tat := c.tat
		// A key asked twice in one batch sees its earlier tentative take.
		for j := range cells {
			if cells[j] == c {
				tat = tats[j]
			}
		}
		var next float64
		next, rs[i] = gcra(tat, now, ps[i], o, a.n(o))
		ok = ok && rs[i].allowed
		cells, tats = append(cells, c), append(tats, next)
	}
	if ok {
		for i, c := range cells {
			c.tat = tats[i]
		}
	}
	for _, s := range shards {
		m.rates[s].mu.Unlock()
	}
	return int64(now)
}

// sweep forgets keys whose allowance is full again: their state says
// nothing an absent key does not. Sweeping when the map has doubled keeps
// the cost amortised constant per new key. Callers hold s.mu.
func (s *rateShard) sweep(now float64) {
	for k, c := range s.cells {
		if c.tat <= now {
			delete(s.cells, k)
		}
	}
	s.sweepAt = max(2*len(s.cells), minSweep)
}

// Spend accounts.

type spendShard struct {
	mu      sync.Mutex
	accts   map[string]*account
	sweepAt int
	_       [40]byte
}

// account is one key's spend in the current day and month, in
// micro-dollars. Holds are counted in two buckets of the reservation TTL
// (the current and the previous one), so a hold lapses between one and two
// TTLs after it was made, exactly as in Redis.
type account struct {
	day, month           int64 // the periods the counts belong to
	dayBase, monthBase   int64 // cluster-wide spend known when counting began
	daySpent, monthSpent int64 // charged in this process
	bucket               int64 // hold bucket of held[0]
	held                 [2]int64
}

// roll moves a to the periods and bucket of pd, forgetting what belongs
// to periods that are over.
func (a *account) roll(pd *periods, key string, known func(string) memo) {
	if a.day != pd.day || a.month != pd.month {
		var k memo
		if known != nil {
			k = known(key)
		}
		if a.day != pd.day {
			a.day, a.daySpent, a.dayBase = pd.day, 0, 0
			if k.day == pd.day {
				a.dayBase = k.daySpent
			}
		}
		if a.month != pd.month {
			a.month, a.monthSpent, a.monthBase = pd.month, 0, 0
			if k.month == pd.month {
				a.monthBase = k.monthSpent
			}
		}
	}
	switch {
	case pd.bucket == a.bucket:
	case pd.bucket == a.bucket+1:
		a.held = [2]int64{0, a.held[0]}
	default:
		a.held = [2]int64{}
	}
	a.bucket = pd.bucket
}

func (m *memory) account(s *spendShard, key string, pd *periods) *account {
	a := s.accts[key]
	if a == nil {
		if len(s.accts) >= s.sweepAt {
			s.sweep(pd)
		}
		a = &account{day: -1 << 62, month: -1 << 62}
		s.accts[key] = a
	}
	a.roll(pd, key, m.known)
	return a
}

// sweep forgets accounts of past months that hold nothing. Callers hold
// s.mu.
func (s *spendShard) sweep(pd *periods) {
	for k, a := range s.accts {
		if a.month < pd.month && (pd.bucket > a.bucket+1 || a.held == [2]int64{}) {
			delete(s.accts, k)
		}
	}
	s.sweepAt = max(2*len(s.accts), minSweep)
}

// reserve judges key against b with an estimate of est micro-dollars and,
// unless refused, holds est. scale is the number of nodes sharing the
// budget: what this process counts is taken to be 1/scale of the cluster's
// spend since counting began here.
func (m *memory) reserve(key string, b Budget, est int64, pd *periods, scale int64) Spend {
	s := &m.spend[m.shard(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := m.account(s, key, pd)
	held := a.held[0] + a.held[1]
	need := max(est, 1)
	sp := Spend{
		Day:   SpendStatus{Spent: a.dayBase + scale*a.daySpent, Cap: b.Day},
		Month: SpendStatus{Spent: a.monthBase + scale*a.monthSpent, Cap: b.Month},
		Held:  scale * held,
	}
	sp.State = b.state(sp.Day.Spent+scale*(held+need), sp.Month.Spent+scale*(held+need))
	sp.Reservation = Reservation{Key: key, bucket: pd.bucket}
	if sp.State != HardLimit && est > 0 {
		a.held[0] += est
		sp.Held += scale * est
		sp.Reservation.Amount, sp.Reservation.mem = est, m
	}
	return sp
}

// release ends r's hold, unless it has lapsed.
func (m *memory) release(r *Reservation, pd *periods) {
	s := &m.spend[m.shard(r.Key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := m.account(s, r.Key, pd)
	if i := a.bucket - r.bucket; i == 0 || i == 1 {
		a.held[i] = max(0, a.held[i]-r.Amount)
	}
}

// settle ends r's hold (made in this memory, if any) and charges actual to
// r.Key in one critical section.
func (m *memory) settle(r *Reservation, actual int64, pd *periods) {
	s := &m.spend[m.shard(r.Key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := m.account(s, r.Key, pd)
	if r.mem == m && r.Amount > 0 {
		if i := a.bucket - r.bucket; i == 0 || i == 1 {
			a.held[i] = max(0, a.held[i]-r.Amount)
		}
	}
	a.daySpent += actual
	a.monthSpent += actual
}

// charge adds actual micro-dollars to key's day and month. cluster says
// the charge is known to be cluster-wide (a call whose reservation was
// made in Redis), so it is not scaled up as this node's share.
func (m *memory) charge(key string, actual int64, pd *periods, cluster bool) {
	s := &m.spend[m.shard(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	a := m.account(s, key, pd)
	if cluster {
		a.dayBase += actual
		a.monthBase += actual
		return
	}
	a.daySpent += actual
	a.monthSpent += actual
}
