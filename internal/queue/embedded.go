package queue

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// startEmbedded starts a NATS server with JetStream on cfg.DataDir and waits
// until it accepts connections. unlock releases the data directory after
// the server has shut down.
func startEmbedded(ctx context.Context, cfg Config) (srv *server.Server, unlock func(), err error) {
	opts := &server.Options{
		ServerName: cfg.Name,
		JetStream:  true,
		StoreDir:   cfg.DataDir,
		DontListen: cfg.Listen == "",
		// The process owns signals; the server must not install handlers.
		NoSigs: true,
		// Logging goes through SetLoggerV2 below, never to stderr.
		NoLog: true,
	}
	if cfg.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: listen %q: %w", ErrInvalidConfig, cfg.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, nil, fmt.Errorf("%w: listen %q: bad port", ErrInvalidConfig, cfg.Listen)
		}
		if p == 0 {
			// Port 0 means "the default port" to the server; -1 asks for a free one.
			p = server.RANDOM_PORT
		}
		opts.Host, opts.Port = host, p
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("queue: embedded data dir: %w", err)
	}
	unlock, err = lockDir(cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	srv, err = server.NewServer(opts)
	if err != nil {
		unlock()
		return nil, nil, fmt.Errorf("queue: embedded server: %w", err)
	}
	lg := &serverLogger{log: cfg.Logger}
	srv.SetLoggerV2(lg, false, false, false)

	srv.Start()
	// ReadyForConnections polls; ctx cannot interrupt it, ConnectTimeout
	// bounds it.
	ready := srv.ReadyForConnections(cfg.ConnectTimeout)
	fail := func(err error) (*server.Server, func(), error) {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		if f := lg.fatal(); f != "" {
			err = fmt.Errorf("%w: %s", err, f)
		}
		return nil, nil, fmt.Errorf("queue: embedded server: %w", err)
	}
	switch {
	case !ready:
		return fail(errors.New("not ready"))
	case !srv.JetStreamEnabled():
		return fail(ErrNoJetStream)
	case ctx.Err() != nil:
		return fail(ctx.Err())
	}
	return srv, unlock, nil
}

// serverLogger hands the embedded server's log lines to slog. The server
// reports a failed start (e.g. a data directory locked by another server)
// through Fatalf and then stops; the message is kept for Open's error
// instead of exiting the process.
type serverLogger struct {
	log *slog.Logger

	mu        sync.Mutex
	lastFatal string
}

func (l *serverLogger) logf(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if l.log.Enabled(ctx, level) {
		l.log.LogAttrs(ctx, level, "nats-server: "+fmt.Sprintf(format, v...))
	}
}

func (l *serverLogger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastFatal
}

// Noticef logs the server's start-up banner and routine notices at debug
// level: they say nothing an operator of floodgate acts on.
func (l *serverLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.logf(slog.LevelWarn, format, v) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.logf(slog.LevelError, format, v) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }
func (l *serverLogger) Tracef(format string, v ...any)  { l.logf(slog.LevelDebug, format, v) }

func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.mu.Lock()
	l.lastFatal = msg
	l.mu.Unlock()
	l.log.LogAttrs(context.Background(), slog.LevelError, "nats-server: "+msg)
}
