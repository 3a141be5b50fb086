package provider

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		give map[string]string
		want time.Duration
	}{
		{name: "none", give: nil, want: 0},
		{name: "retry-after-ms", give: map[string]string{"retry-after-ms": "250"}, want: 250 * time.Millisecond},
		{name: "retry-after-ms fractional", give: map[string]string{"retry-after-ms": "1.5"}, want: 1500 * time.Microsecond},
		{name: "ms wins over seconds", give: map[string]string{"retry-after-ms": "100", "Retry-After": "20"}, want: 100 * time.Millisecond},
		{name: "bad ms falls back to seconds", give: map[string]string{"retry-after-ms": "soon", "Retry-After": "2"}, want: 2 * time.Second},
		{name: "seconds", give: map[string]string{"Retry-After": "7"}, want: 7 * time.Second},
		{name: "fractional seconds", give: map[string]string{"Retry-After": "0.5"}, want: 500 * time.Millisecond},
		{name: "http date", give: map[string]string{"Retry-After": now.Add(90 * time.Second).Format(http.TimeFormat)}, want: 90 * time.Second},
		{name: "http date in the past", give: map[string]string{"Retry-After": now.Add(-time.Hour).Format(http.TimeFormat)}, want: 0},
		{name: "negative seconds ignored", give: map[string]string{"Retry-After": "-3"}, want: 0},
		{name: "absurd seconds ignored", give: map[string]string{"Retry-After": "1e300"}, want: 0},
		{name: "garbage", give: map[string]string{"Retry-After": "tomorrow"}, want: 0},
		{name: "reset requests", give: map[string]string{"x-ratelimit-reset-requests": "1s"}, want: time.Second},
		{name: "reset tokens", give: map[string]string{"x-ratelimit-reset-tokens": "20ms"}, want: 20 * time.Millisecond},
		{name: "reset later of both", give: map[string]string{"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "2m59.56s"}, want: 6 * time.Minute},
		{name: "reset of exhausted tokens", give: map[string]string{
			"x-ratelimit-reset-requests": "6m0s", "x-ratelimit-reset-tokens": "20ms",
			"x-ratelimit-remaining-requests": "12", "x-ratelimit-remaining-tokens": "0",
		}, want: 20 * time.Millisecond},
		{name: "reset as plain seconds", give: map[string]string{"x-ratelimit-reset-requests": "3"}, want: 3 * time.Second},
		{name: "retry-after beats reset", give: map[string]string{"Retry-After": "1", "x-ratelimit-reset-requests": "6m0s"}, want: time.Second},
		{name: "bad reset", give: map[string]string{"x-ratelimit-reset-requests": "-1s"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.give {
				h.Set(k, v)
			}
			assert.Equal(t, tt.want, rateLimitRetryAfter(h, now))
		})
	}
}

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name string
		give string
		want upstreamError
	}{
		{name: "empty", give: "", want: upstreamError{}},
		{name: "openai", give: `{"error":{"message":"m","type":"invalid_request_error","param":"p","code":"c"}}`, want: upstreamError{Message: "m", Type: "invalid_request_error", Param: "p", Code: "c"}},
		{name: "openai nulls", give: `{"error":{"message":"m","type":null,"param":null,"code":null}}`, want: upstreamError{Message: "m"}},
		{name: "numeric code", give: `{"error":{"message":"m","code":429}}`, want: upstreamError{Message: "m", Code: "429"}},
		{name: "ollama string", give: `{"error":"model 'x' not found"}`, want: upstreamError{Message: "model 'x' not found"}},
		{name: "vllm top-level", give: `{"object":"error","message":"m","type":"BadRequestError","param":null,"code":400}`, want: upstreamError{Message: "m", Type: "BadRequestError", Code: "400"}},
		{name: "fastapi detail", give: `{"detail":"Not Found"}`, want: upstreamError{Message: "Not Found"}},
		{name: "fastapi detail list", give: `{"detail":[{"loc":["body"]}]}`, want: upstreamError{}},
		{name: "message not text", give: `{"error":{"message":{"a":1}}}`, want: upstreamError{}},
		{name: "error array", give: `{"error":[1]}`, want: upstreamError{}},
		{name: "truncated json", give: `{"error":{"message":"m"`, want: upstreamError{Message: `{"error":{"message":"m"`}},
		{name: "text", give: "  upstream connect error  \n", want: upstreamError{Message: "upstream connect error"}},
		{name: "html", give: "<!DOCTYPE html><p>502</p>", want: upstreamError{}},
		{name: "invalid utf8", give: "bad \xff byte", want: upstreamError{Message: "bad \uFFFD byte"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, parseErrorBody([]byte(tt.give)))
		})
	}
}

func TestParseErrorBodyClipsMessages(t *testing.T) {
	long := strings.Repeat("é", 2*maxMessage)
	got := parseErrorBody([]byte(`{"error":{"message":"` + long + `"}}`))
	assert.LessOrEqual(t, len(got.Message), maxMessage)
	assert.True(t, utf8.ValidString(got.Message))
	assert.True(t, strings.HasPrefix(long, got.Message))
}

func FuzzClassifyStatus(f *testing.F) {
	f.Add(429, "1.5", "6m0s", []byte(`{"error":{"message":"slow","code":"rate_limit_exceeded"}}`))
	f.Add(400, "", "", []byte(`{"object":"error","message":"m","code":400,"param":null}`))
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", "", []byte("<html>"))
	f.Add(401, "-1", "1", []byte(`{"error":"x"}`))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, retryAfter, reset string, body []byte) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		h.Set("X-Ratelimit-Reset-Requests", reset)
		e := classifyStatus(status, h, body, now)
		if e.Kind == llm.KindUnknown || e.Message == "" {
			t.Fatalf("unclassified: %+v", e)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative retry-after %v", e.RetryAfter)
		}
		for _, s := range []string{e.Message, e.Code, e.Param} {
			if !utf8.ValidString(s) || len(s) > maxMessage {
				t.Fatalf("unsafe text %q", s)
			}
		}
		if e.Status != 0 && e.Status != http.StatusBadRequest && e.Status != http.StatusBadGateway {
			t.Fatalf("status %d leaked", e.Status)
		}
	})
}
