package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// published is one message a capturing publisher got.
type published struct {
	subject, id string
	data        []byte
}

// capture is a Publisher that keeps what it is given; failing makes it
// fail.
type capture struct {
	mu      sync.Mutex
	msgs    []published
	failing error
}

func (c *capture) Publish(_ context.Context, subject, msgID string, data []byte, _ map[string]string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failing != nil {
		return c.failing
	}
	c.msgs = append(c.msgs, published{subject, msgID, append([]byte(nil), data...)})
	return nil
}

func (c *capture) on(subject string) []published {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []published
	for _, m := range c.msgs {
		if m.subject == subject {
			out = append(out, m)
		}
	}
	return out
}

// receiver is a webhook endpoint that verifies signatures and answers with
// the statuses it is given, one per request (the last repeats).
type receiver struct {
	url      string
	secret   []byte
	statuses []int
	mu       sync.Mutex
	bodies   [][]byte
	verified []error
}

func newReceiver(t *testing.T, secret []byte, statuses ...int) *receiver {
	r := &receiver{secret: secret, statuses: statuses}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.bodies)
		r.bodies = append(r.bodies, body)
		r.verified = append(r.verified, VerifyWebhook(r.secret, req.Header.Get(WebhookSignatureHeader), body, time.Now(), time.Minute))
		status := r.statuses[min(n, len(r.statuses)-1)]
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/hook"
	return r
}

func (r *receiver) got() ([][]byte, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies...), append([]error(nil), r.verified...)
}

var testSecret = []byte("whsec_test")

func asyncEnv(t *testing.T, pub Publisher, mutate func(*Config)) *env {
	return newEnv(t, envOptions{config: func(c *Config) {
		c.Publisher = pub
		c.WebhookSecret = testSecret
		c.WebhookAllowPrivate = true // the test receivers listen on loopback
		c.WebhookBackoff = time.Millisecond
		if mutate != nil {
			mutate(c)
		}
	}})
}

func runResult(t *testing.T, rec *store.Run) *Result {
	t.Helper()
	var res Result
	require.NoError(t, json.Unmarshal(rec.Result, &res))
	return &res
}

func TestAsyncRun(t *testing.T) {
	pub := &capture{}
	sink := &usageSink{}
	env := asyncEnv(t, pub, func(c *Config) { c.Usage = sink })
	hook := newReceiver(t, testSecret, http.StatusOK)
	ctx := context.Background()

	rec, err := env.engine.Submit(ctx, RunRequest{Tenant: "acme", Agent: "support", UserID: "u1",
		Input: "Where is my order 100123?", Webhook: hook.url})
	require.NoError(t, err)
	assert.Equal(t, store.RunQueued, rec.Status)
	assert.NotEmpty(t, rec.SessionID, "the 202 names the session")
	msgs := pub.on(RunSubject("acme"))
	require.Len(t, msgs, 1)
	assert.Equal(t, rec.ID, msgs[0].id, "the run ID de-duplicates publishes")

	got, err := env.engine.GetRun(ctx, "acme", rec.ID)
	require.NoError(t, err)
	assert.Equal(t, store.RunQueued, got.Status)

	require.NoError(t, env.engine.HandleRunMessage(ctx, msgs[0].data, 1))
	got, err = env.engine.GetRun(ctx, "acme", rec.ID)
	require.NoError(t, err)
	assert.Equal(t, store.RunCompleted, got.Status)
	assert.Equal(t, 1, got.Attempts)
	res := runResult(t, got)
	assert.Equal(t, rec.ID, res.RunID)
	assert.Equal(t, rec.SessionID, res.SessionID)
	assert.Contains(t, res.Output, "100123")
	require.NotNil(t, res.Webhook)
	assert.Equal(t, &WebhookStatus{Delivered: true, Attempts: 1, Status: 200}, res.Webhook)

	bodies, verified := hook.got()
	require.Len(t, bodies, 1)
	assert.NoError(t, verified[0], "the signature verifies")
	var posted Result
	require.NoError(t, json.Unmarshal(bodies[0], &posted))
	assert.Equal(t, res.Output, posted.Output)
	assert.Equal(t, StatusCompleted, posted.Status)

	// Usage records went out for the run: one per model call, one for
	// the run.
	recs := sink.records()
	require.Len(t, recs, 3)
	run := recs[2]
	assert.Equal(t, ledger.Record{Kind: ledger.KindRun, RunID: rec.ID, At: run.At, Tenant: "acme", UserID: "u1",
		SessionID: rec.SessionID, Agent: "support", Intent: "order_status", Model: "large", Endpoint: "sim",
		TokensIn: int64(res.Usage.PromptTokens), TokensOut: int64(res.Usage.CompletionTokens),
		Cost: ledger.Dollars(res.Cost), Latency: run.Latency, Status: StatusCompleted}, run)
	for i, c := range recs[:2] {
		assert.Equal(t, ledger.KindCall, c.Kind)
		assert.Equal(t, rec.ID, c.RunID)
		assert.Equal(t, i+1, c.Call)
		assert.Equal(t, ledger.StatusOK, c.Status)
	}

	// Redelivery of a completed run runs nothing and posts nothing.
	calls := len(env.rec.snapshot())
	require.NoError(t, env.engine.HandleRunMessage(ctx, msgs[0].data, 2))
	assert.Len(t, env.rec.snapshot(), calls)
	bodies, _ = hook.got()
	assert.Len(t, bodies, 1)

	// Submitting the same RunID again returns the record, queues nothing.
	again, err := env.engine.Submit(ctx, RunRequest{Tenant: "acme", Agent: "support", Input: "Where is my order 100123?", RunID: rec.ID})
	require.NoError(t, err)
	assert.Equal(t, store.RunCompleted, again.Status)
	assert.Len(t, pub.on(RunSubject("acme")), 1)

	// Another tenant sees nothing.
	_, err = env.engine.GetRun(ctx, "other", rec.ID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestAsyncInterruptedAfterStoringIsReplayed(t *testing.T) {
	pub := &capture{}
	env := asyncEnv(t, pub, nil)
	ctx := context.Background()
	rec, err := env.engine.Submit(ctx, RunRequest{Tenant: "acme", Agent: "support", Input: "Where is my order 100123?"})
	require.NoError(t, err)
	// A worker ran the turn and died before recording the result.
	var req RunRequest
	require.NoError(t, json.Unmarshal(rec.Request, &req))
	first, err := env.engine.Run(ctx, req, nil)
	require.NoError(t, err)
	calls := len(env.rec.snapshot())

	require.NoError(t, env.engine.HandleRunMessage(ctx, pub.on(RunSubject("acme"))[0].data, 2))
	got, err := env.engine.GetRun(ctx, "acme", rec.ID)
	require.NoError(t, err)
	assert.Equal(t, store.RunCompleted, got.Status)
	res := runResult(t, got)
	assert.True(t, res.Replayed)
	assert.Equal(t, first.Output, res.Output)
	assert.Len(t, env.rec.snapshot(), calls, "the stored turn answers; nothing runs twice")
	sess, err := env.engine.Session(ctx, "acme", rec.SessionID)
	require.NoError(t, err)
	assert.Len(t, sess.Turns, 1)
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		give     []int
		want     WebhookStatus
		wantPost int
	}{
		{name: "first try", give: []int{200}, want: WebhookStatus{Delivered: true, Attempts: 1, Status: 200}, wantPost: 1},
		{name: "after 5xx", give: []int{503, 500, 204}, want: WebhookStatus{Delivered: true, Attempts: 3, Status: 204}, wantPost: 3},
		{name: "gives up", give: []int{502}, want: WebhookStatus{Attempts: 3, Status: 502, Error: "webhook: status 502"}, wantPost: 3},
		{name: "refused", give: []int{400}, want: WebhookStatus{Attempts: 1, Status: 400, Error: "webhook: status 400"}, wantPost: 1},
		{name: "rate limited", give: []int{429, 200}, want: WebhookStatus{Delivered: true, Attempts: 2, Status: 200}, wantPost: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openSQLite(t, "")
			t.Cleanup(func() { require.NoError(t, st.Close()) })
			e, err := New(Config{Agents: []Agent{{Name: "a", Model: "large"}}, Model: &scripted{steps: []func(*llm.Request) (*llm.Response, error){answer("ok")}},
				Sessions: st, Publisher: &capture{}, WebhookSecret: testSecret, WebhookAllowPrivate: true, WebhookBackoff: time.Millisecond})
			require.NoError(t, err)
			hook := newReceiver(t, testSecret, tt.give...)
			pub := e.pub.(*capture)
			ctx := context.Background()
			rec, err := e.Submit(ctx, RunRequest{Tenant: "t", Agent: "a", Input: "hi", Webhook: hook.url})
			require.NoError(t, err)
			require.NoError(t, e.HandleRunMessage(ctx, pub.on(RunSubject("t"))[0].data, 1))
			got, err := e.GetRun(ctx, "t", rec.ID)
			require.NoError(t, err)
			res := runResult(t, got)
			assert.Equal(t, &tt.want, res.Webhook)
			bodies, verified := hook.got()
			assert.Len(t, bodies, tt.wantPost)
			for _, v := range verified {
				assert.NoError(t, v)
			}
		})
	}
}

func TestHandleRunMessageFailures(t *testing.T) {
	pub := &capture{}
	env := asyncEnv(t, pub, func(c *Config) {
		c.LeaseWait = 20 * time.Millisecond
		c.RunAttempts = 2
	})
	ctx := context.Background()

	// Malformed messages and runs without a record are dropped (acked).
	assert.NoError(t, env.engine.HandleRunMessage(ctx, []byte("{not json"), 1))
	assert.NoError(t, env.engine.HandleRunMessage(ctx, []byte(`{"tenant":"acme","run_id":"nope"}`), 1))

	// A stored request naming an agent that no longer exists fails for good.
	bad, _ := json.Marshal(RunRequest{Tenant: "acme", Agent: "retired", Input: "hi", RunID: "r-bad", SessionID: "s-bad"})
	require.NoError(t, env.store.PutRun(ctx, &store.Run{Tenant: "acme", ID: "r-bad", SessionID: "s-bad", Agent: "retired", Status: store.RunQueued, Request: bad}))
	assert.NoError(t, env.engine.HandleRunMessage(ctx, []byte(`{"tenant":"acme","run_id":"r-bad"}`), 1))
	got, err := env.engine.GetRun(ctx, "acme", "r-bad")
	require.NoError(t, err)
	assert.Equal(t, store.RunFailed, got.Status)
	assert.Equal(t, "agent_not_found", runResult(t, got).Error.Code)

	// A busy session is retried by redelivery, then given up on.
	rec, err := env.engine.Submit(ctx, RunRequest{Tenant: "acme", Agent: "support", SessionID: "busy", Input: "Hello"})
	require.NoError(t, err)
	held, err := env.store.Acquire(ctx, "acme", "busy", "someone", time.Minute)
	require.NoError(t, err)
	defer func() { require.NoError(t, env.store.Release(ctx, held)) }()
	data := pub.on(RunSubject("acme"))[0].data
	err = env.engine.HandleRunMessage(ctx, data, 1)
	assert.ErrorIs(t, err, ErrSessionBusy, "another delivery may find the session free")
	got, err = env.engine.GetRun(ctx, "acme", rec.ID)
	require.NoError(t, err)
	assert.Equal(t, store.RunRunning, got.Status)

	assert.NoError(t, env.engine.HandleRunMessage(ctx, data, 2), "the last attempt records the failure")
	got, err = env.engine.GetRun(ctx, "acme", rec.ID)
	require.NoError(t, err)
	assert.Equal(t, store.RunFailed, got.Status)
	assert.Equal(t, 2, got.Attempts)
	assert.Equal(t, "session_busy", runResult(t, got).Error.Code)
}

func TestSubmitErrors(t *testing.T) {
	pub := &capture{}
	env := asyncEnv(t, pub, nil)
	noSecret := newEnv(t, envOptions{config: func(c *Config) { c.Publisher = pub }})
	public := newEnv(t, envOptions{config: func(c *Config) { c.Publisher, c.WebhookSecret = pub, testSecret }})
	noQueue := newEnv(t, envOptions{})
	tests := []struct {
		name string
		give *Engine
		req  RunRequest
		want error
	}{
		{name: "no publisher", give: noQueue.engine, req: RunRequest{Tenant: "t", Agent: "support", Input: "hi"}, want: ErrAsyncDisabled},
		{name: "unknown agent", give: env.engine, req: RunRequest{Tenant: "t", Agent: "x", Input: "hi"}, want: ErrUnknownAgent},
		{name: "bad webhook", give: env.engine, req: RunRequest{Tenant: "t", Agent: "support", Input: "hi", Webhook: "ftp://x"}, want: ErrInvalidRequest},
		{name: "webhook without secret", give: noSecret.engine, req: RunRequest{Tenant: "t", Agent: "support", Input: "hi", Webhook: "http://x/"}, want: ErrInvalidRequest},
		{name: "webhook to the metadata service", give: public.engine, req: RunRequest{Tenant: "t", Agent: "support", Input: "hi",
			Webhook: "http://169.254.169.254/latest/meta-data/"}, want: ErrInvalidRequest},
		{name: "webhook to loopback", give: public.engine, req: RunRequest{Tenant: "t", Agent: "support", Input: "hi",
			Webhook: "http://[::1]:8080/admin"}, want: ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.give.Submit(context.Background(), tt.req)
			assert.ErrorIs(t, err, tt.want)
		})
	}

	// A run that cannot be published is recorded as failed, not left queued.
	pub.failing = errors.New("no responders")
	_, err := env.engine.Submit(context.Background(), RunRequest{Tenant: "t", Agent: "support", Input: "hi", RunID: "r-lost"})
	require.Error(t, err)
	got, err := env.engine.GetRun(context.Background(), "t", "r-lost")
	require.NoError(t, err)
	assert.Equal(t, store.RunFailed, got.Status)
}
