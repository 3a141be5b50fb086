package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/floodgate-dev/floodgate/internal/llm"
)

// Forwarder sends a turn of a session to the node that owns it;
// *ring.Forwarder satisfies it. Route serves r with local when this node
// owns the tenant's session or r was forwarded here by another node, and
// otherwise proxies r to the owner, relaying its answer (a stream event by
// event) to w; r.Body holds the whole body. local is called at most once,
// with w, from the goroutine calling Route.
type Forwarder interface {
	Route(w http.ResponseWriter, r *http.Request, tenant, session string, local http.Handler)
}

// HeaderNode names the node that served an agent turn (Config.Node): on a
// turn forwarded to its session's owner, the owner.
const HeaderNode = "X-Floodgate-Node"

const hdrRequestID = "X-Request-Id"

// routeForwarded is the route the Observer is told for a turn this node
// proxied to its session's owner (or refused as a bad forward).
const routeForwarded = "forwarded"

// route serves a turn of a tenant's session: through Config.Forwarder
// when there is one and the session is known, else here at once. body is
// what was read of r's body; it is put back for the Forwarder to sign and
// send, and must stay valid until route returns. local serves the turn
// here, from the prompt filter on, writing to x; on a request forwarded
// here, it gets the Forwarder's request, whose context says who sent it.
//
// The entry node does nothing but authenticate and parse before routing,
// so that the owner alone filters, rate limits, admits and runs the turn,
// and the tenant is charged once.
func (s *Server) route(x *exchange, r *http.Request, tenant, session string, body []byte, local func(r *http.Request)) {
	if s.cfg.Forwarder == nil || session == "" {
		local(r)
		return
	}
	// The owner answers with the request id it is given, and the proxy
	// adds the owner's headers to ours: ours goes to the owner instead of
	// into the answer, so that the client sees one id whoever serves it.
	r.Header[hdrRequestID] = []string{x.id}
	h := x.Header()
	delete(h, hdrRequestID)
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.GetBody = nil
	here := false
	s.cfg.Forwarder.Route(x, r, tenant, session, http.HandlerFunc(func(_ http.ResponseWriter, lr *http.Request) {
		here = true
		h[hdrRequestID] = []string{x.id}
		local(lr)
	}))
	if !here {
		// The owner observes the turn under its route; counting it there
		// too would count it twice.
		x.route = routeForwarded
	}
}

// routedKey marks the context of a request that route handed back to be
// served here, so that it is not routed twice.
type routedKey struct{}

// routeChat routes a chat completion addressed to an agent, in a known
// session, unless route handed it back to be served here, and reports
// whether it did: the turn has then been answered, here by serving the
// request again from the start (authentication and parsing cost
// microseconds; an agent's turn costs model calls) or by the owner.
func (s *Server) routeChat(x *exchange, r *http.Request, id *Identity, req *llm.Request, body []byte) bool {
	if s.cfg.Forwarder == nil || !strings.HasPrefix(req.Model, agentModelPrefix) || r.Context().Value(routedKey{}) != nil {
		return false
	}
	session := agentSession(r, req)
	if session == "" {
		return false
	}
	x.model = req.Model
	s.route(x, r, id.Tenant, session, body, func(lr *http.Request) {
		s.chat(x, lr.WithContext(context.WithValue(lr.Context(), routedKey{}, true)))
	})
	return true
}

// markNode names this node as the one serving a turn.
func (s *Server) markNode(x *exchange) {
	if s.cfg.Node != "" {
		x.Header()[HeaderNode] = []string{s.cfg.Node}
	}
}

// claim makes this node the owner of a session that a turn without a
// session id has just created here, so that the session's next turns come
// back to it wherever they arrive. It runs before the client learns the
// session's id, and whether or not the client is still there.
func (s *Server) claim(ctx context.Context, tenant, session string) {
	if s.cfg.ClaimSession != nil && session != "" {
		s.cfg.ClaimSession(context.WithoutCancel(ctx), tenant, session)
	}
}

// agentSession is the session of an agent chat: the X-Session-Id header,
// else the request's user field; "" starts a new session.
func agentSession(r *http.Request, req *llm.Request) string {
	if s := r.Header.Get(hdrSessionID); s != "" {
		return s
	}
	return req.User
}
