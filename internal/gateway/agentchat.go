package gateway

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/engine"
	"github.com/floodgate-dev/floodgate/internal/llm"
)

// agentModelPrefix addresses an agent as a model: model "agent:support" on
// /v1/chat/completions runs the support agent, so that any OpenAI client
// can talk to an agent unchanged.
const agentModelPrefix = "agent:"

// Headers of an agent answered through /v1/chat/completions.
const (
	hdrSessionID = "X-Session-Id"
	hdrRunID     = "X-Floodgate-Run-Id"
	hdrAgent     = "X-Floodgate-Agent"
	hdrRunStatus = "X-Floodgate-Run-Status"
)

// resolveModel resolves a model name for Normalize: "agent:<name>" of a
// configured agent resolves to itself, everything else through the
// catalogue of models and aliases.
func (s *Server) resolveModel(name string) (string, bool) {
	if agent, ok := strings.CutPrefix(name, agentModelPrefix); ok {
		return name, s.cfg.Agents != nil && slices.Contains(s.cfg.Agents.Agents(), agent)
	}
	return s.catalog.resolve(name)
}

// agentChat answers a chat completion addressed to an agent. The agent
// keeps the conversation itself, so only the last user message is its
// input; the session is the X-Session-Id header, else the request's user
// field, else a new session for this request alone. The answer is the
// agent's output as an assistant message (or a stream of chunks); the tool
// calls the agent made are its own business and not in the answer. The
// session, run, answering agent and run status come back in headers.
// It returns the run's usage and cost, for the tenant's limits.
func (s *Server) agentChat(ctx context.Context, x *exchange, r *http.Request, id *Identity, agent string, req *llm.Request, soft bool) (*llm.Usage, float64) {
	if n := len(req.Messages); n == 0 || req.Messages[n-1].Role != llm.RoleUser {
		s.writeError(x, llm.InvalidParam("messages", "A conversation with an agent must end with a user message; the agent keeps the history itself."))
		return nil, 0
	}
	s.markNode(x)
	session := agentSession(r, req)
	run := engine.RunRequest{
		Tenant: id.Tenant, Agent: agent, SessionID: session, UserID: req.User,
		Input: req.LastUserText(), RunID: r.Header.Get("Idempotency-Key"), Stream: req.Stream,
	}
	s.routeHints(&run, id, soft)
	if req.Stream {
		return s.agentChatStream(ctx, x, r, run, req)
	}
	res, err := s.cfg.Agents.Run(ctx, run, nil)
	if err != nil {
		s.writeEngineError(x, err)
		return nil, 0
	}
	if session == "" {
		s.claim(ctx, run.Tenant, res.SessionID)
	}
	setRunHeaders(x, res)
	if res.Status == engine.StatusFailed {
		s.writeError(x, engineError(resultError(res)))
		return &res.Usage, res.Cost
	}
	resp := &llm.Response{
		ID: "chatcmpl-" + res.RunID, Object: llm.ObjectChatCompletion, Created: s.cfg.Now().Unix(),
		Model: req.Model,
		Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.Text(res.Output)},
			FinishReason: llm.FinishStop}},
		Usage: usageOf(res),
	}
	s.writeResponse(x, resp)
	return &res.Usage, res.Cost
}

// shedAgentChat answers an agent conversation refused before it ran with
// the fallback f as an ordinary completion, marked degraded: the customer
// gets an answer at once instead of a time-out or an error.
func (s *Server) shedAgentChat(x *exchange, req *llm.Request, reason string, f Fallback) {
	s.markNode(x)
	h := x.Header()
	setDegraded(h, reason)
	h[hdrRunStatus] = []string{f.Status}
	answer := f.Text
	if req.Stream {
		chunk := llm.Chunk{ID: "chatcmpl-" + x.id, Object: llm.ObjectChatCompletionChunk, Created: s.cfg.Now().Unix(), Model: req.Model}
		h["Content-Type"] = hdrEventStream
		h["Cache-Control"] = hdrNoCache
		x.sse = true
		x.WriteHeader(http.StatusOK)
		bp := getBuf()
		defer putBuf(bp)
		for _, d := range []llm.ChunkChoice{
			{Delta: llm.Delta{Role: llm.RoleAssistant, Content: answer}},
			{FinishReason: llm.FinishStop},
		} {
			c := chunk
			c.Choices = []llm.ChunkChoice{d}
			out, err := llm.AppendChunk(append((*bp)[:0], sseData...), &c)
			*bp = out
			if err != nil {
				return
			}
			_, _ = x.Write(append(out, '\n', '\n'))
		}
		_, _ = x.Write(sseDone)
		x.flush()
		return
	}
	s.writeResponse(x, &llm.Response{
		ID: "chatcmpl-" + x.id, Object: llm.ObjectChatCompletion, Created: s.cfg.Now().Unix(), Model: req.Model,
		Choices: []llm.Choice{{Message: llm.Message{Role: llm.RoleAssistant, Content: llm.Text(answer)}, FinishReason: llm.FinishStop}},
		Usage:   &llm.Usage{},
	})
}

// agentChatStream relays the agent's message deltas as chat completion
// chunks. The chunk stream starts with the run; a run refused before it
// began is an ordinary error response, one failing later ends with an
// error event and no [DONE].
func (s *Server) agentChatStream(ctx context.Context, x *exchange, r *http.Request, run engine.RunRequest, req *llm.Request) (*llm.Usage, float64) {
	chunk := llm.Chunk{Object: llm.ObjectChatCompletionChunk, Created: s.cfg.Now().Unix(), Model: req.Model}
	started := false
	bp := getBuf()
	defer putBuf(bp)
	send := func(c *llm.Chunk) {
		out, err := llm.AppendChunk(append((*bp)[:0], sseData...), c)
		*bp = out
		if err != nil {
			return
		}
		out = append(out, '\n', '\n')
		*bp = out
		if _, err := x.Write(out); err == nil {
			x.flush()
		}
	}
	var runErr *engine.ErrorInfo
	events := func(ev engine.Event) {
		switch d := ev.Data.(type) {
		case *engine.RunStarted:
			if run.SessionID == "" {
				s.claim(ctx, run.Tenant, d.SessionID)
			}
			chunk.ID = "chatcmpl-" + d.RunID
			h := x.Header()
			h[hdrSessionID] = []string{d.SessionID}
			h[hdrRunID] = []string{d.RunID}
			h["Content-Type"] = hdrEventStream
			h["Cache-Control"] = hdrNoCache
			h["X-Accel-Buffering"] = hdrNo
			x.sse = true
			x.WriteHeader(http.StatusOK)
			started = true
			c := chunk
			c.Choices = []llm.ChunkChoice{{Delta: llm.Delta{Role: llm.RoleAssistant}}}
			send(&c)
		case *engine.MessageDelta:
			if started && d.Content != "" {
				c := chunk
				c.Choices = []llm.ChunkChoice{{Delta: llm.Delta{Content: d.Content}}}
				send(&c)
			}
		case *engine.Result:
			if !started {
				return
			}
			if d.Status == engine.StatusFailed {
				runErr = resultError(d)
				return
			}
			c := chunk
			c.Choices = []llm.ChunkChoice{{FinishReason: llm.FinishStop}}
			send(&c)
			if req.WantsUsageChunk() {
				u := chunk
				u.Choices = []llm.ChunkChoice{}
				u.Usage = usageOf(d)
				send(&u)
			}
			if _, err := x.Write(sseDone); err == nil {
				x.flush()
			}
		case *engine.ErrorInfo:
			runErr = d
		}
	}
	res, err := s.cfg.Agents.Run(ctx, run, events)
	switch {
	case !started && err != nil:
		s.writeEngineError(x, err)
	case !started && runErr != nil:
		s.writeError(x, engineError(runErr))
	case r.Context().Err() != nil:
		x.outcome = 499
	case runErr != nil:
		s.writeStreamError(x, engineError(runErr))
	}
	if res == nil {
		return nil, 0
	}
	return &res.Usage, res.Cost
}

// resultError is the error a failed run reports.
func resultError(res *engine.Result) *engine.ErrorInfo {
	if res.Error != nil {
		return res.Error
	}
	return &engine.ErrorInfo{Message: "The agent could not answer.", Type: llm.TypeServer, Status: http.StatusBadGateway}
}

// engineError turns what the engine says about a failure into the error
// the gateway answers with.
func engineError(d *engine.ErrorInfo) *llm.Error {
	return &llm.Error{Kind: llm.KindServer, Status: d.Status, Type: d.Type, Code: d.Code, Message: d.Message}
}

func setRunHeaders(x *exchange, res *engine.Result) {
	h := x.Header()
	h[hdrSessionID] = []string{res.SessionID}
	h[hdrRunID] = []string{res.RunID}
	h[hdrAgent] = []string{res.Agent}
	h[hdrRunStatus] = []string{res.Status}
}

func usageOf(res *engine.Result) *llm.Usage {
	u := res.Usage
	return &u
}
