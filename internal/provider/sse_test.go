package provider

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// event is an sseEvent with copied bytes, for comparison.
type event struct{ Type, Data, ID string }

// parseAll reads every event of r; err is what ended the input (nil for a
// clean io.EOF).
func parseAll(r io.Reader, bufSize, max int) (evs []event, retry int, err error) {
	p := newSSEReader(r, bufSize, max)
	for {
		ev, err := p.next()
		if errors.Is(err, io.EOF) {
			return evs, p.retry, nil
		}
		if err != nil {
			return evs, p.retry, err
		}
		evs = append(evs, event{string(ev.typ), string(ev.data), string(ev.id)})
	}
}

// readers feeds the same input whole, a byte at a time, and with the
// smallest buffer, so that every line ending falls on a read boundary
// somewhere.
var readers = []struct {
	name    string
	bufSize int
	wrap    func(io.Reader) io.Reader
}{
	{"whole", 4096, func(r io.Reader) io.Reader { return r }},
	{"one byte", 4096, iotest.OneByteReader},
	{"one byte, 16-byte buffer", 16, iotest.OneByteReader},
	{"half, 16-byte buffer", 16, iotest.HalfReader},
}

func TestSSEReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name      string
		give      string
		max       int
		want      []event
		wantRetry int
		wantErr   error
	}{
		{name: "data with space", give: "data: a\n\n", want: []event{{Data: "a"}}},
		{name: "data without space", give: "data:a\n\n", want: []event{{Data: "a"}}},
		{name: "only one space stripped", give: "data:  a \n\n", want: []event{{Data: " a "}}},
		{name: "multi-line data", give: "data: a\ndata: b\ndata:\n\n", want: []event{{Data: "a\nb\n"}}},
		{name: "crlf", give: "data: a\r\n\r\ndata: b\r\n\r\n", want: []event{{Data: "a"}, {Data: "b"}}},
		{name: "cr only", give: "data: a\r\rdata: b\r\r", want: []event{{Data: "a"}, {Data: "b"}}},
		{name: "mixed endings", give: "data: a\r\ndata: b\rdata: c\n\r\n", want: []event{{Data: "a\nb\nc"}}},
		{name: "comments", give: ": OPENROUTER PROCESSING\n\n:\ndata: a\n: mid\n\n", want: []event{{Data: "a"}}},
		{name: "event id retry", give: "event: error\nid: 7\nretry: 1500\ndata: x\n\n", want: []event{{Type: "error", Data: "x", ID: "7"}}, wantRetry: 1500},
		{name: "event type resets after dispatch", give: "event: e\ndata: 1\n\ndata: 2\n\n", want: []event{{Type: "e", Data: "1"}, {Data: "2"}}},
		{name: "event type resets on empty event", give: "event: e\n\ndata: 2\n\n", want: []event{{Data: "2"}}},
		{name: "id persists, NUL id ignored", give: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n", want: []event{{Data: "a", ID: "1"}, {Data: "b", ID: "1"}}},
		{name: "bad retry ignored", give: "retry: 1s\ndata: a\n\n", want: []event{{Data: "a"}}},
		{name: "blank lines dispatch nothing", give: "\n\n\r\n", want: nil},
		{name: "field without colon", give: "data\n\n", want: []event{{Data: ""}}},
		{name: "unknown field ignored", give: "foo: bar\ndata: a\n\n", want: []event{{Data: "a"}}},
		{name: "bom dropped", give: "\xEF\xBB\xBFdata: a\n\n", want: []event{{Data: "a"}}},
		{name: "missing final newline", give: "data: a\n\ndata: [DONE]", want: []event{{Data: "a"}, {Data: "[DONE]"}}},
		{name: "pending event at eof", give: "data: a\n", want: []event{{Data: "a"}}},
		{name: "done then garbage", give: "data: [DONE]\n\n\x00garbage\xff", want: []event{{Data: "[DONE]"}}},
		{name: "long line within cap", give: "data: " + long + "\n\n", max: 200, want: []event{{Data: long}}},
		{name: "line over cap", give: "data: a\n\ndata: " + long + "\n\n", max: 50, want: []event{{Data: "a"}}, wantErr: ErrTooLarge},
		{name: "final line over cap", give: "data: " + long, max: 50, wantErr: ErrTooLarge},
		{name: "event data over cap", give: strings.Repeat("data: "+long[:30]+"\n", 3) + "\n", max: 64, wantErr: ErrTooLarge},
	}
	for _, tt := range tests {
		for _, rd := range readers {
			t.Run(tt.name+"/"+rd.name, func(t *testing.T) {
				got, retry, err := parseAll(rd.wrap(strings.NewReader(tt.give)), rd.bufSize, cmp.Or(tt.max, 1<<10))
				assert.Equal(t, tt.want, got)
				assert.Equal(t, tt.wantRetry, retry)
				assert.ErrorIs(t, err, tt.wantErr) // nil wants no error
			})
		}
	}
}

func TestSSEReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	got, _, err := parseAll(r, 4096, 1024)
	assert.Equal(t, []event{{Data: "a"}}, got)
	assert.ErrorIs(t, err, boom, "a broken read is not a clean end")
}

func TestDecodeEvent(t *testing.T) {
	tests := []struct {
		name      string
		give      sseEvent
		wantChunk bool
		wantDone  bool
		wantKind  llm.Kind // KindUnknown: no error
		wantIs    error
		wantMsg   string
	}{
		{name: "chunk", give: ev("", chunkJSON("hi")), wantChunk: true},
		{name: "message type", give: ev("message", chunkJSON("hi")), wantChunk: true},
		{name: "usage chunk", give: ev("", usageChunkJSON), wantChunk: true},
		{name: "error null is a chunk", give: ev("", `{"id":"x","choices":[],"error":null}`), wantChunk: true},
		{name: "done", give: ev("", "[DONE]"), wantDone: true},
		{name: "done with spaces", give: ev("", " [DONE] "), wantDone: true},
		{name: "empty data skipped", give: ev("", "")},
		{name: "ping skipped", give: ev("ping", "{}")},
		{name: "error event json", give: ev("error", `{"error":{"message":"overloaded","code":"server_busy"}}`), wantKind: llm.KindStreamCut, wantIs: ErrUpstreamEvent, wantMsg: "upstream stream error: overloaded"},
		{name: "error event text", give: ev("error", "it broke"), wantKind: llm.KindStreamCut, wantIs: ErrUpstreamEvent, wantMsg: "upstream stream error: it broke"},
		{name: "error object", give: ev("", `{"error":{"message":"bad"}}`), wantKind: llm.KindStreamCut, wantIs: ErrUpstreamEvent, wantMsg: "bad"},
		{name: "error string", give: ev("", `{"error":"bad"}`), wantKind: llm.KindStreamCut, wantIs: ErrUpstreamEvent, wantMsg: "bad"},
		{name: "malformed", give: ev("", `{"id":`), wantKind: llm.KindStreamCut, wantIs: ErrMalformed},
		{name: "null", give: ev("", `null`), wantKind: llm.KindStreamCut, wantIs: ErrMalformed},
		{name: "array", give: ev("", `[1]`), wantKind: llm.KindStreamCut, wantIs: ErrMalformed},
		{name: "wrong field type", give: ev("", `{"choices":"x"}`), wantKind: llm.KindStreamCut, wantIs: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunk, done, err := decodeEvent(tt.give, new(llm.ChunkDecoder))
			assert.Equal(t, tt.wantChunk, chunk != nil)
			assert.Equal(t, tt.wantDone, done)
			assert.Equal(t, tt.wantKind, kindOf(err))
			assert.ErrorIs(t, err, tt.wantIs) // nil wants no error
			assert.Contains(t, errText(err), tt.wantMsg)
		})
	}
}

func ev(typ, data string) sseEvent { return sseEvent{typ: []byte(typ), data: []byte(data)} }

func TestDecodeEventFreshChunks(t *testing.T) {
	p := newSSEReader(strings.NewReader(sseBody("a", "b")), 4096, 1<<20)
	var chunks []*llm.Chunk
	var dec llm.ChunkDecoder
	for {
		e, err := p.next()
		require.NoError(t, err)
		c, done, err := decodeEvent(e, &dec)
		require.NoError(t, err)
		if done {
			break
		}
		chunks = append(chunks, c)
	}
	require.Len(t, chunks, 3)
	assert.Equal(t, "a", chunks[0].Choices[0].Delta.Content, "a chunk does not share the parser's buffers")
	assert.Equal(t, "b", chunks[1].Choices[0].Delta.Content)
	assert.Equal(t, 17, chunks[2].Usage.TotalTokens)
}

func FuzzSSE(f *testing.F) {
	for _, s := range []string{
		sseBody("a", "b"),
		"data: a\r\n\r\n: c\rdata: b\r\revent: error\ndata: {\"error\":\"x\"}\n\n",
		"\xEF\xBB\xBFid: 1\nretry: 10\ndata\n\ndata: [DONE]",
		"data: " + strings.Repeat("y", 300) + "\n\n",
	} {
		f.Add([]byte(s))
	}
	const max = 256
	f.Fuzz(func(t *testing.T, in []byte) {
		var results [][]event
		var errs []error
		for _, rd := range readers {
			p := newSSEReader(rd.wrap(bytes.NewReader(in)), rd.bufSize, max)
			var evs []event
			var err error
			for n := 0; ; n++ {
				if n > len(in)+1 {
					t.Fatalf("%s: %d events from %d bytes", rd.name, n, len(in))
				}
				var e sseEvent
				if e, err = p.next(); err != nil {
					break
				}
				if len(e.data) > max || cap(p.long) > 2*max+rd.bufSize || cap(p.data) > 2*max+rd.bufSize {
					t.Fatalf("%s: memory beyond the cap: data %d, long cap %d, data cap %d", rd.name, len(e.data), cap(p.long), cap(p.data))
				}
				_, _, _ = decodeEvent(e, new(llm.ChunkDecoder)) // must not panic
				evs = append(evs, event{string(e.typ), string(e.data), string(e.id)})
			}
			results = append(results, evs)
			errs = append(errs, err)
		}
		for i := 1; i < len(results); i++ {
			assert.Equal(t, results[0], results[i], "%s vs %s", readers[0].name, readers[i].name)
			assert.Equal(t, errors.Is(errs[0], ErrTooLarge), errors.Is(errs[i], ErrTooLarge))
		}
	})
}
