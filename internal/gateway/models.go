package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// catalog resolves the model names clients use to canonical names: from
// Config.Models when given (static, with aliases), else from the Backend.
type catalog struct {
	static  map[string]string // name or alias → canonical; nil when backend-driven
	listing []modelEntry      // static: canonical names, each followed by its aliases
	backend Backend
	now     func() time.Time
	// names is the Backend's model set as last seen. A miss asks the
	// Backend again, since endpoints (and their models) can be added while
	// running, but at most once per refreshEvery, so that a flood of
	// unknown models does not become a flood of Models calls. A hit costs
	// one map lookup.
	names       atomic.Pointer[map[string]struct{}]
	refreshedAt atomic.Int64     // unix nanoseconds
	prices      map[string]Price // canonical name → price; fixed after newCatalog
}

// refreshEvery bounds how often a miss re-reads Backend.Models.
const refreshEvery = time.Second

type modelEntry struct {
	id, canonical string
}

func newCatalog(models []Model, b Backend, now func() time.Time) (*catalog, error) {
	c := &catalog{backend: b, now: now}
	if len(models) == 0 {
		c.refresh()
		return c, nil
	}
	c.static = make(map[string]string)
	add := func(name, canonical string) error {
		if name == "" {
			return errors.New("model with an empty name or alias")
		}
		if prev, dup := c.static[name]; dup {
			return fmt.Errorf("model name %q used twice (for %q and %q)", name, prev, canonical)
		}
		c.static[name] = canonical
		c.listing = append(c.listing, modelEntry{id: name, canonical: canonical})
		return nil
	}
	c.prices = make(map[string]Price, len(models))
	for _, m := range models {
		if err := add(m.Name, m.Name); err != nil {
			return nil, err
		}
		c.prices[m.Name] = m.Price
		for _, a := range m.Aliases {
			if err := add(a, m.Name); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// price returns the canonical model's price; zero when unknown.
func (c *catalog) price(model string) Price { return c.prices[model] }

// cheapest returns the priced model with the lowest output price, or ""
// when no model has a price.
func (c *catalog) cheapest() string {
	best := ""
	for name, p := range c.prices {
		if p.Output <= 0 {
			continue
		}
		if b := c.prices[best]; best == "" || p.Output < b.Output || p.Output == b.Output && name < best {
			best = name
		}
	}
	return best
}

// known returns how to check that a tier names canonical models, or nil
// when that cannot be known in advance (backend-driven).
func (c *catalog) known() func(string) bool {
	if c.static == nil {
		return nil
	}
	return func(m string) bool { return c.static[m] == m }
}

func (c *catalog) refresh() map[string]struct{} {
	c.refreshedAt.Store(c.now().UnixNano())
	names := c.backend.Models()
	m := make(map[string]struct{}, len(names))
	for _, n := range names {
		m[n] = struct{}{}
	}
	c.names.Store(&m)
	return m
}

// resolve returns the canonical name of a model name or alias.
func (c *catalog) resolve(name string) (string, bool) {
	if c.static != nil {
		canonical, ok := c.static[name]
		return canonical, ok
	}
	if _, ok := (*c.names.Load())[name]; ok {
		return name, true
	}
	last := c.refreshedAt.Load()
	if c.now().UnixNano()-last < int64(refreshEvery) || !c.refreshedAt.CompareAndSwap(last, last+1) {
		return "", false // refreshed lately, or being refreshed now
	}
	_, ok := c.refresh()[name]
	return name, ok
}

// entries lists the models: the static listing, or the Backend's names.
func (c *catalog) entries() []modelEntry {
	if c.static != nil {
		return c.listing
	}
	names := c.backend.Models()
	out := make([]modelEntry, len(names))
	for i, n := range names {
		out[i] = modelEntry{id: n, canonical: n}
	}
	return out
}

// modelObject is a model in OpenAI's list shape.
type modelObject struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

type modelList struct {
	Object string        `json:"object"`
	Data   []modelObject `json:"data"`
}

func (s *Server) modelObject(id string) modelObject {
	return modelObject{ID: id, Object: "model", Created: s.created, OwnedBy: "floodgate"}
}

// listModels answers GET /v1/models with the models the caller's tier may
// use, canonical names and aliases alike.
func (s *Server) listModels(x *exchange, r *http.Request) {
	id, aerr := s.authenticate(r)
	if aerr != nil {
		s.writeError(x, aerr)
		return
	}
	x.tenant, x.tier = id.Tenant, id.Tier
	list := modelList{Object: "list", Data: []modelObject{}}
	for _, e := range s.catalog.entries() {
		if id.policy.Tier.allows(e.canonical) {
			list.Data = append(list.Data, s.modelObject(e.id))
		}
	}
	writeJSON(x, http.StatusOK, list)
}

// getModel answers GET /v1/models/{model}, as the SDKs' models.retrieve
// calls it.
func (s *Server) getModel(x *exchange, r *http.Request, name string) {
	id, aerr := s.authenticate(r)
	if aerr != nil {
		s.writeError(x, aerr)
		return
	}
	x.tenant, x.tier = id.Tenant, id.Tier
	canonical, ok := s.catalog.resolve(name)
	if !ok || !id.policy.Tier.allows(canonical) {
		s.writeError(x, &llm.Error{Kind: llm.KindNotFound, Code: "model_not_found", Param: "model",
			Message: "The model '" + name + "' does not exist or you do not have access to it."})
		return
	}
	x.model = canonical
	writeJSON(x, http.StatusOK, s.modelObject(name))
}

// writeJSON answers status with v, one of the gateway's own types.
func writeJSON(x *exchange, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("gateway: encode %T: %v", v, err)) // strings and numbers: cannot happen
	}
	b = append(b, '\n')
	h := x.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	x.WriteHeader(status)
	_, _ = x.Write(b)
}
