package handoff

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/queue"
)

// The crash test's child: the test binary re-executed with childEnv set
// plays a node that files a ticket and dies (os.Exit, no cleanup) at the
// moment childEnv names:
//
//	publish  right after Open returned: the event is stored and on Q2, no
//	         worker ran
//	before   when its worker is about to post the webhook: the message is
//	         delivered to it and never acknowledged
//	after    right after the receiver answered 200, before the worker
//	         recorded the delivery and acknowledged the message
const (
	childEnv       = "FLOODGATE_HANDOFF_CRASH"
	childDBEnv     = "FLOODGATE_HANDOFF_DB"
	childQueueEnv  = "FLOODGATE_HANDOFF_QUEUE" // data dir, or a nats:// URL
	childStreamEnv = "FLOODGATE_HANDOFF_STREAM"
	childHookEnv   = "FLOODGATE_HANDOFF_WEBHOOK"
	crashSecret    = "crash-test-secret"
	crashExit      = 3
)

// crashConfig is the configuration both processes run with.
func crashConfig(st Store, q *queue.Queue, hook, stream string) Config {
	return Config{Store: st, Queue: q, Subject: "handoff_" + stream + ".events", WebhookURL: hook,
		WebhookSecret: []byte(crashSecret), Logger: quiet, SweepInterval: 200 * time.Millisecond}
}

func openCrashQueue(ctx context.Context, where string) (*queue.Queue, error) {
	cfg := queue.Config{Logger: quiet, Name: "crash-test"}
	if len(where) > 7 && where[:7] == "nats://" {
		cfg.URL = where
	} else {
		cfg.DataDir = where
	}
	return queue.Open(ctx, cfg)
}

// dieTransport kills the process before or after a round trip.
type dieTransport struct{ after bool }

func (d dieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !d.after {
		os.Exit(crashExit)
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && resp.StatusCode/100 == 2 {
		os.Exit(crashExit)
	}
	return resp, err
}

func crashChild() int {
	mode := os.Getenv(childEnv)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := OpenSQLite(ctx, SQLiteConfig{Path: os.Getenv(childDBEnv)})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child store:", err)
		return 10
	}
	q, err := openCrashQueue(ctx, os.Getenv(childQueueEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "child queue:", err)
		return 11
	}
	stream := os.Getenv(childStreamEnv)
	cfg := crashConfig(st, q, os.Getenv(childHookEnv), stream)
	cfg.Client = &http.Client{Transport: dieTransport{after: mode == "after"}}
	svc, err := New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child service:", err)
		return 12
	}
	if err := q.EnsureStream(ctx, svc.StreamConfig("H_"+stream)); err != nil {
		fmt.Fprintln(os.Stderr, "child stream:", err)
		return 13
	}
	t, err := svc.Open(ctx, Ticket{Tenant: "acme", Session: "sess_crash", Agent: "support", Reason: "model_error", Priority: 2})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child open:", err)
		return 14
	}
	ev, err := st.Event(ctx, eventID(t.ID, 1))
	if err != nil || ev.PublishedAt == nil {
		fmt.Fprintln(os.Stderr, "child: event not published:", err)
		return 15
	}
	fmt.Println(t.ID)
	if mode == "publish" {
		os.Exit(0) // the process dies with the event on Q2 and no worker
	}
	w, err := q.Worker(fastConsumer(svc, "H_"+stream), svc.HandleMessage)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child worker:", err)
		return 16
	}
	err = w.Run(ctx) // the transport exits the process during the post
	fmt.Fprintln(os.Stderr, "child: the worker ended without a post:", err)
	return 17
}

// TestDeliverySurvivesCrash kills the process that filed a ticket between
// the publish and the webhook's delivery, at three points, and checks that
// a second process working on the same JetStream and database delivers
// the webhook, so that the receiver gets the event exactly once in effect,
// and that the ticket still holds its session.
func TestDeliverySurvivesCrash(t *testing.T) {
	columns := []struct {
		name  string
		queue func(t *testing.T) string
	}{
		{"embedded", func(t *testing.T) string { return t.TempDir() }},
		{"external", func(t *testing.T) string {
			requireService(t, "NATS at 127.0.0.1:4222", dial("127.0.0.1:4222"))
			return natsURL
		}},
	}
	modes := []struct {
		name      string
		wantExit  int
		wantPosts int // posts the receiver saw; the effect is always one
	}{
		{"publish", 0, 1},
		{"before", crashExit, 1},
		{"after", crashExit, 2},
	}
	for _, col := range columns {
		for _, mode := range modes {
			t.Run(col.name+"/"+mode.name, func(t *testing.T) {
				t.Parallel()
				where := col.queue(t)
				stream := randomName()
				db := filepath.Join(t.TempDir(), "handoffs.db")
				recv := newReceiver(t, []byte(crashSecret))
				if where == natsURL {
					t.Cleanup(func() { deleteStream(t, "H_"+stream) })
				}

				cmd := exec.Command(os.Args[0], "-test.run=^$")
				cmd.Env = append(os.Environ(), childEnv+"="+mode.name, childDBEnv+"="+db, childQueueEnv+"="+where,
					childStreamEnv+"="+stream, childHookEnv+"="+recv.srv.URL)
				out, err := cmd.Output()
				var ee *exec.ExitError
				code := 0
				if errors.As(err, &ee) {
					code = ee.ExitCode()
				} else {
					require.NoError(t, err)
				}
				require.Equal(t, mode.wantExit, code, "child stdout %q stderr %s", out, stderrOf(err))
				ticketID := string(out[:len(out)-1])
				evID := eventID(ticketID, 1)

				// The second life: same database, same JetStream.
				ctx := context.Background()
				st, err := OpenSQLite(ctx, SQLiteConfig{Path: db})
				require.NoError(t, err)
				t.Cleanup(func() { require.NoError(t, st.Close()) })
				q, err := openCrashQueue(ctx, where)
				require.NoError(t, err)
				t.Cleanup(func() { _ = q.Close() })
				svc, err := New(crashConfig(st, q, recv.srv.URL, stream))
				require.NoError(t, err)
				require.NoError(t, q.EnsureStream(ctx, svc.StreamConfig("H_"+stream)))

				tk, active, err := svc.ActiveFor(ctx, "acme", "sess_crash")
				require.NoError(t, err)
				require.True(t, active, "the ticket survived")
				assert.Equal(t, ticketID, tk.ID)

				runWorker(t, q, fastConsumer(svc, "H_"+stream), svc.HandleMessage)
				recv.wait(t, evID, 15*time.Second)
				require.Eventually(t, func() bool {
					ev, err := st.Event(ctx, evID)
					return err == nil && ev.DeliveredAt != nil
				}, 5*time.Second, 20*time.Millisecond, "the delivery is recorded")
				time.Sleep(300 * time.Millisecond) // room for a stray duplicate
				assert.Equal(t, []string{evID}, recv.effectIDs(), "exactly once in effect")
				posts := recv.snapshot()
				assert.Len(t, posts, mode.wantPosts, "posts: %+v", posts)
			})
		}
	}
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

// deleteStream removes a test stream from the external server.
func deleteStream(t *testing.T, name string) {
	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Errorf("delete stream %s: %v", name, err)
		return
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Errorf("delete stream %s: %v", name, err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := js.DeleteStream(ctx, name); err != nil {
		t.Errorf("delete stream %s: %v", name, err)
	}
}
