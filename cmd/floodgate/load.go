package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/floodgate-dev/floodgate/internal/load"
)

func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", stderr)
	var cfg load.Config
	fs.StringVar(&cfg.Target, "target", "http://127.0.0.1:8080/v1", "base `URL` of the OpenAI-compatible API, up to /v1")
	fs.StringVar(&cfg.APIKey, "key", "", "API `key` sent as Bearer")
	fs.Func("keys", "a mix of API keys, `label=key:weight,...` (e.g. vip=K1:0.1,standard=K2:0.6,free=K3:0.3): "+
		"each request gets one by weight (reproducible with --seed); the report breaks results down by label. Not with --key",
		func(s string) (err error) {
			cfg.Keys, err = load.ParseKeys(s)
			return err
		})
	fs.StringVar(&cfg.Agent, "agent", "", "drive the agent `name` through the run API (POST /v1/agents/NAME/runs) instead of chat completions")
	fs.StringVar(&cfg.Model, "model", "large", "model to ask for")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: requests per `second` on a fixed schedule (0 = closed loop)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 50, "closed loop: workers sending back to back")
	fs.DurationVar(&cfg.Duration, "duration", load.DefaultDuration, "measured window")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "unrecorded run before the measured window")
	fs.BoolVar(&cfg.Stream, "stream", false, "stream answers and measure time to first token")
	fs.IntVar(&cfg.MaxTokens, "max-tokens", 0, "max_tokens to ask for (0 = unset)")
	fs.DurationVar(&cfg.Timeout, "timeout", load.DefaultTimeout, "per-request timeout, from send to last byte; a request cut at it counts as \"timeout\", apart from HTTP errors")
	fs.IntVar(&cfg.MaxInFlight, "max-in-flight", load.DefaultMaxInFlight, "open loop: outstanding requests beyond which starts are dropped and counted")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the prompt set and of the key each request gets")
	compare := fs.String("compare", "", "baseline `URL` (e.g. the sim directly): run it first with the same load and report the latency the target adds")
	out := fs.String("out", "", "write the JSON report to this `file`")
	quiet := fs.Bool("quiet", false, "no progress line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("load: unexpected argument %q", fs.Arg(0))
	}
	if !*quiet {
		cfg.Progress = stderr
	}

	var report interface {
		Summary() string
		WriteJSON(io.Writer) error
	}
	if *compare != "" {
		c, err := load.Compare(ctx, cfg, *compare)
		if err != nil {
			return err
		}
		report = c
	} else {
		r, err := load.Run(ctx, cfg)
		if err != nil {
			return err
		}
		report = r
	}
	fmt.Fprintln(stdout, report.Summary())
	if *out == "" {
		return nil
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	if err := report.WriteJSON(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
