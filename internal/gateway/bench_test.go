package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// BenchmarkNormalize measures the heart of the gateway on a typical 1 KiB
// request with tools, aliases and a tier that caps and strips.
func BenchmarkNormalize(b *testing.B) {
	body := []byte(typicalBody)
	p := &Policy{
		Resolve: func(m string) (string, bool) { return "large", m == "gpt-4o" || m == "large" },
		Tier:    Tier{MaxOutputTokens: 256},
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, _, err := Normalize(body, p); err != nil {
			b.Fatal(err)
		}
	}
}

// benchWriter is a reusable ResponseWriter, so the handler benchmarks
// measure the gateway rather than httptest.
type benchWriter struct {
	h      http.Header
	n      int
	status int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}
func (w *benchWriter) WriteHeader(code int) { w.status = code }
func (w *benchWriter) Flush()               {}
func (w *benchWriter) reset() {
	clear(w.h)
	w.n, w.status = 0, 0
}

// benchRequest returns a reusable request whose body rewinds with reset.
func benchRequest(body string) (*http.Request, func()) {
	rd := strings.NewReader(body)
	r := httptest.NewRequest("POST", "/v1/chat/completions", rd)
	r.Header.Set("Authorization", "Bearer "+keyStandard)
	r.Header.Set("Content-Type", "application/json")
	return r, func() { rd.Reset(body) }
}

// staticBackend answers at once with prepared values, so that only the
// gateway's own work is measured.
type staticBackend struct {
	resp   *llm.Response
	chunks []*llm.Chunk
}

func (b *staticBackend) Complete(context.Context, *llm.Request) (*llm.Response, error) {
	return b.resp, nil
}

func (b *staticBackend) Stream(context.Context, *llm.Request) (llm.Stream, error) {
	return &sliceStream{chunks: b.chunks}, nil
}

func (b *staticBackend) Models() []string { return nil }

type sliceStream struct{ chunks []*llm.Chunk }

func (s *sliceStream) Recv() (*llm.Chunk, error) {
	if len(s.chunks) == 0 {
		return nil, io.EOF
	}
	c := s.chunks[0]
	s.chunks = s.chunks[1:]
	return c, nil
}

func (s *sliceStream) Close() error { return nil }

func benchServer(b *testing.B, backend Backend) *Server {
	cfg := testConfig()
	cfg.Observer = &nopObserver{}
	return newServer(b, cfg, backend)
}

type nopObserver struct{}

func (nopObserver) Request(string, string, string, int, time.Duration, time.Duration) {}

// BenchmarkHandlerComplete is the gateway's CPU per non-streamed request:
// auth, body read, Normalize, backend call, response encoding.
func BenchmarkHandlerComplete(b *testing.B) {
	s := benchServer(b, &staticBackend{resp: textResponse("large", "Your order 12345 shipped on January 2nd and should arrive tomorrow.")})
	h := s.Handler()
	r, rewind := benchRequest(typicalBody)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rewind()
		w.reset()
		h.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/req")
}

// BenchmarkHandlerStream is the gateway's CPU per streamed request of 20
// content chunks plus finish and usage chunks.
func BenchmarkHandlerStream(b *testing.B) {
	pieces := make([]string, 20)
	for i := range pieces {
		pieces[i] = " token"
	}
	chunks := textChunks("large", pieces...)
	s := benchServer(b, &staticBackend{chunks: chunks})
	h := s.Handler()
	r, rewind := benchRequest(strings.Replace(typicalBody, `"stream":false`, `"stream":true`, 1))
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		rewind()
		w.reset()
		h.ServeHTTP(w, r)
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e3, "µs/req")
}

// BenchmarkHTTPLoopback is a whole round trip over loopback TCP with the
// Go client on the same machine: an upper bound on what the gateway alone
// serves, for comparison with the system's 10,000 req/s bar.
func BenchmarkHTTPLoopback(b *testing.B) {
	s := benchServer(b, &staticBackend{resp: textResponse("large", "Your order shipped.")})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(typicalBody))
			req.Header.Set("Authorization", "Bearer "+keyStandard)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
