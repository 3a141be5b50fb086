package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// client holds what every worker shares: the transport and the request
// templates, which RoundTrip only reads.
type client struct {
	rt http.RoundTripper
	// tmpls holds one template per key of Config.Keys, in order, each with
	// its own Authorization header; without keys, one template.
	tmpls   []*http.Request
	okKey   []byte // a 2xx body without it is ClassBadResponse
	stream  bool
	timeout time.Duration
	now     func() time.Time
}

func newTransport(conns int, dialTimeout time.Duration) *http.Transport {
	var protos http.Protocols
	protos.SetHTTP1(true)
	return &http.Transport{
		Proxy: nil, // a load test talks to its target, never through a proxy
		DialContext: (&net.Dialer{
			Timeout:   min(dialTimeout, 10*time.Second),
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		// Compression would cost the generator CPU that the target needs.
		DisableCompression: true,
		// HTTP/1.1 only: one request per connection at a time, as the
		// clients floodgate serves behave, and far cheaper than HTTP/2.
		Protocols: &protos,
	}
}

func newClient(cfg *Config, u *url.URL, rt http.RoundTripper) *client {
	h := http.Header{
		"Content-Type": {"application/json"},
		"User-Agent":   {"floodgate-load"},
	}
	if cfg.Stream {
		h["Accept"] = []string{"text/event-stream"}
	} else {
		h["Accept"] = []string{"application/json"}
	}
	tmpl := func(apiKey string) *http.Request {
		h := h.Clone()
		if apiKey != "" {
			h["Authorization"] = []string{"Bearer " + apiKey}
		}
		return &http.Request{
			Method:     http.MethodPost,
			URL:        u,
			Proto:      "HTTP/1.1",
			ProtoMajor: 1,
			ProtoMinor: 1,
			Header:     h,
			Host:       u.Host,
		}
	}
	c := &client{rt: rt, okKey: choicesKey, stream: cfg.Stream, timeout: cfg.Timeout, now: cfg.Now}
	if cfg.Agent != "" {
		c.okKey = runIDKey
	}
	if len(cfg.Keys) == 0 {
		c.tmpls = []*http.Request{tmpl(cfg.APIKey)}
	}
	for _, k := range cfg.Keys {
		c.tmpls = append(c.tmpls, tmpl(k.Key))
	}
	return c
}

// worker sends one request at a time; its buffers are reused from one
// request to the next. Its methods are called by one goroutine, except
// expire, which the run's watchdog calls.
type worker struct {
	c       *client
	id      int
	shard   *shard
	cur     []byte // body of the request in flight, for getBody
	getBody func() (io.ReadCloser, error)
	buf     []byte        // non-stream response body
	br      *bufio.Reader // stream lines

	// Per-request timeouts are enforced by the run's watchdog rather than a
	// context.WithTimeout per request: that costs a timer, several
	// allocations and a lock on the run's context shared by every worker.
	// The worker keeps one context until a timeout cancels it.
	mu       sync.Mutex
	ctx      context.Context
	cancel   context.CancelFunc
	deadline time.Time // of the request in flight; zero when idle
	timedOut bool      // the watchdog cancelled ctx
}

func newWorker(c *client, id int, s *shard) *worker {
	w := &worker{c: c, id: id, shard: s}
	// The transport calls GetBody only inside RoundTrip, to resend a request
	// on a fresh connection, so one closure over the worker serves every
	// request without an allocation each.
	w.getBody = func() (io.ReadCloser, error) { return newBody(w.cur), nil }
	if c.stream {
		w.br = bufio.NewReaderSize(nil, 4096)
	} else {
		w.buf = make([]byte, 0, 4096)
	}
	return w
}

// begin arms the timeout of a request sent now and returns its context.
func (w *worker) begin(parent context.Context, now time.Time) context.Context {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ctx == nil || w.timedOut {
		if w.cancel != nil {
			w.cancel()
		}
		w.ctx, w.cancel = context.WithCancel(parent)
		w.timedOut = false
	}
	w.deadline = now.Add(w.c.timeout)
	return w.ctx
}

// end disarms the timeout and reports whether it had fired.
func (w *worker) end() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = time.Time{}
	return w.timedOut
}

// expire cancels the request in flight if its deadline is before now.
func (w *worker) expire(now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.deadline.IsZero() && now.After(w.deadline) && !w.timedOut {
		w.timedOut = true
		w.cancel()
	}
}

// stop releases the worker's context.
func (w *worker) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
	}
}

// newBody returns a request body over b, which is shared and never
// modified. It must be an io.NopCloser around a *bytes.Reader: for that type
// alone the transport writes headers and body in one segment instead of
// flushing the headers first, which would cost both ends a syscall and a
// packet per request. A new one per request, because the transport may still
// read or close the previous one after RoundTrip has returned.
func newBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }

// do sends body with the API key of template key (an index into
// client.tmpls) at now and reads the whole answer. Latency and TTFT are
// measured from start, the scheduled start in the open loop; the timeout
// runs from now. parent is the run's context: its cancellation makes the
// outcome "canceled", not an error. Every outcome but a canceled one has
// its latency set, however the request ended.
func (w *worker) do(parent context.Context, key int, body []byte, start, now time.Time) outcome {
	ctx := w.begin(parent, now)
	o := w.send(ctx, w.c.tmpls[key], body, start)
	timedOut := w.end()
	if o.err == nil {
		if o.latency == 0 {
			o.latency = w.c.now().Sub(start)
		}
		return o
	}
	switch {
	case parent.Err() != nil:
		return outcome{canceled: true}
	case timedOut:
		o = outcome{class: ClassTimeout}
	case o.class == ClassStreamError:
		// Whatever broke it, a stream that had started and did not finish.
		o = outcome{class: ClassStreamError}
	default:
		o = outcome{class: classify(o.err, o.class)}
	}
	o.latency = w.c.now().Sub(start)
	return o
}

// send does the request; a failure is returned as an outcome with err set
// and class the fallback for errors classify cannot place.
func (w *worker) send(ctx context.Context, tmpl *http.Request, body []byte, start time.Time) outcome {
	w.cur = body
	req := tmpl.WithContext(ctx)
	req.Body = newBody(body)
	req.GetBody = w.getBody
	req.ContentLength = int64(len(body))

	resp, err := w.c.rt.RoundTrip(req)
	if err != nil {
		return outcome{err: err, class: ClassTransport}
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read the error body so the connection can carry the next request.
		w.discard(resp.Body)
		o := outcome{status: resp.StatusCode, latency: w.c.now().Sub(start)}
		if o.status == http.StatusTooManyRequests {
			o.retryAfter = retryAfter(resp.Header[hdrRetryAfter], w.c.now)
		}
		return o
	}
	degraded := degradedHeader(resp.Header)
	if w.c.stream {
		o := w.readStream(resp.Body, start)
		if o.ok {
			o.degraded = degraded
		}
		return o
	}
	if err := w.readAll(resp.Body); err != nil {
		return outcome{err: err, class: ClassReset}
	}
	// A 2xx body that names "choices" (or "run_id" for a run) is taken as
	// an answer: decoding it would cost the generator more than the gateway
	// spends on the request, and a proxy that mangles the JSON is caught by
	// the client tests, not by a load run. The run status is found the same
	// way.
	if !bytes.Contains(w.buf, w.c.okKey) {
		return outcome{class: ClassBadResponse}
	}
	switch status := runStatus(w.buf); {
	case bytes.Equal(status, statusFailed):
		return outcome{class: ClassRunFailed, latency: w.c.now().Sub(start)}
	case degraded == "" && bytes.Equal(status, statusDegraded):
		degraded = ReasonRunStatus
	}
	return outcome{ok: true, latency: w.c.now().Sub(start), degraded: degraded}
}

var (
	choicesKey     = []byte(`"choices"`)
	runIDKey       = []byte(`"run_id"`)
	statusKey      = []byte(`"status"`)
	statusDegraded = []byte("degraded")
	statusFailed   = []byte("failed")
)

// Response headers read by send, in canonical form so that reading them is
// a plain map lookup.
const (
	// HeaderDegraded marks a degraded answer (shed, expired, over budget...);
	// its value, the reason, is counted in LabelStats.DegradedReasons.
	HeaderDegraded = "X-Floodgate-Degraded"
	// HeaderRunStatus carries the run status of an agent answered through
	// chat completions; "degraded" marks a degraded answer.
	HeaderRunStatus = "X-Floodgate-Run-Status"
	hdrRetryAfter   = "Retry-After"
)

// ReasonRunStatus is the degraded reason of an answer marked degraded by
// its run status (HeaderRunStatus or the run API's "status") rather than
// by HeaderDegraded.
const ReasonRunStatus = "run_status"

// maxReasonLen bounds a degraded reason as reported: the header comes from
// the target, and the report should not hold whatever it sends.
const maxReasonLen = 64

// degradedHeader returns the degraded reason of an answer's headers, or ""
// for a full answer.
func degradedHeader(h http.Header) string {
	if v := h[HeaderDegraded]; len(v) > 0 && v[0] != "" {
		r := v[0]
		if len(r) > maxReasonLen {
			r = r[:maxReasonLen]
		}
		return r
	}
	if v := h[HeaderRunStatus]; len(v) > 0 && v[0] == "degraded" {
		return ReasonRunStatus
	}
	return ""
}

// runStatus returns the value of the first "status" key of body that holds
// a string, or nil: the run API's status, which precedes the nested
// objects (whose statuses are numbers). It scans bytes: inside a JSON
// string a quote is escaped, so `"status"` followed by a colon can only be
// a key.
func runStatus(body []byte) []byte {
	for {
		i := bytes.Index(body, statusKey)
		if i < 0 {
			return nil
		}
		body = body[i+len(statusKey):]
		rest := bytes.TrimLeft(body, " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			continue
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '"' {
			continue
		}
		rest = rest[1:]
		if j := bytes.IndexByte(rest, '"'); j >= 0 {
			return rest[:j]
		}
		return nil
	}
}

// maxRetryAfter bounds a Retry-After as reported; a longer one counts as
// this.
const maxRetryAfter = 24 * time.Hour

// retryAfter returns the delay of a Retry-After header's values (seconds or
// an HTTP date, read against now), or -1 when there is none or it is not
// valid.
func retryAfter(v []string, now func() time.Time) time.Duration {
	if len(v) == 0 {
		return -1
	}
	s := strings.TrimSpace(v[0])
	if secs, err := strconv.ParseFloat(s, 64); err == nil {
		switch {
		case !(secs >= 0): // negative or NaN
			return -1
		case secs >= maxRetryAfter.Seconds():
			return maxRetryAfter
		}
		return time.Duration(secs * float64(time.Second))
	}
	t, err := http.ParseTime(s)
	if err != nil {
		return -1
	}
	return min(max(t.Sub(now()), 0), maxRetryAfter)
}

// maxBody bounds a non-stream answer; a larger one is a bad response (and a
// generator that would buffer it would run out of memory before the target).
const maxBody = 8 << 20

var errBodyTooLarge = errors.New("load: answer body over 8 MiB")

// readAll reads r into w.buf, growing it as needed up to maxBody.
func (w *worker) readAll(r io.Reader) error {
	w.buf = w.buf[:0]
	for {
		if len(w.buf) == cap(w.buf) {
			if len(w.buf) >= maxBody {
				return errBodyTooLarge
			}
			w.buf = append(w.buf, 0)[:len(w.buf)]
		}
		n, err := r.Read(w.buf[len(w.buf):cap(w.buf)])
		w.buf = w.buf[:len(w.buf)+n]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// maxDiscard bounds how much of an error body is read to keep the
// connection; a larger one is cut off with the connection.
const maxDiscard = 64 << 10

func (w *worker) discard(r io.Reader) {
	var scratch [512]byte
	for n := 0; n < maxDiscard; {
		m, err := r.Read(scratch[:])
		n += m
		if err != nil {
			return
		}
	}
}

// readStream reads an SSE answer to its end. Success is "data: [DONE]";
// TTFT is taken at the first data line with content.
func (w *worker) readStream(body io.Reader, start time.Time) outcome {
	w.br.Reset(body)
	defer w.br.Reset(nil)
	var ttft time.Duration
	end, err := scanSSE(w.br, func() { ttft = w.c.now().Sub(start) })
	switch {
	case end == sseDone:
		o := outcome{ok: true, latency: w.c.now().Sub(start), ttft: ttft}
		// Read to EOF, normally just the last chunk's terminator, so that
		// the connection goes back to the pool.
		w.discard(w.br)
		return o
	case end == sseError || err == io.EOF:
		return outcome{class: ClassStreamError}
	}
	// A read error: cancellation and timeout take precedence, any other
	// break of a stream is a stream error.
	return outcome{err: err, class: ClassStreamError}
}

// sseEnd is how an SSE stream ended.
type sseEnd uint8

const (
	sseTruncated sseEnd = iota // EOF or a read error before [DONE]
	sseDone                    // data: [DONE]
	sseError                   // an error event
)

var (
	dataPrefix  = []byte("data:")
	eventPrefix = []byte("event:")
	doneMarker  = []byte("[DONE]")
	errorStart  = []byte(`{"error"`)
	contentKey  = []byte(`content":`)
	toolCalls   = []byte(`"tool_calls"`)
)

// scanSSE reads lines until [DONE], an error event, or the end of r, and
// calls onContent once, at the first data line that carries content (text,
// reasoning or a tool call). Lines longer than r's buffer are judged by the
// part that fits. It returns the read error that ended a truncated stream.
func scanSSE(r *bufio.Reader, onContent func()) (sseEnd, error) {
	seenContent := false
	for {
		line, err := r.ReadSlice('\n')
		long := err == bufio.ErrBufferFull
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			switch kind := sseLine(line); {
			case kind == sseLineDone && !long:
				return sseDone, nil
			case kind == sseLineError:
				return sseError, nil
			case kind == sseLineContent && !seenContent:
				seenContent = true
				onContent()
			}
		}
		for long {
			_, err = r.ReadSlice('\n')
			long = err == bufio.ErrBufferFull
		}
		if err != nil {
			return sseTruncated, err
		}
	}
}

type sseLineKind uint8

const (
	sseLineOther sseLineKind = iota
	sseLineContent
	sseLineDone
	sseLineError
)

// sseLine classifies one line of an SSE stream, without its line ending.
func sseLine(line []byte) sseLineKind {
	if payload, ok := bytes.CutPrefix(line, dataPrefix); ok {
		payload = bytes.TrimLeft(payload, " ")
		switch {
		case bytes.Equal(bytes.TrimRight(payload, " "), doneMarker):
			return sseLineDone
		case bytes.HasPrefix(payload, errorStart):
			return sseLineError
		case hasContent(payload):
			return sseLineContent
		}
		return sseLineOther
	}
	if name, ok := bytes.CutPrefix(line, eventPrefix); ok && string(bytes.TrimSpace(name)) == "error" {
		return sseLineError
	}
	return sseLineOther
}

// hasContent reports whether a chunk's JSON has a non-empty "content" (or
// "reasoning_content") string or tool calls, by scanning bytes: the role-only
// first chunk has `"content":""` and must not count.
func hasContent(p []byte) bool {
	if bytes.Contains(p, toolCalls) {
		return true
	}
	for {
		i := bytes.Index(p, contentKey)
		if i < 0 {
			return false
		}
		p = bytes.TrimLeft(p[i+len(contentKey):], " ")
		if len(p) >= 2 && p[0] == '"' && p[1] != '"' {
			return true
		}
	}
}

// badResponseMessages are net/http's words for an answer that is not valid
// HTTP.
var badResponseMessages = []string{
	"malformed", "bad Content-Length", "unsupported transfer encoding",
	"invalid Trailer", "too many transfer encodings", "response headers exceeded",
}

// classify names the class of a client-side error.
func classify(err error, fallback string) string {
	var ne net.Error
	var op *net.OpError
	switch {
	case errors.Is(err, errBodyTooLarge):
		return ClassBadResponse
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.As(err, &op) && op.Op == "dial":
		return ClassConnect
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		// The transport closes a connection it has seen the server close,
		// which can fail a write still in progress on it.
		errors.Is(err, net.ErrClosed):
		return ClassReset
	}
	// net/http reports some conditions only in its messages.
	msg := err.Error()
	for _, m := range badResponseMessages {
		if strings.Contains(msg, m) {
			return ClassBadResponse
		}
	}
	if strings.Contains(msg, "server closed") || strings.Contains(msg, "connection reset") ||
		strings.Contains(msg, "broken pipe") {
		return ClassReset
	}
	return fallback
}
