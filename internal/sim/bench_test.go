package sim

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"
)

// benchBody is a typical agent turn: a system prompt, the shop's tools and
// a user question the model answers with a tool call.
var benchBody = []byte(`{"model":"small","messages":[{"role":"system","content":"You are the shop's helpful customer-service agent."},{"role":"user","content":"Where is my order 100123?"}],"tools":` + shopToolsJSON + `}`)

// benchAnswerBody ends in a tool result, so the model writes an answer.
var benchAnswerBody = []byte(`{"model":"small","messages":[{"role":"system","content":"You are the shop's helpful customer-service agent."},{"role":"user","content":"Hi, where is my order 100123?"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_order_status","arguments":"{\"order_id\":\"100123\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"{\"order_id\":\"100123\",\"status\":\"shipped\",\"eta\":\"2025-05-02\",\"carrier\":\"DHL\"}"}],"tools":` + shopToolsJSON + `}`)

var benchStreamBody = []byte(`{"model":"small","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"system","content":"You are the shop's helpful customer-service agent."},{"role":"user","content":"Hi, where is my order 100123?"},{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"get_order_status","arguments":"{\"order_id\":\"100123\"}"}}]},{"role":"tool","tool_call_id":"c1","content":"{\"order_id\":\"100123\",\"status\":\"shipped\",\"eta\":\"2025-05-02\",\"carrier\":\"DHL\"}"}],"tools":` + shopToolsJSON + `}`)

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Flush()                      {}

// cpuTime returns the process's user plus system CPU time: on a shared
// box, CPU per operation is steadier than wall time per operation.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchHandler(b *testing.B, body []byte, memo bool) {
	s, err := New(Config{TimeScale: NoDelay})
	if err != nil {
		b.Fatal(err)
	}
	s.noMemo = !memo
	h := s.Handler()
	w := &nopWriter{h: http.Header{}}
	rd := bytes.NewReader(body)
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	cpu := cpuTime()
	for b.Loop() {
		rd.Reset(body)
		req.Body = io.NopCloser(rd)
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
	if st := s.Stats(); st.Models["small"].Status["200"] == 0 {
		b.Fatalf("no successful request: %+v", st)
	}
}

// BenchmarkHandler measures the handler at TimeScale NoDelay: "memo" is a
// body seen before (the usual case in a load test), "miss" decodes and
// decides from scratch every time.
func BenchmarkHandler(b *testing.B) {
	for _, tt := range []struct {
		name string
		body []byte
	}{{"tool-call", benchBody}, {"answer", benchAnswerBody}, {"stream", benchStreamBody}} {
		b.Run(tt.name+"/memo", func(b *testing.B) { benchHandler(b, tt.body, true) })
		b.Run(tt.name+"/miss", func(b *testing.B) { benchHandler(b, tt.body, false) })
	}
}

// BenchmarkLoopback measures requests per second through a real net/http
// server and client on loopback, the client and server sharing the CPUs as
// the load generator and the sim do in floodgate's benchmark.
func BenchmarkLoopback(b *testing.B) {
	for _, tt := range []struct {
		name string
		body []byte
		memo bool
	}{{"tool-call", benchBody, true}, {"stream", benchStreamBody, true}, {"answer-miss", benchAnswerBody, false}} {
		b.Run(tt.name, func(b *testing.B) {
			s, err := New(Config{TimeScale: NoDelay})
			if err != nil {
				b.Fatal(err)
			}
			s.noMemo = !tt.memo
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			tr := &http.Transport{MaxIdleConnsPerHost: 256, DialContext: (&net.Dialer{}).DialContext}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			url := srv.URL + "/v1/chat/completions"
			b.ReportAllocs()
			b.SetParallelism(16)
			start, cpu := time.Now(), cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(tt.body))
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}
