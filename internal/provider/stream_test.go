package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

func TestFirstTokenTimeout(t *testing.T) {
	tests := []struct {
		name string
		// serve writes what upstream sends before it stalls until the call ends.
		serve      func(http.ResponseWriter)
		wantStream bool // Stream itself succeeds; Recv reports the timeout
	}{
		{name: "no headers", serve: func(http.ResponseWriter) {}},
		{name: "headers then nothing", serve: startSSE, wantStream: true},
		{name: "keep-alive comments only", wantStream: true, serve: func(w http.ResponseWriter) {
			startSSE(w)
			for range 20 {
				sendEvent(w, ": OPENROUTER PROCESSING\n\n")
				time.Sleep(5 * time.Millisecond)
			}
		}},
		{name: "empty events only", wantStream: true, serve: func(w http.ResponseWriter) {
			startSSE(w)
			sendEvent(w, "event: ping\ndata: {}\n\ndata:\n\n")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				tt.serve(w)
				<-r.Context().Done()
			})
			c := newClient(t, Config{Name: "slow", BaseURL: up.URL, FirstTokenTimeout: 40 * time.Millisecond})
			opened, err := firstChunk(t.Context(), c)
			assert.Equal(t, tt.wantStream, opened)
			e := asError(t, err)
			assert.Equal(t, llm.KindTimeout, e.Kind)
			assert.True(t, e.Retryable, "another endpoint may answer in time")
			assert.ErrorIs(t, e, ErrFirstTokenTimeout)
			assert.Contains(t, e.Message, "first token")
			assert.Equal(t, "slow", e.Endpoint)
		})
	}
}

func TestFirstTokenTimeoutStopsAtFirstChunk(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, _ *http.Request) {
		startSSE(w)
		sendEvent(w, "data: "+chunkJSON("a")+"\n\n")
		time.Sleep(250 * time.Millisecond) // longer than the first-token timeout
		sendEvent(w, sseBody("b"))
	})
	c := newClient(t, Config{BaseURL: up.URL, FirstTokenTimeout: 150 * time.Millisecond})
	s, err := c.Stream(t.Context(), testRequest())
	require.NoError(t, err)
	resp, err := llm.Accumulate(s)
	require.NoError(t, err)
	assert.Equal(t, "ab", resp.Choices[0].Message.Content.String())
}

func TestStreamTotalTimeout(t *testing.T) {
	t.Run("before the first chunk", func(t *testing.T) {
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			<-r.Context().Done()
		})
		// A first-token timeout longer than the total one never fires.
		c := newClient(t, Config{BaseURL: up.URL, FirstTokenTimeout: time.Minute, TotalTimeout: 40 * time.Millisecond})
		s, err := c.Stream(t.Context(), testRequest())
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Recv()
		e := asError(t, err)
		assert.Equal(t, llm.KindTimeout, e.Kind)
		assert.True(t, e.Retryable)
		assert.ErrorIs(t, e, ErrTotalTimeout)
	})
	t.Run("after the first chunk", func(t *testing.T) {
		up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			startSSE(w)
			sendEvent(w, "data: "+chunkJSON("a")+"\n\n")
			<-r.Context().Done()
		})
		// Generous: the first chunk must beat the total timeout even on a
		// loaded machine for the stream to count as started.
		c := newClient(t, Config{BaseURL: up.URL, FirstTokenTimeout: 200 * time.Millisecond, TotalTimeout: 250 * time.Millisecond})
		s, err := c.Stream(t.Context(), testRequest())
		require.NoError(t, err)
		defer s.Close()
		chunk, err := s.Recv()
		require.NoError(t, err)
		assert.Equal(t, "a", chunk.Choices[0].Delta.Content)
		_, err = s.Recv()
		e := asError(t, err)
		assert.Equal(t, llm.KindStreamCut, e.Kind, "output was already handed out")
		assert.False(t, e.Retryable)
		assert.ErrorIs(t, e, ErrTotalTimeout)
	})
}

// hijackCut answers a stream with one chunk and then cuts the TCP
// connection in the middle of the chunked body.
func hijackCut(w http.ResponseWriter, _ *http.Request) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	ev := "data: " + chunkJSON("a") + "\n\n"
	fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n5\r\ndata:", len(ev), ev)
	_ = buf.Flush()
}

func TestStreamBreaks(t *testing.T) {
	first := "data: " + chunkJSON("a") + "\n\n"
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantIs  error  // cause in the chain, if any
		wantMsg string // substring of the message
	}{
		{name: "eof without done", handler: body(first), wantIs: ErrTruncated, wantMsg: "without [DONE]"},
		{name: "error event", handler: body(first + "event: error\ndata: {\"error\":{\"message\":\"model overloaded\",\"code\":\"overloaded\"}}\n\n"), wantIs: ErrUpstreamEvent, wantMsg: "model overloaded"},
		{name: "error event as text", handler: body(first + "event: error\ndata: boom\n\n"), wantIs: ErrUpstreamEvent, wantMsg: "boom"},
		{name: "error object in data", handler: body(first + "data: {\"error\":{\"message\":\"context length exceeded\"}}\n\n"), wantIs: ErrUpstreamEvent, wantMsg: "context length exceeded"},
		{name: "malformed event", handler: body(first + "data: {\"id\":\n\n"), wantIs: ErrMalformed, wantMsg: "malformed"},
		{name: "cut mid-event", handler: body(first + "data: {\"id\":\"x\",\"choi"), wantIs: ErrTruncated, wantMsg: "without [DONE]"},
		{name: "connection cut", handler: hijackCut, wantIs: io.ErrUnexpectedEOF, wantMsg: "upstream stream broke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, tt.handler)
			c := newClient(t, Config{Name: "ep", BaseURL: up.URL})
			s, err := c.Stream(t.Context(), testRequest())
			require.NoError(t, err)
			defer s.Close()
			chunk, err := s.Recv()
			require.NoError(t, err)
			assert.Equal(t, "a", chunk.Choices[0].Delta.Content)
			_, err = s.Recv()
			e := asError(t, err)
			assert.Equal(t, llm.KindStreamCut, e.Kind)
			assert.False(t, e.Retryable)
			assert.Equal(t, "ep", e.Endpoint)
			assert.Contains(t, e.Message, tt.wantMsg)
			assert.ErrorIs(t, e, tt.wantIs)
			_, again := s.Recv()
			assert.Same(t, e, asError(t, again), "the error is sticky")
		})
	}
}

// body serves s as an event stream.
func body(s string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeSSE(w, s) }
}

func TestStreamFailsBeforeFirstChunkRetryably(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantIs  error
	}{
		{name: "empty body", handler: body(""), wantIs: ErrTruncated},
		{name: "comments then eof", handler: body(": hi\n\n"), wantIs: ErrTruncated},
		{name: "error event", handler: body("event: error\ndata: {\"message\":\"no capacity\"}\n\n"), wantIs: ErrUpstreamEvent},
		{name: "malformed", handler: body("data: nope\n\n"), wantIs: ErrMalformed},
		{name: "line too long", handler: body("data: " + string(make([]byte, 300)) + "\n\n"), wantIs: ErrTooLarge},
		{name: "json error with 200", handler: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, `{"error":{"message":"quota"}}`)
		}, wantIs: ErrUpstreamEvent},
		{name: "json answer, not a stream", handler: func(w http.ResponseWriter, _ *http.Request) {
			writeJSON(w, 200, completionJSON)
		}, wantIs: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newUpstream(t, tt.handler)
			c := newClient(t, Config{BaseURL: up.URL, MaxEventBytes: 256})
			_, err := firstChunk(t.Context(), c)
			e := asError(t, err)
			assert.Equal(t, llm.KindServer, e.Kind)
			assert.True(t, e.Retryable, "nothing was handed out: another endpoint may serve it")
			assert.ErrorIs(t, e, tt.wantIs)
		})
	}
}

func TestStreamDoneThenGarbage(t *testing.T) {
	up := newUpstream(t, body(sseBody("a")+"data: {not json\n\ngarbage"))
	c := newClient(t, Config{BaseURL: up.URL})
	s, err := c.Stream(t.Context(), testRequest())
	require.NoError(t, err)
	resp, err := llm.Accumulate(s)
	require.NoError(t, err, "nothing after [DONE] is read")
	assert.Equal(t, "a", resp.Choices[0].Message.Content.String())
}

func TestStreamDoneWhileUpstreamHoldsOn(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		sendEvent(w, sseBody("a"))
		<-r.Context().Done() // never ends the body
	})
	c := newClient(t, Config{BaseURL: up.URL})
	s, err := c.Stream(t.Context(), testRequest())
	require.NoError(t, err)
	resp, err := llm.Accumulate(s)
	require.NoError(t, err, "the drain after [DONE] gives up after its grace")
	assert.Equal(t, "a", resp.Choices[0].Message.Content.String())
}

func TestStreamClose(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		sendEvent(w, "data: "+chunkJSON("a")+"\n\n")
		<-r.Context().Done()
	})
	c := newClient(t, Config{BaseURL: up.URL})
	s, err := c.Stream(t.Context(), testRequest())
	require.NoError(t, err)
	_, err = s.Recv()
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	_, err = s.Recv()
	e := asError(t, err)
	assert.Equal(t, llm.KindCanceled, e.Kind)
	assert.ErrorIs(t, e, ErrStreamClosed)
}

func TestStreamCallerCancelMidStream(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w)
		sendEvent(w, "data: "+chunkJSON("a")+"\n\n")
		<-r.Context().Done()
	})
	c := newClient(t, Config{BaseURL: up.URL})
	ctx, cancel := context.WithCancel(t.Context())
	s, err := c.Stream(ctx, testRequest())
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Recv()
	require.NoError(t, err)
	cancel()
	_, err = s.Recv()
	e := asError(t, err)
	assert.Equal(t, llm.KindCanceled, e.Kind, "the caller left: not a cut stream")
	assert.False(t, e.Retryable)
}

func TestStreamEndsWithoutBlankLine(t *testing.T) {
	up := newUpstream(t, body("data: "+chunkJSON("a")+"\r\n\r\ndata: [DONE]"))
	c := newClient(t, Config{BaseURL: up.URL})
	s, err := c.Stream(t.Context(), testRequest())
	require.NoError(t, err)
	resp, err := llm.Accumulate(s)
	require.NoError(t, err)
	assert.Equal(t, "a", resp.Choices[0].Message.Content.String())
	_, err = s.Recv()
	assert.Equal(t, io.EOF, err)
}
