package load

import (
	"context"
	"fmt"
)

// Compare runs the load cfg describes twice, first against baseline (e.g.
// the simulated provider directly) and then against cfg.Target (e.g. the
// gateway in front of that same provider), and reports both runs and the
// latency the target adds at each percentile: "gateway vs direct in the same
// run". Both runs use the same scenario and seed, so they send the same
// bodies in the same order.
//
// Like Run, it returns an error only for a config it cannot run. When ctx is
// cancelled during the baseline, the target is not run and
// Comparison.Target is nil.
func Compare(ctx context.Context, cfg Config, baseline string) (*Comparison, error) {
	// Validate both targets before spending a whole run on the first.
	norm, _, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	cfg.Scenario = norm.scenario()
	base := cfg
	base.Target = baseline
	if _, _, err := base.normalized(); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	baseRep, err := Run(ctx, base)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	c := &Comparison{Baseline: baseRep}
	if baseRep.Interrupted {
		return c, nil
	}
	c.Target, err = Run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c.Added = addedBetween(baseRep.Latency, c.Target.Latency)
	if baseRep.TTFT != nil && c.Target.TTFT != nil {
		a := addedBetween(*baseRep.TTFT, *c.Target.TTFT)
		c.AddedTTFT = &a
	}
	return c, nil
}
