package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/floodgate-dev/floodgate/internal/sim"
)

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sim", stderr)
	listen := fs.String("listen", "127.0.0.1:9000", "`host:port` to serve on")
	var cfg sim.Config
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed of every behaviour and fault decision")
	timeScale := fs.Float64("time-scale", 1, "multiplier of every simulated delay; 0 = no delays (overhead benchmarks)")
	fs.Float64Var(&cfg.WanderRate, "wander-rate", sim.DefaultWanderRate, "probability of a needless extra tool call after tool results (negative = never)")
	fs.Float64Var(&cfg.SummaryLoss, "summary-loss", sim.DefaultSummaryLoss, "probability that a summary drops each entity (negative = never)")
	fs.StringVar(&cfg.APIKey, "api-key", "", "require this API `key` on every request")
	var rpm, tpm, ttft, tps perModel
	fs.Var(&rpm, "rpm", "requests per minute, `N` for every model or model=N,… (429 beyond)")
	fs.Var(&tpm, "tpm", "tokens per minute, `N` for every model or model=N,… (429 beyond)")
	fs.Var(&ttft, "ttft-ms", "time to first token in ms, `N` for every model or model=N,…")
	fs.Var(&tps, "tps", "generation speed in tokens/s, `N` for every model or model=N,… (0 = instant)")
	f := &cfg.Faults
	fs.StringVar(&f.Model, "fault-model", "", "apply the faults below to this `model` only")
	fs.DurationVar(&f.Latency, "latency", 0, "added to every call")
	fs.Float64Var(&f.SpikeRate, "spike-rate", 0, "fraction of calls that get --spike-latency more")
	fs.DurationVar(&f.SpikeLatency, "spike-latency", 0, "extra latency of a spike")
	fs.Float64Var(&f.ErrorRate, "error-rate", 0, "fraction of calls answered with --error-status")
	fs.IntVar(&f.ErrorStatus, "error-status", 500, "status of injected errors: 500 or 503")
	fs.Float64Var(&f.HangRate, "hang-rate", 0, "fraction of calls that never send a byte")
	fs.Float64Var(&f.CutRate, "cut-rate", 0, "fraction of calls whose connection is aborted (streams mid-way)")
	fs.DurationVar(&f.Outage, "outage", 0, "every call fails for this long from start-up")
	fs.StringVar(&f.OutageMode, "outage-mode", "503", "how an outage fails calls: 503 or reset")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: floodgate sim [flags]\n\nA simulated OpenAI-compatible provider: POST /v1/chat/completions, GET /v1/models,\nfaults live at POST|GET|DELETE /sim/faults, counters at GET /sim/stats.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sim: unexpected argument %q", fs.Arg(0))
	}
	cfg.TimeScale = *timeScale
	if cfg.TimeScale == 0 {
		cfg.TimeScale = sim.NoDelay
	}
	cfg.Models = sim.DefaultModels()
	for i := range cfg.Models {
		m := &cfg.Models[i]
		if v, ok := rpm.get(m.Name); ok {
			m.RPM = v
		}
		if v, ok := tpm.get(m.Name); ok {
			m.TPM = v
		}
		if v, ok := ttft.get(m.Name); ok {
			m.TTFT = time.Duration(v) * time.Millisecond
		}
		if v, ok := tps.get(m.Name); ok {
			m.TokensPerSecond = float64(v)
		}
	}
	s, err := sim.New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "sim serving on http://%s/v1 (models: %s)\n", ln.Addr(), modelNames(s))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Close() // releases hung requests, which Shutdown would wait for
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutCtx)
	if serveErr := <-errc; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

func modelNames(s *sim.Sim) string {
	var names []string
	for _, m := range s.Models() {
		names = append(names, m.Name)
	}
	return strings.Join(names, ", ")
}

// perModel is a flag holding one number for every model ("500") or numbers
// by model name ("large=500,small=2000").
type perModel struct {
	all    int
	hasAll bool
	by     map[string]int
}

var _ flag.Value = (*perModel)(nil)

func (p *perModel) String() string {
	if p == nil {
		return ""
	}
	if p.hasAll {
		return strconv.Itoa(p.all)
	}
	var parts []string
	for _, k := range sortedKeys(p.by) {
		parts = append(parts, k+"="+strconv.Itoa(p.by[k]))
	}
	return strings.Join(parts, ",")
}

func (p *perModel) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return errors.New("must not be negative")
		}
		p.all, p.hasAll = n, true
		return nil
	}
	p.by = map[string]int{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(v)
		if !ok || k == "" || err != nil || n < 0 {
			return fmt.Errorf("want N or model=N,…, got %q", part)
		}
		p.by[k] = n
	}
	return nil
}

func (p *perModel) get(model string) (int, bool) {
	if v, ok := p.by[model]; ok {
		return v, true
	}
	return p.all, p.hasAll
}
