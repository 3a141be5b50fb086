package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Errors callers branch on.
var (
	// ErrClosed is returned by every operation on a Queue after Close, and
	// by Worker.Run when its Queue is closed under it.
	ErrClosed = errors.New("queue: closed")
	// ErrNoStream is returned by Publish when no stream stores the subject.
	ErrNoStream = errors.New("queue: no stream for subject")
	// ErrNoJetStream is returned by Open when the server does not offer
	// JetStream to this connection.
	ErrNoJetStream = errors.New("queue: JetStream not enabled on the server")
	// ErrInvalidConfig wraps every configuration error found by Open,
	// EnsureStream and Worker.
	ErrInvalidConfig = errors.New("queue: invalid config")
)

// Defaults for Config.
const (
	DefaultDataDir        = "./floodgate-data/nats"
	DefaultConnectTimeout = 5 * time.Second
)

// Config configures Open. The zero value starts an embedded server storing
// under DefaultDataDir, reachable only from this process.
type Config struct {
	// URL is the external NATS server to connect to, e.g.
	// "nats://127.0.0.1:4222"; several comma-separated URLs name the
	// members of a cluster. Empty (the default) starts an embedded server
	// in this process instead.
	URL string
	// DataDir is where the embedded server keeps JetStream's files; it is
	// created if missing. Only one server may use a directory at a time.
	// Default DefaultDataDir. Ignored with URL.
	DataDir string
	// Listen is the embedded server's client address, e.g. "127.0.0.1:4222",
	// or "127.0.0.1:0" for a free port (see Queue.ClientURL). Empty (the
	// default) opens no port: only this process reaches the server, through
	// an in-process connection. This process always connects in-process,
	// whatever Listen says. Ignored with URL.
	Listen string
	// Replicas is how many copies of each stream an external cluster keeps.
	// Default 1; the embedded server always keeps one.
	Replicas int
	// Name is the client connection name the server shows in its
	// monitoring. Default "floodgate".
	Name string
	// ConnectTimeout bounds connecting (per server URL), the embedded
	// server's start and the drain in Close. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Logger receives connection events, worker errors and the embedded
	// server's warnings and errors (its notices at debug level). Default
	// slog.Default().
	Logger *slog.Logger
}

func (c *Config) normalise() error {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("%w: replicas %d not in 1..5", ErrInvalidConfig, c.Replicas)
	}
	if c.URL == "" {
		c.Replicas = 1
	}
	if c.Name == "" {
		c.Name = "floodgate"
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.ConnectTimeout < 0 {
		return fmt.Errorf("%w: negative connect timeout", ErrInvalidConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Queue is a connection to JetStream, plus the embedded server when it
// started one. It is safe for concurrent use. Stop its Workers before
// calling Close.
type Queue struct {
	cfg Config
	log *slog.Logger
	srv *server.Server // nil with an external URL
	// unlock releases the embedded server's data directory.
	unlock func()
	nc     *nats.Conn
	js     jetstream.JetStream

	// connClosed is closed by the client once the connection is closed.
	connClosed chan struct{}
	// done is cancelled by Close so that workers stop pulling at once.
	done      context.Context
	closeDone context.CancelFunc
	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open starts the embedded server if cfg.URL is empty, connects and checks
// that JetStream answers; the Queue is ready to use when it returns.
// Starting the server and connecting are each bounded by
// cfg.ConnectTimeout, ctx is checked between them and bounds the JetStream
// check.
func Open(ctx context.Context, cfg Config) (*Queue, error) {
	if err := cfg.normalise(); err != nil {
		return nil, err
	}
	q := &Queue{cfg: cfg, log: cfg.Logger, connClosed: make(chan struct{})}
	q.done, q.closeDone = context.WithCancel(context.Background())

	opts := []nats.Option{
		nats.Name(cfg.Name),
		nats.Timeout(cfg.ConnectTimeout),
		nats.DrainTimeout(cfg.ConnectTimeout),
		// A queue outlives server restarts: keep reconnecting, and buffer
		// publishes meanwhile (Publish still waits for the stored ack).
		nats.MaxReconnects(-1),
		nats.ClosedHandler(func(*nats.Conn) { close(q.connClosed) }),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				q.log.LogAttrs(context.Background(), slog.LevelWarn, "queue: disconnected", slog.Any("error", err))
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			q.log.LogAttrs(context.Background(), slog.LevelInfo, "queue: reconnected", slog.String("url", nc.ConnectedUrlRedacted()))
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			q.log.LogAttrs(context.Background(), slog.LevelError, "queue: connection error", slog.String("subject", subj), slog.Any("error", err))
		}),
	}
	url := cfg.URL
	if url == "" {
		srv, unlock, err := startEmbedded(ctx, cfg)
		if err != nil {
			return nil, err
		}
		q.srv, q.unlock = srv, unlock
		opts = append(opts, nats.InProcessServer(srv))
	}
	if err := ctx.Err(); err != nil {
		q.shutdownServer()
		return nil, fmt.Errorf("queue: open: %w", err)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		q.shutdownServer()
		return nil, fmt.Errorf("queue: connect %q: %w", url, err)
	}
	q.nc = nc
	js, err := jetstream.New(nc)
	if err != nil {
		_ = q.Close()
		return nil, fmt.Errorf("queue: jetstream: %w", err)
	}
	q.js = js
	if _, err := js.AccountInfo(ctx); err != nil {
		_ = q.Close()
		if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
			return nil, fmt.Errorf("%w: %w", ErrNoJetStream, err)
		}
		return nil, fmt.Errorf("queue: jetstream account info: %w", err)
	}
	return q, nil
}

// ClientURL is the URL another process can connect to: the embedded
// server's listen address when Config.Listen opened one, the connected
// server otherwise. It is "" for an embedded server without a port.
func (q *Queue) ClientURL() string {
	if q.srv != nil {
		if q.cfg.Listen == "" {
			return ""
		}
		return q.srv.ClientURL()
	}
	return q.nc.ConnectedUrlRedacted()
}

// Close drains the connection (pending publishes are flushed, open pulls
// ended) and shuts the embedded server down, waiting for its goroutines.
// Workers still running see ErrClosed; stop them first so that their
// in-flight handlers can ack. Close is idempotent.
func (q *Queue) Close() error {
	q.closeOnce.Do(func() {
		q.closed.Store(true)
		q.closeDone()
		if q.nc != nil {
			if err := q.nc.Drain(); err != nil {
				q.nc.Close()
			}
			// Drain is bounded by nats.DrainTimeout; the extra second covers
			// the close that follows it.
			select {
			case <-q.connClosed:
			case <-time.After(q.cfg.ConnectTimeout + time.Second):
				q.nc.Close()
				q.closeErr = errors.New("queue: close: drain timed out")
			}
		}
		q.shutdownServer()
	})
	return q.closeErr
}

func (q *Queue) shutdownServer() {
	if q.srv != nil {
		q.srv.Shutdown()
		q.srv.WaitForShutdown()
		q.unlock()
	}
}

// isClosed reports whether the Queue was closed or its connection is gone
// for good.
func (q *Queue) isClosed() bool {
	return q.closed.Load() || q.nc.IsClosed()
}

// Publish stores data on subject and returns once JetStream acknowledged
// storing it. msgID, when not empty, is sent as Nats-Msg-Id: a second
// publish with the same ID within the stream's de-duplication window is
// acknowledged without being stored again, so a caller may retry a publish
// whose outcome it did not learn. hdr adds message headers (keys are
// case-sensitive); it may be nil. Without a deadline on ctx, JetStream's
// default of 5 s applies. It returns ErrNoStream when no stream captures
// subject. Safe for concurrent use.
func (q *Queue) Publish(ctx context.Context, subject, msgID string, data []byte, hdr map[string]string) error {
	if q.closed.Load() {
		return ErrClosed
	}
	m := &nats.Msg{Subject: subject, Data: data}
	if len(hdr) > 0 || msgID != "" {
		m.Header = make(nats.Header, len(hdr)+1)
		for k, v := range hdr {
			m.Header[k] = []string{v}
		}
		if msgID != "" {
			m.Header[jetstream.MsgIDHeader] = []string{msgID}
		}
	}
	if _, err := q.js.PublishMsg(ctx, m); err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) {
			return fmt.Errorf("%w: %s", ErrNoStream, subject)
		}
		if q.closed.Load() {
			return ErrClosed
		}
		return fmt.Errorf("queue: publish %s: %w", subject, err)
	}
	return nil
}
