package provider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Phases of a stream, which decide what its one timer means when it fires.
const (
	phaseWaiting int32 = iota // no chunk handed out: the first-token deadline
	phaseStarted              // the total deadline
	phaseDone                 // [DONE] seen: the grace for the end of the body
)

// sseBufSize is a stream's read buffer: room for a burst of chunks.
const sseBufSize = 8 << 10

// drainGrace bounds the wait for the end of the body after [DONE], which a
// well-behaved server sends at once. A server that holds the stream open
// costs its connection, not the caller's time.
const drainGrace = 100 * time.Millisecond

var ssePool = sync.Pool{New: func() any { return newSSEReader(nil, sseBufSize, DefaultMaxEventBytes) }}

// Stream sends req as a streamed call and returns once upstream answered
// 200 with its headers. Upstream always gets "stream": true and
// "stream_options": {"include_usage": true}, whatever req says, so that the
// last chunk carries usage; req itself is only read.
//
// The first-token timeout keeps running until Recv returns the first chunk,
// so a stream whose first chunk never comes fails with a retryable
// KindTimeout from Recv, and a failure of any kind before the first chunk is
// retryable (KindServer unless it is a timeout or the caller's own doing).
// After the first chunk a failure is KindStreamCut, not retryable.
func (c *Client) Stream(ctx context.Context, req *llm.Request) (llm.Stream, error) {
	s := &stream{c: c, parent: ctx}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.deadline = time.Now().Add(c.cfg.TotalTimeout)
	first := c.cfg.FirstTokenTimeout
	if first >= c.cfg.TotalTimeout {
		first, s.firstIsTotal = c.cfg.TotalTimeout, true
	}
	s.timer = time.AfterFunc(first, s.expire)

	resp, err := c.send(ctx, s.ctx, req, true)
	if err != nil {
		s.release()
		return nil, err
	}
	c.observe(resp.Header)
	if resp.StatusCode/100 != 2 {
		e := c.statusError(ctx, s.ctx, resp)
		s.release()
		return nil, e
	}
	if isJSON(resp.Header.Get("Content-Type")) {
		e := s.jsonAnswer(resp)
		s.release()
		return nil, e
	}
	body, closeDec, err := decodedBody(resp)
	if err != nil {
		_ = resp.Body.Close()
		s.release()
		return nil, c.bodyError(err)
	}
	s.body, s.closeDec = resp.Body, closeDec
	s.rd = ssePool.Get().(*sseReader)
	s.rd.reset(body, c.cfg.MaxEventBytes)
	return s, nil
}

// stream is a Stream from an endpoint. It is not safe for concurrent use
// (llm.Stream's contract); only its timer runs on another goroutine, and
// that touches nothing but phase and cancel.
type stream struct {
	c      *Client
	parent context.Context // the caller's
	ctx    context.Context // the call's: parent plus this stream's timer
	cancel context.CancelCauseFunc

	timer        *time.Timer
	phase        atomic.Int32
	firstIsTotal bool      // FirstTokenTimeout ≥ TotalTimeout: the first firing is the total deadline
	deadline     time.Time // of TotalTimeout

	body     io.ReadCloser // nil once released
	closeDec func()
	rd       *sseReader // pooled; nil once released
	dec      llm.ChunkDecoder

	started bool  // a chunk was handed out
	err     error // sticky: io.EOF, or the error that ended the stream
}

// expire runs on the timer's goroutine.
func (s *stream) expire() {
	if s.phase.Load() == phaseWaiting && !s.firstIsTotal {
		s.cancel(ErrFirstTokenTimeout)
		return
	}
	s.cancel(ErrTotalTimeout)
}

// Recv returns the next chunk, io.EOF after [DONE], or an *llm.Error.
func (s *stream) Recv() (*llm.Chunk, error) {
	if s.err != nil {
		return nil, s.err
	}
	for {
		ev, err := s.rd.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = ErrTruncated
			}
			return nil, s.fail(err)
		}
		chunk, done, err := decodeEvent(ev, &s.dec)
		switch {
		case err != nil && s.rd.atEOF && errors.Is(err, ErrMalformed):
			// The event was cut short by the end of the body, not garbled.
			return nil, s.fail(ErrTruncated)
		case err != nil:
			return nil, s.fail(err)
		case done:
			s.finish()
			return nil, io.EOF
		case chunk == nil:
			continue
		}
		if !s.started {
			if !s.timer.Stop() {
				// The first-token deadline passed while this chunk was
				// read; expire is cancelling, and its cause decides.
				<-s.ctx.Done()
				return nil, s.fail(nil)
			}
			s.phase.Store(phaseStarted)
			s.started = true
			s.timer.Reset(time.Until(s.deadline))
		}
		return chunk, nil
	}
}

// Close releases the connection. It may be called at any time and more
// than once; a Recv after it reports ErrStreamClosed.
func (s *stream) Close() error {
	if s.err == nil {
		s.err = &llm.Error{Kind: llm.KindCanceled, Message: "stream closed", Endpoint: s.c.name, Err: ErrStreamClosed}
	}
	s.release()
	return nil
}

// finish ends a stream at [DONE]: it reads the body to its end, briefly,
// so that the connection is reused.
func (s *stream) finish() {
	s.phase.Store(phaseDone)
	if s.timer.Stop() {
		s.timer.Reset(min(drainGrace, time.Until(s.deadline)))
		drainBuffered(s.rd.br)
	}
	s.err = io.EOF
	s.release()
}

func drainBuffered(br *bufio.Reader) {
	for n := 0; n < maxDrain; {
		if _, err := br.Peek(1); err != nil {
			return
		}
		k, _ := br.Discard(br.Buffered())
		n += k
	}
}

func (s *stream) fail(cause error) error {
	s.err = s.classify(cause)
	s.release()
	return s.err
}

// classify turns what ended the stream into its error: the caller's
// context or a timer first, then what the body said.
func (s *stream) classify(cause error) *llm.Error {
	if e := s.c.ctxError(s.parent, s.ctx, s.started); e != nil {
		return e
	}
	var le *llm.Error
	if errors.As(cause, &le) {
		e := *le
		e.Endpoint = s.c.name
		if !s.started {
			e.Kind, e.Retryable = llm.KindServer, true
		}
		return &e
	}
	msg := "upstream stream broke"
	switch {
	case errors.Is(cause, ErrTruncated):
		msg = "upstream stream ended without [DONE]"
	case errors.Is(cause, ErrTooLarge):
		msg = "upstream stream event too large"
	}
	if !s.started {
		return &llm.Error{Kind: llm.KindServer, Retryable: true, Message: msg + " before its first chunk", Endpoint: s.c.name, Err: cause}
	}
	return &llm.Error{Kind: llm.KindStreamCut, Message: msg, Endpoint: s.c.name, Err: cause}
}

// release stops the timer, closes the body and returns the parser to its
// pool. It is idempotent. The body is closed before the context is
// cancelled so that a body read to its end keeps its connection.
func (s *stream) release() {
	s.timer.Stop()
	if s.body != nil {
		s.closeDec()
		_ = s.body.Close()
		s.body = nil
	}
	if s.rd != nil {
		s.rd.reset(nil, 0)
		ssePool.Put(s.rd)
		s.rd = nil
	}
	s.cancel(nil)
}

// jsonAnswer classifies a 200 answer to a stream request that came as JSON:
// an error object some servers send with status 200, or a server that
// ignored "stream": true.
func (s *stream) jsonAnswer(resp *http.Response) *llm.Error {
	var data []byte
	if body, closeDec, err := decodedBody(resp); err == nil {
		if rb, err := readLimited(body, maxErrorBody, -1); err == nil {
			data = append([]byte(nil), rb.buf.Bytes()...)
			rb.free()
		}
		closeDec()
	}
	drainClose(resp.Body)
	if e := s.c.ctxError(s.parent, s.ctx, false); e != nil {
		return e
	}
	if msg := parseErrorBody(data).Message; msg != "" {
		return s.c.bodyError(fmt.Errorf("%w: %s", ErrUpstreamEvent, msg))
	}
	return s.c.bodyError(fmt.Errorf("%w: a stream request was answered with JSON", ErrMalformed))
}
