package degrade

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/rules"
)

// randomLadder builds a valid ladder of up to 8 rungs from r.
func randomLadder(r *rand.Rand) Config {
	kinds := []Kind{KindModel, KindRules, KindHandoff, KindMessage}
	n := r.IntN(9)
	var cfg Config
	for i := 0; i < n; i++ {
		rg := Rung{Kind: kinds[r.IntN(len(kinds))]}
		for _, t := range Triggers {
			if r.IntN(3) == 0 {
				rg.Triggers = append(rg.Triggers, t)
			}
		}
		if r.IntN(4) == 0 {
			rg.Intents = []string{"order_status"}
		}
		if r.IntN(4) == 0 {
			rg.SkipIntents = []string{"complaint"}
		}
		switch rg.Kind {
		case KindModel:
			rg.Model = []string{"small", "large"}[r.IntN(2)]
		case KindMessage:
			if r.IntN(2) == 0 {
				rg.Preset = PresetRefusal
			}
			if r.IntN(2) == 0 {
				rg.Text = map[string]string{"en": "custom"}
			}
		}
		cfg.Rungs = append(cfg.Rungs, rg)
		if cfg.Validate("") != nil { // an unreachable rung: leave it out
			cfg.Rungs = cfg.Rungs[:len(cfg.Rungs)-1]
		}
	}
	return cfg
}

// failingRung fails in one of the ways a rung can: an error, blank text,
// a panic, a context time-out, a cancelled context.
func failingRung(r *rand.Rand) func(ctx context.Context) (string, error) {
	switch r.IntN(5) {
	case 0:
		return func(context.Context) (string, error) { return "", errors.New("down") }
	case 1:
		return func(context.Context) (string, error) { return " \t\n", nil }
	case 2:
		return func(context.Context) (string, error) { panic("rung bug") }
	case 3:
		return func(ctx context.Context) (string, error) { <-ctx.Done(); return "late", ctx.Err() }
	default:
		return func(context.Context) (string, error) { return "", &rules.NoAnswer{Reason: rules.ReasonToolFailed} }
	}
}

// checkAlwaysAnswers climbs a ladder whose every rung fails and checks
// the climb still ends on a message with a text.
func checkAlwaysAnswers(t *testing.T, r *rand.Rand) {
	cfg := randomLadder(r)
	l, err := New(cfg, Options{Agent: "prop", SmallModel: "small"})
	require.NoError(t, err)
	fail := []func(context.Context) (string, error){failingRung(r), failingRung(r), failingRung(r)}
	rs := Rungs{
		Model:   func(ctx context.Context, _ string) (string, error) { return fail[0](ctx) },
		Rules:   func(ctx context.Context, _ *rules.Rules, _ string) (string, error) { return fail[1](ctx) },
		Handoff: func(ctx context.Context, _ HandoffRequest) (string, error) { return fail[2](ctx) },
	}
	s := Situation{
		Trigger: Triggers[r.IntN(len(Triggers))], Intent: []string{"", "order_status", "complaint"}[r.IntN(3)],
		Message: []string{"", "wo ist meine Bestellung", "hello"}[r.IntN(3)], Handoff: r.IntN(2) == 0,
		FailedModel: []string{"", "small"}[r.IntN(2)], Tier: "free",
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(3))*time.Millisecond)
	defer cancel()
	out := l.Climb(ctx, s, rs)
	require.NotEmpty(t, strings.TrimSpace(out.Text), "config %+v situation %+v", cfg, s)
	require.Equal(t, KindMessage, out.Rung)
	require.Equal(t, StatusDegraded, out.Status)
	require.Equal(t, s.Trigger, out.Reason)
	require.NotEmpty(t, out.Attempts)
	last := out.Attempts[len(out.Attempts)-1]
	require.Equal(t, OutcomeAnswered, last.Outcome)
	require.Equal(t, KindMessage, last.Rung)
	for _, a := range out.Attempts[:len(out.Attempts)-1] {
		require.Error(t, a.Err)
		require.Contains(t, []string{OutcomeFailed, OutcomeSkipped}, a.Outcome)
	}
	require.True(t, slices.Contains(Languages, out.Lang))
}

// TestAlwaysAnAnswer is the property: whatever the ladder and whatever
// way its rungs fail, a climb ends on a message.
func TestAlwaysAnAnswer(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for range 3000 {
		checkAlwaysAnswers(t, r)
	}
}

// FuzzClimb explores the same property from fuzzed seeds.
func FuzzClimb(f *testing.F) {
	for _, s := range [][2]uint64{{1, 2}, {3, 4}, {99, 100}, {0, 0}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b uint64) {
		checkAlwaysAnswers(t, rand.New(rand.NewPCG(a, b)))
	})
}
