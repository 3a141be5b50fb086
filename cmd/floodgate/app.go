package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	goredis "github.com/redis/go-redis/v9"

	"github.com/floodgate-dev/floodgate/internal/admission"
	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/ctxwindow"
	"github.com/floodgate-dev/floodgate/internal/degrade"
	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/monitor"
	"github.com/floodgate-dev/floodgate/internal/promptfilter"
	"github.com/floodgate-dev/floodgate/internal/provider"
	"github.com/floodgate-dev/floodgate/internal/queue"
	"github.com/floodgate-dev/floodgate/internal/ratelimit"
	"github.com/floodgate-dev/floodgate/internal/router"
	"github.com/floodgate-dev/floodgate/internal/shop"
	"github.com/floodgate-dev/floodgate/internal/sim"
	"github.com/floodgate-dev/floodgate/internal/tool"
)

// app is floodgate assembled from a configuration: the in-process sim
// endpoints, one provider client per endpoint, the router over them, the
// metrics and the gateway in front.
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	sims    []*simEndpoint
	locals  []*localServer // the sims and the demo shop
	clients []*provider.Client
	router  *router.Router
	metrics *monitor.Metrics
	gateway *gateway.Server

	// What guards execution: rate limits, budgets, admission.
	redis     *goredis.Client // nil without cluster.redis_url
	limiter   *ratelimit.Limiter
	admission *admission.Queue
	ledger    *usageLedger // nil with usage.backend none
	handoff   *handoffDesk // nil without agents
	cluster   *cluster     // nil without cluster.advertise_url

	// The engine and what it runs on; nil when no agent is configured.
	engine *engine.Engine
	store  sessionStore
	queue  *queue.Queue
	tools  *tool.Registry
	worker *queue.Worker
	// summaries folds conversations' older turns into their summaries.
	summaries *queue.Worker
	// promptFilter checks user input (gateway) and tool results (engine);
	// nil when off. Set after the engine is built, before serving.
	promptFilter *promptfilter.Filter
}

// simEndpoint is a sim endpoint of the configuration.
type simEndpoint struct {
	name string
	sim  *sim.Sim
	*localServer
}

// localServer is an HTTP service the app runs on a loopback port of its
// own (a sim endpoint, the demo shop), so that the path to it is the same
// HTTP path as to a real endpoint or API. It stops after the gateway has
// drained, so requests in flight finish against it.
type localServer struct {
	name    string
	ln      net.Listener
	srv     *http.Server
	release func() // before shutdown: frees requests that would hold it up
	close   func() // after shutdown
}

func (a *app) addLocal(name string, ln net.Listener, h http.Handler, release, closeFn func()) *localServer {
	ls := &localServer{name: name, ln: ln, srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, release: release, close: closeFn}
	a.locals = append(a.locals, ls)
	return ls
}

// newApp builds everything cfg describes. shopLn, if not nil, is where the
// demo shop serves (the embedded configuration's tools call it). Nothing
// serves until run; on error, whatever was opened is closed.
func newApp(cfg *config.Config, log *slog.Logger, shopLn net.Listener) (a *app, err error) {
	a = &app{cfg: cfg, log: log, metrics: monitor.New()}
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if shopLn != nil {
		s, err := shop.Open(context.Background(), shop.Config{})
		if err != nil {
			shopLn.Close()
			return nil, fmt.Errorf("demo shop: %w", err)
		}
		a.addLocal("shop", shopLn, s.Handler(), nil, func() { s.Close() })
	}

	prices := map[string]config.Price{}
	for _, m := range cfg.Models {
		prices[m.Name] = m.Price
	}
	var endpoints []router.Endpoint
	for _, e := range cfg.Endpoints {
		pc := provider.Config{
			Name:              e.Name,
			Kind:              e.Type,
			BaseURL:           e.BaseURL,
			APIKey:            e.APIKey,
			APIVersion:        e.APIVersion,
			Headers:           e.Headers,
			ConnectTimeout:    e.Timeouts.Connect,
			FirstTokenTimeout: e.Timeouts.FirstToken,
			TotalTimeout:      e.Timeouts.Total,
		}
		if e.Type == config.EndpointSim {
			s, err := a.startSim(e)
			if err != nil {
				return nil, err
			}
			pc.Kind = provider.KindOpenAI
			pc.BaseURL = "http://" + s.ln.Addr().String() + "/v1"
		}
		client, err := provider.New(pc)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", e.Name, err)
		}
		a.clients = append(a.clients, client)

		re := router.Endpoint{Name: e.Name, Client: client, Weight: e.Weight}
		for _, model := range sortedKeys(e.Models) {
			p := prices[model]
			re.Models = append(re.Models, router.Route{
				Model:    model,
				Upstream: e.Models[model],
				Price:    router.Price{Input: p.Input, CachedInput: p.CachedInput, Output: p.Output},
			})
		}
		endpoints = append(endpoints, re)
	}

	a.router, err = router.New(router.Config{
		Endpoints:   endpoints,
		MaxAttempts: cfg.Router.MaxAttempts,
		RetryBudget: router.RetryBudget{
			Ratio:        cfg.Router.RetryBudget.Ratio,
			MinPerSecond: cfg.Router.RetryBudget.MinPerSecond,
			Window:       cfg.Router.RetryBudget.Window,
		},
		Ejection: router.Ejection{
			ConsecutiveFailures: cfg.Router.Ejection.ConsecutiveFailures,
			BaseCoolDown:        cfg.Router.Ejection.BaseCoolDown,
			MaxCoolDown:         cfg.Router.Ejection.MaxCoolDown,
		},
		Observer: a.metrics,
	})
	if err != nil {
		return nil, err
	}
	a.metrics.WatchTable(a.table)
	if len(cfg.Agents) > 0 {
		if err := a.startEngine(); err != nil {
			return nil, err
		}
	}

	if err := a.startGuard(); err != nil {
		return nil, err
	}
	if err := a.startLedger(); err != nil {
		return nil, err
	}
	filter, err := a.newPromptFilter()
	if err != nil {
		return nil, fmt.Errorf("prompt_filter: %w", err)
	}
	a.promptFilter = filter
	gc := gateway.Config{
		Tiers:          map[string]gateway.Tier{},
		Limiter:        a.limiter,
		Admission:      a.admission,
		Filter:         filter,
		AdminKeys:      cfg.Gateway.AdminKeys,
		ShedAnswer:     cfg.Admission.ShedAnswer,
		MaxBodyBytes:   cfg.Gateway.MaxBodyBytes,
		MaxJSONDepth:   cfg.Gateway.MaxJSONDepth,
		DrainTimeout:   cfg.Gateway.DrainTimeout,
		RequestTimeout: cfg.Gateway.RequestTimeout,
		Logger:         log,
		Observer:       a.metrics,
		UpstreamTime:   upstreamTime,
	}
	for name, t := range cfg.Tiers {
		if gc.Tiers[name], err = gatewayTier(t); err != nil {
			return nil, fmt.Errorf("tiers.%s: %w", name, err)
		}
	}
	for _, t := range cfg.Tenants {
		gc.Tenants = append(gc.Tenants, gatewayTenant(t))
	}
	for _, m := range cfg.Models {
		gc.Models = append(gc.Models, gateway.Model{Name: m.Name, Aliases: m.Aliases,
			Price: gateway.Price{Input: m.Price.Input, CachedInput: m.Price.CachedInput, Output: m.Price.Output}})
	}
	if a.engine != nil {
		gc.Agents = a.engine
	}
	if a.ledger != nil {
		gc.Usage = a.ledger.publisher
	}
	gc.Fallback = a.fallback()
	if err := a.startCluster(&gc); err != nil {
		return nil, err
	}
	a.gateway, err = gateway.New(gc, a.router)
	if err != nil {
		return nil, err
	}
	a.gateway.Handle("GET /metrics", a.metrics.Handler())
	if a.ledger != nil {
		a.gateway.HandleAdmin("GET /admin/usage", &ledger.Handler{Source: a.ledger.db, Logger: log})
	}
	if a.handoff != nil {
		h := a.handoff.svc.Handler()
		a.gateway.HandleAdmin("/admin/handoffs", h)
		a.gateway.HandleAdmin("/admin/handoffs/", h)
	}
	return a, nil
}

// startEngine opens the session store, Q2 and the tools, and builds the
// engine and the worker that runs async runs.
func (a *app) startEngine() error {
	ctx := context.Background()
	var err error
	if a.store, err = openStore(ctx, a.cfg.Sessions); err != nil {
		return err
	}
	if a.queue, err = openQueue(ctx, a.cfg.Queue); err != nil {
		return err
	}
	if a.tools, err = newRegistry(a.cfg, a.metrics); err != nil {
		return err
	}
	if err := a.startHandoff(); err != nil {
		return err
	}
	dm, err := degrade.NewMetrics(a.metrics.Registry())
	if err != nil {
		return err
	}
	var handoffs engine.Handoffs
	if a.handoff != nil {
		handoffs = a.handoff.svc
	}
	cm := ctxwindow.NewMetrics(a.metrics.Registry())
	rm, err := engine.NewRoutingMetrics(a.metrics.Registry())
	if err != nil {
		return err
	}
	a.engine, err = engine.New(engine.Config{
		ContextObserver:     cm,
		ChoiceObserver:      rm,
		Agents:              engineAgents(a.cfg),
		Model:               a.router,
		Sessions:            a.store,
		Tools:               a.tools,
		Publisher:           a.queue,
		Usage:               ledgerUsage{a},
		ToolResultFilter:    a.toolResultFilter(),
		Handoffs:            handoffs,
		DegradeMetrics:      dm,
		WebhookSecret:       []byte(a.cfg.Async.WebhookSecret),
		WebhookAllowPrivate: a.cfg.Async.WebhookAllowPrivate,
		LeaseTTL:            a.cfg.Sessions.LeaseTTL,
		RunAttempts:         runDeliveries,
		Observer:            a.metrics,
		Logger:              a.log,
	})
	if err != nil {
		return err
	}
	a.worker, err = a.queue.Worker(queue.ConsumerConfig{
		Stream: streamRuns, Durable: durableRuns, FilterSubject: engine.SubjectRuns,
		MaxDeliver: runDeliveries,
	}, func(ctx context.Context, m queue.Msg) error {
		return a.engine.HandleRunMessage(ctx, m.Data(), m.Deliveries())
	})
	if err != nil {
		return err
	}
	// Summaries are folded by whichever node's worker takes the job, never
	// on the request path.
	a.summaries, err = a.queue.Worker(queue.ConsumerConfig{
		Stream: streamSummary, Durable: durableSummary, FilterSubject: engine.SubjectSummaries,
		MaxDeliver: runDeliveries,
	}, func(ctx context.Context, m queue.Msg) error {
		return a.engine.HandleSummaryMessage(ctx, m.Data(), m.Deliveries())
	})
	return err
}

// upstreamTime attaches a router trace to the request so that the gateway
// can tell its own overhead from the time spent upstream.
func upstreamTime(ctx context.Context) (context.Context, func() time.Duration) {
	t := new(router.Trace)
	return router.WithTrace(ctx, t), func() time.Duration { return t.UpstreamTime }
}

// inProcessSimMemo bounds the reply memo of each in-process sim.
const inProcessSimMemo = 4 << 20

func (a *app) startSim(e config.Endpoint) (*simEndpoint, error) {
	// In the process the sims serve mostly agents, whose prompts never
	// repeat, so their reply memo would hold memory for nothing.
	sc := sim.Config{Seed: uint64(e.Sim.Seed), TimeScale: *e.Sim.TimeScale, MemoBytes: inProcessSimMemo}
	if e.Sim.RPM > 0 {
		sc.Models = sim.DefaultModels()
		for i := range sc.Models {
			sc.Models[i].RPM = e.Sim.RPM
		}
	}
	if sc.TimeScale == 0 {
		sc.TimeScale = sim.NoDelay
	}
	if w := e.Sim.WanderRate; w != nil {
		sc.WanderRate = *w
		if *w == 0 {
			sc.WanderRate = -1 // the sim's "never"; its 0 means its default
		}
	}
	s, err := sim.New(sc)
	if err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.Name, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("endpoint %s: %w", e.Name, err)
	}
	// Close releases hung requests, which Shutdown would wait for.
	se := &simEndpoint{name: e.Name, sim: s, localServer: a.addLocal("sim "+e.Name, ln, s.Handler(), s.Close, s.Close)}
	a.sims = append(a.sims, se)
	return se, nil
}

// table adapts the router's live table to the monitor's rows.
func (a *app) table() []monitor.Row {
	snap := a.router.Snapshot()
	rows := make([]monitor.Row, len(snap))
	for i, s := range snap {
		rows[i] = monitor.Row{
			Endpoint: s.Endpoint, Model: s.Model,
			Healthy:  s.State != router.StateEjected,
			InFlight: s.InFlight, Latency: s.Latency, TTFT: s.TTFT, ErrorRate: s.ErrorRate,
		}
	}
	return rows
}

// localShutdownGrace bounds the drain of the in-process sims and shop.
const localShutdownGrace = 500 * time.Millisecond

// run serves on ln until ctx is done, then drains the gateway and only then
// stops the local servers, so that requests in flight finish against live
// endpoints and tools.
func (a *app) run(ctx context.Context, ln net.Listener) error {
	defer a.close()
	localCtx, stopLocals := context.WithCancel(context.Background())
	defer stopLocals()
	locals, localsCtx := errgroup.WithContext(localCtx)
	for _, s := range a.locals {
		locals.Go(func() error {
			if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			return nil
		})
		locals.Go(func() error {
			<-localsCtx.Done()
			if s.release != nil {
				s.release()
			}
			// Nothing needs the local servers once the gateway and the
			// background workers have stopped, so the grace is short:
			// net/http counts a connection that never sent a request (a
			// client pool's spare dial) as active for 5 s, which would
			// hold every stop up for that long.
			shutCtx, cancel := context.WithTimeout(context.Background(), localShutdownGrace)
			defer cancel()
			if err := s.srv.Shutdown(shutCtx); errors.Is(err, context.DeadlineExceeded) {
				return s.srv.Close()
			} else if err != nil {
				return fmt.Errorf("%s: shutdown: %w", s.name, err)
			}
			return nil
		})
	}

	// Background parts: the async-run worker, the MCP sessions, the store's
	// reaper. They stop after the gateway has drained and before the local
	// servers, so that runs in flight finish against live tools and models.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	background, backgroundCtx := errgroup.WithContext(bgCtx)
	if a.ledger != nil {
		a.ledger.run(backgroundCtx, background)
	}
	if a.handoff != nil {
		a.handoff.run(backgroundCtx, background)
	}
	if a.engine != nil {
		background.Go(func() error { return a.worker.Run(backgroundCtx) })
		background.Go(func() error { return a.summaries.Run(backgroundCtx) })
		background.Go(func() error { return a.tools.Run(backgroundCtx) })
		if r, ok := a.store.(reaper); ok {
			background.Go(func() error { return r.Run(backgroundCtx) })
		}
	}

	// A part that dies takes the gateway down with it: in-process endpoints
	// or the worker failing is a bug, not an outage to fail over from.
	// A cluster member leaves the ring before the gateway drains.
	gwCtx, stopGateway := context.WithCancel(a.runCluster(ctx))
	defer stopGateway()
	context.AfterFunc(localsCtx, stopGateway)
	context.AfterFunc(backgroundCtx, stopGateway)
	err := a.gateway.Run(gwCtx, ln)
	a.stopCluster()
	stopBackground()
	err = errors.Join(err, ignoreCanceled(background.Wait()))
	stopLocals()
	return errors.Join(err, locals.Wait())
}

// ignoreCanceled drops the context.Canceled that background parts return
// when they are stopped on purpose.
func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func (a *app) close() {
	a.closeGuard()
	a.ledger.close()
	a.handoff.close()
	if a.queue != nil {
		a.queue.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
	for _, c := range a.clients {
		c.Close()
	}
	for _, s := range a.locals {
		s.srv.Close()
		if s.close != nil {
			s.close()
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
