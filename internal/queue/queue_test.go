package queue

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
)

func streamMsgs(t *testing.T, q *Queue, stream string) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := q.js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	return s.CachedInfo().State.Msgs
}

// waitStreamMsgs waits until stream holds want messages, since acks are
// fire-and-forget and reach the server a moment after the handler returns.
func waitStreamMsgs(t *testing.T, q *Queue, stream string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := streamMsgs(t, q, stream)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s holds %d messages, want %d", stream, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func consumerInfo(t *testing.T, q *Queue, stream, durable string) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := q.js.Consumer(ctx, stream, durable)
	if err != nil {
		t.Fatalf("consumer %s: %v", durable, err)
	}
	return c.CachedInfo()
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	var c Config
	if err := c.normalise(); err != nil {
		t.Fatal(err)
	}
	want := Config{DataDir: DefaultDataDir, Replicas: 1, Name: "floodgate", ConnectTimeout: DefaultConnectTimeout, Logger: slog.Default()}
	if diff := cmp.Diff(want, c, cmp.Comparer(func(a, b *slog.Logger) bool { return a == b })); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestConfigInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give Config
	}{
		{"negative replicas", Config{URL: externalURL, Replicas: -1}},
		{"too many replicas", Config{URL: externalURL, Replicas: 7}},
		{"negative timeout", Config{ConnectTimeout: -time.Second}},
		{"listen without port", Config{Listen: "127.0.0.1"}},
		{"listen bad port", Config{Listen: "127.0.0.1:http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.give.DataDir = t.TempDir()
			tt.give.Logger = discard
			q, err := Open(context.Background(), tt.give)
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("Open = %v, %v; want ErrInvalidConfig", q, err)
			}
		})
	}
}

func TestStreamConfigNormalise(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    StreamConfig
		want    StreamConfig
		wantErr error
	}{
		{
			name: "defaults",
			give: StreamConfig{Name: "RUNS", Subjects: []string{"runs.>"}},
			want: StreamConfig{Name: "RUNS", Subjects: []string{"runs.>"}, MaxAge: DefaultMaxAge, Duplicates: DefaultDuplicates},
		},
		{
			name: "short max age caps the window",
			give: StreamConfig{Name: "RUNS", Subjects: []string{"runs.>"}, MaxAge: time.Minute},
			want: StreamConfig{Name: "RUNS", Subjects: []string{"runs.>"}, MaxAge: time.Minute, Duplicates: time.Minute},
		},
		{name: "no name", give: StreamConfig{Subjects: []string{"a"}}, wantErr: ErrInvalidConfig},
		{name: "dotted name", give: StreamConfig{Name: "a.b", Subjects: []string{"a"}}, wantErr: ErrInvalidConfig},
		{name: "no subjects", give: StreamConfig{Name: "A"}, wantErr: ErrInvalidConfig},
		{name: "window over age", give: StreamConfig{Name: "A", Subjects: []string{"a"}, MaxAge: time.Minute, Duplicates: time.Hour}, wantErr: ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.give
			err := got.normalise()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("normalise = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && !cmp.Equal(tt.want, got) {
				t.Errorf("normalise (-want +got):\n%s", cmp.Diff(tt.want, got))
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := Open(context.Background(), Config{URL: "nats://127.0.0.1:1", ConnectTimeout: 200 * time.Millisecond, Logger: discard})
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
}

func TestEmbeddedDataDirLocked(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	openTest(t, Config{DataDir: dir})
	q, err := Open(context.Background(), Config{DataDir: dir, Logger: discard, ConnectTimeout: 2 * time.Second})
	if err == nil {
		_ = q.Close()
		t.Fatal("a second embedded server opened a data directory in use")
	}
}

func TestEmbeddedListen(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		give      string
		wantEmpty bool
	}{
		{name: "in-process only", give: "", wantEmpty: true},
		{name: "free port", give: "127.0.0.1:0", wantEmpty: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := openTest(t, Config{DataDir: t.TempDir(), Listen: tt.give})
			if got := q.ClientURL() == ""; got != tt.wantEmpty {
				t.Errorf("ClientURL() = %q, want empty %v", q.ClientURL(), tt.wantEmpty)
			}
		})
	}
}

func TestPublishDeduplicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give []string // message IDs, in publish order
		want uint64   // messages stored
	}{
		{name: "same id stored once", give: []string{"run-1", "run-1", "run-1"}, want: 1},
		{name: "distinct ids", give: []string{"run-1", "run-2"}, want: 2},
		{name: "no id, no de-duplication", give: []string{"", ""}, want: 2},
	}
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				stream, prefix := newStream(t, q, false)
				for _, id := range tt.give {
					mustPublish(t, q, prefix+"x", id, []byte("data"), nil)
				}
				if got := streamMsgs(t, q, stream); got != tt.want {
					t.Errorf("stored %d messages, want %d", got, tt.want)
				}
			})
		}
	})
}

func TestEnsureStreamIdempotent(t *testing.T) {
	t.Parallel()
	forEachEnv(t, func(t *testing.T, env testEnv) {
		q := env.open(t, Config{})
		stream, prefix := newStream(t, q, true)
		mustPublish(t, q, prefix+"x", "a", nil, nil)
		cfg := StreamConfig{Name: stream, Subjects: []string{prefix + ">"}, WorkQueue: true}
		for range 2 {
			if err := q.EnsureStream(context.Background(), cfg); err != nil {
				t.Fatalf("EnsureStream again: %v", err)
			}
		}
		if got := streamMsgs(t, q, stream); got != 1 {
			t.Errorf("stream holds %d messages after EnsureStream, want 1", got)
		}
		cfg.WorkQueue = false
		if err := q.EnsureStream(context.Background(), cfg); err == nil {
			t.Error("changing a work queue to limits retention succeeded")
		}
	})
}

func TestPublishNoStream(t *testing.T) {
	t.Parallel()
	q := embeddedEnv().open(t, Config{})
	err := q.Publish(context.Background(), "nowhere."+randomName(), "", []byte("x"), nil)
	if !errors.Is(err, ErrNoStream) {
		t.Errorf("Publish = %v, want ErrNoStream", err)
	}
}

func TestClosed(t *testing.T) {
	t.Parallel()
	q := embeddedEnv().open(t, Config{})
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	tests := []struct {
		name string
		give func() error
	}{
		{"Publish", func() error { return q.Publish(context.Background(), "a", "", nil, nil) }},
		{"EnsureStream", func() error {
			return q.EnsureStream(context.Background(), StreamConfig{Name: "A", Subjects: []string{"a"}})
		}},
		{"Worker", func() error {
			_, err := q.Worker(ConsumerConfig{Stream: "A", Durable: "d"}, func(context.Context, Msg) error { return nil })
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.give(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", tt.name, err)
			}
		})
	}
	if err := q.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestEmbeddedPersistence restarts the embedded server on the same data
// directory: what was published before is still there and consumed after.
func TestEmbeddedPersistence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	q1, err := Open(ctx, Config{DataDir: dir, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	cfg := StreamConfig{Name: "RUNS", Subjects: []string{"runs.>"}, WorkQueue: true}
	if err := q1.EnsureStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	want := []string{"run-1", "run-2", "run-3"}
	for _, id := range want {
		mustPublish(t, q1, "runs.acme", id, []byte(id), nil)
	}
	if err := q1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	q2 := openTest(t, Config{DataDir: dir})
	if err := q2.EnsureStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, len(want))
	w, err := q2.Worker(ConsumerConfig{Stream: "RUNS", Durable: "runner", Concurrency: 1}, func(_ context.Context, m Msg) error {
		got <- m.ID()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	runWorker(t, w)
	var ids []string
	for range want {
		ids = append(ids, receive(t, got, 5*time.Second))
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	waitStreamMsgs(t, q2, "RUNS", 0)
}
