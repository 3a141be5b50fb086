package load

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

const completionJSON = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"large",` +
	`"choices":[{"index":0,"message":{"role":"assistant","content":"Your order has shipped."},"finish_reason":"stop"}],` +
	`"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`

// upstream is an httptest server playing a chat completions endpoint. It
// numbers requests from 1 in arrival order and lets a test decide per
// request what to answer.
type upstream struct {
	*httptest.Server
	count  atomic.Int64
	answer func(w http.ResponseWriter, r *http.Request, n int64)
}

func newUpstream(t testing.TB, answer func(w http.ResponseWriter, r *http.Request, n int64)) *upstream {
	t.Helper()
	u := &upstream{answer: answer}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		n := u.count.Add(1)
		// Reading the body to its end lets the server notice a client that
		// goes away (it watches the connection only after the body).
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if u.answer == nil {
			answerOK(w, r, n)
			return
		}
		u.answer(w, r, n)
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) target() string { return u.URL + "/v1" }

func answerOK(w http.ResponseWriter, _ *http.Request, _ int64) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(completionJSON))
}

func sleepThenOK(d time.Duration) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, r *http.Request, n int64) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			answerOK(w, r, n)
		case <-r.Context().Done():
		}
	}
}

// sse writes a stream: a role-only chunk, after firstToken the content
// chunks, then tail (normally "data: [DONE]").
func sse(firstToken time.Duration, tail string) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, _ *http.Request, _ int64) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		fmt.Fprint(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}`+"\n\n")
		f.Flush()
		time.Sleep(firstToken)
		for _, word := range []string{"Your", " order", " shipped."} {
			fmt.Fprintf(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":%q}}]}`+"\n\n", word)
			f.Flush()
		}
		fmt.Fprint(w, `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\n")
		fmt.Fprint(w, tail)
		f.Flush()
	}
}

// hijack hands the raw connection to fn, which writes whatever it likes and
// returns; the connection is then closed.
func hijack(fn func(c net.Conn, rw *bufio.ReadWriter)) func(http.ResponseWriter, *http.Request, int64) {
	return func(w http.ResponseWriter, _ *http.Request, _ int64) {
		c, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		fn(c, rw)
	}
}

// closedPort returns an address on which nothing listens.
func closedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// checkInvariants asserts what must hold for every report.
func checkInvariants(t *testing.T, r *Report) {
	t.Helper()
	if got := r.OK + r.ErrorCount() + r.Canceled; got != r.Requests {
		t.Errorf("OK %d + errors %d + canceled %d = %d, want Requests %d", r.OK, r.ErrorCount(), r.Canceled, got, r.Requests)
	}
	if r.Latency.Count != r.OK {
		t.Errorf("Latency.Count = %d, want OK %d", r.Latency.Count, r.OK)
	}
	var ok, errs, dropped int64
	for _, s := range r.Timeline {
		ok += s.OK
		errs += s.Errors
		dropped += s.Dropped
	}
	if ok != r.OK || errs != r.ErrorCount() || dropped != r.Dropped {
		t.Errorf("timeline sums ok %d errors %d dropped %d, want %d %d %d", ok, errs, dropped, r.OK, r.ErrorCount(), r.Dropped)
	}
	if r.Errors == nil {
		t.Error("Errors is nil")
	}
	var degraded int64
	for _, s := range r.Timeline {
		degraded += s.Degraded
	}
	if degraded != r.Degraded {
		t.Errorf("timeline sums degraded %d, want %d", degraded, r.Degraded)
	}
	checkBreakdown(t, "labels", r, r.Labels)
	if r.Keys != nil {
		checkBreakdown(t, "keys", r, r.Keys)
	}
	p := r.Latency
	if p.P50 > p.P90 || p.P90 > p.P95 || p.P95 > p.P99 || p.P99 > p.P999 || p.P999 > p.Max {
		t.Errorf("percentiles not ordered: %+v", p)
	}
}

// checkBreakdown asserts that a per-label breakdown adds up to the report's
// totals and that each label adds up on its own.
func checkBreakdown(t *testing.T, what string, r *Report, m map[string]LabelStats) {
	t.Helper()
	var req, ok, degraded, canceled int64
	errs := map[string]int64{}
	for name, l := range m {
		req += l.Requests
		ok += l.OK
		degraded += l.Degraded
		canceled += l.Canceled
		var n int64
		for k, v := range l.Errors {
			errs[k] += v
			n += v
		}
		var reasons int64
		for _, v := range l.DegradedReasons {
			reasons += v
		}
		switch {
		case l.OK+n+l.Canceled != l.Requests:
			t.Errorf("%s %s: ok %d + errors %d + canceled %d != requests %d", what, name, l.OK, n, l.Canceled, l.Requests)
		case l.Degraded > l.OK || reasons != l.Degraded:
			t.Errorf("%s %s: degraded %d, reasons %d, ok %d", what, name, l.Degraded, reasons, l.OK)
		case l.Rejected != l.Errors["429"] || l.Timeouts != l.Errors[ClassTimeout]:
			t.Errorf("%s %s: rejected %d timeouts %d, errors %v", what, name, l.Rejected, l.Timeouts, l.Errors)
		case l.Latency.Count != l.OK || l.Wait.Count != l.Requests-l.Canceled:
			t.Errorf("%s %s: latency count %d wait count %d, ok %d requests %d", what, name, l.Latency.Count, l.Wait.Count, l.OK, l.Requests)
		case l.Wait.Max < l.Latency.Max:
			t.Errorf("%s %s: wait max %.3f < latency max %.3f", what, name, l.Wait.Max, l.Latency.Max)
		}
	}
	if req != r.Requests || ok != r.OK || degraded != r.Degraded || canceled != r.Canceled || !equalCounts(errs, r.Errors) {
		t.Errorf("%s sum to requests %d ok %d degraded %d canceled %d errors %v; report %d %d %d %d %v",
			what, req, ok, degraded, canceled, errs, r.Requests, r.OK, r.Degraded, r.Canceled, r.Errors)
	}
}
