package load

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Run drives cfg.Target with the load cfg describes and returns what it
// measured. It returns an error wrapping ErrConfig, and no report, for a
// config it cannot run; failed requests are never an error of Run, they are
// counted in the report.
//
// After the measured window no request starts; Run waits for those in
// flight, each at most Config.Timeout, and records them. When ctx is
// cancelled, Run stops at once: no new request starts, requests
// in flight are abandoned (counted in Report.Canceled) and the partial report
// is returned with Interrupted set and a nil error.
//
// Each run has its own connection pool, closed before Run returns. Run may
// be called concurrently with different configs.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	r, err := newRun(cfg)
	if err != nil {
		return nil, err
	}
	defer r.transport.CloseIdleConnections()
	return r.run(ctx), nil
}

// run is the state of one Run shared by its goroutines.
type run struct {
	cfg       *Config
	transport *http.Transport
	client    *client
	rec       *recorder
	keys      *keyPicker    // nil without Config.Keys
	seq       atomic.Uint64 // closed loop: next sequence number

	workersMu sync.Mutex
	workers   []*worker // for the watchdog

	// Set when the run starts.
	start        time.Time // first scheduled start, warmup included
	measureStart time.Time
	end          time.Time // no start at or after it
}

func newRun(cfg Config) (*run, error) {
	cfg, u, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	cfg.Scenario = cfg.scenario()
	conns, shards := cfg.Concurrency, cfg.Concurrency
	if cfg.Rate > 0 {
		conns, shards = max(cfg.Concurrency, cfg.MaxInFlight), maxShards
	}
	tr := newTransport(conns, cfg.Timeout)
	return &run{
		cfg: &cfg, transport: tr, client: newClient(&cfg, u, tr),
		rec: newRecorder(shards, cfg.Stream, cfg.Keys), keys: newKeyPicker(cfg.Keys, cfg.Seed),
	}, nil
}

func (r *run) run(ctx context.Context) *Report {
	cfg := r.cfg
	r.start = cfg.Now()
	r.measureStart = r.start.Add(cfg.Warmup)
	r.end = r.measureStart.Add(cfg.Duration)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { r.collect(stop) })
	wg.Go(func() { r.watch(stop) })

	if cfg.Rate > 0 {
		r.openLoop(ctx)
	} else {
		r.closedLoop(ctx)
	}
	// The measured window ends at the last scheduled start, or when ctx was
	// cancelled; answers still arriving after it are recorded but do not
	// lengthen it.
	stopped := r.end
	if now := cfg.Now(); ctx.Err() != nil && now.Before(r.end) {
		stopped = now
	}
	close(stop)
	wg.Wait()
	for _, w := range r.workers {
		w.stop()
	}

	rep := &Report{
		Target:      cfg.Target,
		Mode:        cfg.mode(),
		Rate:        cfg.Rate,
		Concurrency: cfg.Concurrency,
		Stream:      cfg.Stream,
		Started:     r.measureStart,
		Duration:    toSeconds(max(stopped.Sub(r.measureStart), 0)),
		Interrupted: ctx.Err() != nil,
	}
	r.rec.fill(rep)
	if rep.Duration > 0 {
		rep.Throughput = float64(rep.OK) / float64(rep.Duration)
	}
	return rep
}

// closedLoop runs cfg.Concurrency workers, each sending back to back until
// the end of the window, and waits for them.
func (r *run) closedLoop(ctx context.Context) {
	var wg sync.WaitGroup
	for id := range r.cfg.Concurrency {
		wg.Go(func() {
			w := r.newWorker(id)
			for ctx.Err() == nil {
				t := r.cfg.Now()
				if !t.Before(r.end) {
					return
				}
				r.rec.inflight.Add(1)
				r.exec(ctx, w, r.seq.Add(1)-1, t, t)
			}
		})
	}
	wg.Wait()
}

// job is one open-loop start handed to an executor.
type job struct {
	at  time.Time
	seq uint64
}

// openLoop starts requests at start + i/Rate from this goroutine alone. Each
// start goes to an idle executor, or to a new one when all are busy, up to
// MaxInFlight: beyond it the start is dropped. Executors live until the
// schedule ends, so the pool settles at the concurrency the target needs.
func (r *run) openLoop(ctx context.Context) {
	interval := float64(time.Second) / r.cfg.Rate
	limit := int64(r.cfg.MaxInFlight)
	jobs := make(chan job)
	var wg sync.WaitGroup
	executors := 0
	spawn := func(first job) {
		id := executors
		executors++
		wg.Go(func() {
			w := r.newWorker(id)
			r.exec(ctx, w, first.seq, first.at, r.cfg.Now())
			for j := range jobs {
				r.exec(ctx, w, j.seq, j.at, r.cfg.Now())
			}
		})
	}
	p := newPacer()
	defer func() {
		close(jobs)
		wg.Wait()
		p.close()
	}()

	for i := uint64(0); ; i++ {
		at := r.start.Add(time.Duration(float64(i) * interval))
		if !at.Before(r.end) {
			return
		}
		if p.waitUntil(ctx, r.cfg.Now, at) != nil {
			return
		}
		measured := !at.Before(r.measureStart)
		if r.rec.inflight.Load() >= limit {
			if measured {
				r.rec.dropped.Add(1)
			}
			continue
		}
		j := job{at: at, seq: i}
		r.rec.inflight.Add(1)
		select {
		case jobs <- j:
			continue
		default:
		}
		if int64(executors) < limit {
			spawn(j)
			continue
		}
		// Every executor is busy although fewer than limit requests are in
		// flight: one is between two requests and about to take this one.
		select {
		case jobs <- j:
		case <-ctx.Done():
			r.rec.inflight.Add(-1)
			return
		}
	}
}

// newWorker makes worker id and registers it with the watchdog.
func (r *run) newWorker(id int) *worker {
	w := newWorker(r.client, id, r.rec.shard(id))
	r.workersMu.Lock()
	r.workers = append(r.workers, w)
	r.workersMu.Unlock()
	return w
}

// exec sends one request that was due at start, sent at now, and records it
// when start lies in the measured window. The caller has counted it in
// flight.
func (r *run) exec(ctx context.Context, w *worker, seq uint64, start, now time.Time) {
	req := r.cfg.Scenario.Next(w.id, seq)
	key, tmpl := -1, 0
	if r.keys != nil {
		key = r.keys.pick(seq)
		tmpl = key
	}
	measured := !start.Before(r.measureStart)
	if measured {
		r.rec.sent.Add(1)
	}
	o := w.do(ctx, tmpl, req.Body, start, now)
	r.rec.inflight.Add(-1)
	if measured {
		w.shard.record(req.Label, key, &o)
	}
}

// watch cancels requests that have run past Config.Timeout, checking every
// sixteenth of it (between 1ms and 100ms), until stop is closed.
func (r *run) watch(stop <-chan struct{}) {
	t := time.NewTicker(min(max(r.cfg.Timeout/16, time.Millisecond), 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			now := r.cfg.Now()
			r.workersMu.Lock()
			for _, w := range r.workers {
				w.expire(now)
			}
			r.workersMu.Unlock()
		case <-stop:
			return
		}
	}
}

// collect flushes the recorder and writes the progress line every interval
// until stop is closed, then flushes once more. It runs on its own goroutine,
// the only one that touches the recorder's totals while workers run.
func (r *run) collect(stop <-chan struct{}) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	last := r.cfg.Now()
	var lastOK int64
	tick := func() {
		now := r.cfg.Now()
		r.rec.flush(now, r.measureStart)
		if w := r.cfg.Progress; w != nil {
			r.rec.progress(w, now.Sub(r.start), now.Sub(last), r.rec.ok-lastOK, now.Before(r.measureStart))
		}
		last, lastOK = now, r.rec.ok
	}
	for {
		select {
		case <-t.C:
			tick()
		case <-stop:
			tick()
			if r.cfg.Progress != nil {
				_, _ = r.cfg.Progress.Write([]byte{'\n'})
			}
			return
		}
	}
}
