package gateway

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/ledger"
	"github.com/floodgate-dev/floodgate/internal/llm"
)

const keyAdmin = "sk-admin-0123456789"

func TestAdminRoutes(t *testing.T) {
	cfg := testConfig()
	cfg.AdminKeys = []string{HashKey(keyAdmin)}
	s := newServer(t, cfg, &fakeBackend{})
	s.HandleAdmin("GET /admin/usage", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"rows":[]}`))
	}))
	h := s.Handler()

	w := call(h, "GET", "/admin/usage", keyAdmin, "")
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `{"rows":[]}`, w.Body.String())

	w = call(h, "GET", "/admin/usage", "", "")
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	errorBody(t, w)
	w = call(h, "GET", "/admin/usage", "sk-nobody", "")
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	w = call(h, "GET", "/admin/usage", keyStandard, "")
	assert.Equal(t, http.StatusForbidden, w.Code, "a tenant's key is not an admin key")
	assert.Equal(t, "not_admin", *errorBody(t, w).Code)
}

type recorder struct {
	mu   sync.Mutex
	recs []*ledger.Record
}

func (r *recorder) Publish(rec *ledger.Record) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return true
}

func TestChatUsageRecorded(t *testing.T) {
	cfg := guardConfig(t)
	rec := &recorder{}
	cfg.Usage = rec
	b := &fakeBackend{complete: func(_ context.Context, req *llm.Request) (*llm.Response, error) {
		r := textResponse(req.Model, "ok")
		r.Usage = &llm.Usage{PromptTokens: 1000, CompletionTokens: 100, TotalTokens: 1100}
		return r, nil
	}}
	h := newServer(t, cfg, b).Handler()
	w := call(h, "POST", "/v1/chat/completions", keyPro, chatBody(""), "X-Request-Id: req-42")
	require.Equal(t, http.StatusOK, w.Code)
	require.Len(t, rec.recs, 1)
	r := rec.recs[0]
	assert.Equal(t, "req-42", r.ID)
	assert.Equal(t, "bigco", r.Tenant)
	assert.Equal(t, "pro", r.Tier)
	assert.Equal(t, "large", r.Model)
	assert.Equal(t, int64(1000), r.TokensIn)
	assert.Equal(t, int64(100), r.TokensOut)
	assert.Equal(t, ledger.Dollars(0.0035), r.Cost, "1,000 in at $2.50/M and 100 out at $10/M")
	assert.Equal(t, ledger.StatusOK, r.Status)

	b.complete = func(context.Context, *llm.Request) (*llm.Response, error) {
		return nil, &llm.Error{Kind: llm.KindUnavailable, Message: "down"}
	}
	w = call(h, "POST", "/v1/chat/completions", keyPro, chatBody(""))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.Len(t, rec.recs, 2)
	assert.Equal(t, ledger.StatusError, rec.recs[1].Status)
}

func TestExpiredKey(t *testing.T) {
	cfg := testConfig()
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	cfg.Now = func() time.Time { return now }
	cfg.Tenants[0].KeyExpiry = map[string]time.Time{HashKey(keyStandard): now.Add(time.Hour)}
	h := newServer(t, cfg, &fakeBackend{}).Handler()
	require.Equal(t, http.StatusOK, call(h, "POST", "/v1/chat/completions", keyStandard, chatBody("")).Code)

	now = now.Add(time.Hour)
	w := call(h, "POST", "/v1/chat/completions", keyStandard, chatBody(""))
	require.Equal(t, http.StatusUnauthorized, w.Code)
	e := errorBody(t, w)
	assert.Equal(t, "invalid_api_key", *e.Code)
	assert.Contains(t, e.Message, "expired")
	assert.Equal(t, http.StatusOK, call(h, "POST", "/v1/chat/completions", keyPro, chatBody("")).Code, "other tenants' keys are unaffected")

	cfg.Tenants[0].KeyExpiry = map[string]time.Time{HashKey(keyPro): now}
	_, err := New(cfg, &fakeBackend{})
	assert.ErrorContains(t, err, "not one of its keys")
}
