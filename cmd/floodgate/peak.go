package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/floodgate-dev/floodgate/internal/admission"
	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/promptfilter"
	"github.com/floodgate-dev/floodgate/internal/ratelimit"
)

// startGuard builds what stands between a request and execution: the rate
// limiter (shared through Redis when cluster.redis_url is set) and the
// admission queue.
func (a *app) startGuard() error {
	c := a.cfg.Cluster
	rc := ratelimit.Config{Prefix: c.Prefix, Logger: a.log}
	if c.RedisURL != "" {
		opts, err := goredis.ParseURL(c.RedisURL)
		if err != nil {
			return fmt.Errorf("cluster.redis_url: %w", err)
		}
		// Without it a hung Redis would hold requests past the limiter's
		// time-out instead of failing over to local limits.
		opts.ContextTimeoutEnabled = true
		a.redis = goredis.NewClient(opts)
		rc.Redis = a.redis
	}
	m, err := ratelimit.NewMetrics(a.metrics.Registry())
	if err != nil {
		return err
	}
	rc.Observer = m
	if a.limiter, err = ratelimit.New(rc); err != nil {
		return err
	}
	if c.Nodes > 1 {
		a.limiter.SetNodes(c.Nodes)
	}
	am, err := admission.NewMetrics(a.metrics.Registry())
	if err != nil {
		return err
	}
	a.admission, err = admission.New(admission.Config{
		MaxConcurrent: a.cfg.Admission.MaxConcurrent,
		MaxQueue:      a.cfg.Admission.MaxQueue,
		Observer:      am,
	})
	return err
}

// newPromptFilter builds the prompt filter from the configuration: the
// default action and threshold, each tenant's action, and the guard model
// (asked through the router) when one is named. Findings are counted in
// floodgate_prompt_filter_findings_total.
func (a *app) newPromptFilter() (*promptfilter.Filter, error) {
	pc := a.cfg.PromptFilter
	if pc.Action == config.FilterOff && len(a.cfg.Tenants) == 0 {
		return nil, nil
	}
	fc := promptfilter.Config{
		Default: promptfilter.Policy{Action: promptfilter.Action(pc.Action), Threshold: pc.Threshold},
		Tenants: map[string]promptfilter.Policy{},
		Guard:   promptfilter.GuardConfig{Model: pc.GuardModel},
	}
	for _, t := range a.cfg.Tenants {
		if t.PromptFilter != "" {
			fc.Tenants[t.ID] = promptfilter.Policy{Action: promptfilter.Action(t.PromptFilter)}
		}
	}
	findings := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "floodgate_prompt_filter_findings_total",
		Help: "Texts the prompt filter judged injections (or sent to its guard model), by source, action and whether they were judged injections.",
	}, []string{"source", "action", "detected"})
	if err := a.metrics.Registry().Register(findings); err != nil {
		return nil, err
	}
	fc.OnFinding = func(f promptfilter.Finding) {
		findings.WithLabelValues(f.Source.String(), string(f.Action), strconv.FormatBool(f.Detected)).Inc()
	}
	return promptfilter.New(fc, guardUsage{a})
}

// gatewayTier turns a configured tier into the gateway's.
func gatewayTier(t config.Tier) (gateway.Tier, error) {
	gt := gateway.Tier{
		MaxOutputTokens:     t.MaxOutputTokens,
		DefaultOutputTokens: t.DefaultOutputTokens,
		MaxN:                t.MaxN,
		AllowLogitBias:      t.AllowLogitBias,
		AllowLogprobs:       t.AllowLogprobs,
		AllowServiceTier:    t.AllowServiceTier,
		AllowStore:          t.AllowStore,
		Models:              t.Models,
		Limits:              gatewayLimits(t.TierLimits),
		Priority:            t.Priority,
		QueueDeadline:       t.QueueDeadline,
	}
	if p := t.Peak; p.Model != "" {
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			return gt, err
		}
		gp := &gateway.Peak{Model: p.Model, LoadAbove: p.LoadAbove, Location: loc}
		for _, w := range p.Windows {
			start, end, err := config.ParseWindow(w)
			if err != nil {
				return gt, err
			}
			gp.Windows = append(gp.Windows, gateway.Window{Start: start, End: end})
		}
		gt.Peak = gp
	}
	return gt, nil
}

func gatewayLimits(l config.TierLimits) gateway.Limits {
	return gateway.Limits{
		RequestsPerMinute: l.RequestsPerMinute,
		TokensPerMinute:   l.TokensPerMinute,
		MaxConcurrentRuns: l.MaxConcurrentRuns,
	}
}

// gatewayTenant turns a configured tenant into the gateway's.
func gatewayTenant(t config.Tenant) gateway.Tenant {
	gt := gateway.Tenant{ID: t.ID, Tier: t.Tier, KeyHashes: t.Keys, KeyExpiry: t.KeyExpiry, SoftModel: t.Budget.SoftModel, Lang: t.Language}
	if t.Limits != nil {
		l := gatewayLimits(*t.Limits)
		gt.Limits = &l
	}
	b := t.Budget
	if b.SoftPercent == 0 {
		b.SoftPercent = 80
	}
	soft := func(cap float64) int64 { return ratelimit.MicroUSD(cap * b.SoftPercent / 100) }
	gt.Budget = ratelimit.Budget{
		Day:   ratelimit.Cap{Soft: soft(b.Daily), Hard: ratelimit.MicroUSD(b.Daily)},
		Month: ratelimit.Cap{Soft: soft(b.Monthly), Hard: ratelimit.MicroUSD(b.Monthly)},
	}
	return gt
}

// closeGuard stops what startGuard started.
func (a *app) closeGuard() {
	if a.admission != nil {
		_ = a.admission.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
}
