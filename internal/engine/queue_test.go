package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/queue"
	"github.com/floodgate-dev/floodgate/internal/store"
)

const externalNATS = "nats://127.0.0.1:4222"

var quiet = slog.New(slog.DiscardHandler)

func randomName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// runsHandler adapts HandleRunMessage to a queue handler, as cmd wires it.
func runsHandler(e *Engine) queue.Handler {
	return func(ctx context.Context, m queue.Msg) error { return e.HandleRunMessage(ctx, m.Data(), m.Deliveries()) }
}

// startWorker runs a worker until the test ends.
func startWorker(t *testing.T, q *queue.Queue, cfg queue.ConsumerConfig, h queue.Handler) {
	t.Helper()
	w, err := q.Worker(cfg, h)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		assert.NoError(t, <-done)
	})
}

// waitRun polls a run record until it has ended.
func waitRun(t *testing.T, e *Engine, tenant, id string) *store.Run {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		rec, err := e.GetRun(context.Background(), tenant, id)
		require.NoError(t, err)
		if ended(rec.Status) {
			return rec
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("run %s did not end", id)
	return nil
}

func TestAsyncThroughEmbeddedQueue(t *testing.T) {
	ctx := context.Background()
	q, err := queue.Open(ctx, queue.Config{DataDir: t.TempDir(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	require.NoError(t, q.EnsureStream(ctx, queue.StreamConfig{Name: "RUNS", Subjects: []string{SubjectRuns}, WorkQueue: true}))

	sink := &usageSink{}
	env := asyncEnv(t, q, func(c *Config) { c.Usage = sink })
	hook := newReceiver(t, testSecret, 200)
	// Stop order at cleanup: workers first (registered last), then the
	// queue.
	startWorker(t, q, queue.ConsumerConfig{Stream: "RUNS", Durable: "runs"}, runsHandler(env.engine))

	rec, err := env.engine.Submit(ctx, RunRequest{Tenant: "acme corp", Agent: "support", Input: "Where is my order 100123?", Webhook: hook.url})
	require.NoError(t, err)
	got := waitRun(t, env.engine, "acme corp", rec.ID)
	assert.Equal(t, store.RunCompleted, got.Status)
	res := runResult(t, got)
	assert.Contains(t, res.Output, "100123")
	recs := sink.records()
	require.NotEmpty(t, recs, "the worker's run recorded its usage")
	last := recs[len(recs)-1]
	assert.Equal(t, ledger.KindRun, last.Kind)
	assert.Equal(t, rec.ID, last.RunID)
	assert.Equal(t, "acme corp", last.Tenant)
	// The webhook goes out after the result is stored; wait for it.
	require.Eventually(t, func() bool {
		r, err := env.engine.GetRun(ctx, "acme corp", rec.ID)
		return err == nil && runResult(t, r).Webhook != nil
	}, 5*time.Second, 10*time.Millisecond)
	_, verified := hook.got()
	require.Len(t, verified, 1)
	assert.NoError(t, verified[0])
}

// helperEnv makes the test binary act as "process A" of
// TestAsyncAcrossProcesses: it submits one run and dies.
const helperEnv = "FLOODGATE_ENGINE_HELPER"

// submitAndDie is process A: an engine on the shared SQLite file and the
// external NATS submits a run, prints its id and exits without closing
// anything, as a node may die right after answering 202.
func submitAndDie() int {
	ctx := context.Background()
	st, err := sqliteOpen(ctx, os.Getenv("FG_DB"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	q, err := queue.Open(ctx, queue.Config{URL: externalNATS, Name: "process-a", Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	e, err := New(Config{Agents: demoAgentsWithoutTools(), Model: unusedModel{}, Sessions: st, Publisher: q, Logger: quiet})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	rec, err := e.Submit(ctx, RunRequest{Tenant: os.Getenv("FG_TENANT"), Agent: "support", Input: "Where is my order 100123?"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 5
	}
	fmt.Println(rec.ID)
	return 0
}

// demoAgentsWithoutTools names the demo agents, enough to submit runs.
func demoAgentsWithoutTools() []Agent {
	return []Agent{{Name: "support", Model: "large"}}
}

type unusedModel struct{}

func (unusedModel) Complete(context.Context, *llm.Request) (*llm.Response, error) {
	return nil, fmt.Errorf("process A calls no model")
}

func (unusedModel) Stream(context.Context, *llm.Request) (llm.Stream, error) {
	return nil, fmt.Errorf("process A calls no model")
}

func requireNATS(t *testing.T) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(externalNATS, "nats://"), time.Second)
	if err == nil {
		_ = c.Close()
	}
	requireService(t, "NATS at "+externalNATS, err)
}

// TestAsyncAcrossProcesses: a run submitted by one OS process, which dies
// right after the 202, is executed by a worker of another process through
// an external NATS; both share the SQLite file.
func TestAsyncAcrossProcesses(t *testing.T) {
	requireNATS(t)
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "shared.db")
	tenant := "t" + randomName()
	stream := "FGTEST_RUNS_" + randomName()

	nc, err := nats.Connect(externalNATS)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	q, err := queue.Open(ctx, queue.Config{URL: externalNATS, Name: "process-b", Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, q.Close()) })
	require.NoError(t, q.EnsureStream(ctx, queue.StreamConfig{Name: stream, Subjects: []string{RunSubject(tenant)}, WorkQueue: true}))
	t.Cleanup(func() { _ = js.DeleteStream(context.Background(), stream) })

	// Process A: its store opens the file first, creating the schema.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "FG_DB="+db, "FG_TENANT="+tenant)
	out, err := cmd.Output()
	require.NoError(t, err, "process A: %s", out)
	runID := strings.TrimSpace(string(out))
	require.True(t, strings.HasPrefix(runID, "run_"), "process A printed %q", out)

	// Process B: this one, on the same file, runs the worker.
	st := openSQLite(t, db)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	env := newEnv(t, envOptions{store: st, config: func(c *Config) { c.Publisher, c.Logger = q, quiet }})
	startWorker(t, q, queue.ConsumerConfig{Stream: stream, Durable: "runs"}, runsHandler(env.engine))
	got := waitRun(t, env.engine, tenant, runID)
	assert.Equal(t, store.RunCompleted, got.Status)
	assert.Contains(t, runResult(t, got).Output, "100123")
	sess, err := env.engine.Session(ctx, tenant, got.SessionID)
	require.NoError(t, err)
	assert.Len(t, sess.Turns, 1)
}
