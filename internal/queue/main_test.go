package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// externalURL is the NATS server with JetStream the integration tests use.
const externalURL = "nats://127.0.0.1:4222"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperProcess())
	}
	goleak.VerifyTestMain(m)
}

// testEnv is one column of the design's table: where the server runs.
type testEnv struct {
	name string
	// open returns a Queue ("a process") on the environment's server. For
	// the embedded column the first call starts the server, with a port
	// when the test needs more than one process.
	open func(t *testing.T, cfg Config) *Queue
	// pair returns two independent Queues on one server.
	pair func(t *testing.T) (a, b *Queue)
}

var discard = slog.New(slog.DiscardHandler)

func embeddedEnv() testEnv {
	return testEnv{
		name: "embedded",
		open: func(t *testing.T, cfg Config) *Queue {
			cfg.DataDir = t.TempDir()
			return openTest(t, cfg)
		},
		pair: func(t *testing.T) (*Queue, *Queue) {
			a := openTest(t, Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Name: "a"})
			b := openTest(t, Config{URL: a.ClientURL(), Name: "b"})
			return a, b
		},
	}
}

func externalEnv() testEnv {
	return testEnv{
		name: "external",
		open: func(t *testing.T, cfg Config) *Queue {
			requireExternal(t)
			cfg.URL = externalURL
			return openTest(t, cfg)
		},
		pair: func(t *testing.T) (*Queue, *Queue) {
			requireExternal(t)
			return openTest(t, Config{URL: externalURL, Name: "a"}), openTest(t, Config{URL: externalURL, Name: "b"})
		},
	}
}

// forEachEnv runs fn against the embedded server and the external one.
func forEachEnv(t *testing.T, fn func(t *testing.T, env testEnv)) {
	for _, env := range []testEnv{embeddedEnv(), externalEnv()} {
		t.Run(env.name, func(t *testing.T) {
			t.Parallel()
			fn(t, env)
		})
	}
}

var (
	externalOnce sync.Once
	externalErr  error
)

// requireExternal skips the test when the external NATS is unreachable,
// except under CI=true where its absence is a failure.
func requireExternal(t testing.TB) {
	t.Helper()
	externalOnce.Do(func() {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(externalURL, "nats://"), time.Second)
		if err == nil {
			_ = c.Close()
		}
		externalErr = err
	})
	if externalErr == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("external NATS %s unreachable (CI=true): %v", externalURL, externalErr)
	}
	t.Skipf("external NATS %s unreachable, skipping: %v", externalURL, externalErr)
}

// openTest opens a Queue closed at the end of the test.
func openTest(t testing.TB, cfg Config) *Queue {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = discard
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return q
}

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newStream creates a stream with a unique name and subject space and
// deletes it at the end of the test. It returns the stream's name and a
// subject prefix: publish on prefix+"anything".
func newStream(t testing.TB, q *Queue, workQueue bool) (name, prefix string) {
	t.Helper()
	id := randomName()
	name, prefix = "TEST_"+id, "test."+id+"."
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.EnsureStream(ctx, StreamConfig{Name: name, Subjects: []string{prefix + ">"}, WorkQueue: workQueue}); err != nil {
		t.Fatalf("EnsureStream: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := q.js.DeleteStream(ctx, name); err != nil && !q.closed.Load() {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
	return name, prefix
}

// runWorker runs w until the test ends (or stop is called) and returns
// stop, which cancels Run and returns its error.
func runWorker(t *testing.T, w *Worker) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func mustPublish(t *testing.T, q *Queue, subject, id string, data []byte, hdr map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Publish(ctx, subject, id, data, hdr); err != nil {
		t.Fatalf("Publish %s: %v", subject, err)
	}
}

// receive waits for a value on ch, failing the test after d.
func receive[T any](t *testing.T, ch <-chan T, d time.Duration) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		var zero T
		t.Fatalf("nothing received within %s", d)
		return zero
	}
}

// nothing fails the test if ch delivers within d.
func nothing[T any](t *testing.T, ch <-chan T, d time.Duration) {
	t.Helper()
	select {
	case v := <-ch:
		t.Fatalf("unexpected %v", v)
	case <-time.After(d):
	}
}

// syncBuffer is a log sink for tests that read what was logged.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
