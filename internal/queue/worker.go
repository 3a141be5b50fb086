package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors a Worker reports.
var (
	// ErrMaxDeliver is given to OnDeadLetter for a message that arrived
	// with more than MaxDeliver deliveries: earlier attempts ended without
	// an outcome (a crash, a lost connection, a handler stuck past AckWait
	// with the keep-alive gone), so it is not run again.
	ErrMaxDeliver = errors.New("queue: delivered too many times without an outcome")
	// ErrHandlerPanic wraps the value of a handler's panic.
	ErrHandlerPanic = errors.New("queue: handler panicked")
)

// Defaults for ConsumerConfig.
const (
	DefaultConcurrency  = 4
	DefaultAckWait      = 30 * time.Second
	DefaultMaxDeliver   = 5
	DefaultDrainTimeout = 30 * time.Second
)

// DefaultBackoff is the redelivery delay after a first, second and later
// failure when ConsumerConfig.Backoff is empty. Do not modify it.
var DefaultBackoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second}

const (
	// pullExpiry bounds one pull request; an idle worker renews its pull
	// this often, and a pull lost with a connection is noticed by then.
	pullExpiry = 5 * time.Second
	// cutGrace is how long Run waits, after cancelling the handlers that
	// outlived DrainTimeout, for them to return.
	cutGrace = 5 * time.Second
	// retryMin and retryMax bound the pause between failed pulls.
	retryMin = 100 * time.Millisecond
	retryMax = 5 * time.Second
)

// Handler processes one message. Returning nil acknowledges it; an error
// (or a panic) has it delivered again after the Backoff delay, until
// MaxDeliver. It may run more than once for the same message, also in other
// processes: it must be idempotent on m.ID(). ctx is not cancelled when the
// Worker is stopped, only when the drain deadline passes; a handler bounds
// its own work with its own deadline.
type Handler func(ctx context.Context, m Msg) error

// ConsumerConfig configures a Worker: which durable consumer of which
// stream it pulls from and how it treats failures.
type ConsumerConfig struct {
	// Stream is the stream to consume; required, must exist when Run
	// starts.
	Stream string
	// Durable names the consumer on the server; required. Workers in any
	// process that use the same Stream and Durable share its messages.
	Durable string
	// FilterSubject restricts the consumer to matching subjects; empty means
	// all of the stream's subjects.
	FilterSubject string
	// Concurrency is how many handlers run at once. Default
	// DefaultConcurrency (4).
	Concurrency int
	// AckWait is how long the server waits for an outcome before
	// delivering the message again. While a handler runs the Worker
	// renews it every AckWait/3, so it only expires when the process or
	// its connection died. Default DefaultAckWait (30 s).
	AckWait time.Duration
	// MaxDeliver is how many times a message is attempted. A handler that
	// fails on the last attempt has its message terminated and reported to
	// OnDeadLetter; so has a message that arrives after more deliveries
	// than that ended without an outcome. Default DefaultMaxDeliver (5).
	MaxDeliver int
	// Backoff are the delays before the next delivery after the first,
	// second, … failure of a handler; the last applies to any later
	// failure. Default DefaultBackoff (1 s, 5 s, 30 s).
	Backoff []time.Duration
	// DrainTimeout is how long Run, once its ctx is done, lets running
	// handlers finish before cancelling their context. Default
	// DefaultDrainTimeout (30 s).
	DrainTimeout time.Duration
	// OnDeadLetter is called, from the handler's goroutine, with each
	// message given up on and the last error; the message is already
	// terminated and will not be delivered again. Nil logs it at error
	// level.
	OnDeadLetter func(m Msg, err error)
}

func (c *ConsumerConfig) normalise() error {
	if err := checkName("stream name", c.Stream); err != nil {
		return err
	}
	if err := checkName("durable name", c.Durable); err != nil {
		return err
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if len(c.Backoff) == 0 {
		c.Backoff = DefaultBackoff
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	switch {
	case c.Concurrency < 0:
		return fmt.Errorf("%w: concurrency %d", ErrInvalidConfig, c.Concurrency)
	case c.AckWait < 3*time.Millisecond:
		return fmt.Errorf("%w: ack wait %s", ErrInvalidConfig, c.AckWait)
	case c.MaxDeliver < 0:
		return fmt.Errorf("%w: max deliver %d", ErrInvalidConfig, c.MaxDeliver)
	case c.DrainTimeout < 0:
		return fmt.Errorf("%w: drain timeout %s", ErrInvalidConfig, c.DrainTimeout)
	}
	for _, d := range c.Backoff {
		if d < 0 {
			return fmt.Errorf("%w: negative backoff %s", ErrInvalidConfig, d)
		}
	}
	// The caller's slice must not change under a running worker.
	c.Backoff = append([]time.Duration(nil), c.Backoff...)
	return nil
}

// Worker runs a Handler on the messages of one durable pull consumer. Create
// it with Queue.Worker, run it with Run; it must not be copied.
type Worker struct {
	q   *Queue
	cfg ConsumerConfig
	h   Handler
	log *slog.Logger

	// free holds the indexes of idle handler slots: the pull loop asks the
	// server for as many messages as it took, and a handler puts its
	// slot back as its last act, so Run knows all handlers returned when
	// it holds every slot again.
	free chan int
	// inflight[i] is the message handler slot i is working on, for the
	// keep-alive loop.
	inflight []atomic.Pointer[inflight]
	running  atomic.Bool
}

type inflight struct {
	m jetstream.Msg
	// touched is when the server last heard of the message; written at
	// creation, then only by the keep-alive loop.
	touched time.Time
}

// Worker validates cfg, fills in its defaults and returns a Worker for h.
// It does no I/O: Run creates or updates the consumer.
func (q *Queue) Worker(cfg ConsumerConfig, h Handler) (*Worker, error) {
	if q.closed.Load() {
		return nil, ErrClosed
	}
	if h == nil {
		return nil, fmt.Errorf("%w: nil handler", ErrInvalidConfig)
	}
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	w := &Worker{
		q:        q,
		cfg:      cfg,
		h:        h,
		log:      q.log.With(slog.String("stream", cfg.Stream), slog.String("consumer", cfg.Durable)),
		free:     make(chan int, cfg.Concurrency),
		inflight: make([]atomic.Pointer[inflight], cfg.Concurrency),
	}
	for i := range cfg.Concurrency {
		w.free <- i
	}
	return w, nil
}

// Run creates or updates the durable consumer, then pulls messages and runs
// the handler on them until ctx is done: a nil result acknowledges the
// message, an error or panic (logged with its stack) has it redelivered
// after the Backoff delay, the last failure dead-letters it. Pull errors
// (a lost connection, a deleted consumer) are logged and retried.
//
// When ctx is done Run stops pulling, gives back at once the messages it
// had not started, and waits for running handlers; after DrainTimeout it
// cancels their context, and their failures are given back for immediate
// redelivery elsewhere. It returns nil after a clean drain, an error if
// handlers had to be cancelled, ErrClosed if the Queue was closed under
// it, and the consumer's error if it could not be set up. Run may be
// called once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("queue: Worker.Run called twice")
	}
	if w.q.closed.Load() {
		return ErrClosed
	}
	cons, err := w.ensureConsumer(ctx)
	if err != nil {
		return err
	}

	// Handlers outlive ctx while they drain; hctx is cancelled only to cut
	// them.
	hctx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	pullCtx, stopPull := context.WithCancel(ctx)
	defer stopPull()
	stopOnClose := context.AfterFunc(w.q.done, stopPull)
	defer stopOnClose()

	kaStop, kaDone := make(chan struct{}), make(chan struct{})
	go w.keepAlive(kaStop, kaDone)
	defer func() {
		close(kaStop)
		<-kaDone
	}()

	perr := w.pull(pullCtx, hctx, cons)
	return errors.Join(perr, w.drain(cut))
}

func (w *Worker) ensureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	cons, err := w.q.js.CreateOrUpdateConsumer(ctx, w.cfg.Stream, jetstream.ConsumerConfig{
		Durable:       w.cfg.Durable,
		FilterSubject: w.cfg.FilterSubject,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       w.cfg.AckWait,
		// One delivery beyond MaxDeliver lets the worker see a message
		// whose attempts all ended without an outcome, and dead-letter it
		// instead of the server silently giving up on it.
		MaxDeliver: w.cfg.MaxDeliver + 1,
	})
	if err != nil {
		return nil, fmt.Errorf("queue: consumer %s on %s: %w", w.cfg.Durable, w.cfg.Stream, err)
	}
	return cons, nil
}

// pull asks for as many messages as there are free slots and starts a
// handler on each, until ctx is done (nil) or the connection is closed
// (ErrClosed).
func (w *Worker) pull(ctx, hctx context.Context, cons jetstream.Consumer) error {
	slots := make([]int, 0, w.cfg.Concurrency)
	pause := retryMin
	for {
		select {
		case <-ctx.Done():
			return w.stopReason()
		case s := <-w.free:
			slots = append(slots[:0], s)
		}
	more:
		for len(slots) < cap(slots) {
			select {
			case s := <-w.free:
				slots = append(slots, s)
			default:
				break more
			}
		}
		used, err := w.fetch(ctx, hctx, cons, slots)
		for _, s := range slots[used:] {
			w.free <- s
		}
		if err == nil {
			pause = retryMin
			continue
		}
		if ctx.Err() != nil {
			return w.stopReason()
		}
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionDraining) {
			return ErrClosed
		}
		w.log.LogAttrs(ctx, slog.LevelWarn, "queue: pull failed", slog.Any("error", err), slog.Duration("retry_in", pause))
		if !sleep(ctx, pause) {
			return w.stopReason()
		}
		pause = min(2*pause, retryMax)
		// The consumer may have been deleted, or the stream recreated.
		if c, err := w.ensureConsumer(ctx); err == nil {
			cons = c
		} else if ctx.Err() == nil {
			w.log.LogAttrs(ctx, slog.LevelWarn, "queue: consumer set-up failed", slog.Any("error", err))
		}
	}
}

// stopReason tells a stop by the Run context (nil) from one by Close.
func (w *Worker) stopReason() error {
	if w.q.isClosed() {
		return ErrClosed
	}
	return nil
}

// fetch pulls up to len(slots) messages and starts a handler for each on
// the next slot; it returns how many slots it used.
func (w *Worker) fetch(ctx, hctx context.Context, cons jetstream.Consumer, slots []int) (int, error) {
	fctx, cancel := context.WithTimeout(ctx, pullExpiry)
	defer cancel()
	batch, err := cons.Fetch(len(slots), jetstream.FetchContext(fctx))
	if err != nil {
		return 0, err
	}
	used := 0
	for jm := range batch.Messages() {
		if ctx.Err() != nil {
			// Arrived as the worker stopped: another worker may take it now.
			_ = jm.Nak()
			continue
		}
		slot := slots[used]
		used++
		go w.handle(hctx, slot, jm)
	}
	err = batch.Error()
	if ctx.Err() != nil || (errors.Is(err, context.DeadlineExceeded) && fctx.Err() != nil) {
		// The pull ended on our own expiry or stop, not on a failure.
		err = nil
	}
	return used, err
}

// handle runs the handler on one message and settles it with the server.
func (w *Worker) handle(ctx context.Context, slot int, jm jetstream.Msg) {
	defer func() { w.free <- slot }()
	m := newMessage(jm)
	if m.deliveries > w.cfg.MaxDeliver {
		w.deadLetter(m, fmt.Errorf("%w: %d deliveries", ErrMaxDeliver, m.deliveries))
		return
	}
	w.inflight[slot].Store(&inflight{m: jm, touched: time.Now()})
	err := w.call(ctx, m)
	w.inflight[slot].Store(nil)

	var settle error
	switch {
	case err == nil:
		settle = jm.Ack()
	case ctx.Err() != nil:
		// Cut by shutdown: not the message's fault, hand it on at once.
		w.log.LogAttrs(ctx, slog.LevelWarn, "queue: handler cut by shutdown", slog.String("id", m.id), slog.Any("error", err))
		settle = jm.Nak()
	case m.deliveries >= w.cfg.MaxDeliver:
		w.deadLetter(m, err)
		return
	default:
		delay := w.cfg.Backoff[min(m.deliveries, len(w.cfg.Backoff))-1]
		w.log.LogAttrs(ctx, slog.LevelWarn, "queue: handler failed",
			slog.String("id", m.id), slog.String("subject", jm.Subject()),
			slog.Int("deliveries", m.deliveries), slog.Duration("retry_in", delay), slog.Any("error", err))
		settle = jm.NakWithDelay(delay)
	}
	if settle != nil {
		w.log.LogAttrs(ctx, slog.LevelWarn, "queue: settle failed; the message will be delivered again",
			slog.String("id", m.id), slog.Any("error", settle))
	}
}

// call runs the handler, turning a panic into an error.
func (w *Worker) call(ctx context.Context, m *message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log.LogAttrs(ctx, slog.LevelError, "queue: handler panicked",
				slog.String("id", m.id), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("%w: %v", ErrHandlerPanic, r)
		}
	}()
	return w.h(ctx, m)
}

// deadLetter terminates m so it is never delivered again and reports it.
func (w *Worker) deadLetter(m *message, err error) {
	if terr := m.jm.Term(); terr != nil {
		w.log.LogAttrs(context.Background(), slog.LevelWarn, "queue: terminate failed; the message will be delivered again",
			slog.String("id", m.id), slog.Any("error", terr))
		return
	}
	if w.cfg.OnDeadLetter == nil {
		w.log.LogAttrs(context.Background(), slog.LevelError, "queue: message dead-lettered",
			slog.String("id", m.id), slog.String("subject", m.jm.Subject()), slog.Int("deliveries", m.deliveries), slog.Any("error", err))
		return
	}
	defer func() {
		if r := recover(); r != nil {
			w.log.LogAttrs(context.Background(), slog.LevelError, "queue: OnDeadLetter panicked",
				slog.String("id", m.id), slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	w.cfg.OnDeadLetter(m, err)
}

// keepAlive renews the ack timer of every message whose handler has been
// running for a while, so that only a dead process lets AckWait expire.
func (w *Worker) keepAlive(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	period := w.cfg.AckWait / 3
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			w.touch(now, period/2)
		}
	}
}

// touch sends InProgress for messages not heard of for at least age; with
// ticks every AckWait/3 no message goes unheard of for more than AckWait/2.
func (w *Worker) touch(now time.Time, age time.Duration) {
	defer func() {
		if r := recover(); r != nil {
			w.log.LogAttrs(context.Background(), slog.LevelError, "queue: keep-alive panicked",
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
	}()
	for i := range w.inflight {
		f := w.inflight[i].Load()
		if f == nil || now.Sub(f.touched) < age {
			continue
		}
		f.touched = now
		if err := f.m.InProgress(); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			w.log.LogAttrs(context.Background(), slog.LevelWarn, "queue: keep-alive failed", slog.Any("error", err))
		}
	}
}

// drain waits for every handler to return: DrainTimeout, then cut and a
// grace period.
func (w *Worker) drain(cut context.CancelFunc) error {
	n := w.cfg.Concurrency
	got := 0
	deadline := time.NewTimer(w.cfg.DrainTimeout)
	defer deadline.Stop()
wait:
	for got < n {
		select {
		case <-w.free:
			got++
		case <-deadline.C:
			break wait
		}
	}
	if got == n {
		return nil
	}
	cutN := n - got
	w.log.LogAttrs(context.Background(), slog.LevelWarn, "queue: cancelling handlers after drain timeout",
		slog.Int("running", cutN), slog.Duration("timeout", w.cfg.DrainTimeout))
	cut()
	grace := time.NewTimer(cutGrace)
	defer grace.Stop()
	for got < n {
		select {
		case <-w.free:
			got++
		case <-grace.C:
			// Their messages are redelivered once AckWait passes without
			// the keep-alive.
			return fmt.Errorf("queue: drain: %d handlers ignored cancellation and were abandoned", n-got)
		}
	}
	return fmt.Errorf("queue: drain: cancelled %d handlers after %s", cutN, w.cfg.DrainTimeout)
}

// sleep waits d or until ctx is done, reporting whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
