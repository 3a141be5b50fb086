package provider

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// newTransport builds the transport of one endpoint. There is no
// response-header timeout: the first-token and total timers bound the wait,
// and a header timeout would cut streams that are slow to start on purpose.
// No proxy is read from the environment: only internal/config reads the
// environment.
func newTransport(cfg *Config, https bool) *http.Transport {
	d := &net.Dialer{Timeout: cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	t := &http.Transport{
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: cfg.ConnectTimeout,
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   https,
		MaxIdleConns:        cfg.MaxIdleConnsPerHost,
		MaxIdleConnsPerHost: cfg.MaxIdleConnsPerHost,
		MaxConnsPerHost:     cfg.MaxConnsPerHost,
		IdleConnTimeout:     cfg.IdleConnTimeout,
		// Bodies are small and gzip costs CPU at 10k req/s; a server that
		// compresses anyway is still understood (see decodedBody).
		DisableCompression: true,
	}
	if https {
		// Pings find a dead HTTP/2 connection, which otherwise stalls every
		// stream multiplexed on it until TCP gives up.
		t.HTTP2 = &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second}
	}
	return t
}

// reqBody is a pooled buffer holding one encoded request. The transport may
// read the body after RoundTrip returns and may ask for a second reader
// (GetBody) to retry on a stale connection, so the buffer goes back to the
// pool only when the client and every reader handed out have let go.
type reqBody struct {
	data []byte // the encoded request
	refs atomic.Int32
}

// maxPooledBody keeps one huge request from pinning its buffer in the pool.
const maxPooledBody = 1 << 20

var reqBodyPool = sync.Pool{New: func() any { return new(reqBody) }}

// includeUsage is shared by every streamed request; it is only read.
var includeUsage = &llm.StreamOptions{IncludeUsage: true}

// newReqBody encodes req with the stream fields the call needs: "stream":
// true and "stream_options": {"include_usage": true} for a streamed call,
// neither otherwise, whatever req says. req is only read: the fields are
// replaced on a shallow copy, which stays on the stack. The body ends in a
// newline, as encoding/json's Encoder writes it. The caller owns one
// reference and must release it.
func newReqBody(req *llm.Request, stream bool) (*reqBody, error) {
	w := *req
	w.Stream, w.StreamOptions = stream, nil
	if stream {
		w.StreamOptions = includeUsage
	}
	b := reqBodyPool.Get().(*reqBody)
	b.refs.Store(1)
	data, err := llm.AppendRequest(b.data[:0], &w)
	b.data = append(data, '\n')
	if err != nil {
		b.release()
		return nil, err
	}
	return b, nil
}

// reader hands out a new reference as an io.ReadCloser.
func (b *reqBody) reader() io.ReadCloser {
	b.refs.Add(1)
	r := &bodyReader{b: b}
	r.Reset(b.data)
	return r
}

func (b *reqBody) getBody() (io.ReadCloser, error) { return b.reader(), nil }

func (b *reqBody) release() {
	if b.refs.Add(-1) == 0 && cap(b.data) <= maxPooledBody {
		reqBodyPool.Put(b)
	}
}

// bodyReader is one reader of a reqBody. Its closed flag is its own, never
// reused, so a transport that closes a body twice cannot release someone
// else's reference.
type bodyReader struct {
	bytes.Reader
	b      *reqBody
	closed atomic.Bool
}

// Close releases the reader's reference.
func (r *bodyReader) Close() error {
	if r.closed.CompareAndSwap(false, true) {
		r.b.release()
	}
	return nil
}

// respBuf is a pooled buffer that a response body is read into.
type respBuf struct {
	buf bytes.Buffer
	lr  io.LimitedReader
}

var respBufPool = sync.Pool{New: func() any { return new(respBuf) }}

func (r *respBuf) free() {
	if r.buf.Cap() <= maxPooledBody {
		r.buf.Reset()
		r.lr = io.LimitedReader{}
		respBufPool.Put(r)
	}
}

// readLimited reads all of rd into a pooled buffer, failing with
// ErrTooLarge past limit bytes. sizeHint, when positive, presizes the buffer.
func readLimited(rd io.Reader, limit, sizeHint int64) (*respBuf, error) {
	rb := respBufPool.Get().(*respBuf)
	if sizeHint > 0 && sizeHint <= limit {
		rb.buf.Grow(int(sizeHint) + bytes.MinRead)
	}
	rb.lr = io.LimitedReader{R: rd, N: limit + 1}
	_, err := rb.buf.ReadFrom(&rb.lr)
	rb.lr.R = nil
	if err == nil && int64(rb.buf.Len()) > limit {
		err = ErrTooLarge
	}
	if err != nil {
		rb.free()
		return nil, err
	}
	return rb, nil
}
