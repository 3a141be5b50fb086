package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/queue"
)

// Defaults for WriterConfig and the ledger's stream.
const (
	// DefaultStream names the Q2 stream that holds usage records.
	DefaultStream       = "FLOODGATE_LEDGER"
	DefaultDurable      = "floodgate-ledger"
	DefaultConcurrency  = 4
	DefaultWriteTimeout = 10 * time.Second
	DefaultAckWait      = 10 * time.Second
	DefaultRetryMax     = 5 * time.Second
	// DefaultMaxAge is how long the stream keeps a record the Writer has
	// not written: the longest database outage the ledger survives.
	DefaultMaxAge = 7 * 24 * time.Hour
)

// StreamConfig is the Q2 stream usage records travel through: a work
// queue (a record leaves it once written) on Subject, kept up to
// DefaultMaxAge. Every process calls Queue.EnsureStream with it at start.
func StreamConfig() queue.StreamConfig {
	return queue.StreamConfig{Name: DefaultStream, Subjects: []string{Subject}, WorkQueue: true, MaxAge: DefaultMaxAge}
}

// writerMaxDeliver is the consumer's MaxDeliver: a message is only
// delivered again when a Writer stopped (or died) holding it, since a
// Writer retries a database outage in place; giving up on a message would
// delete it from the work queue, so it practically never happens.
const writerMaxDeliver = 1_000_000

// WriterConfig configures a Writer. The zero value is usable.
type WriterConfig struct {
	// Stream is the Q2 stream holding Subject; it must exist when Run
	// starts. Default DefaultStream.
	Stream string
	// Durable names the consumer; Writers on every node share it and so
	// share the records. Default DefaultDurable.
	Durable string
	// Concurrency is how many messages (batches) are written at once.
	// Default DefaultConcurrency (4).
	Concurrency int
	// WriteTimeout bounds one write attempt; a slow or hung database
	// counts as down. Default DefaultWriteTimeout (10 s).
	WriteTimeout time.Duration
	// AckWait is how long Q2 waits before handing a message a Writer
	// took but never settled (its process died, or the message reached a
	// pull it had just abandoned) to another Writer. While a write runs,
	// the Writer renews it every AckWait/3, so it bounds nothing else.
	// Default DefaultAckWait (10 s).
	AckWait time.Duration
	// RetryMax is the longest pause between write attempts while the
	// database is down (pauses start at 50 ms and double). Default
	// DefaultRetryMax (5 s).
	RetryMax time.Duration
	// DrainTimeout is how long Run, once its ctx is done, lets writes in
	// progress finish. Default 10 s.
	DrainTimeout time.Duration
	// Observer receives record outcomes. Nil observes nothing.
	Observer Observer
	// Logger receives write failures and rejected records. Default
	// slog.Default().
	Logger *slog.Logger
}

func (c *WriterConfig) normalise() error {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Concurrency < 0 || c.WriteTimeout < 0 || c.RetryMax < 0 || c.DrainTimeout < 0 || c.AckWait < 0 {
		return fmt.Errorf("%w: negative writer setting", ErrInvalidConfig)
	}
	return nil
}

// Writer consumes usage records from Q2 and writes them to the DB: one
// transaction per message (a Publisher's batch), acknowledged only after
// it committed. While the database is down or hung, each handler retries
// its batch in place with a capped back-off, holding the message (the
// queue keeps its ack timer alive) and pulling nothing new, so records
// wait in Q2, durably, for as long as the stream keeps them. Records
// already stored are skipped, so a redelivered message is harmless.
// Create it with NewWriter; it must not be copied.
type Writer struct {
	cfg WriterConfig
	db  *DB
	w   *queue.Worker
	// stop is Run's context: a handler waiting out an outage gives its
	// message back when it ends.
	stop atomic.Pointer[context.Context]

	written, duplicates, rejected, retries atomic.Int64
}

// WriterStats counts a Writer's records since it was created.
type WriterStats struct {
	// Written records were new and are stored.
	Written int64
	// Duplicates were delivered again and were already stored.
	Duplicates int64
	// Rejected records were invalid or refused by the database for their
	// content; they are logged and never stored.
	Rejected int64
	// Retries counts failed write attempts.
	Retries int64
}

// NewWriter returns a Writer from q's stream to db. It does no I/O.
func NewWriter(q *queue.Queue, db *DB, cfg WriterConfig) (*Writer, error) {
	if q == nil || db == nil {
		return nil, fmt.Errorf("%w: writer needs a queue and a database", ErrInvalidConfig)
	}
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	w := &Writer{cfg: cfg, db: db}
	worker, err := q.Worker(queue.ConsumerConfig{
		Stream:        cfg.Stream,
		Durable:       cfg.Durable,
		FilterSubject: Subject,
		Concurrency:   cfg.Concurrency,
		AckWait:       cfg.AckWait,
		MaxDeliver:    writerMaxDeliver,
		// A message comes back only from a stopped Writer: at once.
		Backoff:      []time.Duration{100 * time.Millisecond, time.Second},
		DrainTimeout: cfg.DrainTimeout,
		OnDeadLetter: func(m queue.Msg, err error) {
			cfg.Logger.LogAttrs(context.Background(), slog.LevelError, "ledger: usage records given up on",
				slog.String("msg_id", m.ID()), slog.Int("deliveries", m.Deliveries()), slog.Any("error", err))
			cfg.Observer.Records(OutcomeRejected, 1)
		},
	}, w.handle)
	if err != nil {
		return nil, err
	}
	w.w = worker
	return w, nil
}

// Run writes records until ctx is done, then lets the writes in progress
// finish (up to DrainTimeout) and returns; batches waiting out an outage
// are given back to Q2 at once. See queue.Worker.Run for its errors. Run
// may be called once.
func (w *Writer) Run(ctx context.Context) error {
	w.stop.Store(&ctx)
	return w.w.Run(ctx)
}

// Stats returns the Writer's counters. Safe for concurrent use.
func (w *Writer) Stats() WriterStats {
	return WriterStats{Written: w.written.Load(), Duplicates: w.duplicates.Load(),
		Rejected: w.rejected.Load(), Retries: w.retries.Load()}
}

// handle writes one message's records; a nil return acknowledges it.
func (w *Writer) handle(ctx context.Context, m queue.Msg) error {
	recs, rejected, reason, err := decodeBatch(m.Data())
	if err != nil {
		// No retry can fix it: acknowledge it and say so loudly.
		w.reject(ctx, m, 1, err)
		return nil
	}
	if rejected > 0 {
		w.reject(ctx, m, rejected, reason)
	}
	if len(recs) == 0 {
		return nil
	}
	stop := context.Background()
	if p := w.stop.Load(); p != nil {
		stop = *p
	}
	pause := 50 * time.Millisecond
	for {
		n, err := w.write(ctx, recs)
		if err == nil {
			w.written.Add(int64(n))
			w.duplicates.Add(int64(len(recs) - n))
			w.cfg.Observer.Records(OutcomeWritten, n)
			w.cfg.Observer.Records(OutcomeDuplicate, len(recs)-n)
			return nil
		}
		if w.db.b.permanent(err) {
			return w.writeEach(ctx, m, recs)
		}
		w.retries.Add(1)
		w.cfg.Observer.Records(OutcomeRetried, len(recs))
		w.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "ledger: write failed, retrying",
			slog.String("msg_id", m.ID()), slog.Int("records", len(recs)), slog.Duration("retry_in", pause), slog.Any("error", err))
		if !sleepCtx(stop, pause) || ctx.Err() != nil {
			return fmt.Errorf("ledger: writer stopped before the database came back: %w", err)
		}
		pause = min(2*pause, w.cfg.RetryMax)
	}
}

// write makes one attempt at inserting recs.
func (w *Writer) write(ctx context.Context, recs []Record) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	defer cancel()
	n, err := w.db.b.insert(ctx, recs)
	return int(n), err
}

// writeEach writes the records of a batch the database refused one by
// one, to store all but the bad ones. A failure that is not the data's
// fault has the whole message delivered again (its stored records are
// then skipped).
func (w *Writer) writeEach(ctx context.Context, m queue.Msg, recs []Record) error {
	for i := range recs {
		n, err := w.write(ctx, recs[i:i+1])
		switch {
		case err == nil:
			w.written.Add(int64(n))
			w.duplicates.Add(int64(1 - n))
			w.cfg.Observer.Records(OutcomeWritten, n)
			w.cfg.Observer.Records(OutcomeDuplicate, 1-n)
		case w.db.b.permanent(err):
			w.cfg.Logger.LogAttrs(ctx, slog.LevelError, "ledger: record refused by the database",
				slog.String("msg_id", m.ID()), slog.String("id", recs[i].ID), slog.Any("error", err))
			w.rejected.Add(1)
			w.cfg.Observer.Records(OutcomeRejected, 1)
		default:
			return fmt.Errorf("ledger: write record %s: %w", recs[i].ID, err)
		}
	}
	return nil
}

// reject counts and logs records that will never be written.
func (w *Writer) reject(ctx context.Context, m queue.Msg, n int, err error) {
	w.rejected.Add(int64(n))
	w.cfg.Observer.Records(OutcomeRejected, n)
	w.cfg.Logger.LogAttrs(ctx, slog.LevelError, "ledger: usage records rejected",
		slog.String("msg_id", m.ID()), slog.Int("records", n), slog.Any("error", err))
}

// sleepCtx waits d or until ctx is done, reporting whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
