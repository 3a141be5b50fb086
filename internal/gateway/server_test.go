package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func jsonUnmarshalStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func TestNewRejectsBadConfig(t *testing.T) {
	good := testConfig
	tests := []struct {
		name   string
		give   func(*Config)
		wantIn string
	}{
		{"negative body limit", func(c *Config) { c.MaxBodyBytes = -1 }, "negative limit"},
		{"tenant without id", func(c *Config) { c.Tenants = append(c.Tenants, Tenant{}) }, "tenant without ID"},
		{"tenant twice", func(c *Config) { c.Tenants = append(c.Tenants, Tenant{ID: "acme"}) }, "defined twice"},
		{"unknown tier", func(c *Config) { c.Tenants = append(c.Tenants, Tenant{ID: "x", Tier: "gold"}) }, `unknown tier "gold"`},
		{"bad hash", func(c *Config) { c.Tenants = append(c.Tenants, Tenant{ID: "x", KeyHashes: []string{"abc"}}) }, "want 64 hex digits"},
		{"non-hex hash", func(c *Config) {
			c.Tenants = append(c.Tenants, Tenant{ID: "x", KeyHashes: []string{strings.Repeat("z", 64)}})
		}, "invalid byte"},
		{"key shared by tenants", func(c *Config) {
			c.Tenants = append(c.Tenants, Tenant{ID: "x", KeyHashes: []string{HashKey(keyStandard)}})
		}, `already belongs to tenant "acme"`},
		{"tier names unknown model", func(c *Config) { c.Tiers["bad"] = Tier{Models: []string{"gpt-4o"}} }, "not a canonical model"},
		{"tier default above cap", func(c *Config) { c.Tiers["bad"] = Tier{MaxOutputTokens: 10, DefaultOutputTokens: 20} }, "above MaxOutputTokens"},
		{"tier negative", func(c *Config) { c.Tiers["bad"] = Tier{MaxN: -1} }, "negative limit"},
		{"alias clash", func(c *Config) { c.Models = append(c.Models, Model{Name: "tiny", Aliases: []string{"gpt-4o"}}) }, "used twice"},
		{"empty model name", func(c *Config) { c.Models = append(c.Models, Model{}) }, "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.give(&cfg)
			_, err := New(cfg, &fakeBackend{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantIn)
		})
	}
	_, err := New(good(), nil)
	assert.Error(t, err, "nil backend")
}

func TestNewDefaults(t *testing.T) {
	s := newServer(t, Config{}, &fakeBackend{})
	assert.Equal(t, int64(DefaultMaxBodyBytes), s.cfg.MaxBodyBytes)
	assert.Equal(t, DefaultMaxJSONDepth, s.cfg.MaxJSONDepth)
	assert.Equal(t, DefaultMaxMessages, s.cfg.MaxMessages)
	assert.Equal(t, DefaultDrainTimeout, s.cfg.DrainTimeout)
	assert.Equal(t, DefaultRequestTimeout, s.cfg.RequestTimeout)
	assert.NotNil(t, s.cfg.Logger)
	w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(""))
	assert.Equal(t, http.StatusUnauthorized, w.Code, "no tenants: every key is refused")
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name       string
		headers    []string
		wantStatus int
		wantCode   *string
		wantTenant string
		wantMsg    string
	}{
		{"missing", nil, 401, nil, "", "You didn't provide an API key"},
		{"empty bearer", []string{"Authorization: Bearer "}, 401, nil, "", "You didn't provide an API key"},
		{"basic auth", []string{"Authorization: Basic " + keyStandard}, 401, nil, "", "You didn't provide an API key"},
		{"unknown key", []string{"Authorization: Bearer sk-nope"}, 401, ptr("invalid_api_key"), "", "Incorrect API key"},
		{"bearer", []string{"Authorization: Bearer " + keyStandard}, 200, nil, "acme", ""},
		{"lowercase scheme", []string{"Authorization: bearer " + keyPro}, 200, nil, "bigco", ""},
		{"azure api-key", []string{"api-key: " + keyLimited}, 200, nil, "tiny", ""},
		{"unknown bearer wins over nothing", []string{"Authorization: Bearer sk-nope", "api-key: " + keyStandard}, 401, ptr("invalid_api_key"), "", "Incorrect API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{}
			s := newServer(t, testConfig(), b)
			w := call(s.Handler(), "POST", "/v1/chat/completions", "", `{"model":"small","messages":[{"role":"user","content":"hi"}]}`, tt.headers...)
			require.Equal(t, tt.wantStatus, w.Code, w.Body.String())
			if tt.wantStatus != 200 {
				e := errorBody(t, w)
				assert.Equal(t, llm.TypeInvalidRequest, e.Type)
				assert.Equal(t, tt.wantCode, e.Code)
				assert.Contains(t, e.Message, tt.wantMsg)
				assert.NotContains(t, w.Body.String(), "sk-", "keys are never echoed")
				return
			}
			ctx, _ := b.last()
			id, ok := TenantFrom(ctx)
			require.True(t, ok)
			assert.Equal(t, tt.wantTenant, id.Tenant)
		})
	}
}

func ptr(s string) *string { return &s }

func TestTenantFrom(t *testing.T) {
	_, ok := TenantFrom(context.Background())
	assert.False(t, ok)
	id := &Identity{Tenant: "t", Tier: "standard"}
	got, ok := TenantFrom(WithTenant(context.Background(), id))
	assert.True(t, ok)
	assert.Same(t, id, got)
}

func TestRequestID(t *testing.T) {
	generated := regexp.MustCompile(`^fg-[a-z2-7]{16}-[0-9a-z]+$`)
	tests := []struct {
		name     string
		path     string
		give     string
		wantEcho bool
	}{
		{"client id echoed", "/v1/chat/completions", "req-abc 123", true},
		{"client id on error", "/nope", "req-42", true},
		{"128 chars accepted", "/healthz", strings.Repeat("a", 128), true},
		{"129 chars replaced", "/healthz", strings.Repeat("a", 129), false},
		{"non-ASCII replaced", "/healthz", "réq", false},
		{"control replaced", "/healthz", "a\x7fb", false},
		{"none generated", "/healthz", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, testConfig(), &fakeBackend{})
			var hdr []string
			if tt.give != "" {
				hdr = []string{"X-Request-Id: " + tt.give}
			}
			w := call(s.Handler(), "POST", tt.path, keyStandard, chatBody(""), hdr...)
			got := w.Header().Get("X-Request-Id")
			if tt.wantEcho {
				assert.Equal(t, tt.give, got)
				return
			}
			assert.Regexp(t, generated, got)
		})
	}
	s := newServer(t, testConfig(), &fakeBackend{})
	a := call(s.Handler(), "GET", "/healthz", "", "").Header().Get("X-Request-Id")
	b := call(s.Handler(), "GET", "/healthz", "", "").Header().Get("X-Request-Id")
	assert.NotEqual(t, a, b)
}

func TestRoutesNotFoundAndMethod(t *testing.T) {
	tests := []struct {
		method, path string
		wantStatus   int
		wantAllow    string
		wantCode     string
	}{
		{"POST", "/v1/completions", 404, "", "unknown_url"},
		{"GET", "/", 404, "", "unknown_url"},
		{"POST", "/v1/chat/completions/", 404, "", "unknown_url"},
		{"GET", "/v1/chat/completions", 405, "POST", "method_not_allowed"},
		{"DELETE", "/v1/models", 405, "GET, HEAD", "method_not_allowed"},
		{"POST", "/healthz", 405, "GET, HEAD", "method_not_allowed"},
		{"PUT", "/v1/models/large", 405, "GET, HEAD", "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			s := newServer(t, testConfig(), &fakeBackend{})
			w := call(s.Handler(), tt.method, tt.path, keyStandard, "")
			require.Equal(t, tt.wantStatus, w.Code)
			assert.Equal(t, tt.wantAllow, w.Header().Get("Allow"))
			e := errorBody(t, w)
			assert.Equal(t, llm.TypeInvalidRequest, e.Type)
			assert.Equal(t, tt.wantCode, *e.Code)
		})
	}
}

func TestCompleteHappyPath(t *testing.T) {
	b := &fakeBackend{}
	s := newServer(t, testConfig(), b)
	w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard,
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"n":3,"store":true}`)
	require.Equal(t, 200, w.Code, w.Body.String())
	assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
	assert.Equal(t, w.Header().Get("Content-Length"), itoa(w.Body.Len()))
	assert.Equal(t, "model gpt-4o resolved to large; n capped to 1; store removed", w.Header().Get("X-Floodgate-Normalized"))
	var resp llm.Response
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &resp))
	assert.Equal(t, "Hello!", resp.Choices[0].Message.Content.String())
	_, req := b.last()
	assert.Equal(t, "large", req.Model)
	assert.Equal(t, 1, *req.N)
	assert.Nil(t, req.Store)

	w = call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(""))
	assert.Empty(t, w.Header().Values("X-Floodgate-Normalized"), "no header when nothing changed")
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestTierApplied(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		give       string
		wantStatus int
		wantMax    int
	}{
		{"pro keeps big ask", keyPro, `{"model":"large","messages":[{"role":"user","content":"x"}],"max_tokens":5000}`, 200, 5000},
		{"limited is capped", keyLimited, `{"model":"small","messages":[{"role":"user","content":"x"}],"max_tokens":5000}`, 200, 256},
		{"limited may not use large", keyLimited, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`, 403, 0},
		{"unknown model", keyPro, `{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}`, 404, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{}
			s := newServer(t, testConfig(), b)
			w := call(s.Handler(), "POST", "/v1/chat/completions", tt.key, tt.give)
			require.Equal(t, tt.wantStatus, w.Code, w.Body.String())
			if tt.wantStatus != 200 {
				e := errorBody(t, w)
				assert.Equal(t, "model", *e.Param)
				return
			}
			_, req := b.last()
			assert.Equal(t, tt.wantMax, req.MaxOutputTokens())
		})
	}
}

func TestBadInputIsAlways4xx(t *testing.T) {
	tests := []struct {
		name       string
		give       string
		wantStatus int
	}{
		{"empty body", "", 400},
		{"null", "null", 400},
		{"array", `[{"model":"large"}]`, 400},
		{"number", `42`, 400},
		{"truncated", `{"model":"large","messages":[{"role":"us`, 400},
		{"10000 open brackets", strings.Repeat("[", 10000), 400},
		{"deeply nested object", `{"model":"large","x":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat(`}`, 10000) + `}`, 400},
		{"wrong-typed messages", `{"model":"large","messages":"hi"}`, 400},
		{"wrong-typed max_tokens", `{"model":"large","messages":[{"role":"user","content":"x"}],"max_tokens":"lots"}`, 400},
		{"non-UTF-8", "{\"model\":\"large\",\"messages\":[{\"role\":\"user\",\"content\":\"\xc3\x28\"}]}", 400},
		{"NUL bytes", "\x00\x00\x00", 400},
		{"oversize", `{"model":"large","messages":[{"role":"user","content":"` + strings.Repeat("x", 64<<10) + `"}]}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.MaxBodyBytes = 64 << 10
			s := newServer(t, cfg, &fakeBackend{})
			w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, tt.give)
			require.Equal(t, tt.wantStatus, w.Code, w.Body.String())
			e := errorBody(t, w)
			assert.Equal(t, llm.TypeInvalidRequest, e.Type)
		})
	}
}

func TestOversizeWithoutContentLength(t *testing.T) {
	cfg := testConfig()
	cfg.MaxBodyBytes = 100
	s := newServer(t, cfg, &fakeBackend{})
	body := chatBody(`"user":"` + strings.Repeat("x", 200) + `"`)
	r := httptest.NewRequest("POST", "/v1/chat/completions", io.MultiReader(strings.NewReader(body)))
	r.ContentLength = -1
	r.Header.Set("Authorization", "Bearer "+keyStandard)
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Equal(t, "request_too_large", *errorBody(t, w).Code)

	w = call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, `{"model":"large","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 200, w.Code, "exactly-fitting bodies pass: %s", w.Body.String())
}

func TestBackendErrors(t *testing.T) {
	tests := []struct {
		name           string
		give           error
		wantStatus     int
		wantType       string
		wantRetryAfter string
	}{
		{"invalid request", &llm.Error{Kind: llm.KindInvalidRequest, Message: "context too long", Param: "messages", Code: "context_length_exceeded"}, 400, llm.TypeInvalidRequest, ""},
		{"content filter", &llm.Error{Kind: llm.KindContentFilter, Message: "filtered"}, 400, llm.TypeInvalidRequest, ""},
		{"permission", &llm.Error{Kind: llm.KindAuth, Status: 403, Type: llm.TypePermission, Message: "no"}, 403, llm.TypePermission, ""},
		{"not found", &llm.Error{Kind: llm.KindNotFound, Message: "gone"}, 404, llm.TypeInvalidRequest, ""},
		{"rate limited with hint", &llm.Error{Kind: llm.KindRateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, llm.TypeRateLimit, "2"},
		{"rate limited exact seconds", &llm.Error{Kind: llm.KindRateLimited, Message: "slow down", RetryAfter: 3 * time.Second}, 429, llm.TypeRateLimit, "3"},
		{"rate limited without hint", &llm.Error{Kind: llm.KindRateLimited, Message: "slow down"}, 429, llm.TypeRateLimit, "1"},
		{"rate limited tiny hint", &llm.Error{Kind: llm.KindRateLimited, Message: "slow down", RetryAfter: time.Millisecond}, 429, llm.TypeRateLimit, "1"},
		{"unavailable with hint", &llm.Error{Kind: llm.KindUnavailable, Message: "all endpoints down", RetryAfter: 10 * time.Second}, 503, llm.TypeUnavailable, "10"},
		{"unavailable without hint", &llm.Error{Kind: llm.KindUnavailable, Message: "all endpoints down"}, 503, llm.TypeUnavailable, ""},
		{"timeout", &llm.Error{Kind: llm.KindTimeout, Message: "too slow"}, 504, llm.TypeTimeout, ""},
		{"server", &llm.Error{Kind: llm.KindServer, Message: "upstream 500", Endpoint: "ep1"}, 502, llm.TypeServer, ""},
		{"connect", &llm.Error{Kind: llm.KindConnect, Message: "refused"}, 502, llm.TypeServer, ""},
		{"wrapped", errors.Join(errors.New("ctx"), &llm.Error{Kind: llm.KindServer, Status: 500, Message: "boom"}), 500, llm.TypeServer, ""},
		{"deadline", context.DeadlineExceeded, 504, llm.TypeTimeout, ""},
		{"plain error", errors.New("secret detail"), 503, llm.TypeServer, ""},
		{"odd status", &llm.Error{Kind: llm.KindServer, Status: 200, Message: "odd"}, 502, llm.TypeServer, ""},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name
			if stream {
				name += " before first chunk"
			}
			t.Run(name, func(t *testing.T) {
				b := &fakeBackend{
					complete: func(context.Context, *llm.Request) (*llm.Response, error) { return nil, tt.give },
					stream:   func(context.Context, *llm.Request) (llm.Stream, error) { return nil, tt.give },
				}
				s := newServer(t, testConfig(), b)
				w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(`"stream":`+boolStr(stream)))
				require.Equal(t, tt.wantStatus, w.Code)
				e := errorBody(t, w)
				assert.Equal(t, tt.wantType, e.Type)
				assert.Equal(t, tt.wantRetryAfter, w.Header().Get("Retry-After"))
				assert.NotEmpty(t, w.Header().Get("X-Request-Id"))
				assert.NotContains(t, w.Body.String(), "secret detail", "causes are never shown")
				assert.NotContains(t, w.Body.String(), "data:", "no stream was started")
			})
		}
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestRequestTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.RequestTimeout = 20 * time.Millisecond
	b := &fakeBackend{complete: func(ctx context.Context, _ *llm.Request) (*llm.Response, error) {
		<-ctx.Done()
		return nil, llm.AsError(ctx.Err())
	}}
	s := newServer(t, cfg, b)
	w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(""))
	assert.Equal(t, http.StatusGatewayTimeout, w.Code)
}

func TestNilAnswersAreServerErrors(t *testing.T) {
	b := &fakeBackend{
		complete: func(context.Context, *llm.Request) (*llm.Response, error) { return nil, nil },
		stream:   func(context.Context, *llm.Request) (llm.Stream, error) { return nil, nil },
	}
	s := newServer(t, testConfig(), b)
	assert.Equal(t, http.StatusBadGateway, call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody("")).Code)
	assert.Equal(t, http.StatusBadGateway, call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(`"stream":true`)).Code)
}

func TestPanicIsRecovered(t *testing.T) {
	var logs syncBuffer
	cfg := testConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	obs := &recordingObserver{}
	cfg.Observer = obs
	b := &fakeBackend{complete: func(context.Context, *llm.Request) (*llm.Response, error) { panic("kaboom") }}
	s := newServer(t, cfg, b)
	w := call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, chatBody(""), "X-Request-Id: rid-1")
	require.Equal(t, http.StatusInternalServerError, w.Code)
	e := errorBody(t, w)
	assert.Equal(t, llm.TypeServer, e.Type)
	assert.NotContains(t, w.Body.String(), "kaboom")
	assert.Contains(t, logs.String(), "kaboom")
	assert.Contains(t, logs.String(), "request_id=rid-1")
	assert.Contains(t, logs.String(), "server_test.go", "the stack is logged")
	require.Len(t, obs.all(), 1)
	assert.Equal(t, 500, obs.all()[0].status)
}

func TestHealthAndReady(t *testing.T) {
	tests := []struct {
		name       string
		backend    Backend
		draining   bool
		path       string
		wantStatus int
		wantBody   string
	}{
		{"healthz", &fakeBackend{}, false, "/healthz", 200, `{"status":"ok"}`},
		{"healthz while draining", &fakeBackend{}, true, "/healthz", 200, `{"status":"ok"}`},
		{"ready without capability", &fakeBackend{}, false, "/readyz", 200, `{"status":"ready"}`},
		{"backend ready", &readyBackend{fakeBackend: &fakeBackend{}, ready: true}, false, "/readyz", 200, `{"status":"ready"}`},
		{"backend not ready", &readyBackend{fakeBackend: &fakeBackend{}, ready: false}, false, "/readyz", 503, `{"status":"not ready"}`},
		{"draining", &readyBackend{fakeBackend: &fakeBackend{}, ready: true}, true, "/readyz", 503, `{"status":"draining"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, testConfig(), tt.backend)
			s.draining.Store(tt.draining)
			w := call(s.Handler(), "GET", tt.path, "", "")
			assert.Equal(t, tt.wantStatus, w.Code)
			assert.JSONEq(t, tt.wantBody, w.Body.String())
		})
	}
}

func TestModels(t *testing.T) {
	tests := []struct {
		name string
		key  string
		want []string
	}{
		{"standard sees all", keyStandard, []string{"large", "gpt-4o", "small", "gpt-4o-mini"}},
		{"limited sees its tier", keyLimited, []string{"small", "gpt-4o-mini"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, testConfig(), &fakeBackend{})
			w := call(s.Handler(), "GET", "/v1/models", tt.key, "")
			require.Equal(t, 200, w.Code)
			var got modelList
			require.NoError(t, jsonUnmarshalStrict(w.Body.Bytes(), &got))
			assert.Equal(t, "list", got.Object)
			var ids []string
			for _, m := range got.Data {
				ids = append(ids, m.ID)
				assert.Equal(t, "model", m.Object)
				assert.Equal(t, "floodgate", m.OwnedBy)
				assert.NotZero(t, m.Created)
			}
			assert.Equal(t, tt.want, ids)
		})
	}
	s := newServer(t, testConfig(), &fakeBackend{})
	assert.Equal(t, 401, call(s.Handler(), "GET", "/v1/models", "", "").Code)
}

func TestRetrieveModel(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		model      string
		wantStatus int
	}{
		{"canonical", keyStandard, "large", 200},
		{"alias", keyStandard, "gpt-4o-mini", 200},
		{"unknown", keyStandard, "gpt-9", 404},
		{"outside tier", keyLimited, "large", 404},
		{"no key", "", "large", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, testConfig(), &fakeBackend{})
			w := call(s.Handler(), "GET", "/v1/models/"+tt.model, tt.key, "")
			require.Equal(t, tt.wantStatus, w.Code)
			if tt.wantStatus == 200 {
				var m modelObject
				require.NoError(t, jsonUnmarshalStrict(w.Body.Bytes(), &m))
				assert.Equal(t, tt.model, m.ID)
			}
		})
	}
}

func TestModelsFromBackend(t *testing.T) {
	cfg := testConfig()
	cfg.Models = nil
	clock := time.Unix(1700000000, 0)
	cfg.Now = func() time.Time { return clock }
	cfg.Tiers["limited"] = Tier{Models: []string{"small"}}
	b := &fakeBackend{models: []string{"small", "large"}}
	s := newServer(t, cfg, b)

	w := call(s.Handler(), "GET", "/v1/models", keyStandard, "")
	assert.Contains(t, w.Body.String(), `"id":"large"`)
	w = call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, `{"model":"fresh","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 404, w.Code, "not yet known")

	b.mu.Lock()
	b.models = append(b.models, "fresh")
	b.mu.Unlock()
	w = call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, `{"model":"fresh","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 404, w.Code, "the backend is asked again at most once a second")
	clock = clock.Add(refreshEvery)
	w = call(s.Handler(), "POST", "/v1/chat/completions", keyStandard, `{"model":"fresh","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 200, w.Code, "a model the backend learned later is found: %s", w.Body.String())
	w = call(s.Handler(), "POST", "/v1/chat/completions", keyLimited, `{"model":"large","messages":[{"role":"user","content":"x"}]}`)
	assert.Equal(t, 403, w.Code)
}

func TestObserver(t *testing.T) {
	obs := &recordingObserver{}
	cfg := testConfig()
	cfg.Observer = obs
	clock := time.Unix(1700000000, 0)
	cfg.Now = func() time.Time { clock = clock.Add(10 * time.Millisecond); return clock }
	type traceKey struct{}
	cfg.UpstreamTime = func(ctx context.Context) (context.Context, func() time.Duration) {
		return context.WithValue(ctx, traceKey{}, true), func() time.Duration { return 7 * time.Millisecond }
	}
	b := &fakeBackend{}
	s := newServer(t, cfg, b)
	h := s.Handler()

	call(h, "POST", "/v1/chat/completions", keyPro, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`)
	ctx, _ := b.last()
	assert.Equal(t, true, ctx.Value(traceKey{}), "the hook's context reaches the backend")
	call(h, "POST", "/v1/chat/completions", keyPro, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}],"stream":true}`)
	call(h, "POST", "/v1/chat/completions", keyLimited, `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`)
	call(h, "GET", "/v1/models", "", "")
	call(h, "GET", "/nowhere", "", "")
	call(h, "GET", "/healthz", "", "")

	ms := 10 * time.Millisecond
	assert.Equal(t, []observed{
		{routeChat, "large", "pro", 200, ms, 3 * time.Millisecond},
		{routeChat, "large", "pro", 200, ms, 3 * time.Millisecond},
		{routeChat, "", "limited", 403, ms, ms},
		{routeModels, "", "", 401, ms, ms},
		{routeUnmatched, "", "", 404, ms, ms},
		{routeHealthz, "", "", 200, ms, ms},
	}, obs.all())
}

func TestHandleMountsExtraRoutes(t *testing.T) {
	obs := &recordingObserver{}
	cfg := testConfig()
	cfg.Observer = obs
	s := newServer(t, cfg, &fakeBackend{})
	s.Handle("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "up 1\n")
	}))
	s.Handle("GET /admin/tickets/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ticket "+r.PathValue("id"))
		http.NewResponseController(w).Flush()
	}))
	w := call(s.Handler(), "GET", "/metrics", "", "")
	assert.Equal(t, 200, w.Code)
	assert.Equal(t, "up 1\n", w.Body.String())
	assert.NotEmpty(t, w.Header().Get("X-Request-Id"))
	w = call(s.Handler(), "GET", "/admin/tickets/t-9", "", "")
	assert.Equal(t, "ticket t-9", w.Body.String())
	assert.True(t, w.Flushed)
	w = call(s.Handler(), "GET", "/admin/other", "", "")
	assert.Equal(t, 404, w.Code)
	errorBody(t, w)
	assert.Equal(t, "GET /metrics", obs.all()[0].route)
}
