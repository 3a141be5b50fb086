package tool

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// noJitter waits the whole back-off ceiling, so tests are deterministic.
func noJitter(d time.Duration) time.Duration { return d }

func newHTTPTool(t *testing.T, cfg HTTPConfig) Tool {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "get_order"
	}
	if cfg.Parameters == nil {
		cfg.Parameters = json.RawMessage(orderParams)
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = time.Millisecond
	}
	if cfg.Jitter == nil {
		cfg.Jitter = noJitter
	}
	tl, err := NewHTTP(cfg)
	require.NoError(t, err)
	return tl
}

func TestHTTPTemplate(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, `{}`) })
	params := json.RawMessage(`{"type":"object","properties":{"id":{"type":"string"},"q":{"type":"string"},"n":{"type":"integer"}},"required":["id"]}`)
	tests := []struct {
		name      string
		url       string
		give      string
		wantPath  string
		wantQuery string
	}{
		{name: "plain", url: "/orders/{id}", give: `{"id":"100001"}`, wantPath: "/orders/100001"},
		{name: "slash escaped", url: "/orders/{id}", give: `{"id":"../admin"}`, wantPath: "/orders/..%2Fadmin"},
		{name: "dot-dot escaped", url: "/orders/{id}/items", give: `{"id":".."}`, wantPath: "/orders/%2E%2E/items"},
		{name: "space and unicode", url: "/p/{id}", give: `{"id":"a b/é"}`, wantPath: "/p/a%20b%2F%C3%A9"},
		{name: "query placeholder", url: "/search?q={id}", give: `{"id":"a&b=c"}`, wantPath: "/search", wantQuery: "q=a%26b%3Dc"},
		{name: "rest in query sorted", url: "/orders/{id}", give: `{"q":"x y","id":"7","n":3}`, wantPath: "/orders/7", wantQuery: "n=3&q=x+y"},
		{name: "rest joins template query", url: "/s?fixed=1&id={id}", give: `{"id":"7","q":"z"}`, wantPath: "/s", wantQuery: "fixed=1&id=7&q=z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newHTTPTool(t, HTTPConfig{URL: u.URL + tt.url, Parameters: params})
			res, err := tl.Call(context.Background(), json.RawMessage(tt.give))
			require.NoError(t, err)
			assert.False(t, res.IsError)
			got := u.lastReq()
			assert.Equal(t, tt.wantPath, got.RawPath)
			assert.Equal(t, tt.wantQuery, got.Query)
		})
	}
}

func TestHTTPBodyAndHeaders(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 201, `{"return_id":"R-1"}`) })
	params := json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"},"reason":{"type":"string"},"items":{"type":"array"}},"required":["order_id"]}`)
	tl := newHTTPTool(t, HTTPConfig{Name: "create_return", Method: "post", URL: u.URL + "/orders/{order_id}/returns",
		Parameters: params, Headers: map[string]string{"authorization": "Bearer s3cret", "X-Tenant": "acme"}})
	res, err := tl.Call(context.Background(), json.RawMessage(`{"reason":"damaged","order_id":"100001","items":[1,2]}`))
	require.NoError(t, err)
	assert.Equal(t, `{"return_id":"R-1"}`, string(res.Content))
	got := u.lastReq()
	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "/orders/100001/returns", got.Path)
	assert.Empty(t, got.Query)
	assert.JSONEq(t, `{"reason":"damaged","items":[1,2]}`, got.Body)
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.Equal(t, "Bearer s3cret", got.Header.Get("Authorization"))
	assert.Equal(t, "acme", got.Header.Get("X-Tenant"))
}

func TestHTTPInvalidArgumentsSendNothing(t *testing.T) {
	u := newUpstream(t, orderAPI)
	tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}"})
	tests := []struct {
		name string
		give string
		want string
	}{
		{name: "not json", give: `{"order_id":`, want: "not valid JSON"},
		{name: "missing required", give: `{}`, want: "missing property 'order_id'"},
		{name: "wrong type", give: `{"order_id":100001}`, want: "at '/order_id': got number, want string"},
		{name: "pattern", give: `{"order_id":"../x"}`, want: "at '/order_id'"},
		{name: "not an object", give: `[1]`, want: "want object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tl.Call(context.Background(), json.RawMessage(tt.give))
			require.ErrorIs(t, err, ErrInvalidArguments)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	assert.Zero(t, u.hits.Load(), "no request may reach the server")
}

func TestHTTPMissingPlaceholderArgument(t *testing.T) {
	u := newUpstream(t, orderAPI)
	// The schema does not require the argument the URL needs.
	tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}",
		Parameters: json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}}}`)})
	_, err := tl.Call(context.Background(), json.RawMessage(`{}`))
	require.ErrorIs(t, err, ErrInvalidArguments)
	assert.Contains(t, err.Error(), `missing argument "order_id"`)
	assert.Zero(t, u.hits.Load())
}

func TestHTTPStatuses(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		status      int
		body        string
		wantErr     bool
		wantIsError bool
		wantContent string
		wantHits    int32
	}{
		{name: "200", status: 200, body: `{"ok":true}`, wantContent: `{"ok":true}`, wantHits: 1},
		{name: "404 is a domain error", status: 404, body: `{"error":"order not found"}`, wantIsError: true, wantContent: `{"error":"order not found"}`, wantHits: 1},
		{name: "empty 4xx body", status: 403, wantIsError: true, wantContent: `{"error":"HTTP 403 Forbidden"}`, wantHits: 1},
		{name: "400 not retried", status: 400, body: `bad`, wantIsError: true, wantContent: `bad`, wantHits: 1},
		{name: "503 GET retried", status: 503, wantErr: true, wantHits: 3},
		{name: "429 GET retried", status: 429, wantErr: true, wantHits: 3},
		{name: "408 GET retried", status: 408, wantErr: true, wantHits: 3},
		{name: "500 PUT retried", method: "PUT", status: 500, wantErr: true, wantHits: 3},
		{name: "503 POST not retried", method: "POST", status: 503, wantErr: true, wantHits: 1},
		{name: "502 PATCH not retried", method: "PATCH", status: 502, wantErr: true, wantHits: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, tt.status, tt.body) })
			tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}", Method: tt.method})
			res, err := tl.Call(context.Background(), json.RawMessage(`{"order_id":"1"}`))
			assert.Equal(t, tt.wantHits, u.hits.Load())
			if tt.wantErr {
				require.Error(t, err)
				assert.NotErrorIs(t, err, ErrInvalidArguments)
				assert.Contains(t, err.Error(), http.StatusText(tt.status))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantIsError, res.IsError)
			assert.Equal(t, tt.wantContent, string(res.Content))
		})
	}
}

func TestHTTPRetryRecovers(t *testing.T) {
	var u *upstream
	u = newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		if u.hits.Load() < 3 {
			w.Header().Set("Retry-After", "0")
			writeJSON(w, 503, ``)
			return
		}
		writeJSON(w, 200, `{"status":"shipped"}`)
	})
	tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}"})
	res, err := tl.Call(context.Background(), json.RawMessage(`{"order_id":"1"}`))
	require.NoError(t, err)
	assert.Equal(t, `{"status":"shipped"}`, string(res.Content))
	assert.Equal(t, int32(3), u.hits.Load())
}

func TestHTTPRetriesDisabled(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 503, ``) })
	tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}", Retries: -1})
	_, err := tl.Call(context.Background(), json.RawMessage(`{"order_id":"1"}`))
	require.Error(t, err)
	assert.Equal(t, int32(1), u.hits.Load())
}

func TestHTTPTransportErrorRetried(t *testing.T) {
	u := newUpstream(t, orderAPI)
	addr := u.URL
	u.Close() // nothing listens there now
	tl := newHTTPTool(t, HTTPConfig{URL: addr + "/orders/{order_id}", Retries: 1})
	_, err := tl.Call(context.Background(), json.RawMessage(`{"order_id":"1"}`))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "request failed")
	assert.NotContains(t, err.Error(), addr+"/orders", "the URL, which may hold secrets, is not in the error")
}

func TestHTTPTimeout(t *testing.T) {
	release := make(chan struct{})
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}", Timeout: 50 * time.Millisecond})
	_, err := tl.Call(context.Background(), json.RawMessage(`{"order_id":"1"}`))
	require.ErrorIs(t, err, ErrTimeout)
}

func TestHTTPParentCancelled(t *testing.T) {
	u := newUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := tl.Call(ctx, json.RawMessage(`{"order_id":"1"}`))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, ErrTimeout, "the run's deadline is not the tool's time-out")
}

func TestHTTPResponseCap(t *testing.T) {
	body := strings.Repeat("x", 9) + "€" + strings.Repeat("y", 10) // the cap falls inside the euro sign
	u := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, body) })
	tl := newHTTPTool(t, HTTPConfig{URL: u.URL + "/orders/{order_id}", MaxResponseBytes: 10})
	res, err := tl.Call(context.Background(), json.RawMessage(`{"order_id":"1"}`))
	require.NoError(t, err)
	assert.True(t, res.Truncated)
	assert.False(t, res.IsError)
	assert.Equal(t, strings.Repeat("x", 9), string(res.Content))
}

func TestNewHTTPRefuses(t *testing.T) {
	tests := []struct {
		name string
		give HTTPConfig
		want string
	}{
		{name: "bad name", give: HTTPConfig{Name: "get order", URL: "http://h/x"}, want: "the name"},
		{name: "no url", give: HTTPConfig{URL: ""}, want: "scheme"},
		{name: "ftp", give: HTTPConfig{URL: "ftp://h/{id}"}, want: "scheme"},
		{name: "placeholder in host", give: HTTPConfig{URL: "http://{host}/x"}, want: "path or the query"},
		{name: "placeholder in host suffix", give: HTTPConfig{URL: "http://api.{env}.example.com/x"}, want: "path or the query"},
		{name: "placeholder right after host", give: HTTPConfig{URL: "http://h{port}/x"}, want: "path or the query"},
		{name: "unbalanced", give: HTTPConfig{URL: "http://h/{id"}, want: "unbalanced"},
		{name: "bad placeholder", give: HTTPConfig{URL: "http://h/{a-b}"}, want: "placeholder"},
		{name: "method", give: HTTPConfig{URL: "http://h/x", Method: "TRACE"}, want: "unsupported method"},
		{name: "no schema", give: HTTPConfig{URL: "http://h/x", Parameters: json.RawMessage(` `)}, want: "no JSON Schema"},
		{name: "array schema", give: HTTPConfig{URL: "http://h/x", Parameters: json.RawMessage(`{"type":"array"}`)}, want: `"type": "object"`},
		{name: "external ref", give: HTTPConfig{URL: "http://h/x", Parameters: json.RawMessage(`{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}`)}, want: "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.give.Name == "" {
				tt.give.Name = "t"
			}
			if tt.give.Parameters == nil {
				tt.give.Parameters = json.RawMessage(`{"type":"object"}`)
			}
			_, err := NewHTTP(tt.give)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestHTTPDecl(t *testing.T) {
	tl := newHTTPTool(t, HTTPConfig{Description: "Look up an order.", URL: "http://127.0.0.1:1/orders/{order_id}"})
	d := tl.Decl()
	assert.Equal(t, "function", d.Type)
	assert.Equal(t, "get_order", d.Function.Name)
	assert.Equal(t, "Look up an order.", d.Function.Description)
	assert.JSONEq(t, orderParams, string(d.Function.Parameters))
}
