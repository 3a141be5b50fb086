package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	configPath := fs.String("config", "", "configuration `file` (default: embedded sim endpoints and a demo tenant)")
	listen := fs.String("listen", "", "`host:port` to serve on (default: the config's listen, 127.0.0.1:8080)")
	demoKey := fs.String("demo-key", "", "with no config, use this demo `key` instead of a fresh random one")
	debugListen := fs.String("debug-listen", "", "serve Go's pprof profiles on this `host:port` (keep it private; default: off)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}

	var cfg *config.Config
	var shopLn net.Listener
	key := ""
	if *configPath != "" {
		c, err := config.Load(*configPath)
		if err != nil {
			return err
		}
		cfg = c
	} else {
		var err error
		if cfg, shopLn, err = demoConfig(); err != nil {
			return err
		}
		key = *demoKey
		if key == "" {
			key = newKey()
		}
		cfg.Tenants = append(cfg.Tenants, config.Tenant{ID: "demo", Tier: config.DefaultTier, Keys: []string{gateway.HashKey(key)}})
		// The demo is one person's: their key also opens the operations
		// API (/admin/usage).
		cfg.Gateway.AdminKeys = append(cfg.Gateway.AdminKeys, gateway.HashKey(key))
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if err := cfg.Validate(); err != nil {
		return err
	}

	log := newLogger(stderr, cfg.LogLevel)
	a, err := newApp(cfg, log, shopLn)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		a.close()
		return err
	}
	if *debugListen != "" {
		stop, err := serveDebug(*debugListen, log)
		if err != nil {
			ln.Close()
			a.close()
			return err
		}
		defer stop()
	}
	base := "http://" + ln.Addr().String()
	log.Info("floodgate serving", "addr", base, "config", cfg.Summary(), "models", strings.Join(a.router.Models(), ","))
	if key != "" {
		// On a line of its own so that scripts can pick it up.
		fmt.Fprintf(stdout, "demo key: %s\n", key)
		fmt.Fprintf(stdout, "try: curl -s %s/v1/chat/completions -H 'Authorization: Bearer %s' -d '{\"model\":\"large\",\"messages\":[{\"role\":\"user\",\"content\":\"Where is my order 100123?\"}]}'\n", base, key)
	}
	err = a.run(ctx, ln)
	log.Info("floodgate stopped")
	return err
}

// serveDebug serves net/http/pprof on its own listener, never on the
// gateway's, so that profiles are reachable only where the operator says.
func serveDebug(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	log.Info("pprof serving", "addr", "http://"+ln.Addr().String()+"/debug/pprof/")
	return func() {
		srv.Close()
		<-done
	}, nil
}

// demoConfig returns the embedded configuration with the demo shop's
// listener, on a loopback port of its own, that its tools call.
func demoConfig() (*config.Config, net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, fmt.Errorf("demo shop: %w", err)
	}
	return config.Default("http://" + ln.Addr().String()), ln, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
