package tool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// MCP transports.
const (
	TransportStreamableHTTP = "streamable_http"
	TransportStdio          = "stdio"
)

// MCP defaults.
const (
	DefaultMCPCallTimeout    = 30 * time.Second
	DefaultMCPIdleTimeout    = 5 * time.Minute
	DefaultMCPConnectTimeout = 10 * time.Second
)

// Reconnect back-off after failed connects: from minBackoff doubling to
// maxBackoff, jittered.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// MCPServerConfig configures one MCP server whose tools agents may call.
// The zero values of the optional fields take the defaults named on them.
type MCPServerConfig struct {
	// Name identifies the server (in ServerTools and logs). Required,
	// unique.
	Name string
	// Transport is TransportStreamableHTTP or TransportStdio. Required.
	Transport string
	// URL is the endpoint of a streamable HTTP server.
	URL string
	// Command is the program and arguments of a stdio server, started
	// for each session and waited for when the session closes.
	Command []string
	// Env, when not empty, is added ("KEY=value") to the environment a
	// stdio server inherits.
	Env []string
	// Headers are sent with every request to a streamable HTTP server.
	Headers map[string]string
	// Prefix is put before the server's tool names to form the names the
	// model sees; "" means Name+"_". Characters a tool name may not hold
	// become '_'.
	Prefix string
	// CallTimeout bounds one tool call; 0 means DefaultMCPCallTimeout.
	CallTimeout time.Duration
	// IdleTimeout closes a session unused that long; the next call opens
	// a new one. 0 means DefaultMCPIdleTimeout.
	IdleTimeout time.Duration
	// ConnectTimeout bounds connecting and listing the tools; 0 means
	// DefaultMCPConnectTimeout.
	ConnectTimeout time.Duration
	// HTTPClient sends the requests of a streamable HTTP server; nil
	// means the client shared with HTTP tools.
	HTTPClient *http.Client
}

// MCP owns one client session per configured MCP server. A session is
// opened when Run starts (or by the first use), its tools are listed and
// cached — again when the server says the list changed, and on every
// reconnect — and it is reopened after it breaks, with a back-off after
// failed attempts. Run reaps sessions idle past their IdleTimeout and, when
// its context ends, closes every session and waits for every goroutine and
// child process it started. MCP is safe for concurrent use.
type MCP struct {
	log     *slog.Logger
	servers []*mcpServer
	byName  map[string]*mcpServer
	// reserved reports the names other tools already hold.
	reserved func(string) bool

	tools   atomic.Pointer[map[string]*mcpTool] // every server's tools by exposed name
	toolsMu sync.Mutex                          // serialises rebuilds of tools

	base    context.Context // cancelled when Run ends: aborts connects
	stop    context.CancelFunc
	refresh chan *mcpServer // servers whose tool list changed
	running atomic.Bool
	closed  atomic.Bool
	mu      sync.Mutex // guards spawning against closing
	wg      sync.WaitGroup
}

type mcpServer struct {
	m      *MCP
	cfg    MCPServerConfig
	prefix string
	client *mcp.Client
	hc     *http.Client

	mu         sync.Mutex
	sess       *mcp.ClientSession
	gen        uint64        // counts sessions, so a stale watcher changes nothing
	connecting chan struct{} // non-nil while a connect runs; closed at its end
	connErr    error         // the last connect's error
	failures   int           // consecutive failed connects
	retryAt    time.Time     // no connect before this after a failure
	names      []string      // exposed tool names, sorted; never mutated
	listed     bool

	inflight atomic.Int32
	lastUse  atomic.Int64 // unix nanos
}

// NewMCP checks the server configurations and returns their manager; no
// connection is made before Run or first use. reserved, if not nil,
// reports tool names taken by other tools; an MCP tool of that name is
// skipped. logger nil means slog.Default().
func NewMCP(servers []MCPServerConfig, reserved func(string) bool, logger *slog.Logger) (*MCP, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if reserved == nil {
		reserved = func(string) bool { return false }
	}
	m := &MCP{log: logger, byName: make(map[string]*mcpServer, len(servers)), reserved: reserved,
		refresh: make(chan *mcpServer, len(servers)+1)}
	m.base, m.stop = context.WithCancel(context.Background())
	empty := map[string]*mcpTool{}
	m.tools.Store(&empty)
	for _, cfg := range servers {
		if cfg.Name == "" {
			return nil, errors.New("mcp server: no name")
		}
		if _, dup := m.byName[cfg.Name]; dup {
			return nil, fmt.Errorf("mcp server %s: configured twice", cfg.Name)
		}
		switch cfg.Transport {
		case TransportStreamableHTTP:
			if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
				return nil, fmt.Errorf("mcp server %s: url must be http or https, got %q", cfg.Name, cfg.URL)
			}
		case TransportStdio:
			if len(cfg.Command) == 0 || cfg.Command[0] == "" {
				return nil, fmt.Errorf("mcp server %s: no command", cfg.Name)
			}
		default:
			return nil, fmt.Errorf("mcp server %s: transport must be %q or %q, got %q",
				cfg.Name, TransportStreamableHTTP, TransportStdio, cfg.Transport)
		}
		cfg.CallTimeout = cmp(cfg.CallTimeout, DefaultMCPCallTimeout)
		cfg.IdleTimeout = cmp(cfg.IdleTimeout, DefaultMCPIdleTimeout)
		cfg.ConnectTimeout = cmp(cfg.ConnectTimeout, DefaultMCPConnectTimeout)
		s := &mcpServer{m: m, cfg: cfg, prefix: cfg.Prefix}
		if s.prefix == "" {
			s.prefix = cfg.Name + "_"
		}
		s.prefix = sanitizeName(s.prefix)
		s.hc = cfg.HTTPClient
		if s.hc == nil {
			s.hc = sharedClient
		}
		if len(cfg.Headers) > 0 {
			s.hc = &http.Client{Transport: &headerTransport{base: transportOf(s.hc), headers: cfg.Headers},
				CheckRedirect: s.hc.CheckRedirect, Jar: s.hc.Jar}
		}
		s.client = mcp.NewClient(&mcp.Implementation{Name: "floodgate", Version: "1"}, &mcp.ClientOptions{
			Logger: logger.With("mcp_server", cfg.Name),
			ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {
				select {
				case m.refresh <- s:
				default: // a refresh is already queued
				}
			},
		})
		m.servers = append(m.servers, s)
		m.byName[cfg.Name] = s
	}
	return m, nil
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}

// headerTransport adds the configured headers to every request.
type headerTransport struct {
	base    http.RoundTripper
	headers map[string]string
}

func (t *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context()) // a RoundTripper must not modify its request
	for k, v := range t.headers {
		r.Header.Set(k, v)
	}
	return t.base.RoundTrip(r)
}

// sanitizeName replaces what a tool name may not hold by '_' and cuts it
// to 64 bytes.
func sanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !llm.FunctionNameByte(c) {
			b[i] = '_'
		}
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(b)
}

// Run connects every server, reaps idle sessions and refreshes changed
// tool lists until ctx ends; then it closes every session, waits for every
// goroutine and child process, and returns nil. After Run, tools fail with
// ErrClosed. Run may be called once.
func (m *MCP) Run(ctx context.Context) error {
	if !m.running.CompareAndSwap(false, true) {
		return errors.New("tool: MCP.Run called twice")
	}
	for _, s := range m.servers {
		s.kick()
	}
	tick := time.NewTicker(m.reapEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.shutdown()
			return nil
		case <-tick.C:
			m.guard("reap", func() {
				now := time.Now()
				for _, s := range m.servers {
					s.reap(now)
					if !s.isListed() {
						s.kick() // keep trying a server that has never answered
					}
				}
			})
		case s := <-m.refresh:
			m.spawn(func() { s.refreshTools() })
		}
	}
}

// guard runs one iteration of a background loop, logging a panic instead
// of dying with it.
func (m *MCP) guard(what string, f func()) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("mcp: panic in background "+what, "panic", p, "stack", string(debug.Stack()))
		}
	}()
	f()
}

// reapEvery is the reaping period: a fraction of the shortest idle time-out,
// between 10ms and 30s.
func (m *MCP) reapEvery() time.Duration {
	d := 30 * time.Second
	for _, s := range m.servers {
		d = min(d, s.cfg.IdleTimeout/4)
	}
	return max(d, 10*time.Millisecond)
}

// spawn starts f on a goroutine that shutdown waits for; it reports false,
// starting nothing, once the manager is closed.
func (m *MCP) spawn(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.guard("task", f)
	}()
	return true
}

func (m *MCP) shutdown() {
	m.mu.Lock()
	m.closed.Store(true)
	m.mu.Unlock()
	m.stop()
	var open []*mcp.ClientSession
	for _, s := range m.servers {
		s.mu.Lock()
		if s.sess != nil {
			open = append(open, s.sess)
			s.sess = nil
		}
		s.mu.Unlock()
	}
	// Closing a session ends its watcher and waits for a stdio child.
	for _, cs := range open {
		_ = cs.Close()
	}
	m.wg.Wait()
}

// Tool returns the MCP tool of that exposed name, once its server has
// listed it.
func (m *MCP) Tool(name string) (Tool, bool) {
	t, ok := (*m.tools.Load())[name]
	if !ok {
		return nil, false
	}
	return t, true
}

// ServerTools returns the exposed names of the server's tools, connecting
// first if it never has. The slice is shared: do not modify it.
func (m *MCP) ServerTools(ctx context.Context, server string) ([]string, error) {
	s, ok := m.byName[server]
	if !ok {
		return nil, fmt.Errorf("mcp server %q is not configured", server)
	}
	s.mu.Lock()
	names, listed := s.names, s.listed
	s.mu.Unlock()
	if listed {
		return names, nil
	}
	if _, _, err := s.session(ctx); err != nil {
		return nil, err
	}
	s.release()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.names, nil
}

// kick starts a connect in the background unless a session exists, one is
// being made, or the back-off says wait.
func (s *mcpServer) kick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sess == nil && s.connecting == nil && !time.Now().Before(s.retryAt) {
		s.startConnect()
	}
}

func (s *mcpServer) isListed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listed
}

// startConnect launches a connect; s.mu is held.
func (s *mcpServer) startConnect() {
	ch := make(chan struct{})
	s.connecting = ch
	if !s.m.spawn(func() { s.connect(ch) }) {
		s.connecting = nil
		close(ch)
	}
}

// session returns the open session, connecting if there is none; on
// success the caller must call release when its call is done.
func (s *mcpServer) session(ctx context.Context) (*mcp.ClientSession, uint64, error) {
	s.mu.Lock()
	if s.m.closed.Load() {
		s.mu.Unlock()
		return nil, 0, ErrClosed
	}
	if s.sess == nil && s.connecting == nil {
		if wait := time.Until(s.retryAt); wait > 0 {
			err := s.connErr
			s.mu.Unlock()
			return nil, 0, fmt.Errorf("%w: mcp server %s (next attempt in %v): %v",
				ErrUnavailable, s.cfg.Name, wait.Round(time.Millisecond), err)
		}
		s.startConnect()
	}
	if s.sess == nil {
		ch := s.connecting
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, ctx.Err()
		}
		s.mu.Lock()
	}
	cs, gen := s.sess, s.gen
	if cs == nil {
		err := s.connErr
		s.mu.Unlock()
		if s.m.closed.Load() {
			return nil, 0, ErrClosed
		}
		return nil, 0, fmt.Errorf("%w: mcp server %s: %v", ErrUnavailable, s.cfg.Name, err)
	}
	s.inflight.Add(1)
	s.mu.Unlock()
	return cs, gen, nil
}

// release ends a use of the session.
func (s *mcpServer) release() {
	s.lastUse.Store(time.Now().UnixNano())
	s.inflight.Add(-1)
}

// drop forgets session gen after it broke and closes it (off the caller's
// path: closing waits for a stdio child).
func (s *mcpServer) drop(cs *mcp.ClientSession, gen uint64) {
	s.mu.Lock()
	if s.gen == gen && s.sess == cs {
		s.sess = nil
	}
	s.mu.Unlock()
	s.m.spawn(func() { _ = cs.Close() })
}

func (s *mcpServer) transport() mcp.Transport {
	if s.cfg.Transport == TransportStdio {
		cmd := exec.Command(s.cfg.Command[0], s.cfg.Command[1:]...)
		if len(s.cfg.Env) > 0 {
			cmd.Env = append(cmd.Environ(), s.cfg.Env...)
		}
		cmd.Stderr = &logWriter{log: s.m.log, server: s.cfg.Name}
		return &mcp.CommandTransport{Command: cmd, TerminateDuration: 2 * time.Second}
	}
	return &mcp.StreamableClientTransport{Endpoint: s.cfg.URL, HTTPClient: s.hc}
}

// connect opens a session and lists its tools; ch is closed at the end.
func (s *mcpServer) connect(ch chan struct{}) {
	ctx, cancel := context.WithTimeout(s.m.base, s.cfg.ConnectTimeout)
	defer cancel()
	cs, err := s.client.Connect(ctx, s.transport(), nil)
	var tools []*mcp.Tool
	if err == nil {
		if tools, err = s.list(ctx, cs); err != nil {
			_ = cs.Close()
		}
	}
	s.mu.Lock()
	late := false
	switch {
	case err != nil:
		s.failures++
		s.connErr = err
		d := min(maxBackoff, minBackoff<<min(s.failures-1, 20))
		s.retryAt = time.Now().Add(d/2 + rand.N(d/2+1))
		s.m.log.Warn("mcp: connect failed", "mcp_server", s.cfg.Name, "error", err, "failures", s.failures)
	case s.m.closed.Load():
		late = true // shutdown has collected the sessions already
	default:
		s.failures, s.connErr, s.retryAt = 0, nil, time.Time{}
		s.gen++
		s.sess = cs
		s.lastUse.Store(time.Now().UnixNano())
		s.setTools(tools)
		gen := s.gen
		s.m.spawn(func() { s.watch(cs, gen) })
	}
	s.connecting = nil
	close(ch)
	s.mu.Unlock()
	if late {
		_ = cs.Close()
	}
}

// watch waits for the session to end — closed by us or broken by the
// server — forgets it and closes it, which reaps a stdio child.
func (s *mcpServer) watch(cs *mcp.ClientSession, gen uint64) {
	_ = cs.Wait()
	s.mu.Lock()
	broken := s.gen == gen && s.sess == cs
	if broken {
		s.sess = nil
	}
	s.mu.Unlock()
	if broken {
		s.m.log.Info("mcp: session ended; reconnecting on next use", "mcp_server", s.cfg.Name)
	}
	_ = cs.Close()
}

// reap closes the session when it has been idle past IdleTimeout.
func (s *mcpServer) reap(now time.Time) {
	s.mu.Lock()
	cs := s.sess
	if cs == nil || s.inflight.Load() > 0 || now.Sub(time.Unix(0, s.lastUse.Load())) < s.cfg.IdleTimeout {
		s.mu.Unlock()
		return
	}
	s.sess = nil
	s.mu.Unlock()
	s.m.spawn(func() { _ = cs.Close() })
}

// list fetches every page of the server's tools.
func (s *mcpServer) list(ctx context.Context, cs *mcp.ClientSession) ([]*mcp.Tool, error) {
	var tools []*mcp.Tool
	for t, err := range cs.Tools(ctx, nil) {
		if err != nil {
			return nil, fmt.Errorf("list tools: %w", err)
		}
		tools = append(tools, t)
	}
	return tools, nil
}

// refreshTools lists the tools again after the server said they changed.
func (s *mcpServer) refreshTools() {
	ctx, cancel := context.WithTimeout(s.m.base, s.cfg.ConnectTimeout)
	defer cancel()
	cs, _, err := s.session(ctx)
	if err != nil {
		return
	}
	tools, err := s.list(ctx, cs)
	s.release()
	if err != nil {
		s.m.log.Warn("mcp: refresh tools failed", "mcp_server", s.cfg.Name, "error", err)
		return
	}
	s.mu.Lock()
	s.setTools(tools)
	s.mu.Unlock()
}

// setTools installs the server's tool list; s.mu is held.
func (s *mcpServer) setTools(tools []*mcp.Tool) {
	m := s.m
	m.toolsMu.Lock()
	defer m.toolsMu.Unlock()
	old := *m.tools.Load()
	next := make(map[string]*mcpTool, len(old)+len(tools))
	for k, t := range old {
		if t.srv != s {
			next[k] = t
		}
	}
	names := make([]string, 0, len(tools))
	for _, t := range tools {
		name := sanitizeName(s.prefix + t.Name)
		if _, taken := next[name]; taken || m.reserved(name) {
			m.log.Warn("mcp: tool name taken; tool skipped", "mcp_server", s.cfg.Name, "tool", t.Name, "name", name)
			continue
		}
		mt, err := newMCPTool(s, name, t)
		if err != nil {
			m.log.Warn("mcp: tool skipped", "mcp_server", s.cfg.Name, "tool", t.Name, "error", err)
			continue
		}
		next[name] = mt
		names = append(names, name)
	}
	slices.Sort(names)
	m.tools.Store(&next)
	s.names, s.listed = names, true
}

// logWriter logs a stdio server's stderr line by line.
type logWriter struct {
	log    *slog.Logger
	server string
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := slices.Index(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log.Debug("mcp: server stderr", "mcp_server", w.server, "line", string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > bufio.MaxScanTokenSize {
		w.buf = w.buf[:0] // a line that long is not worth keeping
	}
	return len(p), nil
}
