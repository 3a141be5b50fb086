package tool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// RegistryConfig lists the tools of a process. The zero value is a
// registry holding only the built-in escalate_to_human.
type RegistryConfig struct {
	// HTTP are the HTTP tools.
	HTTP []HTTPConfig
	// MCP are the MCP servers whose tools are offered under their
	// prefixed names.
	MCP []MCPServerConfig
	// Tools are further tools implemented in Go (an in-process shop,
	// tests). Their names must be unique like every other.
	Tools []Tool
	// Breaker configures every tool's circuit breaker; the zero value
	// means the defaults of BreakerConfig.
	Breaker BreakerConfig
	// Breakers overrides Breaker for the tools named, by exposed name.
	Breakers map[string]BreakerConfig
	// Observer is told about calls and breaker state changes; nil means
	// none.
	Observer Observer
	// Logger receives MCP connection events; nil means slog.Default().
	Logger *slog.Logger
}

// Registry holds every tool of the process and one circuit breaker per
// tool, shared by all runs. It is safe for concurrent use.
type Registry struct {
	static   map[string]Tool
	mcp      *MCP     // nil without MCP servers
	breakers sync.Map // name → *breaker
	brMu     sync.Mutex
	brCfg    BreakerConfig
	brByName map[string]BreakerConfig
	obs      Observer
	log      *slog.Logger
}

// NewRegistry builds the tools cfg lists; MCP servers are connected by Run
// (or on first use). Every tool name must be unique and valid. With MCP
// servers configured, Run must be running for idle sessions to be reaped
// and for every session and stdio child to be closed at shutdown.
func NewRegistry(cfg RegistryConfig) (*Registry, error) {
	r := &Registry{
		static:   make(map[string]Tool, len(cfg.HTTP)+len(cfg.Tools)+1),
		brCfg:    cfg.Breaker,
		brByName: cfg.Breakers,
		obs:      cfg.Observer,
	}
	if r.obs == nil {
		r.obs = nopObserver{}
	}
	r.log = cfg.Logger
	if r.log == nil {
		r.log = slog.Default()
	}
	var errs []error
	add := func(t Tool) {
		name := t.Decl().Function.Name
		if !llm.ValidFunctionName(name) {
			errs = append(errs, fmt.Errorf("tool %q: the name must be 1 to 64 of [A-Za-z0-9_-]", name))
			return
		}
		if _, dup := r.static[name]; dup {
			errs = append(errs, fmt.Errorf("tool %s: defined twice", name))
			return
		}
		r.static[name] = t
	}
	add(NewEscalate())
	for _, hc := range cfg.HTTP {
		t, err := NewHTTP(hc)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		add(t)
	}
	for _, t := range cfg.Tools {
		add(t)
	}
	if len(cfg.MCP) > 0 {
		m, err := NewMCP(cfg.MCP, func(name string) bool { _, ok := r.static[name]; return ok }, cfg.Logger)
		if err != nil {
			errs = append(errs, err)
		}
		r.mcp = m
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

// Run runs the MCP manager (see MCP.Run) until ctx ends, then closes every
// MCP session; without MCP servers it just waits for ctx. It returns nil.
func (r *Registry) Run(ctx context.Context) error {
	if r.mcp == nil {
		<-ctx.Done()
		return nil
	}
	return r.mcp.Run(ctx)
}

// Get returns the tool of that name: an HTTP, built-in or Go tool, or an
// MCP tool under its prefixed name once its server has listed it.
func (r *Registry) Get(name string) (Tool, bool) {
	if t, ok := r.static[name]; ok {
		return t, true
	}
	if r.mcp != nil {
		return r.mcp.Tool(name)
	}
	return nil, false
}

// ServerTools returns the exposed names of an MCP server's tools, for
// agents configured with all tools of a server; it connects the server
// first if it never has. The slice is shared: do not modify it.
func (r *Registry) ServerTools(ctx context.Context, server string) ([]string, error) {
	if r.mcp == nil {
		return nil, fmt.Errorf("mcp server %q is not configured", server)
	}
	return r.mcp.ServerTools(ctx, server)
}

// Names returns the names of the tools known now, sorted: the static ones
// and the MCP tools listed so far.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.static))
	for n := range r.static {
		names = append(names, n)
	}
	if r.mcp != nil {
		for n := range *r.mcp.tools.Load() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// BreakerState returns the state of the named tool's breaker: StateClosed,
// StateOpen or StateHalfOpen.
func (r *Registry) BreakerState(name string) string {
	return r.breaker(name).state()
}

// breaker returns the breaker of the named tool, made on first use.
func (r *Registry) breaker(name string) *breaker {
	if b, ok := r.breakers.Load(name); ok {
		return b.(*breaker)
	}
	r.brMu.Lock()
	defer r.brMu.Unlock()
	if b, ok := r.breakers.Load(name); ok {
		return b.(*breaker)
	}
	cfg, ok := r.brByName[name]
	if !ok {
		cfg = r.brCfg
	}
	b := newBreaker(name, cfg, r.obs)
	r.breakers.Store(name, b)
	return b
}
