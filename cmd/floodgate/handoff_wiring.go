package main

import (
	"context"
	"fmt"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/degrade"
	"github.com/floodgate-dev/floodgate/internal/handoff"
	"github.com/floodgate-dev/floodgate/internal/queue"
)

// handoffDesk is the human handoff service as serve runs it: tickets in
// SQLite or PostgreSQL, their events on Q2, and the worker that posts them
// to the help desk's webhook.
type handoffDesk struct {
	store  *handoff.SQLStore
	svc    *handoff.Service
	worker *queue.Worker
}

// startHandoff opens the tickets' store and builds the service and its
// webhook worker on the app's queue. Agents must be configured (the
// engine's queue is Q2).
func (a *app) startHandoff() error {
	if a.queue == nil {
		return nil
	}
	ctx := context.Background()
	hc := a.cfg.Handoff
	var store *handoff.SQLStore
	var err error
	if hc.Backend == config.StorePostgres {
		store, err = handoff.OpenPostgres(ctx, handoff.PostgresConfig{DSN: hc.PostgresDSN})
	} else { // OpenSQLite creates the file's directory
		store, err = handoff.OpenSQLite(ctx, handoff.SQLiteConfig{Path: hc.Path})
	}
	if err != nil {
		return fmt.Errorf("handoff: %w", err)
	}
	d := &handoffDesk{store: store}
	a.handoff = d
	d.svc, err = handoff.New(handoff.Config{
		Store: store, Queue: a.queue, WebhookURL: hc.WebhookURL, WebhookSecret: []byte(hc.WebhookSecret), Logger: a.log,
		Acks: degrade.HandoffAcks,
	})
	if err != nil {
		return fmt.Errorf("handoff: %w", err)
	}
	if err := a.queue.EnsureStream(ctx, d.svc.StreamConfig("")); err != nil {
		return err
	}
	d.worker, err = a.queue.Worker(d.svc.ConsumerConfig(""), d.svc.HandleMessage)
	return err
}

// run runs the webhook worker and the service's sweeper until ctx is done.
func (d *handoffDesk) run(ctx context.Context, g interface{ Go(func() error) }) {
	g.Go(func() error { return d.worker.Run(ctx) })
	g.Go(func() error { return d.svc.Run(ctx) })
}

func (d *handoffDesk) close() {
	if d != nil && d.store != nil {
		d.store.Close()
	}
}
