package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/llm"
	"github.com/floodgate-dev/floodgate/internal/ratelimit"
)

// readBody reads r's body into a pooled buffer, refusing it past max bytes.
// The caller returns the buffer with putBuf.
func readBody(r *http.Request, max int64) (*[]byte, error) {
	tooLarge := func() error {
		return &llm.Error{Kind: llm.KindTooLarge, Code: "request_too_large",
			Message: "The request body is larger than " + strconv.FormatInt(max, 10) + " bytes."}
	}
	if r.ContentLength > max {
		return nil, tooLarge()
	}
	bp := getBuf()
	buf := *bp
	if r.ContentLength > 0 && int64(cap(buf)) <= r.ContentLength {
		buf = make([]byte, 0, r.ContentLength+1) // +1 to see EOF without growing
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := buf[len(buf):cap(buf)]
		if left := max + 1 - int64(len(buf)); int64(len(room)) > left {
			room = room[:left]
		}
		n, err := r.Body.Read(room)
		buf = buf[:len(buf)+n]
		*bp = buf
		if int64(len(buf)) > max {
			putBuf(bp)
			return nil, tooLarge()
		}
		if err == io.EOF {
			return bp, nil
		}
		if err != nil {
			putBuf(bp)
			return nil, &llm.Error{Kind: llm.KindInvalidRequest, Code: "invalid_body",
				Message: "The request body could not be read.", Err: err}
		}
	}
}

// chat answers POST /v1/chat/completions: authenticate, normalise, hand to
// the Backend, write the answer or the stream.
func (s *Server) chat(x *exchange, r *http.Request) {
	id, aerr := s.authenticate(r)
	if aerr != nil {
		s.writeError(x, aerr)
		return
	}
	x.tenant, x.tier = id.Tenant, id.Tier
	bp, err := readBody(r, s.cfg.MaxBodyBytes)
	if err != nil {
		s.writeError(x, err)
		return
	}
	bodyLen := len(*bp)
	req, notes, err := Normalize(*bp, id.policy)
	if err == nil && s.routeChat(x, r, id, req, *bp) {
		putBuf(bp)
		return
	}
	putBuf(bp) // the request shares no memory with the body
	if err != nil {
		s.writeError(x, err)
		return
	}
	x.model = req.Model
	if notes != nil {
		x.Header()["X-Floodgate-Normalized"] = []string{strings.Join(notes, "; ")}
	}

	ctx, cancel := context.WithTimeout(WithTenant(r.Context(), id), s.cfg.RequestTimeout)
	defer cancel()
	agent, isAgent := strings.CutPrefix(req.Model, agentModelPrefix)
	refused := func(err error, reason string) {
		if isAgent && reason != "" {
			t := RefusedTurn{Tenant: id.Tenant, Tier: id.Tier, Lang: id.Lang, Agent: agent, Session: agentSession(r, req), User: req.User,
				Input: req.LastUserText(), Reason: reason}
			if f, ok := s.fallback(ctx, t); ok {
				s.shedAgentChat(x, req, reason, f)
				return
			}
		}
		s.writeError(x, err)
	}
	if req.Messages, err = s.filter(ctx, x, id, req.Messages); err != nil {
		refused(err, reasonFilter)
		return
	}
	est := estimateTokens(bodyLen, req.MaxOutputTokens())
	var estCost int64
	if !isAgent {
		// An agent's runs are charged what they cost afterwards; a plain
		// completion holds its estimate so that concurrent calls cannot
		// all pass a nearly spent budget.
		estCost = ratelimit.MicroUSD(s.catalog.price(req.Model).Cost(&llm.Usage{PromptTokens: bodyLen / 4, CompletionTokens: req.MaxOutputTokens()}))
	}
	p, soft, gerr := s.guardIn(ctx, x, id, est, estCost, true)
	if gerr != nil {
		refused(gerr, refusal(gerr))
		return
	}
	var usage *llm.Usage
	var cost float64
	defer func() { s.guardOut(context.WithoutCancel(ctx), &p, usage, cost) }()
	if isAgent {
		usage, cost = s.agentChat(ctx, x, r, id, agent, req, soft)
		return
	}
	s.chooseModel(x, id, req, soft)
	p.price = s.catalog.price(req.Model)
	if s.cfg.Usage != nil {
		start := s.cfg.Now()
		defer func() { s.recordChat(x, id, start, usage, p.price.Cost(usage)) }()
	}
	if s.cfg.UpstreamTime != nil {
		ctx, x.upstream = s.cfg.UpstreamTime(ctx)
	}
	if req.Stream {
		usage = s.stream(ctx, x, r, req)
		return
	}
	usage = s.complete(ctx, x, req)
}

// chooseModel moves a plain completion to a lighter model when its tenant
// is past the soft budget or its tier is at peak, if the tier may use that
// model. The header X-Floodgate-Model-Choice says where to and why.
func (s *Server) chooseModel(x *exchange, id *Identity, req *llm.Request, soft bool) {
	g := id.guard
	if g == nil {
		return
	}
	to, why := "", ""
	if soft && g.softModel != "" {
		to, why = g.softModel, "budget_soft_limit"
	} else if g.peak != nil {
		load := 0.0
		if s.cfg.Admission != nil {
			load = s.cfg.Admission.Load()
		}
		if reason, ok := g.peak.active(s.cfg.Now(), load); ok {
			to, why = g.peak.Model, reason
		}
	}
	if to == "" || to == req.Model || !id.policy.Tier.allows(to) {
		return
	}
	req.Model = to
	x.model = to
	x.Header()[hdrModelChoice] = []string{to + "; reason=" + why}
}

var errNoResponse = &llm.Error{Kind: llm.KindServer, Message: "The model returned no response."}

// complete answers with a whole completion and returns its usage.
func (s *Server) complete(ctx context.Context, x *exchange, req *llm.Request) *llm.Usage {
	resp, err := s.backend.Complete(ctx, req)
	if err == nil && resp == nil {
		err = errNoResponse
	}
	if err != nil {
		s.writeError(x, err)
		return nil
	}
	s.writeResponse(x, resp)
	return resp.Usage
}

// writeResponse answers 200 with a whole completion.
func (s *Server) writeResponse(x *exchange, resp *llm.Response) {
	bp := getBuf()
	defer putBuf(bp)
	out, err := llm.AppendResponse(*bp, resp)
	if err != nil {
		s.writeError(x, &llm.Error{Kind: llm.KindServer, Message: "The model returned a response that could not be encoded.", Err: err})
		return
	}
	out = append(out, '\n')
	*bp = out
	h := x.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	x.WriteHeader(http.StatusOK)
	_, _ = x.Write(out)
}

var (
	sseData = []byte("data: ")
	sseDone = []byte("data: [DONE]\n\n")
)

// stream relays a streamed completion as server-sent events, one flush per
// chunk so tokens reach the client as they come. The Backend's stream is
// closed when the stream ends, breaks, or the client goes away (which
// cancels ctx, and so the Backend's Recv). It returns the usage the
// upstream reported, if it did.
func (s *Server) stream(ctx context.Context, x *exchange, r *http.Request, req *llm.Request) (usage *llm.Usage) {
	st, err := s.backend.Stream(ctx, req)
	if err == nil && st == nil {
		err = errNoResponse
	}
	if err != nil {
		s.writeError(x, err)
		return nil
	}
	defer st.Close()

	h := x.Header()
	h["Content-Type"] = hdrEventStream
	h["Cache-Control"] = hdrNoCache
	h["X-Accel-Buffering"] = hdrNo
	x.sse = true
	x.WriteHeader(http.StatusOK)

	wantUsage := req.WantsUsageChunk()
	bp := getBuf()
	defer putBuf(bp)
	for {
		c, err := st.Recv()
		if errors.Is(err, io.EOF) {
			if _, err := x.Write(sseDone); err == nil {
				x.flush()
			}
			return
		}
		if err != nil {
			if r.Context().Err() != nil {
				x.outcome = 499 // the client left; nobody to tell
				return
			}
			s.writeStreamError(x, err)
			return
		}
		if c == nil {
			continue
		}
		if c.Usage != nil {
			u := *c.Usage
			usage = &u
		}
		if !wantUsage && c.Usage != nil {
			// Upstreams are asked for usage whatever the client wants (the
			// ledger needs it); a client that did not ask gets none. The
			// chunk is copied, not changed: it is the Backend's.
			if len(c.Choices) == 0 {
				continue
			}
			cc := *c
			cc.Usage = nil
			c = &cc
		}
		out, err := llm.AppendChunk(append((*bp)[:0], sseData...), c)
		*bp = out
		if err != nil {
			s.writeStreamError(x, &llm.Error{Kind: llm.KindServer, Message: "The model returned a chunk that could not be encoded.", Err: err})
			return
		}
		out = append(out, '\n', '\n')
		*bp = out
		if _, err := x.Write(out); err != nil {
			x.outcome = 499
			return
		}
		x.flush()
	}
}
