package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/store"
)

// Agents is what the run API needs of the engine; *engine.Engine
// satisfies it.
type Agents interface {
	Agents() []string
	Run(ctx context.Context, req engine.RunRequest, events func(engine.Event)) (*engine.Result, error)
	Submit(ctx context.Context, req engine.RunRequest) (*store.Run, error)
	GetRun(ctx context.Context, tenant, id string) (*store.Run, error)
	Session(ctx context.Context, tenant, id string) (*store.Session, error)
	DeleteSession(ctx context.Context, tenant, id string) error
	Feedback(ctx context.Context, tenant, sessionID string, f engine.Feedback) error
}

// Routes of the run API.
const (
	prefixAgents   = "/v1/agents/"
	prefixRuns     = "/v1/runs/"
	prefixSessions = "/v1/sessions/"

	routeAgentRuns = "/v1/agents/{agent}/runs"
	routeRun       = "/v1/runs/{id}"
	routeSession   = "/v1/sessions/{id}"
	routeFeedback  = "/v1/sessions/{id}/feedback"
)

// runAPI routes a path of the run API, or reports false when path is not
// one. Every route needs an API key; what a tenant reads, runs or deletes
// is its own (another tenant's session or run is "not found").
func (s *Server) runAPI(x *exchange, r *http.Request) bool {
	path := r.URL.Path
	var route, arg, method string
	switch {
	case strings.HasPrefix(path, prefixAgents):
		name, ok := strings.CutSuffix(path[len(prefixAgents):], "/runs")
		if !ok || name == "" || strings.Contains(name, "/") {
			return false
		}
		route, arg, method = routeAgentRuns, name, http.MethodPost
	case strings.HasPrefix(path, prefixRuns):
		route, arg, method = routeRun, path[len(prefixRuns):], http.MethodGet
	case strings.HasPrefix(path, prefixSessions):
		id := path[len(prefixSessions):]
		if sid, ok := strings.CutSuffix(id, "/feedback"); ok {
			route, arg, method = routeFeedback, sid, http.MethodPost
		} else {
			route, arg = routeSession, id
		}
	default:
		return false
	}
	if arg == "" || strings.Contains(arg, "/") {
		return false
	}
	x.route = route
	switch {
	case route == routeSession && r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodDelete:
		s.methodNotAllowed(x, r, "GET, HEAD, DELETE")
		return true
	case route == routeRun && r.Method != http.MethodGet && r.Method != http.MethodHead:
		s.methodNotAllowed(x, r, "GET, HEAD")
		return true
	case method == http.MethodPost && r.Method != http.MethodPost:
		s.methodNotAllowed(x, r, "POST")
		return true
	}
	id, aerr := s.authenticate(r)
	if aerr != nil {
		s.writeError(x, aerr)
		return true
	}
	x.tenant, x.tier = id.Tenant, id.Tier
	if s.cfg.Agents == nil {
		s.writeError(x, &llm.Error{Kind: llm.KindNotFound, Code: "unknown_url", Message: "No agents are configured on this gateway."})
		return true
	}
	ctx, cancel := context.WithTimeout(WithTenant(r.Context(), id), s.cfg.RequestTimeout)
	defer cancel()
	switch route {
	case routeAgentRuns:
		x.model = "agent:" + arg
		s.agentRun(ctx, x, r, id, arg)
	case routeRun:
		s.getRun(ctx, x, id, arg)
	case routeFeedback:
		s.feedback(ctx, x, r, id, arg)
	default:
		if r.Method == http.MethodDelete {
			s.deleteSession(ctx, x, id, arg)
		} else {
			s.getSession(ctx, x, id, arg)
		}
	}
	return true
}

// runBody is the body of POST /v1/agents/{agent}/runs.
type runBody struct {
	SessionID string `json:"session_id"`
	UserID    string `json:"user_id"`
	Input     string `json:"input"`
	Stream    bool   `json:"stream"`
	Async     bool   `json:"async"`
	RunID     string `json:"run_id"`
	Webhook   string `json:"webhook"`
}

// decodeStrict reads a body of the run API into v. Unlike the
// OpenAI-compatible routes, whose clients send fields of newer API
// versions, floodgate's own API refuses unknown fields: a misspelt
// "sesion_id" silently starting new conversations is worse than a 400.
func (s *Server) decodeStrict(r *http.Request, v any) error {
	bp, err := s.readStrict(r, v)
	if bp != nil {
		putBuf(bp)
	}
	return err
}

// readStrict is decodeStrict returning the body it read, in a pooled
// buffer the caller gives back with putBuf; nil on error.
func (s *Server) readStrict(r *http.Request, v any) (*[]byte, error) {
	bp, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		return nil, err
	}
	fail := func(msg string) (*[]byte, error) {
		putBuf(bp)
		return nil, &llm.Error{Kind: llm.KindInvalidRequest, Code: "invalid_body", Message: msg}
	}
	body := *bp
	if !utf8.Valid(body) {
		return fail("The request body is not valid UTF-8.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail("Invalid request body: " + err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fail("Invalid request body: data after the JSON object.")
	}
	return bp, nil
}

// agentRun answers POST /v1/agents/{agent}/runs: a run answered at once
// (JSON), streamed (server-sent events), or queued (202). A run of a known
// session is served by the session's owner (see route).
func (s *Server) agentRun(ctx context.Context, x *exchange, r *http.Request, id *Identity, agent string) {
	var b runBody
	bp, err := s.readStrict(r, &b)
	if err != nil {
		s.writeError(x, err)
		return
	}
	defer putBuf(bp)
	s.route(x, r, id.Tenant, b.SessionID, *bp, func(lr *http.Request) { s.serveRun(ctx, x, lr, id, agent, b) })
}

// serveRun runs a turn of the run API here.
func (s *Server) serveRun(ctx context.Context, x *exchange, r *http.Request, id *Identity, agent string, b runBody) {
	s.markNode(x)
	if b.RunID == "" {
		b.RunID = r.Header.Get("Idempotency-Key")
	}
	req := engine.RunRequest{
		Tenant: id.Tenant, Agent: agent, SessionID: b.SessionID, UserID: b.UserID,
		Input: b.Input, RunID: b.RunID, Stream: b.Stream, Webhook: b.Webhook,
	}
	if b.Async && b.Stream {
		s.writeError(x, llm.InvalidParam("stream", "An async run cannot be streamed; poll GET /v1/runs/{id} or give a webhook."))
		return
	}
	refused := func(err error, reason string) {
		if reason != "" && !b.Async {
			t := RefusedTurn{Tenant: id.Tenant, Tier: id.Tier, Lang: id.Lang, Agent: agent, Session: req.SessionID, User: req.UserID, Input: req.Input, Reason: reason}
			if f, ok := s.fallback(ctx, t); ok {
				s.shedRun(x, req, reason, f)
				return
			}
		}
		s.writeError(x, err)
	}
	msgs, err := s.filter(ctx, x, id, []llm.Message{{Role: llm.RoleUser, Content: llm.Text(b.Input)}})
	if err != nil {
		refused(err, reasonFilter)
		return
	}
	req.Input = msgs[0].Content.String()
	// An async run waits in Q2, not here: it is rate limited but not
	// admitted; the worker that picks it up runs it.
	p, soft, gerr := s.guardIn(ctx, x, id, estimateTokens(len(b.Input), 0), 0, !b.Async)
	if gerr != nil {
		refused(gerr, refusal(gerr))
		return
	}
	s.routeHints(&req, id, soft)
	var res *engine.Result
	defer func() {
		if res != nil {
			s.guardOut(context.WithoutCancel(ctx), &p, &res.Usage, res.Cost)
		} else {
			s.guardOut(context.WithoutCancel(ctx), &p, nil, 0)
		}
	}()
	switch {
	case b.Async:
		rec, err := s.cfg.Agents.Submit(ctx, req)
		if err != nil {
			s.writeEngineError(x, err)
			return
		}
		x.Header()["Location"] = []string{prefixRuns + rec.ID}
		writeJSON(x, http.StatusAccepted, runView(rec))
	case b.Stream:
		res = s.streamRun(ctx, x, r, req)
	default:
		var err error
		res, err = s.cfg.Agents.Run(ctx, req, nil)
		if err != nil {
			s.writeEngineError(x, err)
			return
		}
		if req.SessionID == "" {
			s.claim(ctx, req.Tenant, res.SessionID)
		}
		writeJSON(x, http.StatusOK, res)
	}
}

// shedRun answers a run refused before it ran with the fallback f, at
// once: as JSON, or for a streamed run as a stream of one run.completed
// event.
func (s *Server) shedRun(x *exchange, req engine.RunRequest, reason string, f Fallback) {
	setDegraded(x.Header(), reason)
	res := &engine.Result{RunID: req.RunID, SessionID: req.SessionID, Agent: req.Agent, Output: f.Text,
		Status: f.Status, Reason: reason, DegradedReason: reason, Rung: f.Rung, ToolCalls: []engine.ToolCallRecord{}, Models: []string{}}
	if !req.Stream {
		writeJSON(x, http.StatusOK, res)
		return
	}
	h := x.Header()
	h["Content-Type"] = hdrEventStream
	h["Cache-Control"] = hdrNoCache
	x.sse = true
	x.WriteHeader(http.StatusOK)
	var buf bytes.Buffer
	buf.WriteString("event: " + engine.EventRunCompleted + "\ndata: ")
	_ = json.NewEncoder(&buf).Encode(res)
	buf.WriteByte('\n')
	_, _ = x.Write(buf.Bytes())
	x.flush()
}

// streamRun relays a run's events as server-sent events, "event: <type>"
// and "data: <json>", ending with run.completed or error. The event
// stream starts with the run's first event: a run refused before it began
// (unknown agent, busy session) is an ordinary error response.
func (s *Server) streamRun(ctx context.Context, x *exchange, r *http.Request, req engine.RunRequest) *engine.Result {
	started := false
	var buf bytes.Buffer
	events := func(ev engine.Event) {
		if ev.Type == engine.EventError && !started {
			return // answered below as an error response
		}
		if !started {
			if rs, ok := ev.Data.(*engine.RunStarted); ok && req.SessionID == "" {
				s.claim(ctx, req.Tenant, rs.SessionID)
			}
			h := x.Header()
			h["Content-Type"] = hdrEventStream
			h["Cache-Control"] = hdrNoCache
			h["X-Accel-Buffering"] = hdrNo
			x.sse = true
			x.WriteHeader(http.StatusOK)
			started = true
		}
		buf.Reset()
		buf.WriteString("event: ")
		buf.WriteString(ev.Type)
		buf.WriteString("\ndata: ")
		if err := json.NewEncoder(&buf).Encode(ev.Data); err != nil { // Encode ends with '\n'
			buf.WriteString("{}\n")
		}
		buf.WriteByte('\n')
		if _, err := x.Write(buf.Bytes()); err == nil {
			x.flush()
		}
	}
	res, err := s.cfg.Agents.Run(ctx, req, events)
	switch {
	case err == nil:
	case !started:
		s.writeEngineError(x, err)
	case r.Context().Err() != nil:
		x.outcome = 499
	default:
		x.outcome = engine.Describe(err).Status
	}
	return res
}

// writeEngineError answers an error of the engine with the status and
// OpenAI-shaped body the engine describes it with.
func (s *Server) writeEngineError(x *exchange, err error) {
	e := engineError(engine.Describe(err))
	e.Err = err
	s.writeError(x, e)
}

// runRecord is an async run as GET /v1/runs/{id} shows it.
type runRecord struct {
	ID        string          `json:"id"`
	Object    string          `json:"object"`
	SessionID string          `json:"session_id,omitempty"`
	Agent     string          `json:"agent"`
	Status    string          `json:"status"`
	Attempts  int             `json:"attempts"`
	CreatedAt int64           `json:"created_at"`
	UpdatedAt int64           `json:"updated_at"`
	Result    json.RawMessage `json:"result,omitempty"`
}

func runView(r *store.Run) runRecord {
	return runRecord{
		ID: r.ID, Object: "agent.run", SessionID: r.SessionID, Agent: r.Agent, Status: r.Status,
		Attempts: r.Attempts, CreatedAt: r.CreatedAt.Unix(), UpdatedAt: r.UpdatedAt.Unix(), Result: r.Result,
	}
}

func (s *Server) getRun(ctx context.Context, x *exchange, id *Identity, runID string) {
	rec, err := s.cfg.Agents.GetRun(ctx, id.Tenant, runID)
	if err != nil {
		s.writeEngineError(x, err)
		return
	}
	writeJSON(x, http.StatusOK, runView(rec))
}

// sessionView is a session as GET /v1/sessions/{id} shows it: its messages
// turn by turn, the summary and pinned facts the context window keeps, and
// who owns it.
type sessionView struct {
	ID        string          `json:"id"`
	Object    string          `json:"object"`
	UserID    string          `json:"user_id,omitempty"`
	Agent     string          `json:"agent"`
	State     string          `json:"state,omitempty"`
	Version   int64           `json:"version"`
	TurnCount int64           `json:"turn_count"`
	Summary   *summaryView    `json:"summary,omitempty"`
	Facts     json.RawMessage `json:"facts,omitempty"`
	Turns     []turnView      `json:"turns"`
	CreatedAt int64           `json:"created_at"`
	UpdatedAt int64           `json:"updated_at"`
	ExpiresAt int64           `json:"expires_at"`
}

type summaryView struct {
	Text    string `json:"text"`
	UpToSeq int64  `json:"up_to_seq"`
}

type turnView struct {
	ID       string        `json:"run_id"`
	Seq      int64         `json:"seq"`
	Agent    string        `json:"agent"`
	Messages []llm.Message `json:"messages"`
	At       int64         `json:"at"`
}

func (s *Server) getSession(ctx context.Context, x *exchange, id *Identity, sid string) {
	sess, err := s.cfg.Agents.Session(ctx, id.Tenant, sid)
	if err != nil {
		s.writeEngineError(x, err)
		return
	}
	v := sessionView{
		ID: sess.ID, Object: "agent.session", UserID: sess.UserID, Agent: sess.Agent, State: sess.State,
		Version: sess.Version, TurnCount: sess.TurnCount, Turns: make([]turnView, len(sess.Turns)),
		CreatedAt: sess.CreatedAt.Unix(), UpdatedAt: sess.UpdatedAt.Unix(), ExpiresAt: sess.ExpiresAt.Unix(),
	}
	if len(sess.Facts) > 0 && string(sess.Facts) != "null" {
		v.Facts = sess.Facts
	}
	if sess.Summary.Text != "" {
		v.Summary = &summaryView{Text: sess.Summary.Text, UpToSeq: sess.Summary.UpToSeq}
	}
	for i, t := range sess.Turns {
		v.Turns[i] = turnView{ID: t.ID, Seq: t.Seq, Agent: t.Agent, Messages: t.Messages, At: t.At.Unix()}
	}
	writeJSON(x, http.StatusOK, v)
}

func (s *Server) deleteSession(ctx context.Context, x *exchange, id *Identity, sid string) {
	if err := s.cfg.Agents.DeleteSession(ctx, id.Tenant, sid); err != nil {
		s.writeEngineError(x, err)
		return
	}
	writeJSON(x, http.StatusOK, map[string]any{"id": sid, "object": "agent.session.deleted", "deleted": true})
}

// feedbackBody is the body of POST /v1/sessions/{id}/feedback.
type feedbackBody struct {
	RunID   string `json:"run_id"`
	Rating  string `json:"rating"` // "up" or "down"
	Score   *int   `json:"score"`  // 1..5, instead of or besides a rating
	Comment string `json:"comment"`
}

func (s *Server) feedback(ctx context.Context, x *exchange, r *http.Request, id *Identity, sid string) {
	var b feedbackBody
	if err := s.decodeStrict(r, &b); err != nil {
		s.writeError(x, err)
		return
	}
	f := engine.Feedback{RunID: b.RunID, Rating: b.Rating, Comment: b.Comment}
	if b.Score != nil {
		f.Score = *b.Score
	}
	if err := s.cfg.Agents.Feedback(ctx, id.Tenant, sid, f); err != nil {
		s.writeEngineError(x, err)
		return
	}
	writeJSON(x, http.StatusAccepted, map[string]any{"session_id": sid, "object": "agent.feedback", "accepted": true})
}
