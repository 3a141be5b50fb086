package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Backend is what the gateway hands normalised requests to; *router.Router
// satisfies it. Stream returns once the first chunk is available, so that a
// failure before it is an ordinary error response. Errors are *llm.Error.
type Backend interface {
	Complete(ctx context.Context, req *llm.Request) (*llm.Response, error)
	Stream(ctx context.Context, req *llm.Request) (llm.Stream, error)
	Models() []string
}

// readiness is the optional capability of a Backend that can say it is not
// ready yet (no healthy endpoint); /readyz asks it.
type readiness interface {
	Ready() bool
}

// Route labels given to the Observer.
const (
	routeChat      = "/v1/chat/completions"
	routeModels    = "/v1/models"
	routeModel     = "/v1/models/{model}"
	routeHealthz   = "/healthz"
	routeReadyz    = "/readyz"
	routeUnmatched = "unmatched"
)

// Server is the OpenAI-compatible HTTP front door. Create it with New; its
// handler is safe for concurrent use. Run serves it on a listener and
// drains it on shutdown; Handler serves it in any http.Server.
type Server struct {
	cfg      Config
	backend  Backend
	ready    readiness // nil when the Backend cannot tell
	log      *slog.Logger
	keys     map[[sha256.Size]byte]*Identity
	admins   map[[sha256.Size]byte]struct{}
	expiry   map[[sha256.Size]byte]time.Time // keys that stop working at a time
	catalog  *catalog
	extra    *http.ServeMux
	handler  http.Handler
	created  int64 // the "created" of listed models
	idPrefix string

	ids      atomic.Uint64
	draining atomic.Bool
	running  atomic.Bool
	inflight atomic.Int64
	idle     chan struct{} // signalled when inflight drops to 0 while draining
}

// New checks cfg and returns a Server handing requests to backend.
func New(cfg Config, backend Backend) (*Server, error) {
	if backend == nil {
		return nil, errors.New("gateway: nil backend")
	}
	if err := cfg.normalize(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	cat, err := newCatalog(cfg.Models, backend, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s := &Server{
		cfg:     cfg,
		backend: backend,
		log:     cfg.Logger,
		catalog: cat,
		extra:   http.NewServeMux(),
		keys:    make(map[[sha256.Size]byte]*Identity),
		expiry:  make(map[[sha256.Size]byte]time.Time),
		created: cfg.Now().Unix(),
		idle:    make(chan struct{}, 1),
	}
	s.ready, _ = backend.(readiness)
	if err := s.compileTenants(); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.admins = make(map[[sha256.Size]byte]struct{}, len(cfg.AdminKeys))
	for _, h := range cfg.AdminKeys {
		sum, err := parseKeyHash(h)
		if err != nil {
			return nil, fmt.Errorf("gateway: admin key: %w", err)
		}
		s.admins[sum] = struct{}{}
	}
	var seed [10]byte
	_, _ = rand.Read(seed[:]) // never fails (crypto/rand panics instead)
	s.idPrefix = "fg-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(seed[:])) + "-"
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s, nil
}

// compileTenants builds one Policy per tier and the key table.
func (s *Server) compileTenants() error {
	tiers := make(map[string]*Policy, len(s.cfg.Tiers)+1)
	for name, t := range s.cfg.Tiers {
		if err := checkTier(name, &t, s.catalog.known()); err != nil {
			return err
		}
		t.Models = append([]string(nil), t.Models...)
		tiers[name] = s.policy(t)
	}
	if _, ok := tiers[StandardTier]; !ok {
		tiers[StandardTier] = s.policy(Tier{})
	}
	tenants := make(map[string]bool, len(s.cfg.Tenants))
	for _, t := range s.cfg.Tenants {
		if t.ID == "" {
			return errors.New("tenant without ID")
		}
		if tenants[t.ID] {
			return fmt.Errorf("tenant %q: defined twice", t.ID)
		}
		tenants[t.ID] = true
		tier := t.Tier
		if tier == "" {
			tier = StandardTier
		}
		p, ok := tiers[tier]
		if !ok {
			return fmt.Errorf("tenant %q: unknown tier %q", t.ID, tier)
		}
		g, err := s.tenantGuard(t, s.cfg.Tiers[tier])
		if err != nil {
			return fmt.Errorf("tenant %q: %w", t.ID, err)
		}
		id := &Identity{Tenant: t.ID, Tier: tier, Lang: t.Lang, policy: p, guard: g}
		for _, h := range t.KeyHashes {
			sum, err := parseKeyHash(h)
			if err != nil {
				return fmt.Errorf("tenant %q: %w", t.ID, err)
			}
			if other, dup := s.keys[sum]; dup {
				return fmt.Errorf("tenant %q: key hash %s already belongs to tenant %q", t.ID, h, other.Tenant)
			}
			s.keys[sum] = id
		}
		for h, at := range t.KeyExpiry {
			sum, err := parseKeyHash(h)
			if err != nil {
				return fmt.Errorf("tenant %q: expiry: %w", t.ID, err)
			}
			if s.keys[sum] != id {
				return fmt.Errorf("tenant %q: expiry for key hash %s, which is not one of its keys", t.ID, h)
			}
			s.expiry[sum] = at
		}
	}
	return nil
}

func (s *Server) policy(t Tier) *Policy {
	return &Policy{
		MaxJSONDepth: s.cfg.MaxJSONDepth,
		MaxMessages:  s.cfg.MaxMessages,
		Resolve:      s.resolveModel,
		Tier:         t,
	}
}

// Handler returns the gateway's HTTP handler: the OpenAI routes, health
// probes, and the routes mounted with Handle.
func (s *Server) Handler() http.Handler { return s.handler }

// Handle mounts h on pattern (http.ServeMux syntax) for the routes the
// gateway does not own, such as /metrics and the admin API. They get a
// request id, panic recovery and the Observer, but no authentication. Call
// it before serving.
func (s *Server) Handle(pattern string, h http.Handler) { s.extra.Handle(pattern, h) }

// exchange is one request in flight: the response writer, wrapped to learn
// the status, and what the Observer and the log need to know about it.
type exchange struct {
	http.ResponseWriter
	ctx      context.Context
	id       string
	route    string
	tenant   string
	tier     string
	model    string
	status   int // as written; 0 until then
	outcome  int // overrides status for the Observer when a stream broke
	sse      bool
	upstream func() time.Duration
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// WriteHeader implements http.ResponseWriter.
func (x *exchange) WriteHeader(code int) {
	if x.status == 0 && code >= 200 {
		x.status = code
	}
	x.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (x *exchange) Write(b []byte) (int, error) {
	if x.status == 0 {
		x.status = http.StatusOK
	}
	return x.ResponseWriter.Write(b)
}

// Flush implements http.Flusher for the mounted routes.
func (x *exchange) Flush() { x.flush() }

func (x *exchange) flush() {
	if f, ok := x.ResponseWriter.(http.Flusher); ok {
		if x.status == 0 {
			x.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (x *exchange) Unwrap() http.ResponseWriter { return x.ResponseWriter }

// serveHTTP wraps every request: in-flight accounting, request id, panic
// recovery, observation.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	s.inflight.Add(1)
	defer s.leave()

	x := exchangePool.Get().(*exchange)
	*x = exchange{ResponseWriter: w, ctx: r.Context(), id: s.requestID(r)}
	w.Header()["X-Request-Id"] = []string{x.id}
	defer s.finish(x, r, start)
	s.dispatch(x, r)
}

func (s *Server) leave() {
	if s.inflight.Add(-1) == 0 && s.draining.Load() {
		select {
		case s.idle <- struct{}{}:
		default:
		}
	}
}

// finish recovers a panic into a 500, tells the Observer, and recycles x.
func (s *Server) finish(x *exchange, r *http.Request, start time.Time) {
	if v := recover(); v != nil {
		if v == http.ErrAbortHandler { // net/http's way to abort a response: not ours to swallow
			panic(v)
		}
		s.log.LogAttrs(x.ctx, slog.LevelError, "panic serving request",
			slog.String("request_id", x.id), slog.String("path", r.URL.Path),
			slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
		perr := &llm.Error{Kind: llm.KindServer, Status: http.StatusInternalServerError, Message: "The server had an error while processing your request."}
		switch {
		case x.status == 0:
			s.writeError(x, perr)
		case x.sse:
			s.writeStreamError(x, perr)
		}
		x.outcome = http.StatusInternalServerError
	}
	d := s.cfg.Now().Sub(start)
	status := x.status
	if x.outcome != 0 {
		status = x.outcome
	}
	if status == 0 {
		status = http.StatusOK
	}
	if o := s.cfg.Observer; o != nil {
		var overhead time.Duration
		if s.cfg.UpstreamTime != nil {
			// A request that never went upstream is all overhead.
			overhead = d
			if x.upstream != nil {
				overhead = max(d-x.upstream(), 0)
			}
		}
		o.Request(x.route, x.model, x.tier, status, d, overhead)
	}
	if s.log.Enabled(x.ctx, slog.LevelDebug) {
		s.log.LogAttrs(x.ctx, slog.LevelDebug, "request",
			slog.String("request_id", x.id), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.String("tenant", x.tenant),
			slog.String("model", x.model), slog.Int("status", status), slog.Duration("duration", d))
	}
	*x = exchange{}
	exchangePool.Put(x)
}

// dispatch routes by exact path: the gateway's own routes are few and hot,
// and answering 404 and 405 in OpenAI's shape needs to know them anyway.
func (s *Server) dispatch(x *exchange, r *http.Request) {
	path := r.URL.Path
	switch path {
	case routeChat:
		x.route = routeChat
		if r.Method != http.MethodPost {
			s.methodNotAllowed(x, r, "POST")
			return
		}
		s.chat(x, r)
	case routeModels:
		x.route = routeModels
		if s.allowGet(x, r) {
			s.listModels(x, r)
		}
	case routeHealthz:
		x.route = routeHealthz
		if s.allowGet(x, r) {
			writeStatus(x, http.StatusOK, "ok")
		}
	case routeReadyz:
		x.route = routeReadyz
		if s.allowGet(x, r) {
			s.readyz(x)
		}
	default:
		if name, ok := strings.CutPrefix(path, routeModels+"/"); ok && name != "" {
			x.route = routeModel
			if s.allowGet(x, r) {
				s.getModel(x, r, name)
			}
			return
		}
		if s.runAPI(x, r) {
			return
		}
		if _, pattern := s.extra.Handler(r); pattern != "" {
			x.route = pattern
			s.extra.ServeHTTP(x, r)
			return
		}
		x.route = routeUnmatched
		s.writeError(x, &llm.Error{Kind: llm.KindNotFound, Code: "unknown_url",
			Message: "Invalid URL (" + r.Method + " " + path + ")"})
	}
}

// allowGet answers 405 to anything but GET and HEAD.
func (s *Server) allowGet(x *exchange, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	s.methodNotAllowed(x, r, "GET, HEAD")
	return false
}

func (s *Server) methodNotAllowed(x *exchange, r *http.Request, allow string) {
	x.Header()["Allow"] = []string{allow}
	s.writeError(x, &llm.Error{Kind: llm.KindInvalidRequest, Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
		Message: "Method " + r.Method + " is not allowed for " + r.URL.Path + "; use " + allow + "."})
}

// writeStatus answers a probe.
func writeStatus(x *exchange, code int, status string) {
	body := `{"status":"` + status + `"}` + "\n"
	h := x.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	x.WriteHeader(code)
	_, _ = x.Write([]byte(body))
}

// readyz is 200 while the Backend is ready and the gateway not draining, so
// that a load balancer stops sending before the listener closes.
func (s *Server) readyz(x *exchange) {
	switch {
	case s.draining.Load():
		writeStatus(x, http.StatusServiceUnavailable, "draining")
	case s.ready != nil && !s.ready.Ready():
		writeStatus(x, http.StatusServiceUnavailable, "not ready")
	default:
		writeStatus(x, http.StatusOK, "ready")
	}
}

// maxClientRequestID bounds a client's X-Request-Id that is echoed.
const maxClientRequestID = 128

// requestID returns the client's X-Request-Id when it is short printable
// ASCII (safe to log and echo), else a new one: a per-process random prefix
// and a counter, unique without a random read per request.
func (s *Server) requestID(r *http.Request) string {
	if v := r.Header.Get("X-Request-Id"); v != "" && len(v) <= maxClientRequestID && printable(v) {
		return v
	}
	var buf [64]byte
	b := append(buf[:0], s.idPrefix...)
	b = strconv.AppendUint(b, s.ids.Add(1), 36)
	return string(b)
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Server timeouts. There is no WriteTimeout: it would cut long streams;
// RequestTimeout bounds a request instead.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	// cutGrace is how long Run waits, after cutting requests at the end of
	// the drain, for their handlers to return.
	cutGrace = 5 * time.Second
)

// Run serves on ln until ctx is done, then drains: /readyz turns 503, the
// listener closes, and in-flight requests and streams get DrainTimeout to
// finish before their contexts are cancelled and connections closed. It
// returns nil after a clean drain, an error if requests had to be cut or the
// listener failed. Run may be called once.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("gateway: Run called twice")
	}
	// Requests outlive ctx while they drain; base is cancelled only to cut
	// them.
	base, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return base },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		s.draining.Store(true)
		cut()
		_ = srv.Close()
		s.waitIdle(cutGrace)
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}

	s.draining.Store(true)
	s.log.LogAttrs(ctx, slog.LevelInfo, "gateway draining",
		slog.Int64("in_flight", s.inflight.Load()), slog.Duration("timeout", s.cfg.DrainTimeout))
	dctx, cancel := context.WithTimeout(context.Background(), s.cfg.DrainTimeout)
	defer cancel()
	err := srv.Shutdown(dctx)
	<-served // Serve returns as soon as Shutdown starts
	if err == nil {
		s.log.LogAttrs(ctx, slog.LevelInfo, "gateway drained")
		return nil
	}
	left := s.inflight.Load()
	cut()
	_ = srv.Close()
	if !s.waitIdle(cutGrace) {
		s.log.LogAttrs(ctx, slog.LevelError, "gateway handlers still running after cut", slog.Int64("in_flight", s.inflight.Load()))
	}
	return fmt.Errorf("gateway: drain: cut %d requests after %s: %w", left, s.cfg.DrainTimeout, err)
}

// waitIdle waits up to grace for in-flight handlers to return and reports
// whether they did.
func (s *Server) waitIdle(grace time.Duration) bool {
	t := time.NewTimer(grace)
	defer t.Stop()
	for s.inflight.Load() > 0 {
		select {
		case <-s.idle:
		case <-t.C:
			return false
		}
	}
	return true
}
