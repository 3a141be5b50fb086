package sim

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/tokenizer"
)

// Sim is a simulated OpenAI-compatible provider. Create it with New, serve
// Handler, and Close it before shutting the HTTP server down so that held
// (hung) requests are released. All methods are safe for concurrent use.
// A Sim starts no goroutines. It holds atomics and must not be copied.
type Sim struct {
	cfg    Config
	clock  Clock
	models []*model
	byName map[string]*model // names and aliases
	tools  toolCache
	memo   memo
	noMemo bool // Config.MemoBytes < 0; benchmarks of the miss path set it

	faults    atomic.Pointer[faultState]
	faultSeq  atomic.Uint64
	faultSeed uint64

	requests     atomic.Int64
	inFlight     atomic.Int64
	unattributed counters

	idSeq  atomic.Uint64
	idSalt uint64

	done      chan struct{}
	closeOnce sync.Once

	handler    http.Handler
	modelsBody []byte
}

// model is a served model with its limits, counters and stream-cut signal.
type model struct {
	Model
	rpm, tpm    window
	stats       counters
	counter     *tokenizer.Counter
	fingerprint string
	// cut is closed (and replaced) when a reset outage starts, cutting the
	// model's requests in flight.
	cut atomic.Pointer[chan struct{}]
}

func (m *model) cutChan() <-chan struct{} { return *m.cut.Load() }

func (m *model) cutInFlight() {
	c := make(chan struct{})
	old := m.cut.Swap(&c)
	close(*old)
}

// New returns a Sim for cfg (see Config for defaults). It loads the
// models' tokenizers, which takes a moment the first time in a process.
func New(cfg Config) (*Sim, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	s := &Sim{
		cfg:       cfg,
		clock:     cfg.Clock,
		byName:    make(map[string]*model),
		faultSeed: mix(cfg.Seed ^ saltFaultSeed),
		idSalt:    mix(uint64(time.Now().UnixNano())),
		done:      make(chan struct{}),
		noMemo:    cfg.MemoBytes < 0,
	}
	s.memo.shardBytes = int(max(cfg.MemoBytes, 0) / (2 * memoShards))
	for _, mc := range cfg.Models {
		m := &model{Model: mc, counter: tokenizer.For(mc.Name)}
		if err := m.counter.Load(); err != nil {
			return nil, fmt.Errorf("sim: model %q: %w", mc.Name, err)
		}
		m.rpm.limit, m.tpm.limit = int64(mc.RPM), int64(mc.TPM)
		m.fingerprint = fmt.Sprintf("fp_%010x", mix(uint64(len(mc.Name))^hashString(mc.Name))>>24)
		c := make(chan struct{})
		m.cut.Store(&c)
		s.models = append(s.models, m)
		s.byName[mc.Name] = m
		for _, a := range mc.Aliases {
			s.byName[a] = m
		}
	}
	if err := s.SetFaults(cfg.Faults); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if cfg.Faults == (Faults{}) {
		s.faults.Store(nil)
	}
	s.modelsBody = s.renderModels()
	s.handler = s.routes()
	return s, nil
}

func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// Handler returns the sim's HTTP handler:
//
//	POST   /v1/chat/completions   (also /chat/completions)
//	GET    /v1/models, /v1/models/{model}
//	GET|POST|DELETE /sim/faults
//	GET|DELETE      /sim/stats
//
// Everything else is a 404 in OpenAI's error shape.
func (s *Sim) Handler() http.Handler { return s.handler }

// Close ends the requests held by hang faults or waiting in simulated
// delays, without a response, and makes every later chat request a 503 at
// once. Call it before shutting the HTTP server down: http.Server.Shutdown
// waits for handlers, and a hung one would wait for its client. Close is
// idempotent and safe for concurrent use.
func (s *Sim) Close() {
	s.closeOnce.Do(func() { close(s.done) })
}

// Models returns the models served (with defaults filled in).
func (s *Sim) Models() []Model {
	out := make([]Model, len(s.models))
	for i, m := range s.models {
		out[i] = m.Model
	}
	return out
}

func (s *Sim) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/chat/completions", s.handleChat)
	mux.HandleFunc("/chat/completions", s.handleChat)
	mux.HandleFunc("/v1/models", s.handleModels)
	mux.HandleFunc("/v1/models/{model...}", s.handleModel)
	mux.HandleFunc("/sim/faults", s.handleFaults)
	mux.HandleFunc("/sim/stats", s.handleStats)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, &llm.Error{Kind: llm.KindNotFound, Code: "unknown_url",
			Message: "Invalid URL (" + r.Method + " " + r.URL.Path + ")"})
	})
	if s.cfg.APIKey == "" {
		return mux
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.authorized(r) {
			if r.URL.Path == "/v1/chat/completions" || r.URL.Path == "/chat/completions" {
				s.requests.Add(1)
				s.unattributed.requests.Add(1)
				s.unattributed.outcomes[out401].Add(1)
			}
			s.writeError(w, &llm.Error{Kind: llm.KindAuth, Type: llm.TypeInvalidRequest, Code: "invalid_api_key",
				Message: "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys."})
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// authorized checks "Authorization: Bearer KEY" or "api-key: KEY".
func (s *Sim) authorized(r *http.Request) bool {
	key := r.Header.Get("Api-Key")
	if key == "" {
		a := r.Header.Get("Authorization")
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			key = a[7:]
		}
	}
	return key != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.APIKey)) == 1
}

// writeError answers with e in OpenAI's error shape.
func (s *Sim) writeError(w http.ResponseWriter, e *llm.Error) {
	b, _ := json.Marshal(e.Body())
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(e.HTTPStatus())
	_, _ = w.Write(append(b, '\n'))
}

func invalidBody(msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalidRequest, Message: msg}
}

func methodNotAllowed(r *http.Request) *llm.Error {
	return &llm.Error{Kind: llm.KindInvalidRequest, Status: http.StatusMethodNotAllowed, Code: "method_not_allowed",
		Message: "Method " + r.Method + " is not allowed for " + r.URL.Path}
}

// modelJSON is a model in GET /v1/models: OpenAI's fields plus the sim's
// prices (USD per 1M tokens), speed and limits, which OpenAI clients ignore.
type modelJSON struct {
	ID               string   `json:"id"`
	Object           string   `json:"object"`
	Created          int64    `json:"created"`
	OwnedBy          string   `json:"owned_by"`
	Aliases          []string `json:"aliases,omitempty"`
	InputPrice       float64  `json:"input_price"`
	CachedInputPrice float64  `json:"cached_input_price"`
	OutputPrice      float64  `json:"output_price"`
	ContextWindow    int      `json:"context_window,omitempty"`
	TTFTMillis       int64    `json:"ttft_ms"`
	TokensPerSecond  float64  `json:"tokens_per_second"`
	Accuracy         Accuracy `json:"accuracy"`
	RPM              int      `json:"rpm,omitempty"`
	TPM              int      `json:"tpm,omitempty"`
}

// modelsCreated is the fixed "created" of the sim's models (2024-01-01).
const modelsCreated = 1704067200

func (m *model) json() modelJSON {
	return modelJSON{
		ID: m.Name, Object: "model", Created: modelsCreated, OwnedBy: "floodgate-sim", Aliases: m.Aliases,
		InputPrice: m.InputPrice, CachedInputPrice: m.CachedInputPrice, OutputPrice: m.OutputPrice,
		ContextWindow: m.ContextWindow, TTFTMillis: m.TTFT.Milliseconds(), TokensPerSecond: m.TokensPerSecond,
		Accuracy: m.Accuracy, RPM: m.RPM, TPM: m.TPM,
	}
}

func (s *Sim) renderModels() []byte {
	list := struct {
		Object string      `json:"object"`
		Data   []modelJSON `json:"data"`
	}{Object: "list"}
	for _, m := range s.models {
		list.Data = append(list.Data, m.json())
	}
	b, _ := json.Marshal(list)
	return append(b, '\n')
}

func (s *Sim) handleModels(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeError(w, methodNotAllowed(r))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.modelsBody)
}

func (s *Sim) handleModel(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeError(w, methodNotAllowed(r))
		return
	}
	name := r.PathValue("model")
	m := s.byName[name]
	if m == nil {
		s.writeError(w, modelNotFound(name))
		return
	}
	mj := m.json()
	mj.ID = name
	writeJSON(w, http.StatusOK, mj)
}

func modelNotFound(name string) *llm.Error {
	return &llm.Error{Kind: llm.KindNotFound, Type: llm.TypeInvalidRequest, Code: "model_not_found", Param: "model",
		Message: "The model `" + name + "` does not exist or you do not have access to it."}
}
