package ring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Ring is this node's view of the cluster: the live members and the owner
// of every session. Create it with New and run Run for as long as the node
// serves; its methods are safe for concurrent use, and Owner, Place and
// Members take no lock shared by all callers.
type Ring struct {
	cfg         Config
	be          backend // nil for a single-member ring
	self        Member  // Load is not kept here
	ownerPrefix string
	cache       *ownerCache

	view    atomic.Pointer[view]
	kick    chan struct{}
	left    atomic.Bool
	running atomic.Bool
	joined  chan struct{}
	once    sync.Once
	ready   atomic.Bool  // joined is closed
	failing atomic.Bool  // the membership loop's last Redis call failed
	logged  atomic.Int64 // Unix ns of the last request-path error logged

	lastBeat atomic.Int64 // Unix ns of the last successful heartbeat
	stats    counters

	mu       sync.Mutex
	suspects map[string]*atomic.Int64
}

// New checks cfg and returns a Ring that, until Run has registered it,
// knows only this node.
func New(cfg Config) (*Ring, error) {
	if err := cfg.normalize(cfg.Redis != nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	var be backend
	if cfg.Redis != nil {
		be = newRedisBackend(cfg.Redis, cfg.Prefix)
	}
	return newRing(cfg, be), nil
}

// newRing returns a Ring on be (nil for a single-member ring) with cfg
// normalised.
func newRing(cfg Config, be backend) *Ring {
	r := &Ring{
		cfg:         cfg,
		be:          be,
		self:        Member{ID: cfg.ID, URL: cfg.URL, Started: cfg.Now()},
		ownerPrefix: cfg.Prefix + "ring:owner:",
		cache:       newOwnerCache(cfg.CacheSize),
		kick:        make(chan struct{}, 1),
		joined:      make(chan struct{}),
		suspects:    make(map[string]*atomic.Int64),
	}
	if be == nil {
		r.markJoined()
	}
	r.view.Store(newView([]Member{r.self}, r.self.ID, r.suspectCell))
	return r
}

// Self returns this node as a member, with the load it last reported.
func (r *Ring) Self() Member {
	v := r.view.Load()
	return v.nodes[v.self].m
}

// Members returns the live members, sorted by id; this node is always one.
func (r *Ring) Members() []Member { return r.view.Load().members() }

// Joined is closed once Run has registered this node and read the others
// (at once for a single-member ring).
func (r *Ring) Joined() <-chan struct{} { return r.joined }

func (r *Ring) markJoined() {
	r.once.Do(func() {
		r.ready.Store(true)
		close(r.joined)
	})
}

// Owner returns the owner of a tenant's session and whether it is this
// node. The owner is the one recorded in Redis while it is a live member;
// otherwise the session is placed (see Place) and the placement recorded,
// unless a racing node recorded another owner first, which then wins. A
// recent answer is remembered, so that most calls do no I/O and allocate
// nothing. When Redis fails, Owner answers with Place and logs the error.
// Until Run has registered this node and read the others, and after Run
// has returned, it answers this node without I/O: a node that does not
// know the members must not record owners. ctx bounds the Redis calls,
// and so does Config.LookupTimeout.
func (r *Ring) Owner(ctx context.Context, tenant, session string) (Member, bool) {
	return r.owner(ctx, tenant, session, false)
}

// Claim is Owner for a session this node has just created: a session
// without a live owner is recorded as this node's, so that its next turns
// come back here, rather than placed.
func (r *Ring) Claim(ctx context.Context, tenant, session string) (Member, bool) {
	return r.owner(ctx, tenant, session, true)
}

// Place returns the member a new session would be placed on by this
// node's current view, and whether it is this node, without I/O: the
// highest rendezvous score among the unsuspected members under the load
// bound. An existing session's owner is Owner's business.
func (r *Ring) Place(tenant, session string) (Member, bool) {
	v := r.view.Load()
	var buf [192]byte
	h := xxhash.Sum64(appendTag(buf[:0], tenant, session))
	i := v.place(h, r.cfg.LoadFactor, r.cfg.Now().UnixNano())
	return v.nodes[i].m, i == v.self
}

func (r *Ring) owner(ctx context.Context, tenant, session string, claimSelf bool) (Member, bool) {
	v, i := r.ownerAt(ctx, tenant, session, claimSelf)
	return v.nodes[i].m, i == v.self
}

// ownerAt is Owner returning the view it answered from and the owner's
// index in it, so that the Forwarder finds the parsed URL.
func (r *Ring) ownerAt(ctx context.Context, tenant, session string, claimSelf bool) (*view, int) {
	v := r.view.Load()
	if r.be == nil || !r.ready.Load() || r.left.Load() {
		return v, v.self
	}
	var buf [192]byte
	tag := appendTag(buf[:0], tenant, session)
	h := xxhash.Sum64(tag)
	now := r.cfg.Now().UnixNano()
	if id, ok := r.cache.get(tag, h, now); ok {
		if i, ok := v.byID[id]; ok && !v.suspected(i, now) {
			return v, i
		}
	}
	return v, r.resolve(ctx, v, string(tag), h, now, claimSelf)
}

// resolve asks Redis for the owner of tag and records one if there is no
// live one: the recorded owner is replaced when it is not a member of v or
// is suspected by this node.
func (r *Ring) resolve(ctx context.Context, v *view, tag string, h uint64, now int64, claimSelf bool) int {
	// A stalled Redis must not stall turns: past the timeout, place by hash.
	ctx, cancel := context.WithTimeout(ctx, r.cfg.LookupTimeout)
	defer cancel()
	key := r.ownerPrefix + tag
	cur, left, err := r.be.lookup(ctx, key, r.cfg.OwnerTTL)
	if err != nil {
		r.stats.redisErrors.Add(1)
		r.requestError("owner lookup", err)
		return v.place(h, r.cfg.LoadFactor, now)
	}
	if cur != "" {
		i, ok := v.byID[cur]
		if ok && !v.suspected(i, now) {
			r.remember(tag, h, cur, now, left)
			return i
		}
		if !ok {
			// Not a member this node knows: dead (the common case), or one
			// that joined after the last refresh. Either way, look again.
			r.refreshSoon()
		}
	}
	cand := v.self
	if !claimSelf {
		cand = v.place(h, r.cfg.LoadFactor, now)
	}
	candID := v.nodes[cand].m.ID
	won, left, wrote, err := r.be.claim(ctx, key, cur, candID, r.cfg.OwnerTTL)
	if err != nil {
		r.stats.redisErrors.Add(1)
		r.requestError("owner claim", err)
		return cand
	}
	if wrote {
		v.nodes[cand].pending.Add(1)
		if cur == "" {
			r.stats.placements.Add(1)
		} else {
			r.stats.moves.Add(1)
		}
	}
	i, ok := v.byID[won]
	if !ok {
		// Another node recorded a member this node does not know yet;
		// serve here rather than guess, the lease keeps the session whole.
		r.refreshSoon()
		return v.self
	}
	r.remember(tag, h, won, now, left)
	return i
}

// remember caches an owner for half the owner TTL and never past its
// record's expiry. Every lookup extends the record to OwnerTTL, and a node
// looks up again when its entry runs out, so a record that turns keep
// reaching never expires.
func (r *Ring) remember(tag string, h uint64, owner string, now int64, left time.Duration) {
	d := min(left, r.cfg.OwnerTTL/2)
	if d > 0 {
		r.cache.put(tag, h, owner, now+int64(d))
	}
}

// Suspect stops this node from dialling member id and from placing new
// sessions on it for one TTL; Forwarder calls it for an owner it could not
// reach. This node is never suspected.
func (r *Ring) Suspect(id string) {
	if id == r.self.ID {
		return
	}
	r.suspectCell(id).Store(r.cfg.Now().Add(r.cfg.TTL).UnixNano())
	r.stats.suspicions.Add(1)
}

// Suspected reports whether member id is suspected by this node.
func (r *Ring) Suspected(id string) bool {
	v := r.view.Load()
	i, ok := v.byID[id]
	return ok && v.suspected(i, r.cfg.Now().UnixNano())
}

func (r *Ring) suspectCell(id string) *atomic.Int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.suspects[id]
	if !ok {
		c = new(atomic.Int64)
		r.suspects[id] = c
	}
	return c
}

// Run registers this node, keeps its record alive and the members fresh
// until ctx is done, then deregisters it so that the others drop it at
// once. Redis errors are logged and retried; the node keeps serving with
// the members it last saw. It returns nil once deregistered (whether or
// not that succeeded: an unremoved record expires in a TTL). Call it once.
func (r *Ring) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("ring: Run called twice")
	}
	if r.be == nil {
		<-ctx.Done()
		return nil
	}
	r.loop(ctx)
	r.leave()
	return nil
}

// loop is Run without the leave, so that a test can kill a node.
func (r *Ring) loop(ctx context.Context) {
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	every := r.cfg.TTL / 3
	beat := time.NewTimer(0)
	defer beat.Stop()
	check := time.NewTimer(every)
	defer check.Stop()
	for {
		var next time.Duration
		select {
		case <-ctx.Done():
			return
		case <-beat.C:
			if stop == nil {
				stop = r.subscribe(ctx)
			}
			r.safely(func() { r.heartbeat(ctx) })
			beat.Reset(every)
			r.safely(func() { next = r.refresh(ctx) })
		case <-r.kick:
			r.safely(func() { next = r.refresh(ctx) })
		case <-check.C:
			r.safely(func() { next = r.refresh(ctx) })
		}
		if next <= 0 || next > every {
			next = every
		}
		check.Reset(next)
	}
}

// safely runs f, logging a panic with its stack instead of dying.
func (r *Ring) safely(f func()) {
	defer func() {
		if v := recover(); v != nil {
			r.cfg.Logger.Error("ring: panic", "panic", v, "stack", string(debug.Stack()))
		}
	}()
	f()
}

// subscribe listens for announcements, or returns nil to try again at the
// next heartbeat.
func (r *Ring) subscribe(ctx context.Context) func() {
	sctx, cancel := context.WithTimeout(ctx, r.cfg.TTL/3)
	defer cancel()
	stop, err := r.be.subscribe(sctx, r.refreshSoon)
	if err != nil {
		r.loopError("subscribe", err)
		return nil
	}
	return stop
}

// refreshSoon asks the loop to re-read the members, without waiting.
func (r *Ring) refreshSoon() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *Ring) heartbeat(ctx context.Context) {
	m := r.self
	if r.cfg.Load != nil {
		m.Load = max(r.cfg.Load(), 0)
	}
	hctx, cancel := context.WithTimeout(ctx, r.cfg.TTL/3)
	defer cancel()
	if err := r.be.heartbeat(hctx, m, r.cfg.TTL); err != nil {
		r.loopError("heartbeat", err)
		return
	}
	r.lastBeat.Store(time.Now().UnixNano())
}

// refresh reads the members, installs them, and returns how long until the
// earliest silent member's record runs out (0 when there is none), so that
// the loop looks again just after a dead member expires.
func (r *Ring) refresh(ctx context.Context) time.Duration {
	rctx, cancel := context.WithTimeout(ctx, r.cfg.TTL/3)
	defer cancel()
	live, err := r.be.members(rctx)
	if err != nil {
		r.loopError("members", err)
		if live == nil {
			return 0
		}
	} else if r.failing.CompareAndSwap(true, false) {
		r.cfg.Logger.Info("ring: redis reachable again", "node", r.self.ID)
	}
	self := r.self
	if r.cfg.Load != nil {
		self.Load = max(r.cfg.Load(), 0)
	}
	members := []Member{self}
	var next time.Duration
	for _, lm := range live {
		if lm.ID == self.ID {
			continue
		}
		members = append(members, lm.Member)
		// A little past the expiry, when Redis no longer returns it.
		if d := lm.left + 2*time.Millisecond; next == 0 || d < next {
			next = d
		}
	}
	nv := newView(members, self.ID, r.suspectCell)
	old := r.view.Swap(nv)
	if !nv.sameMembers(old) {
		r.changed(old, nv)
	}
	if err == nil {
		r.markJoined()
	}
	return next
}

// changed logs who joined and left, tells OnChange, and forgets the
// suspicions of members that left.
func (r *Ring) changed(old, nv *view) {
	var joined, left []string
	for id := range nv.byID {
		if _, ok := old.byID[id]; !ok {
			joined = append(joined, id)
		}
	}
	for id := range old.byID {
		if _, ok := nv.byID[id]; !ok {
			left = append(left, id)
		}
	}
	slices.Sort(joined)
	slices.Sort(left)
	r.cfg.Logger.Info("ring: members changed", "node", r.self.ID, "members", len(nv.nodes),
		"joined", joined, "left", left)
	r.mu.Lock()
	for _, id := range left {
		delete(r.suspects, id)
	}
	r.mu.Unlock()
	if r.cfg.OnChange != nil {
		r.cfg.OnChange(nv.members())
	}
}

// leave deregisters this node and from then on answers every Owner itself.
func (r *Ring) leave() {
	r.left.Store(true)
	// Run's context is done: leaving gets its own short deadline.
	ctx, cancel := context.WithTimeout(context.Background(), max(r.cfg.TTL/3, time.Second))
	defer cancel()
	if err := r.be.leave(ctx, r.self.ID); err != nil {
		r.cfg.Logger.Warn("ring: leave", "node", r.self.ID, "err", err)
	}
	r.view.Store(newView([]Member{r.self}, r.self.ID, r.suspectCell))
}

// loopError logs a membership error when the loop starts failing, not at
// every retry.
func (r *Ring) loopError(op string, err error) {
	if r.failing.CompareAndSwap(false, true) {
		r.cfg.Logger.Warn("ring: "+op, "node", r.self.ID, "err", err)
	}
}

// requestError logs a request-path error at most once a second.
func (r *Ring) requestError(op string, err error) {
	now := r.cfg.Now().UnixNano()
	last := r.logged.Load()
	if now-last >= int64(time.Second) && r.logged.CompareAndSwap(last, now) {
		r.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, "ring: "+op+" failed, placing by hash",
			slog.String("node", r.self.ID), slog.Any("err", err))
	}
}

// appendTag appends a session's tag, "{tenant:session}" with '%', ':',
// '{' and '}' %-escaped exactly as the store's Redis keys do, so that an
// owner record hashes to its session's Redis Cluster slot and no two
// (tenant, session) pairs share a tag.
func appendTag(dst []byte, tenant, session string) []byte {
	dst = append(dst, '{')
	dst = appendEscaped(dst, tenant)
	dst = append(dst, ':')
	dst = appendEscaped(dst, session)
	return append(dst, '}')
}

func appendEscaped(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			dst = append(dst, "%25"...)
		case ':':
			dst = append(dst, "%3A"...)
		case '{':
			dst = append(dst, "%7B"...)
		case '}':
			dst = append(dst, "%7D"...)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
