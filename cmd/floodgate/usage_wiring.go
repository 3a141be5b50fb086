package main

import (
	"context"
	"fmt"
	"time"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/router"
)

// usageLedger is the usage ledger as serve runs it: records published off
// the request path to Q2, and a writer from Q2 into the database.
type usageLedger struct {
	db        *ledger.DB
	publisher *ledger.Publisher
	writer    *ledger.Writer
}

// startLedger opens the ledger's database and builds its publisher and
// writer on the app's queue (opening Q2 when the engine has not).
func (a *app) startLedger() error {
	uc := a.cfg.Usage
	if uc.Backend == config.UsageNone {
		return nil
	}
	ctx := context.Background()
	if a.queue == nil {
		var err error
		if a.queue, err = openQueue(ctx, a.cfg.Queue); err != nil {
			return err
		}
	}
	if err := a.queue.EnsureStream(ctx, ledger.StreamConfig()); err != nil {
		return err
	}
	lc := ledger.Config{Logger: a.log}
	if uc.Backend == config.StorePostgres {
		lc.PostgresDSN = uc.PostgresDSN
	} else {
		lc.Path = uc.Path // ledger.Open creates its directory
	}
	db, err := ledger.Open(ctx, lc)
	if err != nil {
		return fmt.Errorf("usage: %w", err)
	}
	l := &usageLedger{db: db}
	a.ledger = l
	m, err := ledger.NewMetrics(a.metrics.Registry())
	if err != nil {
		return err
	}
	if l.publisher, err = ledger.NewPublisher(a.queue, ledger.PublisherConfig{Observer: m, Logger: a.log}); err != nil {
		return err
	}
	l.writer, err = ledger.NewWriter(a.queue, db, ledger.WriterConfig{Observer: m, Logger: a.log})
	return err
}

// run runs the publisher and the writer until ctx is done.
func (l *usageLedger) run(ctx context.Context, g interface{ Go(func() error) }) {
	g.Go(func() error { return l.publisher.Run(ctx) })
	g.Go(func() error { return l.writer.Run(ctx) })
}

func (l *usageLedger) close() {
	if l != nil && l.db != nil {
		l.db.Close()
	}
}

// intentPromptGuard marks the prompt filter's guard-model calls in usage
// records, beside the engine's summary and intent_classification.
const intentPromptGuard = "prompt_guard"

// guardUsage is the prompt filter's guard model: the router, with one
// usage record per call charged to the tenant whose text was judged (the
// gateway's identity on the context), so that the filter's own model
// calls show in the ledger like every other.
type guardUsage struct{ a *app }

func (g guardUsage) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	tr := &router.Trace{}
	t0 := time.Now()
	resp, err := g.a.router.Complete(router.WithTrace(ctx, tr), req)
	l := g.a.ledger
	if l == nil || l.publisher == nil {
		return resp, err
	}
	rec := ledger.Record{Kind: ledger.KindCall, At: t0, Intent: intentPromptGuard, Model: tr.ModelOf(req),
		Endpoint: tr.Endpoint, Cost: ledger.Dollars(tr.Cost), Latency: time.Since(t0)}
	if id, ok := gateway.TenantFrom(ctx); ok {
		rec.Tenant, rec.Tier = id.Tenant, id.Tier
	}
	rec.SetUsage(tr.UsageOf(resp))
	rec.SetError(err)
	l.publisher.Publish(&rec)
	return resp, err
}
