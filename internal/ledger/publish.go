package ledger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Subject is the Q2 subject usage records are published on; StreamConfig
// describes the stream that stores it.
const Subject = "usage.records"

// Defaults for PublisherConfig.
const (
	DefaultBuffer         = 16384
	DefaultMaxBatch       = 256
	DefaultSenders        = 2
	DefaultPublishTimeout = 5 * time.Second
	DefaultDrainTimeout   = 10 * time.Second
)

// sender retry pauses after a failed publish.
const (
	retryMin = 50 * time.Millisecond
	retryMax = 2 * time.Second
)

// maxMessage is the largest message body a sender publishes, well under
// NATS's default 1 MiB max_payload; a larger batch is split.
const maxMessage = 512 << 10

// Sink is where a Publisher puts its batches: *queue.Queue.
type Sink interface {
	// Publish stores data under subject and returns once it is stored; a
	// second publish with the same msgID must not store it again.
	Publish(ctx context.Context, subject, msgID string, data []byte, hdr map[string]string) error
}

// PublisherConfig configures a Publisher. The zero value, with a Sink, is
// usable.
type PublisherConfig struct {
	// Subject records are published on. Default Subject.
	Subject string
	// Buffer is how many records may wait for the senders; when it is full
	// (Q2 unreachable for long, or slower than the traffic) Publish drops
	// records and counts them. It holds about 300 bytes per record.
	// Default DefaultBuffer (16384).
	Buffer int
	// MaxBatch is the most records one message carries. Default
	// DefaultMaxBatch (256).
	MaxBatch int
	// Senders is how many messages are being published at once. Default
	// DefaultSenders (2).
	Senders int
	// PublishTimeout bounds one publish attempt; a failed attempt is
	// retried (same message ID) until it succeeds or Run's drain ends.
	// Default DefaultPublishTimeout (5 s).
	PublishTimeout time.Duration
	// DrainTimeout is how long Run, once its ctx is done, keeps publishing
	// what the buffer holds; what is left then is dropped and counted.
	// Default DefaultDrainTimeout (10 s).
	DrainTimeout time.Duration
	// Observer receives token and cost counts and record outcomes. Nil
	// observes nothing.
	Observer Observer
	// Logger receives publish failures. Default slog.Default().
	Logger *slog.Logger
}

func (c *PublisherConfig) normalise() error {
	if c.Subject == "" {
		c.Subject = Subject
	}
	if c.Buffer == 0 {
		c.Buffer = DefaultBuffer
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.Senders == 0 {
		c.Senders = DefaultSenders
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = DefaultPublishTimeout
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Buffer < 0 || c.MaxBatch < 0 || c.Senders < 0 || c.PublishTimeout < 0 || c.DrainTimeout < 0 {
		return fmt.Errorf("%w: negative publisher setting", ErrInvalidConfig)
	}
	return nil
}

// ErrInvalidConfig wraps every configuration error of this package.
var ErrInvalidConfig = errors.New("ledger: invalid config")

// Publisher takes records off the request path to Q2. Publish is safe for
// concurrent use and never blocks; Run, called once, does the publishing.
// A Publisher must not be copied.
type Publisher struct {
	cfg  PublisherConfig
	sink Sink
	ch   chan Record
	// idPrefix makes this process's generated record and message IDs
	// unique across nodes and restarts.
	idPrefix string
	ids      atomic.Uint64
	batches  atomic.Uint64

	stopped atomic.Bool
	running atomic.Bool

	published, dropped, retries atomic.Int64
}

// PublisherStats counts a Publisher's records since it was created.
type PublisherStats struct {
	// Published records are stored in Q2.
	Published int64
	// Dropped records were lost: the buffer was full, Publish was called
	// after Run returned, or the drain ran out of time.
	Dropped int64
	// Retries counts failed publish attempts that were retried.
	Retries int64
	// Buffered records wait for a sender now.
	Buffered int
}

// NewPublisher returns a Publisher publishing to sink. It does no I/O.
func NewPublisher(sink Sink, cfg PublisherConfig) (*Publisher, error) {
	if sink == nil {
		return nil, fmt.Errorf("%w: nil sink", ErrInvalidConfig)
	}
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return &Publisher{
		cfg:      cfg,
		sink:     sink,
		ch:       make(chan Record, cfg.Buffer),
		idPrefix: hex.EncodeToString(b[:]),
	}, nil
}

// Publish hands r to the background senders and returns at once; it never
// waits for Q2 or the database, and costs one channel send. It reports
// false when r was dropped because the buffer is full or the Publisher has
// stopped (counted in Stats and as OutcomeDropped). r is copied; the
// caller keeps it. Safe for concurrent use. A record given to Publish
// while Run is returning may be neither sent nor counted.
func (p *Publisher) Publish(r *Record) bool {
	if p.stopped.Load() {
		p.drop(r)
		return false
	}
	select {
	case p.ch <- *r:
		return true
	default:
		p.drop(r)
		return false
	}
}

// drop counts a record Publish could not take. Its tokens and cost still
// reach the metrics, which must not depend on the ledger's health.
func (p *Publisher) drop(r *Record) {
	p.lose(1)
	observeUsage(p.cfg.Observer, r)
}

// lose counts n records that will never reach Q2.
func (p *Publisher) lose(n int) {
	p.dropped.Add(int64(n))
	p.cfg.Observer.Records(OutcomeDropped, n)
}

// Stats returns the Publisher's counters. Safe for concurrent use.
func (p *Publisher) Stats() PublisherStats {
	return PublisherStats{
		Published: p.published.Load(), Dropped: p.dropped.Load(),
		Retries: p.retries.Load(), Buffered: len(p.ch),
	}
}

// Run publishes buffered records until ctx is done, then keeps publishing
// what the buffer holds for up to DrainTimeout; records still buffered
// then, and records given to Publish after Run returned, are dropped and
// counted. It returns nil, or an error if the drain ran out of time. Run
// may be called once.
func (p *Publisher) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("ledger: Publisher.Run called twice")
	}
	// Senders outlive ctx while they drain; sendCtx is cancelled only to
	// cut them when the drain deadline passes.
	sendCtx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	var wg sync.WaitGroup
	for range p.cfg.Senders {
		wg.Go(func() { p.sender(ctx, sendCtx) })
	}
	<-ctx.Done()
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	var err error
	t := time.NewTimer(p.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cut()
		<-done
		err = fmt.Errorf("ledger: publisher drain: %d records left after %s", len(p.ch), p.cfg.DrainTimeout)
	}
	p.stopped.Store(true)
	// Whatever is still buffered will never be sent.
	for {
		select {
		case r := <-p.ch:
			p.drop(&r)
		default:
			return err
		}
	}
}

// sender publishes batches until ctx is done and the buffer is empty, or
// sendCtx is cut. It recovers from panics so that one bad record cannot
// stop the ledger.
func (p *Publisher) sender(ctx, sendCtx context.Context) {
	recs := make([]Record, 0, p.cfg.MaxBatch)
	var buf []byte
	for {
		recs = recs[:0]
		select {
		case r := <-p.ch:
			recs = append(recs, r)
		case <-ctx.Done():
			// Draining: take what is left without waiting for more.
			select {
			case r := <-p.ch:
				recs = append(recs, r)
			default:
				return
			}
		case <-sendCtx.Done():
			return
		}
	more:
		for len(recs) < cap(recs) {
			select {
			case r := <-p.ch:
				recs = append(recs, r)
			default:
				break more
			}
		}
		var ok bool
		buf, ok = p.sendBatch(sendCtx, recs, buf[:0])
		if !ok {
			return
		}
	}
}

// sendBatch fills in, observes, encodes and publishes recs, splitting a
// batch whose message would be too large; it reports false when sendCtx
// was cut (the records not yet stored are then counted as dropped).
func (p *Publisher) sendBatch(ctx context.Context, recs []Record, buf []byte) (_ []byte, ok bool) {
	defer func() {
		if v := recover(); v != nil {
			p.cfg.Logger.LogAttrs(context.Background(), slog.LevelError, "ledger: publisher panicked",
				slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			ok = true
		}
	}()
	now := time.Now()
	for i := range recs {
		recs[i].fill(p.newID, now)
		observeUsage(p.cfg.Observer, &recs[i])
	}
	return p.sendSplit(ctx, recs, buf)
}

// sendSplit publishes recs as one message, or in parts when the message
// would exceed maxMessage.
func (p *Publisher) sendSplit(ctx context.Context, recs []Record, buf []byte) ([]byte, bool) {
	buf, err := appendBatch(buf[:0], recs)
	if err != nil {
		// fill makes every record encodable: this is a bug, not an outage.
		p.cfg.Logger.LogAttrs(ctx, slog.LevelError, "ledger: records dropped", slog.Int("records", len(recs)), slog.Any("error", err))
		p.lose(len(recs))
		return buf, true
	}
	if len(buf) > maxMessage && len(recs) > 1 {
		// Parts of about 3/4 of the limit, each split again if still
		// too large.
		parts := 4*len(buf)/(3*maxMessage) + 1
		size := (len(recs) + parts - 1) / parts
		for len(recs) > 0 {
			part := recs[:min(size, len(recs))]
			var ok bool
			if buf, ok = p.sendSplit(ctx, part, buf); !ok {
				p.lose(len(recs) - len(part))
				return buf, false
			}
			recs = recs[len(part):]
		}
		return buf, true
	}
	return buf, p.publish(ctx, recs, buf)
}

// publish stores one encoded batch in Q2, retrying under the same message
// ID until it is stored or ctx is cut.
func (p *Publisher) publish(ctx context.Context, recs []Record, data []byte) bool {
	msgID := p.idPrefix + "-b" + strconv.FormatUint(p.batches.Add(1), 36)
	pause := retryMin
	for {
		pctx, cancel := context.WithTimeout(ctx, p.cfg.PublishTimeout)
		err := p.sink.Publish(pctx, p.cfg.Subject, msgID, data, nil)
		cancel()
		if err == nil {
			p.published.Add(int64(len(recs)))
			p.cfg.Observer.Records(OutcomePublished, len(recs))
			return true
		}
		if ctx.Err() != nil {
			p.lose(len(recs))
			return false
		}
		p.retries.Add(1)
		p.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "ledger: publish failed, retrying",
			slog.String("msg_id", msgID), slog.Int("records", len(recs)), slog.Duration("retry_in", pause), slog.Any("error", err))
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			p.lose(len(recs))
			return false
		case <-t.C:
		}
		pause = min(2*pause, retryMax)
	}
}

// newID returns a record ID unique across processes: the Publisher's
// random prefix and a counter.
func (p *Publisher) newID() string {
	return p.idPrefix + "-" + strconv.FormatUint(p.ids.Add(1), 36)
}
