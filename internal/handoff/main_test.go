package handoff

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/floodgate-dev/floodgate/internal/queue"
)

const (
	pgDSN   = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	natsURL = "nats://127.0.0.1:4222"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(crashChild())
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

var quiet = slog.New(slog.DiscardHandler)

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

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func dial(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	return err
}

// openSQLite opens a store in a file of the test's temporary directory.
func openSQLite(t testing.TB) *SQLStore {
	t.Helper()
	s, err := OpenSQLite(context.Background(), SQLiteConfig{Path: filepath.Join(t.TempDir(), "handoffs.db")})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// openPostgres opens a store in a schema of its own, dropped at the end.
func openPostgres(t testing.TB) *SQLStore {
	t.Helper()
	requireService(t, "PostgreSQL at 127.0.0.1:5432", dial("127.0.0.1:5432"))
	schema := "handoff_test_" + randomName()
	s, err := OpenPostgres(context.Background(), PostgresConfig{DSN: pgDSN, Schema: schema, MaxConns: 4})
	requireService(t, "PostgreSQL at 127.0.0.1:5432", err)
	t.Cleanup(func() {
		_, err := s.w.ExecContext(context.Background(), `DROP SCHEMA `+`"`+schema+`" CASCADE`)
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
	return s
}

// openQueue starts an embedded JetStream in dir with the service's stream.
func openQueue(t testing.TB, dir string) *queue.Queue {
	t.Helper()
	q, err := queue.Open(context.Background(), queue.Config{DataDir: dir, Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { _ = q.Close() })
	return q
}

// receiver is a help desk's webhook endpoint: it verifies signatures,
// answers with the statuses it is told to, and records what it got.
type receiver struct {
	t      testing.TB
	secret []byte
	srv    *httptest.Server

	mu       sync.Mutex
	statuses []int          // answers for the next posts; 200 when empty
	posts    []delivery     // every post, in order
	seen     map[string]int // delivery id → posts
	effects  []string       // delivery ids in the order they first took effect
	got      chan string    // delivery ids of successful posts
	bodies   map[string][]byte
}

type delivery struct {
	ID, Event, Attempt string
	Status             int
}

func newReceiver(t testing.TB, secret []byte) *receiver {
	r := &receiver{t: t, secret: secret, seen: map[string]int{}, got: make(chan string, 100), bodies: map[string][]byte{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := Verify(r.secret, req.Header.Get(SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		r.t.Errorf("webhook with a bad signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	id := req.Header.Get(DeliveryHeader)
	r.mu.Lock()
	status := http.StatusOK
	if len(r.statuses) > 0 {
		status, r.statuses = r.statuses[0], r.statuses[1:]
	}
	r.posts = append(r.posts, delivery{ID: id, Event: req.Header.Get(EventHeader), Attempt: req.Header.Get(AttemptHeader), Status: status})
	if status/100 == 2 {
		if r.seen[id] == 0 {
			r.effects = append(r.effects, id) // de-duplicated by delivery id
			r.bodies[id] = body
		}
		r.seen[id]++
	}
	r.mu.Unlock()
	w.WriteHeader(status)
	if status/100 == 2 {
		r.got <- id
	}
}

func (r *receiver) fail(statuses ...int) {
	r.mu.Lock()
	r.statuses = append(r.statuses, statuses...)
	r.mu.Unlock()
}

// wait waits for a successful post of id.
func (r *receiver) wait(t testing.TB, id string, d time.Duration) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case got := <-r.got:
			if got == id {
				return
			}
		case <-deadline:
			t.Fatalf("no webhook %s within %s; posts: %+v", id, d, r.snapshot())
		}
	}
}

func (r *receiver) body(id string) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[id]
}

func (r *receiver) snapshot() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.posts...)
}

func (r *receiver) effectIDs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.effects...)
	sort.Strings(out)
	return out
}

// runWorker runs the service's webhook worker until the test ends.
func runWorker(t testing.TB, q *queue.Queue, cc queue.ConsumerConfig, h queue.Handler) {
	t.Helper()
	w, err := q.Worker(cc, h)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
}

// fastConsumer is the service's consumer with test-sized timings.
func fastConsumer(s *Service, stream string) queue.ConsumerConfig {
	cc := s.ConsumerConfig(stream)
	cc.AckWait = time.Second
	cc.Backoff = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond}
	cc.MaxDeliver = 4
	cc.DrainTimeout = 5 * time.Second
	return cc
}
