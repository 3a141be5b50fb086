package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/config"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/modelpolicy"
	"github.com/floodgate-dev/floodgate/internal/shop"
)

// The cost benchmark's knobs: go test -run '^$' -bench BenchmarkCostRouting
// -benchtime 1x ./cmd/floodgate [-cost.requests 400 …].
var (
	costRequests  = flag.Int("cost.requests", 400, "BenchmarkCostRouting: requests per side")
	costParallel  = flag.Int("cost.parallel", 12, "BenchmarkCostRouting: requests in flight")
	costTimeScale = flag.Float64("cost.timescale", 0.3, "BenchmarkCostRouting: the sims' time scale")
	costSeed      = flag.Uint64("cost.seed", 6, "BenchmarkCostRouting: the traffic's seed")
	costVerbose   = flag.Bool("cost.verbose", false, "BenchmarkCostRouting: log every failed check")
)

// BenchmarkCostRouting is issue 6's bar: the post-mortem's traffic mix
// (about 70 % simple intents: where is my order, tracking) through the
// demo support agent on the in-process sims, once with the demo
// configuration's routing (simple intents on the small model) and once
// with a policy that puts every turn of every agent on the large model,
// each against a fresh demo shop. It reports the cost per run, p50 and p99
// latency per run (client side, through the gateway) and the task success
// rate: each answer checked against the shop's ground truth by
// answerCheck. Per kind of traffic it logs where the cost goes: cost,
// latency and success, and per run the model calls, tool calls,
// handoffs and tokens (prompt, cached, completion).
func BenchmarkCostRouting(b *testing.B) {
	ctx := context.Background()
	truth, err := shop.Open(ctx, shop.Config{})
	require.NoError(b, err)
	defer truth.Close()
	reqs := costTraffic(b, truth, *costRequests, *costSeed)
	mix := map[string]int{}
	for _, r := range reqs {
		mix[r.kind]++
	}
	b.Logf("traffic: %d requests per side, %v", len(reqs), mix)
	for b.Loop() {
		routed := costSide(b, reqs, func(*config.Config) {})
		large := costSide(b, reqs, func(c *config.Config) {
			for i := range c.Agents {
				c.Agents[i].Routing = modelpolicy.Config{SmallModel: "large", LargeModel: "large"}
			}
		})
		for _, s := range []*costResult{routed, large} {
			b.Logf("%-7s %s", s.name, s)
		}
		routed.name, large.name = "routed", "large"
		b.ReportMetric(routed.costPerRun()*1e3, "routed-mUSD/run")
		b.ReportMetric(large.costPerRun()*1e3, "large-mUSD/run")
		b.ReportMetric((1-routed.costPerRun()/large.costPerRun())*100, "cost-down-%")
		b.ReportMetric(costMS(routed.p(0.5)), "routed-p50-ms")
		b.ReportMetric(costMS(large.p(0.5)), "large-p50-ms")
		b.ReportMetric((1-float64(routed.p(0.5))/float64(large.p(0.5)))*100, "p50-down-%")
		b.ReportMetric(costMS(routed.p(0.99)), "routed-p99-ms")
		b.ReportMetric(costMS(large.p(0.99)), "large-p99-ms")
		b.ReportMetric(routed.success(), "routed-success-%")
		b.ReportMetric(large.success(), "large-success-%")
		b.ReportMetric(large.success()-routed.success(), "success-down-points")
		for _, k := range costKinds {
			b.Logf("%-10s routed %s | large %s", k, routed.kindLine(k), large.kindLine(k))
		}
		b.Logf("routed side: model choices %v", routed.choices)
	}
}

// costRequest is one request of the traffic and what its answer must say.
type costRequest struct {
	kind  string // one of costKinds
	input string
	want  answerCheck
}

// Kinds of traffic, with their share: about 70 % simple.
var costKinds = []string{"status", "tracking", "return", "compare", "complaint"}

// costTraffic draws n requests from the shop's data with a seeded source:
// 40 % order status questions (any order but those returned) and 30 %
// tracking questions about orders on their way, 12 % returns of orders
// delivered within the return window (each order once), 10 % product
// comparisons and 8 % complaints about a late order with several issues
// in one message.
func costTraffic(tb testing.TB, s *shop.Shop, n int, seed uint64) []costRequest {
	tb.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 2026))
	var orders, moving, returnable []int
	for _, st := range []string{shop.StatusProcessing, shop.StatusShipped, shop.StatusInTransit, shop.StatusOutForDelivery,
		shop.StatusDelivered, shop.StatusCancelled, shop.StatusReturnRequested, shop.StatusRefunded} {
		ids, err := s.OrderIDs(ctx, st)
		require.NoError(tb, err)
		orders = append(orders, ids...)
		if st == shop.StatusShipped || st == shop.StatusInTransit || st == shop.StatusOutForDelivery {
			moving = append(moving, ids...)
		}
	}
	delivered, err := s.OrderIDs(ctx, shop.StatusDelivered)
	require.NoError(tb, err)
	today, err := time.Parse(time.DateOnly, s.Today())
	require.NoError(tb, err)
	for _, id := range delivered {
		o, err := s.Order(ctx, id)
		require.NoError(tb, err)
		if o.Shipment == nil {
			continue
		}
		d, err := time.Parse(time.DateOnly, o.Shipment.DeliveredAt)
		if err == nil && today.Sub(d) < 28*24*time.Hour {
			returnable = append(returnable, id)
		}
	}
	r.Shuffle(len(returnable), func(i, j int) { returnable[i], returnable[j] = returnable[j], returnable[i] })
	// A return changes its order's status: the orders that may be
	// returned are asked about in no other way.
	orders = slices.DeleteFunc(orders, func(id int) bool { return slices.Contains(returnable, id) })
	var products []shop.ProductHit
	for _, c := range shop.Categories() {
		res, err := s.SearchProducts(ctx, "", c, shop.MaxSearchLimit)
		require.NoError(tb, err)
		products = append(products, res.Results...)
	}
	catalogue := map[string]shop.ProductHit{}
	for _, p := range products {
		catalogue[p.Name] = p
	}

	statusAsk := []string{"Where is my order %d?", "What's the status of order #%d?", "Hi, can you check my order %d please?",
		"Has my order %d shipped yet?", "order %d status?"}
	trackAsk := []string{"Can you track the delivery of order %d?", "When will my parcel for order %d arrive?",
		"Where is the package for order %d right now?", "Track order %d please", "What's the tracking number for order %d?"}
	returnAsk := []string{"I want to return order %d, it arrived damaged.", "I'd like a refund for order %d, the item doesn't fit.",
		"Please start a return for order %d, I changed my mind.", "Order %d came broken, I want my money back."}
	complaintAsk := []string{
		"This is the third time I'm writing: order %d is a week late, nobody answers my emails and I was promised delivery on Monday. Where is it?",
		"I'm really unhappy. My order %d still hasn't arrived, the tracking page doesn't update and your hotline kept me waiting for an hour. What is going on with my parcel?",
		"Order %d is late and I need it for a birthday on Saturday. Can you tell me where the delivery is and whether it will make it in time? Very disappointed so far.",
	}
	out := make([]costRequest, 0, n)
	for len(out) < n {
		x := r.Float64()
		var q costRequest
		switch {
		case x < 0.40:
			id := orders[r.IntN(len(orders))]
			q = costRequest{kind: "status", input: fmt.Sprintf(statusAsk[r.IntN(len(statusAsk))], id), want: orderCheck(tb, s, id)}
		case x < 0.70:
			id := moving[r.IntN(len(moving))]
			q = costRequest{kind: "tracking", input: fmt.Sprintf(trackAsk[r.IntN(len(trackAsk))], id), want: orderCheck(tb, s, id)}
		case x < 0.82:
			if len(returnable) == 0 {
				continue
			}
			id := returnable[0]
			returnable = returnable[1:]
			c := orderCheck(tb, s, id)
			c.returned = true
			q = costRequest{kind: "return", input: fmt.Sprintf(returnAsk[r.IntN(len(returnAsk))], id), want: c}
		case x < 0.92:
			a, b := products[r.IntN(len(products))], products[r.IntN(len(products))]
			na, _, _ := strings.Cut(a.Name, ",")
			nb, _, _ := strings.Cut(b.Name, ",")
			if na == nb {
				continue
			}
			in := fmt.Sprintf("What's the difference between the %s and the %s? Which one would you recommend?", na, nb)
			q = costRequest{kind: "compare", input: in, want: answerCheck{products: catalogue}}
		default:
			id := moving[r.IntN(len(moving))]
			q = costRequest{kind: "complaint", input: fmt.Sprintf(complaintAsk[r.IntN(len(complaintAsk))], id), want: orderCheck(tb, s, id)}
		}
		out = append(out, q)
	}
	return out
}

// answerCheck is what an answer must say, from the shop's ground truth.
// An order answer must name the order and give a status, and every
// status, date, amount and tracking number it quotes must be the order's
// (its own or its shipment's); a return answer must also give a return
// number and the refund (the order's total); a product answer must name
// products of the catalogue, and every price and stock statement next to
// a product's name must be that product's.
type answerCheck struct {
	order    string
	statuses []string
	dates    []string
	amounts  []string
	tracking []string
	returned bool
	products map[string]shop.ProductHit
}

func orderCheck(tb testing.TB, s *shop.Shop, id int) answerCheck {
	tb.Helper()
	ctx := context.Background()
	o, err := s.Order(ctx, id)
	require.NoError(tb, err)
	c := answerCheck{order: strconv.Itoa(id), statuses: []string{o.Status}, amounts: []string{o.Total.String()}}
	if o.Shipment != nil {
		sh, err := s.Shipment(ctx, id)
		require.NoError(tb, err)
		c.statuses = append(c.statuses, sh.Status)
		c.dates = append(c.dates, sh.ETA, sh.DeliveredAt, sh.ShippedAt)
		c.tracking = append(c.tracking, sh.TrackingNumber)
	}
	return c
}

var (
	dateRE     = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}\b`)
	amountRE   = regexp.MustCompile(`\b\d+\.\d{2}\b`)
	orderRE    = regexp.MustCompile(`\b1\d{5}\b`)
	trackingRE = regexp.MustCompile(`\b(1Z[0-9A-Z]{16}|\d{11,14})\b`)
	returnRE   = regexp.MustCompile(`\bR-\d{6}\b`)
	// statusRE finds status words; "shipped with <carrier>" says how, not
	// where, and is taken out first.
	statusRE    = regexp.MustCompile(`\b(processing|shipped|in[ _]transit|out[ _]for[ _]delivery|delivered|cancell?ed|return[ _]requested|refunded|on hold|requested|approved)\b`)
	shippedWith = regexp.MustCompile(`(?i)\bshipped (with|by)\b`)
)

// check returns "" when answer passes, else why it does not.
func (c *answerCheck) check(answer string) string {
	if c.products != nil {
		return c.checkProducts(answer)
	}
	if !strings.Contains(answer, c.order) {
		return "does not name order " + c.order
	}
	for _, o := range orderRE.FindAllString(answer, -1) {
		if o != c.order {
			return "names another order " + o
		}
	}
	text := shippedWith.ReplaceAllString(strings.ToLower(answer), "")
	st := statusRE.FindAllString(text, -1)
	if len(st) == 0 {
		return "gives no status"
	}
	allowed := slices.Clone(c.statuses)
	if c.returned {
		// The return's status, or the order's once the return is open.
		allowed = append(allowed, shop.ReturnRequested, shop.ReturnApproved, shop.StatusReturnRequested)
	}
	for _, s := range st {
		s = strings.NewReplacer(" ", "_", "canceled", "cancelled").Replace(s)
		if !slices.Contains(allowed, s) {
			return fmt.Sprintf("status %q, want one of %v", s, allowed)
		}
	}
	for _, d := range dateRE.FindAllString(answer, -1) {
		if !slices.Contains(c.dates, d) {
			return fmt.Sprintf("date %s, want one of %v", d, c.dates)
		}
	}
	amounts := amountRE.FindAllString(answer, -1)
	for _, a := range amounts {
		if !slices.Contains(c.amounts, a) {
			return fmt.Sprintf("amount %s, want %v", a, c.amounts)
		}
	}
	for _, t := range trackingRE.FindAllString(answer, -1) {
		if !slices.Contains(c.tracking, t) {
			return fmt.Sprintf("tracking number %s, want %v", t, c.tracking)
		}
	}
	if c.returned {
		if !returnRE.MatchString(answer) {
			return "gives no return number"
		}
		if len(amounts) == 0 {
			return "gives no refund amount"
		}
	}
	return ""
}

// checkProducts checks a product answer: each sentence that names a
// catalogue product must give its price and stock right.
func (c *answerCheck) checkProducts(answer string) string {
	named := 0
	for _, sentence := range strings.Split(answer, ". ") {
		var p shop.ProductHit
		found := false
		for name, hit := range c.products {
			if strings.Contains(sentence, name) && len(name) > len(p.Name) {
				p, found = hit, true
			}
		}
		if !found {
			continue
		}
		named++
		for _, a := range amountRE.FindAllString(sentence, -1) {
			if a != p.Price.String() {
				return fmt.Sprintf("%s costs %s, not %s", p.Name, p.Price, a)
			}
		}
		out := strings.Contains(sentence, "out of stock")
		in := strings.Contains(sentence, "in stock")
		if (out && p.InStock) || (in && !out && !p.InStock) {
			return fmt.Sprintf("%s: stock said wrong (in stock: %t)", p.Name, p.InStock)
		}
	}
	if named == 0 {
		return "names no product of the catalogue"
	}
	return ""
}

// costResult is one side of the benchmark.
type costResult struct {
	name     string
	runs     int
	cost     float64
	lat      []time.Duration
	ok       int
	byKind   map[string]*kindResult
	choices  map[string]int
	failures []string
}

type kindResult struct {
	runs, ok int
	cost     float64
	lat      []time.Duration
	// Sums over the kind's runs, for where the cost goes.
	calls, tools, handoffs    int
	prompt, cached, completed int
}

func (r *costResult) costPerRun() float64         { return r.cost / float64(max(r.runs, 1)) }
func (r *costResult) p(q float64) time.Duration   { return costPercentile(r.lat, q) }
func (r *costResult) success() float64            { return float64(r.ok) / float64(max(r.runs, 1)) * 100 }
func (r *costResult) kindLine(kind string) string { return r.byKind[kind].String() }

func (r *costResult) String() string {
	return fmt.Sprintf("%d runs: cost %.4f mUSD/run (%.4f USD), latency p50 %.0f ms p99 %.0f ms, success %.2f %% (%d/%d)",
		r.runs, r.costPerRun()*1e3, r.cost, costMS(r.p(0.5)), costMS(r.p(0.99)), r.success(), r.ok, r.runs)
}

func (k *kindResult) String() string {
	if k == nil {
		return "-"
	}
	n := float64(max(k.runs, 1))
	return fmt.Sprintf("%3d runs %.3f mUSD/run p50 %4.0f ms ok %5.1f %% | per run: %.2f model calls, %.2f tools, %.2f handoffs, %.0f in (%.0f cached) %.0f out tokens",
		k.runs, k.cost/n*1e3, costMS(costPercentile(k.lat, 0.5)), float64(k.ok)/n*100,
		float64(k.calls)/n, float64(k.tools)/n, float64(k.handoffs)/n, float64(k.prompt)/n, float64(k.cached)/n, float64(k.completed)/n)
}

// costSide serves the demo configuration (edited by edit) with a fresh
// shop and sends every request through the support agent, each in a
// session of its own.
func costSide(b *testing.B, reqs []costRequest, edit func(*config.Config)) *costResult {
	b.Helper()
	base, stop := demoApp(b, b.TempDir(), *costTimeScale, func(c *config.Config) {
		if edit != nil {
			edit(c)
		}
	})
	defer func() { require.NoError(b, stop()) }()
	// Warm up (tokenizers, connections, the shop's statements) with
	// questions that change nothing, outside the figures.
	for i := range 2 * *costParallel {
		_, _, err := costRun(http.DefaultClient, base, fmt.Sprintf("warm-%d", i), fmt.Sprintf("Where is my order %d?", 100001+i))
		require.NoError(b, err)
	}
	res := &costResult{byKind: map[string]*kindResult{}, choices: map[string]int{}}
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: *costParallel}}
	defer client.CloseIdleConnections()
	for range *costParallel {
		wg.Go(func() {
			for i := range work {
				q := &reqs[i]
				out, d, err := costRun(client, base, fmt.Sprintf("cost-%d", i), q.input)
				why := ""
				switch {
				case err != nil:
					why = err.Error()
				case out.Status != "completed":
					why = "status " + out.Status
				default:
					why = q.want.check(out.Output)
				}
				mu.Lock()
				k := res.byKind[q.kind]
				if k == nil {
					k = &kindResult{}
					res.byKind[q.kind] = k
				}
				res.runs++
				k.runs++
				res.cost += out.Cost
				k.cost += out.Cost
				k.calls += out.ModelCalls
				for _, c := range out.ToolCalls {
					if c.Outcome != "handoff" {
						k.tools++
					}
				}
				k.handoffs += len(out.Handoffs)
				k.prompt += out.Usage.PromptTokens
				k.cached += out.Usage.CachedTokens()
				k.completed += out.Usage.CompletionTokens
				res.lat = append(res.lat, d)
				k.lat = append(k.lat, d)
				if out.ModelChoice != nil {
					res.choices[out.ModelChoice.Model+"/"+out.ModelChoice.Reason]++
				}
				if why == "" {
					res.ok++
					k.ok++
				} else {
					var calls []string
					for _, c := range out.ToolCalls {
						calls = append(calls, c.Name)
					}
					res.failures = append(res.failures, fmt.Sprintf("%s %q: %s; %s %s calls %v; answer %q", q.kind, q.input, why,
						out.Reason, out.Models, calls, out.Output))
				}
				mu.Unlock()
			}
		})
	}
	for i := range reqs {
		work <- i
	}
	close(work)
	wg.Wait()
	if *costVerbose {
		// On standard output: a benchmark's log is truncated.
		for _, f := range res.failures {
			fmt.Println("failed:", f)
		}
	}
	return res
}

// costOutput is what the benchmark reads of a run's result.
type costOutput struct {
	Output     string    `json:"output"`
	Status     string    `json:"status"`
	Reason     string    `json:"reason"`
	Models     []string  `json:"models"`
	Cost       float64   `json:"cost"`
	Usage      llm.Usage `json:"usage"`
	ModelCalls int       `json:"model_calls"`
	ToolCalls  []struct {
		Name    string `json:"name"`
		Outcome string `json:"outcome"`
	} `json:"tool_calls"`
	Handoffs []struct {
		To string `json:"to"`
	} `json:"handoffs"`
	ModelChoice *struct {
		Model  string `json:"model"`
		Reason string `json:"reason"`
	} `json:"model_choice"`
}

// costRun runs one turn through the run API and returns its result and
// its latency as the client saw it.
func costRun(client *http.Client, base, session, input string) (costOutput, time.Duration, error) {
	var out costOutput
	body, _ := json.Marshal(map[string]string{"session_id": session, "user_id": "u-" + session, "input": input})
	req, err := http.NewRequest("POST", base+"/v1/agents/support/runs", strings.NewReader(string(body)))
	if err != nil {
		return out, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+testKey)
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return out, time.Since(t0), err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&out)
	d := time.Since(t0)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return out, d, err
}

func costMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// costPercentile returns the q-quantile (0–1) of ds, nearest rank; 0 for
// none.
func costPercentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}
