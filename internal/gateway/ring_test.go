package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/ratelimit"
)

// routed is one call of fakeForwarder.Route.
type routed struct {
	tenant, session, body string
}

// fakeForwarder plays ring.Forwarder: it records each call and serves
// the request at owner, as if proxied there and accepted as forwarded,
// or locally when owner is nil.
type fakeForwarder struct {
	owner http.Handler

	mu    sync.Mutex
	calls []routed
}

func (f *fakeForwarder) Route(w http.ResponseWriter, r *http.Request, tenant, session string, local http.Handler) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		panic(err)
	}
	f.mu.Lock()
	f.calls = append(f.calls, routed{tenant, session, string(body)})
	f.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if f.owner == nil || r.Header.Get("X-Test-Forwarded") != "" {
		local.ServeHTTP(w, r)
		return
	}
	out := r.Clone(r.Context())
	out.Header.Set("X-Test-Forwarded", "1")
	f.owner.ServeHTTP(w, out)
}

func (f *fakeForwarder) all() []routed {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]routed(nil), f.calls...)
}

// node is a gateway of a two-node test cluster.
type node struct {
	h      http.Handler
	agents *fakeAgents
	fwd    *fakeForwarder
	obs    *recordingObserver
	claims []string // tenant/session
}

// cluster returns an entry node whose turns all go to an owner node. Each
// has its own limiter, with tier "pro" (tenant bigco) at 100 requests a
// minute, a burst of 2.
func cluster(t *testing.T) (entry, owner *node) {
	t.Helper()
	mk := func(name string, to *node) *node {
		n := &node{agents: &fakeAgents{}, fwd: &fakeForwarder{}, obs: &recordingObserver{}}
		if to != nil {
			n.fwd.owner = to.h
		}
		cfg := testConfig()
		lim, err := ratelimit.New(ratelimit.Config{})
		require.NoError(t, err)
		cfg.Limiter = lim
		cfg.Tiers["pro"] = Tier{MaxN: 4, Limits: Limits{RequestsPerMinute: 100}}
		cfg.Agents, cfg.Forwarder, cfg.Node, cfg.Observer = n.agents, n.fwd, name, n.obs
		cfg.ClaimSession = func(_ context.Context, tenant, session string) {
			n.claims = append(n.claims, tenant+"/"+session)
		}
		n.h = newServer(t, cfg, &fakeBackend{}).Handler()
		return n
	}
	owner = mk("owner", nil)
	return mk("entry", owner), owner
}

func TestRunOfKnownSessionServedByOwner(t *testing.T) {
	entry, owner := cluster(t)
	body := `{"session_id":"s1","input":"where is 100123?"}`
	w := call(entry.h, "POST", "/v1/agents/support/runs", keyStandard, body, "Idempotency-Key: k1")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "owner", w.Header().Get(HeaderNode))
	assert.Len(t, w.Header().Values(hdrRequestID), 1, "one request id, whoever served it")

	assert.Equal(t, []routed{{"acme", "s1", body}}, entry.fwd.all(), "routed by tenant and session, with the whole body")
	assert.Empty(t, entry.agents.reqs, "the entry node runs nothing")
	require.Len(t, owner.agents.reqs, 1)
	assert.Equal(t, engine.RunRequest{Tenant: "acme", Tier: StandardTier, Agent: "support", SessionID: "s1", Input: "where is 100123?", RunID: "k1"}, owner.agents.reqs[0])
	assert.Empty(t, entry.claims)
	assert.Empty(t, owner.claims, "a known session is not claimed")

	routes := func(n *node) (out []string) {
		for _, o := range n.obs.all() {
			out = append(out, o.route)
		}
		return out
	}
	assert.Equal(t, []string{routeForwarded}, routes(entry), "observed once under its route, by the owner")
	assert.Equal(t, []string{routeAgentRuns}, routes(owner))
}

func TestAgentChatOfKnownSessionServedByOwner(t *testing.T) {
	tests := []struct {
		name, body, header, wantSession string
	}{
		{name: "session header", body: `{"model":"agent:support","messages":[{"role":"user","content":"hi"}]}`,
			header: "X-Session-Id: s2", wantSession: "s2"},
		{name: "user field", body: `{"model":"agent:support","user":"u7","messages":[{"role":"user","content":"hi"}]}`,
			wantSession: "u7"},
		{name: "streamed", body: `{"model":"agent:support","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
			header: "X-Session-Id: s3", wantSession: "s3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry, owner := cluster(t)
			w := call(entry.h, "POST", "/v1/chat/completions", keyStandard, tt.body, tt.header)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, "owner", w.Header().Get(HeaderNode))
			assert.Equal(t, []routed{{"acme", tt.wantSession, tt.body}}, entry.fwd.all())
			assert.Empty(t, entry.agents.reqs)
			require.Len(t, owner.agents.reqs, 1)
			assert.Equal(t, tt.wantSession, owner.agents.reqs[0].SessionID)
		})
	}
}

// TestForwardedTurnChargedOnceOnOwner: the entry node neither rate limits
// nor admits a turn it forwards; the owner does, and its refusal reaches
// the client.
func TestForwardedTurnChargedOnceOnOwner(t *testing.T) {
	entry, owner := cluster(t)
	run := `{"session_id":"s1","input":"hi"}`
	for i := range 2 {
		w := call(entry.h, "POST", "/v1/agents/support/runs", keyPro, run)
		require.Equal(t, http.StatusOK, w.Code, "turn %d: %s", i, w.Body.String())
	}
	for i := range 2 {
		w := call(entry.h, "POST", "/v1/chat/completions", keyPro, chatBody(""))
		require.Equal(t, http.StatusOK, w.Code, "the entry node's own burst is whole: request %d", i)
	}
	w := call(entry.h, "POST", "/v1/agents/support/runs", keyPro, run)
	require.Equal(t, http.StatusTooManyRequests, w.Code, "the owner's burst is spent")
	assert.Equal(t, "owner", w.Header().Get(HeaderNode))
	assert.Len(t, owner.agents.reqs, 2)
}

func TestNewSessionServedHereAndClaimed(t *testing.T) {
	tests := []struct {
		name, path, body string
	}{
		{name: "run", path: "/v1/agents/support/runs", body: `{"input":"hi"}`},
		{name: "streamed run", path: "/v1/agents/support/runs", body: `{"input":"hi","stream":true}`},
		{name: "agent chat", path: "/v1/chat/completions", body: `{"model":"agent:support","messages":[{"role":"user","content":"hi"}]}`},
		{name: "streamed agent chat", path: "/v1/chat/completions", body: `{"model":"agent:support","stream":true,"messages":[{"role":"user","content":"hi"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry, owner := cluster(t)
			w := call(entry.h, "POST", tt.path, keyStandard, tt.body)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			assert.Equal(t, "entry", w.Header().Get(HeaderNode))
			assert.Empty(t, entry.fwd.all(), "nothing to route by")
			assert.Len(t, entry.agents.reqs, 1)
			assert.Empty(t, owner.agents.reqs)
			assert.Equal(t, []string{"acme/sess_1"}, entry.claims, "the session the run created")
		})
	}
}

func TestOwnedHereServedOnce(t *testing.T) {
	n, _ := cluster(t)
	n.fwd.owner = nil // this node owns every session
	w := call(n.h, "POST", "/v1/chat/completions", keyStandard,
		`{"model":"agent:support","messages":[{"role":"user","content":"where is 100123?"}]}`, "X-Session-Id: s9")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, "entry", w.Header().Get(HeaderNode))
	assert.Len(t, n.fwd.all(), 1, "routed once, not again when served here")
	require.Len(t, n.agents.reqs, 1)
	assert.Equal(t, "where is 100123?", n.agents.reqs[0].Input, "the body read again from the start")
	var resp struct {
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	assert.Equal(t, "Order where is 100123?", resp.Choices[0].Message.Content)
}

func TestNotRouted(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{name: "plain model", method: "POST", path: "/v1/chat/completions", body: chatBody(""), want: http.StatusOK},
		{name: "async run without session", method: "POST", path: "/v1/agents/support/runs", body: `{"input":"x","async":true}`, want: http.StatusAccepted},
		{name: "session read", method: "GET", path: "/v1/sessions/s1", want: http.StatusNotFound},
		{name: "bad body", method: "POST", path: "/v1/agents/support/runs", body: `{"session_id":"s1","sesion":"x"}`, want: http.StatusBadRequest},
		{name: "too large", method: "POST", path: "/v1/agents/support/runs", body: `{"session_id":"s1","input":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}`, want: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			entry, _ := cluster(t)
			w := call(entry.h, tt.method, tt.path, keyStandard, tt.body)
			assert.Equal(t, tt.want, w.Code, w.Body.String())
			assert.Empty(t, entry.fwd.all())
		})
	}
	t.Run("unauthenticated", func(t *testing.T) {
		entry, owner := cluster(t)
		w := call(entry.h, "POST", "/v1/agents/support/runs", "sk-wrong", `{"session_id":"s1","input":"x"}`)
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.Empty(t, entry.fwd.all(), "nobody is forwarded before authentication")
		assert.Empty(t, owner.agents.reqs)
	})
}

// localForwarder serves every request here, as ring.Forwarder does for a
// session this node owns, without reading the body.
type localForwarder struct{}

func (localForwarder) Route(w http.ResponseWriter, r *http.Request, _, _ string, local http.Handler) {
	local.ServeHTTP(w, r)
}

// BenchmarkTurnRouting measures what routing adds to an agent turn this
// node owns (the common case): the run API puts the body back, an agent
// chat is parsed a second time. "direct" is the same turn without a
// Forwarder.
func BenchmarkTurnRouting(b *testing.B) {
	a := &fakeAgents{run: func(_ context.Context, req engine.RunRequest, _ func(engine.Event)) (*engine.Result, error) {
		return &engine.Result{RunID: "r", SessionID: req.SessionID, Agent: req.Agent, Output: "ok", Status: engine.StatusCompleted}, nil
	}}
	for _, tt := range []struct{ name, path, body string }{
		{name: "run", path: "/v1/agents/support/runs", body: `{"session_id":"s1","input":"Where is my order 100123?"}`},
		{name: "chat", path: "/v1/chat/completions", body: `{"model":"agent:support","user":"s1","messages":[{"role":"user","content":"Where is my order 100123?"}]}`},
	} {
		for _, fwd := range []Forwarder{nil, localForwarder{}} {
			mode := "direct"
			if fwd != nil {
				mode = "routed"
			}
			b.Run(tt.name+"/"+mode, func(b *testing.B) {
				cfg := testConfig()
				cfg.Agents, cfg.Forwarder = a, fwd
				h := newServer(b, cfg, &fakeBackend{}).Handler()
				r, _ := benchRequest(tt.body)
				r.URL.Path = tt.path
				hdr := r.Header
				body := strings.NewReader(tt.body)
				w := &benchWriter{h: http.Header{}}
				b.ReportAllocs()
				for b.Loop() {
					// Routing puts its own body and request id on r.
					body.Reset(tt.body)
					r.Body, r.ContentLength, r.Header = io.NopCloser(body), int64(len(tt.body)), hdr.Clone()
					w.reset()
					h.ServeHTTP(w, r)
					if w.status != http.StatusOK {
						b.Fatalf("status %d", w.status)
					}
				}
			})
		}
	}
}
