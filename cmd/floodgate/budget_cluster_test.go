package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/gateway"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/ratelimit"
)

// budgetCall is one request of the budget test as its client saw it.
type budgetCall struct {
	start, end time.Time
	admitted   bool
	cost       int64 // micro-dollars charged, as the gateway computes them
}

// TestBudgetHardCapAcrossNodes is issue 6's budget bar: three serve nodes
// sharing Redis enforce one tenant's daily hard cap together. Clients on
// every node send plain completions (which hold only their prompt's
// estimated cost: no max_tokens) and agent runs (charged afterwards) until
// refused. Redis's spend counter is polled to find when the cap was
// reached; the spend beyond the cap must be at most the cost of the
// requests in flight then, no request started after it may be admitted,
// and every admitted request, and only those, is charged.
func TestBudgetHardCapAcrossNodes(t *testing.T) {
	redisURL := requireService(t, "127.0.0.1:6379", "Redis", "redis://127.0.0.1:6379/0")
	const (
		nodes          = 3
		workersPerNode = 4
		capUSD         = 0.02
		timeScale      = 0.05
	)
	capMicros := ratelimit.MicroUSD(capUSD)
	prefix := "fg-budget-" + rand8() + ":"
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() {
		deleteKeys(t, rdb, prefix+"*")
		rdb.Close()
	})

	var price gateway.Price
	bases := make([]string, nodes)
	for i := range bases {
		base, _, stop := demoAppOf(t, t.TempDir(), timeScale, func(c *config.Config) {
			c.Cluster.RedisURL = redisURL
			c.Cluster.Prefix = prefix
			c.Usage.Backend = config.UsageNone
			// Soft at 100 %: no downgrade to the small model, so that a
			// completion costs what its model says.
			c.Tenants[0].Budget = config.Budget{Daily: capUSD, SoftPercent: 100}
			for _, m := range c.Models {
				if m.Name == "large" {
					price = gateway.Price{Input: m.Price.Input, CachedInput: m.Price.CachedInput, Output: m.Price.Output}
				}
			}
		})
		t.Cleanup(func() { require.NoError(t, stop()) })
		bases[i] = base
	}
	require.Positive(t, price.Output)
	day := time.Now().UTC().Format("2006-01-02")
	dayKey := prefix + "spend:tenant:test:d:" + day

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// The poller: the cap was reached after crossLo (a read that saw less
	// was sent then) and before crossHi (a read that saw it returned).
	var (
		reached          atomic.Bool
		crossLo, crossHi time.Time
		pollStop         = make(chan struct{})
		pollDone         = make(chan struct{})
		polls            int
	)
	stopPoll := sync.OnceFunc(func() {
		close(pollStop)
		<-pollDone
	})
	t.Cleanup(stopPoll) // should the test end early
	go func() {
		defer close(pollDone)
		for {
			select {
			case <-pollStop:
				return
			default:
			}
			sent := time.Now()
			v, err := rdb.Get(ctx, dayKey).Int64()
			if errors.Is(err, goredis.Nil) {
				v, err = 0, nil
			}
			polls++
			switch {
			case err != nil:
			case v < capMicros:
				crossLo = sent
			case !reached.Load():
				crossHi = time.Now()
				reached.Store(true)
			}
			time.Sleep(time.Millisecond)
		}
	}()

	loadStart := time.Now()
	var (
		mu      sync.Mutex
		calls   []budgetCall
		failure error
		wg      sync.WaitGroup
	)
	for n, base := range bases {
		for w := range workersPerNode {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					bc := budgetCall{start: time.Now()}
					var refused bool
					var err error
					if i%2 == 0 {
						bc.cost, refused, err = budgetChat(ctx, client, base, price, fmt.Sprintf("Where is my order %d?", 100001+(n*31+w*7+i)%400))
					} else {
						bc.cost, refused, err = budgetRun(ctx, client, base, fmt.Sprintf("budget-%s-%d-%d-%d", prefix, n, w, i),
							fmt.Sprintf("Can you track order %d for me?", 100001+(n*17+w*5+i)%400))
					}
					bc.end = time.Now()
					bc.admitted = !refused && err == nil
					mu.Lock()
					calls = append(calls, bc)
					if err != nil && failure == nil && ctx.Err() == nil {
						failure = err
					}
					mu.Unlock()
					switch {
					case err != nil:
						return
					case refused && reached.Load():
						return
					case refused:
						// Refused on holds of calls in flight: they may
						// settle under their estimates.
						time.Sleep(2 * time.Millisecond)
					}
				}
			})
		}
	}
	wg.Wait()
	loadTime := time.Since(loadStart)
	require.NoError(t, ctx.Err(), "the cap is reached within 20s")
	require.NoError(t, failure)
	require.True(t, reached.Load(), "the spend reached the cap")

	// Every admitted call settles right after its answer: wait until
	// Redis holds what the clients were charged.
	var charged int64
	admitted, refusedN := 0, 0
	for _, c := range calls {
		if c.admitted {
			charged += c.cost
			admitted++
		} else {
			refusedN++
		}
	}
	var final int64
	require.Eventually(t, func() bool {
		v, err := rdb.Get(ctx, dayKey).Int64()
		final = v
		return err == nil && v >= charged
	}, 5*time.Second, 10*time.Millisecond, "Redis holds the charges of the admitted calls")
	stopPoll()
	if now := time.Now().UTC().Format("2006-01-02"); now != day {
		t.Skipf("the test crossed midnight UTC (%s → %s): the day's counter restarted", day, now)
	}

	// Every node refuses now, with OpenAI's quota error.
	for i, base := range bases {
		_, refused, err := budgetChat(ctx, client, base, price, "Where is my order 100123?")
		require.NoError(t, err)
		assert.True(t, refused, "node %d refuses past the cap", i)
	}

	// What was in flight when the cap was reached: admitted calls that
	// started before it and ended after it; the slack covers a call whose
	// charge reached Redis just after its answer reached the client.
	const slack = 50 * time.Millisecond
	var inflight, strict, maxCost, after int64
	inflightN, strictN, afterN := 0, 0, 0
	for _, c := range calls {
		if !c.admitted {
			continue
		}
		maxCost = max(maxCost, c.cost)
		if c.start.After(crossHi) {
			after += c.cost
			afterN++
			continue
		}
		if c.end.After(crossLo.Add(-slack)) {
			inflight += c.cost
			inflightN++
		}
		if c.end.After(crossHi) {
			strict += c.cost
			strictN++
		}
	}
	over := final - capMicros
	concurrency := int64(nodes * workersPerNode)
	usd := func(micros int64) string { return fmt.Sprintf("$%.6f", float64(micros)/1e6) }
	t.Logf("%d nodes × %d clients, daily cap %s: %d calls admitted, %d refused in %s; charged %s (clients' sum %s), %d Redis polls",
		nodes, workersPerNode, usd(capMicros), admitted, refusedN, loadTime.Round(time.Millisecond), usd(final), usd(charged), polls)
	t.Logf("cap reached within a %s window; in flight then (%s slack): %d calls costing %s, of which %d costing %s still unanswered at the window's end; spend beyond the cap %s (%.1f %% of the cap); admitted after it: %d (%s)",
		crossHi.Sub(crossLo).Round(time.Microsecond), slack, inflightN, usd(inflight), strictN, usd(strict), usd(over), 100*float64(over)/float64(capMicros), afterN, usd(after))
	t.Logf("bound by concurrency: %d clients × the dearest call %s = %s", concurrency, usd(maxCost), usd(concurrency*maxCost))

	assert.Equal(t, charged, final, "every admitted call is charged, and nothing else")
	assert.Zero(t, afterN, "no call that started after the cap was reached is admitted")
	assert.LessOrEqual(t, over, inflight, "spend beyond the cap ≤ the cost of the calls in flight when it was reached")
	assert.LessOrEqual(t, over, concurrency*maxCost)
}

func rand8() string { return fmt.Sprintf("%x", randBytes(4)) }

// budgetPost posts body to url and reports a refusal for the budget
// (429 insufficient_quota); other errors are failures.
func budgetPost(ctx context.Context, c *http.Client, url string, body any) (out []byte, refused bool, err error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(b))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	out, err = io.ReadAll(resp.Body)
	if err != nil {
		return nil, false, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		var e struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
		}
		if json.Unmarshal(out, &e) == nil && e.Error.Code == "insufficient_quota" {
			return nil, true, nil
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("%s: %d %s", url, resp.StatusCode, out)
	}
	return out, false, nil
}

// budgetChat sends a plain completion on the large model without
// max_tokens, so that its hold covers only its prompt, and returns what
// the gateway charges for it.
func budgetChat(ctx context.Context, c *http.Client, base string, price gateway.Price, input string) (int64, bool, error) {
	out, refused, err := budgetPost(ctx, c, base+"/v1/chat/completions", map[string]any{
		"model": "large", "messages": []map[string]string{{"role": "user", "content": input}},
	})
	if err != nil || refused {
		return 0, refused, err
	}
	var r struct {
		Model string     `json:"model"`
		Usage *llm.Usage `json:"usage"`
	}
	if err := json.Unmarshal(out, &r); err != nil || r.Usage == nil {
		return 0, false, fmt.Errorf("completion without usage: %s", out)
	}
	return ratelimit.MicroUSD(price.Cost(r.Usage)), false, nil
}

// budgetRun sends an agent turn, which holds nothing and is charged its
// cost afterwards, and returns that cost.
func budgetRun(ctx context.Context, c *http.Client, base, runID, input string) (int64, bool, error) {
	out, refused, err := budgetPost(ctx, c, base+"/v1/agents/support/runs", map[string]any{
		"run_id": runID, "session_id": "s-" + runID, "user_id": "u-budget", "input": input,
	})
	if err != nil || refused {
		return 0, refused, err
	}
	var r struct {
		Status string  `json:"status"`
		Reason string  `json:"reason"`
		Cost   float64 `json:"cost"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, false, fmt.Errorf("run result: %w: %s", err, out)
	}
	if r.Reason == "budget_exhausted" {
		// Refused by the budget and answered by the degradation
		// ladder's fallback instead of a 429: nothing ran.
		return ratelimit.MicroUSD(r.Cost), true, nil
	}
	return ratelimit.MicroUSD(r.Cost), false, nil
}
