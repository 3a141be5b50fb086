package provider

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// benchChunks is the stream the benchmarks read: 10 content chunks, the
// usage chunk and [DONE].
var benchChunks = sseBody("Your ", "order ", "1234 ", "left ", "our ", "warehouse ", "this ", "morning ", "and ", "arrives Friday.")

// cannedServer is a minimal HTTP/1.1 server that answers every request with
// the same bytes, so that a benchmark's allocations are the client's own.
// It stops when the benchmark ends.
func cannedServer(b *testing.B, contentType, body string) string {
	b.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	resp := []byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s", contentType, len(body), body))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Go(func() { serveCanned(conn, resp) })
		}
	})
	b.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + l.Addr().String()
}

func serveCanned(conn net.Conn, resp []byte) {
	defer conn.Close()
	br := bufio.NewReaderSize(conn, 16<<10)
	for {
		n := int64(0)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
			if k, v, ok := bytes.Cut(line, []byte(":")); ok && strings.EqualFold(string(k), "Content-Length") {
				n, _ = strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return
		}
		if _, err := conn.Write(resp); err != nil {
			return
		}
	}
}

// httptestServer answers with a fixed body through net/http's server.
func httptestServer(b *testing.B, contentType, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		_, _ = io.WriteString(w, body)
	}))
	b.Cleanup(srv.Close)
	return srv.URL
}

var benchServers = []struct {
	name  string
	start func(*testing.B, string, string) string
}{
	{"canned", cannedServer},
	{"httptest", httptestServer},
}

func BenchmarkComplete(b *testing.B) {
	for _, srv := range benchServers {
		b.Run(srv.name, func(b *testing.B) {
			c := newClient(b, Config{BaseURL: srv.start(b, "application/json", completionJSON)})
			req := testRequest()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Complete(testCtx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStream(b *testing.B) {
	for _, srv := range benchServers {
		b.Run(srv.name, func(b *testing.B) {
			c := newClient(b, Config{BaseURL: srv.start(b, "text/event-stream", benchChunks)})
			req := testRequest()
			b.ReportAllocs()
			chunks := 0
			for b.Loop() {
				s, err := c.Stream(testCtx, req)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := s.Recv()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					chunks++
				}
				_ = s.Close()
			}
			b.ReportMetric(float64(chunks)/float64(b.N), "chunks/op")
		})
	}
}

// BenchmarkEncodeRequest measures the request encoding of a short call
// and of an agent conversation of 20 messages with a tool.
func BenchmarkEncodeRequest(b *testing.B) {
	for _, n := range []int{2, 20} {
		req := testRequest()
		req.Tools = []llm.Tool{{Type: "function", Function: llm.FunctionDecl{
			Name: "get_order", Description: "Look an order up by its number.",
			Parameters: json.RawMessage(`{"type":"object","properties":{"order_id":{"type":"string"}},"required":["order_id"]}`),
		}}}
		for len(req.Messages) < n {
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleAssistant, Content: llm.Text("Your order 1234 left our warehouse this morning and arrives Friday.")})
		}
		b.Run(strconv.Itoa(n)+"msgs", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				body, err := newReqBody(req, true)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(body.data)))
				body.release()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/msg")
		})
	}
}

// BenchmarkSSE measures the parser alone: MB/s, and allocations per event
// for the parse and for the parse plus the decode into a fresh *llm.Chunk.
func BenchmarkSSE(b *testing.B) {
	in := []byte(benchChunks)
	const events = 12 // 10 content chunks, usage, [DONE]
	tests := []struct {
		name   string
		decode bool
	}{{"parse", false}, {"parse+decode", true}}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			rd := bytes.NewReader(in)
			p := newSSEReader(rd, sseBufSize, DefaultMaxEventBytes)
			var dec llm.ChunkDecoder
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			before, n := ms.Mallocs, 0
			for b.Loop() {
				rd.Reset(in)
				p.reset(rd, DefaultMaxEventBytes)
				for {
					ev, err := p.next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if tt.decode {
						if _, _, err := decodeEvent(ev, &dec); err != nil {
							b.Fatal(err)
						}
					}
				}
				n++
			}
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.Mallocs-before)/float64(n*events), "allocs/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*events), "ns/event")
		})
	}
}
