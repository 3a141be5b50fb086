package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultPrefix         = "fg:"
	DefaultTimeout        = 100 * time.Millisecond
	DefaultRetryInterval  = time.Second
	DefaultReservationTTL = 10 * time.Minute
)

// ErrInvalidConfig is wrapped by every error New returns.
var ErrInvalidConfig = errors.New("ratelimit: invalid config")

// Config configures a Limiter. Every zero value means its documented
// default.
type Config struct {
	// Redis is the server every node shares; the Limiter does not close
	// it. Nil keeps all state in process. Create the client with
	// ContextTimeoutEnabled, so that Timeout also bounds a server that
	// stopped answering (otherwise the client's ReadTimeout does). With a
	// *redis.ClusterClient, Prefix must contain a hash tag ("{fg}:"): a
	// script's keys must share a slot.
	Redis goredis.UniversalClient
	// Prefix starts every Redis key. Default "fg:".
	Prefix string
	// Nodes is how many nodes share the limits, until SetNodes says
	// otherwise; while Redis is unreachable each node enforces 1/Nodes of
	// every limit and budget. Default 1.
	Nodes int
	// Timeout bounds each Redis call; a call that takes longer counts as
	// Redis being unreachable. Default 100 ms.
	Timeout time.Duration
	// RetryInterval is how long decisions stay local after Redis failed
	// before one call tries it again. Default 1 s.
	RetryInterval time.Duration
	// ReservationTTL is how long a spend hold that is never settled (its
	// node died) keeps counting: it lapses between one and two TTLs after
	// it was made. It should exceed the longest call. Default 10 min.
	ReservationTTL time.Duration
	// Observer receives decisions and Redis outages. Nil observes nothing.
	Observer Observer
	// Logger receives outages and recoveries. Nil means slog.Default().
	Logger *slog.Logger
	// Clock is the time source of the in-process backend, of spend periods
	// and hold buckets, and of outage timing. Nil means time.Now. Rate
	// limits in Redis use Redis's clock.
	Clock func() time.Time
}

func (c *Config) normalize() error {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if _, ok := c.Redis.(*goredis.ClusterClient); ok && !hasHashTag(c.Prefix) {
		return fmt.Errorf("%w: Prefix %q needs a hash tag such as {fg} on Redis Cluster", ErrInvalidConfig, c.Prefix)
	}
	switch {
	case c.Nodes == 0:
		c.Nodes = 1
	case c.Nodes < 0:
		return fmt.Errorf("%w: Nodes %d is negative", ErrInvalidConfig, c.Nodes)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"Timeout", &c.Timeout, DefaultTimeout},
		{"RetryInterval", &c.RetryInterval, DefaultRetryInterval},
		{"ReservationTTL", &c.ReservationTTL, DefaultReservationTTL},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return fmt.Errorf("%w: %s %v is negative", ErrInvalidConfig, d.name, *d.v)
		}
	}
	if c.ReservationTTL < time.Millisecond {
		return fmt.Errorf("%w: ReservationTTL %v is under 1ms", ErrInvalidConfig, c.ReservationTTL)
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return nil
}

// hasHashTag reports whether every key starting with prefix hashes to one
// Redis Cluster slot: it holds a non-empty {tag}.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(prefix[i+1:], '}')
	return j > 0
}

// Limiter decides rate limits and spend budgets. It is safe for
// concurrent use, owns no goroutine and needs no Close; create it with
// New.
type Limiter struct {
	cfg   Config
	clock func() time.Time
	obs   Observer
	mem   *memory       // the backend without Redis
	rdb   *redisBackend // nil without Redis
	nodes atomic.Int64

	// Outage state (Redis only).
	down      atomic.Bool
	downUntil atomic.Int64 // unix ns before which no call tries Redis
	downSince atomic.Int64 // unix ns
	fb        atomic.Pointer[memory]

	memoMu sync.Mutex
	memos  map[string]*memo
}

// New returns a Limiter for cfg. With cfg.Redis it does not contact Redis:
// the first decision does.
func New(cfg Config) (*Limiter, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	l := &Limiter{cfg: cfg, clock: cfg.Clock, obs: cfg.Observer}
	l.nodes.Store(int64(cfg.Nodes))
	if cfg.Redis == nil {
		l.mem = newMemory(cfg.Clock, nil)
		return l, nil
	}
	l.rdb = &redisBackend{rdb: cfg.Redis, prefix: cfg.Prefix, holdTTL: cfg.ReservationTTL}
	l.memos = make(map[string]*memo)
	l.fb.Store(newMemory(cfg.Clock, l.known))
	return l, nil
}

// SetNodes tells the Limiter how many nodes share its limits now (the
// live members of the ring); values below 1 count as 1. While Redis is
// unreachable each node enforces 1/n of every limit and budget.
func (l *Limiter) SetNodes(n int) { l.nodes.Store(int64(max(n, 1))) }

// Mode says where a decision was made, for Observer.
type Mode uint8

// The modes of a decision.
const (
	ModeMemory Mode = iota // in process, no Redis configured
	ModeRedis              // in Redis, cluster-wide
	ModeLocal              // in process because Redis was unreachable
)

// String returns "memory", "redis" or "local".
func (m Mode) String() string {
	switch m {
	case ModeRedis:
		return "redis"
	case ModeLocal:
		return "local"
	}
	return "memory"
}

// maxBatch is the number of asks a batch handles without allocating.
const maxBatch = 8

// Allow takes every ask's units if all of them fit, else none: the
// Decision says which. Asks whose Limit.Rate is not positive are skipped;
// with none left Allow admits. The only error is the context's, when it
// ends while Redis is deciding.
func (l *Limiter) Allow(ctx context.Context, asks ...Ask) (Decision, error) {
	return l.apply(ctx, asks, opTake)
}

// Adjust corrects keys by each ask's N (actual − estimate, either sign),
// typically tokens once a call's usage is known: a refund never makes a
// key fuller than full, a charge may put it into debt that delays its next
// take. Adjust runs even when ctx is cancelled (the client may have gone;
// the tokens were still spent), bounded by Config.Timeout; when Redis
// cannot take it, the node's local limits do.
func (l *Limiter) Adjust(ctx context.Context, asks ...Ask) {
	_, _ = l.apply(context.WithoutCancel(ctx), asks, opAdjust)
}

func (l *Limiter) apply(ctx context.Context, in []Ask, o op) (Decision, error) {
	var pbuf [maxBatch]params
	var rbuf [maxBatch]result
	asks, ps := in, pbuf[:0]
	if !allConsulted(in, o) {
		asks = make([]Ask, 0, len(in))
		for i := range in {
			if consulted(&in[i], o) {
				asks = append(asks, in[i])
			}
		}
	}
	if len(asks) == 0 {
		return Decision{Allowed: true}, nil
	}
	var rs []result
	if len(asks) > maxBatch {
		rs = make([]result, len(asks))
	} else {
		rs = rbuf[:len(asks)]
	}
	if l.rdb == nil {
		for i := range asks {
			ps = append(ps, asks[i].Limit.params(1))
		}
		at := l.mem.apply(asks, ps, rs, o)
		d := decide(asks, ps, rs, at, false)
		l.observeDecision(o, ModeMemory, d.Allowed)
		return d, nil
	}
	if l.tryRedis() {
		for i := range asks {
			ps = append(ps, asks[i].Limit.params(1))
		}
		rctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
		at, err := l.rdb.apply(rctx, asks, ps, rs, o)
		cancel()
		if err == nil {
			l.redisOK()
			d := decide(asks, ps, rs, at, false)
			l.observeDecision(o, ModeRedis, d.Allowed)
			return d, nil
		}
		if ctx.Err() != nil {
			return Decision{}, ctx.Err()
		}
		l.redisFailed(err)
		ps = ps[:0]
	}
	scale := l.nodes.Load()
	for i := range asks {
		ps = append(ps, asks[i].Limit.params(scale))
	}
	at := l.fb.Load().apply(asks, ps, rs, o)
	d := decide(asks, ps, rs, at, true)
	l.observeDecision(o, ModeLocal, d.Allowed)
	return d, nil
}

// consulted reports whether a counts under o: it has a limit, and for
// Adjust a correction.
func consulted(a *Ask, o op) bool { return a.Limit.Rate > 0 && (o == opTake || a.N != 0) }

func allConsulted(asks []Ask, o op) bool {
	for i := range asks {
		if !consulted(&asks[i], o) {
			return false
		}
	}
	return true
}

func (l *Limiter) observeDecision(o op, m Mode, allowed bool) {
	if o == opTake {
		l.obs.Decided(m, allowed)
	}
}

// ReserveSpend judges a call estimated to cost estimate micro-dollars
// against key's budget b, and unless the answer is HardLimit holds the
// estimate until SettleSpend. An estimate of 0 holds nothing: a plain
// check. The only error is the context's, when it ends while Redis is
// deciding.
func (l *Limiter) ReserveSpend(ctx context.Context, key string, b Budget, estimate int64) (Spend, error) {
	estimate = max(estimate, 0)
	pd := periodsAt(l.clock(), l.cfg.ReservationTTL)
	if l.rdb == nil {
		sp := l.mem.reserve(key, b, estimate, &pd, 1)
		l.obs.SpendChecked(ModeMemory, sp.State)
		return sp, nil
	}
	if l.tryRedis() {
		c := l.takeCarry(key, &pd)
		rctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
		sp, err := l.rdb.reserve(rctx, key, b, estimate, &pd, &c)
		cancel()
		if err == nil {
			l.redisOK()
			l.setKnown(key, &pd, sp.Day.Spent, sp.Month.Spent)
			l.obs.SpendChecked(ModeRedis, sp.State)
			return sp, nil
		}
		l.putCarry(key, &pd, c)
		if ctx.Err() != nil {
			return Spend{}, ctx.Err()
		}
		l.redisFailed(err)
	}
	sp := l.fb.Load().reserve(key, b, estimate, &pd, l.nodes.Load())
	sp.Local = true
	l.obs.SpendChecked(ModeLocal, sp.State)
	return sp, nil
}

// SettleSpend ends r's hold and charges the call's actual cost in
// micro-dollars to r.Key's day and month (the periods current now). Settle
// each Reservation once, whatever became of the call (cost 0 if none). It
// runs even when ctx is cancelled, bounded by Config.Timeout. When Redis
// cannot take the charge, the node counts it locally and adds it to Redis
// with the key's next successful check or charge, if its period is still
// current.
func (l *Limiter) SettleSpend(ctx context.Context, r Reservation, actual int64) {
	actual = max(actual, 0)
	pd := periodsAt(l.clock(), l.cfg.ReservationTTL)
	if l.rdb == nil {
		// One lock for both: between a release and a separate charge, a
		// concurrent check would see neither and admit past the cap.
		l.mem.settle(&r, actual, &pd)
		return
	}
	if r.mem != nil && r.Amount > 0 {
		r.mem.release(&r, &pd)
	}
	held := int64(0)
	if r.redis {
		held = r.Amount
	}
	if held == 0 && actual == 0 {
		return
	}
	if l.tryRedis() {
		c := l.takeCarry(r.Key, &pd)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.Timeout)
		day, month, err := l.rdb.settle(rctx, &r, held, actual, &pd, &c)
		cancel()
		if err == nil {
			l.redisOK()
			l.setKnown(r.Key, &pd, day, month)
			return
		}
		l.putCarry(r.Key, &pd, c)
		l.redisFailed(err)
	}
	l.fb.Load().charge(r.Key, actual, &pd, r.redis)
	c := carry{day: actual, month: actual}
	if d := pd.bucket - r.bucket; held > 0 && (d == 0 || d == 1) {
		c.rel[d] = held
	}
	l.putCarry(r.Key, &pd, c)
}

// ChargeSpend charges actual micro-dollars to key without a reservation,
// such as background work's cost. See SettleSpend.
func (l *Limiter) ChargeSpend(ctx context.Context, key string, actual int64) {
	l.SettleSpend(ctx, Reservation{Key: key}, actual)
}

// Outage handling.

// tryRedis reports whether this call should use Redis: always while it is
// up; during an outage, one call per RetryInterval probes it.
func (l *Limiter) tryRedis() bool {
	if !l.down.Load() {
		return true
	}
	du := l.downUntil.Load()
	now := l.clock().UnixNano()
	if now < du {
		return false
	}
	return l.downUntil.CompareAndSwap(du, now+int64(l.cfg.RetryInterval))
}

// redisFailed starts or prolongs an outage.
func (l *Limiter) redisFailed(err error) {
	now := l.clock().UnixNano()
	l.downUntil.Store(now + int64(l.cfg.RetryInterval))
	if l.down.Load() || !l.down.CompareAndSwap(false, true) {
		return
	}
	// Local limits start afresh for each outage: every key full, spend
	// from the latest cluster-wide figures.
	l.fb.Store(newMemory(l.clock, l.known))
	l.downSince.Store(now)
	l.cfg.Logger.Warn("ratelimit: Redis unreachable, deciding locally",
		"nodes", l.nodes.Load(), "retry_in", l.cfg.RetryInterval, "err", err)
	l.obs.Fallback(true, err)
}

// redisOK ends an outage.
func (l *Limiter) redisOK() {
	if !l.down.Load() || !l.down.CompareAndSwap(true, false) {
		return
	}
	outage := time.Duration(l.clock().UnixNano() - l.downSince.Load())
	l.cfg.Logger.Info("ratelimit: Redis is back, deciding cluster-wide", "outage", outage)
	l.obs.Fallback(false, nil)
}

// known returns key's memo, for the fallback's new accounts.
func (l *Limiter) known(key string) memo {
	l.memoMu.Lock()
	defer l.memoMu.Unlock()
	if m := l.memos[key]; m != nil {
		return *m
	}
	return memo{day: -1, month: -1}
}

func (l *Limiter) memo(key string) *memo {
	m := l.memos[key]
	if m == nil {
		m = &memo{day: -1, month: -1, carryDay: -1, carryMonth: -1}
		l.memos[key] = m
	}
	return m
}

// setKnown records the cluster-wide figures Redis returned for key.
func (l *Limiter) setKnown(key string, pd *periods, day, month int64) {
	l.memoMu.Lock()
	m := l.memo(key)
	m.day, m.daySpent, m.month, m.monthSpent = pd.day, day, pd.month, month
	l.memoMu.Unlock()
}

// carry is what a key owes Redis in the current periods: charges made in
// process during an outage, and releases of holds made in Redis that the
// outage kept from it.
type carry struct {
	day, month int64
	rel        [2]int64 // for the current and the previous hold bucket
}

// takeCarry removes and returns what key owes Redis in the periods of pd;
// what belongs to past periods is dropped, their counters being over (a
// hold of an older bucket has lapsed).
func (l *Limiter) takeCarry(key string, pd *periods) carry {
	l.memoMu.Lock()
	defer l.memoMu.Unlock()
	var c carry
	m := l.memos[key]
	if m == nil {
		return c
	}
	if m.carryDay == pd.day {
		c.day = m.carryDayN
	}
	if m.carryMonth == pd.month {
		c.month = m.carryMonthN
	}
	c.rel = [2]int64{m.releases[pd.bucket], m.releases[pd.bucket-1]}
	m.carryDayN, m.carryMonthN, m.releases = 0, 0, nil
	return c
}

// putCarry adds c to what key owes Redis in the periods of pd.
func (l *Limiter) putCarry(key string, pd *periods, c carry) {
	if c == (carry{}) {
		return
	}
	l.memoMu.Lock()
	defer l.memoMu.Unlock()
	m := l.memo(key)
	if m.carryDay != pd.day {
		m.carryDay, m.carryDayN = pd.day, 0
	}
	if m.carryMonth != pd.month {
		m.carryMonth, m.carryMonthN = pd.month, 0
	}
	m.carryDayN += c.day
	m.carryMonthN += c.month
	for i, n := range c.rel {
		if n != 0 {
			if m.releases == nil {
				m.releases = make(map[int64]int64)
			}
			m.releases[pd.bucket-int64(i)] += n
		}
	}
}
