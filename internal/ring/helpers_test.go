package ring

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// requireService skips a test whose service is missing, except under
// CI=true, where a missing service is a failure.
func requireService(t testing.TB, name string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required under CI=true: %v", name, err)
	}
	t.Skipf("%s not available: %v", name, err)
}

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// memBackend is the backend in memory, with real expiry, for unit tests of
// the membership loop and of ownership without a Redis.
type memBackend struct {
	mu      sync.Mutex
	nodes   map[string]memRec
	owners  map[string]memRec
	subs    map[int]func()
	nextSub int

	fail    atomic.Bool  // every call fails
	lookups atomic.Int64 // lookup calls
}

type memRec struct {
	m   Member // nodes
	val string // owners
	exp time.Time
}

var errMemDown = errors.New("mem backend down")

func newMemBackend() *memBackend {
	return &memBackend{nodes: map[string]memRec{}, owners: map[string]memRec{}, subs: map[int]func(){}}
}

func (b *memBackend) announce() {
	for _, kick := range b.subs {
		kick()
	}
}

func (b *memBackend) heartbeat(_ context.Context, m Member, ttl time.Duration) error {
	if b.fail.Load() {
		return errMemDown
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old, ok := b.nodes[m.ID]
	b.nodes[m.ID] = memRec{m: m, exp: time.Now().Add(ttl)}
	if !ok || time.Now().After(old.exp) {
		b.announce()
	}
	return nil
}

func (b *memBackend) members(context.Context) ([]liveMember, error) {
	if b.fail.Load() {
		return nil, errMemDown
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	var out []liveMember
	for id, rec := range b.nodes {
		if !now.Before(rec.exp) {
			delete(b.nodes, id)
			continue
		}
		out = append(out, liveMember{Member: rec.m, left: rec.exp.Sub(now)})
	}
	return out, nil
}

func (b *memBackend) leave(_ context.Context, id string) error {
	if b.fail.Load() {
		return errMemDown
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.nodes, id)
	b.announce()
	return nil
}

func (b *memBackend) subscribe(_ context.Context, kick func()) (func(), error) {
	if b.fail.Load() {
		return nil, errMemDown
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextSub
	b.nextSub++
	b.subs[id] = kick
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}, nil
}

func (b *memBackend) lookup(_ context.Context, key string, ttl time.Duration) (string, time.Duration, error) {
	b.lookups.Add(1)
	if b.fail.Load() {
		return "", 0, errMemDown
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.owners[key]
	if !ok || !time.Now().Before(rec.exp) {
		return "", 0, nil
	}
	rec.exp = time.Now().Add(ttl)
	b.owners[key] = rec
	return rec.val, ttl, nil
}

func (b *memBackend) claim(_ context.Context, key, old, owner string, ttl time.Duration) (string, time.Duration, bool, error) {
	if b.fail.Load() {
		return "", 0, false, errMemDown
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	rec, ok := b.owners[key]
	if ok && now.Before(rec.exp) && rec.val != old {
		return rec.val, rec.exp.Sub(now), false, nil
	}
	b.owners[key] = memRec{val: owner, exp: now.Add(ttl)}
	return owner, ttl, true, nil
}

// recorded returns the owner recorded for a session, "" for none.
func (b *memBackend) recorded(r *Ring, tenant, session string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	rec, ok := b.owners[r.ownerPrefix+string(appendTag(nil, tenant, session))]
	if !ok || !time.Now().Before(rec.exp) {
		return ""
	}
	return rec.val
}

// fixedOwner is a backend whose records always name one owner: a node
// whose view of ownership disagrees with the others'.
type fixedOwner struct {
	backend
	owner string
}

func (f fixedOwner) lookup(context.Context, string, time.Duration) (string, time.Duration, error) {
	return f.owner, time.Hour, nil
}

func (f fixedOwner) claim(context.Context, string, string, string, time.Duration) (string, time.Duration, bool, error) {
	return f.owner, time.Hour, false, nil
}

// startRing makes a Ring on be and runs it until the test ends. kill, when
// called, stops it without leaving (a crash); stop leaves gracefully.
type runningRing struct {
	*Ring
	cancel context.CancelFunc
	done   chan struct{}
	killed atomic.Bool
}

func startRing(t testing.TB, be backend, cfg Config) *runningRing {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quietLogger
	}
	if cfg.URL == "" {
		cfg.URL = "http://" + cfg.ID + ".invalid"
	}
	require.NoError(t, cfg.normalize(true))
	r := newRing(cfg, be)
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runningRing{Ring: r, cancel: cancel, done: make(chan struct{})}
	r.running.Store(true)
	go func() { // Run, with a way to die without leaving
		defer close(rr.done)
		r.loop(ctx)
		if !rr.killed.Load() {
			r.leave()
		}
	}()
	t.Cleanup(rr.stop)
	select {
	case <-r.Joined():
	case <-time.After(5 * time.Second):
		t.Fatalf("ring %s did not join", cfg.ID)
	}
	return rr
}

// stop leaves the ring gracefully and waits for Run to return.
func (rr *runningRing) stop() {
	rr.cancel()
	<-rr.done
}

// kill stops rr's loop without leaving, as a crash would: its record
// expires after a TTL. The Ring itself still answers (it is not asked).
func (rr *runningRing) kill() {
	rr.killed.Store(true)
	rr.stop()
}

// waitMembers waits until every ring sees exactly want members.
func waitMembers(t testing.TB, want int, rings ...*runningRing) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for _, r := range rings {
		for len(r.Members()) != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s sees %d members, want %d", r.self.ID, len(r.Members()), want)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}

// testNode is a ring member with a gateway stand-in: an httptest server
// that routes requests by the session in the query through a Forwarder
// to its local handler.
type testNode struct {
	*runningRing
	srv   *httptest.Server
	fwd   *Forwarder
	local atomic.Pointer[http.Handler]
	hits  atomic.Int64
	seen  chan served // every request local served
}

// served is what a node's local handler saw of a request.
type served struct {
	node, session, body, idem string
	from                      string // ForwardedBy
}

const testSecret = "0123456789abcdef-test-secret"

func testKey(r *http.Request) (string, string, bool) {
	s := r.URL.Query().Get("session")
	return r.Header.Get("X-Tenant"), s, s != ""
}

// newTestNode starts a node on be. Its local handler records the request
// and answers "served by <id>" unless setLocal replaces it.
func newTestNode(t testing.TB, be backend, id string, fc ForwarderConfig, mutate ...func(*Config)) *testNode {
	t.Helper()
	n := &testNode{seen: make(chan served, 1024)}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.fwd.Handler(testKey, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.hits.Add(1)
			(*n.local.Load()).ServeHTTP(w, r)
		})).ServeHTTP(w, r)
	}))
	t.Cleanup(n.srv.Close)
	n.setLocal(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		from, _ := ForwardedBy(r.Context())
		select {
		case n.seen <- served{node: id, session: r.URL.Query().Get("session"), body: string(body),
			idem: r.Header.Get(HeaderIdempotencyKey), from: from}:
		default:
		}
		w.Header().Set("X-Served-By", id)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "served by "+id)
	}))
	cfg := Config{ID: id, URL: n.srv.URL, TTL: 300 * time.Millisecond}
	for _, m := range mutate {
		m(&cfg)
	}
	n.runningRing = startRing(t, be, cfg)
	if fc.Secret == nil {
		fc.Secret = []byte(testSecret)
	}
	var err error
	n.fwd, err = NewForwarder(n.Ring, fc)
	require.NoError(t, err)
	t.Cleanup(n.fwd.Close)
	return n
}

func (n *testNode) setLocal(h http.Handler) { n.local.Store(&h) }

// sessionOwnedBy finds a session of tenant whose owner, as ring r
// resolves it (recording it), is want.
func sessionOwnedBy(t testing.TB, r *Ring, tenant, want string) string {
	t.Helper()
	for i := range 10000 {
		s := fmt.Sprintf("sess-%s-%d", want, i)
		if m, _ := r.Owner(context.Background(), tenant, s); m.ID == want {
			return s
		}
	}
	t.Fatalf("no session placed on %s", want)
	return ""
}
