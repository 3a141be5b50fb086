package ring

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Defaults applied by NewForwarder to zero ForwarderConfig fields.
const (
	DefaultWindow      = 10 * time.Second
	DefaultMaxBody     = 1 << 20
	DefaultDialTimeout = time.Second
	DefaultMaxForwards = 2
	// MinSecretLen is the shortest secret NewForwarder accepts.
	MinSecretLen = 16
)

// HeaderIdempotencyKey is set on a request Route forwards when the client
// gave none, so that the owner and any node serving the turn after a
// failed forward see the same key (the engine's RunID): a turn the owner
// stored before the connection broke is answered from the store, not run
// twice.
const HeaderIdempotencyKey = "Idempotency-Key"

// ForwarderConfig configures a Forwarder. Every zero value means its
// documented default; NewForwarder normalises and validates it.
type ForwarderConfig struct {
	// Secret is the HMAC-SHA256 key every node of the cluster shares:
	// only a holder of it can have a request served as forwarded.
	// Required, at least 16 bytes (32 random bytes recommended).
	Secret []byte
	// Window is the replay window: a forwarded request is refused when its
	// timestamp is further than Window from the receiver's clock, and a
	// signature is accepted once within it. Default 10 s; between 100 ms
	// and 5 min. Node clocks must agree to well within it.
	Window time.Duration
	// MaxBody bounds the body Route buffers to sign and send. A larger
	// request is served locally, where the gateway refuses it (413); a
	// forwarded one larger than this is refused with 413. Default 1 MiB,
	// the gateway's own default bound.
	MaxBody int64
	// DialTimeout bounds connecting to an owner; an owner that cannot be
	// reached in time is suspected and the request goes elsewhere.
	// Default 1 s. Ignored when Transport is set.
	DialTimeout time.Duration
	// MaxForwards is how many owners Route tries, one after another when
	// each is unreachable, before it serves the request itself. Default 2.
	MaxForwards int
	// Transport carries forwarded requests. Nil means a transport of the
	// Forwarder's own: DialTimeout, keep-alive pools of 128 connections
	// per node, no proxy from the environment, no compression.
	Transport http.RoundTripper
	// Logger receives forwarding failures. Nil means the Ring's.
	Logger *slog.Logger
	// Now is the clock of signatures. Nil means the Ring's.
	Now func() time.Time
}

func (c *ForwarderConfig) normalize(r *Ring) error {
	if len(c.Secret) < MinSecretLen {
		return fmt.Errorf("secret: at least %d bytes", MinSecretLen)
	}
	switch {
	case c.Window == 0:
		c.Window = DefaultWindow
	case c.Window < 100*time.Millisecond || c.Window > 5*time.Minute:
		return fmt.Errorf("window %v: between 100ms and 5m", c.Window)
	}
	switch {
	case c.MaxBody == 0:
		c.MaxBody = DefaultMaxBody
	case c.MaxBody < 0:
		return fmt.Errorf("max body %d: negative", c.MaxBody)
	}
	switch {
	case c.DialTimeout == 0:
		c.DialTimeout = DefaultDialTimeout
	case c.DialTimeout < 0:
		return fmt.Errorf("dial timeout %v: negative", c.DialTimeout)
	}
	switch {
	case c.MaxForwards == 0:
		c.MaxForwards = DefaultMaxForwards
	case c.MaxForwards < 0:
		return fmt.Errorf("max forwards %d: negative", c.MaxForwards)
	}
	if c.Logger == nil {
		c.Logger = r.cfg.Logger
	}
	if c.Now == nil {
		c.Now = r.cfg.Now
	}
	return nil
}

// Forwarder sends each turn to its session's owner: Route serves a request
// locally when this node owns the session or the request was forwarded to
// it, and otherwise proxies it to the owner. Create it with NewForwarder;
// it is safe for concurrent use. Close releases its idle connections.
type Forwarder struct {
	ring  *Ring
	cfg   ForwarderConfig
	sign  *signer
	seen  *replayCache
	proxy *httputil.ReverseProxy
	own   *http.Transport // the transport to close; nil when given one
}

// NewForwarder returns a Forwarder routing by r's owners.
func NewForwarder(r *Ring, cfg ForwarderConfig) (*Forwarder, error) {
	if r == nil {
		return nil, fmt.Errorf("%w: nil ring", ErrInvalidConfig)
	}
	if err := cfg.normalize(r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	f := &Forwarder{
		ring: r,
		cfg:  cfg,
		sign: newSigner(cfg.Secret),
		seen: newReplayCache(2*cfg.Window, cfg.Now().UnixNano()),
	}
	tr := cfg.Transport
	if tr == nil {
		f.own = &http.Transport{
			DialContext:         (&net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:   true,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 128,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 5 * time.Second,
			DisableCompression:  true,
		}
		tr = f.own
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite:       f.rewrite,
		Transport:     tr,
		FlushInterval: -1, // every write reaches the client at once: SSE stays live
		ErrorHandler:  f.proxyError,
		ErrorLog:      slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		BufferPool:    copyBuffers{},
	}
	return f, nil
}

// Close closes the idle connections of the Forwarder's own transport.
// Requests in flight finish; Route keeps working, dialling anew.
func (f *Forwarder) Close() {
	if f.own != nil {
		f.own.CloseIdleConnections()
	}
}

// KeyFunc returns the tenant and session a request is routed by, or false
// for a request that has none (it is served locally). It may read r.Body
// if it puts back an equivalent one.
type KeyFunc func(r *http.Request) (tenant, session string, ok bool)

// Handler returns a handler that routes each request by key: see Route.
// A request key finds no session in is served by local, without the
// HeaderForward header.
func (f *Forwarder) Handler(key KeyFunc, local http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant, session, ok := key(r)
		if !ok {
			r.Header.Del(HeaderForward)
			local.ServeHTTP(w, r)
			return
		}
		f.Route(w, r, tenant, session, local)
	})
}

// forwardedKey is the context key of the node that forwarded a request.
type forwardedKey struct{}

// ForwardedBy reports the node that forwarded the request whose context
// ctx is, when Route verified and served it as a forwarded request.
func ForwardedBy(ctx context.Context) (node string, ok bool) {
	node, ok = ctx.Value(forwardedKey{}).(string)
	return node, ok
}

// Route serves a request of a tenant's session: by local when this node
// owns the session, and otherwise at the owner, through a reverse proxy
// that flushes every write (server-sent events arrive event by event) and
// cancels the owner's request when the client goes away. w must support
// flushing (http.Flusher, or Unwrap to one) for streams to stay live.
//
// A request carrying HeaderForward was forwarded by another node: when
// its signature is good (right secret, this node as receiver, the same
// method, URI, tenant, session and body, timestamp within the window, not
// seen before) local serves it whoever owns the session, so that a
// request is forwarded at most once; ForwardedBy tells local who sent it.
// A bad signature is refused with 401, a stale or replayed one with 403,
// both in OpenAI's error shape.
//
// When the owner cannot be dialled, Route suspects it (Ring.Suspect),
// asks the Ring again and tries the next owner, up to MaxForwards, and
// then serves the request locally; when the connection breaks before the
// owner answers, it serves the request locally at once. Either way the
// client gets one answer and the turn is not lost: the request carries an
// Idempotency-Key (added when absent), and the session's lease in the
// store keeps a single writer. A connection that breaks after the owner
// started answering aborts the client's connection, as a reverse proxy
// must; the client retries with its key.
func (f *Forwarder) Route(w http.ResponseWriter, r *http.Request, tenant, session string, local http.Handler) {
	if sigs := r.Header.Values(HeaderForward); len(sigs) > 0 {
		f.receive(w, r, sigs, tenant, session, local)
		return
	}
	ctx := r.Context()
	v, i := f.ring.ownerAt(ctx, tenant, session, false)
	if i == v.self {
		local.ServeHTTP(w, r)
		return
	}
	body, whole, err := readBody(r, f.cfg.MaxBody)
	if err != nil || !whole {
		// Too large to sign, or unreadable: local answers as it would.
		local.ServeHTTP(w, r)
		return
	}
	if r.Header.Get(HeaderIdempotencyKey) == "" {
		r.Header.Set(HeaderIdempotencyKey, "fwd_"+randomID(26))
	}
	for n := 1; ; n++ {
		nd := &v.nodes[i]
		err := f.forward(w, r, nd, tenant, session, body)
		if err == nil {
			f.ring.stats.forwards.Add(1)
			return
		}
		if ctx.Err() != nil {
			return // the client went away: nobody to answer
		}
		if !isDialError(err) {
			f.ring.stats.transErrors.Add(1)
			f.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "ring: forward failed, serving locally",
				slog.String("node", f.ring.self.ID), slog.String("owner", nd.m.ID), slog.Any("err", err))
			break
		}
		f.ring.stats.dialErrors.Add(1)
		f.ring.Suspect(nd.m.ID)
		f.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "ring: owner unreachable, suspected",
			slog.String("node", f.ring.self.ID), slog.String("owner", nd.m.ID), slog.Any("err", err))
		if n >= f.cfg.MaxForwards {
			break
		}
		v, i = f.ring.ownerAt(ctx, tenant, session, false)
		if i == v.self {
			break
		}
	}
	f.ring.stats.fallbacks.Add(1)
	setBody(r, body)
	local.ServeHTTP(w, r)
}

// attempt is one forward: where to, with what signature, and the error
// the proxy met before the owner answered, if any.
type attempt struct {
	target *url.URL
	sig    string
	err    error
}

type attemptKey struct{}

// forward proxies r to nd and returns the error met before nd answered;
// nil means nd's answer, whatever its status, has been relayed.
func (f *Forwarder) forward(w http.ResponseWriter, r *http.Request, nd *node, tenant, session string, body []byte) error {
	if nd.u == nil {
		return fmt.Errorf("member %s: no URL", nd.m.ID)
	}
	digest := sha256.Sum256(body)
	s := signature{node: f.ring.self.ID, ts: f.cfg.Now().UnixMilli()}
	s.mac = f.sign.mac(s.node, nd.m.ID, s.ts, r.Method, r.URL.RequestURI(), tenant, session, &digest)
	a := &attempt{target: nd.u, sig: string(appendSignature(make([]byte, 0, 128), &s))}
	setBody(r, body)
	f.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), attemptKey{}, a)))
	return a.err
}

// rewrite points the outgoing request at the attempt's owner, keeps the
// forwarding chain in X-Forwarded-For and signs it.
func (f *Forwarder) rewrite(pr *httputil.ProxyRequest) {
	a := pr.In.Context().Value(attemptKey{}).(*attempt)
	pr.Out.URL.Scheme, pr.Out.URL.Host = a.target.Scheme, a.target.Host
	pr.Out.Host = ""
	if prior := pr.In.Header["X-Forwarded-For"]; len(prior) > 0 {
		pr.Out.Header["X-Forwarded-For"] = slices.Clone(prior)
	}
	pr.SetXForwarded()
	pr.Out.Header[HeaderForward] = []string{a.sig}
}

// proxyError records an error met before the owner answered; nothing has
// been written to the client, so Route decides what to do.
func (f *Forwarder) proxyError(_ http.ResponseWriter, r *http.Request, err error) {
	if a, ok := r.Context().Value(attemptKey{}).(*attempt); ok {
		a.err = err
	}
}

// isDialError reports an error of connecting: the owner never saw the
// request.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// receive verifies a forwarded request and serves it locally.
func (f *Forwarder) receive(w http.ResponseWriter, r *http.Request, sigs []string, tenant, session string, local http.Handler) {
	if len(sigs) != 1 {
		f.refuse(w, &f.ring.stats.badSig, errBadSignature)
		return
	}
	s, err := parseSignature(sigs[0])
	if err != nil {
		f.refuse(w, &f.ring.stats.badSig, err)
		return
	}
	body, whole, err := readBody(r, f.cfg.MaxBody)
	switch {
	case err != nil:
		writeError(w, &llm.Error{Kind: llm.KindInvalidRequest, Code: "invalid_body", Message: "The request body could not be read."})
		return
	case !whole:
		writeError(w, &llm.Error{Kind: llm.KindTooLarge, Code: "body_too_large",
			Message: "The forwarded request body exceeds " + strconv.FormatInt(f.cfg.MaxBody, 10) + " bytes."})
		return
	}
	digest := sha256.Sum256(body)
	want := f.sign.mac(s.node, f.ring.self.ID, s.ts, r.Method, r.URL.RequestURI(), tenant, session, &digest)
	if !hmac.Equal(want[:], s.mac[:]) {
		f.refuse(w, &f.ring.stats.badSig, errWrongSignature)
		return
	}
	// Only a holder of the secret learns whether a signature is stale.
	now := f.cfg.Now()
	if d := now.UnixMilli() - s.ts; d > f.cfg.Window.Milliseconds() || -d > f.cfg.Window.Milliseconds() {
		f.refuse(w, &f.ring.stats.stale, errExpired)
		return
	}
	if !f.seen.fresh(&s.mac, now.UnixNano()) {
		f.refuse(w, &f.ring.stats.stale, errReplayed)
		return
	}
	f.ring.stats.received.Add(1)
	r.Header.Del(HeaderForward)
	setBody(r, body)
	local.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardedKey{}, s.node)))
}

var (
	errWrongSignature = errors.New("wrong signature")
	errExpired        = errors.New("signature timestamp outside the replay window")
	errReplayed       = errors.New("signature already used")
)

// refuse answers a forwarded request whose signature failed: 401 for a
// bad one, 403 for a stale or replayed one.
func (f *Forwarder) refuse(w http.ResponseWriter, count *atomic.Int64, err error) {
	count.Add(1)
	e := &llm.Error{Kind: llm.KindAuth, Code: "invalid_forward_signature",
		Message: "The " + HeaderForward + " signature is invalid."}
	switch {
	case errors.Is(err, errExpired):
		e.Status, e.Type, e.Code = http.StatusForbidden, llm.TypePermission, "forward_expired"
		e.Message = "The " + HeaderForward + " signature has expired."
	case errors.Is(err, errReplayed):
		e.Status, e.Type, e.Code = http.StatusForbidden, llm.TypePermission, "forward_replayed"
		e.Message = "The " + HeaderForward + " signature was already used."
	}
	writeError(w, e)
}

// writeError answers e in OpenAI's error shape.
func writeError(w http.ResponseWriter, e *llm.Error) {
	out := append(llm.AppendErrorBody(make([]byte, 0, 256), e.Body()), '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(out)
}

// readBody reads r's body up to limit bytes. whole is false when the body
// is larger; r.Body then still yields the whole body, as it does after an
// error.
func readBody(r *http.Request, limit int64) (body []byte, whole bool, err error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true, nil
	}
	if r.ContentLength > limit {
		return nil, false, nil
	}
	n := r.ContentLength
	if n < 0 || n > 64<<10 {
		n = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	_, err = buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil || int64(buf.Len()) > limit {
		r.Body = readCloser{io.MultiReader(bytes.NewReader(buf.Bytes()), errOrRest(r.Body, err)), r.Body}
		return nil, false, err
	}
	_ = r.Body.Close()
	return buf.Bytes(), true, nil
}

// errOrRest is what follows the part of a body already read: the error
// that stopped the read, or the rest.
func errOrRest(rest io.Reader, err error) io.Reader {
	if err != nil {
		return errReader{err}
	}
	return rest
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type readCloser struct {
	io.Reader
	io.Closer
}

// setBody makes body r's body, readable again by every later handler and
// by the transport when it retries.
func setBody(r *http.Request, body []byte) {
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil
	if len(body) == 0 {
		r.Body, r.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// copyBuffers lends the proxy its copy buffers.
type copyBuffers struct{}

var copyPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (copyBuffers) Get() []byte  { return *copyPool.Get().(*[]byte) }
func (copyBuffers) Put(b []byte) { copyPool.Put(&b) }
