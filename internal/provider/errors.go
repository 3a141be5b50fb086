package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Causes carried in the Err field of the *llm.Error values this package
// returns; callers branch on them with errors.Is when the Kind alone does
// not say enough (which timeout fired, why a stream broke).
var (
	// ErrFirstTokenTimeout: a stream's first chunk did not arrive within
	// Config.FirstTokenTimeout of sending the request.
	ErrFirstTokenTimeout = errors.New("first token timeout")
	// ErrTotalTimeout: the call outlived Config.TotalTimeout.
	ErrTotalTimeout = errors.New("total timeout")
	// ErrTooLarge: a response body, SSE line or SSE event exceeded its cap.
	ErrTooLarge = errors.New("upstream response too large")
	// ErrMalformed: upstream sent bytes that are not the wire format.
	ErrMalformed = errors.New("malformed upstream response")
	// ErrTruncated: a stream ended without its [DONE] marker.
	ErrTruncated = errors.New("stream ended without [DONE]")
	// ErrUpstreamEvent: upstream reported an error inside a 200 answer (an
	// "error" event or an {"error":…} object).
	ErrUpstreamEvent = errors.New("upstream error event")
	// ErrStreamClosed: Recv was called on a stream after Close.
	ErrStreamClosed = errors.New("stream closed")
)

// StatusError is the cause of an *llm.Error built from an upstream HTTP
// status other than 2xx. It keeps the upstream status and message for logs
// and metrics; the *llm.Error around it decides what the client sees.
type StatusError struct {
	StatusCode int    // upstream's HTTP status
	Message    string // upstream's error message, truncated; may be empty
}

// Error implements error.
func (e *StatusError) Error() string {
	if e.Message == "" {
		return "upstream status " + strconv.Itoa(e.StatusCode)
	}
	return "upstream status " + strconv.Itoa(e.StatusCode) + ": " + e.Message
}

// maxMessage caps an upstream message copied into an error.
const maxMessage = 1024

// upstreamError is what an error body said, in whichever of the shapes
// OpenAI-compatible servers use.
type upstreamError struct {
	Message, Type, Code, Param string
}

type errorFields struct {
	Message json.RawMessage `json:"message"`
	Type    json.RawMessage `json:"type"`
	Code    json.RawMessage `json:"code"`
	Param   json.RawMessage `json:"param"`
}

type errorEnvelope struct {
	Error  json.RawMessage `json:"error"`
	Detail json.RawMessage `json:"detail"`
	errorFields
}

// parseErrorBody reads an error body: OpenAI's {"error":{…}}, Ollama's
// {"error":"…"}, vLLM's top-level {"message","type","code":400}, FastAPI's
// {"detail":…}, or plain text. It never fails; what it cannot read it leaves
// empty.
func parseErrorBody(b []byte) upstreamError {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return upstreamError{}
	}
	if b[0] != '{' {
		return upstreamError{Message: plainMessage(b)}
	}
	var env errorEnvelope
	if json.Unmarshal(b, &env) != nil {
		return upstreamError{Message: plainMessage(b)}
	}
	f := env.errorFields
	switch inner := bytes.TrimSpace(env.Error); {
	case len(inner) > 0 && inner[0] == '{':
		f = errorFields{}
		_ = json.Unmarshal(inner, &f) // a bad inner object leaves f empty
	case len(inner) > 0 && inner[0] == '"':
		f = errorFields{Message: inner}
	case len(f.Message) == 0 && len(env.Detail) > 0:
		f = errorFields{Message: env.Detail}
	}
	return upstreamError{
		Message: clip(jsonText(f.Message)),
		Type:    clip(jsonText(f.Type)),
		Code:    clip(jsonText(f.Code)),
		Param:   clip(jsonText(f.Param)),
	}
}

// jsonText returns a JSON string's value, a number's literal, or "" for
// anything else (null, objects, arrays).
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return string(raw)
	}
	return ""
}

// plainMessage returns a non-JSON body as a message unless it looks like an
// HTML error page, which says nothing a client could use.
func plainMessage(b []byte) string {
	if len(b) == 0 || b[0] == '<' {
		return ""
	}
	return clip(string(b))
}

// clip bounds s to maxMessage bytes of valid UTF-8, cut at a rune start.
func clip(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) > maxMessage {
		i := maxMessage
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	return s
}

// classifyStatus turns a non-2xx upstream answer into the error the router
// acts on. The upstream status never becomes ours: statuses the client must
// not see (401, 403, 404 of our own credentials and deployments) are
// answered as 502, server failures leave Status 0 for the gateway to derive.
func classifyStatus(status int, h http.Header, body []byte, now time.Time) *llm.Error {
	ue := parseErrorBody(body)
	e := &llm.Error{Err: &StatusError{StatusCode: status, Message: ue.Message}}
	switch {
	case status == http.StatusTooManyRequests:
		e.Kind, e.Retryable = llm.KindRateLimited, true
		e.Message = orDefault(ue.Message, "upstream rate limit exceeded")
		e.Code = ue.Code
		e.RetryAfter = rateLimitRetryAfter(h, now)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.Kind, e.Retryable, e.Status = llm.KindAuth, true, http.StatusBadGateway
		e.Message = "upstream authentication failed"
	case status == http.StatusNotFound:
		e.Kind, e.Retryable, e.Status = llm.KindNotFound, true, http.StatusBadGateway
		e.Message = "model or deployment not found at the upstream endpoint"
	case status == http.StatusBadRequest || status == http.StatusUnprocessableEntity:
		e.Kind, e.Status = llm.KindInvalidRequest, http.StatusBadRequest
		if ue.Code == "content_filter" { // Azure's prompt filter answers 400
			e.Kind = llm.KindContentFilter
		}
		e.Message = orDefault(ue.Message, "upstream rejected the request")
		e.Code, e.Param = ue.Code, ue.Param
	case status == http.StatusRequestEntityTooLarge:
		e.Kind = llm.KindTooLarge
		e.Message = orDefault(ue.Message, "request too large for the upstream endpoint")
	default: // 5xx, 408, 409 and anything unexpected: the endpoint's problem
		e.Kind, e.Retryable = llm.KindServer, true
		e.Message = "upstream server error"
		if d, ok := retryAfter(h, now); ok {
			e.RetryAfter = d
		}
	}
	return e
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// retryAfter reads retry-after-ms (milliseconds, possibly fractional) or
// Retry-After (seconds or an HTTP date), in that order of precision.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && ms >= 0 && ms < maxRetryAfterMs {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s >= maxRetryAfterMs/1000 {
			return 0, false
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// maxRetryAfterMs bounds parsed retry hints to a week so a silly header
// cannot overflow a Duration.
const maxRetryAfterMs = 7 * 24 * 3600 * 1000

// rateLimitRetryAfter is the wait a 429 asks for: the explicit retry
// headers, else the reset of whichever limit is exhausted (the later one
// when both or neither say so).
func rateLimitRetryAfter(h http.Header, now time.Time) time.Duration {
	if d, ok := retryAfter(h, now); ok {
		return d
	}
	rq, rqOK := parseReset(h.Get("X-Ratelimit-Reset-Requests"))
	tk, tkOK := parseReset(h.Get("X-Ratelimit-Reset-Tokens"))
	outReq := strings.TrimSpace(h.Get("X-Ratelimit-Remaining-Requests")) == "0"
	outTok := strings.TrimSpace(h.Get("X-Ratelimit-Remaining-Tokens")) == "0"
	switch {
	case outReq && !outTok && rqOK:
		return rq
	case outTok && !outReq && tkOK:
		return tk
	}
	return max(rq, tk)
}

// parseReset reads a rate-limit reset: a Go-style duration as OpenAI writes
// it ("1s", "6m0s", "20ms", "2m59.56s") or plain seconds.
func parseReset(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if d, err := time.ParseDuration(v); err == nil {
		return d, d >= 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 && s < maxRetryAfterMs/1000 {
		return time.Duration(s * float64(time.Second)), true
	}
	return 0, false
}

// ctxError classifies a call whose context ended: the caller's own
// cancellation or deadline first (not retryable: the request itself is
// spent), then this package's timers. It returns nil when ctx is live.
// started says a stream already handed out a chunk, after which a total
// timeout is a cut stream, not a call that may be retried.
func (c *Client) ctxError(parent, ctx context.Context, started bool) *llm.Error {
	if err := parent.Err(); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return &llm.Error{Kind: llm.KindTimeout, Message: "request deadline exceeded", Endpoint: c.name, Err: err}
		}
		return &llm.Error{Kind: llm.KindCanceled, Message: "request canceled", Endpoint: c.name, Err: err}
	}
	cause := context.Cause(ctx)
	switch {
	case cause == nil:
		return nil
	case errors.Is(cause, ErrFirstTokenTimeout):
		return &llm.Error{Kind: llm.KindTimeout, Retryable: true, Message: c.msgFirstToken, Endpoint: c.name, Err: cause}
	case errors.Is(cause, ErrTotalTimeout) && started:
		return &llm.Error{Kind: llm.KindStreamCut, Message: c.msgTotalCut, Endpoint: c.name, Err: cause}
	case errors.Is(cause, ErrTotalTimeout):
		return &llm.Error{Kind: llm.KindTimeout, Retryable: true, Message: c.msgTotal, Endpoint: c.name, Err: cause}
	}
	return nil
}

// connectError classifies a round trip that produced no response.
func (c *Client) connectError(err error) *llm.Error {
	return &llm.Error{Kind: llm.KindConnect, Retryable: true, Message: "cannot connect to upstream endpoint", Endpoint: c.name, Err: err}
}

// bodyError classifies a failure reading or decoding a 2xx answer.
func (c *Client) bodyError(err error) *llm.Error {
	msg := "upstream answer could not be read"
	switch {
	case errors.Is(err, ErrTooLarge):
		msg = "upstream answer too large"
	case errors.Is(err, ErrMalformed):
		msg = "upstream sent a malformed answer"
	case errors.Is(err, ErrUpstreamEvent):
		msg = "upstream reported an error"
	}
	return &llm.Error{Kind: llm.KindServer, Retryable: true, Message: msg, Endpoint: c.name, Err: err}
}

// eventError is the error of an upstream error object or event inside a
// 200 answer, carrying upstream's message.
func eventError(data []byte) *llm.Error {
	ue := parseErrorBody(data)
	msg := "upstream stream error"
	if ue.Message != "" {
		msg += ": " + ue.Message
	}
	return &llm.Error{Kind: llm.KindStreamCut, Message: msg, Code: ue.Code, Err: fmt.Errorf("%w: %s", ErrUpstreamEvent, orDefault(ue.Message, "no message"))}
}
