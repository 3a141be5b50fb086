package ctxwindow

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
	"github.com/floodgate-dev/floodgate/internal/store/sqlite"
)

// scripted answers summarising calls with a function of the request.
type scripted struct {
	mu    sync.Mutex
	reqs  []*llm.Request
	reply func(n int, req *llm.Request) (string, error)
}

func (s *scripted) Complete(_ context.Context, req *llm.Request) (*llm.Response, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req.Clone())
	n := len(s.reqs)
	s.mu.Unlock()
	text, err := s.reply(n, req)
	if err != nil {
		return nil, err
	}
	return &llm.Response{Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.Text(text)}}}}, nil
}

func (s *scripted) calls() []*llm.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*llm.Request(nil), s.reqs...)
}

func fixed(text string) *scripted {
	return &scripted{reply: func(int, *llm.Request) (string, error) { return text, nil }}
}

// seedSession stores a session of n turns, turn i naming order 100000+i.
func seedSession(t testing.TB, n int) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "s.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	require.NoError(t, st.Create(ctx, &store.Session{Tenant: "t1", ID: "s1", Agent: "support"}))
	l, err := st.Acquire(ctx, "t1", "s1", "seed", time.Minute)
	require.NoError(t, err)
	for i := 1; i <= n; i++ {
		tr := turn(int64(i), 5)
		_, _, err := st.AppendTurn(ctx, "t1", "s1", l, tr)
		require.NoError(t, err)
	}
	require.NoError(t, st.Release(ctx, l))
	return st
}

// recObserver records what a Manager reports.
type recObserver struct {
	mu          sync.Mutex
	outcomes    []string
	unreachable atomic.Int64
}

func (o *recObserver) Overhead(string, time.Duration) {}
func (o *recObserver) Summarized(_, outcome string, _ time.Duration) {
	o.mu.Lock()
	o.outcomes = append(o.outcomes, outcome)
	o.mu.Unlock()
}
func (o *recObserver) FactsUnreachable(_ string, n int) { o.unreachable.Add(int64(n)) }

func manager(t testing.TB, p Policy, obs Observer) *Manager {
	t.Helper()
	m, err := New(Config{Agent: "support", Model: "large", SummaryModel: "small", Policy: p, Observer: obs})
	require.NoError(t, err)
	return m
}

func TestFoldCoversTurnsAndPinsFacts(t *testing.T) {
	ctx := context.Background()
	st := seedSession(t, 14)
	obs := &recObserver{}
	m := manager(t, Policy{}, obs)
	model := fixed("Summary of the conversation so far: The customer asked where their orders were.")

	res, err := m.Fold(ctx, model, st, Job{Tenant: "t1", Session: "s1", Agent: "support", From: 1, To: 4})
	require.NoError(t, err)
	assert.Equal(t, FoldResult{Outcome: OutcomeFolded, UpToSeq: 4, Turns: 4,
		Summary: "The customer asked where their orders were."}, res, "the label is dropped")
	reqs := model.calls()
	require.Len(t, reqs, 1)
	assert.Equal(t, "small", reqs[0].Model)
	assert.Contains(t, reqs[0].Messages[0].Content.String(), "exactly as written")
	tr := reqs[0].Messages[1].Content.String()
	assert.Contains(t, tr, "Summary so far:\n(none yet)")
	assert.Contains(t, tr, "\nCustomer: [#4] Where is my order 100004?")
	assert.Contains(t, tr, "\nTool: get_order_status returned {")
	assert.NotContains(t, tr, "[#5]", "only the leaving turns")

	sess, err := st.LoadSince(ctx, "t1", "s1", -1, 0)
	require.NoError(t, err)
	assert.Equal(t, store.Summary{Text: res.Summary, UpToSeq: 4, Version: 1}, sess.Summary)
	f, err := DecodeFacts(sess.Facts)
	require.NoError(t, err)
	for i := 1; i <= 4; i++ {
		assert.True(t, f.Has(KindOrder, fmt.Sprint(100000+i)), "order of turn %d pinned", i)
	}
	assert.False(t, f.Has(KindOrder, "100005"), "the window's turns are not summarised")

	// Delivered again, or overtaken: nothing to do.
	res, err = m.Fold(ctx, model, st, Job{Tenant: "t1", Session: "s1", Agent: "support", From: 1, To: 3})
	require.NoError(t, err)
	assert.Equal(t, OutcomeUpToDate, res.Outcome)
	assert.Len(t, model.calls(), 1, "no model call for a covered range")

	// The next job starts where the summary ends.
	res, err = m.Fold(ctx, model, st, Job{Tenant: "t1", Session: "s1", Agent: "support", From: 6, To: 6})
	require.NoError(t, err)
	assert.Equal(t, 2, res.Turns, "turns 5 and 6")
	tr = model.calls()[1].Messages[1].Content.String()
	assert.Contains(t, tr, "Summary so far:\nThe customer asked where their orders were.")
	assert.Contains(t, tr, "[#5]")
	assert.NotContains(t, tr, "[#4]")
	assert.Equal(t, []string{OutcomeFolded, OutcomeUpToDate, OutcomeFolded}, obs.outcomes)
	assert.Zero(t, obs.unreachable.Load())

	// A deleted session ends its jobs.
	require.NoError(t, st.Delete(ctx, "t1", "s1"))
	res, err = m.Fold(ctx, model, st, Job{Tenant: "t1", Session: "s1", To: 9})
	require.NoError(t, err)
	assert.Equal(t, OutcomeGone, res.Outcome)
}

func TestFoldKeepsTheSummaryWithinItsCap(t *testing.T) {
	long := strings.Repeat("The customer asked about an order and we looked it up for them. ", 20)
	tests := []struct {
		name        string
		reply       func(n int, req *llm.Request) (string, error)
		wantOutcome string
		wantCalls   int
	}{
		{name: "fits", reply: func(int, *llm.Request) (string, error) { return "Short.", nil }, wantOutcome: OutcomeFolded, wantCalls: 1},
		{name: "shortened on request", reply: func(n int, _ *llm.Request) (string, error) {
			if n == 1 {
				return long, nil
			}
			return "The customer asked about orders 100001 and 100002.", nil
		}, wantOutcome: OutcomeShortened, wantCalls: 2},
		{name: "cut at a sentence", reply: func(int, *llm.Request) (string, error) { return long, nil },
			wantOutcome: OutcomeTruncated, wantCalls: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := seedSession(t, 12)
			m := manager(t, Policy{SummaryTokens: 40}, nil)
			model := &scripted{reply: tt.reply}
			res, err := m.Fold(context.Background(), model, st, Job{Tenant: "t1", Session: "s1", To: 2})
			require.NoError(t, err)
			assert.Equal(t, tt.wantOutcome, res.Outcome)
			assert.Len(t, model.calls(), tt.wantCalls)
			assert.LessOrEqual(t, CounterFor("small").Count(res.Summary), 40)
			assert.True(t, strings.HasSuffix(res.Summary, "."), "whole sentences: %q", res.Summary)
		})
	}
}

func TestFoldCountsUnreachableFacts(t *testing.T) {
	st := seedSession(t, 14)
	obs := &recObserver{}
	m := manager(t, Policy{Facts: FactsPolicy{Max: 3}}, obs)
	res, err := m.Fold(context.Background(), fixed("Orders were asked about."), st, Job{Tenant: "t1", Session: "s1", To: 4})
	require.NoError(t, err)
	// Turns 1-4 name 4 orders; the 3 facts kept are those of the window.
	assert.Equal(t, 4, res.Unreachable)
	assert.EqualValues(t, 4, obs.unreachable.Load())
}

func TestFoldRacesAndFailures(t *testing.T) {
	st := seedSession(t, 14)
	m := manager(t, Policy{}, nil)
	// Two workers fold the same job at once: both end well, the summary
	// is written once.
	var arrived sync.WaitGroup
	arrived.Add(2)
	model := &scripted{reply: func(int, *llm.Request) (string, error) {
		arrived.Done()
		arrived.Wait()
		return "Both asked.", nil
	}}
	job := Job{Tenant: "t1", Session: "s1", To: 4}
	var wg sync.WaitGroup
	outcomes := make([]string, 2)
	for i := range 2 {
		wg.Go(func() {
			res, err := m.Fold(context.Background(), model, st, job)
			assert.NoError(t, err)
			outcomes[i] = res.Outcome
		})
	}
	wg.Wait()
	assert.ElementsMatch(t, []string{OutcomeFolded, OutcomeUpToDate}, outcomes)
	sess, err := st.LoadSince(context.Background(), "t1", "s1", -1, 0)
	require.NoError(t, err)
	assert.EqualValues(t, 1, sess.Summary.Version)

	boom := errors.New("model down")
	_, err = m.Fold(context.Background(), &scripted{reply: func(int, *llm.Request) (string, error) { return "", boom }}, st,
		Job{Tenant: "t1", Session: "s1", To: 8})
	assert.ErrorIs(t, err, boom)
	_, err = m.Fold(context.Background(), fixed("  "), st, Job{Tenant: "t1", Session: "s1", To: 8})
	assert.ErrorContains(t, err, "empty summary")
}

func TestJobID(t *testing.T) {
	a := Job{Tenant: "t1", Session: "s1", From: 3, To: 4}
	assert.Equal(t, a.ID(), a.ID())
	assert.NotEqual(t, a.ID(), Job{Tenant: "t1", Session: "s2", From: 3, To: 4}.ID())
	assert.NotEqual(t, a.ID(), Job{Tenant: "t1", Session: "s1", From: 3, To: 5}.ID())
	assert.Regexp(t, `^sum-[0-9a-f]{24}-3-4$`, a.ID())
}

func TestManagerJob(t *testing.T) {
	m := manager(t, Policy{RecentTurns: 10}, nil)
	tests := []struct {
		name       string
		summarized int64
		newSeq     int64
		w          Window
		want       int64 // Job.To, 0 for none
	}{
		{name: "early", newSeq: 5, w: Window{Turns: 4, FirstSeq: 1}},
		{name: "one leaves", newSeq: 11, w: Window{Turns: 10, FirstSeq: 1}, want: 1},
		{name: "already summarised", summarized: 1, newSeq: 11, w: Window{Turns: 10, FirstSeq: 1}},
		{name: "the budget left more out", summarized: 1, newSeq: 14, w: Window{Turns: 5, FirstSeq: 8}, want: 7},
		{name: "no history fit", summarized: 0, newSeq: 3, w: Window{}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, ok := m.Job("t1", "s1", tt.summarized, tt.newSeq, tt.w)
			assert.Equal(t, tt.want != 0, ok)
			if ok {
				assert.Equal(t, Job{Tenant: "t1", Session: "s1", Agent: "support", From: tt.summarized + 1, To: tt.want}, job)
			}
		})
	}
}

func TestTruncateSentences(t *testing.T) {
	c := CounterFor("small")
	text := "Order 100123 costs €42.50. It shipped on 2026-11-27! Is it late? The customer waits"
	assert.Equal(t, "Order 100123 costs €42.50.", truncateSentences(c, text, c.Count("Order 100123 costs €42.50. It")))
	assert.Equal(t, "Order 100123 costs €42.50. It shipped on 2026-11-27! Is it late?", truncateSentences(c, text, 1000))
	assert.Equal(t, "Order 100123…", truncateSentences(c, "Order 100123 costs a lot and more", c.Count("Order 100123…")))
	assert.Equal(t, "The customer asked.", cleanSummary("Summary: The customer asked."))
	assert.Equal(t, "Note: keep this.", cleanSummary("Note: keep this."))
}
