package queue

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// helperEnv, when set, makes the test binary act as "process A": it
// publishes and dies (see helperProcess).
const helperEnv = "FLOODGATE_QUEUE_HELPER"

// helperProcess publishes FLOODGATE_QUEUE_N messages with IDs run-0… on
// FLOODGATE_QUEUE_SUBJECT at FLOODGATE_QUEUE_URL, then exits without
// closing anything: the process dies right after its publishes were
// acknowledged, as a node may die right after answering 202.
func helperProcess() int {
	n, _ := strconv.Atoi(os.Getenv("FLOODGATE_QUEUE_N"))
	subject := os.Getenv("FLOODGATE_QUEUE_SUBJECT")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	q, err := Open(ctx, Config{URL: os.Getenv("FLOODGATE_QUEUE_URL"), Name: "process-a", Logger: discard})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	for i := range n {
		id := "run-" + strconv.Itoa(i)
		if err := q.Publish(ctx, subject, id, []byte(id), nil); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
	}
	return 0
}

// TestCrossProcess publishes from another OS process that dies after its
// publishes were acknowledged; a worker here executes every message.
func TestCrossProcess(t *testing.T) {
	t.Parallel()
	requireExternal(t)
	b := externalEnv().open(t, Config{Name: "process-b"})
	stream, prefix := newStream(t, b, true)
	const n = 20

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1",
		"FLOODGATE_QUEUE_URL="+externalURL, "FLOODGATE_QUEUE_SUBJECT="+prefix+"acme", "FLOODGATE_QUEUE_N="+strconv.Itoa(n))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("process A: %v\n%s", err, out)
	}

	got := make(chan string, n)
	runWorker(t, newWorker(t, b, ConsumerConfig{Stream: stream, Durable: "runner"}, func(_ context.Context, m Msg) error {
		got <- m.ID()
		return nil
	}))
	var want, ids []string
	for i := range n {
		want = append(want, "run-"+strconv.Itoa(i))
		ids = append(ids, receive(t, got, 5*time.Second))
	}
	if diff := cmp.Diff(want, ids, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("executed (-want +got):\n%s", diff)
	}
	nothing(t, got, 200*time.Millisecond)
}

// TestCrossConnection publishes through one Queue and consumes through an
// independent one on the external server, with the publisher still open
// and after it was closed.
func TestCrossConnection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		closeA bool
	}{
		{name: "publisher open", closeA: false},
		{name: "publisher closed", closeA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := externalEnv().pair(t)
			stream, prefix := newStream(t, b, true)
			mustPublish(t, a, prefix+"acme", "run-1", []byte("input"), map[string]string{"Tenant": "acme"})
			if tt.closeA {
				if err := a.Close(); err != nil {
					t.Fatalf("close A: %v", err)
				}
			}
			got := make(chan received, 1)
			runWorker(t, newWorker(t, b, ConsumerConfig{Stream: stream, Durable: "runner"}, func(_ context.Context, m Msg) error {
				got <- received{ID: m.ID(), Subject: m.Subject(), Data: string(m.Data()), Tenant: m.Header("Tenant"), Deliveries: m.Deliveries()}
				return nil
			}))
			want := received{ID: "run-1", Subject: prefix + "acme", Data: "input", Tenant: "acme", Deliveries: 1}
			if diff := cmp.Diff(want, receive(t, got, 5*time.Second)); diff != "" {
				t.Errorf("received (-want +got):\n%s", diff)
			}
		})
	}
}
