package provider

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name  string
		give  Config
		check func(*testing.T, *Client)
	}{
		{name: "defaults", give: Config{BaseURL: "http://127.0.0.1:8000/v1/"}, check: func(t *testing.T, c *Client) {
			assert.Equal(t, "127.0.0.1:8000", c.Name())
			assert.Equal(t, KindOpenAI, c.cfg.Kind)
			assert.Equal(t, DefaultAPIVersion, c.cfg.APIVersion)
			assert.Equal(t, DefaultConnectTimeout, c.cfg.ConnectTimeout)
			assert.Equal(t, DefaultFirstTokenTimeout, c.cfg.FirstTokenTimeout)
			assert.Equal(t, DefaultTotalTimeout, c.cfg.TotalTimeout)
			assert.Equal(t, DefaultIdleConnTimeout, c.cfg.IdleConnTimeout)
			assert.Equal(t, DefaultMaxIdleConnsPerHost, c.cfg.MaxIdleConnsPerHost)
			assert.Equal(t, int64(DefaultMaxResponseBytes), c.cfg.MaxResponseBytes)
			assert.Equal(t, DefaultMaxEventBytes, c.cfg.MaxEventBytes)
			assert.Equal(t, "http://127.0.0.1:8000/v1/chat/completions", c.completeURL.String())
			tr := c.rt.(*http.Transport)
			assert.True(t, tr.DisableCompression)
			assert.False(t, tr.ForceAttemptHTTP2, "plain http stays HTTP/1.1")
			assert.Zero(t, tr.ResponseHeaderTimeout)
			assert.Equal(t, 4096, tr.MaxIdleConnsPerHost)
		}},
		{name: "https attempts http2", give: Config{Name: "oai", BaseURL: "https://api.openai.com/v1"}, check: func(t *testing.T, c *Client) {
			assert.Equal(t, "oai", c.Name())
			assert.True(t, c.rt.(*http.Transport).ForceAttemptHTTP2)
		}},
		{name: "azure", give: Config{Kind: "Azure", BaseURL: "https://res.openai.azure.com/openai/", APIVersion: "2025-01-01"}, check: func(t *testing.T, c *Client) {
			u, err := c.endpointURL("gpt 4o")
			require.NoError(t, err)
			assert.Equal(t, "https://res.openai.azure.com/openai/deployments/gpt%204o/chat/completions?api-version=2025-01-01", u.String())
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.give)
			tt.check(t, c)
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name string
		give Config
		want string
	}{
		{name: "unknown kind", give: Config{Kind: "bedrock", BaseURL: "http://x"}, want: "kind"},
		{name: "no base url", give: Config{}, want: "base URL"},
		{name: "bad scheme", give: Config{BaseURL: "ftp://x/v1"}, want: "http or https"},
		{name: "no host", give: Config{BaseURL: "http:///v1"}, want: "no host"},
		{name: "query", give: Config{BaseURL: "http://x/v1?a=b"}, want: "no query"},
		{name: "unparseable", give: Config{BaseURL: "http://x y:bad/"}, want: "base URL"},
		{name: "negative timeout", give: Config{BaseURL: "http://x", TotalTimeout: -1}, want: "negative"},
		{name: "negative limit", give: Config{BaseURL: "http://x", MaxEventBytes: -1}, want: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.give)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestHappyPath(t *testing.T) {
	tests := []struct {
		name       string
		kind       string
		wantPath   string
		wantQuery  string
		wantHeader map[string]string
		noHeader   []string
	}{
		{
			name:       "openai",
			kind:       KindOpenAI,
			wantPath:   "/v1/chat/completions",
			wantHeader: map[string]string{"Authorization": "Bearer sk-test", "Openai-Organization": "org-1", "Content-Type": "application/json"},
			noHeader:   []string{"Api-Key", "Accept-Encoding"},
		},
		{
			name:       "azure",
			kind:       KindAzure,
			wantPath:   "/openai/deployments/gpt-4o-mini/chat/completions",
			wantQuery:  "api-version=2024-10-21",
			wantHeader: map[string]string{"Api-Key": "sk-test", "Openai-Organization": "org-1", "Content-Type": "application/json"},
			noHeader:   []string{"Authorization", "Accept-Encoding"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.Header.Get("Accept"), "event-stream") {
					writeSSE(w, ": keep-alive\n\n"+sseBody("Your order ", "ships today."))
					return
				}
				writeJSON(w, http.StatusOK, completionJSON)
			})
			base := up.URL + "/v1"
			if tt.kind == KindAzure {
				base = up.URL
			}
			c := newClient(t, Config{Name: "ep", Kind: tt.kind, BaseURL: base, APIKey: "sk-test", Headers: map[string]string{"OpenAI-Organization": "org-1"}})

			check := func(t *testing.T, stream bool) {
				got := up.lastCall()
				assert.Equal(t, http.MethodPost, got.Method)
				assert.Equal(t, tt.wantPath, got.Path)
				assert.Equal(t, tt.wantQuery, got.Query)
				for k, v := range tt.wantHeader {
					assert.Equal(t, v, got.Header.Get(k), k)
				}
				for _, k := range tt.noHeader {
					assert.Empty(t, got.Header.Get(k), k)
				}
				assert.Equal(t, "gpt-4o-mini", got.Body["model"])
				if stream {
					assert.Equal(t, true, got.Body["stream"])
					assert.Equal(t, map[string]any{"include_usage": true}, got.Body["stream_options"])
					assert.Equal(t, "text/event-stream", got.Header.Get("Accept"))
				} else {
					assert.NotContains(t, got.Body, "stream")
					assert.NotContains(t, got.Body, "stream_options")
				}
			}

			t.Run("complete", func(t *testing.T) {
				resp, err := c.Complete(t.Context(), testRequest())
				require.NoError(t, err)
				assert.Equal(t, "chatcmpl-1", resp.ID)
				assert.Equal(t, "Your order ships today.", resp.Choices[0].Message.Content.String())
				assert.Equal(t, 17, resp.Usage.TotalTokens)
				check(t, false)
			})
			t.Run("stream", func(t *testing.T) {
				s, err := c.Stream(t.Context(), testRequest())
				require.NoError(t, err)
				resp, err := llm.Accumulate(s)
				require.NoError(t, err)
				assert.Equal(t, "Your order ships today.", resp.Choices[0].Message.Content.String())
				require.NotNil(t, resp.Usage)
				assert.Equal(t, 17, resp.Usage.TotalTokens)
				check(t, true)
				c, err := s.Recv()
				assert.Nil(t, c)
				assert.Equal(t, io.EOF, err, "EOF is sticky")
			})
		})
	}
}

func TestErrorClassification(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type want struct {
		Kind       llm.Kind
		Retryable  bool
		Status     int
		Message    string
		Code       string
		Param      string
		RetryAfter time.Duration
	}
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   want
	}{
		{
			name: "429 with retry-after-ms", status: 429,
			header: map[string]string{"retry-after-ms": "1500", "Retry-After": "9"},
			body:   `{"error":{"message":"Rate limit reached for requests","type":"requests","code":"rate_limit_exceeded"}}`,
			want:   want{Kind: llm.KindRateLimited, Retryable: true, Message: "Rate limit reached for requests", Code: "rate_limit_exceeded", RetryAfter: 1500 * time.Millisecond},
		},
		{
			name: "429 with reset-requests", status: 429,
			header: map[string]string{"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "20ms"},
			body:   `not json`,
			want:   want{Kind: llm.KindRateLimited, Retryable: true, Message: "not json", RetryAfter: 6 * time.Minute},
		},
		{
			name: "429 bare", status: 429,
			want: want{Kind: llm.KindRateLimited, Retryable: true, Message: "upstream rate limit exceeded"},
		},
		{
			name: "401", status: 401, body: `{"error":{"message":"Incorrect API key provided: sk-abc","type":"invalid_request_error","code":"invalid_api_key"}}`,
			want: want{Kind: llm.KindAuth, Retryable: true, Status: 502, Message: "upstream authentication failed"},
		},
		{
			name: "403", status: 403, body: `{"error":"forbidden"}`,
			want: want{Kind: llm.KindAuth, Retryable: true, Status: 502, Message: "upstream authentication failed"},
		},
		{
			name: "404", status: 404, body: `{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist."}}`,
			want: want{Kind: llm.KindNotFound, Retryable: true, Status: 502, Message: "model or deployment not found at the upstream endpoint"},
		},
		{
			name: "400 openai", status: 400,
			body: `{"error":{"message":"Invalid value for 'temperature'.","type":"invalid_request_error","param":"temperature","code":"invalid_value"}}`,
			want: want{Kind: llm.KindInvalidRequest, Status: 400, Message: "Invalid value for 'temperature'.", Param: "temperature", Code: "invalid_value"},
		},
		{
			name: "400 vllm top-level with numeric code", status: 400,
			body: `{"object":"error","message":"max_tokens is too large","type":"BadRequestError","param":null,"code":400}`,
			want: want{Kind: llm.KindInvalidRequest, Status: 400, Message: "max_tokens is too large", Code: "400"},
		},
		{
			name: "400 plain text", status: 400, body: "bad request: messages missing\n",
			want: want{Kind: llm.KindInvalidRequest, Status: 400, Message: "bad request: messages missing"},
		},
		{
			name: "400 html", status: 400, body: "<html><body>400</body></html>",
			want: want{Kind: llm.KindInvalidRequest, Status: 400, Message: "upstream rejected the request"},
		},
		{
			name: "400 azure content filter", status: 400,
			body: `{"error":{"message":"The response was filtered","type":null,"param":"prompt","code":"content_filter"}}`,
			want: want{Kind: llm.KindContentFilter, Status: 400, Message: "The response was filtered", Param: "prompt", Code: "content_filter"},
		},
		{
			name: "422", status: 422, body: `{"detail":"field required"}`,
			want: want{Kind: llm.KindInvalidRequest, Status: 400, Message: "field required"},
		},
		{
			name: "413", status: 413,
			want: want{Kind: llm.KindTooLarge, Message: "request too large for the upstream endpoint"},
		},
		{name: "500", status: 500, body: `{"error":{"message":"internal"}}`, want: want{Kind: llm.KindServer, Retryable: true, Message: "upstream server error"}},
		{name: "502", status: 502, want: want{Kind: llm.KindServer, Retryable: true, Message: "upstream server error"}},
		{
			name: "503 with retry-after date", status: 503,
			header: map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)},
			want:   want{Kind: llm.KindServer, Retryable: true, Message: "upstream server error", RetryAfter: 3 * time.Second},
		},
		{name: "504", status: 504, want: want{Kind: llm.KindServer, Retryable: true, Message: "upstream server error"}},
		{name: "408", status: 408, want: want{Kind: llm.KindServer, Retryable: true, Message: "upstream server error"}},
		{name: "409", status: 409, want: want{Kind: llm.KindServer, Retryable: true, Message: "upstream server error"}},
		{name: "unexpected 418", status: 418, want: want{Kind: llm.KindServer, Retryable: true, Message: "upstream server error"}},
	}
	for _, ck := range callKinds {
		t.Run(ck.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					up := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
						for k, v := range tt.header {
							w.Header().Set(k, v)
						}
						w.WriteHeader(tt.status)
						_, _ = io.WriteString(w, tt.body)
					})
					c := newClient(t, Config{Name: "ep", BaseURL: up.URL, Now: func() time.Time { return now }})
					e := asError(t, ck.call(t.Context(), c, testRequest()))
					got := want{Kind: e.Kind, Retryable: e.Retryable, Status: e.Status, Message: e.Message, Code: e.Code, Param: e.Param, RetryAfter: e.RetryAfter}
					assert.Equal(t, tt.want, got)
					assert.Equal(t, "ep", e.Endpoint)
					var se *StatusError
					require.ErrorAs(t, e, &se)
					assert.Equal(t, tt.status, se.StatusCode)
				})
			}
		})
	}
}

func TestMalformedAnswers(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		gzip    bool
		maxResp int64
		wantIs  error
	}{
		{name: "not json", body: `{"id":`, wantIs: ErrMalformed},
		{name: "error with status 200", body: `{"error":{"message":"overloaded"}}`, wantIs: ErrUpstreamEvent},
		{name: "no choices", body: `{"id":"x","choices":[]}`, wantIs: ErrMalformed},
		{name: "too large", body: completionJSON, maxResp: 64, wantIs: ErrTooLarge},
		{name: "bad gzip", body: "not gzip", gzip: true, wantIs: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
				if tt.gzip {
					w.Header().Set("Content-Encoding", "gzip")
				}
				writeJSON(w, http.StatusOK, tt.body)
			})
			c := newClient(t, Config{Name: "ep", BaseURL: up.URL, MaxResponseBytes: tt.maxResp})
			_, err := c.Complete(t.Context(), testRequest())
			e := asError(t, err)
			assert.Equal(t, llm.KindServer, e.Kind)
			assert.True(t, e.Retryable)
			assert.Zero(t, e.Status, "the upstream status must not become ours")
			assert.ErrorIs(t, e, tt.wantIs)
		})
	}
}

func TestGzipAnswerAccepted(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = io.WriteString(zw, s)
		_ = zw.Close()
		return b.Bytes()
	}
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		if strings.Contains(r.Header.Get("Accept"), "event-stream") {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = w.Write(gz(sseBody("a", "b")))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(gz(completionJSON))
	})
	c := newClient(t, Config{BaseURL: up.URL})
	resp, err := c.Complete(t.Context(), testRequest())
	require.NoError(t, err)
	assert.Equal(t, "Your order ships today.", resp.Choices[0].Message.Content.String())

	s, err := c.Stream(t.Context(), testRequest())
	require.NoError(t, err)
	resp, err = llm.Accumulate(s)
	require.NoError(t, err)
	assert.Equal(t, "ab", resp.Choices[0].Message.Content.String())
}

func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	c := newClient(t, Config{Name: "gone", BaseURL: "http://" + addr + "/v1"})
	for _, ck := range callKinds {
		t.Run(ck.name, func(t *testing.T) {
			e := asError(t, ck.call(t.Context(), c, testRequest()))
			assert.Equal(t, llm.KindConnect, e.Kind)
			assert.True(t, e.Retryable)
			assert.Equal(t, "gone", e.Endpoint)
			var op *net.OpError
			assert.ErrorAs(t, e, &op, "the dial error is the cause")
		})
	}
}

func TestCancellationReachesUpstream(t *testing.T) {
	for _, ck := range callKinds {
		t.Run(ck.name, func(t *testing.T) {
			arrived := make(chan struct{})
			gone := make(chan struct{})
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.Header.Get("Accept"), "event-stream") {
					startSSE(w)
					sendEvent(w, "data: "+chunkJSON("a")+"\n\n")
				}
				close(arrived)
				<-r.Context().Done()
				close(gone)
			})
			c := newClient(t, Config{BaseURL: up.URL})
			ctx, cancel := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			wg.Go(func() {
				<-arrived
				cancel()
			})
			err := ck.call(ctx, c, testRequest()) // the cancel may land before or after a stream's headers
			wg.Wait()
			e := asError(t, err)
			assert.Equal(t, llm.KindCanceled, e.Kind)
			assert.False(t, e.Retryable)
			select {
			case <-gone:
			case <-time.After(5 * time.Second):
				t.Fatal("upstream never saw its request context end")
			}
		})
	}
}

func TestCallerDeadlineIsNotRetryable(t *testing.T) {
	up := newUpstream(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, Config{BaseURL: up.URL})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := c.Complete(ctx, testRequest())
	e := asError(t, err)
	assert.Equal(t, llm.KindTimeout, e.Kind)
	assert.False(t, e.Retryable, "the request's own deadline is spent")
	assert.ErrorIs(t, e, context.DeadlineExceeded)
}

func TestCompleteTotalTimeout(t *testing.T) {
	up := newUpstream(t, func(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, Config{BaseURL: up.URL, TotalTimeout: 50 * time.Millisecond, FirstTokenTimeout: 10 * time.Millisecond})
	_, err := c.Complete(t.Context(), testRequest())
	e := asError(t, err)
	assert.Equal(t, llm.KindTimeout, e.Kind)
	assert.True(t, e.Retryable)
	assert.ErrorIs(t, e, ErrTotalTimeout, "the first-token timeout does not apply to Complete")
	assert.Contains(t, e.Message, "within 50ms")
}

func TestRequestNotMutated(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Accept"), "event-stream") {
			writeSSE(w, sseBody("x"))
			return
		}
		writeJSON(w, http.StatusOK, completionJSON)
	})
	c := newClient(t, Config{BaseURL: up.URL})
	snapshot := func(r *llm.Request) string {
		b, err := json.Marshal(r)
		require.NoError(t, err)
		return string(b)
	}

	t.Run("complete drops the caller's stream fields upstream only", func(t *testing.T) {
		req := testRequest()
		opts := &llm.StreamOptions{IncludeUsage: false}
		req.Stream, req.StreamOptions = true, opts
		before := snapshot(req)
		_, err := c.Complete(t.Context(), req)
		require.NoError(t, err)
		assert.Equal(t, before, snapshot(req))
		assert.Same(t, opts, req.StreamOptions)
		assert.False(t, opts.IncludeUsage)
		assert.NotContains(t, up.lastCall().Body, "stream")
		assert.NotContains(t, up.lastCall().Body, "stream_options")
	})
	t.Run("stream sets stream fields upstream only", func(t *testing.T) {
		req := testRequest()
		before := snapshot(req)
		s, err := c.Stream(t.Context(), req)
		require.NoError(t, err)
		_, err = llm.Accumulate(s)
		require.NoError(t, err)
		assert.Equal(t, before, snapshot(req))
		assert.False(t, req.Stream)
		assert.Nil(t, req.StreamOptions)
		assert.Equal(t, true, up.lastCall().Body["stream"])
	})
}

func TestAzureWithoutDeployment(t *testing.T) {
	c := newClient(t, Config{Kind: KindAzure, BaseURL: "http://127.0.0.1:1"})
	req := testRequest()
	req.Model = ""
	_, err := c.Complete(t.Context(), req)
	e := asError(t, err)
	assert.Equal(t, llm.KindNotFound, e.Kind)
	assert.True(t, e.Retryable)
	assert.Equal(t, http.StatusBadGateway, e.Status)
}

func TestUnencodableRequest(t *testing.T) {
	c := newClient(t, Config{BaseURL: "http://127.0.0.1:1"})
	req := testRequest()
	req.ResponseFormat = json.RawMessage(`{not json`)
	_, err := c.Complete(t.Context(), req)
	e := asError(t, err)
	assert.Equal(t, llm.KindInvalidRequest, e.Kind)
	assert.False(t, e.Retryable)
}

func TestConnectionReuse(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		call    func(*Client) error
	}{
		{
			name:    "complete",
			handler: func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, completionJSON) },
			call: func(c *Client) error {
				_, err := c.Complete(testCtx, testRequest())
				return err
			},
		},
		{
			name:    "stream",
			handler: func(w http.ResponseWriter, _ *http.Request) { writeSSE(w, sseBody("a", "b", "c")) },
			call: func(c *Client) error {
				s, err := c.Stream(testCtx, testRequest())
				if err != nil {
					return err
				}
				_, err = llm.Accumulate(s)
				return err
			},
		},
		{
			// The body's end arrives after [DONE], in a later read: only
			// the drain after [DONE] keeps the connection.
			name: "stream whose body ends late",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				startSSE(w)
				sendEvent(w, sseBody("a"))
				time.Sleep(time.Millisecond)
			},
			call: func(c *Client) error {
				s, err := c.Stream(testCtx, testRequest())
				if err != nil {
					return err
				}
				_, err = llm.Accumulate(s)
				return err
			},
		},
		{
			name: "429 with a body",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				writeJSON(w, 429, `{"error":{"message":"slow down","pad":"`+strings.Repeat("x", 8000)+`"}}`)
			},
			call: func(c *Client) error {
				_, err := c.Complete(testCtx, testRequest())
				if e := llm.AsError(err); e == nil || e.Kind != llm.KindRateLimited {
					return errors.New("want a rate-limit error")
				}
				return nil
			},
		},
		{
			name:    "stream refused with 503",
			handler: func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 503, `{"error":{"message":"busy"}}`) },
			call: func(c *Client) error {
				_, err := c.Stream(testCtx, testRequest())
				if e := llm.AsError(err); e == nil || e.Kind != llm.KindServer {
					return errors.New("want a server error")
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, tt.handler)
			c := newClient(t, Config{BaseURL: up.URL})
			for range 100 {
				require.NoError(t, tt.call(c))
			}
			// The transport returns a connection to its pool on its own
			// goroutine once the body ended, and on a loaded machine the
			// next call may start a dial before that: one extra connection
			// is that race. Without reuse there would be 100.
			assert.LessOrEqual(t, up.conns.Load(), int32(2), "100 sequential calls share one connection")
		})
	}
}

func TestConcurrentCalls(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ratelimit-remaining-requests", "99")
		if strings.Contains(r.Header.Get("Accept"), "event-stream") {
			writeSSE(w, sseBody("a", "b"))
			return
		}
		writeJSON(w, 200, completionJSON)
	})
	c := newClient(t, Config{BaseURL: up.URL})
	req := testRequest() // shared, as a hedging router would share it
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 32 {
		wg.Go(func() {
			for range 5 {
				var err error
				if i%2 == 0 {
					_, err = c.Complete(testCtx, req)
				} else {
					var s llm.Stream
					if s, err = c.Stream(testCtx, req); err == nil {
						_, err = llm.Accumulate(s)
					}
				}
				if err != nil {
					errs <- err
					return
				}
				_ = c.Headroom()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n, ok := c.RemainingRequests()
	assert.True(t, ok)
	assert.Equal(t, int64(99), n)
}
