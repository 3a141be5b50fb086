package queue

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func newWorker(t *testing.T, q *Queue, cfg ConsumerConfig, h Handler) *Worker {
	t.Helper()
	w, err := q.Worker(cfg, h)
	if err != nil {
		t.Fatalf("Worker: %v", err)
	}
	return w
}

func TestConsumerConfigNormalise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    ConsumerConfig
		want    ConsumerConfig
		wantErr error
	}{
		{
			name: "defaults",
			give: ConsumerConfig{Stream: "RUNS", Durable: "runner"},
			want: ConsumerConfig{Stream: "RUNS", Durable: "runner", Concurrency: DefaultConcurrency, AckWait: DefaultAckWait,
				MaxDeliver: DefaultMaxDeliver, Backoff: DefaultBackoff, DrainTimeout: DefaultDrainTimeout},
		},
		{name: "no stream", give: ConsumerConfig{Durable: "d"}, wantErr: ErrInvalidConfig},
		{name: "durable with dot", give: ConsumerConfig{Stream: "S", Durable: "a.b"}, wantErr: ErrInvalidConfig},
		{name: "negative concurrency", give: ConsumerConfig{Stream: "S", Durable: "d", Concurrency: -1}, wantErr: ErrInvalidConfig},
		{name: "tiny ack wait", give: ConsumerConfig{Stream: "S", Durable: "d", AckWait: time.Millisecond}, wantErr: ErrInvalidConfig},
		{name: "negative max deliver", give: ConsumerConfig{Stream: "S", Durable: "d", MaxDeliver: -1}, wantErr: ErrInvalidConfig},
		{name: "negative backoff", give: ConsumerConfig{Stream: "S", Durable: "d", Backoff: []time.Duration{-time.Second}}, wantErr: ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.give
			err := got.normalise()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("normalise = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !cmp.Equal(tt.want, got, cmp.Comparer(func(a, b func(Msg, error)) bool { return a == nil && b == nil })) {
				t.Errorf("normalise (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}

func TestWorkerNilHandler(t *testing.T) {
	t.Parallel()
	q := embeddedEnv().open(t, Config{})
	if _, err := q.Worker(ConsumerConfig{Stream: "S", Durable: "d"}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Worker(nil) = %v, want ErrInvalidConfig", err)
	}
}

func TestRunMissingStream(t *testing.T) {
	t.Parallel()
	q := embeddedEnv().open(t, Config{})
	w := newWorker(t, q, ConsumerConfig{Stream: "MISSING_" + randomName(), Durable: "d"}, func(context.Context, Msg) error { return nil })
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("Run on a missing stream succeeded")
	}
	if err := w.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run = %v, want a called-twice error", err)
	}
}

// received is what a test handler saw of a message.
type received struct {
	ID, Subject, Data, Tenant, LowerTenant string
	Deliveries                             int
}

func TestHandledOnceAndAcked(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		stream, prefix := newStream(t, q, true)
		got := make(chan received, 4)
		// One at a time, so that they are handled in publish order.
		w := newWorker(t, q, ConsumerConfig{Stream: stream, Durable: "runner", Concurrency: 1}, func(_ context.Context, m Msg) error {
			got <- received{m.ID(), m.Subject(), string(m.Data()), m.Header("Tenant"), m.Header("tenant"), m.Deliveries()}
			return nil
		})
		runWorker(t, w)

		mustPublish(t, q, prefix+"acme", "run-1", []byte("hello"), map[string]string{"Tenant": "acme"})
		mustPublish(t, q, prefix+"acme", "", []byte("no id"), nil)

		want := []received{
			{ID: "run-1", Subject: prefix + "acme", Data: "hello", Tenant: "acme", Deliveries: 1},
			// Without a publish ID the stream sequence is the key.
			{ID: stream + ":2", Subject: prefix + "acme", Data: "no id", Deliveries: 1},
		}
		var gotAll []received
		for range want {
			gotAll = append(gotAll, receive(t, got, 5*time.Second))
		}
		if diff := cmp.Diff(want, gotAll); diff != "" {
			t.Errorf("handled (-want +got):\n%s", diff)
		}
		nothing(t, got, 300*time.Millisecond)
		waitStreamMsgs(t, q, stream, 0)
	})
}

func TestRedeliveredAfterBackoff(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		stream, prefix := newStream(t, q, true)
		backoff := []time.Duration{50 * time.Millisecond, 150 * time.Millisecond}
		type attempt struct {
			n  int
			at time.Time
		}
		attempts := make(chan attempt, 8)
		done := make(chan struct{})
		w := newWorker(t, q, ConsumerConfig{Stream: stream, Durable: "runner", Backoff: backoff}, func(_ context.Context, m Msg) error {
			attempts <- attempt{m.Deliveries(), time.Now()}
			if m.Deliveries() < 3 {
				return errors.New("model endpoint down")
			}
			close(done)
			return nil
		})
		runWorker(t, w)
		mustPublish(t, q, prefix+"x", "run-1", nil, nil)
		receive(t, done, 5*time.Second)

		var got []attempt
		for range 3 {
			got = append(got, receive(t, attempts, time.Second))
		}
		for i, a := range got {
			if a.n != i+1 {
				t.Errorf("attempt %d had Deliveries %d", i+1, a.n)
			}
		}
		for i, d := range backoff {
			if gap := got[i+1].at.Sub(got[i].at); gap < d {
				t.Errorf("redelivery %d after %s, want at least the backoff %s", i+1, gap, d)
			}
		}
		nothing(t, attempts, 200*time.Millisecond)
		waitStreamMsgs(t, q, stream, 0)
	})
}

func TestDeadLetterAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		stream, prefix := newStream(t, q, true)
		errBoom := errors.New("boom")
		var calls atomic.Int32
		type dead struct {
			id         string
			deliveries int
			err        error
		}
		dl := make(chan dead, 2)
		w := newWorker(t, q, ConsumerConfig{
			Stream: stream, Durable: "runner", MaxDeliver: 3, Backoff: []time.Duration{10 * time.Millisecond},
			OnDeadLetter: func(m Msg, err error) { dl <- dead{m.ID(), m.Deliveries(), err} },
		}, func(context.Context, Msg) error {
			calls.Add(1)
			return errBoom
		})
		runWorker(t, w)
		mustPublish(t, q, prefix+"x", "poison", nil, nil)

		d := receive(t, dl, 5*time.Second)
		if d.id != "poison" || d.deliveries != 3 || !errors.Is(d.err, errBoom) {
			t.Errorf("dead letter = %+v, want poison after 3 deliveries with boom", d)
		}
		nothing(t, dl, 300*time.Millisecond)
		if n := calls.Load(); n != 3 {
			t.Errorf("handler called %d times, want MaxDeliver = 3", n)
		}
		// Terminated counts as done: the work queue let it go.
		waitStreamMsgs(t, q, stream, 0)
	})
}

func TestPanicIsAFailure(t *testing.T) {
	t.Parallel()
	q := embeddedEnv().open(t, Config{})
	stream, prefix := newStream(t, q, true)
	var logs syncBuffer
	q.log = slog.New(slog.NewTextHandler(&logs, nil))
	done := make(chan int, 1)
	w := newWorker(t, q, ConsumerConfig{Stream: stream, Durable: "runner", Backoff: []time.Duration{10 * time.Millisecond}},
		func(_ context.Context, m Msg) error {
			if m.Deliveries() == 1 {
				panic("kaboom")
			}
			done <- m.Deliveries()
			return nil
		})
	runWorker(t, w)
	mustPublish(t, q, prefix+"x", "run-1", nil, nil)
	if n := receive(t, done, 5*time.Second); n != 2 {
		t.Errorf("handled on delivery %d, want 2", n)
	}
	out := logs.String()
	for _, want := range []string{"handler panicked", "kaboom", "worker_test.go"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// TestCrashRedelivered kills process A's connection while its handler
// runs, as a crash would: the message goes to process B once AckWait has
// passed without A's keep-alive, and never while A was alive.
func TestCrashRedelivered(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		a, b := env.pair(t)
		stream, prefix := newStream(t, b, true)
		cfg := ConsumerConfig{Stream: stream, Durable: "runner", Concurrency: 1, AckWait: 300 * time.Millisecond}

		started, release := make(chan int, 1), make(chan struct{})
		wa := newWorker(t, a, cfg, func(_ context.Context, m Msg) error {
			started <- m.Deliveries()
			<-release
			return nil
		})
		stopA := runWorker(t, wa)
		mustPublish(t, b, prefix+"x", "run-1", nil, nil)
		if n := receive(t, started, 5*time.Second); n != 1 {
			t.Fatalf("A got delivery %d, want 1", n)
		}

		gotB := make(chan int, 2)
		wb := newWorker(t, b, cfg, func(_ context.Context, m Msg) error {
			gotB <- m.Deliveries()
			return nil
		})
		runWorker(t, wb)
		// A is alive and renews its claim: B must not see the message.
		nothing(t, gotB, 2*cfg.AckWait)

		crashed := time.Now()
		a.nc.Close()
		if n := receive(t, gotB, 5*time.Second); n != 2 {
			t.Errorf("B got delivery %d, want 2", n)
		}
		if d := time.Since(crashed); d < cfg.AckWait/2 {
			t.Errorf("redelivered %s after the crash, before AckWait %s could pass", d, cfg.AckWait)
		}
		close(release)
		if err := stopA(); !errors.Is(err, ErrClosed) {
			t.Errorf("A's Run = %v, want ErrClosed", err)
		}
		waitStreamMsgs(t, b, stream, 0)
	})
}

// TestCrashBeyondMaxDeliver: a message whose every attempt ended in a crash
// is dead-lettered, not run again.
func TestCrashBeyondMaxDeliver(t *testing.T) {
	t.Parallel()
	a, b := embeddedEnv().pair(t)
	stream, prefix := newStream(t, b, true)
	cfg := ConsumerConfig{Stream: stream, Durable: "runner", MaxDeliver: 1, AckWait: 200 * time.Millisecond}
	started, release := make(chan struct{}, 1), make(chan struct{})
	stopA := runWorker(t, newWorker(t, a, cfg, func(context.Context, Msg) error {
		started <- struct{}{}
		<-release
		return nil
	}))
	mustPublish(t, b, prefix+"x", "poison", nil, nil)
	receive(t, started, 5*time.Second)
	a.nc.Close()
	close(release)
	_ = stopA()

	var calls atomic.Int32
	dead := make(chan error, 1)
	cfg.OnDeadLetter = func(_ Msg, err error) { dead <- err }
	runWorker(t, newWorker(t, b, cfg, func(context.Context, Msg) error {
		calls.Add(1)
		return nil
	}))
	if err := receive(t, dead, 5*time.Second); !errors.Is(err, ErrMaxDeliver) {
		t.Errorf("dead letter error = %v, want ErrMaxDeliver", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("handler ran %d times on a message past MaxDeliver", n)
	}
	waitStreamMsgs(t, b, stream, 0)
}

// TestGracefulDrain stops a worker while its handlers run: they finish
// with a live context and their messages are acked, and nothing new is
// pulled.
func TestGracefulDrain(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		stream, prefix := newStream(t, q, true)
		started, release := make(chan struct{}, 4), make(chan struct{})
		ctxErrs := make(chan error, 4)
		w := newWorker(t, q, ConsumerConfig{Stream: stream, Durable: "runner", Concurrency: 2}, func(ctx context.Context, _ Msg) error {
			started <- struct{}{}
			<-release
			ctxErrs <- ctx.Err()
			return nil
		})
		stop := runWorker(t, w)
		mustPublish(t, q, prefix+"x", "run-1", nil, nil)
		mustPublish(t, q, prefix+"x", "run-2", nil, nil)
		receive(t, started, 5*time.Second)
		receive(t, started, 5*time.Second)

		stopped := make(chan error, 1)
		go func() { stopped <- stop() }()
		nothing(t, stopped, 200*time.Millisecond)
		mustPublish(t, q, prefix+"x", "run-3", nil, nil)
		close(release)
		if err := receive(t, stopped, 5*time.Second); err != nil {
			t.Errorf("Run after a clean drain = %v", err)
		}
		for range 2 {
			if err := receive(t, ctxErrs, time.Second); err != nil {
				t.Errorf("a draining handler's context was cancelled: %v", err)
			}
		}
		nothing(t, started, 100*time.Millisecond)
		// Two acked, the one published during the drain left for others.
		waitStreamMsgs(t, q, stream, 1)
	})
}

// TestDrainDeadlineHandsBack: a handler still running at the drain deadline
// has its context cancelled, and its message goes to another worker at
// once rather than after AckWait.
func TestDrainDeadlineHandsBack(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		a, b := env.pair(t)
		stream, prefix := newStream(t, b, true)
		cfg := ConsumerConfig{Stream: stream, Durable: "runner", DrainTimeout: 50 * time.Millisecond}
		started := make(chan struct{}, 1)
		stopA := runWorker(t, newWorker(t, a, cfg, func(ctx context.Context, _ Msg) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		}))
		mustPublish(t, b, prefix+"x", "run-1", nil, nil)
		receive(t, started, 5*time.Second)

		gotB := make(chan int, 1)
		runWorker(t, newWorker(t, b, cfg, func(_ context.Context, m Msg) error {
			gotB <- m.Deliveries()
			return nil
		}))
		if err := stopA(); err == nil || !strings.Contains(err.Error(), "cancelled 1 handlers") {
			t.Errorf("A's Run = %v, want it to report the cancelled handler", err)
		}
		// Far sooner than the default AckWait of 30 s.
		if n := receive(t, gotB, 5*time.Second); n != 2 {
			t.Errorf("B got delivery %d, want 2", n)
		}
	})
}

// TestKeepAlive runs a handler for several AckWaits: the worker's
// keep-alive holds the message, so a second worker never gets it.
func TestKeepAlive(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		stream, prefix := newStream(t, q, true)
		cfg := ConsumerConfig{Stream: stream, Durable: "runner", Concurrency: 1, AckWait: 300 * time.Millisecond}
		var calls atomic.Int32
		done := make(chan struct{})
		h := func(context.Context, Msg) error {
			if calls.Add(1) == 1 {
				time.Sleep(3 * cfg.AckWait)
				close(done)
			}
			return nil
		}
		runWorker(t, newWorker(t, q, cfg, h))
		runWorker(t, newWorker(t, q, cfg, h))
		mustPublish(t, q, prefix+"x", "long", nil, nil)
		receive(t, done, 5*time.Second)
		waitStreamMsgs(t, q, stream, 0)
		if n := calls.Load(); n != 1 {
			t.Errorf("handler ran %d times, want 1", n)
		}
	})
}

// TestConcurrencyBound: a worker runs at most Concurrency handlers and
// holds no more unacknowledged messages than that.
func TestConcurrencyBound(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		stream, prefix := newStream(t, q, true)
		const n, limit = 8, 2
		var running, peak atomic.Int32
		started, release := make(chan struct{}, n), make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(n)
		runWorker(t, newWorker(t, q, ConsumerConfig{Stream: stream, Durable: "runner", Concurrency: limit}, func(context.Context, Msg) error {
			defer wg.Done()
			r := running.Add(1)
			defer running.Add(-1)
			for p := peak.Load(); r > p && !peak.CompareAndSwap(p, r); p = peak.Load() {
			}
			started <- struct{}{}
			<-release
			return nil
		}))
		for i := range n {
			mustPublish(t, q, prefix+"x", "run-"+string(rune('a'+i)), nil, nil)
		}
		for range limit {
			receive(t, started, 5*time.Second)
		}
		nothing(t, started, 200*time.Millisecond)
		if got := consumerInfo(t, q, stream, "runner").NumAckPending; got != limit {
			t.Errorf("%d messages unacknowledged with %d handlers busy: the worker pulled ahead", got, limit)
		}
		close(release)
		wg.Wait()
		if p := peak.Load(); p != limit {
			t.Errorf("peak concurrency %d, want %d", p, limit)
		}
		waitStreamMsgs(t, q, stream, 0)
	})
}

func TestCloseStopsWorker(t *testing.T) {
	t.Parallel()
	q := embeddedEnv().open(t, Config{})
	stream, _ := newStream(t, q, true)
	stop := runWorker(t, newWorker(t, q, ConsumerConfig{Stream: stream, Durable: "runner"}, func(context.Context, Msg) error { return nil }))
	// Let Run set up its consumer and start pulling.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := q.js.Consumer(context.Background(), stream, "runner")
		if err == nil && c.CachedInfo().NumWaiting > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := stop(); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

// TestConsumerDeletedRecreated: a worker whose consumer is deleted under
// it sets it up again and goes on.
func TestConsumerDeletedRecreated(t *testing.T) {
	t.Parallel()
	q := embeddedEnv().open(t, Config{})
	stream, prefix := newStream(t, q, true)
	got := make(chan string, 2)
	runWorker(t, newWorker(t, q, ConsumerConfig{Stream: stream, Durable: "runner"}, func(_ context.Context, m Msg) error {
		got <- m.ID()
		return nil
	}))
	mustPublish(t, q, prefix+"x", "before", nil, nil)
	if id := receive(t, got, 5*time.Second); id != "before" {
		t.Fatalf("got %q", id)
	}
	waitStreamMsgs(t, q, stream, 0)
	if err := q.js.DeleteConsumer(context.Background(), stream, "runner"); err != nil {
		t.Fatalf("delete consumer: %v", err)
	}
	mustPublish(t, q, prefix+"x", "after", nil, nil)
	if id := receive(t, got, 5*time.Second); id != "after" {
		t.Errorf("got %q, want after", id)
	}
}
