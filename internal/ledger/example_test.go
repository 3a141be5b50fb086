package ledger_test

import (
	"context"
	"log"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/queue"
)

// Example shows the wiring of a node: Q2's stream, the database, the
// Writer and the Publisher, owned by one errgroup; then what the request
// path does per model call and per run.
func Example() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	q, err := queue.Open(ctx, queue.Config{}) // or URL: a NATS cluster
	if err != nil {
		log.Fatal(err)
	}
	defer q.Close()
	if err := q.EnsureStream(ctx, ledger.StreamConfig()); err != nil {
		log.Fatal(err)
	}
	// SQLite by default; PostgresDSN: "postgres://…" for PostgreSQL.
	db, err := ledger.Open(ctx, ledger.Config{Path: "floodgate-data/ledger.db"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	metrics, err := ledger.NewMetrics(prometheus.NewRegistry()) // monitor.Metrics.Registry()
	if err != nil {
		log.Fatal(err)
	}
	w, err := ledger.NewWriter(q, db, ledger.WriterConfig{Observer: metrics})
	if err != nil {
		log.Fatal(err)
	}
	pub, err := ledger.NewPublisher(q, ledger.PublisherConfig{Observer: metrics})
	if err != nil {
		log.Fatal(err)
	}
	var g errgroup.Group
	g.Go(func() error { return w.Run(ctx) })
	g.Go(func() error { return pub.Run(ctx) })

	// On the request path, after each model call of run "run_42":
	call := ledger.Record{Kind: ledger.KindCall, RunID: "run_42", Call: 1, At: time.Now(),
		Tenant: "acme", Tier: "free", UserID: "u-7", SessionID: "s-1", Agent: "support", Intent: "order_status",
		Model: "small", Endpoint: "openai-east", Latency: 420 * time.Millisecond,
		Cost: ledger.Dollars(0.000195)} // router.Trace.Cost
	// call.SetUsage(trace.Usage); call.SetError(err)
	pub.Publish(&call)
	// … and once per run, when it ends:
	pub.Publish(&ledger.Record{Kind: ledger.KindRun, RunID: "run_42", Agent: "support", Status: "completed"})

	stop()
	if err := g.Wait(); err != nil {
		log.Print(err)
	}
}
