package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestSSELine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give string
		want sseLineKind
	}{
		{"data: [DONE]", sseLineDone},
		{"data:[DONE]", sseLineDone},
		{"data: [DONE] ", sseLineDone},
		{"data: [DONE]x", sseLineOther},
		{`data: {"choices":[{"delta":{"role":"assistant","content":""}}]}`, sseLineOther},
		{`data: {"choices":[{"delta":{"content":"Hi"}}]}`, sseLineContent},
		{`data: {"choices":[{"delta":{"content": "Hi"}}]}`, sseLineContent},
		{`data: {"choices":[{"delta":{"content":null}}]}`, sseLineOther},
		{`data: {"choices":[{"delta":{"reasoning_content":"hmm"}}]}`, sseLineContent},
		{`data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"call_1"}]}}]}`, sseLineContent},
		{`data: {"choices":[],"usage":{"total_tokens":3}}`, sseLineOther},
		{`data: {"error":{"message":"boom"}}`, sseLineError},
		{"event: error", sseLineError},
		{"event:error", sseLineError},
		{"event: message", sseLineOther},
		{": keep-alive", sseLineOther},
		{"", sseLineOther},
		{`{"content":"not an SSE line"}`, sseLineOther},
	}
	for _, tt := range tests {
		if got := sseLine([]byte(tt.give)); got != tt.want {
			t.Errorf("sseLine(%q) = %d, want %d", tt.give, got, tt.want)
		}
	}
}

func TestScanSSE(t *testing.T) {
	t.Parallel()
	const (
		role    = `data: {"choices":[{"delta":{"role":"assistant","content":""}}]}` + "\n\n"
		content = `data: {"choices":[{"delta":{"content":"Hello"}}]}` + "\n\n"
	)
	long := `data: {"choices":[{"delta":{"content":"` + strings.Repeat("x", 200) + `"}}]}` + "\n\n"
	tests := []struct {
		name        string
		give        string
		bufSize     int
		wantEnd     sseEnd
		wantContent int // calls of onContent
	}{
		{"complete", role + content + content + "data: [DONE]\n\n", 4096, sseDone, 1},
		{"crlf", strings.ReplaceAll(role+content+"data: [DONE]\n\n", "\n", "\r\n"), 4096, sseDone, 1},
		{"done without newline", content + "data: [DONE]", 4096, sseDone, 1},
		{"no done", role + content, 4096, sseTruncated, 1},
		{"empty", "", 4096, sseTruncated, 0},
		{"error event", role + `data: {"error":{"message":"x"}}` + "\n\n", 4096, sseError, 0},
		{"long lines", role + long + long + "data: [DONE]\n\n", 64, sseDone, 1},
		{"done inside long line", `data: {"content":"` + strings.Repeat("y", 100) + "data: [DONE]\n", 32, sseTruncated, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			end, err := scanSSE(bufio.NewReaderSize(strings.NewReader(tt.give), tt.bufSize), func() { calls++ })
			if end != tt.wantEnd || calls != tt.wantContent {
				t.Errorf("scanSSE = %d (%v), %d content calls; want %d, %d", end, err, calls, tt.wantEnd, tt.wantContent)
			}
			if (end == sseTruncated) != (err != nil) {
				t.Errorf("end %d with err %v", end, err)
			}
		})
	}
}

// FuzzScanSSE checks scanSSE against a line-by-line reading of the same
// bytes, and its invariants with a buffer small enough to cut lines.
func FuzzScanSSE(f *testing.F) {
	f.Add([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("event: error\ndata: {}\n\n"))
	f.Add([]byte("data: {\"error\":{\"message\":\"x\"}}\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		wantEnd, wantContent := referenceSSE(data)
		calls := 0
		end, err := scanSSE(bufio.NewReaderSize(bytes.NewReader(data), len(data)+16), func() { calls++ })
		if end != wantEnd || calls != wantContent {
			t.Fatalf("scanSSE = %d, %d content calls; line by line %d, %d", end, calls, wantEnd, wantContent)
		}
		if (end == sseTruncated) != (err != nil) {
			t.Fatalf("end %d with err %v", end, err)
		}

		calls = 0
		end, err = scanSSE(bufio.NewReaderSize(bytes.NewReader(data), 16), func() { calls++ })
		switch {
		case calls > 1:
			t.Fatalf("onContent called %d times", calls)
		case end == sseDone && !bytes.Contains(data, doneMarker):
			t.Fatal("done without [DONE]")
		case end == sseError && !bytes.Contains(data, []byte("error")):
			t.Fatal("error without an error event")
		case calls == 1 && !bytes.Contains(data, contentKey) && !bytes.Contains(data, toolCalls):
			t.Fatal("content without a content key")
		case (end == sseTruncated) != (err != nil):
			t.Fatalf("end %d with err %v", end, err)
		}
	})
}

// referenceSSE reads data the plain way: split into lines, classify each.
func referenceSSE(data []byte) (sseEnd, int) {
	content := 0
	lines := bytes.Split(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	for _, line := range lines {
		switch sseLine(bytes.TrimRight(line, "\r\n")) {
		case sseLineDone:
			return sseDone, content
		case sseLineError:
			return sseError, content
		case sseLineContent:
			content = min(content+1, 1)
		}
	}
	return sseTruncated, content
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give error
		want string
	}{
		{context.DeadlineExceeded, ClassTimeout},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), ClassTimeout},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, ClassConnect},
		{&net.OpError{Op: "dial", Net: "tcp", Err: errors.New("no route to host")}, ClassConnect},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, ClassReset},
		{&net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}, ClassReset},
		{io.ErrUnexpectedEOF, ClassReset},
		{fmt.Errorf("net/http: HTTP/1.x transport connection broken: %w", io.EOF), ClassReset},
		{errors.New("http: server closed idle connection"), ClassReset},
		{errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "SSH-2.0"`), ClassBadResponse},
		{errors.New("bad Content-Length"), ClassBadResponse},
		{errors.New("something else"), ClassTransport},
	}
	for _, tt := range tests {
		if got := classify(tt.give, ClassTransport); got != tt.want {
			t.Errorf("classify(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestHasContentDoesNotLoopOnTrailingKey(t *testing.T) {
	t.Parallel()
	for _, give := range []string{`content":`, `content":"`, `content": `, `{"content":""}`} {
		if hasContent([]byte(give)) {
			t.Errorf("hasContent(%q) = true", give)
		}
	}
}
