package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/queue"
)

// ledger stands for the store a real handler writes to: the effect (a
// refund) and the ID of the message that caused it are written in one
// transaction, so a second delivery of the message finds its ID and does
// nothing.
type ledger struct {
	mu      sync.Mutex
	applied map[string]bool // message IDs already applied
	refunds int
}

// refund applies a refund once per message ID and reports whether it did.
func (l *ledger) refund(msgID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.applied[msgID] {
		return false
	}
	l.applied[msgID] = true
	l.refunds++
	return true
}

// Example_idempotent shows the handler pattern at-least-once delivery asks
// for. The publish is retried (the client never saw the first ack) and the
// first attempt loses its ack after the effect happened; the refund is
// still made exactly once.
func Example_idempotent() {
	dir, err := os.MkdirTemp("", "queue-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	q, err := queue.Open(ctx, queue.Config{DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	defer q.Close()
	if err := q.EnsureStream(ctx, queue.StreamConfig{Name: "REFUNDS", Subjects: []string{"refunds.>"}, WorkQueue: true}); err != nil {
		panic(err)
	}

	l := &ledger{applied: map[string]bool{}}
	var lostAck atomic.Bool
	done := make(chan int, 1)
	w, err := q.Worker(queue.ConsumerConfig{Stream: "REFUNDS", Durable: "refunder", Backoff: []time.Duration{10 * time.Millisecond}},
		func(ctx context.Context, m queue.Msg) error {
			l.refund(m.ID())
			if lostAck.CompareAndSwap(false, true) {
				// The effect happened but the ack never reaches the server.
				return errors.New("connection lost before the ack")
			}
			done <- m.Deliveries()
			return nil
		})
	if err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(runCtx) }()

	for range 2 {
		if err := q.Publish(ctx, "refunds.acme", "refund-order-100001", []byte(`{"order":100001}`), nil); err != nil {
			panic(err)
		}
	}
	deliveries := <-done
	stop()
	if err := <-stopped; err != nil {
		panic(err)
	}
	fmt.Printf("%d refund after %d deliveries\n", l.refunds, deliveries)
	// Output: 1 refund after 2 deliveries
}
