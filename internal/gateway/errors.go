package gateway

import (
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Static header values, shared rather than allocated per response;
// net/http never modifies a header's value slice.
var (
	hdrJSON        = []string{"application/json"}
	hdrEventStream = []string{"text/event-stream"}
	hdrNoCache     = []string{"no-cache"}
	hdrNo          = []string{"no"}
)

// bufPool holds the byte buffers request bodies are read into and answers
// are encoded into; neither outlives its request.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// maxPooled keeps one huge body or answer from pinning its buffer.
const maxPooled = 256 << 10

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooled {
		*bp = (*bp)[:0]
		bufPool.Put(bp)
	}
}

// retryAfter renders d as Retry-After wants it: whole seconds, rounded up,
// at least 1.
func retryAfter(d time.Duration) string {
	s := (d + time.Second - 1) / time.Second
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(int64(s), 10)
}

// errorStatus is the status for e, kept within the error range even when a
// backend put something odd in Status.
func errorStatus(e *llm.Error) int {
	st := e.HTTPStatus()
	if st < 400 || st > 599 {
		return http.StatusBadGateway
	}
	return st
}

// writeError is the one place where an error becomes a response: status
// from the error's kind, OpenAI's body, Retry-After on 429 (always) and on
// 503 (when known). Server-side failures are logged with the request id.
func (s *Server) writeError(x *exchange, err error) {
	e := llm.AsError(err)
	status := errorStatus(e)
	h := x.Header()
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable && e.RetryAfter > 0 {
		h["Retry-After"] = []string{retryAfter(e.RetryAfter)}
	}
	s.logError(x, e, status)
	bp := getBuf()
	defer putBuf(bp)
	out := append(llm.AppendErrorBody(*bp, e.Body()), '\n')
	*bp = out
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	delete(h, "Content-Encoding")
	x.WriteHeader(status)
	_, _ = x.Write(out)
}

// writeStreamError ends a stream that broke after it started: an error
// event in OpenAI's shape, which the SDKs raise, and no [DONE], so no
// client mistakes the truncated answer for a whole one.
func (s *Server) writeStreamError(x *exchange, err error) {
	e := llm.AsError(err)
	x.outcome = errorStatus(e)
	s.logError(x, e, x.outcome)
	bp := getBuf()
	defer putBuf(bp)
	out := append(llm.AppendErrorBody(append(*bp, sseData...), e.Body()), '\n', '\n')
	*bp = out
	if _, werr := x.Write(out); werr == nil {
		x.flush()
	}
}

// logError logs what the operator must look at: server-side failures.
// Client errors are the client's business and would flood the log.
func (s *Server) logError(x *exchange, e *llm.Error, status int) {
	if status < 500 {
		return
	}
	s.log.LogAttrs(x.ctx, slog.LevelError, "request failed",
		slog.String("request_id", x.id),
		slog.String("route", x.route),
		slog.String("tenant", x.tenant),
		slog.String("model", x.model),
		slog.Int("status", status),
		slog.String("kind", e.Kind.String()),
		slog.String("endpoint", e.Endpoint),
		slog.String("error", e.Error()),
	)
}
