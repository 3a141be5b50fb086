// Package provider calls model endpoints that speak the OpenAI Chat
// Completions wire format — OpenAI, Azure OpenAI deployments, vLLM, Ollama,
// LM Studio and floodgate's own simulator — and turns every way such a call
// can end into either an answer or an *llm.Error that says whether another
// endpoint may succeed.
package provider

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Endpoint kinds, the values of Config.Kind.
const (
	// KindOpenAI is OpenAI's API and everything that copies its wire:
	// vLLM, Ollama, LM Studio, floodgate sim.
	KindOpenAI = "openai"
	// KindAzure is Azure OpenAI: deployment in the path, api-version in the
	// query, the key in an api-key header.
	KindAzure = "azure"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultAPIVersion          = "2024-10-21"
	DefaultConnectTimeout      = 2 * time.Second
	DefaultFirstTokenTimeout   = 15 * time.Second
	DefaultTotalTimeout        = 120 * time.Second
	DefaultMaxIdleConnsPerHost = 4096
	DefaultIdleConnTimeout     = 90 * time.Second
	DefaultMaxResponseBytes    = 32 << 20
	DefaultMaxEventBytes       = 4 << 20
)

// Config configures a Client. Zero values mean the defaults documented on
// each field; New fills them in.
type Config struct {
	// Name identifies the endpoint; it is set as Endpoint on every error.
	// Default: BaseURL's host.
	Name string
	// Kind is KindOpenAI (default) or KindAzure.
	Kind string
	// BaseURL is, for KindOpenAI, the API root up to and including /v1
	// (https://api.openai.com/v1, http://127.0.0.1:8000/v1); for KindAzure
	// the resource URL https://{resource}.openai.azure.com. Required.
	BaseURL string
	// APIKey is sent as "Authorization: Bearer" (openai) or "api-key"
	// (azure); empty sends neither (local vLLM, sim).
	APIKey string
	// APIVersion is Azure's api-version. Default DefaultAPIVersion.
	APIVersion string
	// Headers are added to every call after the defaults, so they may
	// override them (e.g. OpenAI-Organization, a different auth scheme).
	Headers map[string]string
	// ConnectTimeout bounds dialling and the TLS handshake. Default 2s.
	ConnectTimeout time.Duration
	// FirstTokenTimeout bounds, for streams, the time from sending the
	// request to Recv returning the first chunk. Not applied to Complete,
	// whose answer arrives at once. Default 15s.
	FirstTokenTimeout time.Duration
	// TotalTimeout bounds a whole call, reading the stream included.
	// Default 120s.
	TotalTimeout time.Duration
	// MaxIdleConnsPerHost is how many idle connections are kept for reuse;
	// sized for thousands of calls in flight. Default 4096.
	MaxIdleConnsPerHost int
	// MaxConnsPerHost caps connections to the endpoint. Default 0: no cap.
	MaxConnsPerHost int
	// IdleConnTimeout closes connections idle this long. Default 90s.
	IdleConnTimeout time.Duration
	// MaxResponseBytes caps a non-streamed answer; a larger one is a
	// KindServer error. Default 32 MiB.
	MaxResponseBytes int64
	// MaxEventBytes caps one SSE line and one event's data, so that huge
	// tool-call arguments pass but a runaway stream cannot grow memory
	// without bound. Default 4 MiB.
	MaxEventBytes int
	// Transport replaces the tuned *http.Transport that New builds, and
	// the connection settings above with it (tests, instrumentation).
	Transport http.RoundTripper
	// Now is the clock used for rate-limit headers. Default time.Now.
	Now func() time.Time
}

// Client calls one endpoint. It is safe for concurrent use; it holds no
// goroutine of its own, and Close releases its idle connections.
type Client struct {
	cfg  Config
	name string
	now  func() time.Time
	rt   http.RoundTripper

	completeURL *url.URL // openai kind; read-only, shared by every request
	azure       struct {
		prefix, query string   // {BaseURL}/openai/deployments/ and api-version=…
		urls          sync.Map // deployment → *url.URL
		n             atomic.Int32
	}

	hdrComplete, hdrStream http.Header // templates, cloned per call

	msgFirstToken, msgTotal, msgTotalCut string

	hr headroom
}

// The router finds the endpoint's capacity signal by type assertion.
var _ interface{ RemainingRequests() (int64, bool) } = (*Client)(nil)

// maxCachedDeployments bounds the Azure URL cache; deployments are
// configured, so this is never reached in practice.
const maxCachedDeployments = 256

// userAgent identifies floodgate to upstream operators.
const userAgent = "floodgate"

// New validates cfg, fills in its defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	cfg.Kind = strings.ToLower(strings.TrimSpace(cfg.Kind))
	if cfg.Kind == "" {
		cfg.Kind = KindOpenAI
	}
	if cfg.Kind != KindOpenAI && cfg.Kind != KindAzure {
		return nil, fmt.Errorf("provider: kind %q: want %q or %q", cfg.Kind, KindOpenAI, KindAzure)
	}
	base, err := url.Parse(strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/"))
	switch {
	case err != nil:
		return nil, fmt.Errorf("provider: base URL: %w", err)
	case base.Scheme != "http" && base.Scheme != "https":
		return nil, fmt.Errorf("provider: base URL %q: want an http or https URL", cfg.BaseURL)
	case base.Host == "":
		return nil, fmt.Errorf("provider: base URL %q: no host", cfg.BaseURL)
	case base.RawQuery != "" || base.Fragment != "" || base.User != nil:
		return nil, fmt.Errorf("provider: base URL %q: no query, fragment or user info allowed", cfg.BaseURL)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"connect", cfg.ConnectTimeout}, {"first token", cfg.FirstTokenTimeout}, {"total", cfg.TotalTimeout}, {"idle", cfg.IdleConnTimeout}} {
		if d.v < 0 {
			return nil, fmt.Errorf("provider: %s timeout %v is negative", d.name, d.v)
		}
	}
	if cfg.MaxIdleConnsPerHost < 0 || cfg.MaxConnsPerHost < 0 || cfg.MaxResponseBytes < 0 || cfg.MaxEventBytes < 0 {
		return nil, errors.New("provider: connection and size limits must not be negative")
	}
	if cfg.Name == "" {
		cfg.Name = base.Host
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	setDefault(&cfg.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&cfg.FirstTokenTimeout, DefaultFirstTokenTimeout)
	setDefault(&cfg.TotalTimeout, DefaultTotalTimeout)
	setDefault(&cfg.IdleConnTimeout, DefaultIdleConnTimeout)
	setDefault(&cfg.MaxIdleConnsPerHost, DefaultMaxIdleConnsPerHost)
	setDefault(&cfg.MaxResponseBytes, DefaultMaxResponseBytes)
	setDefault(&cfg.MaxEventBytes, DefaultMaxEventBytes)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Transport == nil {
		cfg.Transport = newTransport(&cfg, base.Scheme == "https")
	}

	c := &Client{
		cfg:           cfg,
		name:          cfg.Name,
		now:           cfg.Now,
		rt:            cfg.Transport,
		msgFirstToken: fmt.Sprintf("no first token from upstream within %v", cfg.FirstTokenTimeout),
		msgTotal:      fmt.Sprintf("no complete answer from upstream within %v", cfg.TotalTimeout),
		msgTotalCut:   fmt.Sprintf("upstream stream exceeded the total timeout of %v", cfg.TotalTimeout),
	}
	c.hr.init()
	switch cfg.Kind {
	case KindAzure:
		// Accept a resource URL given with the /openai suffix as well.
		c.azure.prefix = strings.TrimSuffix(base.String(), "/openai") + "/openai/deployments/"
		c.azure.query = "api-version=" + url.QueryEscape(cfg.APIVersion)
	default:
		if c.completeURL, err = url.Parse(base.String() + "/chat/completions"); err != nil {
			return nil, fmt.Errorf("provider: base URL: %w", err)
		}
	}
	c.hdrComplete = c.headers("application/json")
	c.hdrStream = c.headers("text/event-stream")
	return c, nil
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

func (c *Client) headers(accept string) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", accept)
	h.Set("User-Agent", userAgent)
	if c.cfg.APIKey != "" {
		if c.cfg.Kind == KindAzure {
			h.Set("Api-Key", c.cfg.APIKey)
		} else {
			h.Set("Authorization", "Bearer "+c.cfg.APIKey)
		}
	}
	for k, v := range c.cfg.Headers {
		h.Set(k, v)
	}
	return h
}

// Name returns the endpoint's name.
func (c *Client) Name() string { return c.name }

// Close closes the idle connections of the client's transport. The client
// stays usable; calls after Close dial anew.
func (c *Client) Close() {
	if t, ok := c.rt.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
}

// Complete sends req as a non-streamed call and returns the answer. The
// request is only read, never modified; its Stream and StreamOptions are
// not sent. ctx cancels the upstream call at once.
func (c *Client) Complete(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	cctx, cancel := context.WithTimeoutCause(ctx, c.cfg.TotalTimeout, ErrTotalTimeout)
	defer cancel()
	resp, err := c.send(ctx, cctx, req, false)
	if err != nil {
		return nil, err
	}
	c.observe(resp.Header)
	if resp.StatusCode/100 != 2 {
		return nil, c.statusError(ctx, cctx, resp)
	}
	out, err := c.readAnswer(resp)
	if err != nil {
		if e := c.ctxError(ctx, cctx, false); e != nil {
			return nil, e
		}
		return nil, c.bodyError(err)
	}
	return out, nil
}

func (c *Client) readAnswer(resp *http.Response) (*llm.Response, error) {
	defer resp.Body.Close()
	body, closeBody, err := decodedBody(resp)
	if err != nil {
		return nil, err
	}
	defer closeBody()
	rb, err := readLimited(body, c.cfg.MaxResponseBytes, resp.ContentLength)
	if err != nil {
		return nil, err
	}
	defer rb.free()
	out, err := llm.DecodeResponse(rb.buf.Bytes())
	switch {
	case errors.Is(err, llm.ErrErrorObject):
		return nil, fmt.Errorf("%w: %s", ErrUpstreamEvent, orDefault(parseErrorBody(rb.buf.Bytes()).Message, "no message"))
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	case len(out.Choices) == 0:
		return nil, fmt.Errorf("%w: answer has no choices", ErrMalformed)
	}
	return out, nil
}

// send encodes req and performs the round trip on ctx, which Complete and
// Stream derive from the caller's parent. Errors are classified.
func (c *Client) send(parent, ctx context.Context, req *llm.Request, stream bool) (*http.Response, error) {
	u, err := c.endpointURL(req.Model)
	if err != nil {
		return nil, err
	}
	body, err := newReqBody(req, stream)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Message: "request cannot be encoded", Endpoint: c.name, Err: err}
	}
	hdr := c.hdrComplete
	if stream {
		hdr = c.hdrStream
	}
	hr := &http.Request{
		Method:        http.MethodPost,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        maps.Clone(hdr), // values shared: a RoundTripper must not modify the request
		Body:          body.reader(),
		GetBody:       body.getBody,
		ContentLength: int64(len(body.data)),
		Host:          u.Host,
	}
	resp, err := c.rt.RoundTrip(hr.WithContext(ctx))
	body.release()
	if err != nil {
		if e := c.ctxError(parent, ctx, false); e != nil {
			return nil, e
		}
		return nil, c.connectError(err)
	}
	return resp, nil
}

// endpointURL returns the URL of a chat completion for model.
func (c *Client) endpointURL(model string) (*url.URL, error) {
	if c.completeURL != nil {
		return c.completeURL, nil
	}
	if v, ok := c.azure.urls.Load(model); ok {
		return v.(*url.URL), nil
	}
	if model == "" {
		return nil, &llm.Error{Kind: llm.KindNotFound, Retryable: true, Status: http.StatusBadGateway,
			Message: "no deployment named for the azure endpoint", Endpoint: c.name}
	}
	u, err := url.Parse(c.azure.prefix + url.PathEscape(model) + "/chat/completions?" + c.azure.query)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindNotFound, Retryable: true, Status: http.StatusBadGateway,
			Message: "invalid deployment name for the azure endpoint", Endpoint: c.name, Err: err}
	}
	if c.azure.n.Load() < maxCachedDeployments { // a racing miss may overshoot by a few; no matter
		c.azure.n.Add(1)
		c.azure.urls.Store(model, u)
	}
	return u, nil
}

// maxErrorBody caps how much of an error answer is read.
const maxErrorBody = 64 << 10

// maxDrain is how much of an unread body is discarded so that its
// connection can be reused; past it, closing the connection is cheaper.
const maxDrain = 256 << 10

// statusError reads a non-2xx answer and classifies it.
func (c *Client) statusError(parent, ctx context.Context, resp *http.Response) *llm.Error {
	var msg []byte
	if body, closeBody, err := decodedBody(resp); err == nil {
		if rb, err := readLimited(body, maxErrorBody, -1); err == nil {
			msg = append([]byte(nil), rb.buf.Bytes()...)
			rb.free()
		}
		closeBody()
	}
	drainClose(resp.Body)
	if e := c.ctxError(parent, ctx, false); e != nil {
		return e
	}
	e := classifyStatus(resp.StatusCode, resp.Header, msg, c.now())
	e.Endpoint = c.name
	return e
}

// drainClose discards what is left of a body, up to maxDrain, and closes it,
// so that an HTTP/1.1 connection goes back to the pool.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, maxDrain))
	_ = body.Close()
}

// decodedBody returns the body to read, uncompressed when a server gzipped
// it although it was not asked to, and the function that releases the
// decompressor. resp.Body still needs closing.
func decodedBody(resp *http.Response) (io.Reader, func(), error) {
	if !strings.EqualFold(resp.Header.Get("Content-Encoding"), "gzip") {
		return resp.Body, func() {}, nil
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: gzip: %w", ErrMalformed, err)
	}
	return zr, func() { _ = zr.Close() }, nil
}

// isJSON reports whether a Content-Type is JSON rather than an event stream.
func isJSON(contentType string) bool {
	if contentType == "" || strings.HasPrefix(contentType, "text/event-stream") {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}
